"""The fast engine: a run's planned episodes executed by the compiled loop of :mod:`backtests.engines.kernel`.

Both engines consume the same plans and episodes (the pure schedule layer of :mod:`strategies.schedule`);
only execution differs. :func:`simulate_fast` returns the same :class:`~backtests.engines.backtrader_engine.SimResult`
as :func:`~backtests.engines.backtrader_engine.simulate` (daily returns, fills, borrow charges, exposure rows),
so everything downstream (trades table, summary, placebo, study, tear sheet) is shared code.
:func:`run_costs` executes one schedule under many cost settings at once and returns the summary metrics
of each (what a sweep needs), with the daily returns of each row when asked.

Parity with Backtrader (tests/test_engine_parity.py): the same fills (session, ticker, size, price,
commission), final value within 1e-9 relative, daily returns within 1e-10 absolute, summary.json within
:data:`SUMMARY_RTOL` / :data:`SUMMARY_ATOL`. Where Backtrader behaves oddly, the Backtrader path is the
one configured (full slippage, ``slip_out=True``; borrow taken by ``add_cash`` so it shows a bar later, as
documented in :mod:`backtests.engines.arrays`), and the kernel reproduces it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from backtests.engines.arrays import FILLS, Holding, PriceArrays, check_schedule, holding_arrays, holdings_from_episodes
from backtests.engines.backtrader_engine import SimResult
from strategies.schedule import cash_shortfall

#: summary.json agreement between engines: |fast - backtrader| <= SUMMARY_ATOL + SUMMARY_RTOL * |backtrader|
SUMMARY_RTOL = 1e-9
SUMMARY_ATOL = 1e-12
#: daily returns agreement (absolute) and final value agreement (relative)
RETURNS_ATOL = 1e-10
FINAL_RTOL = 1e-9


@dataclass(frozen=True)
class Schedule:
    """A schedule of holdings compiled for the kernel (shared by every cost setting).

    ``ev_s`` (first marking close of each executed fill), ``ev_h`` (its holding), ``ev_entry`` (1 entry,
    0 exit); ``weights`` (H, K) before ``cash_buffer``; ``continues`` (H,); ``ep_of`` (H,) the kernel's
    episode index (1..E); ``episode_numbers`` (E+1,) the run's episode number of each index (0 = flat);
    ``in_force`` (N,) the run's episode number in force after each session's fill (0 when flat), as the
    Backtrader strategy labels its exposure rows."""

    ev_s: np.ndarray
    ev_h: np.ndarray
    ev_entry: np.ndarray
    weights: np.ndarray
    continues: np.ndarray
    ep_of: np.ndarray
    episode_numbers: np.ndarray
    in_force: np.ndarray
    fill: str

    @property
    def n_episodes(self) -> int:
        return len(self.episode_numbers) - 1


def compile_schedule(holdings: Sequence[Holding], tickers: Sequence[str], n: int, fill: str) -> Schedule:
    """Order the fills of ``holdings`` (see :class:`~backtests.engines.arrays.Holding`) on an axis of ``n``
    sessions: an entry, then the exit unless it is the next entry's fill or the holding is kept to the end.
    A close fill on the last session never executes (no later bar), as on Backtrader."""
    if fill not in FILLS:
        raise ValueError(f"fill must be one of {FILLS}, not {fill!r}")
    entry, exit_, w, cont = holding_arrays(holdings, tickers)
    check_schedule(entry[None], exit_[None], cont[None], n, fill)
    is_open = fill == "open"
    last_exec = n - 1 if is_open else n - 2
    ev_s, ev_h, ev_entry = [], [], []
    ep_of = np.zeros(len(holdings), dtype=np.int64)
    numbers = [0]
    in_force = np.zeros(n, dtype=np.int64)
    for h, hd in enumerate(holdings):
        if not hd.continues:
            numbers.append(hd.episode or len(numbers))
        ep_of[h] = len(numbers) - 1
        end = n if hd.exit is None else hd.exit
        in_force[hd.entry:end] = numbers[-1]
        for f, is_entry in ((hd.entry, 1), (hd.exit, 0)):
            if f is None or f > last_exec:
                continue
            if not is_entry and h + 1 < len(holdings) and holdings[h + 1].entry == f:
                continue  # one fill: the next holding's entry closes or rebalances this one
            ev_s.append(f if is_open else f + 1)
            ev_h.append(h)
            ev_entry.append(is_entry)
    return Schedule(np.array(ev_s, dtype=np.int64), np.array(ev_h, dtype=np.int64), np.array(ev_entry, dtype=np.int64),
                    np.ascontiguousarray(w, dtype=float), cont.astype(np.bool_), ep_of, np.array(numbers, dtype=np.int64), in_force, fill)


def fill_prices(prices: PriceArrays, fill: str) -> np.ndarray:
    """The fill reference price per *marking* session ``s`` (N, K): ``open[s]``, or ``close[s-1]`` with close fills."""
    if fill == "open":
        return np.ascontiguousarray(prices.open)
    out = np.empty_like(prices.close)
    out[0] = np.nan
    out[1:] = prices.close[:-1]
    return out


def _costs(cfg: Mapping) -> tuple[float, float, float, float, bool, float]:
    pf, c = cfg["portfolio"], cfg["costs"]
    return (float(pf["cash"]), float(c["commission_bps"]) / 1e4, float(c["slippage_bps"]) / 1e4, float(c["borrow_bps"]) / 1e4 / 365.0,
            bool(pf["fractional"]), float(pf["cash_buffer"]))


def simulate_fast(episodes, frames: Mapping[str, pd.DataFrame], sessions: pd.DatetimeIndex, *, cash: float, commission_bps: float,
                  slippage_bps: float, borrow_bps: float, fill: str = "open", fractional: bool = True, cash_buffer: float = 0.0) -> SimResult:
    """Execute a run's ``episodes`` over ``frames`` (ticker -> total-return OHLC on ``sessions``) on the fast engine;
    the same :class:`SimResult` as the Backtrader path (``trade_analysis`` is empty: it is Backtrader's own analyzer)."""
    from backtests.engines.kernel import simulate_row

    tickers = list(frames)
    prices = PriceArrays.from_frames(frames, sessions, tickers)
    sched = compile_schedule(holdings_from_episodes(episodes, sessions, fill), tickers, prices.n, fill)
    N, K = prices.close.shape
    E = sched.n_episodes
    m = max(4 * len(sched.ev_s) * K, 1)
    ret, val, nh, gx, nx = (np.zeros(N) for _ in range(5))
    pnl, traded = np.zeros(E + 1), np.zeros(E + 1, dtype=np.bool_)
    b_cost, b_ep = np.zeros(N), np.zeros(N, dtype=np.int64)
    f_sess, f_note, f_tick, f_ep = (np.zeros(m, dtype=np.int64) for _ in range(4))
    f_size, f_price, f_comm = (np.zeros(m) for _ in range(3))
    fail = np.full(2, -1, dtype=np.int64)
    nf = simulate_row(sched.ev_s, sched.ev_h, sched.ev_entry, sched.weights, sched.continues, sched.ep_of, E, fill_prices(prices, fill),
                      np.ascontiguousarray(prices.close), prices.nights().astype(float), fill == "open", float(cash), commission_bps / 1e4,
                      slippage_bps / 1e4, borrow_bps / 1e4 / 365.0, bool(fractional), float(cash_buffer), True,
                      ret, val, nh, gx, nx, pnl, traded, b_cost, b_ep, f_sess, f_note, f_tick, f_size, f_price, f_comm, f_ep, fail)
    if nf < 0:
        raise cash_shortfall(sessions[fail[0]], tickers[fail[1]], fill)
    num = sched.episode_numbers
    fills = pd.DataFrame({
        "date": sessions[f_sess[:nf]], "notified": sessions[f_note[:nf]], "ticker": [tickers[k] for k in f_tick[:nf]],
        "size": f_size[:nf], "price": f_price[:nf], "value": f_size[:nf] * f_price[:nf], "commission": f_comm[:nf], "episode": num[f_ep[:nf]],
    })
    charged = np.flatnonzero(b_cost > 0)
    borrow = pd.DataFrame({"date": sessions[charged], "episode": num[b_ep[charged]], "cost": b_cost[charged]})
    exposure = pd.DataFrame({"exposure": gx, "net": nx, "episode": sched.in_force, "net_held": nh}, index=pd.DatetimeIndex(sessions, name="date"))
    if fill == "open" and N:
        exposure.iloc[0, exposure.columns.get_loc("episode")] = 0  # no decision close before the first session
    returns = pd.Series(ret, index=pd.DatetimeIndex(sessions), name="strategy")
    final = float(val[-1]) if N else float(cash)
    return SimResult(returns, fills, borrow, exposure, final, {})


def run_costs(sched: Schedule, prices: PriceArrays, basket: np.ndarray, costs: Mapping[str, np.ndarray], *, lags: int,
              keep_returns: bool = False) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Execute ``sched`` under R cost settings; ``costs`` holds arrays of shape (R,): ``cash`` (USD),
    ``commission_bps``, ``slippage_bps``, ``borrow_bps`` (a year of 365 nights), ``fractional`` (bool),
    ``cash_buffer`` (fraction). ``basket``: the peer basket's daily returns on the axis (first 0), for the
    excess and the alpha; ``lags``: the Newey-West lags. Returns the metrics (R, len(METRICS)) in
    :data:`backtests.engines.kernel.METRICS` order, with ``keep_returns`` the daily returns (R, N) (else None),
    and (R, 2) the fill session and ticker column at which a row ran out of cash (-1, -1 when it did not; its
    metrics are then NaN, and :func:`~strategies.schedule.cash_shortfall` says why)."""
    from backtests.engines.kernel import METRICS, run_batch

    R = len(np.asarray(costs["cash"]))
    N = prices.n

    def col(name, dtype=float):
        return np.ascontiguousarray(np.broadcast_to(np.asarray(costs[name], dtype=dtype), (R,)))

    out = np.zeros((R, len(METRICS)))
    rets = np.zeros((R, N)) if keep_returns else np.zeros((1, N))
    fail = np.full((R, 2), -1, dtype=np.int64)
    run_batch(sched.ev_s, sched.ev_h, sched.ev_entry, sched.weights, sched.continues, sched.ep_of, sched.n_episodes,
              fill_prices(prices, sched.fill), np.ascontiguousarray(prices.close), prices.nights().astype(float), sched.fill == "open",
              np.ascontiguousarray(basket, dtype=float), int(lags), col("cash"), col("commission_bps") / 1e4, col("slippage_bps") / 1e4,
              col("borrow_bps") / 1e4 / 365.0, col("fractional", np.bool_), col("cash_buffer"), bool(keep_returns), out, rets, fail)
    return out, (rets if keep_returns else None), fail
