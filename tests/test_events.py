"""Event calendar: validation, NYSE alignment (hand-worked dates), windows, clusters, volume check."""
from __future__ import annotations

import pandas as pd
import pytest

from backtests.cli import main
from backtests.market.marketdata import load_prices
from events.align import Window, align, first_legal_entry, is_legal_entry, unknown_time_windows
from events.calendar import reaction_session
from events.clusters import apply_policy, cluster_report, find_clusters
from events.errors import InputError
from events.loader import load_calendar
from events.volume_check import volume_check

HEADER = "event_id,date,time,scheduled,company,tickers_affected,category,headline,amount_usd_bn,source_url,confidence\n"
SESSIONS = load_prices(["AMZN"])["AMZN"].frame.index


@pytest.mark.parametrize(
    "date, time, day0",
    [
        ("2026-04-20", "amc", "2026-04-21"),  # Monday after the close -> Tuesday (the Anthropic 5GW deal)
        ("2026-04-20", "bmo", "2026-04-20"),
        ("2026-04-20", "intraday", "2026-04-20"),
        ("2026-04-20", "unknown", "2026-04-20"),
        ("2026-04-18", "bmo", "2026-04-20"),  # Saturday -> Monday
        ("2026-04-18", "amc", "2026-04-20"),  # Saturday evening is still before Monday's open
        ("2026-01-17", "unknown", "2026-01-20"),  # Saturday before MLK day (Mon 2026-01-19) -> Tuesday
        ("2026-04-24", "amc", "2026-04-27"),  # Friday after the close -> Monday
        ("2026-04-02", "amc", "2026-04-06"),  # Thursday amc, Good Friday 2026-04-03 closed -> Monday
        ("2025-01-08", "amc", "2025-01-10"),  # 2025-01-09 national day of mourning (closed)
        ("2024-12-24", "amc", "2024-12-26"),  # Christmas Eve half day amc -> skip Christmas
    ],
)
def test_reaction_session_hand_worked(date, time, day0):
    assert reaction_session(date, time) == pd.Timestamp(day0)


def test_bundled_calendar_reaction_sessions():
    cal = load_calendar()
    f = cal.frame.set_index("event_id")
    assert len(cal) == 79 + 151
    assert f.loc["anthropic_amzn_5gw", "day0"] == pd.Timestamp("2026-04-21")
    assert f.loc["amzn_q4_2025_capex_200b", "day0"] == pd.Timestamp("2026-02-06")
    assert f.loc["earn_AMZN_FY2026Q1", "day0"] == pd.Timestamp("2026-04-30")
    assert f.loc["deepseek_selloff", "day0"] == pd.Timestamp("2025-01-27")
    # every day 0 is a real session of the price data
    assert f["day0"].isin(SESSIONS).all()
    assert set(cal.fingerprints) and all(len(v) == 64 for v in cal.fingerprints.values())


def test_validation_reports_every_problem_with_line_and_field(tmp_path):
    p = tmp_path / "mine.csv"
    p.write_text(
        HEADER
        + "a1,2025-01-06,bmo,false,AMZN,AMZN,ai_partnership,ok,1,http://x,high\n"
        + "a2,2025-01-07,noon,false,AMZN,AMZN,ai_partnership,bad time,,http://x,high\n"
        + "a3,2025-01-08,bmo,false,AMZN,AMZN,rumour,bad category,,http://x,high\n"
        + "a4,2025-02-30,bmo,false,AMZN,AMZN,other,bad date,,http://x,high\n"
        + "a1,2025-01-09,bmo,false,AMZN,AMZN,other,duplicate id,,http://x,high\n"
        + "a6,2025-01-10,bmo,false,AMZN,,other,no tickers,,http://x,high\n"
        + "a7,2030-01-10,bmo,false,AMZN,AMZN,other,after the data,,http://x,high\n"
        + "a8,2025-01-13,bmo,false,AMZN,AMZN,other,bad amount,12bn,http://x,high\n"
    )
    with pytest.raises(InputError) as err:
        load_calendar([p], bundled=False, earnings=False, price_range=(SESSIONS[0], SESSIONS[-1]))
    probs = {(pr.line, pr.field) for pr in err.value.problems}
    assert probs == {
        (3, "time"), (4, "category"), (5, "date"), (6, "event_id"), (7, "tickers_affected"), (8, "date"), (9, "amount_usd_bn"),
    }
    assert all(pr.path == str(p) for pr in err.value.problems)


