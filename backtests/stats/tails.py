"""Tail statistics of daily returns: skew, kurtosis, historical VaR and CVaR,
best and worst day, month and year.

Pure functions of returns.csv (daily simple returns, fractions) and
exposure.csv. Nothing here draws or writes files.

Conventions:

* ``skew``: :func:`scipy.stats.skew` with its defaults (the biased,
  population moment estimator, m3 / m2 ** 1.5), as pyfolio reports it.
* ``kurtosis``: *excess* kurtosis, :func:`scipy.stats.kurtosis` with its
  defaults (Fisher's definition, m4 / m2 ** 2 - 3, biased): 0 for a normal
  distribution; pyfolio's convention.
* ``var_95``: historical daily value at risk at 95%, empyrical's
  ``value_at_risk``: ``np.percentile(r, 5)`` (linear interpolation), a return
  (negative for a loss), not a loss amount.
* ``cvar_95``: historical conditional VaR (expected shortfall) at 95%,
  empyrical's ``conditional_value_at_risk``: the mean of the ``k = floor((n - 1)
  * 0.05) + 1`` lowest returns. This is the mean of the returns at or below
  ``var_95`` unless several returns tie at the cut-off.
* best / worst month and year: returns compounded over each calendar month /
  year present in the sample (``prod(1 + r) - 1``); the first and last
  periods of a run may be partial. Labels are ``YYYY-MM`` and ``YYYY``.

The first session of returns.csv carries 0 for ``amzn``, ``peer_basket`` and
``benchmark`` by construction (no previous close inside the run), so it is left
out of those series; the strategy's first-session return is real and kept.

A strategy that is flat most days has mostly zero returns, and those zeros
dilute its tails (VaR near 0, kurtosis huge). :func:`tail_table` therefore also
reports the strategy on the sessions it was in the market
(:func:`in_market_sessions`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

SERIES = ("strategy", "amzn", "peer_basket", "benchmark")


def _clean(r) -> pd.Series:
    s = pd.Series(r, dtype=float) if not isinstance(r, pd.Series) else r.astype(float)
    return s[np.isfinite(s.to_numpy())]


def value_at_risk(r, cutoff: float = 0.05) -> float:
    """Historical VaR: ``np.percentile(r, 100 * cutoff)`` (empyrical); NaN if empty."""
    a = _clean(r).to_numpy()
    return float(np.percentile(a, 100 * cutoff)) if len(a) else float("nan")


def conditional_value_at_risk(r, cutoff: float = 0.05) -> float:
    """Historical CVaR: mean of the ``floor((n - 1) * cutoff) + 1`` lowest returns (empyrical); NaN if empty."""
    a = _clean(r).to_numpy()
    if not len(a):
        return float("nan")
    k = int((len(a) - 1) * cutoff)
    return float(np.mean(np.sort(a)[: k + 1]))


def skew(r) -> float:
    """Sample skewness, :func:`scipy.stats.skew` (biased); NaN for fewer than 3 values or no spread."""
    a = _clean(r).to_numpy()
    if len(a) < 3 or np.ptp(a) == 0:
        return float("nan")
    from scipy import stats

    return float(stats.skew(a))


def excess_kurtosis(r) -> float:
    """Excess kurtosis, :func:`scipy.stats.kurtosis` (Fisher, biased); NaN for fewer than 4 values or no spread."""
    a = _clean(r).to_numpy()
    if len(a) < 4 or np.ptp(a) == 0:
        return float("nan")
    from scipy import stats

    return float(stats.kurtosis(a))


def period_returns(r: pd.Series, period: str) -> pd.Series:
    """Returns compounded over calendar periods: ``period`` ``"month"`` (labels
    ``YYYY-MM``) or ``"year"`` (labels ``YYYY``). Only periods with at least one
    return in ``r`` appear. ``r`` has a DatetimeIndex."""
    s = _clean(r)
    idx = pd.DatetimeIndex(s.index)
    if period == "month":
        labels = idx.strftime("%Y-%m")
    elif period == "year":
        labels = idx.strftime("%Y")
    else:
        raise ValueError(f"period must be 'month' or 'year', not {period!r}")
    return (1 + s).groupby(np.asarray(labels)).prod() - 1


def _extremes(s: pd.Series) -> tuple:
    if not len(s):
        return (float("nan"), "", float("nan"), "")
    return float(s.max()), str(s.idxmax()), float(s.min()), str(s.idxmin())


def tail_stats(r: pd.Series) -> dict:
    """All tail statistics of one daily return series (DatetimeIndex): ``n``,
    ``skew``, ``kurtosis`` (excess), ``var_95``, ``cvar_95``, ``best_day`` /
    ``worst_day`` with ``best_day_date`` / ``worst_day_date`` (``YYYY-MM-DD``),
    ``best_month`` / ``worst_month`` with their ``..._label``, ``best_year`` /
    ``worst_year`` with theirs (see the module docstring)."""
    s = _clean(r)
    s.index = pd.DatetimeIndex(s.index)
    bd, bdd, wd, wdd = _extremes(s)
    bm, bml, wm, wml = _extremes(period_returns(s, "month"))
    by, byl, wy, wyl = _extremes(period_returns(s, "year"))
    return {
        "n": int(len(s)), "skew": skew(s), "kurtosis": excess_kurtosis(s),
        "var_95": value_at_risk(s), "cvar_95": conditional_value_at_risk(s),
        "best_day": bd, "best_day_date": bdd[:10], "worst_day": wd, "worst_day_date": wdd[:10],
        "best_month": bm, "best_month_label": bml, "worst_month": wm, "worst_month_label": wml,
        "best_year": by, "best_year_label": byl, "worst_year": wy, "worst_year_label": wyl,
    }


def in_market_sessions(exposure: pd.DataFrame) -> pd.Series:
    """Boolean per session: the strategy held a position at some time in it.

    ``exposure``: exposure.csv indexed by date, ``exposure`` being the gross
    exposure at each close. A session counts when the gross exposure is above
    1e-9 at its close *or* at the previous close: a position closed at a
    session's open still earned (or lost) that session's overnight gap and paid
    its exit costs, which land in that session's return. (summary.json's
    ``exposure`` counts closes only.)
    """
    g = pd.to_numeric(exposure["exposure"], errors="coerce").fillna(0.0).abs() > 1e-9
    return g | g.shift(1, fill_value=False)


def tail_table(returns: pd.DataFrame, exposure: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`tail_stats` for each column of returns.csv (rows ``strategy``,
    ``amzn``, ``peer_basket``, ``benchmark``; the first session left out of the
    last three, see the module docstring) and, when ``exposure`` is given, a row
    ``strategy_in_market``: the strategy on the sessions of
    :func:`in_market_sessions` only. Column ``sample`` says which sessions each
    row uses."""
    rows = {}
    idx = pd.DatetimeIndex(returns.index)
    for c in SERIES:
        if c not in returns.columns:
            continue
        s = pd.Series(returns[c].to_numpy(dtype=float), index=idx)
        if c != "strategy":
            s = s.iloc[1:]
        rows[c] = {"sample": "every session" if c == "strategy" else "every session but the first", **tail_stats(s)}
    if exposure is not None and "strategy" in returns.columns:
        m = in_market_sessions(exposure)
        m.index = pd.DatetimeIndex(m.index)
        m = m.reindex(idx, fill_value=False).to_numpy(dtype=bool)
        s = pd.Series(returns["strategy"].to_numpy(dtype=float), index=idx)[m]
        rows["strategy_in_market"] = {"sample": "sessions in the market (a position at the previous close or at this close)", **tail_stats(s)}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "series"
    return out
