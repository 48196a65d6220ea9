"""Placebo null for event timing: did trading *around events* matter?

The strategy's holdings (their lengths in sessions and their weights, so
their sides and hedge baskets) are placed again at seeded random sessions
away from events, many times, and every such placebo schedule is executed
with the same array executor and costs as the strategy
(:mod:`backtests.engines.arrays`, which reproduces the Backtrader run). The
placebo p-value is the share of placebo runs whose total return is at least
the strategy's. Everything here is a pure function of arrays (NumPy; no
Backtrader, no file I/O).

Placement rules (:func:`sample_schedules`):

* a *block* is a holding together with the holdings that continue it
  (rebalances); it occupies the sessions from its entry fill to its exit fill,
  both included, and keeps its length (exit - entry, in sessions) and the
  offsets of its rebalances;
* each placebo run places every block once, at a random entry inside the
  session axis (with open fills not on the first session, which has no
  decision close before it), so that its sessions touch no ``near_event``
  session and no other block of the same run (blocks may not share a session,
  not even an exit fill with the next entry);
* a block held to the end of the run (``exit=None``) keeps its number of
  sessions in the market and is held to the end again only when placed where
  it would end at the end; elsewhere it gets an exit fill;
* placement is random sequential: blocks are placed longest first, each
  uniformly among the entries still free given the blocks already placed in
  that run; a run in which some block finds no free entry is drawn again from
  scratch, up to ``max_tries`` times, then skipped and counted
  (:attr:`PlaceboResult.n_skipped`). Drawing stops early when the blocks need
  more sessions than are free (nothing is tried) or when
  :data:`STALL_ROUNDS` rounds in a row place no run (the free sessions are
  too fragmented for the blocks); the runs left are skipped and counted. Sequential placement is close to, but not
  exactly, uniform over all admissible schedules when the free sessions are
  crowded.

All draws come from ``numpy.random.default_rng(seed)``; the same inputs and
seed give the same placebo runs.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from backtests.engines.arrays import ExecConfig, Holding, PriceArrays, check_schedule, execute_batch, holding_arrays

DEFAULT_SEED = 20261124
DEFAULT_N = 1000
DEFAULT_MAX_TRIES = 100
STALL_ROUNDS = 10  # rounds in a row that place no run at all: the rest cannot be placed either, in practice
TIE_TOL = 1e-10  # total returns (fractions) closer than this count as equal


def near_event_mask(n_sessions: int, day0_positions: Sequence[int], before: int = 0, after: int = 0) -> np.ndarray:
    """Boolean mask (n_sessions,) of the sessions within ``[p - before, p + after]``
    of any event day 0 at session position ``p`` (positions may lie outside the
    axis; the spans are clipped to it). ``before`` and ``after`` are session counts >= 0."""
    if before < 0 or after < 0:
        raise ValueError("before and after are session counts >= 0")
    m = np.zeros(n_sessions + 1, dtype=np.int64)
    p = np.asarray(list(day0_positions), dtype=np.int64)
    lo = np.clip(p - before, 0, n_sessions)
    hi = np.clip(p + after + 1, 0, n_sessions)
    keep = hi > lo
    np.add.at(m, lo[keep], 1)
    np.add.at(m, hi[keep], -1)
    return np.cumsum(m[:-1]) > 0


@dataclass(frozen=True)
class PlaceboSchedules:
    """Placebo schedules ready for :func:`backtests.engines.arrays.execute_batch`:
    ``entry``, ``exit`` (-1 = held to the end), ``continues`` of shape (R, H) and
    ``weights`` (R, H, K), one row per placed run, holdings in time order.
    ``n_requested`` runs were asked for; ``n_skipped`` could not be placed."""

    entry: np.ndarray
    exit: np.ndarray
    weights: np.ndarray
    continues: np.ndarray
    n_requested: int
    n_skipped: int
    seed: int
    tries: int  # rounds of drawing used (1 = every run placed at the first draw)


def _blocks(holdings: Sequence[Holding]) -> list[list[int]]:
    blocks: list[list[int]] = []
    for i, h in enumerate(holdings):
        if h.continues and blocks:
            blocks[-1].append(i)
        else:
            blocks.append([i])
    return blocks


def _free_starts(occ: np.ndarray, lo: int, hi: int, L: int) -> np.ndarray:
    """For every row of ``occ`` (P, N + 1) and entry e in [lo, hi]: are sessions e .. e + L all free?"""
    if L < 24:  # a few shifted ANDs beat a cumulative sum for short holdings
        free = ~occ
        v = free[:, lo:hi + 1].copy()
        for j in range(1, L + 1):
            v &= free[:, lo + j:hi + 1 + j]
        return v
    c = np.zeros((occ.shape[0], occ.shape[1] + 1), dtype=np.int32)
    np.cumsum(occ, axis=1, out=c[:, 1:])
    return (c[:, lo + L + 1:hi + L + 2] - c[:, lo:hi + 1]) == 0


def sample_schedules(holdings: Sequence[Holding], n_sessions: int, near_event: np.ndarray, tickers: Sequence[str], *,
                     n: int = DEFAULT_N, seed: int = DEFAULT_SEED, fill: str = "open",
                     max_tries: int = DEFAULT_MAX_TRIES) -> PlaceboSchedules:
    """Draw ``n`` placebo schedules of ``holdings`` (see the module docstring).

    ``near_event``: boolean (n_sessions,), True where no placebo holding may
    be; ``tickers``: the column order of the returned weights (the executor's
    ``PriceArrays.tickers``); ``fill``: the run's fill ('open' or 'close').
    """
    N = int(n_sessions)
    near = np.asarray(near_event, dtype=bool)
    if near.shape != (N,):
        raise ValueError(f"near_event must have shape ({N},), not {near.shape}")
    entry0, exit0, w0, cont0 = holding_arrays(holdings, tickers)
    check_schedule(entry0[None], exit0[None], cont0[None], N, fill)
    H = len(holdings)
    rng = np.random.default_rng(seed)
    if H == 0:
        z = np.zeros((n, 0), dtype=np.int64)
        return PlaceboSchedules(z, z.copy(), np.zeros((n, 0, len(tickers))), np.zeros((n, 0), dtype=bool), n, 0, seed, 0)
    lo = 1 if fill == "open" else 0
    v_end = N if fill == "open" else N - 1  # where a held-to-end holding's virtual exit lies
    blocks = _blocks(holdings)
    B = len(blocks)
    start = np.array([entry0[b[0]] for b in blocks])
    to_end = np.array([exit0[b[-1]] < 0 for b in blocks])
    last = np.array([v_end if te else exit0[b[-1]] for b, te in zip(blocks, to_end)])
    length = last - start  # sessions from entry fill to exit fill
    max_start = np.where(to_end, v_end, N - 1) - length
    block_of = np.concatenate([[j] * len(b) for j, b in enumerate(blocks)])
    seg = np.concatenate([np.arange(len(b)) for b in blocks])
    off_entry = entry0 - start[block_of]
    off_exit = np.where(exit0 < 0, length[block_of], exit0 - start[block_of])
    order_blocks = np.argsort(-length, kind="stable")  # longest first

    placed = np.full((n, B), -1, dtype=np.int64)
    free = int((~near[lo:]).sum())
    fits = (max_start >= lo).all() and int((length + 1).sum()) <= free  # else nothing can fit: every run is skipped
    pending = np.arange(n) if fits else np.arange(0)
    tries = fruitless = 0
    while len(pending) and tries < max_tries and fruitless < STALL_ROUNDS:
        tries += 1
        P = len(pending)
        occ = np.zeros((P, N + 1), dtype=bool)  # column N: the virtual session after the end
        occ[:, :N] = near
        pos = np.full((P, B), -1, dtype=np.int64)
        ok = np.ones(P, dtype=bool)
        for b in order_blocks:
            L, hi = int(length[b]), int(max_start[b])
            u = rng.random(P)
            valid = _free_starts(occ, lo, hi, L)  # (P, hi - lo + 1): entry lo + j keeps [e, e + L] free
            cnt = valid.sum(axis=1)
            ok &= cnt > 0
            k = np.minimum((u * cnt).astype(np.int64), np.maximum(cnt - 1, 0))
            flat = np.flatnonzero(valid)  # row-major: each row's free entries in order
            first = np.concatenate([[0], np.cumsum(cnt)[:-1]])
            rows = np.nonzero(cnt > 0)[0]
            pick = lo + flat[first[rows] + k[rows]] - rows * valid.shape[1]
            pos[rows, b] = pick
            occ[rows[:, None], pick[:, None] + np.arange(L + 1)] = True
        placed[pending[ok]] = pos[ok]
        fruitless = 0 if ok.any() else fruitless + 1
        pending = pending[~ok]
    good = np.nonzero((placed >= 0).all(axis=1))[0]
    pb = placed[good]  # (R, B) block entries
    R = len(good)
    # holdings of each run in time order: by block entry, then segment
    key = pb[:, block_of] * (H + 1) + seg[None, :]
    order = np.argsort(key, axis=1, kind="stable")
    hb = block_of[order]
    entry = pb[np.arange(R)[:, None], hb] + off_entry[order]
    exit_ = pb[np.arange(R)[:, None], hb] + off_exit[order]
    exit_ = np.where(exit_ >= v_end, -1, exit_)  # a held-to-end block placed at the end stays so
    return PlaceboSchedules(entry, exit_, w0[order], cont0[order], n, n - R, seed, tries)


@dataclass
class PlaceboResult:
    """Placebo distribution of total returns and where the strategy falls in it.

    * ``totals``: total return (fraction) of each placed placebo run (``n`` of them);
    * ``actual_total``: the strategy's total return (fraction);
    * ``p``: ``k / n``, the share of placebo runs with total >= actual (ties
      within :data:`TIE_TOL` count as >=); ``p_conservative``: ``(k + 1) / (n + 1)``,
      the usual Monte Carlo p-value that counts the strategy as one of the runs;
    * ``percentile``: percent of placebo runs strictly below the actual (so
      ``percentile + 100 p = 100`` without ties);
    * ``mean``, ``median``: of ``totals`` (fractions); ``n_requested``,
      ``n_skipped`` (could not be placed), ``seed``, ``tries``.
    """

    totals: np.ndarray
    actual_total: float
    n: int
    n_requested: int
    n_skipped: int
    seed: int
    p: float
    p_conservative: float
    percentile: float
    mean: float
    median: float
    tries: int = 0
    settings: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """The summary.json keys: ``placebo_p`` (share k/n) and ``placebo_n``."""
        return {"placebo_p": self.p, "placebo_n": self.n}

    def to_dict(self) -> dict:
        """Every scalar (JSON-ready), without the array of totals."""
        q = np.quantile(self.totals, [0.05, 0.95]) if self.n else [np.nan, np.nan]
        return {"placebo_p": self.p, "placebo_p_conservative": self.p_conservative, "placebo_n": self.n,
                "n_requested": self.n_requested, "n_skipped": self.n_skipped, "seed": self.seed, "tries": self.tries,
                "actual_total_return": self.actual_total, "actual_percentile": self.percentile,
                "placebo_mean": self.mean, "placebo_median": self.median, "placebo_q05": float(q[0]), "placebo_q95": float(q[1]),
                **self.settings}


def placebo_result(totals: np.ndarray, actual_total: float, *, n_requested: int, seed: int, tries: int = 0,
                   settings: dict | None = None) -> PlaceboResult:
    """Statistics of a placebo distribution ``totals`` against ``actual_total`` (see :class:`PlaceboResult`)."""
    t = np.asarray(totals, dtype=float)
    n = len(t)
    k = int((t >= actual_total - TIE_TOL).sum())
    below = int((t < actual_total - TIE_TOL).sum())
    nan = float("nan")
    return PlaceboResult(t, float(actual_total), n, int(n_requested), int(n_requested) - n, int(seed),
                         k / n if n else nan, (k + 1) / (n + 1), 100.0 * below / n if n else nan,
                         float(t.mean()) if n else nan, float(np.median(t)) if n else nan, tries, dict(settings or {}))


def placebo_test(holdings: Sequence[Holding], prices: PriceArrays, cfg: ExecConfig, near_event: np.ndarray, *,
                 n: int = DEFAULT_N, seed: int = DEFAULT_SEED, actual_total: float | None = None,
                 max_tries: int = DEFAULT_MAX_TRIES, reweigh=None) -> PlaceboResult:
    """Place ``holdings`` at random sessions away from ``near_event`` ``n`` times
    (:func:`sample_schedules`), execute every placebo run with ``cfg``'s costs
    (:func:`backtests.engines.arrays.execute_batch`), and compare with the strategy.

    ``actual_total``: the strategy's total return (fraction), e.g. the
    Backtrader run's; default: ``holdings`` executed by the same executor.
    ``reweigh``: optional ``f(entry (R, H), weights (R, H, K)) -> weights``
    applied to the placed schedules, for hedge rules that depend on the entry
    session (a beta hedge estimated on data before each placebo entry).
    """
    sched = sample_schedules(holdings, prices.n, near_event, prices.tickers, n=n, seed=seed, fill=cfg.fill, max_tries=max_tries)
    if reweigh is not None and len(sched.entry):
        sched = dataclasses.replace(sched, weights=reweigh(sched.entry, np.array(sched.weights)))
    if actual_total is None:
        e, x, w, c = holding_arrays(holdings, prices.tickers)
        actual_total = float(execute_batch(e[None], x[None], w[None], c[None], prices, cfg).total_return[0])
    if len(sched.entry):
        totals = execute_batch(sched.entry, sched.exit, sched.weights, sched.continues, prices, cfg, check=False).total_return
    else:
        totals = np.zeros(0)
    settings = {"near_event_sessions": int(np.asarray(near_event, dtype=bool).sum()), "n_holdings": len(holdings),
                "n_sessions": prices.n, "max_tries": max_tries}
    return placebo_result(totals, actual_total, n_requested=n, seed=seed, tries=sched.tries, settings=settings)
