"""yfinance refresh: every download is replaced by a fake; the parsing is real."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.market.marketdata import cache_price_path, load_prices
from backtests.market.refresh import normalize_download, refresh, splice
from events.errors import InputError


class YFRateLimitError(Exception):
    """Same name and message as yfinance's, which is what the classifier reads."""

    def __init__(self):
        super().__init__("Too Many Requests. Rate limited. Try after a while.")


def yahoo_frame(ticker="AMZN", extra_days=3, multiindex=True, tz=True, scale=1.0):
    """A frame shaped like yfinance 1.x output: the bundled tail plus new sessions."""
    base = load_prices([ticker])[ticker].frame.iloc[-60:].copy()
    last = base.iloc[-1]
    new_idx = pd.bdate_range(base.index[-1] + pd.Timedelta(days=1), periods=extra_days)
    new = pd.DataFrame([last.to_dict()] * extra_days, index=new_idx)
    df = pd.concat([base, new]) * [scale, scale, scale, scale, scale, 1.0]
    df.columns = ["Open", "High", "Low", "Close", "Adj Close", "Volume"]
    if tz:
        df.index = df.index.tz_localize("America/New_York")
    df.index.name = "Date"
    if multiindex:
        df.columns = pd.MultiIndex.from_product([df.columns, [ticker]], names=["Price", "Ticker"])
        df = df.sort_index(axis=1, level=0)
    return df


def test_normalize_flattens_yfinance_multiindex():
    out = normalize_download(yahoo_frame(), "AMZN")
    assert list(out.columns) == ["open", "high", "low", "close", "adj_close", "volume"]
    assert out.index.tz is None and out.index.name == "date"
    assert len(out) == 63


def test_normalize_two_ticker_download_drops_padding_rows():
    a = yahoo_frame("AMZN")
    m = yahoo_frame("MSFT")
    both = pd.concat([a, m], axis=1)
    both.iloc[-1, both.columns.get_level_values("Ticker") == "MSFT"] = np.nan  # padding row for MSFT
    out = normalize_download(both, "MSFT")
    assert len(out) == 62


def test_empty_and_partial_downloads_are_rejected():
    with pytest.raises(InputError, match="no rows"):
        normalize_download(pd.DataFrame(), "AMZN")
    df = yahoo_frame()
    df.iloc[10, 0] = np.nan  # one price missing on one day
    with pytest.raises(InputError, match="partial rows"):
        normalize_download(df, "AMZN")


def test_refresh_writes_cache_that_then_wins(isolated_cache):
    calls = []

    def fake(ticker, start, end):
        calls.append((ticker, start))
        return yahoo_frame(ticker)

    rep = refresh(["AMZN"], start="2026-07-01", download=fake)
    assert rep.status == {"AMZN": "updated"} and rep.ok
    prices = load_prices(["AMZN"])
    amzn = prices["AMZN"]
    assert amzn.source == "cache" and amzn.last > pd.Timestamp("2026-10-06")
    # spliced: the whole history is still there
    assert amzn.first == pd.Timestamp("2015-01-02") and len(amzn.frame) == 2957 + 3
    assert calls == [("AMZN", "2026-07-01")]


def test_splice_rescales_history_onto_new_vantage():
    old = load_prices(["AMZN"])["AMZN"].frame
    new = normalize_download(yahoo_frame(scale=0.5), "AMZN")  # as if a 2:1 split happened
    out = splice(old, new, "AMZN")
    assert out.loc["2015-01-02", "close"] == pytest.approx(old.loc["2015-01-02", "close"] * 0.5)
    assert out.loc["2015-01-02", "volume"] == pytest.approx(old.loc["2015-01-02", "volume"] * 2)
    r_old = old["close"].pct_change().loc["2016-01-04":"2026-06-30"]
    r_new = out["close"].pct_change().loc["2016-01-04":"2026-06-30"]
    np.testing.assert_allclose(r_old, r_new, atol=1e-12)


def test_splice_rejects_inconsistent_overlap():
    old = load_prices(["AMZN"])["AMZN"].frame
    new = normalize_download(yahoo_frame(), "AMZN")
    new.iloc[5, new.columns.get_loc("close")] *= 1.05
    new.iloc[5, new.columns.get_loc("high")] *= 1.05
    with pytest.raises(InputError, match="not constant"):
        splice(old, new, "AMZN")


def test_rate_limit_is_retried_with_backoff():
    sleeps, attempts = [], []

    def flaky(ticker, start, end):
        attempts.append(ticker)
        if len(attempts) < 3:
            raise YFRateLimitError()
        return yahoo_frame(ticker)

    rep = refresh(["AMZN"], download=flaky, sleep=sleeps.append, backoff=1.5)
    assert rep.status["AMZN"] == "updated"
    assert sleeps == [1.5, 3.0]


