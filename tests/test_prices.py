"""Bundled prices, strict validation and the cache preference rule."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.cli import main
from backtests.market.marketdata import BUNDLED_TICKERS, bundled_price_path, cache_price_path, load_price_file, load_prices
from events.errors import InputError

HEADER = "date,open,high,low,close,adj_close,volume\n"
GOOD = [
    "2024-01-02,10,11,9,10.5,10.4,1000",
    "2024-01-03,10.5,11.5,10,11,10.9,1200",
    "2024-01-04,11,11.2,10.1,10.2,10.1,900",
]


def write(tmp_path, rows, name="BAD.csv", header=HEADER):
    p = tmp_path / name
    p.write_text(header + "\n".join(rows) + "\n")
    return p


def test_bundled_snapshot_covers_every_ticker_and_the_whole_range():
    prices = load_prices()
    assert set(prices.data) == set(BUNDLED_TICKERS)
    for t, d in prices.data.items():
        assert d.source == "bundled"
        assert d.first == pd.Timestamp("2015-01-02") and d.last == pd.Timestamp("2026-10-06")
        assert len(d.frame) == 2957
        assert len(d.sha256) == 64
    # identical session calendar in every file
    idx = prices["AMZN"].frame.index
    assert all(d.frame.index.equals(idx) for d in prices.data.values())


def test_real_values_from_the_snapshot():
    amzn = load_prices(["AMZN"])["AMZN"].frame
    assert amzn.loc["2026-10-06", "close"] == pytest.approx(256.29)
    assert amzn.loc["2015-01-02", "open"] == pytest.approx(15.629)
    # 2018-12-05 (Bush funeral) and 2025-01-09 (Carter funeral) were NYSE closures
    assert pd.Timestamp("2018-12-05") not in amzn.index
    assert pd.Timestamp("2025-01-09") not in amzn.index


def test_xlk_missing_adj_close_is_reported_not_invented():
    xlk = load_prices(["XLK"])["XLK"]
    assert [d.date().isoformat() for d in xlk.adj_close_gaps] == ["2015-06-18", "2015-12-16", "2015-12-17"]
    assert xlk.frame["adj_close"].isna().sum() == 3


def test_total_return_ohlc_matches_adjusted_close_returns():
    msft = load_prices(["MSFT"])["MSFT"]
    tr = msft.total_return_ohlc()
    r_tr = tr["close"].pct_change().dropna()
    r_adj = msft.frame["adj_close"].pct_change().dropna()
    np.testing.assert_allclose(r_tr.to_numpy(), r_adj.to_numpy(), atol=1e-12)
    # dividends: MSFT's factor is below one early on, and OHLC keep their shape
    assert tr["close"].iloc[0] < msft.frame["close"].iloc[0]
    assert (tr["high"] >= tr[["open", "close"]].max(axis=1) * (1 - 1e-9)).all()


@pytest.mark.parametrize(
    "rows, line, field",
    [
        (GOOD[:1] + ["2024-01-03,10.5,11.5,10,abc,10.9,1200"], 3, "close"),
        (GOOD[:2] + ["2024-01-04,11,10.5,10.1,10.2,10.1,900"], 4, "high"),
        (GOOD[:2] + ["2024-01-04,11,11.2,10.9,10.2,10.1,900"], 4, "low"),
        (GOOD[:2] + ["2024-01-03,11,11.2,10.1,10.2,10.1,900"], 4, "date"),
        (GOOD[:1] + ["2024-13-03,10.5,11.5,10,11,10.9,1200"], 3, "date"),
        (GOOD[:1] + ["2024-01-03,-10.5,11.5,10,11,10.9,1200"], 3, "open"),
        (GOOD[:1] + ["2024-01-03,10.5,11.5,10,,10.9,1200"], 3, "close"),
    ],
)
def test_malformed_price_file_names_file_line_and_field(tmp_path, rows, line, field):
    p = write(tmp_path, rows)
    with pytest.raises(InputError) as err:
        load_price_file(p)
    text = str(err.value)
    assert str(p) in text and f"line {line}" in text and f"field '{field}'" in text


def test_missing_column_and_empty_file(tmp_path):
    p = write(tmp_path, ["2024-01-02,10,11,9,10.5,1000"], header="date,open,high,low,close,volume\n")
    with pytest.raises(InputError, match="missing column.*adj_close"):
        load_price_file(p)
    empty = tmp_path / "EMPTY.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        load_price_file(empty)


def test_cli_check_exits_2_with_file_line_and_column(tmp_path, capsys):
    p = write(tmp_path, GOOD[:1] + ["2024-01-03,10.5,11.5,10,1x1,10.9,1200"])
    assert main(["data", "check", str(p)]) == 2
    err = capsys.readouterr().err
    assert str(p) in err and "line 3" in err and "field 'close'" in err and "Traceback" not in err
    good = write(tmp_path, GOOD, name="GOOD.csv")
    assert main(["data", "check", str(good)]) == 0


def test_cli_status_lists_every_ticker(capsys):
    assert main(["data", "status"]) == 0
    out = capsys.readouterr().out
    for t in BUNDLED_TICKERS:
        assert t in out
    assert out.count("2015-01-02") == 9 and out.count("2026-10-06") == 9


def _bundled_plus_one_day(ticker="AMZN"):
    text = bundled_price_path(ticker).read_text()
    return text + "2026-10-07,256.0,258.0,255.0,257.0,257.0,30000000\n"


def test_valid_newer_cache_is_preferred(isolated_cache):
    cache_price_path("AMZN").parent.mkdir(parents=True)
    cache_price_path("AMZN").write_text(_bundled_plus_one_day())
    prices = load_prices(["AMZN", "MSFT"])
    assert prices["AMZN"].source == "cache" and prices["AMZN"].last == pd.Timestamp("2026-10-07")
    assert prices["MSFT"].source == "bundled"
    assert not prices.warnings


def test_older_cache_loses_to_bundled(isolated_cache):
    cache_price_path("AMZN").parent.mkdir(parents=True)
    cache_price_path("AMZN").write_text(HEADER + "\n".join(GOOD) + "\n")
    assert load_prices(["AMZN"])["AMZN"].source == "bundled"


def test_corrupt_cache_is_rejected_reported_and_bundled_used(isolated_cache, capsys):
    cache_price_path("AMZN").parent.mkdir(parents=True)
    cache_price_path("AMZN").write_text(_bundled_plus_one_day().replace("2026-10-07,256.0", "2026-10-07,oops"))
    prices = load_prices(["AMZN"])
    assert prices["AMZN"].source == "bundled"
    assert len(prices.warnings) == 1 and "AMZN" in prices.warnings[0] and "field 'open'" in prices.warnings[0]
    assert main(["data", "status", "--tickers", "AMZN"]) == 0
    assert "rejected" in capsys.readouterr().err


def test_unknown_ticker_is_input_error():
    with pytest.raises(InputError, match="no price data for ticker ZZZZ"):
        load_prices(["ZZZZ"])
