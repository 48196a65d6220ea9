"""Trading costs: gross against net P&L, cost totals, cost per traded dollar,
the break-even cost, and the cost-sensitivity curve's zero crossing.

Pure functions of trades.csv and cost_sensitivity.csv. Nothing here draws or
writes files. Money is USD; rates are basis points (1 bp = 1e-4).

How the engines charge costs (backtests/engines/arrays.py, kernel.py), and so
what trades.csv's columns hold:

* slippage: every fill is at the reference price (the open, or the close
  with close fills) times ``1 + slippage_bps / 1e4`` for a buy, ``1 -
  slippage_bps / 1e4`` for a sell; trades.csv's ``slippage`` is the USD cost of
  that, ``sum |shares| * |fill price - reference price|``;
* commission: ``commission_bps / 1e4`` of ``|shares| * fill price`` per fill;
* borrow: ``|short value| * borrow_bps / 1e4 / 365`` for every night a short
  leg is held.
* ``pnl_gross`` is the cash flow of the fills (at the *slipped* fill prices)
  plus the mark of what is still held: it is already **after slippage** and
  before commission and borrow; ``pnl_net = pnl_gross - commission - borrow``.
  The P&L before any cost is therefore ``pnl_gross + slippage``
  (``pnl_before_costs`` below).
* ``traded_notional`` (when trades.csv has it): ``sum |shares| * fill price``
  over every fill of the episode (both legs; entry, rebalances, exit). Older
  run directories lack it; then every rate per traded dollar is NaN, and the
  ``notes`` say so.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

SENSITIVITY_COLUMNS = ("slippage_bps", "total_return", "excess_total_return", "sharpe", "pnl_net")

NO_NOTIONAL = "trades.csv has no traded_notional column (a run written before it existed): rates per traded dollar and the break-even cost are not computed"


def _num(trades: pd.DataFrame, col: str) -> pd.Series:
    return pd.to_numeric(trades[col], errors="coerce").astype(float) if col in trades.columns else pd.Series(np.nan, index=trades.index)


def has_traded_notional(trades: pd.DataFrame) -> bool:
    """True when trades.csv carries ``traded_notional`` with a value on every row."""
    return "traded_notional" in trades.columns and bool(pd.to_numeric(trades["traded_notional"], errors="coerce").notna().all())


def costs_by_trade(trades: pd.DataFrame) -> pd.DataFrame:
    """Per trade: ``episode, event_ids, pnl_before_costs`` (``pnl_gross +
    slippage``), ``commission, slippage, borrow, total_cost`` (their sum),
    ``pnl_gross`` (after slippage), ``pnl_net`` (USD), ``traded_notional``
    (USD, NaN when absent) and ``cost_bps`` (``total_cost / traded_notional *
    1e4``; NaN without traded notional)."""
    if trades is None or not len(trades):
        cols = ["episode", "event_ids", "pnl_before_costs", "commission", "slippage", "borrow", "total_cost", "pnl_gross", "pnl_net", "traded_notional", "cost_bps"]
        return pd.DataFrame({c: pd.Series(dtype=float) for c in cols})
    comm, slip, borrow = _num(trades, "commission"), _num(trades, "slippage"), _num(trades, "borrow")
    gross, net, tn = _num(trades, "pnl_gross"), _num(trades, "pnl_net"), _num(trades, "traded_notional")
    total = comm + slip + borrow
    return pd.DataFrame({
        "episode": trades["episode"], "event_ids": trades["event_ids"].astype(object).fillna("").astype(str),
        "pnl_before_costs": gross + slip, "commission": comm, "slippage": slip, "borrow": borrow, "total_cost": total,
        "pnl_gross": gross, "pnl_net": net, "traded_notional": tn, "cost_bps": total / tn.where(tn > 0) * 1e4,
    }).reset_index(drop=True)


def cost_summary(trades: pd.DataFrame) -> dict:
    """Totals and per-trade means of the costs, and what they come to per traded dollar.

    Keys (USD unless said): ``n_trades``; ``pnl_before_costs`` (``pnl_gross +
    slippage``), ``pnl_gross`` (trades.csv's: after slippage, before
    commission and borrow), ``pnl_net``; ``commission``, ``slippage``,
    ``borrow``, ``total_cost`` (sums) and the same with ``_per_trade`` (means
    over trades); ``traded_notional``; ``commission_bps``, ``slippage_bps``,
    ``borrow_bps``, ``total_cost_bps`` (each total over the traded notional,
    times 1e4: the cost rates as realised, per side); ``break_even_bps`` (see
    below) and ``notes`` (a list of strings).

    **Break-even cost per side**, in bps: the commission + slippage rate per
    side (per dollar traded) at which the total net P&L would be zero::

        break_even_bps = (pnl_before_costs - borrow) / traded_notional * 1e4

    An approximation that holds the trades' sizes and prices fixed (in a real
    re-simulation, costs change the equity and so the next sizes, and
    slippage moves the fill prices that commission is charged on); borrow is
    kept as charged. Negative means the strategy loses even at zero commission
    and slippage (its borrow and its trades' prices alone lose money). NaN, with
    a note, when trades.csv has no ``traded_notional`` or no trade traded.
    """
    nan = float("nan")
    bt = costs_by_trade(trades)
    n = int(len(bt))
    out: dict = {"n_trades": n}
    for c in ("pnl_before_costs", "pnl_gross", "pnl_net", "commission", "slippage", "borrow", "total_cost"):
        out[c] = float(bt[c].sum()) if n else 0.0
    for c in ("commission", "slippage", "borrow", "total_cost"):
        out[c + "_per_trade"] = float(bt[c].mean()) if n else nan
    notes = []
    tn = float(bt["traded_notional"].sum()) if n and has_traded_notional(trades) else nan
    if n and not has_traded_notional(trades):
        notes.append(NO_NOTIONAL)
    if not n:
        notes.append("no trades: nothing was traded, so there are no costs to measure")
    out["traded_notional"] = tn
    ok = np.isfinite(tn) and tn > 0
    for c in ("commission", "slippage", "borrow", "total_cost"):
        out[c + "_bps"] = out[c] / tn * 1e4 if ok else nan
    out["break_even_bps"] = (out["pnl_before_costs"] - out["borrow"]) / tn * 1e4 if ok else nan
    if ok and out["break_even_bps"] < 0:
        notes.append("break-even cost is negative: the trades lose money even with no commission or slippage")
    out["notes"] = notes
    return out


def tidy_cost_sensitivity(frame: pd.DataFrame) -> pd.DataFrame:
    """cost_sensitivity.csv (exact re-simulations of the same trades at each
    slippage per side) with numeric columns :data:`SENSITIVITY_COLUMNS`, sorted
    by ``slippage_bps``, rows without a slippage dropped. ``slippage_bps`` is
    bps per side; returns are fractions; ``sharpe`` annualised; ``pnl_net``
    USD. A missing column raises ``ValueError`` naming it."""
    missing = [c for c in SENSITIVITY_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"cost sensitivity frame lacks column(s) {', '.join(missing)}; expected {', '.join(SENSITIVITY_COLUMNS)}")
    out = pd.DataFrame({c: pd.to_numeric(frame[c], errors="coerce").astype(float) for c in SENSITIVITY_COLUMNS})
    out = out.dropna(subset=["slippage_bps"]).sort_values("slippage_bps", kind="mergesort").reset_index(drop=True)
    return out


def zero_crossing(x, y) -> dict:
    """Where the piecewise-linear curve through the points ``(x_i, y_i)``
    (``x`` increasing) first reaches zero: ``{"x": value, "status": ...}``.

    ``status``: ``"crosses"`` (``x`` linearly interpolated between the two
    points around the first sign change, or the first point where ``y`` is
    exactly 0); ``"negative throughout"`` (below zero at every point: ``x`` is
    NaN; for a result against cost, it loses even at the lowest cost tried);
    ``"positive throughout"`` (above zero at every point: the break-even lies
    beyond the range; ``x`` NaN); ``"no data"``. Points with a NaN are skipped.
    """
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[ok], ys[ok]
    if not len(xs):
        return {"x": float("nan"), "status": "no data"}
    for i in range(len(xs)):
        if ys[i] == 0:
            return {"x": float(xs[i]), "status": "crosses"}
        if i + 1 < len(xs) and ys[i] * ys[i + 1] < 0:
            x0, x1, y0, y1 = xs[i], xs[i + 1], ys[i], ys[i + 1]
            return {"x": float(x0 - y0 * (x1 - x0) / (y1 - y0)), "status": "crosses"}
    return {"x": float("nan"), "status": "negative throughout" if ys[0] < 0 else "positive throughout"}


def sensitivity_break_even(frame: pd.DataFrame) -> pd.DataFrame:
    """The slippage (bps per side) at which each result of the cost-sensitivity
    curve crosses zero (:func:`zero_crossing` on :func:`tidy_cost_sensitivity`):
    one row per metric ``pnl_net``, ``total_return``, ``excess_total_return``,
    ``sharpe`` with ``slippage_bps`` and ``status``. Exact re-simulations,
    unlike :func:`cost_summary`'s ``break_even_bps``; commission and borrow are
    held at the run's."""
    t = tidy_cost_sensitivity(frame)
    rows = []
    for m in ("pnl_net", "total_return", "excess_total_return", "sharpe"):
        z = zero_crossing(t["slippage_bps"], t[m])
        rows.append({"metric": m, "slippage_bps": z["x"], "status": z["status"]})
    return pd.DataFrame(rows).set_index("metric")