def test_cli_validate_exits_2_and_lists_all(tmp_path, capsys):
    p = tmp_path / "mine.csv"
    p.write_text(HEADER + "x,2025-01-07,noon,false,AMZN,AMZN,other,h,,u,high\n" + "y,2025-01-08,bmo,maybe,AMZN,AMZN,other,h,,u,high\n")
    assert main(["events", "validate", str(p)]) == 2
    err = capsys.readouterr().err
    assert "2 problems" in err and "line 2, field 'time'" in err and "line 3, field 'scheduled'" in err
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "x,2025-01-07,amc,false,AMZN,AMZN,other,h,,u,high\n")
    assert main(["events", "validate", str(good)]) == 0
    assert "ok, 1 events" in capsys.readouterr().out


def test_user_file_joins_bundled_and_duplicate_ids_across_files_fail(tmp_path):
    p = tmp_path / "mine.csv"
    p.write_text(HEADER + "my_event,2025-03-01,unknown,false,AMZN,AMZN;NVDA,custom_silicon,h,,u,low\n")
    cal = load_calendar([p])
    assert cal.frame.set_index("event_id").loc["my_event", "day0"] == pd.Timestamp("2025-03-03")
    dup = tmp_path / "dup.csv"
    dup.write_text(HEADER + "anthropic_amzn_5gw,2025-03-01,unknown,false,AMZN,AMZN,other,h,,u,low\n")
    with pytest.raises(InputError, match="duplicate event_id 'anthropic_amzn_5gw'"):
        load_calendar([dup])


def _ev(rows):
    f = pd.DataFrame(rows, columns=["event_id", "date", "time", "scheduled"])
    f["date"] = pd.to_datetime(f["date"])
    f["day0"] = [reaction_session(d, t) for d, t in zip(f["date"], f["time"])]
    f["company"], f["tickers"], f["category"], f["headline"] = "AMZN", [("AMZN",)] * len(f), "other", "h"
    return f


def test_windows_and_earliest_legal_entry():
    f = _ev([
        ("bmo", "2026-04-20", "bmo", False),
        ("amc_fri", "2026-04-24", "amc", False),
        ("intra", "2026-04-22", "intraday", False),
        ("unk", "2026-04-23", "unknown", False),
        ("earn", "2026-04-29", "amc", True),
        ("last", "2026-10-05", "bmo", False),
    ])
    a = align(f, SESSIONS, Window(-2, 2), notice_sessions=5).set_index("event_id")
    assert a.loc["bmo", "window_start"] == pd.Timestamp("2026-04-16")
    assert a.loc["bmo", "window_end"] == pd.Timestamp("2026-04-22")
    assert (a.loc["bmo", "earliest_entry"], a.loc["bmo", "earliest_entry_fill"]) == (pd.Timestamp("2026-04-20"), "open")
    assert a.loc["amc_fri", "earliest_entry"] == pd.Timestamp("2026-04-27")
    assert (a.loc["intra", "earliest_entry"], a.loc["intra", "earliest_entry_fill"]) == (pd.Timestamp("2026-04-22"), "close")
    assert a.loc["unk", "earliest_entry_fill"] == "close"
    # scheduled: 5 sessions before day 0 (2026-04-30) -> 2026-04-23, assumed
    assert a.loc["earn", "earliest_entry"] == pd.Timestamp("2026-04-23") and a.loc["earn", "public_assumed"]
    # end of data: day 0 2026-10-05, +2 runs past 2026-10-06
    assert not a.loc["last", "window_complete"] and pd.isna(a.loc["last", "window_end"])
    assert first_legal_entry(0, "close", "open") == 1
    assert is_legal_entry(0, "close", 0, "close") and not is_legal_entry(0, "open", 0, "close")
    assert not is_legal_entry(-1, "close", 0, "open")


