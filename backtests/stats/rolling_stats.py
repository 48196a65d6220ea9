"""In-sample against out-of-sample metrics, and rolling alpha, beta,
information ratio and volatility against the peer basket.

Pure functions of returns.csv (daily simple returns, fractions; columns
``strategy``, ``peer_basket``) and exposure.csv (``net_held``: the net exposure
held over each session). The metrics are :mod:`backtests.stats.performance`'s,
with summary.json's definitions (252 sessions a year, risk-free 0); the daily
excess is DESIGN.md's ``r_strategy - net_held * r_basket``
(:func:`~backtests.stats.performance.excess_returns`). Nothing here draws or
writes files.

Rolling windows are trailing: the value on a date uses the ``window`` sessions
up to and including that date, never a later one, and is NaN until a full
window exists.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from backtests.stats import performance as pf

ANN = pf.ANN

#: the metrics of :func:`period_metrics`, in order
METRICS = ("total_return", "cagr", "ann_vol", "sharpe", "max_drawdown", "excess_total_return", "information_ratio",
           "alpha_ann", "beta", "alpha_tstat_hac")


def _net_held(returns: pd.DataFrame, exposure: pd.DataFrame | None) -> pd.Series:
    if exposure is None or "net_held" not in exposure.columns:
        return pd.Series(0.0, index=returns.index)
    n = pd.to_numeric(exposure["net_held"], errors="coerce").astype(float)
    n.index = pd.DatetimeIndex(n.index)
    return n.reindex(pd.DatetimeIndex(returns.index)).fillna(0.0).set_axis(returns.index)


def period_metrics(returns: pd.DataFrame, exposure: pd.DataFrame | None = None) -> dict:
    """:data:`METRICS` of the strategy over the sessions of ``returns``, plus
    ``start``, ``end`` (ISO dates) and ``n`` (sessions). ``alpha_ann``,
    ``beta`` and ``alpha_tstat_hac`` are :func:`performance.alpha_beta_hac`
    against the peer basket (Newey-West lags chosen for this period's length).
    NaN where a period is too short (fewer than 2 sessions; fewer than 10 for
    alpha and beta)."""
    s = pd.to_numeric(returns["strategy"], errors="coerce").astype(float)
    b = pd.to_numeric(returns["peer_basket"], errors="coerce").astype(float)
    n = _net_held(returns, exposure)
    ab = pf.alpha_beta_hac(s, b)
    idx = pd.DatetimeIndex(returns.index)
    return {
        "start": idx[0].date().isoformat() if len(idx) else "", "end": idx[-1].date().isoformat() if len(idx) else "", "n": int(len(s)),
        "total_return": pf.total_return(s), "cagr": pf.cagr(s), "ann_vol": pf.ann_vol(s), "sharpe": pf.sharpe(s),
        "max_drawdown": pf.max_drawdown(s), "excess_total_return": pf.excess_total_return(s, b, n) if len(s) else float("nan"),
        "information_ratio": pf.information_ratio(s, b, n), "alpha_ann": ab["alpha_ann"], "beta": ab["beta"],
        "alpha_tstat_hac": ab["alpha_tstat_hac"],
    }


def split_metrics(returns: pd.DataFrame, exposure: pd.DataFrame | None, live_start) -> pd.DataFrame:
    """:func:`period_metrics` before and after ``live_start``.

    Rows ``all`` (the whole run) and, when ``live_start`` is given, ``before``
    (sessions strictly before it: in-sample) and ``after`` (sessions on or
    after it: out-of-sample). Each period is measured on its own: its
    compounding, its drawdown and its regression start afresh. A period with
    no session has ``n`` = 0 and NaN metrics.
    """
    idx = pd.DatetimeIndex(returns.index)
    parts = {"all": np.ones(len(idx), dtype=bool)}
    if live_start is not None:
        ls = pd.Timestamp(live_start)
        parts["before"] = np.asarray(idx < ls)
        parts["after"] = np.asarray(idx >= ls)
    rows = {k: period_metrics(returns[m], exposure) for k, m in parts.items()}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "period"
    return out


def rolling_alpha_beta(returns, factor, window: int = 126, annualization: int = ANN) -> pd.DataFrame:
    """Rolling OLS of ``r_t = alpha + beta * f_t`` over ``window`` sessions.

    ``beta`` = cov(r, f) / var(f) (:func:`performance.rolling_beta`); ``alpha``
    (daily) = mean(r) - beta * mean(f); ``alpha_ann`` = (1 + alpha) **
    annualization - 1, as :func:`performance.alpha_beta_hac` and empyrical
    annualise it. NaN until ``window`` sessions exist, and where ``f`` has no
    variance in the window.
    """
    r, f = pd.Series(returns, dtype=float), pd.Series(factor, dtype=float)
    beta = pf.rolling_beta(r, f, window)
    alpha = r.rolling(window).mean() - beta * f.rolling(window).mean()
    return pd.DataFrame({"alpha": alpha, "alpha_ann": (1 + alpha) ** annualization - 1, "beta": beta})


def rolling_vol(returns, window: int = 126, annualization: int = ANN) -> pd.Series:
    """Rolling annualised volatility: std (ddof=1) over ``window`` sessions * sqrt(annualization)."""
    return pd.Series(returns, dtype=float).rolling(window).std(ddof=1) * math.sqrt(annualization)


def rolling_frame(returns: pd.DataFrame, exposure: pd.DataFrame | None = None, window: int = 126) -> pd.DataFrame:
    """Per session, over the trailing ``window`` sessions (126, about six months):

    * ``alpha_ann``, ``beta``: the strategy against the peer basket
      (:func:`rolling_alpha_beta`);
    * ``information_ratio``: mean / std (ddof=1) of the daily excess
      ``r_strategy - net_held * r_basket`` times sqrt(252)
      (:func:`performance.rolling_sharpe` of :func:`performance.excess_returns`);
    * ``vol_ann``: the strategy's annualised volatility (:func:`rolling_vol`).

    NaN until a full window exists and where the window has no variance (a
    strategy flat for a whole window has no volatility to divide by).
    """
    s = pd.to_numeric(returns["strategy"], errors="coerce").astype(float)
    b = pd.to_numeric(returns["peer_basket"], errors="coerce").astype(float)
    ab = rolling_alpha_beta(s, b, window)
    ex = pf.excess_returns(s, b, _net_held(returns, exposure))
    return pd.DataFrame({
        "alpha_ann": ab["alpha_ann"], "beta": ab["beta"],
        "information_ratio": pf.rolling_sharpe(ex, window), "vol_ann": rolling_vol(s, window),
    }, index=returns.index)
