"""A Backtrader data feed over preloaded NumPy arrays.

``bt.feeds.PandasData`` reads every bar with pandas ``iloc`` (several calls
per field per bar), which dominates load time for a few thousand daily bars.
:class:`ArrayFeed` converts the frame to arrays once and copies plain floats
per bar. Timestamps are session dates at midnight, as PandasData gives them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from strategies.btcompat import bt

_ORDINAL_1970 = 719163  # date(1970, 1, 1).toordinal()


class ArrayFeed(bt.feed.DataBase):
    """Daily OHLCV bars from a frame indexed by session with open/high/low/close/volume."""

    params = (("frame", None),)

    def start(self):
        super().start()
        f = self.p.frame
        days = pd.DatetimeIndex(f.index).values.astype("datetime64[D]").astype(np.int64)
        self._cols = (
            (days + _ORDINAL_1970).astype(float).tolist(),
            f["open"].to_numpy(float).tolist(),
            f["high"].to_numpy(float).tolist(),
            f["low"].to_numpy(float).tolist(),
            f["close"].to_numpy(float).tolist(),
            f["volume"].to_numpy(float).tolist(),
        )
        self._n = len(f)
        self._i = 0

    def _load(self):
        i = self._i
        if i >= self._n:
            return False
        dt, o, h, lo, c, v = self._cols
        ln = self.lines
        ln.datetime[0] = dt[i]
        ln.open[0] = o[i]
        ln.high[0] = h[i]
        ln.low[0] = lo[i]
        ln.close[0] = c[i]
        ln.volume[0] = v[i]
        ln.openinterest[0] = 0.0
        self._i = i + 1
        return True
