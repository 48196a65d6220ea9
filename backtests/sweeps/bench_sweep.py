"""Benchmark of a sweep: combinations per second with 1 and 2 local workers, peak memory, and the cost of
one combination against one in-process run. A script that prints figures, not a test.

    python -m backtests.sweeps.bench_sweep [--n 200] [--workers 1 2] [--placebo 1000]

The sweep is the default event-window strategy (backtests/configs/default.yaml, 2022-11..2026-10, every
AI-infrastructure event affecting AMZN) over ``exit_offset`` x ``slippage_bps`` (exit days 1..10, n/10
slippage levels), each combination with its placebo (``--placebo`` runs, default the config's 1,000).
The reference runs each exit day once in this process, so it has the sweep's mix of run costs (the
placebo's cost grows steeply with the exit day).
Each worker count gets a fresh database in a temporary folder; the sweep runs in this process exactly as
``aibt sweep`` runs it (:func:`backtests.sweeps.driver.run_sweep`).

Printed: wall time and combinations per second; the mean time of a combination inside its worker (the
``duration`` stored per row) next to the same config run in this process (:func:`backtests.runner.run`,
median of 3, with its ``simulate`` share from ``RunResult.timings``); memory: ``resource.getrusage`` of
this process (the sweep's parent: it plans, writes SQLite, and also holds the in-process reference run),
the parent's resident size when 10% and 100% of the combinations were done (flat if streaming works), and
the peak resident size of the worker processes, sampled from /proc every 0.2 s (forkserver workers are the
server's children, not this process's, so ``getrusage(RUSAGE_CHILDREN)`` does not see them).
"""
from __future__ import annotations

import argparse
import copy
import os
import resource
import statistics
import tempfile
import threading
import time
from pathlib import Path

import yaml

from backtests.config import bundled_config, load_config
from backtests.runner import run
from backtests.sweeps.driver import run_sweep
from backtests.sweeps.store import load_results


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(root: int) -> list[int]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


class Sampler(threading.Thread):
    """Peak RSS of this process's descendants (the forkserver and its workers) and the parent's RSS by progress."""

    def __init__(self, db: Path, n: int):
        super().__init__(daemon=True)
        self.db, self.n = db, n
        self.stop = threading.Event()
        self.peak_worker_kb = 0
        self.peak_tree_kb = 0
        self.parent_at: dict[str, int] = {}

    def _done(self) -> int:
        from backtests.sweeps.store import count_done

        return count_done(self.db)

    def run(self):
        me = os.getpid()
        while not self.stop.is_set():
            kids = _descendants(me)
            rss = [_rss_kb(p) for p in kids]
            self.peak_worker_kb = max([self.peak_worker_kb, *rss])
            self.peak_tree_kb = max(self.peak_tree_kb, _rss_kb(me) + sum(rss))
            done = self._done()
            if "10%" not in self.parent_at and done >= 0.1 * self.n:
                self.parent_at["10%"] = _rss_kb(me)
            self.stop.wait(0.2)
        self.parent_at["100%"] = _rss_kb(me)


EXITS = list(range(1, 11))


