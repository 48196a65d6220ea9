"""Refresh the price cache from Yahoo Finance with yfinance.

The download asks explicitly for unadjusted OHLC plus the adjusted close
(``auto_adjust=False``) and no corporate-action columns, so the file keeps the
project's convention (see :mod:`backtests.market.prices`). Each ticker's frame is
normalised (MultiIndex columns flattened, all-empty padding rows dropped),
validated by the same parser that reads files, spliced onto what is already
there when the download starts later, and written atomically. A ticker that
fails keeps the data it had. When the network is unreachable the refresh says
so once and stops; nothing is written.
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from events.errors import InputError
from backtests.market.marketdata import BUNDLED_TICKERS, cache_price_path, load_prices
from backtests.market.prices import PriceData, parse_prices, to_csv_bytes

YF_COLUMNS = {"open": "open", "high": "high", "low": "low", "close": "close", "adj close": "adj_close", "adj_close": "adj_close", "volume": "volume"}
DEFAULT_START = "2015-01-02"
#: How far the close (and adj_close) ratio between old and new data may wander
#: on the overlap before the two are judged inconsistent (vendor rounding is ~1e-6).
SPLICE_TOL = 1e-3


class NetworkUnavailable(RuntimeError):
    """The download could not reach the data provider at all."""


class RateLimited(RuntimeError):
    """The provider refused with a rate limit after every retry."""


def yf_download(ticker: str, start: str, end: str | None = None) -> pd.DataFrame:
    """The real download: one ticker's daily bars from Yahoo via yfinance.

    Uses ``Ticker.history(raise_errors=True)`` so that rate limits and network
    failures arrive as exceptions (``yf.download`` logs and swallows them).
    """
    import yfinance as yf

    return yf.Ticker(ticker).history(
        start=start, end=end, interval="1d", auto_adjust=False, actions=False,
        repair=False, raise_errors=True, timeout=20,
    )


def _is_rate_limit(exc: BaseException) -> bool:
    name = type(exc).__name__
    return name == "YFRateLimitError" or "Too Many Requests" in str(exc) or "Rate limited" in str(exc)


def _is_network_error(exc: BaseException) -> bool:
    if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
        return True
    name = type(exc).__name__.lower()
    text = str(exc).lower()
    needles = ("could not resolve", "failed to connect", "name or service not known", "network is unreachable", "connection refused", "timed out")
    return any(k in name for k in ("connection", "dns", "timeout")) or any(n in text for n in needles)


def normalize_download(frame: pd.DataFrame | None, ticker: str) -> pd.DataFrame:
    """Turn a yfinance frame into the canonical price frame (index ``date``).

    Accepts flat columns (``Ticker.history``) or the ``(Price, Ticker)``
    MultiIndex that ``yf.download`` returns in yfinance 1.x. Rows where every
    price is missing (padding for other tickers' sessions) are dropped; a row
    with some prices missing is a partial download and is rejected.
    Raises :class:`InputError` naming the ticker and field.
    """
    where = f"download of {ticker}"
    if frame is None or len(frame) == 0:
        raise InputError(f"{where}: no rows came back (expected daily bars; is the ticker right and the range open?)")
    df = frame.copy()
    if isinstance(df.columns, pd.MultiIndex):
        level = None
        for i, values in enumerate(df.columns.levels):
            if ticker.upper() in {str(v).upper() for v in values}:
                level = i
                break
        if level is None:
            raise InputError(f"{where}: the MultiIndex columns do not contain {ticker}")
        df = df.xs(df.columns.levels[level][[str(v).upper() for v in df.columns.levels[level]].index(ticker.upper())], axis=1, level=level)
    df.columns = [YF_COLUMNS.get(str(c).strip().lower(), str(c).strip().lower()) for c in df.columns]
    missing = [c for c in ("open", "high", "low", "close", "adj_close", "volume") if c not in df.columns]
    if missing:
        raise InputError(f"{where}: column(s) {', '.join(missing)} missing (expected Open, High, Low, Close, Adj Close, Volume; auto_adjust must be False)")
    idx = pd.DatetimeIndex(df.index)
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    df.index = idx.normalize()
    df.index.name = "date"
    df = df[["open", "high", "low", "close", "adj_close", "volume"]].astype(float)
    prices = df[["open", "high", "low", "close"]]
    df = df[~prices.isna().all(axis=1)]
    if df.empty:
        raise InputError(f"{where}: every row is empty (no prices in the requested range)")
    partial = df.isna().any(axis=1)  # a fresh download has every field, adj_close included
    if partial.any():
        bad = ", ".join(d.date().isoformat() for d in df.index[partial][:5])
        raise InputError(f"{where}: partial rows with missing prices on {bad} (expected complete OHLCV for every session)")
    return df.sort_index()


def splice(old: pd.DataFrame, new: pd.DataFrame, ticker: str) -> pd.DataFrame:
    """Put ``new`` on top of ``old``: new rows win from ``new``'s first session on.

    Rows of ``old`` before that are rescaled onto ``new``'s vantage: OHLC by
    the close ratio (which absorbs a split), volume by its inverse, and
    adj_close by the adjusted-close ratio (a new dividend moves the whole
    adjusted history). Both ratios must be constant on the overlap to within
    :data:`SPLICE_TOL`, else the data disagree and an :class:`InputError` says so.
    """
    if new.index[0] <= old.index[0]:
        return new
    overlap = old.index.intersection(new.index)
    if len(overlap) == 0:
        raise InputError(
            f"refresh of {ticker}: the download starts {new.index[0].date()} after the existing data ends "
            f"{old.index[-1].date()} (expected an overlap; use an earlier --start)"
        )
    r_close = new.loc[overlap, "close"] / old.loc[overlap, "close"]
    r_adj = (new.loc[overlap, "adj_close"] / old.loc[overlap, "adj_close"]).dropna()
    for name, r in (("close", r_close), ("adj_close", r_adj)):
        if len(r) and (np.abs(r / r.median() - 1) > SPLICE_TOL).any():
            raise InputError(
                f"refresh of {ticker}: the {name} ratio between new and existing data is not constant on the "
                f"{len(overlap)} overlapping sessions ({r.min():.6f}..{r.max():.6f}) (expected one factor; "
                f"refresh from {DEFAULT_START} to rebuild the whole file)"
            )
    k_close = float(r_close.median())
    k_adj = float(r_adj.median()) if len(r_adj) else 1.0
    head = old.loc[old.index < new.index[0]].copy()
    head[["open", "high", "low", "close"]] *= k_close
    head["volume"] /= k_close
    head["adj_close"] *= k_adj
    return pd.concat([head, new])


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class RefreshReport:
    """What a refresh did, per ticker: ``updated``, ``unchanged`` or ``failed``."""

    status: dict[str, str] = field(default_factory=dict)
    detail: dict[str, str] = field(default_factory=dict)
    offline: str | None = None

    @property
    def ok(self) -> bool:
        return self.offline is None and all(s != "failed" for s in self.status.values())


def _download_with_retry(download, ticker, start, end, retries, backoff, sleep):
    for attempt in range(retries + 1):
        try:
            return download(ticker, start, end)
        except Exception as exc:  # noqa: BLE001 - classified below
            if _is_rate_limit(exc):
                if attempt == retries:
                    raise RateLimited(f"rate limited {retries + 1} times") from exc
                sleep(backoff * 2**attempt)
                continue
            if _is_network_error(exc):
                raise NetworkUnavailable(f"{type(exc).__name__}: {exc}") from exc
            raise


def refresh(
    tickers=BUNDLED_TICKERS,
    start: str = DEFAULT_START,
    end: str | None = None,
    *,
    download: Callable[[str, str, str | None], pd.DataFrame] = yf_download,
    retries: int = 4,
    backoff: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = lambda s: None,
    progress: bool | None = False,
) -> RefreshReport:
    """Download ``tickers`` into the cache; see the module docstring.

    ``download(ticker, start, end)`` returns a yfinance-shaped frame; tests
    replace it. Rate limits are retried ``retries`` times with exponential
    backoff (``backoff * 2**k`` seconds). ``progress=None`` shows a progress
    bar on a terminal (tqdm), ``False`` never.
    """
    import logging

    from tqdm import tqdm

    # yfinance logs its own retries and failures to stderr; the report below says what happened, one line a ticker
    quiet = logging.getLogger("yfinance")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL + 1)
    try:
        return _refresh(tickers, start, end, download, retries, backoff, sleep, log, progress, tqdm)
    finally:
        quiet.setLevel(level)


def _first_line(exc: BaseException) -> str:
    """The gist of a download error on one short line: a resolver failure as 'cannot resolve HOST', else the
    library's text up to its first sentence, at most 60 characters."""
    import re

    text = " ".join(str(exc).split())
    host = re.search(r"[Cc]ould not resolve host:? ([\w.-]+)", text)
    if host:
        return f"cannot resolve {host.group(1).rstrip('.')}"
    text = re.split(r"(?<=[a-z0-9)])\. ", text, maxsplit=1)[0]
    return text if len(text) <= 60 else text[:57] + "..."


def _refresh(tickers, start, end, download, retries, backoff, sleep, log, progress, tqdm) -> RefreshReport:
    report = RefreshReport()
    current = load_prices([t for t in tickers if t.upper() in BUNDLED_TICKERS or cache_price_path(t).exists()])
    # tqdm: disable=None hides the bar when stderr is not a terminal
    disable = True if progress is False else (None if progress is None else False)
    bar = tqdm([t.upper() for t in tickers], desc="refresh", unit="ticker", disable=disable, leave=False)
    for t in bar:
        try:
            raw = _download_with_retry(download, t, start, end, retries, backoff, sleep)
            fresh = normalize_download(raw, t)
            old = current.data.get(t)
            merged = splice(old.frame, fresh, t) if old is not None else fresh
            data = to_csv_bytes(merged)
            checked: PriceData = parse_prices(data, ticker=t, origin="cache", name=f"download of {t}")
            if old is not None and checked.last <= old.last and old.source == "cache":
                report.status[t], report.detail[t] = "unchanged", f"already up to {old.last.date()}"
                continue
            write_atomic(cache_price_path(t), data)
            report.status[t] = "updated"
            report.detail[t] = f"{checked.first.date()}..{checked.last.date()} ({len(checked.frame)} sessions)"
        except NetworkUnavailable as exc:
            report.offline = f"offline, {_first_line(exc)}"
            for rest in [x.upper() for x in tickers][list(x.upper() for x in tickers).index(t):]:
                report.status[rest], report.detail[rest] = "failed", f"not refreshed: {report.offline}; the data on disk is kept"
                log(f"{rest}: {report.detail[rest]}")
            break
        except (RateLimited, InputError) as exc:
            report.status[t], report.detail[t] = "failed", str(exc)
        except Exception as exc:  # noqa: BLE001 - yfinance failing mid-download (a changed API, a truncated reply): this ticker fails
            report.status[t], report.detail[t] = "failed", f"the download failed ({type(exc).__name__}: {_first_line(exc)}); the data on disk is kept"
        log(f"{t}: {report.status.get(t)} {report.detail.get(t, '')}")
    return report
