"""The one place where Backtrader 1.9.78 is made to work on current Python stacks.

Import Backtrader as ``from strategies.btcompat import bt`` everywhere in the
project. Three known defects of the unmaintained 1.9.78 release are handled:

1. ``lineiterator.bindlines`` tests ``isinstance(x, collections.Iterable)``,
   an alias removed in Python 3.10. The ``collections.abc`` names are put back
   on ``collections`` before Backtrader is imported.
2. Importing ``backtrader.plot`` calls ``matplotlib.use('TkAgg')``, which
   breaks every later figure on a machine without a display. The call is
   neutralised during the import, and :func:`safe_plot` (installed as
   ``Cerebro.plot``) always renders with the Agg backend into files. The
   project's own tear sheets never use Backtrader's plotting.
3. ``PandasData`` lower-cases column names and so fails on the MultiIndex
   columns that yfinance 1.x returns. :func:`flatten_columns` turns such a
   frame into plain ``open/high/low/close/volume`` columns, and
   :func:`pandas_feed` builds a feed from any such frame.
"""
from __future__ import annotations

import collections
import collections.abc

import matplotlib
import pandas as pd

for _name in ("Iterable", "Mapping", "MutableMapping", "Sequence", "Callable"):
    if not hasattr(collections, _name):
        setattr(collections, _name, getattr(collections.abc, _name))

_real_use = matplotlib.use


def _refuse_interactive_backend(backend, *args, **kwargs):  # pragma: no cover - trivial
    """Stand-in for ``matplotlib.use`` while Backtrader imports its plot module."""
    return None


matplotlib.use = _refuse_interactive_backend
try:
    import backtrader as bt  # noqa: E402
    import backtrader.plot  # noqa: E402,F401  (the module that calls matplotlib.use)
finally:
    matplotlib.use = _real_use

_original_plot = bt.Cerebro.plot


def safe_plot(self, *args, **kwargs):
    """``Cerebro.plot`` that never asks for an interactive backend.

    Forces ``use='Agg'`` and ``iplot=False``; returns the figures, which the
    caller saves with ``fig.savefig``.
    """
    kwargs["use"] = "Agg"
    kwargs["iplot"] = False
    import matplotlib.pyplot as plt

    figs = _original_plot(self, *args, **kwargs)
    plt.close("all")
    return figs


bt.Cerebro.plot = safe_plot

FIELDS = ("open", "high", "low", "close", "volume", "openinterest")


def flatten_columns(frame: pd.DataFrame, ticker: str | None = None) -> pd.DataFrame:
    """Plain lower-case OHLCV columns from a flat or yfinance MultiIndex frame.

    For a ``(Price, Ticker)`` MultiIndex, ``ticker`` selects the ticker (needed
    when there are several). ``Adj Close`` becomes ``adj_close``.
    """
    df = frame
    if isinstance(df.columns, pd.MultiIndex):
        field_level = None
        for i in range(df.columns.nlevels):
            vals = {str(v).lower() for v in df.columns.get_level_values(i)}
            if {"open", "close"} <= vals:
                field_level = i
                break
        if field_level is None:
            raise ValueError("MultiIndex columns have no level with open/close fields")
        other = [i for i in range(df.columns.nlevels) if i != field_level]
        if other:
            keys = df.columns.droplevel(field_level).unique()
            if ticker is None:
                if len(keys) != 1:
                    raise ValueError(f"frame holds several tickers {list(keys)}; pass ticker=")
                ticker = keys[0]
            df = df.xs(ticker, axis=1, level=other[0])
    out = df.copy()
    out.columns = [str(c).strip().lower().replace(" ", "_") for c in out.columns]
    return out


def pandas_feed(frame: pd.DataFrame, name: str, ticker: str | None = None, **kwargs):
    """A ``bt.feeds.PandasData`` from a flat or MultiIndex OHLCV frame."""
    flat = flatten_columns(frame, ticker)
    cols = {f: (f if f in flat.columns else None) for f in FIELDS}
    return bt.feeds.PandasData(dataname=flat, name=name, **cols, **kwargs)


__all__ = ["bt", "flatten_columns", "pandas_feed", "safe_plot"]
