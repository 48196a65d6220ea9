"""Signals: real values from the bundled fundamentals, hand-made panels, and no look-ahead."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtests.cli import main
from backtests.market.marketdata import load_prices
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


def _rows(t, kind="release"):
    """The release rows (or, ``kind='last'``, each quarter's last row) of a signal table, by quarter."""
    if kind == "last":
        return t.dropna(subset=["available"]).groupby("quarter").last()
    return t[t["kind"] == "release"].set_index("quarter")


def test_amzn_capex_efficiency_real_values():
    t = signal_table(FUND, "AMZN")
    rel, last = _rows(t), _rows(t, "last")
    # FY2022: AWS operating income 6.518 + 5.72 + 5.40 + 5.21 (all release figures) over the stated FY capex 63.645
    assert rel.loc["2022Q4", "capex_efficiency"] == pytest.approx(22.848 / 63.645)
    # 2026Q2 at its release: 2025Q3's AWS OI is the release's 11.4 (the exact 11.434 comes from 2026 10-Q comparatives)
    assert rel.loc["2026Q2", "capex_efficiency"] == pytest.approx((11.4 + 12.465 + 14.161 + 16.621) / 173.028)
    assert last.loc["2026Q2", "capex_efficiency"] == pytest.approx((11.434 + 12.465 + 14.161 + 16.621) / 173.028)
    # its change needs 2026Q1's, whose TTM needs 2025Q2 (public from the 10-Q for Q2 2026, deadline 2026-08-10)
    assert np.isnan(rel.loc["2026Q2", "capex_efficiency_chg"])
    assert last.loc["2026Q2", "available"] == pd.Timestamp("2026-08-11")
    q1_2026 = (10.160 + 11.434 + 12.465 + 14.161) / (32.183 + 35.10 + 39.52 + 44.203)
    assert last.loc["2026Q2", "capex_efficiency_chg"] == pytest.approx(last.loc["2026Q2", "capex_efficiency"] - q1_2026)
    # 2025Q4 was not computable when released: two of its four AWS quarters were read in 2026 10-Q comparatives
    assert np.isnan(rel.loc["2025Q4", "capex_efficiency"])
    assert "not public yet: cloud_operating_income 2025Q1 from 2026-05-12, cloud_operating_income 2025Q2 from 2026-08-11" in rel.loc["2025Q4", "capex_efficiency_why"]
    assert list(rel.index[rel["capex_efficiency"].notna()]) == ["2022Q1", "2022Q2", "2022Q3", "2022Q4", "2024Q3", "2026Q2"]
    assert rel.loc["2020Q4", "capex_efficiency_why"] == "cloud_operating_income missing for 2020Q4"
    assert rel.loc["2020Q2", "capex_efficiency_why"] == ("cloud_operating_income missing for 2019Q3, 2019Q4 (not public yet: "
                                                          "cloud_operating_income 2019Q3 from 2020-11-10, cloud_operating_income 2019Q4 from 2020-11-10)")


def test_backlog_signals_real_values():
    t = signal_table(FUND, "AMZN")
    rel, last = _rows(t), _rows(t, "last")
    assert rel.loc["2026Q1", "backlog"] == 364  # the AWS backlog stated on the call
    assert rel.loc["2026Q1", "backlog_growth_qoq"] == pytest.approx(364 / 244 - 1)
    assert rel.loc["2025Q4", "backlog_growth_yoy"] == pytest.approx(244 / 177 - 1)  # 2024Q4 RPO public from the 10-K
    assert np.isnan(rel.loc["2022Q1", "backlog"])  # total RPO only, from the 10-Q: not at the release
    assert last.loc["2022Q1", "backlog"] == 88.9 and last.loc["2022Q1", "available"] == pd.Timestamp("2022-05-11")
    assert np.isnan(rel.loc["2024Q1", "backlog_growth_qoq"])
    # coverage: backlog / AWS sales TTM (2025Q3: the release's 33.0 first, the exact 33.006 later)
    assert rel.loc["2026Q2", "backlog_coverage"] == pytest.approx(496 / (33.0 + 35.579 + 37.587 + 42.232))
    assert last.loc["2026Q2", "backlog_coverage"] == pytest.approx(496 / (33.006 + 35.579 + 37.587 + 42.232))


def test_msft_segment_break_is_explicit():
    t = signal_table(FUND, "MSFT").set_index("quarter")
    assert np.isnan(t.loc["FY2025Q2", "capex_efficiency"])
    assert "segment redefined" in t.loc["FY2025Q2", "capex_efficiency_why"]
    assert t.loc["FY2025Q4", "capex_efficiency"] > 0


def test_relative_capex_efficiency_to_peers():
    rel = relative_to_peers(FUND, "capex_efficiency", SESSIONS)
    day = pd.Timestamp("2026-08-03")
    amzn = _rows(signal_table(FUND, "AMZN")).loc["2026Q2", "capex_efficiency"]
    googl = _rows(signal_table(FUND, "GOOGL")).loc["FY2026Q1", "capex_efficiency"]
    # MSFT's FY2026Q3 cloud OI is missing -> undefined that day, so the peer mean is GOOGL's alone
    assert np.isnan(rel.loc[day, "MSFT"])
    assert rel.loc[day, "relative"] == pytest.approx(amzn - googl)
    # Alphabet's 2022-2024 figures are later vintages: no efficiency of its own until its FY2025Q4 release
    assert rel.loc[:pd.Timestamp("2026-02-04"), "GOOGL"].isna().all() and rel.loc[pd.Timestamp("2026-02-05"), "GOOGL"] > 0


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


def test_no_lookahead_daily_signals_ignore_later_prices_and_sessions():
    """The daily signals a run uses (signal_table, then to_sessions on the price
    sessions) must be the same up to t whether the price data stop at t or go on
    after it with different prices. (The sessions are the only thing signals
    take from the price data, so cutting and altering them is the test.)"""
    prices = load_prices(["AMZN"])["AMZN"].frame.copy()
    table = signal_table(FUND, "AMZN", SIG_COLS)
    for t in pd.to_datetime(["2021-06-15", "2022-11-01", "2024-08-01", "2026-02-05"]):
        cut = prices.loc[:t]
        later = prices.copy()
        later.loc[later.index > t, "close"] *= 2.0
        later = later.drop(later.index[(later.index > t) & (np.arange(len(later)) % 3 == 0)])  # and fewer sessions after t
        for c in SIG_COLS:
            known_then = to_sessions(table, c, cut.index)
            full = to_sessions(table, c, later.index)
            pd.testing.assert_series_equal(full.loc[:t], known_then, check_names=False)


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
    assert main(["signals", "show", "--wide"]) == 0  # the table in full, one quarter a line
    out = capsys.readouterr().out
    lines = out.splitlines()
    out = " ".join(out.split())  # the explanations are wrapped to 100 columns
    # 2026Q2: usable at its release with the release's 2025Q3 figures; the change only once 2026Q1's inputs are public
    assert any(ln.split()[:3] == ["2026Q2", "2026-07-31", "release"] and "0.3158" in ln and "0.1491" in ln for ln in lines)
    assert any(ln.split()[:3] == ["2026Q2", "2026-08-11", "update"] and "-0.0033" in ln for ln in lines)
    assert any(ln.split()[:3] == ["2022Q3", "2022-11-10", "update"] and "104.3000" in ln for ln in lines)
    assert "eff_vs_peers" in out  # 0.3158 minus GOOGL's 0.1667 (MSFT's FY2026Q3 is undefined) known on 2026-07-31
    # the rule per field, and the dates used for the filing-only fields
    assert "capex_purchases_of_pp_and_e (capex): release (cash-flow statement, three-month column)" in out
    assert "total_rpo (rpo): 10-Q/10-K filing (Note 1; not in the release)" in out
    assert "2022Q3: AMZN 10-Q 2022Q3 (2022-11-10)" in out and "SEC deadline: 40 days after" in out
    assert "2024Q4: AMZN release 2025Q4 (2026-02-06)" in out  # a later release's comparative table
    assert "2022-11-10 (2022Q3): aws_backlog_wavg_life_years 2022Q3 (AMZN 10-Q 2022Q3); total_rpo 2022Q3 (AMZN 10-Q 2022Q3)" in out
    assert "2022Q3: backlog and rpo missing for 2022Q3 (not public yet: rpo 2022Q3 from 2022-11-10)" in out
    assert main(["signals", "show", "--ticker", "NFLX"]) == 2


# ------------------------------------------------------------- EDGAR, offline
def _facts_doc():
    """A small document in the companyfacts shape (values in USD)."""
    capex = [
        {"start": "2025-01-01", "end": "2025-03-31", "val": 25_019_000_000, "filed": "2025-05-02", "form": "10-Q", "fp": "Q1"},
        {"start": "2025-01-01", "end": "2025-06-30", "val": 57_202_000_000, "filed": "2025-08-01", "form": "10-Q", "fp": "Q2",
         "accn": "0001018724-25-000086"},
        {"start": "2025-01-01", "end": "2025-09-30", "val": 92_302_000_000, "filed": "2025-10-31", "form": "10-Q", "fp": "Q3"},
        {"start": "2025-01-01", "end": "2025-12-31", "val": 131_819_000_000, "filed": "2026-02-06", "form": "10-K", "fp": "FY"},
        # a restatement of Q1 filed a year later: a new vintage, not a rewrite
        {"start": "2025-01-01", "end": "2025-03-31", "val": 25_500_000_000, "filed": "2026-04-30", "form": "10-Q", "fp": "Q1"},
    ]
    rpo = [{"end": "2025-12-31", "val": 244_000_000_000, "filed": "2026-02-06", "form": "10-K"}]
    # as in real documents, the Q2 10-Q's cover page (dei) reports shares outstanding at a date after the quarter
    shares = [{"end": "2025-07-18", "val": 10_663_000_000, "filed": "2025-08-01", "form": "10-Q", "fp": "Q2", "accn": "0001018724-25-000086"}]
    return {"cik": 1018724, "facts": {
        "dei": {"EntityCommonStockSharesOutstanding": {"units": {"shares": shares}}},
        "us-gaap": {
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


# ------------------------------------------------------------- availability: the document each value came from
def _asof(ticker, day, metric, quarter):
    p = as_of_panel(FUND.pit, ticker, day)
    q = pd.Period(quarter, "Q")
    return p.loc[q, metric] if (len(p) and q in p.index and metric in p) else np.nan


def test_rpo_from_the_10q_is_not_usable_at_the_release():
    """Amazon's RPO is in Note 1 of the 10-Q, not in the release: 2022Q3's is usable
    from the 10-Q, whose filing date the sources do not give, so from the SEC
    deadline (40 days after the quarter end: Wed 2022-11-09, after the close)."""
    assert _asof("AMZN", "2022-10-28", "capex", "2022Q3") == pytest.approx(16.38)  # release value: usable
    assert np.isnan(_asof("AMZN", "2022-10-28", "rpo", "2022Q3"))
    assert np.isnan(_asof("AMZN", "2022-11-09", "rpo", "2022Q3"))
    assert _asof("AMZN", "2022-11-10", "rpo", "2022Q3") == 104.3
    # 2022Q2: the notes give the 10-Q's filing date (Fri 2022-07-29), time unknown -> after the close
    assert np.isnan(_asof("AMZN", "2022-07-29", "rpo", "2022Q2"))
    assert _asof("AMZN", "2022-08-01", "rpo", "2022Q2") == 100.1
    row = FUND.pit[(FUND.pit["ticker"] == "AMZN") & (FUND.pit["quarter"] == "2022Q3") & (FUND.pit["field"] == "total_rpo")].iloc[0]
    assert row["document"] == "AMZN 10-Q 2022Q3" and "deadline" in row["rule"]


def test_value_from_a_later_filing_is_not_usable_before_that_filing():
    # 2023Q1 exact figures were read in the prior-year column of the 10-Q for Q1 2024 (accepted 2024-04-30 18:38)
    assert np.isnan(_asof("AMZN", "2024-04-30", "cloud_operating_income", "2023Q1"))
    assert _asof("AMZN", "2024-05-01", "cloud_operating_income", "2023Q1") == 5.123
    # 2024Q4 from the Q4 2025 release's comparative table: usable from that release (2026-02-05 amc)
    assert np.isnan(_asof("AMZN", "2026-02-05", "cloud_operating_income", "2024Q4"))
    assert _asof("AMZN", "2026-02-06", "cloud_operating_income", "2024Q4") == 10.632
    # 2019Q3 segment figures from the 10-Q for Q3 2020 (deadline Mon 2020-11-09)
    assert np.isnan(_asof("AMZN", "2020-11-09", "cloud_revenue", "2019Q3"))
    assert _asof("AMZN", "2020-11-10", "cloud_revenue", "2019Q3") == 8.995
    # Alphabet 2023 figures are the 2024 releases' prior-year columns
    assert np.isnan(_asof("GOOGL", "2024-04-25", "cloud_operating_income", "2023Q1"))
    assert _asof("GOOGL", "2024-04-26", "cloud_operating_income", "2023Q1") == 0.191


def test_release_precision_first_vintage_then_exact_later():
    """2025Q3 AWS operating income: the release's $11.4B from its reaction session,
    the exact 11.434 (FY2025 minus the other quarters, two of which come from 2026
    10-Q comparatives) only from the last of those documents."""
    assert _asof("AMZN", "2025-10-31", "cloud_operating_income", "2025Q3") == 11.4
    assert _asof("AMZN", "2026-08-10", "cloud_operating_income", "2025Q3") == 11.4
    assert _asof("AMZN", "2026-08-11", "cloud_operating_income", "2025Q3") == pytest.approx(11.434)
    # Alphabet's 2022 Cloud OI as first reported, then recast in the 2023 releases
    assert _asof("GOOGL", "2022-04-27", "cloud_operating_income", "2022Q1") == -0.931
    assert _asof("GOOGL", "2023-04-26", "cloud_operating_income", "2022Q1") == -0.706


def test_signal_appears_when_its_last_input_becomes_public():
    t = signal_table(FUND, "AMZN")
    q3 = t[t["quarter"] == "2022Q3"].set_index("available")
    assert np.isnan(q3.loc[pd.Timestamp("2022-10-28"), "backlog"])
    assert "rpo 2022Q3 from 2022-11-10" in q3.loc[pd.Timestamp("2022-10-28"), "backlog_why"]
    assert q3.loc[pd.Timestamp("2022-11-10"), "kind"] == "update"
    assert q3.loc[pd.Timestamp("2022-11-10"), "backlog_growth_qoq"] == pytest.approx(104.3 / 100.1 - 1)
    s = to_sessions(t, "backlog_growth_qoq", SESSIONS)
    assert np.isnan(s[pd.Timestamp("2022-11-09")]) and s[pd.Timestamp("2022-11-10")] == pytest.approx(104.3 / 100.1 - 1)
    assert t["available"].is_monotonic_increasing or t["available"].dropna().is_monotonic_increasing


def test_deadline_lag_rolls_past_weekends_and_federal_holidays():
    from signals.availability import deadline_session, filing_deadline

    assert filing_deadline(pd.Timestamp("2022-09-30"), annual=False) == pd.Timestamp("2022-11-09")
    # Sat 2024-11-09 -> Mon 2024-11-11 is Veterans Day -> due Tue 2024-11-12, usable the next session
    assert filing_deadline(pd.Timestamp("2024-09-30"), annual=False) == pd.Timestamp("2024-11-12")
    assert deadline_session(pd.Timestamp("2024-09-30"), annual=False) == pd.Timestamp("2024-11-13")
    # 10-K: 60 days after the fiscal year end; Sat 2025-03-01 -> Mon 2025-03-03
    assert deadline_session(pd.Timestamp("2024-12-31"), annual=True) == pd.Timestamp("2025-03-04")


AMZN_HEADER = ("fiscal_quarter,period_end,report_date,report_time,total_net_sales,operating_income,aws_net_sales,aws_operating_income,"
               "capex_purchases_of_pp_and_e,capex_ttm,pp_and_e_finance_leases,aws_backlog,aws_backlog_wavg_life_years,total_rpo\n")
TINY_AMZN = AMZN_HEADER + (
    "2023Q4,2023-12-31,2024-02-01,amc,100,,10,1,5,,,,,40\n"
    "2024Q1,2024-03-31,2024-04-30,amc,100,,10,1,5,,,,,50\n"
    "2024Q2,2024-06-30,2024-08-01,amc,100,,10,2,5,,,,,60\n"
    "2024Q3,2024-09-30,2024-10-31,amc,100,,10,3,5,,,,,70\n"
    "2024Q4,2024-12-31,2025-02-06,amc,100,,10,4,10,,,,,80\n"
)
TINY_PEERS = ("ticker,fiscal_quarter,period_end,report_date,report_time,total_revenue,operating_income,cloud_revenue,"
              "cloud_operating_income,capex,capex_incl_finance_leases,rpo,capex_guidance_note\n"
              "MSFT,FY2024Q4,2024-06-30,2024-07-30,amc,64.7,,,,,,,\n")
TINY_AVAIL = ("ticker,fiscal_quarter,metric,value,source,source_quarter,published,time,basis\n"
              "AMZN,2024Q2,total_rpo,,10-Q,,2024-08-02,amc,10-Q filed Fri 2024-08-02 after the close\n"
              "AMZN,2024Q3,aws_operating_income,2.9,release,,,,the release's rounded figure\n"
              "AMZN,2024Q3,aws_operating_income,,10-K,2024Q4,,,exact figure from the 10-K's quarterly note\n")


def _tiny(tmp_path, avail=TINY_AVAIL):
    (tmp_path / "a.csv").write_text(TINY_AMZN)
    (tmp_path / "p.csv").write_text(TINY_PEERS)
    (tmp_path / "av.csv").write_text(avail)
    return load_fundamentals(tmp_path / "a.csv", tmp_path / "p.csv", tmp_path / "av.csv")


def test_hand_made_availability_worked_on_paper(tmp_path):
    """Worked out by hand:
    RPO (10-Q/10-K only): 2023Q4 10-K due Thu 2024-02-29 -> usable Fri 2024-03-01; 2024Q1 10-Q due
    Fri 2024-05-10 -> Mon 2024-05-13; 2024Q2 filed Fri 2024-08-02 after the close -> Mon 2024-08-05;
    2024Q3 due 2024-11-12 -> 2024-11-13; 2024Q4 10-K due Mon 2025-03-03 -> Tue 2025-03-04.
    AWS OI 2024Q3: 2.9 from the release (Fri 2024-11-01), 3 from the 10-K (2025-03-04).
    Capex efficiency = AWS OI TTM / capex TTM: at the 2024Q4 release (Fri 2025-02-07)
    (1+2+2.9+4)/25 = 0.396, change vs 2024Q3's (1+1+2+2.9)/20 = 0.345 -> +0.051;
    on 2025-03-04 10/25 = 0.4 and 7/20 = 0.35 -> +0.05, backlog growth 80/70 - 1."""
    f = _tiny(tmp_path)
    rpo = f.pit[f.pit["field"] == "total_rpo"].set_index("quarter")["available"]
    assert list(rpo.dt.strftime("%Y-%m-%d")) == ["2024-03-01", "2024-05-13", "2024-08-05", "2024-11-13", "2025-03-04"]
    oi = f.pit[(f.pit["field"] == "aws_operating_income") & (f.pit["quarter"] == "2024Q3")].sort_values("available")
    assert list(oi["value"]) == [2.9, 3.0]
    assert list(oi["available"].dt.strftime("%Y-%m-%d")) == ["2024-11-01", "2025-03-04"]
    assert list(oi["document"]) == ["AMZN release 2024Q3", "AMZN 10-K 2024Q4"]
    t = signal_table(f, "AMZN").set_index("available")
    assert list(t.index.strftime("%Y-%m-%d")) == ["2024-02-02", "2024-03-01", "2024-05-01", "2024-05-13", "2024-08-02",
                                                   "2024-08-05", "2024-11-01", "2024-11-13", "2025-02-07", "2025-03-04"]
    rel, upd = t.loc[pd.Timestamp("2025-02-07")], t.loc[pd.Timestamp("2025-03-04")]
    assert rel["quarter"] == upd["quarter"] == "2024Q4" and (rel["kind"], upd["kind"]) == ("release", "update")
    assert rel["capex_efficiency"] == pytest.approx(9.9 / 25) and rel["capex_efficiency_chg"] == pytest.approx(9.9 / 25 - 6.9 / 20)
    assert np.isnan(rel["backlog"]) and np.isnan(rel["backlog_growth_qoq"])
    assert upd["capex_efficiency"] == pytest.approx(0.4) and upd["capex_efficiency_chg"] == pytest.approx(0.05)
    assert upd["backlog_growth_qoq"] == pytest.approx(80 / 70 - 1)
    assert "aws_operating_income 2024Q3" in upd["new_values"] and "total_rpo 2024Q4" in upd["new_values"]


@pytest.mark.parametrize("row, field", [
    ("NFLX,2024Q2,total_rpo,,10-Q,,,,x", "ticker"),
    ("AMZN,2031Q1,total_rpo,,10-Q,,,,x", "fiscal_quarter"),
    ("AMZN,2024Q2,aws_foo,,10-Q,,,,x", "metric"),
    ("MSFT,FY2024Q4,aws_net_sales,,release,,,,x", "metric"),
    ("AMZN,2024Q2,operating_income,,10-Q,,,,x", "value"),      # dates an empty cell
    ("AMZN,2024Q2,total_rpo,,10-Q,2024Q1,,,x", "source_quarter"),  # a document before the quarter ended
    ("AMZN,2024Q2,total_rpo,,10-K,,,,x", "source"),            # a 10-K for a second quarter
    ("AMZN,2024Q2,total_rpo,,8-K,,,,x", "source"),
])
def test_availability_file_errors_name_file_line_and_field(tmp_path, row, field):
    with pytest.raises(InputError) as err:
        _tiny(tmp_path, "ticker,fiscal_quarter,metric,value,source,source_quarter,published,time,basis\n"
                        "AMZN,2024Q3,total_rpo,,10-Q,,,,fine\n" + row + "\n")
    msg = str(err.value)
    assert "av.csv" in msg and "line 3" in msg and f"field '{field}'" in msg


def test_edgar_filed_dates_replace_the_deadline_lag(tmp_path):
    from signals.edgar import filing_dates

    filings = filing_dates(_facts_doc(), "AMZN")
    (tmp_path / "a.csv").write_text(AMZN_HEADER + "2025Q2,2025-06-30,2025-07-31,amc,,,,,,,,,,195\n")
    (tmp_path / "p.csv").write_text(TINY_PEERS)
    (tmp_path / "av.csv").write_text("ticker,fiscal_quarter,metric,value,source,source_quarter,published,time,basis\n")
    lagged = load_fundamentals(tmp_path / "a.csv", tmp_path / "p.csv", tmp_path / "av.csv")
    filed = load_fundamentals(tmp_path / "a.csv", tmp_path / "p.csv", tmp_path / "av.csv", filings=filings)
    assert lagged.pit["available"].iloc[0] == pd.Timestamp("2025-08-12")  # due Mon 2025-08-11
    assert filed.pit["available"].iloc[0] == pd.Timestamp("2025-08-04")  # 10-Q filed Fri 2025-08-01
    assert "EDGAR" in filed.pit["rule"].iloc[0]
