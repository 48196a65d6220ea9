"""Peer-basket weights for the short (or long) leg.

* ``equal``: each peer gets the same share of the basket leg.
* ``beta``: the basket leg's notional is the target's beta to the
  equal-weight basket times the target leg's notional, with beta from an OLS
  of daily total returns over the ``window`` sessions that end at the
  decision close (the session before an open entry fill; the strategies use
  the session before the fill session for close fills too), so no return
  after the decision is used; clipped to ``[lo, hi]``. Gross
  exposure is kept: target leg ``g / (1 + beta)``, basket ``g * beta / (1 + beta)``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def hedge_basket(peers, target: str, companies=()) -> list[str]:
    """The hedge basket for a position: ``peers`` minus ``target`` and minus every
    announcing company in ``companies`` (each may be ``+``-joined, as merged
    events are), in the peers' order; the full basket when nothing would be left.

    The one rule for which peers a trade is measured against: strategies and
    the event study's peer-adjusted model both use it, so a statistic measures
    what was traded.
    """
    base = [p for p in peers if p != target]
    drop = {c for cs in companies for c in str(cs).split("+")}
    kept = [p for p in base if p not in drop]
    return kept or base


BETA_BOUNDS = (0.25, 3.0)  # a trailing beta is clipped to this range


def trailing_beta(returns: pd.DataFrame, target: str, peers: list[str], until: pd.Timestamp, window: int = 120,
                  lo: float = BETA_BOUNDS[0], hi: float = BETA_BOUNDS[1]) -> float:
    """Beta of ``target`` on the equal-weight ``peers`` basket over ``window``
    sessions ending at ``until`` (inclusive). NaN when fewer than ``window // 2``
    sessions are available."""
    r = returns.loc[:until].iloc[-window:]
    y = r[target].to_numpy()
    x = r[peers].mean(axis=1).to_numpy()
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < max(window // 2, 10):
        return float("nan")
    x, y = x[ok], y[ok]
    xc = x - x.mean()
    beta = float((xc * (y - y.mean())).sum() / (xc * xc).sum())
    return float(np.clip(beta, lo, hi))


def leg_weights(side: int, target: str, peers: list[str], gross: float, long_share: float, hedge: str, beta: float | None = None) -> dict[str, float]:
    """Weights (fractions of portfolio value, signed) of one long/short episode.

    ``side=+1``: long ``target``, short basket; ``-1``: the reverse.
    ``long_share`` is the target leg's share of ``gross`` under ``equal``
    hedging (0.5 = dollar neutral).
    """
    if hedge == "beta" and beta is not None and np.isfinite(beta):
        t_w, b_w = gross / (1 + beta), gross * beta / (1 + beta)
    else:
        t_w, b_w = gross * long_share, gross * (1 - long_share)
    w = {target: side * t_w}
    for p in peers:
        w[p] = -side * b_w / len(peers)
    return w
