"""Users' own signals and events from a script (issue 14): registered signals are evaluated point in time like the
shipped ones and reach the run's signal table, the signal regressions and `aibt signals show`; an event table
built as a DataFrame is validated exactly as an event file, its problems named by row."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.cli import main
from events.errors import InputError
from events.loader import frame_to_csv, load_calendar


@pytest.fixture
def cloud_margin():
    """A user signal: AWS operating margin (cloud operating income / cloud revenue), registered for one test."""
    from signals import registry
    from signals.history import SIGNALS

    @registry.register_signal("cloud_margin_test", "fraction of cloud revenue")
    def cloud_margin_test(panel, ticker):
        return panel["cloud_operating_income"] / panel["cloud_revenue"]

    yield "cloud_margin_test"
    SIGNALS.pop("cloud_margin_test", None)
    registry.USER_SIGNALS.remove("cloud_margin_test")


def test_a_registered_signal_is_evaluated_point_in_time(cloud_margin):
    from signals.fundamentals import as_of_panel, load_fundamentals
    from signals.history import signal_table

    fund = load_fundamentals()
    t = signal_table(fund, "AMZN", [cloud_margin]).dropna(subset=["available"])
    assert t[cloud_margin].notna().sum() >= 15
    for _, row in t.sample(8, random_state=1).iterrows():  # each value from the figures known that session, nothing later
        panel = as_of_panel(fund.pit, "AMZN", row["available"])
        period = pd.Period(row["period_end"], freq="Q")
        known = {c: panel.at[period, c] if c in panel else np.nan for c in ("cloud_operating_income", "cloud_revenue")}
        want = known["cloud_operating_income"] / known["cloud_revenue"]
        assert row[cloud_margin] == pytest.approx(want, nan_ok=True)
    # AWS 2024Q1: operating income 9.421 over revenue 25.037 (USD bn), usable from the release's reaction session
    q = t[(t["quarter"] == "2024Q1") & (t["kind"] == "release")].iloc[0]
    assert q[cloud_margin] == pytest.approx(9.421 / 25.037, rel=1e-3) and q["available"] == pd.Timestamp("2024-05-01")


def test_a_registered_signal_reaches_runs_regressions_and_signals_show(cloud_margin, capsys):
    from backtests.inputs import target_signals
    from backtests.stats.study import signal_regressions
    from backtests.config import load_config
    from backtests.stats.study import _returns

    table, _ = target_signals("AMZN")
    assert cloud_margin in table and table[cloud_margin].notna().any()
    cfg = load_config()
    peers = [p for p in cfg["universe"]["peers"] if p != "AMZN"]
    rets, _ = _returns(["AMZN", *peers, "SPY"])
    out, _ = signal_regressions(cfg, rets, rets.index, peers)
    mine = [r for r in out["regressions"] if r["x"] == [cloud_margin]]
    assert len(mine) == len(cfg["study"]["signal_windows"]) and all("n" in r for r in mine)
    assert main(["signals", "show", "--signal", cloud_margin, "--format", "csv"]) == 0
    shown = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert cloud_margin in shown and shown[cloud_margin].notna().any()


def test_a_registered_signal_is_in_signals_csv_as_known_each_session(cloud_margin):
    from backtests.inputs import target_signals
    from backtests.runner import run
    from signals.history import to_sessions

    res = run({"dates": {"start": "2024-01-02", "end": "2024-12-31"}, "events": {"earnings": False}, "placebo": {"n": 10},
               "study": {"enabled": False}, "output": {"tearsheet": False}})
    table, _ = target_signals("AMZN")
    assert cloud_margin in res.signals
    pd.testing.assert_series_equal(res.signals[cloud_margin], to_sessions(table, cloud_margin, res.signals.index), check_names=False)
    assert res.signals.loc["2024-04-30", cloud_margin] != res.signals.loc["2024-05-01", cloud_margin]  # 2024Q1 usable from 2024-05-01


def test_a_signal_name_taken_or_malformed_is_refused():
    from signals.registry import register_signal

    with pytest.raises(InputError, match="exists already"):
        register_signal("capex_efficiency", "ratio")
    with pytest.raises(InputError, match="not a signal name"):
        register_signal("Bad Name", "ratio")


EVENTS = pd.DataFrame({
    "event_id": ["deal_a", "deal_b"], "date": [pd.Timestamp("2024-05-01"), pd.Timestamp("2024-06-03")], "time": ["amc", "bmo"],
    "scheduled": [False, False], "company": ["AMZN", "AMZN"], "tickers_affected": [["AMZN", "MSFT"], ["AMZN"]],
    "category": ["capacity_power", "ai_investment"], "headline": ["A 5GW campus", "A $12B deal"], "amount_usd_bn": [5.0, np.nan],
    "source_url": ["https://example.com/a", ""], "confidence": ["high", "medium"]})


def test_events_from_a_dataframe_load_like_the_same_csv_file(tmp_path):
    text = frame_to_csv(EVENTS)
    (tmp_path / "ev.csv").write_text(text)
    a = load_calendar(bundled=False, earnings=False, inline={"mine": text}).frame
    b = load_calendar([tmp_path / "ev.csv"], bundled=False, earnings=False).frame
    pd.testing.assert_frame_equal(a.drop(columns=["origin"]), b.drop(columns=["origin"]))
    assert a["day0"].tolist() == [pd.Timestamp("2024-05-02"), pd.Timestamp("2024-06-03")]  # amc -> next session
    assert a["tickers"].iloc[0] == ("AMZN", "MSFT") and a["origin"].iloc[0] == "<inline mine>"


def test_a_bad_dataframe_is_refused_naming_each_row_and_field():
    bad = EVENTS.astype({"date": object})
    bad.loc[1, "date"] = "2024-13-01"  # a date typed by hand in a script
    bad.loc[0, "time"] = "evening"
    with pytest.raises(InputError) as exc:
        load_calendar(bundled=False, earnings=False, inline={"mine": frame_to_csv(bad)})
    text = str(exc.value)
    assert "DataFrame 'mine', row 0, field 'time': unknown value 'evening'" in text
    assert "DataFrame 'mine', row 1, field 'date': bad date '2024-13-01'" in text
    assert text.index("row 0") < text.index("row 1")
    with pytest.raises(InputError, match="missing column"):
        load_calendar(bundled=False, earnings=False, inline={"mine": frame_to_csv(EVENTS.drop(columns=["headline"]))})
    with pytest.raises(InputError, match="must be a pandas DataFrame"):
        frame_to_csv([{"event_id": "x"}])


def test_a_run_takes_events_from_a_dataframe_and_keeps_them_in_its_config(tmp_path):
    """run(config, events=df): the script's events are selected and traded like a file's, the study sees them, and the
    run directory's config.yaml holds them, so the run can be repeated from the directory alone."""
    import yaml

    from backtests.reports.rundir import write_run
    from backtests.runner import run
    import datetime as dt

    cfg = {"dates": {"start": "2024-03-01", "end": "2024-08-30"}, "events": {"bundled": False, "earnings": False},
           "placebo": {"n": 20}, "study": {"enabled": False}, "output": {"tearsheet": False}}
    res = run(cfg, events=EVENTS)
    ev = res.events.set_index("event_id")
    assert set(ev.index) == {"deal_a", "deal_b"} and ev["traded"].all() and res.summary["n_trades"] == 2
    assert res.config["events"]["inline"]["script"] == frame_to_csv(EVENTS)
    d = write_run(res, tmp_path / "r", dt.datetime.now(dt.timezone.utc))
    again = run(yaml.safe_load((d / "config.yaml").read_text()))
    assert again.summary == res.summary
    bad = EVENTS.copy()
    bad.loc[0, "confidence"] = "sure"
    with pytest.raises(InputError, match="DataFrame 'script', row 0, field 'confidence'"):
        run(cfg, events=bad)


