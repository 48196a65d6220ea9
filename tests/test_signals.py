"""Signals: real values from the bundled fundamentals, hand-made panels, and no look-ahead."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtests.cli import main
from backtests.marketdata import load_prices
from events.errors import InputError
from events.loader import load_calendar
from signals import backlog, capex
from signals.edgar import fetch_companyfacts, load_companyfacts_file, parse_companyfacts
from signals.fundamentals import Fundamentals, as_of_panel, load_fundamentals
from signals.guidance import capex_guidance_signal
from signals.history import relative_to_peers, signal_table, to_sessions

FUND = load_fundamentals()
SESSIONS = load_prices(["AMZN"])["AMZN"].frame.index


def test_availability_is_the_release_reaction_session():
    r = FUND.releases.set_index(["ticker", "quarter"])
    assert r.loc[("AMZN", "2025Q4"), "available"] == pd.Timestamp("2026-02-06")  # released Thu 2026-02-05 amc
    # report date missing in the file -> taken from the earnings calendar
    assert r.loc[("AMZN", "2022Q2"), "release_from"] == "earnings calendar"
    assert r.loc[("AMZN", "2022Q2"), "available"] == pd.Timestamp("2022-07-29")
    assert pd.isna(r.loc[("AMZN", "2026Q3"), "available"])
    assert "release date unknown" in r.loc[("AMZN", "2026Q3"), "note"]


def test_amzn_capex_efficiency_real_values():
    t = signal_table(FUND, "AMZN").set_index("quarter")
    # FY2025: AWS operating income 45.606 / gross purchases of P&E 131.819
    assert t.loc["2025Q4", "capex_efficiency"] == pytest.approx(45.606 / 131.819)
    assert t.loc["2025Q4", "cloud_oi_ttm"] == pytest.approx(45.606)
    # 2019: 2.223 + 2.121 + 2.261 + 2.596 over the stated TTM capex 16.861
    assert t.loc["2019Q4", "capex_efficiency"] == pytest.approx(9.201 / 16.861)
    assert t.loc["2026Q2", "capex_efficiency"] == pytest.approx(t.loc["2026Q2", "cloud_oi_ttm"] / 173.028)
    assert t.loc["2026Q1", "capex_efficiency_chg"] == pytest.approx(t.loc["2026Q1", "capex_efficiency"] - t.loc["2025Q4", "capex_efficiency"])
    defined = t["capex_efficiency"].notna()
    assert defined.sum() == 20  # 2019Q4 and 2021Q4..2026Q2
    assert t.loc["2020Q4", "capex_efficiency_why"] == "cloud_operating_income missing for 2020Q4"
    assert "capex missing" in t.loc["2020Q2", "capex_efficiency_why"]


def test_backlog_signals_real_values():
    t = signal_table(FUND, "AMZN").set_index("quarter")
    assert t.loc["2026Q1", "backlog"] == 364
    assert t.loc["2026Q1", "backlog_growth_qoq"] == pytest.approx(364 / 244 - 1)
    assert t.loc["2025Q4", "backlog_growth_yoy"] == pytest.approx(244 / 177 - 1)
    assert t.loc["2022Q1", "backlog"] == 88.9  # total RPO where no backlog figure is given
    assert np.isnan(t.loc["2024Q1", "backlog_growth_qoq"])
    # coverage: backlog / AWS sales TTM
    aws_ttm = 33.006 + 35.579 + 37.587 + 42.232
    assert t.loc["2026Q2", "backlog_coverage"] == pytest.approx(496 / aws_ttm)


def test_msft_segment_break_is_explicit():
    t = signal_table(FUND, "MSFT").set_index("quarter")
    assert np.isnan(t.loc["FY2025Q2", "capex_efficiency"])
    assert "segment redefined" in t.loc["FY2025Q2", "capex_efficiency_why"]
    assert t.loc["FY2025Q4", "capex_efficiency"] > 0


def test_relative_capex_efficiency_to_peers():
    rel = relative_to_peers(FUND, "capex_efficiency", SESSIONS)
    day = pd.Timestamp("2026-05-15")
    amzn = signal_table(FUND, "AMZN").set_index("quarter").loc["2026Q1", "capex_efficiency"]
    googl = signal_table(FUND, "GOOGL").set_index("quarter").loc["FY2026Q1", "capex_efficiency"]
    # MSFT's FY2026Q3 cloud OI is missing -> undefined that day, so the peer mean is GOOGL's alone
    assert np.isnan(rel.loc[day, "MSFT"])
    assert rel.loc[day, "relative"] == pytest.approx(amzn - googl)


def _panel(**cols):
    idx = pd.period_range("2023Q1", periods=len(next(iter(cols.values()))), freq="Q")
    p = pd.DataFrame(cols, index=idx)
    p["quarter"] = [str(x) for x in idx]
    return p


def test_hand_made_capex_efficiency_and_intensity():
    p = _panel(cloud_operating_income=[1, 2, 3, 4, 5], capex=[10, 10, 10, 10, 20], revenue=[50, 50, 50, 50, 50])
    eff = capex.capex_efficiency(p)
    assert np.isnan(eff.value.iloc[2]) and "quarters before" in eff.reason.iloc[2]
    assert eff.value.iloc[3] == pytest.approx(10 / 40)
    assert eff.value.iloc[4] == pytest.approx(14 / 50)
    assert capex.capex_efficiency_change(p).value.iloc[4] == pytest.approx(14 / 50 - 10 / 40)
    assert capex.capex_intensity(p).value.iloc[4] == pytest.approx(50 / 200)


def test_hand_made_backlog():
    p = _panel(backlog=[100, np.nan, 120, 150, 200, 240], cloud_revenue=[10] * 6)
    assert backlog.backlog_growth_qoq(p).value.iloc[3] == pytest.approx(0.25)
    assert "previous quarter" in backlog.backlog_growth_qoq(p).reason.iloc[2]
    yoy = backlog.backlog_growth_yoy(p)
    assert yoy.value.iloc[4] == pytest.approx(1.0) and np.isnan(yoy.value.iloc[5])
    assert backlog.backlog_coverage(p).value.iloc[5] == pytest.approx(240 / 40)


def test_to_sessions_holds_value_and_does_not_carry_stale():
    t = pd.DataFrame({"available": pd.to_datetime(["2024-01-03", "2024-01-08", "2024-01-10"]), "x": [1.0, np.nan, 3.0]})
    sess = pd.DatetimeIndex(pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-08", "2024-01-09", "2024-01-10"]))
    s = to_sessions(t, "x", sess)
    assert list(s.fillna(-1)) == [-1, 1, 1, -1, -1, 3]
    s2 = to_sessions(t, "x", sess, carry_stale=True)
    assert list(s2.fillna(-1)) == [-1, 1, 1, 1, 1, 3]


# ------------------------------------------------------------- no look-ahead
SIG_COLS = ["capex_efficiency", "capex_efficiency_chg", "capex_intensity", "backlog_growth_qoq", "backlog_growth_yoy", "backlog_coverage"]
BASE = {c: to_sessions(signal_table(FUND, "AMZN", SIG_COLS), c, SESSIONS) for c in SIG_COLS}
AMZN_ROWS = FUND.pit.index[FUND.pit["ticker"] == "AMZN"].to_numpy()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(row=st.sampled_from(list(AMZN_ROWS)), factor=st.floats(0.2, 5.0), delay=st.integers(0, 30))
def test_no_lookahead_changing_a_value_never_changes_the_past(row, factor, delay):
    """Change one fundamentals value (and make it arrive later): no signal at any
    session before that value became usable may change."""
    pit = FUND.pit.copy()
    t = pit.at[row, "available"]
    pit.at[row, "value"] = pit.at[row, "value"] * factor + 1.0
    new_avail = SESSIONS[min(SESSIONS.get_loc(t) + delay, len(SESSIONS) - 1)]
    pit.at[row, "available"] = new_avail
    f2 = Fundamentals(FUND.releases, pit)
    table = signal_table(f2, "AMZN", SIG_COLS)
    before = SESSIONS < t
    for c in SIG_COLS:
        s = to_sessions(table, c, SESSIONS)
        pd.testing.assert_series_equal(s[before], BASE[c][before], check_names=False)


def test_no_lookahead_prices_do_not_feed_signals():
    """Signals read no prices: the same table whatever the price data say after t."""
    t1 = signal_table(FUND, "AMZN", SIG_COLS)
    prices = load_prices(["AMZN"])
    prices["AMZN"].frame.loc["2025-01-02":, "close"] *= 2  # mutate the cached frame in place
    t2 = signal_table(FUND, "AMZN", SIG_COLS)
    pd.testing.assert_frame_equal(t1, t2)


def test_as_of_panel_uses_newest_vintage_known_then():
    pit = FUND.pit.copy()
    old = pit[(pit["ticker"] == "AMZN") & (pit["quarter"] == "2025Q3") & (pit["metric"] == "capex")].iloc[0]
    restated = old.copy()
    restated["value"] = 99.0
    restated["available"] = pd.Timestamp("2026-03-02")
    pit = pd.concat([pit, restated.to_frame().T], ignore_index=True)
    before = as_of_panel(pit, "AMZN", "2026-02-27")
    after = as_of_panel(pit, "AMZN", "2026-03-02")
    q = pd.Period("2025Q3", "Q")
    assert before.loc[q, "capex"] == pytest.approx(35.10) and after.loc[q, "capex"] == 99.0


def test_capex_guidance_signal_directions():
    cal = load_calendar()
    g = capex_guidance_signal(cal.frame, "AMZN").set_index("event_id")
    assert g.loc["amzn_q4_2024_capex", "direction"] == "first"
    assert g.loc["amzn_q3_2025_capex", "direction"] == "raise" and g.loc["amzn_q3_2025_capex", "change"] == pytest.approx(0.25)
    assert g.loc["amzn_q4_2025_capex_200b", "direction"] == "raise"
    assert g.loc["amzn_q1_2026_capex", "direction"] == "hold"
    assert g.loc["amzn_q4_2025_capex_200b", "day0"] == pd.Timestamp("2026-02-06")


def test_cli_signals_show(capsys):
    assert main(["signals", "show"]) == 0
    out = capsys.readouterr().out
    assert "2025Q4" in out and "2026-02-06" in out and "0.3460" in out
    assert "eff_vs_peers" in out and "-0.0339" in out  # 2025Q4: 0.3460 minus the peers' mean known on 2026-02-06
    assert "2020Q4, 2021Q1, 2021Q2, 2021Q3: cloud_operating_income missing for 2020Q4" in out
    assert main(["signals", "show", "--ticker", "NFLX"]) == 2


# ------------------------------------------------------------- EDGAR, offline
def _facts_doc():
    """A small document in the companyfacts shape (values in USD)."""
    capex = [
        {"start": "2025-01-01", "end": "2025-03-31", "val": 25_019_000_000, "filed": "2025-05-02", "form": "10-Q", "fp": "Q1"},
        {"start": "2025-01-01", "end": "2025-06-30", "val": 57_202_000_000, "filed": "2025-08-01", "form": "10-Q", "fp": "Q2"},
        {"start": "2025-01-01", "end": "2025-09-30", "val": 92_302_000_000, "filed": "2025-10-31", "form": "10-Q", "fp": "Q3"},
        {"start": "2025-01-01", "end": "2025-12-31", "val": 131_819_000_000, "filed": "2026-02-06", "form": "10-K", "fp": "FY"},
        # a restatement of Q1 filed a year later: a new vintage, not a rewrite
        {"start": "2025-01-01", "end": "2025-03-31", "val": 25_500_000_000, "filed": "2026-04-30", "form": "10-Q", "fp": "Q1"},
    ]
    rpo = [{"end": "2025-12-31", "val": 244_000_000_000, "filed": "2026-02-06", "form": "10-K"}]
    return {"cik": 1018724, "facts": {"us-gaap": {
        "PaymentsToAcquirePropertyPlantAndEquipment": {"units": {"USD": capex}},
        "RevenueRemainingPerformanceObligation": {"units": {"USD": rpo}},
    }}}


def test_edgar_parse_derives_quarters_from_ytd_and_keys_by_filed():
    rows = parse_companyfacts(_facts_doc(), "AMZN")
    capex_rows = rows[rows["metric"] == "capex"].sort_values(["period", "available"])
    vals = {(str(r.period), r.available.date().isoformat()): r.value for r in capex_rows.itertuples()}
    assert vals[("2025Q1", "2025-05-05")] == pytest.approx(25.019)  # filed Fri 2025-05-02 -> Monday
    assert vals[("2025Q2", "2025-08-04")] == pytest.approx(32.183)
    assert vals[("2025Q3", "2025-11-03")] == pytest.approx(35.100)
    assert vals[("2025Q4", "2026-02-09")] == pytest.approx(39.517)
    assert vals[("2025Q1", "2026-05-01")] == pytest.approx(25.5)
    rpo = rows[rows["metric"] == "rpo"].iloc[0]
    assert rpo["value"] == pytest.approx(244.0) and rpo["available"] == pd.Timestamp("2026-02-09")


def test_edgar_restatement_is_a_later_vintage():
    rows = parse_companyfacts(_facts_doc(), "AMZN")
    pit = pd.concat([FUND.pit[FUND.pit["ticker"] != "AMZN"], rows], ignore_index=True)
    q = pd.Period("2025Q1", "Q")
    assert as_of_panel(pit, "AMZN", "2026-01-02").loc[q, "capex"] == pytest.approx(25.019)
    assert as_of_panel(pit, "AMZN", "2026-05-01").loc[q, "capex"] == pytest.approx(25.5)


def test_edgar_fetch_sends_user_agent_and_rejects_missing_one(monkeypatch):
    seen = {}

    class Resp:
        status_code = 200

        def json(self):
            return _facts_doc()

    def fake_get(url, headers, timeout):
        seen["url"], seen["ua"] = url, headers["User-Agent"]
        return Resp()

    doc = fetch_companyfacts("AMZN", user_agent="Jane Doe jane@example.com", get=fake_get)
    assert seen["url"].endswith("CIK0001018724.json") and seen["ua"] == "Jane Doe jane@example.com"
    assert "facts" in doc
    monkeypatch.delenv("AIBT_SEC_USER_AGENT", raising=False)
    with pytest.raises(InputError, match="User-Agent"):
        fetch_companyfacts("AMZN", get=fake_get)


def test_edgar_bad_file_is_input_error(tmp_path):
    p = tmp_path / "cf.json"
    p.write_text('{"facts": ')
    with pytest.raises(InputError, match="not valid JSON"):
        load_companyfacts_file(p, "AMZN")
    p.write_text(json.dumps(_facts_doc()))
    assert len(load_companyfacts_file(p, "AMZN")) == 6
