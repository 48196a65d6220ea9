"""Benchmark: the fast engine against Backtrader on the same grid, and the end-to-end fast sweeps.

    python -m backtests.sweeps.bench_fast [--spec backtests/sweeps/grid36k.yaml] [--sample 20] [--threads 2] [--million]

Prints, each figure measured on this machine:

* Numba: the import, the compilation with an empty cache (a new process with its own ``NUMBA_CACHE_DIR``),
  and the load of the cached machine code in a second process: the warm-up a sweep pays once;
* combinations per second on the spec's grid (default: the 36,000-combination event-window grid), the fast engine
  (planning once per plan, then the compiled kernel over every cost setting, daily equity and metrics for each)
  against Backtrader (full runs of a seeded sample of the same grid, placebo off on both sides), with the ratio;
* ``aibt sweep run SPEC --engine fast`` end to end in a new process (start-up, planning, storage, the top 20 re-run
  on Backtrader), split into its parts;
* with ``--million``: the same for backtests/sweeps/grid1m.yaml (1,000,000 combinations) and its report, with the
  peak memory of each process.

A benchmark, not a test: it asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SWEEPS = HERE

_COMPILE = """
import time, numpy as np
t0 = time.perf_counter()
from backtests.engines import kernel
t1 = time.perf_counter()
n, k = 50, 2
close = np.full((n, k), 100.0)
kernel.run_batch(np.array([2, 10]), np.array([0, 0]), np.array([1, 0]), np.array([[0.5, -0.5]]), np.array([False]), np.array([1]), 1,
                 close, close, np.ones(n), True, np.zeros(n), 2, np.array([1e6]), np.array([1e-4]), np.array([1e-4]), np.array([1e-6]),
                 np.array([True]), np.array([0.0]), False, np.zeros((1, len(kernel.METRICS))), np.zeros((1, n)), np.zeros((1, 2), dtype=np.int64))
t2 = time.perf_counter()
print(f"{t1 - t0} {t2 - t1}")
"""


def warm_up() -> dict:
    """Numba import, cold compile and cached load of the kernel, each in a new process."""
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, NUMBA_CACHE_DIR=d)
        cold = subprocess.run([sys.executable, "-c", _COMPILE], env=env, capture_output=True, text=True, check=True).stdout.split()
        warm = subprocess.run([sys.executable, "-c", _COMPILE], env=env, capture_output=True, text=True, check=True).stdout.split()
    return {"import_s": float(warm[0]), "compile_s": float(cold[1]), "cached_load_s": float(warm[1])}


def fast_grid(spec_path: Path, threads: int) -> dict:
    """The fast engine on every combination of the spec, in this process: planning and kernel time apart."""
    from backtests.engines.fast_engine import run_costs
    from backtests.runner import kernel_inputs, plan_run
    from backtests.sweeps.batch import EXEC_KEYS, _exec_of, plan_batches, set_threads
    from backtests.sweeps.spec import load_spec

    set_threads(threads)
    spec = load_spec(spec_path)
    t0 = time.perf_counter()
    plan = plan_batches(spec)
    t_enum = time.perf_counter() - t0
    exec_pos = [i for i, k in enumerate(spec.params) if k in EXEC_KEYS]
    sched, prices, basket, lags = kernel_inputs(plan_run(plan.groups[0].config))  # a sweep's start-up: inputs loaded, kernel loaded
    run_costs(sched, prices, basket, {name: [v] for name, v in _exec_of(spec, plan.groups[0], plan.groups[0].idx[0], exec_pos).items()}, lags=lags)
    t_plan = t_kernel = 0.0
    n = 0
    for g in plan.groups:
        t0 = time.perf_counter()
        sched, prices, basket, lags = kernel_inputs(plan_run(g.config))
        ex = [_exec_of(spec, g, idx, exec_pos) for idx in g.idx]
        costs = {name: [e[name] for e in ex] for name in EXEC_KEYS.values()}
        t1 = time.perf_counter()
        run_costs(sched, prices, basket, costs, lags=lags, keep_returns=False)
        t2 = time.perf_counter()
        t_plan += t1 - t0
        t_kernel += t2 - t1
        n += len(g.idx)
    return {"combinations": n, "plans": len(plan.groups), "enumerate_s": t_enum, "plan_s": t_plan, "kernel_s": t_kernel, "threads": threads}


def backtrader_sample(spec_path: Path, sample: int) -> dict:
    """Full runs of a seeded sample of the spec's combinations: Backtrader and the fast engine, placebo off."""
    import numpy as np

    from backtests.runner import run
    from backtests.sweeps.spec import load_spec

    spec = load_spec(spec_path)
    combos = list(spec.grouped_walk())
    rng = np.random.default_rng(20261124)
    picks = [combos[i] for i in sorted(rng.choice(len(combos), size=min(sample, len(combos)), replace=False))]
    cfgs = []
    for _, idx, _, _ in picks:
        cfg = spec.config_for(spec._values_at(idx))
        cfg["placebo"]["enabled"] = False
        cfgs.append(cfg)
    run(cfgs[0])
    run(cfgs[0], engine="fast")  # warm both
    out = {}
    for engine in ("backtrader", "fast"):
        times = []
        for cfg in cfgs:
            t0 = time.perf_counter()
            run(cfg, engine=engine)
            times.append(time.perf_counter() - t0)
        out[engine] = statistics.mean(times)
    return {"n": len(cfgs), "backtrader_s": out["backtrader"], "fast_run_s": out["fast"]}