def test_a_user_signal_that_fails_or_misspells_a_metric_is_a_clear_user_error():
    from signals import registry
    from signals.fundamentals import load_fundamentals
    from signals.history import SIGNALS, signal_table

    @registry.register_signal("typo_test", "fraction")
    def typo_test(panel, ticker):
        return panel["cloud_revnue"]

    @registry.register_signal("boom_test", "fraction")
    def boom_test(panel, ticker):
        return 1 / 0

    try:
        with pytest.raises(InputError, match="reads 'cloud_revnue', which is not a fundamentals metric"):
            signal_table(load_fundamentals(), "AMZN", ["typo_test"])
        with pytest.raises(InputError, match="signal 'boom_test' raised ZeroDivisionError"):
            signal_table(load_fundamentals(), "AMZN", ["boom_test"])
    finally:
        for n in ("typo_test", "boom_test"):
            SIGNALS.pop(n, None)
            registry.USER_SIGNALS.remove(n)


def test_a_dataframe_keeps_what_a_csv_could_not_say_so_the_reader_refuses_it():
    """A time of day or a time zone in a date would be silently dropped by writing the day only (a bmo event at 20:30
    would trade before the news): they are kept, and refused as a file's would be; a headline with a line break does
    not shift the rows named after it."""
    bad = EVENTS.astype({"date": object})
    bad.loc[0, "date"] = pd.Timestamp("2024-05-01 20:30")
    bad.loc[1, "date"] = pd.Timestamp("2024-06-03", tz="UTC")
    with pytest.raises(InputError) as exc:
        load_calendar(bundled=False, earnings=False, inline={"mine": frame_to_csv(bad)})
    assert "row 0, field 'date': bad date '2024-05-01T20:30:00'" in str(exc.value) and "row 1, field 'date'" in str(exc.value)
    two = pd.concat([EVENTS, EVENTS.assign(event_id=["deal_c", "deal_d"])], ignore_index=True)
    two.loc[0, "headline"] = "A 5GW campus,\nin two lines"
    two.loc[3, "time"] = "evening"
    with pytest.raises(InputError, match="DataFrame 'mine', row 3, field 'time'"):
        load_calendar(bundled=False, earnings=False, inline={"mine": frame_to_csv(two)})


def test_a_user_signal_returning_the_wrong_shape_is_refused_not_silently_empty():
    from signals import registry
    from signals.fundamentals import load_fundamentals
    from signals.history import SIGNALS, signal_table

    @registry.register_signal("wrong_index_test", "fraction")
    def wrong_index_test(panel, ticker):
        return pd.Series(1.0, index=range(len(panel)))  # positions, not quarters

    @registry.register_signal("text_test", "fraction")
    def text_test(panel, ticker):
        return pd.Series("high", index=panel.index)

    @registry.register_signal("ratio_test", "ratio")
    def ratio_test(panel, ticker):
        return panel["cloud_operating_income"] / (panel["cloud_revenue"] * 0)  # infinite: undefined, not inf

    try:
        fund = load_fundamentals()
        with pytest.raises(InputError, match="indexed unlike the panel"):
            signal_table(fund, "AMZN", ["wrong_index_test"])
        with pytest.raises(InputError, match="not numbers, e.g. 'high'"):
            signal_table(fund, "AMZN", ["text_test"])
        t = signal_table(fund, "AMZN", ["ratio_test"])
        assert t["ratio_test"].isna().all()
    finally:
        for n in ("wrong_index_test", "text_test", "ratio_test"):
            SIGNALS.pop(n, None)
            registry.USER_SIGNALS.remove(n)