def test_public_since_column_sets_the_pre_event_limit():
    f = _ev([("earn", "2026-04-29", "amc", True)])
    f["public_since"] = pd.Timestamp("2026-04-01")
    a = align(f, SESSIONS).iloc[0]
    assert a["earliest_entry"] == pd.Timestamp("2026-04-01") and not a["public_assumed"]


def test_unknown_time_needs_day_plus_one():
    f = _ev([("unk", "2026-04-23", "unknown", False), ("b", "2026-04-20", "bmo", False)])
    assert unknown_time_windows(f, Window(-1, 0)) == ["unk"]
    assert unknown_time_windows(f, Window(-1, 1)) == []


def test_clusters_on_bundled_data_and_policies():
    cal = load_calendar()
    a = align(cal.frame, SESSIONS, Window(0, 1))
    c = find_clusters(a, 0, 1)
    by = c.set_index("event_id")
    # the four hyperscalers' capex guidance on the evening of 2026-04-29 share day 0
    ids = ["amzn_q1_2026_capex", "googl_capex_raise_2026q1", "meta_capex_raise_2026q1", "msft_capex_fy26q3"]
    assert by.loc[ids, "cluster"].nunique() == 1 and by.loc[ids, "same_session"].all()
    rep = cluster_report(c)
    assert (rep["size"] >= 2).all()
    merged = apply_policy(c, "merge")
    assert len(merged) == c["day0"].nunique()
    row = merged[merged["event_id"].str.contains("amzn_q1_2026_capex")].iloc[0]
    assert "earn_AMZN_FY2026Q1" in row["event_id"] and row["merged_from"] >= 5
    dropped = apply_policy(c, "drop")
    assert (dropped["cluster_size"] == 1).all() and len(dropped) < len(c)
    first = apply_policy(c, "first")
    assert first["cluster"].is_unique and len(first) == c["cluster"].nunique()
    with pytest.raises(InputError, match="cluster policy"):
        apply_policy(c, "average")


def test_volume_check_on_bundled_earnings():
    prices = load_prices()
    vol = pd.DataFrame({t: d.frame["volume"] for t, d in prices.data.items()})
    cal = load_calendar().select(categories=["earnings"])
    vc = volume_check(align(cal.frame, SESSIONS), vol)
    assert len(vc) == 151
    # most releases show the peak volume of the 11 sessions on day 0 (measured: 130 of 151)
    assert vc["is_peak"].sum() == 130
    assert set(vc.loc[vc["flag"], "event_id"]) == {"earn_AMZN_FY2019Q2", "earn_ORCL_FY2020Q3", "earn_ORCL_FY2021Q2", "earn_MSFT_FY2024Q3"}


def test_volume_check_hand_made():
    idx = SESSIONS[100:115]
    vol = pd.DataFrame({"AMZN": [10.0] * 15}, index=idx)
    vol.iloc[7, 0] = 30.0
    f = _ev([("e", idx[7].date().isoformat(), "bmo", False), ("quiet", idx[8].date().isoformat(), "bmo", False)])
    vc = volume_check(f, vol, half=5).set_index("event_id")
    assert vc.loc["e", "is_peak"] and vc.loc["e", "ratio"] == pytest.approx(3.0) and not vc.loc["e", "flag"]
    assert vc.loc["quiet", "rank"] == 2 and vc.loc["quiet", "flag"]


def test_cli_events_list_filters(capsys):
    assert main(["events", "list", "--category", "ai_investment", "--ticker", "AMZN", "--since", "2026-01-01"]) == 0
    out = capsys.readouterr().out
    assert "anthropic_amzn_5gw" in out and "2026-04-21" in out and "earn_" not in out
    assert main(["events", "list"]) == 0
    assert "230 events" in capsys.readouterr().out
