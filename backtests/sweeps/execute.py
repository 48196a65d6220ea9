"""The worker side of a sweep: run one combination, reusing what the process has already loaded.

:func:`run_combination` is what the local process pool and the Dask workers call. A worker process loads
the price files, the event calendar and the fundamentals once (:func:`init_worker` warms them; the
per-process memos of :mod:`backtests.market.marketdata` and :mod:`backtests.inputs` keep them), so each
combination costs only its own planning, simulation and placebo. A sweep runs neither the tear sheet nor
the event study (:func:`backtests.runner.run` does neither); the placebo runs as the config says.

:func:`data_fingerprints` is computed by the parent for each combination and goes into its key
(:func:`backtests.sweeps.store.combination_key`); the worker checks that the data its run actually read
carries the same fingerprints, so a file changed during a sweep, or a remote worker with other data,
fails the combination instead of storing a result under the wrong key.

``AIBT_SWEEP_DELAY`` (seconds, default 0) makes each combination sleep first: a testing aid that lets a
test interrupt a sweep part-way.
"""
from __future__ import annotations

import os
import signal
import socket
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from backtests.inputs import file_stamps, fundamentals_files, select_events, target_signals
from backtests.market.marketdata import bundled_price_path, cache_price_path, load_prices
from backtests.reports.rundir import SUMMARY_KEYS
from backtests.sweeps.store import pid_alive
from events.errors import InputError, Problem
from events.loader import BUNDLED_EARNINGS, BUNDLED_EVENTS, bundled_path as events_path
from events.tabular import sha256_file

#: engines a sweep can run on: the reference Backtrader run (through its array feed) and the fast engine (an optuna
#: search runs it one combination at a time here; grid and random searches batch it, :mod:`backtests.sweeps.batch`)
ENGINES = ("backtrader", "fast")
#: environment a local worker takes from the sweep process (a forkserver's workers would otherwise keep the
#: environment the server started with)
ENV_KEYS = ("AIBT_CACHE_DIR", "AIBT_SWEEP_DELAY")


@dataclass
class TrialResult:
    """One finished attempt: the summary.json values and daily strategy returns, or the error text."""

    summary: dict | None
    returns: pd.Series | None
    duration: float
    worker: str
    error: str | None = None
    timings: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_tickers(cfg: dict) -> list[str]:
    """The tickers a run loads (as :func:`backtests.runner.run` chooses them)."""
    u = cfg["universe"]
    peers = [p for p in u["peers"] if p != u["target"]]
    extra = []
    params = cfg["strategy"]["params"]
    if cfg["strategy"]["kind"] == "buy_and_hold" and params.get("asset") not in ("target", "basket"):
        extra = [str(params["asset"]).upper()]
    return list(dict.fromkeys([u["target"], *peers, u["benchmark"], u["market"], *extra]))


_SHA_MEMO: dict = {}
_PRINTS_MEMO: dict = {}


def _sha(path: Path) -> str:
    key = file_stamps([path])
    if key not in _SHA_MEMO:
        _SHA_MEMO[key] = sha256_file(path)
    return _SHA_MEMO[key]


def data_fingerprints(cfg: dict) -> dict[str, str]:
    """sha256 of every data file a run of ``cfg`` reads, named as in a run's manifest: ``prices/<T>.csv``
    (the file :func:`load_prices` chooses, bundled or cache), ``events/<file>`` (the bundled calendars, which
    the placebo always reads, and the config's own files) and ``fundamentals/<file>``. Memoised per process
    by the files' size and modification time."""
    tickers = run_tickers(cfg)
    ev = cfg["events"]
    files = [events_path(BUNDLED_EVENTS), events_path(BUNDLED_EARNINGS), *[Path(f) for f in ev["files"]]]
    fund = [p for p in fundamentals_files() if p.parent != events_path(BUNDLED_EARNINGS).parent]
    stamps = file_stamps([*[bundled_price_path(t) for t in tickers], *[cache_price_path(t) for t in tickers], *files, *fund])
    key = (tuple(tickers), tuple(str(f) for f in files), stamps)
    if key not in _PRINTS_MEMO:
        prices = load_prices(tickers)
        out = {f"prices/{t}.csv": prices[t].sha256 for t in tickers}
        for f in files:
            if not f.exists():
                raise InputError(Problem("event file not found", path=str(f), field="events.files"))
            out[f"events/{f.name}"] = _sha(f)
        out.update({f"fundamentals/{p.name}": _sha(p) for p in fund})
        _PRINTS_MEMO[key] = dict(sorted(out.items()))
    return dict(_PRINTS_MEMO[key])


