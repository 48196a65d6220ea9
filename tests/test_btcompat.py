"""The Backtrader workarounds, each on the defect it exists for."""
from __future__ import annotations

import collections

import matplotlib
import numpy as np
import pandas as pd
import pytest

from strategies.btcompat import bt, flatten_columns, pandas_feed


def test_collections_aliases_restored_for_bindlines():
    assert collections.Iterable is collections.abc.Iterable
    # bindlines is the code path that used collections.Iterable
    class Ind(bt.Indicator):
        lines = ("x",)

        def __init__(self):
            self.lines.x = self.data.close * 1.0

    frame = _frame()
    c = bt.Cerebro()
    c.adddata(pandas_feed(frame, "X"))

    class S(bt.Strategy):
        def __init__(self):
            self.i = Ind()
            self.i.bindlines(0)

    c.addstrategy(S)
    c.run()


def test_import_does_not_switch_to_an_interactive_backend():
    assert matplotlib.get_backend().lower() == "agg"


def _frame(n=40, multi=False):
    idx = pd.bdate_range("2024-01-01", periods=n)
    close = np.linspace(100, 120, n)
    df = pd.DataFrame({"Open": close, "High": close + 1, "Low": close - 1, "Close": close, "Adj Close": close, "Volume": 1e6}, index=idx)
    if multi:
        df.columns = pd.MultiIndex.from_product([df.columns, ["AMZN"]], names=["Price", "Ticker"])
    return df


def test_multiindex_frame_feeds_backtrader_and_plot_is_headless(tmp_path):
    with pytest.raises(Exception):
        # the unpatched feed chokes on tuple column names
        c0 = bt.Cerebro()
        c0.adddata(bt.feeds.PandasData(dataname=_frame(multi=True)))
        c0.run()
    c = bt.Cerebro()
    c.adddata(pandas_feed(_frame(multi=True), "AMZN"))
    seen = []

    class S(bt.Strategy):
        def next(self):
            seen.append(self.data.close[0])

    c.addstrategy(S)
    c.run()
    assert len(seen) == 40 and seen[-1] == pytest.approx(120)
    figs = c.plot()
    path = tmp_path / "bt.png"
    figs[0][0].savefig(path)
    assert path.stat().st_size > 1000


def test_flatten_needs_ticker_for_several():
    two = pd.concat([_frame(multi=True), _frame(multi=True).rename(columns={"AMZN": "MSFT"})], axis=1)
    with pytest.raises(ValueError, match="several tickers"):
        flatten_columns(two)
    assert list(flatten_columns(two, "MSFT").columns) == ["open", "high", "low", "close", "adj_close", "volume"]
