"""Benchmark of a run: wall time, bars per second through Backtrader, and where the time goes.

    python -m backtests.bench [--repeat 5] [--config PATH]

Prints, for the stock ``bt.feeds.PandasData`` feed and aibt's ``ArrayFeed``:
the median wall time of a whole run (``run()`` plus writing the run directory),
Backtrader bars per second (sessions x feeds / simulation time), and the share
of time spent loading data, planning, simulating, building results and writing
files. A benchmark, not a test: it asserts nothing.
"""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from backtests.config import bundled_config, load_config
from backtests.reports.rundir import write_run
from backtests.runner import run


def measure(cfg: dict, feed: str, repeat: int) -> dict:
    rows = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = run(cfg, feed=feed)
        t1 = time.perf_counter()
        with tempfile.TemporaryDirectory() as d:
            write_run(res, Path(d) / "run", dt.datetime.now(dt.timezone.utc))
        t2 = time.perf_counter()
        tm = dict(res.timings)
        tm["output"] = t2 - t1
        tm["wall"] = t2 - t0
        rows.append(tm)
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    med["bars_per_s"] = med["bars"] / med["simulate"]
    return med


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--config", action="append", help="config path (repeatable); default: default and earnings_only")
    a = ap.parse_args(argv)
    paths = a.config or [str(bundled_config("default")), str(bundled_config("earnings_only"))]
    run(load_config(paths[0]))  # warm imports and caches once
    for p in paths:
        cfg = load_config(p)
        print(f"\n{cfg['name']} ({p}), median of {a.repeat}")
        print(f"{'feed':8s} {'wall s':>8s} {'bars':>7s} {'bars/s':>9s}   load  plan   sim  results output")
        for feed in ("pandas", "array"):
            m = measure(cfg, feed, a.repeat)
            shares = [m[k] / m["wall"] for k in ("load", "plan", "simulate", "results", "output")]
            print(f"{feed:8s} {m['wall']:8.3f} {int(m['bars']):7d} {m['bars_per_s']:9.0f}   " + " ".join(f"{s:5.0%}" for s in shares))
        print(tearsheet_timing(cfg, a.repeat))


def tearsheet_timing(cfg: dict, repeat: int) -> str:
    """Median time of a full ``aibt run`` pipeline (run, study, files) against building its tear sheet."""
    from backtests.reports.rundir import write_study
    from backtests.stats.study import study_for_config
    from backtests.reports.tearsheet import build_tearsheet

    runs, sheets = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            res = run(cfg)
            st = study_for_config(cfg, res)
            out = write_run(res, Path(d) / "run", dt.datetime.now(dt.timezone.utc), extra_writers=[lambda x: write_study(st, x)])
            t1 = time.perf_counter()
            written = build_tearsheet(out)
            t2 = time.perf_counter()
            n_png = len(list(Path(written["figures"]).glob("*.png")))
            n_csv = len(list((Path(out) / "tables").glob("*.csv")))
        runs.append(t1 - t0)
        sheets.append(t2 - t1)
    r, s = statistics.median(runs), statistics.median(sheets)
    return f"run + study + files {r:.3f} s; tear sheet (HTML + {n_png} PNG + {n_csv} CSV) {s:.3f} s = {s / r:.0%} of the run"


if __name__ == "__main__":
    main()
