"""Cost sensitivity: a run's planned trades executed again at other slippage levels, on the fast engine.

The same compiled schedule (:func:`backtests.engines.fast_engine.compile_schedule`: the same episodes,
sessions, weights and sizing rule) is executed by :func:`backtests.engines.fast_engine.run_costs` once per
slippage level, everything else as configured (commission, borrow, cash, fractional shares, cash buffer).
Sizes are re-derived at each level from the portfolio value at each decision close, as a run at that
slippage would size them, so every row is exactly the run that config would give (the fast engine matches
Backtrader to :data:`backtests.engines.fast_engine.SUMMARY_RTOL`).

Columns of :func:`slippage_curve`: ``slippage_bps`` (per side, on every fill), ``total_return``,
``excess_total_return`` and ``sharpe`` (as summary.json defines them: daily returns, 252 sessions a year,
risk-free 0; excess over a peer-basket position of the same net exposure) and ``pnl_net`` (USD: the final
portfolio value minus the starting cash, after commission, slippage and borrow). A level at which an order
cannot be paid for (Backtrader's margin refusal) has NaN metrics.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

#: the slippage grid, bps per side: 0, 1, ..., 20 (the configured level is added when it is not on it)
SLIPPAGE_BPS = tuple(float(b) for b in range(21))
COLUMNS = ["slippage_bps", "total_return", "excess_total_return", "sharpe", "pnl_net"]


def slippage_grid(configured: float, grid: Sequence[float] = SLIPPAGE_BPS) -> np.ndarray:
    """``grid`` plus the configured slippage (bps per side) when it is not on it, sorted."""
    return np.array(sorted(set(float(g) for g in grid) | {float(configured)}))


def slippage_curve(sched, prices, basket: np.ndarray, lags: int, cfg: dict, grid: Sequence[float] = SLIPPAGE_BPS) -> pd.DataFrame:
    """One row per slippage level of :func:`slippage_grid` (see the module docstring); ``sched``, ``prices``,
    ``basket``, ``lags`` as :func:`backtests.runner.kernel_inputs` gives them for the run of resolved ``cfg``."""
    from backtests.engines.fast_engine import run_costs
    from backtests.engines.kernel import METRICS

    pf, c = cfg["portfolio"], cfg["costs"]
    slip = slippage_grid(c["slippage_bps"], grid)
    R = len(slip)
    costs = {"cash": np.full(R, float(pf["cash"])), "commission_bps": np.full(R, float(c["commission_bps"])), "slippage_bps": slip,
             "borrow_bps": np.full(R, float(c["borrow_bps"])), "fractional": np.full(R, bool(pf["fractional"])),
             "cash_buffer": np.full(R, float(pf["cash_buffer"]))}
    out, _, _ = run_costs(sched, prices, basket, costs, lags=lags)
    m = {k: out[:, METRICS.index(k)] for k in ("total_return", "excess_total_return", "sharpe")}
    return pd.DataFrame({"slippage_bps": slip, **m, "pnl_net": m["total_return"] * float(pf["cash"])}, columns=COLUMNS)
