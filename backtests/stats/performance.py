"""Performance statistics: small pure functions on daily simple returns.

Conventions (as in empyrical): ``returns`` are daily simple returns
(fractions, not percent), non-cumulative; ``annualization`` is 252 sessions a
year; the risk-free rate is 0 unless given (a daily rate). NaNs are dropped.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

ANN = 252


def _r(returns) -> np.ndarray:
    a = np.asarray(returns, dtype=float)
    return a[np.isfinite(a)]


def total_return(returns) -> float:
    """Compounded return over the whole period: prod(1 + r) - 1."""
    r = _r(returns)
    return float(np.prod(1 + r) - 1) if len(r) else float("nan")


def cagr(returns, annualization: int = ANN) -> float:
    """Compound annual growth rate: (1 + total) ** (annualization / n) - 1 (empyrical ``annual_return``)."""
    r = _r(returns)
    if not len(r):
        return float("nan")
    ending = np.prod(1 + r)
    return float(ending ** (annualization / len(r)) - 1) if ending > 0 else -1.0


def ann_vol(returns, annualization: int = ANN) -> float:
    """Annualised volatility: sample std (ddof=1) * sqrt(annualization)."""
    r = _r(returns)
    return float(np.std(r, ddof=1) * math.sqrt(annualization)) if len(r) > 1 else float("nan")


def sharpe(returns, risk_free: float = 0.0, annualization: int = ANN) -> float:
    """mean(r - rf) / std(r - rf, ddof=1) * sqrt(annualization)."""
    r = _r(returns) - risk_free
    if len(r) < 2:
        return float("nan")
    sd = np.std(r, ddof=1)
    return float(np.mean(r) / sd * math.sqrt(annualization)) if sd > 0 else float("nan")


def downside_risk(returns, required: float = 0.0, annualization: int = ANN) -> float:
    """sqrt(mean(min(r - required, 0) ** 2)) * sqrt(annualization)."""
    r = _r(returns)
    d = np.clip(r - required, None, 0)
    return float(math.sqrt(np.mean(d * d)) * math.sqrt(annualization)) if len(r) else float("nan")


def sortino(returns, required: float = 0.0, annualization: int = ANN) -> float:
    """mean(r - required) * annualization / downside_risk."""
    r = _r(returns)
    dr = downside_risk(r, required, annualization)
    return float(np.mean(r - required) * annualization / dr) if len(r) and dr > 0 else float("nan")


def drawdown(returns) -> pd.Series:
    """Drawdown path: cumulative wealth / running peak - 1 (<= 0), peak starting at 1."""
    s = pd.Series(returns, dtype=float).fillna(0.0)
    wealth = (1 + s).cumprod()
    peak = np.maximum(wealth.cummax(), 1.0)
    return wealth / peak - 1


def max_drawdown(returns) -> float:
    """Largest peak-to-trough fall of cumulative wealth (a negative fraction)."""
    r = _r(returns)
    return float(drawdown(r).min()) if len(r) else float("nan")


def calmar(returns, annualization: int = ANN) -> float:
    """CAGR / |max drawdown|."""
    mdd = max_drawdown(returns)
    return float(cagr(returns, annualization) / abs(mdd)) if mdd < 0 else float("nan")


def excess_returns(returns, basket, net_exposure) -> pd.Series:
    """Daily excess over a peer-basket position of the same net exposure (DESIGN.md):
    ``r_t - n_t * b_t``, with ``n_t`` the strategy's net exposure (long minus
    short value over portfolio value) held over session t. A dollar-neutral
    strategy's excess is about its own return; buy-and-hold of the target's
    is the target minus the basket."""
    r = pd.Series(returns, dtype=float)
    n = pd.Series(net_exposure, dtype=float).reindex(r.index).fillna(0.0) if isinstance(net_exposure, pd.Series) else float(net_exposure)
    return r - n * pd.Series(basket, dtype=float).reindex(r.index)


def excess_total_return(returns, basket, net_exposure) -> float:
    """Compounded daily excess (:func:`excess_returns`): prod(1 + r - n b) - 1."""
    return total_return(excess_returns(returns, basket, net_exposure))


def information_ratio(returns, basket, net_exposure, annualization: int = ANN) -> float:
    """mean / std (ddof=1) of the daily excess (:func:`excess_returns`) * sqrt(annualization)."""
    return sharpe(excess_returns(returns, basket, net_exposure).to_numpy(), 0.0, annualization)


def newey_west_lags(n: int) -> int:
    """The Newey-West (1994) rule of thumb: floor(4 * (n / 100) ** (2 / 9))."""
    return int(math.floor(4 * (n / 100.0) ** (2.0 / 9.0)))


def alpha_beta_hac(returns, factor, annualization: int = ANN, maxlags: int | None = None) -> dict:
    """OLS ``r_t = alpha + beta * f_t + e_t`` with Newey-West (HAC) standard errors.

    Returns ``alpha`` (daily), ``alpha_ann`` ((1 + alpha) ** annualization - 1,
    as empyrical), ``beta``, ``alpha_tstat_hac``, ``alpha_pvalue_hac``,
    ``beta_tstat_hac``, ``r2``, ``nobs``, ``maxlags``.
    """
    df = pd.DataFrame({"r": pd.Series(returns, dtype=float), "f": pd.Series(factor, dtype=float)}).dropna()
    n = len(df)
    nan = float("nan")
    if n < 10 or df["f"].std() == 0 or df["r"].std() == 0:  # nothing to explain (e.g. a run that never traded)
        return {"alpha": nan, "alpha_ann": nan, "beta": nan, "alpha_tstat_hac": nan, "alpha_pvalue_hac": nan, "beta_tstat_hac": nan, "r2": nan, "nobs": n, "maxlags": 0}
    lags = newey_west_lags(n) if maxlags is None else maxlags
    from statsmodels.regression.linear_model import OLS  # imported when used: statsmodels costs ~0.7 s to import
    from statsmodels.tools.tools import add_constant

    res = OLS(df["r"].to_numpy(), add_constant(df["f"].to_numpy())).fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True})
    a, b = res.params
    return {
        "alpha": float(a), "alpha_ann": float((1 + a) ** annualization - 1), "beta": float(b),
        "alpha_tstat_hac": float(res.tvalues[0]), "alpha_pvalue_hac": float(res.pvalues[0]),
        "beta_tstat_hac": float(res.tvalues[1]), "r2": float(res.rsquared), "nobs": n, "maxlags": lags,
    }


def rolling_sharpe(returns, window: int = 126, annualization: int = ANN) -> pd.Series:
    """Rolling Sharpe ratio over ``window`` sessions (126 = about six months)."""
    s = pd.Series(returns, dtype=float)
    m = s.rolling(window).mean()
    sd = s.rolling(window).std(ddof=1)
    return (m / sd.where(sd > 0)) * math.sqrt(annualization)


def rolling_beta(returns, factor, window: int = 126) -> pd.Series:
    """Rolling OLS beta of ``returns`` on ``factor`` over ``window`` sessions."""
    r, f = pd.Series(returns, dtype=float), pd.Series(factor, dtype=float)
    cov = r.rolling(window).cov(f)
    var = f.rolling(window).var()
    return cov / var.where(var > 0)


def summary_metrics(returns: pd.DataFrame, trades: pd.DataFrame, exposure: pd.DataFrame, counts: dict) -> dict:
    """The summary.json metrics of DESIGN.md.

    ``returns``: columns ``strategy``, ``peer_basket`` (and others);
    ``exposure``: per session ``exposure`` (gross) and ``net_held`` (net
    exposure held over that session, see :func:`excess_returns`); ``counts``:
    :func:`backtests.stats.counts.event_counts` (``n_events`` is its ``events``).
    """
    s, b = returns["strategy"], returns["peer_basket"]
    ab = alpha_beta_hac(s, b)
    pnl = trades["pnl_net"] if len(trades) else pd.Series(dtype=float)
    net = exposure["net_held"] if len(exposure) else 0.0
    gross = exposure["exposure"] if len(exposure) else pd.Series(dtype=float)
    return {
        "start": returns.index[0].date().isoformat(),
        "end": returns.index[-1].date().isoformat(),
        "total_return": total_return(s),
        "cagr": cagr(s),
        "ann_vol": ann_vol(s),
        "sharpe": sharpe(s),
        "sortino": sortino(s),
        "max_drawdown": max_drawdown(s),
        "calmar": calmar(s),
        "excess_total_return": excess_total_return(s, b, net),
        "information_ratio": information_ratio(s, b, net),
        "alpha_ann": ab["alpha_ann"],
        "beta": ab["beta"],
        "alpha_tstat_hac": ab["alpha_tstat_hac"],
        "n_trades": float(len(trades)),
        "n_events": float(counts["events"]),
        "hit_rate": float((pnl > 0).mean()) if len(pnl) else float("nan"),
        "exposure": float((gross > 1e-9).mean()) if len(gross) else 0.0,
    }
