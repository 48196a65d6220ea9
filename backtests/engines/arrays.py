"""A NumPy executor that reproduces what Backtrader does with a schedule of holdings.

:class:`strategies.base.ScheduleStrategy` on Backtrader is the reference
simulation. This module does the same arithmetic on arrays, for many
schedules at once (the placebo test of :mod:`backtests.stats.placebo` runs a
thousand of them), without Backtrader and without any file I/O.

Session axis and prices
    Positions ``0 .. N-1`` index the run's sessions. Prices are total-return
    OHLC (USD per share, :meth:`backtests.market.prices.PriceData.total_return_ohlc`),
    one column per ticker (:class:`PriceArrays`).

Holdings
    A :class:`Holding` is ``(entry, exit, weights)``: the session positions of
    the entry fill and the exit fill (``exit=None``: held to the end of the
    run) and the signed fraction of portfolio value per ticker (+ long,
    - short). Holdings are non-overlapping and in time order: each entry is at
    or after the previous exit; when an entry is *at* the previous exit the
    two are one fill (the old legs are closed, then the new ones opened, as in
    ``ScheduleStrategy.next``). A holding with ``continues=True`` is a new
    constant-weight segment of the previous holding (a rebalance: its entry
    must equal the previous exit); only the legs whose weight changes are
    traded, each to its new target sized as at an entry.

Execution conventions (those of ``ScheduleStrategy`` on the Backtrader broker
with ``shortcash=True``):

* ``fill='open'``: the decision is taken at the close of session ``f-1`` and
  filled at the open of ``f``. ``fill='close'``: decided and filled at the
  close of ``f`` (Backtrader's cheat-on-close executes it on the next bar, so
  its costs and the new book show in the value from the close of ``f+1``;
  a close fill on the last session never executes).
* Shares: ``weight * V / close[d]`` where ``V`` is the portfolio value at the
  decision close ``d`` and ``close[d]`` that close; fractional, or truncated
  toward zero with ``fractional=False`` (a zero size is no order).
* ``cash_buffer``: when a holding's long weights sum to more than
  ``1 - cash_buffer`` they are scaled down to that sum (shorts unchanged), as
  :func:`strategies.schedule.target_weights` does.
* Slippage: a buy fills at ``price * (1 + slippage_bps / 1e4)``, a sell at
  ``price * (1 - slippage_bps / 1e4)``, ``price`` being the open (or the close)
  of the fill session. With ``slip_out=True`` (default) the slipped price is
  charged in full; with ``slip_out=False`` it is capped at the bar's high /
  floored at its low as Backtrader's ``slip_out=False`` does, and for close
  fills Backtrader takes that bar to be the *next* session's (the bar on which
  the cheat-on-close order executes).
* Commission: ``commission_bps / 1e4`` of the traded value at the fill price,
  per side (every order).
* Borrow: at every close ``t`` with a following session, the short value of
  the book held at that close (``sum of -shares * close[t]`` over short legs)
  times ``borrow_bps / 1e4 * calendar days from t to t+1 / 365`` is taken
  from cash and shows in the value from the close of ``t+1``. The book "held
  at close t" is the one Backtrader has after the fills executed on bar ``t``:
  with close fills that is the book *before* ``t``'s own close fills, so a
  position entered at the close of ``e`` and left at the close of ``x`` pays
  the nights after closes ``e+1 .. x`` (same count as ``e .. x-1``, shifted
  by one night) - exactly what ``ScheduleStrategy.next`` does.
* Value at a close: cash + sum(shares * close). Daily returns are
  ``V[t] / V[t-1] - 1`` with ``V[-1]`` the starting cash, as Backtrader's
  ``TimeReturn`` analyzer gives them on daily bars.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

FILLS = ("open", "close")


@dataclass(frozen=True)
class Holding:
    """One constant-weight position on the session axis.

    * ``entry``: session position of the entry fill (with ``fill='open'`` at
      least 1: the decision is at the previous close).
    * ``exit``: session position of the exit fill, after ``entry``; ``None``
      keeps it to the end of the run (the final value marks it at the last close).
    * ``weights``: ticker -> signed fraction of portfolio value at the decision
      (before ``cash_buffer`` scaling).
    * ``continues``: this holding is a rebalance of the previous one (same
      position, new weights from ``entry``, which must equal the previous
      ``exit``); only changed legs trade.
    * ``episode``: the episode number of the run it comes from (0 otherwise).
    """

    entry: int
    exit: int | None
    weights: Mapping[str, float] = field(default_factory=dict)
    continues: bool = False
    episode: int = 0  # the run's episode number (trades and fills are attributed to it); 0 when not from a run


@dataclass(frozen=True)
class PriceArrays:
    """Total-return OHLC (USD per share) on one session axis: arrays of shape (N, K),
    columns in ``tickers`` order; ``sessions`` the N session dates."""

    sessions: pd.DatetimeIndex
    tickers: tuple[str, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray

    @classmethod
    def from_frames(cls, frames: Mapping[str, pd.DataFrame], sessions: pd.DatetimeIndex | None = None,
                    tickers: Sequence[str] | None = None) -> "PriceArrays":
        """From ticker -> frame with ``open, high, low, close`` indexed by session
        (e.g. ``PriceData.total_return_ohlc()``), restricted to ``sessions``
        (default: the first frame's index)."""
        tickers = tuple(tickers or frames)
        if sessions is None:
            sessions = frames[tickers[0]].index
        sessions = pd.DatetimeIndex(sessions)
        cols = {}
        for c in ("open", "high", "low", "close"):
            cols[c] = np.column_stack([frames[t][c].reindex(sessions).to_numpy(dtype=float) for t in tickers]) if tickers else np.zeros((len(sessions), 0))
            if np.isnan(cols[c]).any():
                raise ValueError(f"missing {c} prices on the session axis")
        return cls(sessions, tickers, cols["open"], cols["high"], cols["low"], cols["close"])

    @property
    def n(self) -> int:
        return len(self.sessions)

    def nights(self) -> np.ndarray:
        """Calendar days from each session to the next (int, shape (N,)); 0 after the last."""
        d = self.sessions.values.astype("datetime64[D]").astype(np.int64)
        out = np.zeros(len(d), dtype=np.int64)
        out[:-1] = np.diff(d)
        return out


@dataclass(frozen=True)
class ExecConfig:
    """Portfolio and cost settings of a run (units: USD, basis points)."""

    cash: float = 1_000_000.0
    commission_bps: float = 0.0  # of traded value, per side
    slippage_bps: float = 0.0  # of the fill price, per side
    borrow_bps: float = 0.0  # a year (365 calendar days) on the short value
    fill: str = "open"
    fractional: bool = True
    cash_buffer: float = 0.0
    slip_out: bool = True  # False: Backtrader's cap of the slipped price at the bar's high/low

    def __post_init__(self):
        if self.fill not in FILLS:
            raise ValueError(f"fill must be one of {FILLS}, not {self.fill!r}")

    @classmethod
    def from_config(cls, cfg: Mapping, slip_out: bool = True) -> "ExecConfig":
        """From a resolved run config (its ``portfolio`` and ``costs`` sections)."""
        pf, c = cfg["portfolio"], cfg["costs"]
        return cls(cash=float(pf["cash"]), commission_bps=float(c["commission_bps"]), slippage_bps=float(c["slippage_bps"]),
                   borrow_bps=float(c["borrow_bps"]), fill=pf["fill"], fractional=bool(pf["fractional"]),
                   cash_buffer=float(pf["cash_buffer"]), slip_out=slip_out)


@dataclass
class Execution:
    """One schedule executed: ``returns`` daily portfolio returns (fractions) on the
    session axis, ``value`` the portfolio value at each close (USD),
    ``total_return`` the final value over the starting cash minus 1."""

    returns: pd.Series
    value: np.ndarray
    total_return: float


@dataclass
class BatchExecution:
    """Many schedules executed: ``total_return`` (R,), ``final_value`` (R,) USD, and
    with ``daily=True`` ``value`` and ``returns`` of shape (R, N), else None."""

    total_return: np.ndarray
    final_value: np.ndarray
    value: np.ndarray | None = None
    returns: np.ndarray | None = None


def scaled_weights(weights: np.ndarray, cash_buffer: float) -> np.ndarray:
    """Long weights scaled down to ``1 - cash_buffer`` when they sum to more
    (shorts unchanged); ``weights`` (..., K), returns a new array."""
    w = np.asarray(weights, dtype=float)
    longs = np.where(w > 0, w, 0.0).sum(axis=-1, keepdims=True)
    cap = 1.0 - cash_buffer
    k = np.where(longs > cap, cap / np.where(longs > 0, longs, 1.0), 1.0)
    return np.where(w > 0, w * k, w)


def holding_arrays(holdings: Sequence[Holding], tickers: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(entry, exit, weights, continues)`` arrays of shape (H,), (H,), (H, K), (H,)
    for :func:`execute_batch`; ``exit`` is -1 for a holding kept to the end."""
    col = {t: k for k, t in enumerate(tickers)}
    w = np.zeros((len(holdings), len(tickers)))
    for h, hd in enumerate(holdings):
        for t, v in hd.weights.items():
            if t not in col:
                raise ValueError(f"holding {h} trades {t}, which has no prices")
            w[h, col[t]] = float(v)
    entry = np.array([hd.entry for hd in holdings], dtype=np.int64)
    exit_ = np.array([-1 if hd.exit is None else hd.exit for hd in holdings], dtype=np.int64)
    cont = np.array([bool(hd.continues) for hd in holdings], dtype=bool)
    return entry, exit_, w, cont


def check_schedule(entry: np.ndarray, exit_: np.ndarray, continues: np.ndarray, n: int, fill: str) -> None:
    """Raise ValueError unless every run's holdings (rows) are in time order,
    non-overlapping, inside the session axis, and rebalances follow their
    holding directly."""
    if entry.size == 0:
        return
    lo = 1 if fill == "open" else 0
    ends = np.where(exit_ < 0, n - 1, exit_)
    problems = []
    if (entry < lo).any() or (entry > n - 1).any():
        problems.append(f"entries must lie in [{lo}, {n - 1}] (an open fill needs a decision close before it)")
    if ((exit_ >= 0) & (exit_ <= entry)).any() or (exit_ > n - 1).any():
        problems.append("each exit must come after its entry and inside the session axis")
    if entry.shape[1] > 1:
        if (entry[:, 1:] < ends[:, :-1]).any() or (exit_[:, :-1] < 0).any():
            problems.append("holdings must be in time order and must not overlap (only the last may be kept to the end)")
        if (continues[:, 1:] & (entry[:, 1:] != exit_[:, :-1])).any():
            problems.append("a continuing holding (rebalance) must start at the previous holding's exit")
    if continues[:, 0].any():
        problems.append("the first holding cannot continue a previous one")
    if problems:
        raise ValueError("; ".join(problems))


def _slip(price: np.ndarray, buy: np.ndarray, slip: float, cfg: ExecConfig, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    p = np.where(buy, price * (1 + slip), price * (1 - slip))
    if not cfg.slip_out and slip:
        p = np.where(buy, np.where(p <= hi, p, hi), np.where(p >= lo, p, lo))
    return p


def execute_batch(entry, exit_, weights, continues, prices: PriceArrays, cfg: ExecConfig, *, daily: bool = False,
                  check: bool = True) -> BatchExecution:
    """Execute R schedules of H holdings each, vectorised across schedules.

    ``entry``, ``exit_`` (int; -1 = kept to the end) and ``continues`` (bool):
    shape (R, H), each row one schedule in time order (see :class:`Holding`);
    ``weights``: (R, H, K) or (H, K), signed fractions of portfolio value, K
    in ``prices.tickers`` order, before ``cash_buffer`` scaling.
    Returns the total return of each schedule (final value / ``cfg.cash`` - 1)
    and, with ``daily=True``, the value at every close (USD) and the daily
    returns (fractions), both (R, N); the daily paths take O(R N K) memory, so
    ask for them for a few schedules, not for a placebo of thousands.
    ``check=False`` skips :func:`check_schedule` (for schedules built valid).
    """
    entry = np.atleast_2d(np.asarray(entry, dtype=np.int64))
    exit_ = np.atleast_2d(np.asarray(exit_, dtype=np.int64))
    R, H = entry.shape
    cont = np.broadcast_to(np.asarray(continues, dtype=bool), (R, H))
    K, N = len(prices.tickers), prices.n
    w = np.broadcast_to(np.asarray(weights, dtype=float), (R, H, K))
    if check:
        check_schedule(entry, exit_, cont, N, cfg.fill)
    w = scaled_weights(w, cfg.cash_buffer)
    is_open = cfg.fill == "open"
    close, px = prices.close, (prices.open if is_open else prices.close)
    # borrow accrual: CS[t, k] = sum over closes u < t of nights(u) * close[u, k]
    cs = np.zeros((N + 1, K))
    np.cumsum(prices.nights()[:, None] * close, axis=0, out=cs[1:])
    rate = cfg.borrow_bps / 1e4 / 365.0
    slip, comm = cfg.slippage_bps / 1e4, cfg.commission_bps / 1e4
    rows = np.arange(R)

    def borrow(q, a, b):  # charges at closes a .. b-1 on book q (R, K)
        if not rate:
            return np.zeros(R)
        short = np.where(q < 0, -q, 0.0)
        return rate * (short * (cs[b] - cs[a])).sum(axis=1)

    cash = np.full(R, float(cfg.cash))
    q = np.zeros((R, K))
    w_prev = np.zeros((R, K))
    t_acc = np.zeros(R, dtype=np.int64)
    states = [(np.zeros(R, dtype=np.int64), cash.copy(), q.copy())] if daily else None
    # fill events in time order: the entry of holding h, then its exit unless
    # it is kept to the end or is the next holding's entry fill
    nxt_entry = np.concatenate([entry[:, 1:], np.full((R, 1), -2)], axis=1)
    last_exec = N - 1 if is_open else N - 2  # a close fill on the last session never executes
    for h in range(H):
        for kind in ("entry", "exit"):
            if kind == "entry":
                f = entry[:, h]
                target = w[:, h]
                rebalance = cont[:, h]
            else:
                f = exit_[:, h]
                target = np.zeros((R, K))
                rebalance = np.zeros(R, dtype=bool)
            act = (f >= 0) & (f <= last_exec)
            if kind == "exit":
                act &= f != nxt_entry[:, h]
            if not act.any():
                continue
            fa = np.where(act, f, 1 if is_open else 0)  # a harmless index for inactive rows
            d = fa - 1 if is_open else fa  # decision close
            s = fa if is_open else fa + 1  # first close that marks the new book
            cash = cash - np.where(act, borrow(q, t_acc, d), 0.0)
            c_d = close[d]
            value = cash + (q * c_d).sum(axis=1)
            size = target * value[:, None] / c_d
            if not cfg.fractional:
                size = np.trunc(size)
            bar = np.minimum(s, N - 1)  # the bar on which Backtrader executes the order
            hi, lo = prices.high[bar], prices.low[bar]
            p = px[fa]
            # reset: close every leg, then open the new ones (two orders per ticker)
            z_close = -q
            p_close = _slip(p, z_close > 0, slip, cfg, hi, lo)
            p_open = _slip(p, size > 0, slip, cfg, hi, lo)
            flow_reset = (z_close * p_close + np.abs(z_close) * p_close * comm + size * p_open + np.abs(size) * p_open * comm).sum(axis=1)
            # rebalance: trade each changed leg to its new target (one order)
            changed = target != w_prev
            z_reb = np.where(changed, np.where(target != 0, size - q, -q), 0.0)
            p_reb = _slip(p, z_reb > 0, slip, cfg, hi, lo)
            flow_reb = (z_reb * p_reb + np.abs(z_reb) * p_reb * comm).sum(axis=1)
            q_new = np.where(rebalance[:, None], q + z_reb, size)
            flow = np.where(rebalance, flow_reb, flow_reset)
            cash = np.where(act, cash - borrow(q, d, s) - flow, cash)
            q = np.where(act[:, None], q_new, q)
            w_prev = np.where(act[:, None], target, w_prev)
            t_acc = np.where(act, s, t_acc)
            if daily:
                states.append((np.where(act, s, states[-1][0]), cash.copy(), q.copy()))
    final_cash = cash - borrow(q, t_acc, np.full(R, N))
    final = final_cash + (q * close[N - 1]).sum(axis=1)
    out = BatchExecution(final / cfg.cash - 1.0, final)
    if daily:
        s_all = np.stack([st[0] for st in states], axis=1)  # (R, J) nondecreasing
        c_all = np.stack([st[1] for st in states], axis=1)
        q_all = np.stack([st[2] for st in states], axis=1)  # (R, J, K)
        J = s_all.shape[1]
        mark = np.zeros((R, N), dtype=np.int64)
        np.maximum.at(mark, (np.repeat(rows, J), s_all.ravel()), np.tile(np.arange(J), R))
        idx = np.maximum.accumulate(mark, axis=1)  # state in force at each close
        s_t = np.take_along_axis(s_all, idx, axis=1)
        c_t = np.take_along_axis(c_all, idx, axis=1)
        q_t = np.take_along_axis(q_all, idx[:, :, None], axis=1)  # (R, N, K)
        short = np.where(q_t < 0, -q_t, 0.0)
        acc = rate * (short * (cs[None, :N] - cs[s_t])).sum(axis=2) if rate else 0.0
        value = c_t - acc + (q_t * close[None]).sum(axis=2)
        prev = np.concatenate([np.full((R, 1), float(cfg.cash)), value[:, :-1]], axis=1)
        out.value, out.returns = value, value / prev - 1.0
    return out


def execute(holdings: Sequence[Holding], prices: PriceArrays, cfg: ExecConfig) -> Execution:
    """Execute one schedule; daily returns as a Series on ``prices.sessions``."""
    e, x, w, c = holding_arrays(holdings, prices.tickers)
    b = execute_batch(e[None], x[None], w[None], c[None], prices, cfg, daily=True)
    return Execution(pd.Series(b.returns[0], index=prices.sessions, name="strategy"), b.value[0], float(b.total_return[0]))


def holdings_from_episodes(episodes, sessions: pd.DatetimeIndex, fill: str = "open") -> list[Holding]:
    """Holdings of a run's planned episodes (``entry``, ``exit`` sessions,
    ``weights``, and ``segments()`` when an episode rebalances).

    With open fills an episode planned to start on the first session is filled
    at the next open (there is no earlier close to decide at), as
    ``ScheduleStrategy`` does; an episode that would then be empty is dropped.
    """
    out: list[Holding] = []
    for ep in episodes:
        entry = sessions.get_loc(ep.entry)
        exit_ = None if ep.exit is None else sessions.get_loc(ep.exit)
        segs = ep.segments() if hasattr(ep, "segments") else [(ep.entry, ep.weights)]
        starts = [max(sessions.get_loc(when), entry) for when, _ in segs]
        if fill == "open":
            starts = [max(s, 1) for s in starts]
        bounds = starts[1:] + [exit_]
        first = True
        for (when, wts), start, end in zip(segs, starts, bounds):
            if end is not None and end <= start:
                continue
            out.append(Holding(start, end, dict(wts), continues=not first, episode=int(getattr(ep, "episode", 0))))
            first = False
    return out
