"""The CLI as people use it (issue 12): progress on stderr for long commands, silent with --quiet, plain lines (a log
file reads well), results on stdout."""
from __future__ import annotations

import pytest

from backtests.cli import main

TINY = "dates: {start: 2024-01-02, end: 2024-12-31}\nevents: {earnings: false}\nplacebo: {n: 20}\noutput: {tearsheet: false}\n"


def test_a_run_says_what_it_is_doing_on_stderr_and_nothing_with_quiet(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(TINY)
    assert main(["run", "--config", str(cfg), "--out", str(tmp_path / "a")]) == 0
    out, err = capsys.readouterr()
    steps = [ln for ln in err.splitlines() if ln.startswith("aibt: ")]
    assert [s.split("...")[0] for s in steps[:-1]] == [f"aibt: running run ({cfg}) on the backtrader engine: data, plan, simulation, placebo",
                                                       "aibt: event study", "aibt: writing the run directory"]
    assert steps[-1].startswith("aibt: done in ") and "\x1b" not in err  # plain text, no terminal codes
    assert "total return" in out and "aibt:" not in out
    assert main(["run", "-q", "--config", str(cfg), "--out", str(tmp_path / "b")]) == 0
    out_q, err_q = capsys.readouterr()
    assert err_q == "" and "total return" in out_q


def test_a_sweep_with_quiet_prints_no_progress(tmp_path, capsys):
    spec = tmp_path / "s.yaml"
    spec.write_text("base: {dates: {start: 2024-01-02, end: 2024-06-28}, events: {earnings: false}, placebo: {n: 10}}\n"
                    "params: {costs.slippage_bps: [1.0, 2.0]}\nsearch: grid\nmetric: sharpe\n")
    assert main(["sweep", "run", str(spec), "--db", str(tmp_path / "q.db"), "--engine", "fast", "--verify-top", "0", "-q"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "2 combinations: 2 done" in out
    assert main(["sweep", "run", str(spec), "--db", str(tmp_path / "p.db"), "--engine", "fast", "--verify-top", "0"]) == 0
    assert "sweep: 2/2 run this call" in capsys.readouterr().err  # not a terminal: plain progress lines


def test_water_level_cuts_the_widest_columns_first_and_evenly():
    from backtests.cli import _water_level

    # widths 60, 30, 20; save 40: capping at 25 saves 35 + 5 = 40 (and 26 saves only 34 + 4 = 38)
    assert _water_level({"a": 60, "b": 30, "c": 20}, 40, 10) == 25
    assert _water_level({"a": 60, "b": 30}, 20, 10) == 40  # only the widest gives way
    assert _water_level({"a": 20, "b": 20}, 30, 10) is None  # even 10 each saves only 20


def test_fit_width_says_whether_it_shortened_or_only_wrapped():
    import pandas as pd

    from backtests.cli import fit_width

    text, done = fit_width(pd.DataFrame({"id": ["x1", "x2"], "note": ["a" * 150, "short"]}), width=60)
    assert done == "shortened" and max(map(len, text.splitlines())) <= 60 and "..." in text and "x1" in text
    nums = pd.DataFrame({f"column_{i}": [1.5, 2.25] for i in range(12)})  # numbers only: nothing to shorten
    text, done = fit_width(nums, width=60)
    assert done == "wrapped" and max(map(len, text.splitlines())) <= 60 and "2.25" in text
    assert fit_width(pd.DataFrame({"a": ["b"]}))[1] is None


def test_events_list_prints_each_headline_whole_under_its_row(capsys):
    assert main(["events", "list", "--no-earnings"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(map(len, lines)) <= 100
    i = next(n for n, line in enumerate(lines) if line.startswith("chatgpt_launch "))
    assert lines[i + 1].startswith("    OpenAI") and "..." not in lines[i + 1]


@pytest.mark.parametrize("argv", [["data", "check", "{prices}/AMZN.csv"], ["data", "status"], ["sweep", "status", "{db}"], ["configs"],
                                  ["signals", "show", "--ticker", "MSFT"]])
def test_other_commands_fit_100_columns(capsys, argv, tmp_path):
    from importlib import resources

    spec = tmp_path / "s.yaml"
    spec.write_text("base: {dates: {start: 2024-01-02, end: 2024-06-28}, events: {earnings: false}, placebo: {n: 10}, "
                    "study: {enabled: false}, output: {tearsheet: false}}\nparams: {strategy.params.exit_offset: [1]}\nsearch: grid\n"
                    "metric: sharpe\n")
    if "{db}" in argv:
        assert main(["sweep", str(spec), "--db", str(tmp_path / "s.db"), "--workers", "1", "--quiet"]) == 0
        capsys.readouterr()
    prices = resources.files("backtests") / "data" / "prices"
    assert main([a.replace("{prices}", str(prices)).replace("{db}", str(tmp_path / "s.db")) for a in argv]) == 0
    out = capsys.readouterr().out
    # the paths are the test machine's: count them as a short name
    long = [line for line in out.splitlines() if len(line.replace(str(tmp_path), "T").replace(str(prices), "P")) > 100]
    assert not long, long


def test_events_list_for_a_ticker_no_event_concerns_says_so(capsys):
    assert main(["events", "list", "--ticker", "zzzz"]) == 0  # well formed, so not an error: but not a silent "0 events"
    out, err = capsys.readouterr()
    assert out.strip().endswith("0 events") and "no event in the calendar concerns ZZZZ" in err and "AMZN" in err
    assert main(["events", "list", "--ticker", "nvda", "--format", "csv"]) == 0  # lower case is the same ticker
    assert len(capsys.readouterr().out.splitlines()) > 10


def test_json_output_keeps_types_dates_as_iso_days_booleans_and_lists(capsys):
    import json

    assert main(["events", "list", "--no-earnings", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    first = next(r for r in rows if r["event_id"] == "chatgpt_launch")
    assert first["date"] == "2022-11-30" and first["day0"] == "2022-11-30" and first["scheduled"] is False
    assert first["tickers"][:3] == ["MSFT", "GOOGL", "AMZN"]
    assert main(["signals", "show", "--format", "json"]) == 0
    sig = json.loads(capsys.readouterr().out)
    assert sig[0]["quarter"] == "2019Q1" and sig[0]["capex_efficiency"] is None  # missing is null, not NaN (invalid JSON)


def test_errors_are_wrapped_to_100_columns_on_a_terminal_and_one_line_per_problem_in_a_log():
    from backtests.cli import error_text
    from events.errors import InputError, Problem

    exc = InputError([Problem("a" * 30 + " bad value " * 12, path="/data/ev.csv", line=3, field="date", expected="YYYY-MM-DD"),
                      Problem("another problem " * 10, path="/data/ev.csv", line=9, field="time")])
    wrapped = error_text(exc, 100).splitlines()
    assert max(map(len, wrapped)) <= 100 and wrapped[0] == "aibt: error: 2 problems found:"
    assert sum(line.startswith("  - ") for line in wrapped) == 2  # each problem still starts its own item
    plain = error_text(exc, None).splitlines()
    assert len(plain) == 3 and " ".join(" ".join(wrapped).split()) == " ".join(" ".join(plain).split())  # the same words


def test_study_prints_its_table_as_csv_on_stdout_alone(tmp_path, capsys):
    import io

    import pandas as pd

    cfg = tmp_path / "c.yaml"
    cfg.write_text("dates: {start: 2023-01-03, end: 2024-12-31}\nevents: {earnings: false}\n")
    assert main(["study", "--config", str(cfg), "--out", str(tmp_path / "s"), "--quiet", "--format", "csv", "--model", "peer_adjusted"]) == 0
    out = capsys.readouterr().out
    t = pd.read_csv(io.StringIO(out))
    written = pd.read_csv(tmp_path / "s" / "study.csv")
    pd.testing.assert_frame_equal(t.reset_index(drop=True), written[written["model"] == "peer_adjusted"].reset_index(drop=True)[t.columns],
                                  check_exact=False, rtol=1e-12)
