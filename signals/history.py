"""Evaluate signals point in time: each quarter's value as known when it became usable.

:func:`signal_table` walks a company's availability sessions in order: every
release's reaction session and every session on which some figure of the
company became usable later (a 10-Q/10-K-only figure, a later vintage). At
each it builds the panel of what was known at that close
(:func:`signals.fundamentals.as_of_panel`) and evaluates every signal for the
newest released quarter. A signal built from several figures therefore
appears (or changes) only once the last of its inputs is public.
:func:`to_sessions` turns a column of that table into a session-indexed series
(the value known at the close of each session).
"""
from __future__ import annotations

import re
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
    """One row per session on which ``ticker``'s signals could change, in order.

    Columns: ``quarter`` (the newest quarter released by then), ``period_end``,
    ``available`` (the session), ``kind`` (``release``: that quarter's reaction
    session; ``update``: figures became usable later, e.g. RPO from the 10-Q or
    a later vintage), ``new_values`` (what became usable that session apart
    from the quarter's own release figures), each signal and ``<signal>_why``
    with the reason where it is undefined (naming inputs that exist but were
    not public yet). An update row is kept only if a requested signal or its
    reason changed. Quarters without an availability session come last, with
    NaN values and the release note as reason.
    """
    names = list(names or SIGNALS)
    rel = fund.releases[fund.releases["ticker"] == ticker].copy()
    rel = rel.sort_values(["available", "period_end"], na_position="last")
    known = rel.dropna(subset=["available"])
    pit = fund.pit[fund.pit["ticker"] == ticker]
    sessions = sorted(set(pd.DatetimeIndex(known["available"])) | set(pd.DatetimeIndex(pit["available"].dropna())))
    rows, last = [], {}
    for day in sessions:
        cur = known[known["available"] <= day]
        if cur.empty:
            continue
        r = cur.iloc[-1]
        kind = "release" if r["available"] == day else "update"
        arrived = pit[pit["available"] == day]
        if "document" in arrived:
            arrived = arrived[~((arrived["quarter"] == r["quarter"]) & (arrived["document"] == f"{ticker} release {r['quarter']}"))]
        row = {"quarter": r["quarter"], "period_end": r["period_end"], "available": day, "kind": kind, "new_values": _describe(arrived)}
        panel = as_of_panel(fund.pit, ticker, day)
        period = pd.Period(r["period_end"], freq="Q")
        later = pit[(pit["available"] > day) & (pit["period"] <= period)]
        pending = later.groupby(["metric", "quarter"])["available"].min()
        own = later.loc[later["quarter"] == r["quarter"], "available"]
        none = f"no figures for {r['quarter']}" + (f" public yet (first from {own.min().date().isoformat()})" if len(own) else "")
        for n in names:
            d = SIGNALS[n][0](panel, ticker)
            if period in d.value.index:
                row[n], row[f"{n}_why"] = d.value[period], _not_yet(d.reason[period], pending)
            else:
                row[n], row[f"{n}_why"] = np.nan, none
        sig = tuple((None if pd.isna(row[n]) else row[n], row[f"{n}_why"]) for n in names)
        if kind == "update" and last.get(r["quarter"]) == sig:
            continue
        last[r["quarter"]] = sig
        rows.append(row)
    for _, r in rel[rel["available"].isna()].iterrows():
        row = {"quarter": r["quarter"], "period_end": r["period_end"], "available": r["available"], "kind": "release", "new_values": ""}
        for n in names:
            row[n], row[f"{n}_why"] = np.nan, r["note"]
        rows.append(row)
    return pd.DataFrame(rows)


def _describe(arrived: pd.DataFrame) -> str:
    """``"total_rpo 2022Q3 (AMZN 10-Q 2022Q3); ..."`` for figures that became usable together."""
    if arrived.empty:
        return ""
    fld = arrived["field"].fillna(arrived["metric"]) if "field" in arrived else arrived["metric"]  # EDGAR rows have no file column
    doc = arrived["document"] if "document" in arrived else pd.Series("", index=arrived.index)
    parts = [f"{f} {q}" + (f" ({d})" if isinstance(d, str) and d else "") for f, q, d in zip(fld, arrived["quarter"], doc)]
    return "; ".join(parts)


_MISSING = re.compile(r"^(?P<what>[a-z_ ]+?) missing for (?P<quarters>.+)$")


def _not_yet(reason: str, pending: pd.Series) -> str:
    """Append to a 'X missing for Q1, Q2' reason which of those figures exist
    but were not public yet, and from when (``pending``: (metric, quarter) -> session)."""
    m = _MISSING.match(reason or "")
    if not m or pending.empty:
        return reason
    later = []
    for what in m["what"].split(" and "):
        for q in m["quarters"].split(", "):
            if (what, q) in pending.index:
                later.append(f"{what} {q} from {pending[(what, q)].date().isoformat()}")
    return f"{reason} (not public yet: {', '.join(later)})" if later else reason


def to_sessions(table: pd.DataFrame, column: str, sessions: pd.DatetimeIndex, carry_stale: bool = False) -> pd.Series:
    """The value of ``column`` known at the close of each session.

    From each row's session until the next row (the next release, or a later
    session on which more of the quarter's inputs became usable) the series
    holds that row's value. If the newest row's value is undefined the series
    is NaN (``carry_stale=False``, the default) rather than silently holding
    an older value.
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
