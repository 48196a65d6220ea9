"""Where prices come from: the bundled snapshot or the user's refresh cache.

Loading prefers a valid cache file whose last session is newer than the
bundled snapshot's; otherwise the bundled snapshot is used. A cache file that
fails validation is reported (see :attr:`PriceSet.warnings`) and ignored; it is
never half-used.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd
import platformdirs

from events.errors import InputError, Problem
from backtests.market.prices import PriceData, parse_prices

#: Tickers shipped in the bundled snapshot.
BUNDLED_TICKERS = ("AMZN", "MSFT", "GOOGL", "META", "ORCL", "NVDA", "SPY", "QQQ", "XLK")
CACHE_ENV = "AIBT_CACHE_DIR"


def cache_dir() -> Path:
    """The user cache directory (``$AIBT_CACHE_DIR`` or the platform's cache dir)."""
    env = os.environ.get(CACHE_ENV)
    base = Path(env) if env else Path(platformdirs.user_cache_dir("aibt"))
    return base


def cache_price_path(ticker: str) -> Path:
    return cache_dir() / "prices" / f"{ticker.upper()}.csv"


def bundled_price_path(ticker: str) -> Path:
    return Path(str(resources.files("backtests") / "data" / "prices" / f"{ticker.upper()}.csv"))


_MEMO: dict[tuple, PriceData] = {}


def load_price_file(path: str | Path, ticker: str | None = None, origin: str = "file") -> PriceData:
    """Load and validate one price CSV (raises :class:`InputError` if bad).

    Validated files are memoised per process by (path, size, mtime), so runs
    in one process (sweeps, the benchmark) parse each file once. The frame of
    a memoised result is copied, so callers may modify what they get.
    """
    path = Path(path)
    name = (ticker or path.stem).upper()
    st = path.stat() if path.exists() else None
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, name, origin) if st else None
    hit = _MEMO.get(key) if key else None
    if hit is None:
        hit = parse_prices(path, ticker=name, origin=origin)
        if key:
            _MEMO[key] = hit
    return PriceData(hit.ticker, hit.frame.copy(), hit.source, hit.path, hit.sha256)


@dataclass
class PriceSet:
    """Prices for several tickers plus what was noticed while choosing them."""

    data: dict[str, PriceData]
    warnings: list[str] = field(default_factory=list)

    def __getitem__(self, ticker: str) -> PriceData:
        return self.data[ticker]

    def fingerprints(self) -> dict[str, str]:
        return {t: d.sha256 for t, d in self.data.items()}


def load_prices(tickers=BUNDLED_TICKERS, *, use_cache: bool = True) -> PriceSet:
    """Load each ticker, preferring a valid, newer cache file over the bundled one.

    A ticker with neither a bundled file nor a cache file is an
    :class:`InputError`. Invalid cache files produce a warning and fall back.
    """
    out: dict[str, PriceData] = {}
    warnings: list[str] = []
    for t in tickers:
        t = t.upper()
        bundled_path = bundled_price_path(t)
        bundled = load_price_file(bundled_path, t, origin="bundled") if bundled_path.exists() else None
        cached = None
        cpath = cache_price_path(t)
        if use_cache and cpath.exists():
            try:
                cached = load_price_file(cpath, t, origin="cache")
            except InputError as exc:
                warnings.append(f"cache file for {t} rejected, using bundled data: {exc}")
        if cached is not None and (bundled is None or cached.last > bundled.last):
            out[t] = cached
        elif bundled is not None:
            out[t] = bundled
        else:
            raise InputError(
                Problem(
                    f"no price data for ticker {t}",
                    field="ticker",
                    expected=f"one of {', '.join(BUNDLED_TICKERS)} or a ticker refreshed with 'aibt data refresh --tickers {t}'",
                )
            )
    return PriceSet(out, warnings)


def status_table(prices: PriceSet) -> pd.DataFrame:
    """One row per ticker: source, first/last session, rows, sha256 prefix, gaps."""
    rows = []
    for t, d in prices.data.items():
        rows.append(
            {
                "ticker": t,
                "source": d.source,
                "first": d.first.date().isoformat(),
                "last": d.last.date().isoformat(),
                "sessions": len(d.frame),
                "sha256": d.sha256[:16],
                "adj_close_gaps": len(d.adj_close_gaps),
            }
        )
    return pd.DataFrame(rows)


def sessions_missing(a: pd.Timestamp, b: pd.Timestamp) -> bool:
    """Whether the NYSE traded (or is scheduled to trade) on some day from ``a`` to ``b``: dates price data
    ending before ``a`` or starting after ``b`` would lack. Dates outside the exchange calendar count as missing."""
    from events.calendar import CALENDAR_START, sessions_between, xnys

    lo, hi = max(a, pd.Timestamp(CALENDAR_START)), min(b, pd.Timestamp(xnys().last_session.date()))
    return a < pd.Timestamp(CALENDAR_START) or b > hi or (lo <= hi and len(sessions_between(lo, hi)) > 0)


def dates_problems(start, end, first: pd.Timestamp, last: pd.Timestamp) -> list[Problem]:
    """A config's ``dates.start`` / ``dates.end`` (``end`` None: the last session) against price data covering
    ``first``..``last``: a problem for each date the data cannot cover (a run covers the dates its config.yaml
    says, or it is refused: never silently clipped). A start on a holiday just before the data is fine: no
    session lies between."""
    start = pd.Timestamp(start)
    end = pd.Timestamp(end) if end is not None else last
    out = []
    if start < first and sessions_missing(start, first - pd.Timedelta(days=1)):
        out.append(Problem(f"start {start.date()} is before the price data, which begins {first.date()}", field="dates.start",
                           expected=f"a start on or after {first.date()}"))
    if end > last and sessions_missing(last + pd.Timedelta(days=1), end):
        out.append(Problem(f"end {end.date()} is after the price data, which ends {last.date()}", field="dates.end",
                           expected=f"an end on or before {last.date()}, or null for the last session ('aibt data refresh' extends the data)"))
    return out


def check_dates_in_data(cfg: dict) -> None:
    """:class:`InputError` when a resolved config's dates reach outside its target's price data (see
    :func:`dates_problems`); reads the target's prices (memoised per file)."""
    p = load_prices([cfg["universe"]["target"]])[cfg["universe"]["target"]]
    problems = dates_problems(cfg["dates"]["start"], cfg["dates"]["end"], p.first, p.last)
    if problems:
        raise InputError(problems)


def unpriced_problems(named: dict[str, str]) -> list[Problem]:
    """``named``: config key -> ticker. A problem naming the config key for each ticker with neither a bundled nor a
    refreshed price file (so the user is sent to the key that named it, not to a file)."""
    out = []
    for key, t in named.items():
        t = t.upper()
        if not bundled_price_path(t).exists() and not cache_price_path(t).exists():
            out.append(Problem(f"no price data for ticker {t}", field=key,
                               expected=f"one of {', '.join(BUNDLED_TICKERS)}, or a ticker refreshed with 'aibt data refresh --tickers {t}'"))
    return out