def test_persistent_rate_limit_fails_that_ticker_only(isolated_cache):
    def fake(ticker, start, end):
        if ticker == "MSFT":
            raise YFRateLimitError()
        return yahoo_frame(ticker)

    rep = refresh(["MSFT", "AMZN"], download=fake, sleep=lambda s: None, retries=2)
    assert rep.status == {"MSFT": "failed", "AMZN": "updated"}
    assert "rate limited 3 times" in rep.detail["MSFT"]
    assert not cache_price_path("MSFT").exists()


def test_partial_download_keeps_existing_cache_untouched(isolated_cache):
    refresh(["AMZN"], download=lambda t, s, e: yahoo_frame(t))
    before = cache_price_path("AMZN").read_bytes()

    def partial(ticker, start, end):
        df = yahoo_frame(ticker, extra_days=5)
        df.iloc[-2, :4] = np.nan
        return df

    rep = refresh(["AMZN"], download=partial)
    assert rep.status["AMZN"] == "failed" and "partial" in rep.detail["AMZN"]
    assert cache_price_path("AMZN").read_bytes() == before
    assert not list(cache_price_path("AMZN").parent.glob(".*.tmp"))


def test_empty_download_fails_cleanly():
    rep = refresh(["AMZN"], download=lambda t, s, e: pd.DataFrame())
    assert rep.status["AMZN"] == "failed" and "no rows" in rep.detail["AMZN"]


def test_network_unreachable_says_so_per_ticker_tries_once_and_writes_nothing(isolated_cache):
    lines, calls = [], []

    def offline(ticker, start, end):
        calls.append(ticker)
        raise ConnectionError("Could not resolve host: query2.example")

    rep = refresh(["AMZN", "MSFT"], download=offline, log=lines.append)
    assert rep.offline and rep.offline.startswith("offline, ") and not rep.ok
    assert calls == ["AMZN"]  # no point trying the next ticker once the network is known to be down
    assert [ln.split(":")[0] for ln in lines] == ["AMZN", "MSFT"] and all("the data on disk is kept" in ln for ln in lines)
    assert rep.status == {"AMZN": "failed", "MSFT": "failed"}
    assert not (isolated_cache / "prices").exists()
    assert load_prices(["AMZN"])["AMZN"].source == "bundled"


def test_cli_refresh_offline_exits_3_with_a_line_per_ticker_and_no_library_noise(monkeypatch, capsys, caplog, isolated_cache):
    """DESIGN.md: 3 when an outside source could not be reached and nothing was changed, so a cron job can tell."""
    import logging

    import backtests.market.refresh as r

    def offline(ticker, start, end):
        logging.getLogger("yfinance").error("Failed to get ticker %r reason: DNS", ticker)  # what yfinance itself logs
        raise OSError("Network is unreachable")

    from backtests.cli import main

    # refresh() binds the downloader at definition time, so patch its keyword default
    monkeypatch.setitem(r.refresh.__kwdefaults__, "download", offline)
    assert main(["data", "refresh", "--tickers", "AMZN,MSFT"]) == 3
    out, err = capsys.readouterr()
    assert out.splitlines()[0].startswith("AMZN: not refreshed: offline, ") and out.splitlines()[1].startswith("MSFT:")
    assert len(out.splitlines()) == 2 and max(map(len, out.splitlines())) <= 100  # one line per ticker
    assert "2 of 2 ticker(s) not refreshed (AMZN, MSFT)" in err
    assert "Failed to get ticker" not in out + err and "Traceback" not in out + err
    assert not [rec for rec in caplog.records if rec.name == "yfinance"]  # yfinance's own log is silenced during a refresh
    assert not (isolated_cache / "prices").exists()


def test_a_download_failing_mid_way_fails_that_ticker_only(isolated_cache):
    """yfinance raising something unexpected for one ticker (here a KeyError from a changed reply) fails that ticker,
    says why, writes nothing for it, and the next ticker is still tried."""
    calls = []

    def flaky(ticker, start, end):
        calls.append(ticker)
        raise KeyError("chart")

    rep = refresh(["AMZN", "MSFT"], download=flaky)
    assert calls == ["AMZN", "MSFT"] and rep.status == {"AMZN": "failed", "MSFT": "failed"}
    assert "the download failed (KeyError: 'chart')" in rep.detail["AMZN"] and not rep.ok
    assert not (isolated_cache / "prices").exists()
