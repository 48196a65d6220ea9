"""The CLI as people use it (issue 12): progress on stderr for long commands, silent with --quiet, plain lines (a log
file reads well), results on stdout."""
from __future__ import annotations

from backtests.cli import main

TINY = "dates: {start: 2024-01-02, end: 2024-12-31}\nevents: {earnings: false}\nplacebo: {n: 20}\noutput: {tearsheet: false}\n"


def test_a_run_says_what_it_is_doing_on_stderr_and_nothing_with_quiet(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(TINY)
    assert main(["run", "--config", str(cfg), "--out", str(tmp_path / "a")]) == 0
    out, err = capsys.readouterr()
    steps = [ln for ln in err.splitlines() if ln.startswith("aibt: ")]
    assert [s.split("...")[0] for s in steps[:-1]] == ["aibt: running run on the backtrader engine: data, plan, simulation, placebo",
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
