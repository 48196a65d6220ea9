"""Parameter sweeps (issue 10): spec validation, enumeration, SQLite storage, resumption after a kill,
one holder per database, data fingerprints in the key, and identical results from 1 or 2 local workers
and from a Dask LocalCluster. No network; every sweep here is a few short runs (one year, 50 placebo runs)."""
from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from backtests.cli import main

ROOT = Path(__file__).resolve().parent.parent
SWEEPS = ROOT / "backtests" / "sweeps"

#: a one-year event-window run with a small placebo: about 0.2 s a run once a worker is warm
TINY_BASE = {
    "name": "tiny",
    "strategy": {"kind": "event_window", "params": {"entry_offset": "earliest", "exit_offset": 2, "side": 1, "overlap": "extend"}},
    "dates": {"start": "2024-01-02", "end": "2024-12-31"},
    "events": {"earnings": False, "tickers": ["AMZN"], "clusters": "merge"},
    "placebo": {"n": 50},
}
TINY_PARAMS = {"strategy.params.exit_offset": [1, 2, 3], "costs.slippage_bps": [1.0, 5.0]}
BOOKKEEPING = ["key", "ordinal", "status", "error", "attempts", "duration", "worker", "engine"]


def write_spec(folder: Path, name: str = "spec.yaml", text: str | None = None, **spec) -> Path:
    """A spec file: the tiny grid unless keys are overridden (a key set to None is left out)."""
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    if text is None:
        doc = {"base": TINY_BASE, "params": TINY_PARAMS, "search": "grid", "metric": "sharpe"}
        doc.update(spec)
        doc = {k: v for k, v in doc.items() if v is not None}
        text = yaml.safe_dump(doc, sort_keys=False)
    p.write_text(text)
    return p


def sweep(*args) -> int:
    return main(["sweep", *map(str, args)])


def metrics_frame(db) -> pd.DataFrame:
    """Stored results without the bookkeeping that legitimately differs between calls (duration, worker)."""
    from backtests.sweeps.store import load_results

    r = load_results(db)
    return r.drop(columns=["duration", "worker"]).sort_values("key").reset_index(drop=True)


def returns_frame(db) -> pd.DataFrame:
    from backtests.sweeps.store import load_returns

    r = load_returns(db)
    return r[sorted(r.columns)]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """The tiny grid, uninterrupted, one local worker: the reference the other tests compare against."""
    root = tmp_path_factory.mktemp("baseline")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIBT_CACHE_DIR", str(root / "cache"))  # module fixtures run before the autouse cache fixture
        spec = write_spec(root)
        db = root / "sweep.db"
        assert sweep(spec, "--db", db, "--workers", 1) == 0
    return spec, db


@pytest.fixture
def done_db(baseline, tmp_path):
    """A private copy of the finished baseline database (and its spec)."""
    spec, db = baseline
    copy = tmp_path / "copy.db"
    src = sqlite3.connect(db)
    dst = sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.close()
    return spec, copy


# ---------------------------------------------------------------- spec validation (exit 2 before anything runs)
BAD_SPECS = [
    ({"parms": TINY_PARAMS}, "parms"),
    ({"params": None}, "params"),
    ({"params": {"costs.slipage_bps": [1, 2]}}, "params.costs.slipage_bps"),
    ({"params": {"costs": [1, 2]}}, "params.costs"),
    ({"params": {"strategy.params.exitt": [1, 2]}}, "params.strategy.params.exitt"),
    ({"params": {"costs.slippage_bps": []}}, "params.costs.slippage_bps"),
    ({"params": {"costs.slippage_bps": 3}}, "params.costs.slippage_bps"),
    ({"params": {"costs.slippage_bps": [1, 1]}}, "params.costs.slippage_bps"),
    ({"params": {"costs.slippage_bps": {"start": 0, "stop": 5}}}, "params.costs.slippage_bps.step"),
    ({"params": {"costs.slippage_bps": {"start": 0, "stop": 5, "step": 0}}}, "params.costs.slippage_bps.step"),
    ({"params": {"costs.slippage_bps": {"start": 5, "stop": 0, "step": 1}}}, "params.costs.slippage_bps.stop"),
    ({"search": "annealing"}, "search"),
    ({"search": "random"}, "n_trials"),
    ({"search": "random", "n_trials": 0}, "n_trials"),
    ({"n_trials": 5}, "n_trials"),
    ({"seed": "seven"}, "seed"),
    ({"metric": "profit"}, "metric"),
    ({"metric": "start"}, "metric"),
    ({"direction": "up"}, "direction"),
    ({"base": "no_such_config.yaml"}, "base"),
    ({"base": 5}, "base"),
    ({"base": {"costs": {"slippage": 1}}}, "base.costs.slippage"),
    ({"constraints": ["strategy.params.exit_offset >"]}, "constraints[0]"),
    ({"constraints": ["exit_offset > foo"]}, "constraints[0]"),
    ({"constraints": "strategy.params.exit_offset > 1"}, "constraints"),
    ({"constraints": ["strategy.params.exit_offset > 10"]}, "constraints"),
    ({"constraints": ["strategy.params.exit_offset > 'x'"]}, "constraints[0]"),
    ({"base": {**TINY_BASE, "events": {"files": ["no_such_events.csv"]}}}, "base.events.files"),
]