def spec_text(n: int, placebo: int | None) -> str:
    exits = EXITS[: max(1, min(len(EXITS), n // 20))]
    levels = max(1, n // len(exits))
    params = {"strategy.params.exit_offset": exits, "costs.slippage_bps": [round(0.5 * i, 1) for i in range(levels)]}
    if placebo is not None:
        params["placebo.n"] = [placebo]
    doc = {"name": f"bench{len(exits) * levels}", "base": str(bundled_config("default")), "params": params, "search": "grid", "metric": "sharpe"}
    return yaml.safe_dump(doc, sort_keys=False)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="combinations (a multiple of 20)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--placebo", type=int, default=None, help="placebo runs per combination (default: the config's)")
    a = ap.parse_args(argv)

    cfg = load_config(bundled_config("default"))
    if a.placebo is not None:
        cfg["placebo"]["n"] = a.placebo
    run(cfg)  # warm imports and per-process caches, as a warm worker is
    exits = EXITS[: max(1, min(len(EXITS), a.n // 20))]
    ref = []
    for e in exits:  # each exit day once (slippage barely changes a run's cost): the sweep's mix of run costs
        c = copy.deepcopy(cfg)
        c["strategy"]["params"]["exit_offset"] = e
        t0 = time.perf_counter()
        res = run(c)
        ref.append((time.perf_counter() - t0, res.timings))
    ref_wall = statistics.mean(w for w, _ in ref)
    ref_sim = statistics.mean(t["simulate"] for _, t in ref)
    ref_results = statistics.mean(t["results"] for _, t in ref)
    print(f"in-process runs of the base config, one per exit day {exits[0]}..{exits[-1]} (warm), mean: {ref_wall:.3f} s a run, of which "
          f"simulate (Backtrader) {ref_sim:.3f} s and results + placebo ({cfg['placebo']['n']} runs) {ref_results:.3f} s; by exit day: "
          + ", ".join(f"{e}: {w:.2f}" for e, (w, _) in zip(exits, ref)))

    with tempfile.TemporaryDirectory() as d:
        spec = Path(d) / "bench.yaml"
        spec.write_text(spec_text(a.n, a.placebo))
        rows = []
        for w in a.workers:
            db = Path(d) / f"bench-{w}.db"
            sampler = Sampler(db, a.n)
            sampler.start()
            t0 = time.perf_counter()
            out = run_sweep(spec, db, workers=w, echo=lambda *_: None, stream=open(os.devnull, "w"))
            wall = time.perf_counter() - t0
            sampler.stop.set()
            sampler.join()
            r = load_results(db)
            dur = r.loc[r["status"] == "done", "duration"]
            rows.append((w, out.done, out.failed, wall, out.done / wall, dur.mean(), dur.median(), sampler))
        print(f"\nsweep: {a.n} combinations, exit_offset {exits[0]}..{exits[-1]} x {a.n // len(exits)} slippage_bps levels (0, 0.5, 1, ...), default config"
              + (f", placebo {a.placebo}" if a.placebo is not None else ", placebo 1,000"))
        print(f"{'workers':>7s} {'done':>5s} {'failed':>6s} {'wall s':>8s} {'comb/s':>7s} {'per comb in worker s':>21s} {'/ in-process run':>17s} "
              f"{'parent RSS MB @10% / @100%':>27s} {'peak worker RSS MB':>19s} {'peak tree MB':>13s}")
        for w, done, failed, wall, rate, mean_d, med_d, s in rows:
            print(f"{w:7d} {done:5d} {failed:6d} {wall:8.1f} {rate:7.2f} {mean_d:10.3f} (med {med_d:.3f}) {mean_d / ref_wall:16.2f}x "
                  f"{s.parent_at.get('10%', 0) / 1024:13.0f} / {s.parent_at.get('100%', 0) / 1024:<11.0f} {s.peak_worker_kb / 1024:19.0f} "
                  f"{s.peak_tree_kb / 1024:13.0f}")
        if len(rows) > 1:
            print(f"speed-up {rows[-1][0]} workers vs {rows[0][0]}: {rows[-1][4] / rows[0][4]:.2f}x")
        print("a combination in a worker / the simulation alone (in-process RunResult.timings['simulate']): "
              + ", ".join(f"{w} worker{'s' if w > 1 else ''} {mean_d / ref_sim:.1f}x" for w, _, _, _, _, mean_d, _, _ in rows))
    ru = resource.getrusage(resource.RUSAGE_SELF)
    rc = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"getrusage: this process (sweep parent + reference runs) max RSS {ru.ru_maxrss / 1024:.0f} MB; "
          f"reaped children max RSS {rc.ru_maxrss / 1024:.0f} MB (forkserver workers are not among them; see the sampled peak above)")
    print("per combination, parent-side overhead (wall x workers / done - mean in-worker time): "
          + ", ".join(f"{w} worker{'s' if w > 1 else ''} {wall * w / max(done, 1) - mean_d:.3f} s" for w, done, _, wall, _, mean_d, _, _ in rows))


if __name__ == "__main__":
    main()