def _check_data(actual: dict, expected: dict) -> str | None:
    bad = [f"{k} (sha256 {v[:12]}, the sweep expected {expected[k][:12] if k in expected else 'no such file'})"
           for k, v in sorted(actual.items()) if expected.get(k) != v]
    if bad:
        return ("the data this worker read differs from the data the sweep planned with (changed during the sweep, or another "
                "machine's files): " + "; ".join(bad))
    return None


def run_combination(config: dict, engine: str = "backtrader", expect: dict | None = None) -> TrialResult:
    """Run one resolved config and return its summary.json values and daily strategy returns, or the error
    (an input error's message, else the traceback). ``expect``: the data fingerprints the combination's key was
    computed with; a run that read other data fails."""
    delay = float(os.environ.get("AIBT_SWEEP_DELAY") or 0)
    if delay > 0:
        time.sleep(delay)
    t0 = time.perf_counter()
    try:
        if engine not in ENGINES:
            raise InputError(Problem(f"unknown engine {engine!r}", field="--engine", expected="one of " + ", ".join(ENGINES)))
        from backtests.runner import run

        res = run(config, engine=engine)
        if expect is not None:
            why = _check_data(res.fingerprints, expect)
            if why:
                return TrialResult(None, None, time.perf_counter() - t0, worker_id(), why)
        summary = {k: res.summary.get(k) for k in SUMMARY_KEYS}
        returns = res.returns["strategy"].astype("float64")
        return TrialResult(summary, returns, time.perf_counter() - t0, worker_id(), None, dict(res.timings))
    except InputError as exc:
        return TrialResult(None, None, time.perf_counter() - t0, worker_id(), str(exc))
    except Exception:  # noqa: BLE001 - a combination's failure is stored, and the sweep goes on
        return TrialResult(None, None, time.perf_counter() - t0, worker_id(), "internal error: " + traceback.format_exc(limit=20))


def warm(cfg: dict) -> None:
    """Load what every run of this process will reuse: prices, the target's signals, the event calendar."""
    tickers = run_tickers(cfg)
    prices = load_prices(tickers)
    target_signals(cfg["universe"]["target"])
    sessions = prices[tickers[0]].frame.index
    select_events(cfg["events"], sessions, sessions)
    data_fingerprints(cfg)


def _watch(pid: int) -> None:
    while True:
        time.sleep(1.0)
        if not pid_alive(pid):  # the sweep is gone (even SIGKILL): do not linger as an orphan waiting for work
            os._exit(0)


def init_worker(env: dict | None = None, warm_config: dict | None = None, watch_pid: int | None = None) -> None:
    """Worker initialiser (local pool: ``ProcessPoolExecutor(initializer=...)``; Dask: ``client.run``): take the
    sweep's environment, exit when the sweep process ``watch_pid`` is gone, and load the shared inputs once.
    (A forkserver worker's parent is the server, which itself lives as long as any worker does, so the
    sweep's own pid is what is watched.)"""
    for k, v in (env or {}).items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    if watch_pid:
        # Ctrl-C and a SIGTERM to the whole process group (timeout, systemd) reach the workers too: the sweep process
        # decides (it lets the combinations in flight finish); it stops workers with SIGKILL when it must
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        threading.Thread(target=_watch, args=(watch_pid,), daemon=True, name="aibt-sweep-watch").start()
    if warm_config is not None:
        try:
            warm(warm_config)
        except Exception:  # noqa: BLE001 - a bad input shows up, with its message, in the combinations that use it
            pass