@pytest.mark.parametrize("override,key_path", BAD_SPECS, ids=[k for _, k in BAD_SPECS])
def test_invalid_spec_is_refused_with_key_path_and_spec_path(tmp_path, capsys, override, key_path):
    spec = write_spec(tmp_path, **override)
    db = tmp_path / "out" / "sweep.db"
    assert sweep(spec, "--db", db) == 2
    err = capsys.readouterr().err
    assert str(spec) in err, err
    assert f"field '{key_path}'" in err, err
    assert "Traceback" not in err
    assert not db.exists() and not db.parent.exists()  # rejected before anything was written


def test_spec_that_is_not_yaml_or_missing_is_refused(tmp_path, capsys):
    spec = write_spec(tmp_path, text="params: [\n")
    assert sweep(spec, "--db", tmp_path / "s.db") == 2
    err = capsys.readouterr().err
    assert str(spec) in err and "YAML" in err and "line" in err
    missing = tmp_path / "nope.yaml"
    assert sweep(missing, "--db", tmp_path / "s.db") == 2
    assert str(missing) in capsys.readouterr().err
    assert not (tmp_path / "s.db").exists()


def test_spec_whose_combinations_are_all_invalid_run_configs_is_refused(tmp_path, capsys):
    spec = write_spec(tmp_path, params={"costs.slippage_bps": [-1.0, -2.0], "strategy.params.exit_offset": [1, 2]})
    db = tmp_path / "sweep.db"
    assert sweep(spec, "--db", db) == 2
    err = capsys.readouterr().err
    assert str(spec) in err and "field 'params.costs.slippage_bps'" in err and "all 4 combinations" in err, err
    assert not db.exists()


def test_spec_with_some_invalid_combinations_runs_the_valid_ones(tmp_path):
    from backtests.sweeps.spec import load_spec

    spec = load_spec(write_spec(tmp_path, params={"costs.slippage_bps": [-1.0, 2.0], "strategy.params.exit_offset": [1, 2]}))
    combos = list(spec.combinations())
    assert [c.params["costs.slippage_bps"] for c in combos] == [2.0, 2.0]
    assert spec.check().n_invalid == 2


def test_dates_outside_the_price_data_are_invalid_combinations_refused_before_running(tmp_path, capsys):
    """The data begin 2015-01-02 and end 2026-10-06: a sweep whose every start is earlier is refused whole (exit 2,
    nothing written); one with some valid starts runs those only, none failing at run time."""
    from backtests.sweeps.spec import load_spec

    spec = write_spec(tmp_path, params={"dates.start": ["2010-01-04", "2012-06-01"]})
    db = tmp_path / "sweep.db"
    assert sweep(spec, "--db", db) == 2
    err = capsys.readouterr().err
    assert "field 'params.dates.start'" in err and "before the price data, which begins 2015-01-02" in err and "all 2 combinations" in err, err
    assert not db.exists()
    mixed = load_spec(write_spec(tmp_path, name="mixed.yaml", params={"dates.end": ["2030-01-02", "2024-06-28"]}))
    assert [c.params["dates.end"] for c in mixed.combinations()] == ["2024-06-28"] and mixed.check().n_invalid == 1
    assert sweep(mixed.path, "--db", tmp_path / "mixed.db", "--max-hours", 1e-9) == 0  # the invalid one is said, not dropped silently
    said = " ".join(capsys.readouterr().out.split())
    assert "1 of 2 combinations are invalid run configs and will not run; the first, {dates.end: \"2030-01-02\"}" in said, said
    assert "after the price data, which ends 2026-10-06" in said
    ok = load_spec(write_spec(tmp_path, name="holiday.yaml", params={"dates.start": ["2015-01-01"]}))  # New Year's Day, just before the data
    assert ok.check().n_invalid == 0


