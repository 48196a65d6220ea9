"""Evaluate signals point in time: each quarter's value as known when it became usable.

:func:`signal_table` walks a company's releases in order of their
availability session; at each it builds the panel of what was known then
(:func:`signals.fundamentals.as_of_panel`) and evaluates every signal for the
quarter just released. :func:`to_sessions` turns a column of that table into a
session-indexed series (the value known at the close of each session).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from signals import backlog, capex
from signals.fundamentals import Fundamentals, as_of_panel

#: name -> (function of (panel, ticker), units) for every signal.
SIGNALS: dict[str, tuple[Callable, str]] = {
    "capex_efficiency": (lambda p, t: capex.capex_efficiency(p, t), "ratio: cloud OI TTM / capex TTM"),
    "capex_efficiency_chg": (lambda p, t: capex.capex_efficiency_change(p, t), "ratio points, QoQ"),
    "cloud_oi_ttm": (lambda p, t: capex.cloud_oi_ttm(p, t), "USD bn"),
    "capex_ttm": (lambda p, t: capex.capex_ttm(p), "USD bn"),
    "capex_intensity": (lambda p, t: capex.capex_intensity(p), "fraction of revenue"),
    "capex_intensity_chg": (lambda p, t: capex.capex_intensity_change(p), "fraction points, QoQ"),
    "backlog": (lambda p, t: backlog.backlog_level(p), "USD bn"),
    "backlog_growth_qoq": (lambda p, t: backlog.backlog_growth_qoq(p), "fraction"),
    "backlog_growth_yoy": (lambda p, t: backlog.backlog_growth_yoy(p), "fraction"),
    "backlog_accel": (lambda p, t: backlog.backlog_acceleration(p), "fraction points"),
    "backlog_coverage": (lambda p, t: backlog.backlog_coverage(p), "years of cloud revenue TTM"),
}


def signal_table(fund: Fundamentals, ticker: str = "AMZN", names=None) -> pd.DataFrame:
    """One row per released quarter: ``quarter``, ``available`` and each signal,
    plus ``<signal>_why`` with the reason where it is undefined.

    Quarters without an availability session appear with NaN values and the
    release note as reason.
    """
    names = list(names or SIGNALS)
    rel = fund.releases[fund.releases["ticker"] == ticker].copy()
    rel = rel.sort_values(["available", "period_end"], na_position="last")
    rows = []
    for _, r in rel.iterrows():
        row = {"quarter": r["quarter"], "period_end": r["period_end"], "available": r["available"]}
        if pd.isna(r["available"]):
            for n in names:
                row[n], row[f"{n}_why"] = np.nan, r["note"]
            rows.append(row)
            continue
        panel = as_of_panel(fund.pit, ticker, r["available"])
        period = pd.Period(r["period_end"], freq="Q")
        for n in names:
            d = SIGNALS[n][0](panel, ticker)
            if period in d.value.index:
                row[n], row[f"{n}_why"] = d.value[period], d.reason[period]
            else:
                row[n], row[f"{n}_why"] = np.nan, f"no figures for {r['quarter']}"
        rows.append(row)
    return pd.DataFrame(rows)


def to_sessions(table: pd.DataFrame, column: str, sessions: pd.DatetimeIndex, carry_stale: bool = False) -> pd.Series:
    """The value of ``column`` known at the close of each session.

    From each quarter's availability session until the next release, the
    series holds that quarter's value. If the newest quarter's value is
    undefined the series is NaN (``carry_stale=False``, the default) rather
    than silently holding an older quarter's value.
    """
    t = table.dropna(subset=["available"]).sort_values("available")
    s = pd.Series(t[column].to_numpy(dtype=float), index=pd.DatetimeIndex(t["available"]))
    s = s[~s.index.duplicated(keep="last")]
    if carry_stale:
        s = s.dropna()
    latest = s.index.searchsorted(sessions, side="right") - 1  # newest release at or before each session
    vals = s.to_numpy()[latest.clip(min=0)] if len(s) else np.full(len(sessions), np.nan)
    return pd.Series(np.where(latest >= 0, vals, np.nan), index=sessions)


def relative_to_peers(fund: Fundamentals, column: str, sessions: pd.DatetimeIndex, ticker: str = "AMZN", peers=("MSFT", "GOOGL", "META", "ORCL")) -> pd.DataFrame:
    """Session-indexed frame: ``ticker``'s signal, each peer's, the peer mean
    (over peers defined that session) and ``ticker`` minus that mean."""
    cols = {ticker: to_sessions(signal_table(fund, ticker, [column]), column, sessions)}
    for p in peers:
        if p in fund.tickers():
            cols[p] = to_sessions(signal_table(fund, p, [column]), column, sessions)
    f = pd.DataFrame(cols)
    f["peer_mean"] = f[[p for p in peers if p in f]].mean(axis=1, skipna=True)
    f["relative"] = f[ticker] - f["peer_mean"]
    return f
