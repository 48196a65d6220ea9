"""The book a run held at each close: per-ticker weights, long and short exposure, and the beta-adjusted net.

Computed from what was traded (the fills) and the portfolio value, not from the strategy's own exposure
record, so the two can check each other (long + short = gross, long - short = net):

* shares held at the close of session ``d``: the sum of the fill sizes of every fill dated on or before
  ``d`` (a fill's ``date`` is the session whose open, or close, filled it: with close fills the book at
  ``d``'s close includes ``d``'s own close fills, as the strategies' exposure rows do);
* weight of ticker ``i`` at ``d``: shares x total-return close of ``d`` / portfolio value at ``d``'s close
  (fraction, signed: + long, - short); the value is the starting cash compounded by the daily strategy
  returns (``V[d] = cash * prod(1 + r[..d])``, the broker's value at each close);
* ``long``: sum of the positive weights; ``short``: minus the sum of the negative weights (a positive
  number); so ``long - short`` is the net and ``long + short`` the gross exposure;
* ``beta_net``: the sum over held tickers of ``weight_i x beta_i``, where ``beta_i`` is the OLS slope of
  ticker ``i``'s daily total return on the equal-weight peer basket's (rebalanced daily) over the
  :data:`BETA_WINDOW` sessions strictly before ``d`` (point in time: the session's own return is not used;
  the window may reach before the run's first session, data that was public then), NaN while fewer than
  :data:`BETA_MIN_SESSIONS` sessions with both returns exist. 0 when flat; NaN when a held ticker's beta
  is NaN. A dollar-neutral long-target / short-basket book has ``beta_net = w (beta_target - beta_basket-legs)``:
  the basket exposure the hedge leaves.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

#: sessions in the trailing beta window (about a year) and the fewest with which a beta is given
BETA_WINDOW = 252
BETA_MIN_SESSIONS = 60
#: a weight smaller than this (a leg closed, up to rounding of summed fill sizes) is not a held position
HELD = 1e-12


def book_weights(fills: pd.DataFrame, closes: pd.DataFrame, value: pd.Series) -> pd.DataFrame:
    """Signed weight of each ticker of ``closes`` at each close (fractions of portfolio value), see the module
    docstring. ``fills``: ``date, ticker, size`` (shares, + bought); ``closes``: total-return closes (USD)
    indexed by session, one column per ticker; ``value``: portfolio value (USD) at each session's close."""
    sessions = closes.index
    shares = pd.DataFrame(0.0, index=sessions, columns=closes.columns)
    if len(fills):
        f = fills.assign(date=pd.to_datetime(fills["date"]))
        per_day = f.pivot_table(index="date", columns="ticker", values="size", aggfunc="sum").reindex(columns=closes.columns)
        shares = shares.add(per_day.reindex(sessions).fillna(0.0), fill_value=0.0)
    w = shares.cumsum() * closes / value.reindex(sessions).to_numpy()[:, None]
    return w.where(w.abs() > HELD, 0.0)


def trailing_betas(daily: pd.DataFrame, tickers, peers, window: int = BETA_WINDOW, min_sessions: int = BETA_MIN_SESSIONS) -> pd.DataFrame:
    """Beta of each of ``tickers`` to the equal-weight ``peers`` basket for each session of ``daily``, estimated
    on the ``window`` sessions strictly before it (OLS slope cov(r_i, r_b) / var(r_b) over the sessions where
    both returns exist; NaN with fewer than ``min_sessions`` of them). ``daily``: daily simple returns, one
    column per ticker, on every session of the data (not only the run's)."""
    basket = daily[list(peers)].mean(axis=1)
    out = {}
    for t in tickers:
        y = daily[t]
        ok = y.notna() & basket.notna()
        x, yy = basket.where(ok), y.where(ok)
        beta = x.rolling(window, min_periods=min_sessions).cov(yy) / x.rolling(window, min_periods=min_sessions).var()
        out[t] = beta.shift(1)  # strictly before the session
    return pd.DataFrame(out, index=daily.index)


def exposure_legs(weights: pd.DataFrame, betas: pd.DataFrame) -> pd.DataFrame:
    """``long``, ``short`` (positive) and ``beta_net`` per session from :func:`book_weights` and
    :func:`trailing_betas` (same columns; ``betas`` on at least the weights' sessions)."""
    b = betas.reindex(index=weights.index, columns=weights.columns)
    held = weights != 0
    contrib = (weights * b).where(held, 0.0)
    beta_net = contrib.sum(axis=1).where(~(held & b.isna()).any(axis=1), np.nan)
    return pd.DataFrame({"long": weights.clip(lower=0).sum(axis=1), "short": weights.clip(upper=0).sum(axis=1).abs(), "beta_net": beta_net},
                        index=weights.index)