CODE = [
    "__import__('os').system('touch PWNED')",
    "open('PWNED', 'w')",
    "strategy.params.exit_offset.__class__",
    "(lambda: 1)()",
    "[c for c in (1, 2)]",
    "strategy.params.exit_offset ** 99999999",
    "costs.slippage_bps[0] > 1",
    "strategy.params.exit_offset if 1 else 2",
    "exit_offset > 1; import os",
    "-" * 985 + "exit_offset > 0",  # deeply nested: refused as input, never a RecursionError
]


@pytest.mark.parametrize("expr", CODE)
def test_constraints_refuse_code(tmp_path, capsys, monkeypatch, expr):
    monkeypatch.chdir(tmp_path)
    spec = write_spec(tmp_path, constraints=[expr])
    assert sweep(spec, "--db", tmp_path / "s.db") == 2
    err = capsys.readouterr().err
    assert "field 'constraints[0]'" in err and str(spec) in err, err
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "s.db").exists()


# ---------------------------------------------------------------- enumeration
def test_grid_enumerates_the_product_in_order_with_ranges_and_constraints(tmp_path):
    from backtests.sweeps.spec import load_spec

    spec = load_spec(write_spec(tmp_path, params={"strategy.params.exit_offset": {"start": 1, "stop": 5, "step": 2},
                                                  "costs.slippage_bps": {"start": 0.1, "stop": 0.3, "step": 0.1}}))
    combos = list(spec.combinations())
    got = [(c.params["strategy.params.exit_offset"], c.params["costs.slippage_bps"]) for c in combos]
    assert got == [(e, s) for e in (1, 3, 5) for s in (0.1, 0.2, 0.3)]
    assert [c.ordinal for c in combos] == list(range(9))
    c = combos[4]
    assert c.config["strategy"]["params"]["exit_offset"] == 3 and c.config["costs"]["slippage_bps"] == 0.2
    assert c.config["portfolio"]["hedge"] == "equal" and c.config["placebo"]["n"] == 50  # resolved: defaults filled, base kept

    spec = load_spec(write_spec(tmp_path, constraints=["exit_offset >= 2 and costs.slippage_bps < 2", "not exit_offset == 3"]))
    assert [(c.ordinal, c.params["strategy.params.exit_offset"]) for c in spec.combinations()] == [(2, 2)]


def test_random_search_is_seeded_reproducible_and_without_repeats(tmp_path):
    from backtests.sweeps.spec import load_spec

    params = {"strategy.params.exit_offset": list(range(1, 9)), "costs.slippage_bps": [0.0, 1.0, 2.0, 5.0, 10.0]}

    def draw(seed, n):
        s = load_spec(write_spec(tmp_path, name=f"r{seed}-{n}.yaml", params=params, search="random", n_trials=n, seed=seed))
        return [(c.ordinal, tuple(c.params.values())) for c in s.combinations()]

    a, b, c = draw(7, 10), draw(7, 10), draw(8, 10)
    assert a == b and a != c
    assert len(a) == 10 and len({p for _, p in a}) == 10 and [o for o, _ in a] == list(range(10))
    assert draw(7, 15)[:10] == a  # more trials extend the same draw, so a larger n_trials resumes
    everything = draw(7, 100)
    assert len(everything) == 40 and len({p for _, p in everything}) == 40  # capped at the grid


