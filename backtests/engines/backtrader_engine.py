"""Wiring a simulation on Backtrader: feeds, broker costs, analyzers, and the frames that come out.

:func:`simulate` runs one strategy class on total-return OHLC frames and
returns what the broker did (fills, daily returns, exposure). It checks that
the strategy's own record of fills agrees with Backtrader's Transactions
analyzer, and raises if not.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from strategies.btcompat import bt
from strategies.feeds import ArrayFeed


@dataclass
class SimResult:
    returns: pd.Series  # daily strategy returns (TimeReturn), indexed by session
    fills: pd.DataFrame
    borrow: pd.DataFrame
    exposure: pd.DataFrame  # date; gross and net (long - short) value / portfolio value at that close; episode in force;
    # net_held: net weight of the book that earns that session, valued at the previous close over the previous value
    final_value: float
    trade_analysis: dict


class PercentCommission(bt.CommInfoBase):
    """Stock-like commission: ``bps`` of traded notional per side."""

    params = (("stocklike", True), ("commtype", bt.CommInfoBase.COMM_PERC), ("percabs", True))


def simulate(strategy_cls, targets: pd.DataFrame, frames: dict[str, pd.DataFrame], *, cash: float, commission_bps: float,
             slippage_bps: float, borrow_bps: float, fill: str = "open", fractional: bool = True, feed: str = "array") -> SimResult:
    """Run ``strategy_cls`` executing ``targets`` over ``frames`` (ticker -> total-return OHLCV on the same sessions)."""
    cerebro = bt.Cerebro(stdstats=False, preload=True, runonce=True, quicknotify=False)
    for name, f in frames.items():
        if feed == "array":
            data = ArrayFeed(frame=f)
        else:
            data = bt.feeds.PandasData(dataname=f, openinterest=None)
        cerebro.adddata(data, name=name)
    broker = cerebro.broker
    broker.setcash(cash)
    broker.set_checksubmit(False)
    broker.set_shortcash(True)
    if slippage_bps:
        # charged in full: slip_out=True lets the slipped price leave the bar's high/low range. With
        # slip_out=False Backtrader caps a buy at the high and a sell at the low, so a fill at an open that
        # is the day's extreme paid less than the configured slippage (and with close fills the cap was the
        # *next* session's high/low, a peek at the future). Every fill is reference x (1 +/- slippage).
        broker.set_slippage_perc(slippage_bps / 1e4, slip_open=True, slip_limit=True, slip_match=True, slip_out=True)
    broker.addcommissioninfo(PercentCommission(commission=commission_bps / 1e4))
    cerebro.addstrategy(strategy_cls, targets=targets, fill=fill, borrow_bps=borrow_bps, fractional=fractional)
    cerebro.addanalyzer(bt.analyzers.TimeReturn, _name="timereturn", timeframe=bt.TimeFrame.Days)
    cerebro.addanalyzer(bt.analyzers.Transactions, _name="transactions")
    cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="trades")
    strat = cerebro.run()[0]
    tr = strat.analyzers.timereturn.get_analysis()
    rets = pd.Series({pd.Timestamp(k.date()): v for k, v in tr.items()}, dtype=float).sort_index()
    fills = pd.DataFrame(strat.fills, columns=["date", "notified", "ticker", "size", "price", "value", "commission", "episode"])
    check_fills_agree(fills, strat.analyzers.transactions.get_analysis())
    borrow = pd.DataFrame(strat.borrow, columns=["date", "episode", "cost"])
    exposure = pd.DataFrame(strat.exposure, columns=["date", "exposure", "net", "episode"]).set_index("date")
    held = pd.DataFrame(strat.net_held, columns=["date", "net_held"]).set_index("date")["net_held"]
    exposure = exposure.join(held, how="outer")
    return SimResult(rets, fills, borrow, exposure, broker.getvalue(), dict(strat.analyzers.trades.get_analysis()))


def check_fills_agree(fills: pd.DataFrame, transactions: dict) -> None:
    """The strategy's fills must be exactly the broker's transactions (per day, ticker: size and value).

    Backtrader's Transactions analyzer dates a fill by the bar on which it was
    notified, so the comparison uses the strategy's ``notified`` column.
    """
    if not len(fills) and not any(transactions.values()):
        return  # nothing traded, nothing to compare
    rows = []
    for day, txs in transactions.items():
        for size, price, sid, name, value in txs:
            rows.append((pd.Timestamp(day.date()), name, size, -value))
    tx = pd.DataFrame(rows, columns=["date", "ticker", "size", "value"]).groupby(["date", "ticker"]).sum().sort_index()
    mine = fills.groupby(["notified", "ticker"])[["size", "value"]].sum().sort_index() if len(fills) else tx.iloc[0:0]
    if len(tx) != len(mine) or not np.allclose(tx.to_numpy(), mine.to_numpy(), rtol=1e-9, atol=1e-6):
        raise RuntimeError(f"strategy fills disagree with the broker's transactions ({len(mine)} vs {len(tx)} day-ticker groups)")


def check_trades_agree(trades: pd.DataFrame, fills: pd.DataFrame, trade_analysis: dict) -> None:
    """The closed episodes' P&L must be what Backtrader's TradeAnalyzer saw.

    An episode is closed when every leg's fills net to zero shares; each such
    leg is a closed Backtrader trade, so the gross P&L of those episodes adds
    up to the analyzer's gross total, and gross minus commission to its net
    total (USD).
    """
    net_size = fills.groupby(["episode", "ticker"])["size"].sum().abs() if len(fills) else pd.Series(dtype=float)
    open_eps = set(net_size[net_size > 1e-9].index.get_level_values("episode")) if len(net_size) else set()
    closed = trades[~trades["episode"].isin(open_eps)] if len(trades) else trades
    pnl = trade_analysis.get("pnl", {})
    gross = float(pnl.get("gross", {}).get("total", 0.0))
    net = float(pnl.get("net", {}).get("total", 0.0))
    mine_gross = float(closed["pnl_gross"].sum()) if len(closed) else 0.0
    mine_net = float((closed["pnl_gross"] - closed["commission"]).sum()) if len(closed) else 0.0
    if not (np.isclose(mine_gross, gross, rtol=1e-9, atol=1e-6) and np.isclose(mine_net, net, rtol=1e-9, atol=1e-6)):
        raise RuntimeError(f"closed episodes' P&L (gross {mine_gross:.6f}, net {mine_net:.6f}) disagrees with the broker's trades "
                           f"(gross {gross:.6f}, net {net:.6f})")
