"""Daily OHLCV price files: schema, validation and the :class:`PriceData` record.

File format (bundled snapshot, user cache and refresh output alike)::

    date,open,high,low,close,adj_close,volume

* ``date``: ISO date of an NYSE session, ascending and unique.
* ``open, high, low, close``: USD per share, split-adjusted but **not**
  dividend-adjusted (Yahoo's ``Close`` convention). Must be > 0, with
  ``high >= max(open, close)`` and ``low <= min(open, close)``.
* ``adj_close``: USD, split- and dividend-adjusted close. May be empty where
  no source could place the dividend factor; such sessions are listed in
  :attr:`PriceData.adj_close_gaps`, never silently filled here.
* ``volume``: shares, split-adjusted, >= 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from events.errors import InputError, Problem
from events.tabular import Column, check_sorted_unique_dates, read_table, rows_problems

PRICE_COLUMNS = {
    "date": Column("date"),
    "open": Column("float", positive=True),
    "high": Column("float", positive=True),
    "low": Column("float", positive=True),
    "close": Column("float", positive=True),
    "adj_close": Column("float", nonempty=False, positive=True),
    "volume": Column("float", nonnegative=True),
}
OHLC = ["open", "high", "low", "close"]
# Relative slack for the high/low consistency checks: vendors round each price
# independently to 4-5 decimals, so an exact comparison would flag noise.
_HL_TOL = 1e-7


@dataclass(frozen=True)
class PriceData:
    """One ticker's validated daily prices.

    ``frame`` is indexed by session (``DatetimeIndex`` named ``date``) with
    float columns open, high, low, close, adj_close, volume. ``source`` is
    ``bundled`` or ``cache``; ``sha256`` is the fingerprint of the file bytes.
    """

    ticker: str
    frame: pd.DataFrame
    source: str
    path: str
    sha256: str

    @property
    def first(self) -> pd.Timestamp:
        return self.frame.index[0]

    @property
    def last(self) -> pd.Timestamp:
        return self.frame.index[-1]

    @property
    def adj_close_gaps(self) -> list[pd.Timestamp]:
        """Sessions whose ``adj_close`` is missing in the file."""
        return list(self.frame.index[self.frame["adj_close"].isna()])

    def total_return_ohlc(self) -> pd.DataFrame:
        """OHLC scaled by the dividend factor ``adj_close / close``.

        The result is a total-return price series (USD, on the vantage of the
        newest ``adj_close``): close-to-close returns of its ``close`` equal the
        adjusted-close returns, and open/high/low are on the same scale so that
        an order filled at the open is priced consistently. Where ``adj_close``
        is missing the factor of the previous session is carried (the dividend
        factor is a step function that changes only on ex-dates); those
        sessions are the ones listed in :attr:`adj_close_gaps`.
        """
        factor = (self.frame["adj_close"] / self.frame["close"]).ffill().bfill()
        out = self.frame[OHLC].mul(factor, axis=0)
        out["volume"] = self.frame["volume"]
        return out


#: adj_close / close allowed: dividends make it at most 1 (a rounding margin above); 0.05 is decades of high dividends
ADJ_RATIO = (0.05, 1.01)


def parse_prices(source: str | Path | bytes, *, ticker: str, origin: str, name: str | None = None) -> PriceData:
    """Validate a price file (path or bytes) and return :class:`PriceData`.

    Raises :class:`InputError` naming file, line and column of every defect.
    """
    table, problems = read_table(source, PRICE_COLUMNS, name=name, raise_errors=False)
    if table is None:
        raise InputError(problems)
    f = table.frame
    problems += check_sorted_unique_dates(table)
    hi_floor = np.maximum(f["open"], f["close"]) * (1 - _HL_TOL)
    lo_ceiling = np.minimum(f["open"], f["close"]) * (1 + _HL_TOL)
    problems += rows_problems(
        table,
        (f["high"] < hi_floor).to_numpy(),
        "high",
        "high {row[high]} is below max(open, close)",
        "high >= max(open, close)",
    )
    problems += rows_problems(
        table,
        (f["low"] > lo_ceiling).to_numpy(),
        "low",
        "low {row[low]} is above min(open, close)",
        "low <= min(open, close)",
    )
    ratio = (f["adj_close"] / f["close"]).to_numpy(float)
    bad = ~np.isnan(ratio) & ((ratio < ADJ_RATIO[0]) | (ratio > ADJ_RATIO[1]))
    if bad.sum() > 5:  # one problem for a whole column off by a factor (a cents file, adj_close of another ticker)
        first = int(np.flatnonzero(bad)[0])
        problems.append(Problem(f"adj_close / close is outside {ADJ_RATIO[0]}..{ADJ_RATIO[1]} on {int(bad.sum())} rows, from line "
                                f"{table.line_of(first)} (there {ratio[first]:.4g})", path=table.path, line=table.line_of(first), field="adj_close",
                                expected="the dividend-adjusted close: at most the close, and not a small fraction of it"))
    else:
        problems += rows_problems(table, bad, "adj_close", "adj_close {row[adj_close]} against close {row[close]}",
                                  f"the dividend-adjusted close: adj_close / close within {ADJ_RATIO[0]}..{ADJ_RATIO[1]}")
    problems += session_problems(table)  # with the other problems, so one pass lists them all
    if problems:
        raise InputError(problems)
    frame = f[list(PRICE_COLUMNS)].set_index("date")
    frame.index.name = "date"
    frame = frame.astype(float)
    return PriceData(ticker=ticker, frame=frame, source=origin, path=table.path, sha256=table.sha256)


def session_problems(table, show: int = 5) -> list[Problem]:
    """Rows dated on a day the NYSE did not trade (a weekend, a holiday), each with its line, and sessions missing
    between the file's first and last date (one problem listing the first ``show``). Daily prices are one row per
    NYSE session (exchange_calendars' XNYS)."""
    from events.calendar import sessions_between, xnys

    f = table.frame
    dates = pd.DatetimeIndex(f["date"])
    if not len(dates):
        return []
    cal = xnys()
    lo, hi = pd.Timestamp(cal.first_session.date()), pd.Timestamp(cal.last_session.date())
    out = []
    for i in np.flatnonzero(dates > hi):  # past the exchange calendar (a year ahead of today): not a session that has traded
        out.append(Problem(f"{dates[i].date()} is in the future (the exchange calendar ends {hi.date()})", path=table.path,
                           line=table.line_of(int(i)), field="date", expected="dates of sessions that have traded"))
    inside = (dates >= lo) & (dates <= hi)  # before 2000 the calendar cannot say: those rows are not checked (nor unreadable dates)
    if not inside.any():
        return out
    sessions = sessions_between(dates[inside].min(), dates[inside].max())
    for i in np.flatnonzero(inside & ~dates.isin(sessions)):
        d = dates[i]
        out.append(Problem(f"{d.date()} ({d.day_name()}) is not an NYSE session", path=table.path, line=table.line_of(int(i)), field="date",
                           expected="one row per NYSE trading day (no weekends or exchange holidays)"))
    missing = sessions[~sessions.isin(dates)]
    if len(missing):
        first = ", ".join(str(d.date()) for d in missing[:show]) + (", ..." if len(missing) > show else "")
        out.append(Problem(f"{len(missing)} NYSE session(s) between {sessions[0].date()} and {sessions[-1].date()} have no row: {first} "
                           "(if the exchange was in fact closed, exchange_calendars may need an update)",
                           path=table.path, field="date", expected="a row for every NYSE session in the file's range"))
    return out


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """Serialise a price frame (index ``date``) in the canonical file format."""
    out = frame[["open", "high", "low", "close", "adj_close", "volume"]].copy()
    out.index = pd.DatetimeIndex(out.index).strftime("%Y-%m-%d")
    out.index.name = "date"
    out["volume"] = out["volume"].round().astype("int64")
    return out.to_csv(float_format="%.6f", lineterminator="\n").encode()