def sweep_end_to_end(spec_path: Path, threads: int, report: bool = False) -> dict:
    """``aibt sweep run SPEC --engine fast`` (and optionally its report) in new processes: wall time and peak memory."""
    aibt = str(Path(sys.executable).with_name("aibt"))
    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "bench.db"
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        subprocess.run([aibt, "sweep", "run", str(spec_path), "--db", str(db), "--engine", "fast", "--workers", str(threads)],
                       check=True, capture_output=True)
        wall = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        con = sqlite3.connect(str(db))
        info = json.loads(con.execute("SELECT value FROM meta WHERE name = 'fast_sweep'").fetchone()[0])
        agree = con.execute("SELECT status, COUNT(*) FROM verifications GROUP BY status").fetchall()
        con.close()
        out = {"wall_s": wall, "peak_mb": peak / 1024 if peak > before else None, "timings": info["timings"], "verified": dict(agree),
               "db_mb": db.stat().st_size / 2 ** 20}
        if report:
            t0 = time.perf_counter()
            subprocess.run([aibt, "sweep", "report", str(db), "--out", str(Path(d) / "report")], check=True, capture_output=True)
            out["report_s"] = time.perf_counter() - t0
            out["report_peak_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default=str(SWEEPS / "grid36k.yaml"))
    ap.add_argument("--sample", type=int, default=20, help="Backtrader runs timed (a seeded sample of the grid)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--million", action="store_true", help="also the 1,000,000-combination sweep and its report (minutes)")
    a = ap.parse_args(argv)
    spec = Path(a.spec)
    w = warm_up()
    print("Numba warm-up (new processes): import {import_s:.2f} s; compile with an empty cache {compile_s:.2f} s; "
          "load from the cache {cached_load_s:.2f} s".format(**w))
    f = fast_grid(spec, a.threads)
    bt = backtrader_sample(spec, a.sample)
    kernel_rate = f["combinations"] / f["kernel_s"]
    engine_rate = f["combinations"] / (f["plan_s"] + f["kernel_s"])
    bt_rate = 1.0 / bt["backtrader_s"]
    print(f"\n{spec.name}: {f['combinations']:,} combinations in {f['plans']} plans, {a.threads} threads")
    print(f"  {'':34s}{'combinations/s':>16s}{'x Backtrader':>14s}")
    print(f"  {'Backtrader, one run each':34s}{bt_rate:16,.1f}{1.0:14.0f}   (mean of {bt['n']} runs, {bt['backtrader_s']:.3f} s each)")
    print(f"  {'fast engine, one run each':34s}{1 / bt['fast_run_s']:16,.1f}{bt['backtrader_s'] / bt['fast_run_s']:14.1f}   (aibt run --engine fast)")
    print(f"  {'fast engine, plan + kernel':34s}{engine_rate:16,.0f}{engine_rate / bt_rate:14,.0f}   "
          f"(planning {f['plan_s']:.1f} s = {1000 * f['plan_s'] / f['plans']:.0f} ms a plan)")
    print(f"  {'fast engine, kernel alone':34s}{kernel_rate:16,.0f}{kernel_rate / bt_rate:14,.0f}   (daily equity and metrics of every combination)")
    e = sweep_end_to_end(spec, a.threads)
    t = e["timings"]
    print(f"\naibt sweep run {spec.name} --engine fast, end to end: {e['wall_s']:.1f} s (database {e['db_mb']:.0f} MB); "
          f"enumerate {t['enumerate_s']:.1f} s, store the plan {t['store_plan_s']:.1f} s, plans and kernel {t['groups_s']:.1f} s, "
          f"Backtrader re-runs of the top 20 {t['verify_s']:.1f} s; re-runs: {e['verified']}")
    if a.million:
        m = sweep_end_to_end(SWEEPS / "grid1m.yaml", a.threads, report=True)
        t = m["timings"]
        print(f"\naibt sweep run grid1m --engine fast (1,000,000 combinations): {m['wall_s']:.0f} s, peak memory {m['peak_mb']:.0f} MB, "
              f"database {m['db_mb']:.0f} MB; enumerate {t['enumerate_s']:.0f} s, store the plan {t['store_plan_s']:.0f} s, plans and kernel "
              f"{t['groups_s']:.0f} s (kernel and planning {t['execute_s']:.0f} s), re-runs {t['verify_s']:.0f} s; re-runs: {m['verified']}")
        print(f"aibt sweep report on it: {m['report_s']:.0f} s, peak memory {m['report_peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