# ---------------------------------------------------------------- storage, resumption
def test_stored_metrics_and_returns_are_the_runs_own(baseline):
    from backtests.runner import run
    from backtests.sweeps.execute import data_fingerprints
    from backtests.sweeps.spec import load_spec
    from backtests.sweeps.store import combination_key, load_results, load_returns, load_spec_text

    spec_path, db = baseline
    res = load_results(db)
    assert list(res.columns[:8]) == BOOKKEEPING
    assert set(TINY_PARAMS) <= set(res.columns) and {"sharpe", "total_return", "placebo_p", "n_events_traded"} <= set(res.columns)
    assert len(res) == 6 and set(res["status"]) == {"done"} and (res["attempts"] == 1).all() and (res["engine"] == "backtrader").all()
    assert load_spec_text(db) == spec_path.read_text()

    combo = next(iter(load_spec(spec_path).combinations()))
    key = combination_key(combo.config, data_fingerprints(combo.config), "backtrader")
    row = res.set_index("key").loc[key]
    direct = run(combo.config)
    for k in ("total_return", "sharpe", "max_drawdown", "n_trades", "placebo_p", "excess_total_return"):
        assert row[k] == direct.summary[k] or (np.isnan(row[k]) and np.isnan(direct.summary[k])), k
    rets = load_returns(db, [key])
    pd.testing.assert_series_equal(rets[key], direct.returns["strategy"], check_names=False, check_freq=False)

    con = sqlite3.connect(db)
    blob, n = con.execute("SELECT c.returns, s.n FROM combinations c JOIN session_index s ON s.id = c.returns_index WHERE c.key = ?", (key,)).fetchone()
    assert len(blob) == 8 * n == 8 * len(direct.returns)  # raw little-endian float64, not a pickle
    assert np.array_equal(np.frombuffer(blob, "<f8"), direct.returns["strategy"].to_numpy())
    assert con.execute("SELECT COUNT(*) FROM session_index").fetchone()[0] == 1  # the session index is stored once
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_resume_skips_done_and_retries_failed_once(tmp_path, capsys):
    from backtests.sweeps.store import load_results

    spec = write_spec(tmp_path, params={"dates.end": ["2024-01-25", "2024-12-31"], "strategy.params.exit_offset": [1, 2]})
    db = tmp_path / "sweep.db"
    assert sweep(spec, "--db", db, "--workers", 1) == 0
    out = capsys.readouterr()
    assert "2 done, 2 failed" in out.out and "4/4" in out.err  # plain progress lines on a non-terminal stderr
    first = load_results(db).set_index("key")
    failed = first[first["status"] == "failed"]
    assert len(failed) == 2 and failed["error"].str.contains("only 17 sessions").all() and (failed["attempts"] == 1).all()

    assert sweep(spec, "--db", db, "--workers", 1) == 0  # resume: done skipped, failed retried once
    second = load_results(db).set_index("key")
    done = first.index[first["status"] == "done"]
    pd.testing.assert_frame_equal(second.loc[done], first.loc[done])  # untouched, duration and worker included
    assert (second.loc[failed.index, "attempts"] == 2).all() and (second.loc[failed.index, "status"] == "failed").all()

    assert sweep(spec, "--db", db, "--no-retry-failed") == 0
    pd.testing.assert_frame_equal(load_results(db).set_index("key"), second)
    assert "nothing to run" in capsys.readouterr().out
    # retried once in all: a third call does not run the failed ones again
    assert sweep(spec, "--db", db, "--workers", 1) == 0
    pd.testing.assert_frame_equal(load_results(db).set_index("key"), second)


def test_combination_whose_data_is_missing_fails_at_run_time_and_the_sweep_goes_on(tmp_path, capsys):
    from backtests.sweeps.store import load_results

    spec = write_spec(tmp_path, params={"universe.benchmark": ["QQQ", "NOPE"]})  # a valid config; no prices for NOPE
    db = tmp_path / "sweep.db"
    assert sweep(spec, "--db", db, "--workers", 1) == 0
    res = load_results(db).set_index("universe.benchmark")
    assert res.at["QQQ", "status"] == "done" and res.at["NOPE", "status"] == "failed"
    assert "no price data for ticker NOPE" in res.at["NOPE", "error"] and "1 done, 1 failed" in capsys.readouterr().out


def _count_done(db) -> int:
    from backtests.sweeps.store import count_done

    return count_done(db)


