"""Do two runs of the same config agree? The fast engine's contract with Backtrader, as a checking function.

:func:`compare_runs` takes two :class:`backtests.runner.RunResult` of one config (any two engines) and lists
every disagreement, each naming the first differing session (or trade, or key) with both values:

* the trade list: the same fills (fill session, ticker, episode, and size, price and commission each within
  :data:`FILL_RTOL` relative);
* final equity within :data:`~backtests.engines.fast_engine.FINAL_RTOL` relative;
* daily strategy returns within :data:`~backtests.engines.fast_engine.RETURNS_ATOL` absolute;
* summary.json: text keys equal, numbers within ``SUMMARY_ATOL + SUMMARY_RTOL * |reference|`` (NaN equals NaN);
* trades.csv's ``traded_notional`` within :data:`FILL_RTOL` relative; exposure.csv's ``long``, ``short`` and
  ``beta_net`` within :data:`EXPOSURE_ATOL` absolute (NaN equals NaN).

:func:`compare_summaries` and :func:`compare_returns` are the pieces a sweep uses when it re-runs its best
combinations on Backtrader.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from backtests.engines.fast_engine import FINAL_RTOL, RETURNS_ATOL, SUMMARY_ATOL, SUMMARY_RTOL

#: relative tolerance of a fill's size, price and commission (sizes are shares = weight * value / close)
FILL_RTOL = 1e-9
#: absolute tolerance of the exposure weights (fractions of portfolio value: shares within FILL_RTOL times price / value)
EXPOSURE_ATOL = 1e-9


def _num_differs(a, b, rtol: float, atol: float) -> bool:
    if a is None or b is None:
        return (a is None) != (b is None)
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) != math.isnan(b)
    return abs(a - b) > atol + rtol * abs(b)


def compare_summaries(ref: dict, other: dict, keys=None, *, rtol: float = SUMMARY_RTOL, atol: float = SUMMARY_ATOL,
                      names=("backtrader", "fast")) -> list[str]:
    """Disagreements between two summary.json mappings (``ref`` is the reference), one line per key."""
    out = []
    for k in keys or ref:
        a, b = ref.get(k), other.get(k)
        if isinstance(a, str) or isinstance(b, str):
            if a != b:
                out.append(f"summary {k}: {names[0]} {a!r}, {names[1]} {b!r}")
        elif _num_differs(b, a, rtol, atol):
            out.append(f"summary {k}: {names[0]} {a!r}, {names[1]} {b!r} (difference {abs(float(a) - float(b)):.3g})")
    return out


def compare_returns(ref: pd.Series, other: pd.Series, *, atol: float = RETURNS_ATOL, names=("backtrader", "fast")) -> list[str]:
    """The first session whose daily returns differ by more than ``atol`` (and how many do), or nothing."""
    a, b = pd.Series(ref, dtype=float), pd.Series(other, dtype=float)
    if not a.index.equals(b.index):
        return [f"daily returns on different sessions: {names[0]} {len(a)} from {a.index[0].date() if len(a) else '-'}, "
                f"{names[1]} {len(b)} from {b.index[0].date() if len(b) else '-'}"]
    d = (a - b).abs().to_numpy()
    bad = np.flatnonzero((d > atol) | (np.isnan(a.to_numpy()) != np.isnan(b.to_numpy())))
    if not len(bad):
        return []
    i = bad[0]
    return [f"daily return on {a.index[i].date()} (first of {len(bad)} differing sessions): {names[0]} {a.iloc[i]!r}, "
            f"{names[1]} {b.iloc[i]!r} (difference {d[i]:.3g}, tolerance {atol:g})"]


def compare_fills(ref: pd.DataFrame, other: pd.DataFrame, *, rtol: float = FILL_RTOL, names=("backtrader", "fast")) -> list[str]:
    """The first fill that differs (in fill-session order), or nothing: same count, sessions, tickers,
    episodes; size, price and commission within ``rtol`` relative."""
    keys = ["date", "ticker", "episode"]

    def norm(f):
        f = f.copy()
        f["date"] = pd.to_datetime(f["date"])
        f["buy"] = f["size"] > 0
        return f.sort_values(keys + ["buy"], kind="stable").reset_index(drop=True)

    a, b = norm(ref), norm(other)
    if len(a) != len(b):
        first = None
        sa, sb = set(map(tuple, a[keys].astype(str).to_numpy())), set(map(tuple, b[keys].astype(str).to_numpy()))
        only = sorted(sa ^ sb)
        if only:
            first = only[0]
        return [f"{names[0]} made {len(a)} fills, {names[1]} {len(b)}" + (f"; first fill in one only: {first}" if first else "")]
    for i in range(len(a)):
        ra, rb = a.iloc[i], b.iloc[i]
        for k in keys:
            if ra[k] != rb[k]:
                return [f"fill {i + 1}: {k} {names[0]} {ra[k]!r}, {names[1]} {rb[k]!r}"]
        for k in ("size", "price", "commission"):
            if _num_differs(rb[k], ra[k], rtol, 1e-9):
                return [f"fill {i + 1} ({ra['date'].date()} {ra['ticker']}, episode {ra['episode']}): {k} {names[0]} {ra[k]!r}, {names[1]} {rb[k]!r}"]
    return []


def compare_columns(ref: pd.DataFrame, other: pd.DataFrame, columns, what: str, *, rtol: float = 0.0, atol: float = 0.0,
                    names=("backtrader", "fast")) -> list[str]:
    """The first row (by position) where each of ``columns`` differs by more than ``atol + rtol * |reference|``
    (NaN equals NaN), one line per column; ``what`` names the table (``trades``, ``exposure``)."""
    if len(ref) != len(other):
        return [f"{what}: {names[0]} has {len(ref)} rows, {names[1]} {len(other)}"]
    out = []
    for c in columns:
        a, b = ref[c].to_numpy(dtype=float), other[c].to_numpy(dtype=float)
        bad = [i for i in range(len(a)) if _num_differs(b[i], a[i], rtol, atol)]
        if bad:
            i = bad[0]
            out.append(f"{what} {c}, row {i + 1} ({ref.index[i]}; first of {len(bad)}): {names[0]} {a[i]!r}, {names[1]} {b[i]!r}")
    return out


def final_value(res) -> float:
    """Final portfolio value (USD) of a run, as its engine's broker reports it (Backtrader's ``getvalue()``, the
    fast engine's cash plus positions at the last close)."""
    return float(res.final_value)


def compare_runs(ref, other, *, names=("backtrader", "fast")) -> list[str]:
    """Every disagreement between two runs of one config (see the module docstring); empty when they agree."""
    out = compare_fills(ref.fills, other.fills, names=names)
    va, vb = final_value(ref), final_value(other)
    if _num_differs(vb, va, FINAL_RTOL, 0.0):
        out.append(f"final equity: {names[0]} {va!r}, {names[1]} {vb!r} (relative difference {abs(va - vb) / abs(va):.3g})")
    out += compare_returns(ref.returns["strategy"], other.returns["strategy"], names=names)
    out += compare_summaries(ref.summary, other.summary, names=names)
    out += compare_columns(ref.trades, other.trades, ["traded_notional"], "trades", rtol=FILL_RTOL, names=names)
    out += compare_columns(ref.exposure, other.exposure, ["long", "short", "beta_net"], "exposure", atol=EXPOSURE_ATOL, names=names)
    return out
