"""Slippage is charged in full on real runs (issue 9): every fill is its
reference price (the open, or the close with close fills) times (1 + slippage)
for a buy and (1 - slippage) for a sell, never capped at the bar's high or
low (exactly, up to the last bits of float rounding), so trades.csv's slippage column is exactly slippage_bps / 1e4 of the
traded notional at the reference price."""
from __future__ import annotations

import numpy as np
import pytest

from backtests.config import bundled_config, load_config
from backtests.market.marketdata import load_prices
from backtests.runner import run


def _check(res):
    f = res.fills
    assert len(f) > 50
    slip = res.config["costs"]["slippage_bps"] / 1e4
    assert slip > 0
    col = res.config["portfolio"]["fill"]
    prices = load_prices(sorted(set(f["ticker"])))
    tr = {t: prices[t].total_return_ohlc() for t in set(f["ticker"])}
    ref = np.array([tr[t].at[d, col] for t, d in zip(f["ticker"], f["date"])])
    want = np.where(f["size"].to_numpy() > 0, ref * (1 + slip), ref * (1 - slip))
    # exact up to float rounding (Backtrader averages the executed price of an order, which can move the last bit)
    wrong = f[~np.isclose(f["price"].to_numpy(), want, rtol=1e-13, atol=0)]
    assert wrong.empty, f"{len(wrong)} of {len(f)} fills not charged the full slippage:\n{wrong.head()}"
    # trades.csv: |fill - reference| x size, per episode, is slippage x notional at the reference price
    notional = (f["size"].abs() * ref).groupby(f["episode"].to_numpy()).sum()
    t = res.trades.set_index("episode")
    assert t["slippage"].to_numpy() == pytest.approx(slip * notional.loc[t.index].to_numpy(), rel=1e-9)
    assert t["slippage"].sum() == pytest.approx(slip * float((f["size"].abs() * ref).sum()), rel=1e-9)


def test_every_fill_pays_the_full_slippage_earnings_only():
    _check(run(bundled_config("earnings_only")))


def test_every_fill_pays_the_full_slippage_with_close_fills():
    cfg = load_config(bundled_config("earnings_only"))
    cfg["portfolio"]["fill"] = "close"
    cfg["strategy"]["params"]["entry_offset"] = 0
    res = run(cfg)
    assert res.config["portfolio"]["fill"] == "close"
    _check(res)
