"""Round-trip (per trade) statistics, in the spirit of pyfolio's round-trip tables.

Pure functions of trades.csv (one row per episode: a round trip of every leg).
Nothing here draws or writes files.

Definitions (one row of trades.csv = one trade):

* ``excess``: ``side * excess_return``, the target's return minus the hedge
  basket's over the traded window (entry fill to exit fill, reference prices),
  signed by the side traded, so a long-target/short-basket trade that was
  right is positive. Gross of all costs (commission, slippage, borrow). A
  fraction. NaN where the run had no hedge basket. It is a spread return (a
  dollar long against a dollar short); a trade with half its gross notional on
  each side (``long_share: 0.5``) earns about half of it on that notional.
* ``net``: ``return_on_gross`` = ``pnl_net / gross_notional``: the trade's P&L
  after commission, slippage and borrow per USD of gross notional at entry. A
  fraction.
* ``pnl_net``: USD after all costs; ``sessions_held``: sessions from the entry
  fill to the exit fill.
* A *win* is a trade with ``net > 0`` (equivalently ``pnl_net > 0``), a *loss*
  one with ``net < 0``; a trade of exactly 0 is neither (pyfolio's convention).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: the per-trade quantities summarised by :func:`trade_summary`
QUANTITIES = ("excess", "net", "pnl_net", "sessions_held")


def trade_frame(trades: pd.DataFrame) -> pd.DataFrame:
    """Per trade: ``episode, event_ids, side, entry, exit, sessions_held, excess,
    net, pnl_net, pnl_gross`` (definitions in the module docstring).

    ``trades``: trades.csv as read (columns ``side``, ``excess_return``,
    ``return_on_gross``, ``pnl_net`` and the identifiers above are required).
    """
    cols = ["episode", "event_ids", "side", "entry", "exit", "sessions_held", "excess", "net", "pnl_net", "pnl_gross"]
    if trades is None or not len(trades):
        return pd.DataFrame({c: pd.Series(dtype=float) for c in cols})
    side = pd.to_numeric(trades["side"], errors="coerce").astype(float)
    return pd.DataFrame({
        "episode": trades["episode"].to_numpy(),
        "event_ids": trades["event_ids"].astype(object).fillna("").astype(str).to_numpy(),
        "side": side.to_numpy(),
        "entry": trades["entry"].astype(str).to_numpy(),
        "exit": trades["exit"].astype(str).to_numpy(),
        "sessions_held": pd.to_numeric(trades["sessions_held"], errors="coerce").astype(float).to_numpy(),
        "excess": (side * pd.to_numeric(trades["excess_return"], errors="coerce").astype(float)).to_numpy(),
        "net": pd.to_numeric(trades["return_on_gross"], errors="coerce").astype(float).to_numpy(),
        "pnl_net": pd.to_numeric(trades["pnl_net"], errors="coerce").astype(float).to_numpy(),
        "pnl_gross": pd.to_numeric(trades["pnl_gross"], errors="coerce").astype(float).to_numpy(),
    })


def mean_t_test(x) -> tuple[float, float]:
    """One-sample t-test of mean(x) = 0: ``(t, two-sided p)`` with the sample
    standard deviation (ddof=1), via :func:`scipy.stats.ttest_1samp`.

    NaNs are dropped. ``(nan, nan)`` for fewer than 2 values or when every
    value is the same (zero spread: the t-statistic is undefined).
    """
    a = np.asarray(x, dtype=float)
    a = a[np.isfinite(a)]
    if len(a) < 2 or np.ptp(a) == 0:
        return float("nan"), float("nan")
    from scipy import stats

    res = stats.ttest_1samp(a, 0.0)
    return float(res.statistic), float(res.pvalue)


def bootstrap_mean_ci(x, seed: int = 0, reps: int = 10_000, size: float = 0.95, method: str = "bca") -> tuple[float, float]:
    """Bootstrap confidence interval of the mean of ``x`` (i.i.d. resampling of
    trades), with :class:`arch.bootstrap.IIDBootstrap` seeded by ``seed``.

    ``method``: ``"bca"`` (bias-corrected and accelerated, the default: it
    corrects for the skew of trade returns) or ``"percentile"``; ``size``: the
    two-sided coverage (0.95 = 95%). NaNs are dropped. ``(nan, nan)`` for fewer
    than 2 values; ``(c, c)`` when every value equals ``c`` (every resample has
    mean ``c``).
    """
    a = np.asarray(x, dtype=float)
    a = a[np.isfinite(a)]
    if len(a) < 2:
        return float("nan"), float("nan")
    if np.ptp(a) == 0:
        return float(a[0]), float(a[0])
    from arch.bootstrap import IIDBootstrap  # imported when used, as statsmodels in performance.py

    ci = IIDBootstrap(a, seed=seed).conf_int(np.mean, reps=reps, method=method, size=size)
    return float(ci[0, 0]), float(ci[1, 0])


def trade_summary(trades: pd.DataFrame, seed: int = 0, reps: int = 10_000, method: str = "bca") -> pd.DataFrame:
    """Mean, median, t-test and bootstrap CI of each per-trade quantity.

    One row per quantity of :data:`QUANTITIES` (``excess``, ``net``: fractions;
    ``pnl_net``: USD; ``sessions_held``: sessions), columns ``n, mean, median,
    t, p`` (one-sample t-test of mean = 0, ddof=1, two-sided; see
    :func:`mean_t_test`) and ``ci_low, ci_high`` (:func:`bootstrap_mean_ci`,
    95%, ``method`` BCa by default, ``reps`` resamples, seeded). The t-test of
    ``sessions_held`` is left NaN (a holding time is never 0 on average: no
    test is meant). With no trades every value is NaN and ``n`` is 0.
    """
    tf = trade_frame(trades)
    rows = []
    for q in QUANTITIES:
        a = tf[q].to_numpy(dtype=float)
        a = a[np.isfinite(a)]
        t, p = mean_t_test(a) if q != "sessions_held" else (float("nan"), float("nan"))
        lo, hi = bootstrap_mean_ci(a, seed=seed, reps=reps, method=method)
        rows.append({"quantity": q, "n": int(len(a)), "mean": float(np.mean(a)) if len(a) else float("nan"),
                     "median": float(np.median(a)) if len(a) else float("nan"), "t": t, "p": p, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows).set_index("quantity")


def win_loss_stats(trades: pd.DataFrame) -> dict:
    """Hit rate, payoff ratio, profit factor, average win and loss, holding time.

    * ``n_trades``, ``n_wins`` (``pnl_net > 0``), ``n_losses`` (``pnl_net < 0``);
    * ``hit_rate``: ``n_wins / n_trades`` (share of trades with net > 0; the
      same as summary.json's ``hit_rate``); NaN with no trades;
    * ``avg_win`` / ``avg_loss``: mean ``pnl_net`` (USD) of the wins / of the
      losses (the loss is negative); NaN when there is none;
    * ``payoff_ratio``: ``avg_win / |avg_loss|`` (pyfolio's "ratio average
      win : average loss"); ``inf`` with wins and no loss, NaN without wins;
    * ``profit_factor``: gross profit / gross loss in USD, ``sum(pnl_net > 0) /
      |sum(pnl_net < 0)|`` (pyfolio's definition); ``inf`` with profits and no
      loss, NaN with neither, 0 with losses only;
    * ``avg_win_net`` / ``avg_loss_net``: the same means of ``net`` (fractions);
    * ``avg_sessions_held`` / ``median_sessions_held``: holding time in sessions.
    """
    tf = trade_frame(trades)
    pnl = tf["pnl_net"].dropna()
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    nan = float("nan")
    avg_win = float(wins.mean()) if len(wins) else nan
    avg_loss = float(losses.mean()) if len(losses) else nan
    if not len(wins):
        payoff = nan
    elif not len(losses):
        payoff = math.inf
    else:
        payoff = avg_win / abs(avg_loss)
    gp, gl = float(wins.sum()), float(-losses.sum())
    profit_factor = gp / gl if gl > 0 else (math.inf if gp > 0 else nan)
    net = tf["net"]
    held = tf["sessions_held"].dropna()
    return {
        "n_trades": int(len(tf)), "n_wins": int(len(wins)), "n_losses": int(len(losses)),
        "hit_rate": float(len(wins) / len(pnl)) if len(pnl) else nan,
        "avg_win": avg_win, "avg_loss": avg_loss, "payoff_ratio": float(payoff), "profit_factor": float(profit_factor),
        "gross_profit": gp, "gross_loss": gl,
        "avg_win_net": float(net[net > 0].mean()) if (net > 0).any() else nan,
        "avg_loss_net": float(net[net < 0].mean()) if (net < 0).any() else nan,
        "avg_sessions_held": float(held.mean()) if len(held) else nan,
        "median_sessions_held": float(held.median()) if len(held) else nan,
    }


def best_worst_trades(trades: pd.DataFrame, n: int = 5, by: str = "pnl_net") -> pd.DataFrame:
    """The ``n`` best and ``n`` worst trades by ``by`` (``pnl_net`` in USD by
    default; ``net`` or ``excess`` also work), largest first: the best in
    descending order, then the worst from the largest loss up. Columns:
    ``kind`` (best / worst), ``rank`` (1 = largest), then :func:`trade_frame`'s
    columns. With fewer than ``2 n`` trades a trade can be listed under both
    only if it is both among the top and the bottom ``n`` (e.g. a single trade).
    """
    tf = trade_frame(trades).dropna(subset=[by])
    best = tf.sort_values(by, ascending=False, kind="mergesort").head(n)
    worst = tf.sort_values(by, ascending=True, kind="mergesort").head(n)
    parts = []
    for kind, part in (("best", best), ("worst", worst)):
        part = part.copy()
        part.insert(0, "rank", np.arange(1, len(part) + 1))
        part.insert(0, "kind", kind)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)