def test_kill_and_resume_equals_an_uninterrupted_run_and_a_second_sweep_refuses(baseline, tmp_path, capsys):
    spec, ref_db = baseline
    db = tmp_path / "sweep.db"
    env = dict(os.environ, AIBT_SWEEP_DELAY="0.4")  # slow each combination down so the kill lands part-way
    proc = subprocess.Popen([sys.executable, "-m", "backtests.cli", "sweep", str(spec), "--db", str(db), "--workers", "1"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 60
        while _count_done(db) < 2:
            assert proc.poll() is None and time.time() < deadline, "the sweep ended or stalled before two combinations were done"
            time.sleep(0.05)
        # a second sweep on the same database refuses while the first holds it
        assert sweep(spec, "--db", db) == 2
        err = capsys.readouterr().err
        assert f"pid {proc.pid}" in err and socket.gethostname() in err and "since" in err, err
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep, its pool and its workers, mid-flight
        proc.wait()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    n_done = con.execute("SELECT COUNT(*) FROM combinations WHERE status = 'done'").fetchone()[0]
    con.close()
    assert 2 <= n_done < 6, n_done

    assert sweep(spec, "--db", db, "--workers", 2) == 0  # resumes: takes over the dead holder's lease
    assert "stale" in capsys.readouterr().out
    res = metrics_frame(db)
    assert len(res) == 6 and res["key"].is_unique and set(res["status"]) == {"done"} and (res["attempts"] == 1).all()
    pd.testing.assert_frame_equal(res, metrics_frame(ref_db))
    pd.testing.assert_frame_equal(returns_frame(db), returns_frame(ref_db))
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT COUNT(*) FROM lease").fetchone()[0] == 0  # released at the end
    con.close()


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_to_the_whole_process_group_finishes_the_work_in_flight_and_resumes(baseline, tmp_path, sig, code):
    """timeout(1) or systemd signal the whole group (the sweep and its workers), as Ctrl-C does: the workers carry on,
    the sweep stores what was in flight as done (not failed, which would use up its retry), exits 143 / 130, and the
    same command finishes the sweep."""
    spec, ref_db = baseline
    db = tmp_path / "sweep.db"
    env = dict(os.environ, AIBT_SWEEP_DELAY="0.4")
    proc = subprocess.Popen([sys.executable, "-m", "backtests.cli", "sweep", str(spec), "--db", str(db), "--workers", "1"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, text=True)
    deadline = time.time() + 60
    while _count_done(db) < 1:
        assert proc.poll() is None and time.time() < deadline, "the sweep ended or stalled before a combination was done"
        time.sleep(0.05)
    os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err[-2000:]
    res = metrics_frame(db)
    assert set(res["status"]) <= {"done", "pending"} and (res["status"] == "done").sum() < 6, res[["status", "error"]].to_string()
    assert sweep(spec, "--db", db, "--workers", 1) == 0
    pd.testing.assert_frame_equal(metrics_frame(db).drop(columns=["attempts"]), metrics_frame(ref_db).drop(columns=["attempts"]),
                                  check_exact=False, rtol=1e-12)


def _set_lease(db, pid, host, age_s):
    con = sqlite3.connect(db)
    with con:
        con.execute("DELETE FROM lease")
        con.execute("INSERT INTO lease (id, pid, host, token, since, heartbeat, command) VALUES (1, ?, ?, 'x', '2026-01-01T00:00:00+00:00', ?, 'test')",
                    (pid, host, time.time() - age_s))
    con.close()


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.mark.parametrize("holder,refused", [("alive", True), ("other-host", True), ("dead", False), ("silent", False)])
def test_lease_refuses_a_live_holder_and_takes_over_a_stale_one(done_db, capsys, holder, refused):
    spec, db = done_db
    host = socket.gethostname()
    pid, h, age = {"alive": (os.getpid(), host, 1), "other-host": (4242, "elsewhere.example", 1),
                   "dead": (_dead_pid(), host, 1), "silent": (os.getpid(), host, 3600)}[holder]
    _set_lease(db, pid, h, age)
    code = sweep(spec, "--db", db)
    out = capsys.readouterr()
    if refused:
        assert code == 2 and f"pid {pid}" in out.err and h in out.err and str(db) in out.err, out.err
    else:
        assert code == 0 and "stale" in out.out and "nothing to run" in out.out


def _append_session(src: Path, dst: Path) -> None:
    lines = src.read_text().rstrip("\n").split("\n")
    last = lines[-1].split(",")
    nxt = (pd.Timestamp(last[0]) + pd.offsets.BDay(1)).date().isoformat()
    dst.write_text("\n".join(lines + [",".join([nxt] + last[1:])]) + "\n")


def test_changed_data_fingerprint_gives_new_rows(tmp_path, isolated_cache):
    from backtests.market.marketdata import BUNDLED_TICKERS, bundled_price_path
    from backtests.sweeps.store import load_results

    spec = write_spec(tmp_path, params={"strategy.params.exit_offset": [1, 2]})
    db = tmp_path / "sweep.db"
    assert sweep(spec, "--db", db, "--workers", 1) == 0
    before = load_results(db)
    (isolated_cache / "prices").mkdir(parents=True)
    for t in BUNDLED_TICKERS:  # a refresh that adds one session: newer than the bundled snapshot, so it is used
        _append_session(bundled_price_path(t), isolated_cache / "prices" / f"{t}.csv")
    assert sweep(spec, "--db", db, "--workers", 1) == 0
    after = load_results(db)
    assert len(after) == 2 and set(after["status"]) == {"done"} and not set(after["key"]) & set(before["key"])
    assert len(load_results(db, include_stale=True)) == 4  # the old rows are kept, never reused
    cols = ["sharpe", "total_return", "n_trades"]  # the run's dates end before the added session: same figures
    pd.testing.assert_frame_equal(after.sort_values("ordinal")[cols].reset_index(drop=True), before.sort_values("ordinal")[cols].reset_index(drop=True))


def test_max_hours_stops_cleanly_and_the_next_call_resumes(tmp_path, capsys, monkeypatch):
    from backtests.sweeps.store import load_results

    monkeypatch.setenv("AIBT_SWEEP_DELAY", "0.5")
    spec = write_spec(tmp_path)
    db = tmp_path / "sweep.db"
    assert sweep(spec, "--db", db, "--workers", 1, "--max-hours", 0.0001) == 0
    out = " ".join(capsys.readouterr().out.split())  # messages are wrapped to 100 columns
    res = load_results(db)
    assert 1 <= (res["status"] == "done").sum() < 6 and set(res["status"]) <= {"done", "pending"}
    assert "time budget" in out and "run the same command again" in out
    monkeypatch.delenv("AIBT_SWEEP_DELAY")
    assert sweep(spec, "--db", db, "--workers", 1) == 0
    assert set(load_results(db)["status"]) == {"done"}


# ---------------------------------------------------------------- execution backends
def test_one_and_two_local_workers_store_identical_results(baseline, tmp_path):
    spec, ref_db = baseline
    db = tmp_path / "two.db"
    assert sweep(spec, "--db", db, "--workers", 2) == 0
    pd.testing.assert_frame_equal(metrics_frame(db), metrics_frame(ref_db))
    pd.testing.assert_frame_equal(returns_frame(db), returns_frame(ref_db))


def test_dask_local_cluster_equals_the_local_backend(baseline, tmp_path):
    pytest.importorskip("distributed")
    spec, ref_db = baseline
    db = tmp_path / "dask.db"
    assert sweep(spec, "--db", db, "--backend", "dask", "--workers", 2) == 0
    pd.testing.assert_frame_equal(metrics_frame(db), metrics_frame(ref_db))
    pd.testing.assert_frame_equal(returns_frame(db), returns_frame(ref_db))


def test_optuna_search_keeps_its_study_beside_the_results(tmp_path, capsys):
    import optuna

    from backtests.sweeps.store import load_results, optuna_storage_path

    spec = write_spec(tmp_path, search="optuna", n_trials=3, seed=3)
    db = tmp_path / "sweep.db"
    assert sweep(spec, "--db", db, "--workers", 1) == 0
    study_file = optuna_storage_path(db)
    assert study_file.exists() and study_file != db
    res = load_results(db)
    assert 1 <= len(res) <= 3 and set(res["status"]) == {"done"}
    storage = optuna.storages.RDBStorage(f"sqlite:///{study_file}")
    (name,) = optuna.get_all_study_names(storage)
    study = optuna.load_study(study_name=name, storage=storage)
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(finished) == 3 and {t.user_attrs["key"] for t in finished} == set(res["key"])
    by_key = res.set_index("key")
    assert all(t.value == by_key.at[t.user_attrs["key"], "sharpe"] for t in finished)
    assert all(t.params == {k: by_key.at[t.user_attrs["key"], k] for k in TINY_PARAMS} for t in finished)  # each value told to its own params
    capsys.readouterr()
    assert sweep(spec, "--db", db, "--workers", 1) == 0  # resumed: the study already has its trials
    assert "nothing to run" in capsys.readouterr().out
    assert len(optuna.load_study(study_name=name, storage=storage).trials) == 3


def test_marking_rows_current_keeps_their_params_and_results(tmp_path):
    """Optuna resumes by marking its study's rows current without their configs: nothing else may change."""
    from backtests.sweeps.store import SweepStore, load_results

    store = SweepStore(tmp_path / "s.db")
    store.plan([("k1", 0, {"a.b": 1}, {"x": 1}, {"d": "1"}, "backtrader"), ("k2", 1, {"a.b": 2}, {"x": 2}, {"d": "1"}, "backtrader")])
    store.set_meta(param_keys=["a.b"])
    store.plan([("k2", 7, {}, None, None, "backtrader")])
    store.close()
    r = load_results(tmp_path / "s.db")
    assert list(r["key"]) == ["k2"] and r.at[0, "a.b"] == 2 and r.at[0, "ordinal"] == 7 and r.at[0, "status"] == "pending"
    assert len(load_results(tmp_path / "s.db", include_stale=True)) == 2


def test_dask_missing_gives_a_clear_message(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if the extra were not installed
    spec = write_spec(tmp_path)
    assert sweep(spec, "--db", tmp_path / "s.db", "--backend", "dask") == 2
    assert "pip install" in capsys.readouterr().err and not (tmp_path / "s.db").exists()


# ---------------------------------------------------------------- commands
def test_status_reports_counts(done_db, capsys, tmp_path):
    spec, db = done_db
    assert sweep("status", db) == 0
    out = capsys.readouterr().out
    for word in ("done 6", "failed 0", "running 0", "pending 0", "rate", "ETA", "no sweep is running"):
        assert word in out, out
    assert sweep("status", tmp_path / "missing.db") == 2
    assert "missing.db" in capsys.readouterr().err


def test_report_command_calls_write_report(done_db, tmp_path):
    spec, db = done_db
    out = tmp_path / "report"
    assert sweep("report", db, "--out", out) == 0
    assert (out / "sweep_report.json").exists()


@pytest.mark.parametrize("args,words", [
    (["sweep", "--help"], ["SPEC", "status", "report", "run"]),
    (["sweep", "run", "--help"], ["--db", "--workers", "--backend", "--scheduler", "--max-hours", "--engine", "--retry-failed"]),
    (["sweep", "status", "--help"], ["DB"]),
    (["sweep", "report", "--help"], ["--out"]),
])
def test_help_on_each_sweep_command(capsys, args, words):
    assert main(args) == 0
    out = capsys.readouterr().out
    assert all(w in out for w in words), out


# ---------------------------------------------------------------- shipped specs, per-process memoisation
def test_shipped_specs_are_valid_and_smoke_is_small():
    from backtests.sweeps.spec import load_spec

    shipped = sorted(SWEEPS.glob("*.yaml"))
    assert {"smoke.yaml", "event_windows.yaml", "signal_thresholds.yaml", "costs.yaml"} <= {p.name for p in shipped}
    for p in shipped:
        s = load_spec(p)
        assert s.check().n_valid >= 1, p
    smoke = load_spec(SWEEPS / "smoke.yaml")
    assert 10 <= smoke.check().n_valid <= 14


def test_inputs_are_loaded_once_per_process(monkeypatch):
    import backtests.inputs as inputs
    import signals.fundamentals

    calls = {"fund": 0, "cal": 0}
    real_fund, real_cal = signals.fundamentals.load_fundamentals, inputs.load_calendar

    def fund(*a, **k):
        calls["fund"] += 1
        return real_fund(*a, **k)

    def cal(*a, **k):
        calls["cal"] += 1
        return real_cal(*a, **k)

    monkeypatch.setattr(signals.fundamentals, "load_fundamentals", fund)
    monkeypatch.setattr(inputs, "load_calendar", cal)
    monkeypatch.setattr(inputs, "_SIGNAL_MEMO", {})
    monkeypatch.setattr(inputs, "_CALENDAR_MEMO", {})
    a, pa = inputs.target_signals("AMZN")
    b, pb = inputs.target_signals("AMZN")
    assert calls["fund"] == 1 and pa == pb and a.equals(b) and a is not b
    from backtests.market.marketdata import load_prices

    sessions = load_prices(["AMZN"])["AMZN"].frame.index
    ev = {"files": [], "bundled": True, "earnings": False, "categories": None, "tickers": ["AMZN"], "companies": None, "min_confidence": "low"}
    one = inputs.select_events(ev, sessions, sessions[-300:])
    two = inputs.select_events(ev, sessions, sessions[-300:])
    assert calls["cal"] == 1 and one[1].equals(two[1]) and one[0].frame is not two[0].frame


def test_the_smoke_sweep_on_a_two_worker_dask_cluster_equals_the_local_backend(tmp_path):
    """The issue's check, on the shipped smoke spec itself (12 combinations)."""
    pytest.importorskip("distributed")
    from backtests.sweeps.store import load_results

    smoke = Path(__file__).resolve().parent.parent / "backtests" / "sweeps" / "smoke.yaml"
    local, dask = tmp_path / "local.db", tmp_path / "dask.db"
    assert sweep(smoke, "--db", local, "--workers", 2) == 0
    assert sweep(smoke, "--db", dask, "--backend", "dask", "--workers", 2) == 0
    assert len(load_results(local)) == 12 and set(load_results(dask)["status"]) == {"done"}
    pd.testing.assert_frame_equal(metrics_frame(dask), metrics_frame(local))
    pd.testing.assert_frame_equal(returns_frame(dask), returns_frame(local))


def test_a_sweep_that_lost_its_lease_writes_nothing(done_db):
    """A sweep paused past the lease's silence limit and taken over by another must not write its result."""
    from types import SimpleNamespace

    from backtests.sweeps.store import SweepStore, load_results
    from events.errors import InputError

    spec, db = done_db
    before = metrics_frame(db)
    st = SweepStore(db)
    st.acquire("test")
    key = before["key"].iloc[0]
    con = sqlite3.connect(db)
    with con:
        con.execute("UPDATE lease SET token = 'someone-else'")  # the take-over
    con.close()
    with pytest.raises(InputError, match="lost its lease"):
        st.record(key, SimpleNamespace(error="late result", duration=1.0, worker="w", summary={}, returns=None))
    assert st.lost
    pd.testing.assert_frame_equal(metrics_frame(db), before)
    assert load_results(db).set_index("key").at[key, "status"] == "done"


def test_optuna_resume_never_marks_rows_of_older_data_current(tmp_path):
    """A row whose stored data fingerprints differ from today's files (a file only it read changed) stays stale on resume."""
    from backtests.sweeps.store import load_results

    spec = write_spec(tmp_path, search="optuna", n_trials=3, seed=3)
    db = tmp_path / "sweep.db"
    assert sweep(spec, "--db", db, "--workers", 1) == 0
    res = load_results(db)
    old = res["key"].iloc[0]
    con = sqlite3.connect(db)
    with con:
        con.execute("UPDATE combinations SET data = ? WHERE key = ?", ('{"prices/AMZN.csv": "an-older-file"}', old))
    con.close()
    assert sweep(spec, "--db", db, "--workers", 1) == 0
    now = load_results(db)
    assert old not in set(now["key"])  # not current: its result came from other data
    assert old in set(load_results(db, include_stale=True)["key"])  # kept, never deleted


def test_a_full_disk_stops_the_sweep_with_exit_2_keeps_what_was_stored_and_the_same_command_resumes(tmp_path, capsys, monkeypatch):
    """SQLite's own "database or disk is full" (a page cap stands in for the disk): a one-line exit 2 naming the
    database, every result committed before is kept, and once there is room the same command finishes the sweep."""
    import backtests.sweeps.store as store_mod

    spec = write_spec(tmp_path)
    db = tmp_path / "full.db"
    real = store_mod.SweepStore.record
    calls = {"n": 0}

    def record_then_fill(self, key, result):
        real(self, key, result)
        calls["n"] += 1
        if calls["n"] == 2:  # two results stored, then the disk is full: not one page more
            self.con.execute(f"PRAGMA max_page_count = {self.con.execute('PRAGMA page_count').fetchone()[0]}")

    assert sweep(spec, "--db", db, "--workers", 1, "--max-hours", 1e-9) == 0  # the schema and plan, nothing run
    capsys.readouterr()
    monkeypatch.setattr(store_mod.SweepStore, "record", record_then_fill)
    code = sweep(spec, "--db", db, "--workers", 1)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and "disk is full" in err and str(db) in err and "resume" in err
    kept = metrics_frame(db)
    # rows in flight may stay 'running' (the full disk refuses that update too); the next call puts them back to pending
    assert set(kept["status"]) <= {"done", "pending", "running"} and (kept["status"] == "done").sum() == 2
    assert f"the {(kept['status'] == 'done').sum()} combinations stored before are kept" in err
    done_before = kept[kept["status"] == "done"]
    monkeypatch.setattr(store_mod.SweepStore, "record", real)
    assert sweep(spec, "--db", db, "--workers", 1) == 0
    after = metrics_frame(db)
    assert set(after["status"]) == {"done"} and len(after) == 6
    pd.testing.assert_frame_equal(after.set_index("key").loc[done_before["key"]].reset_index()[done_before.columns].drop(columns=["attempts"]),
                                  done_before.reset_index(drop=True).drop(columns=["attempts"]))
