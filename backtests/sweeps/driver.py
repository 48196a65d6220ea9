"""One call of ``aibt sweep SPEC --db PATH``: validate, take the database, plan, run, store, report progress.

:func:`run_sweep` does, in order: read and check the spec (:func:`backtests.sweeps.spec.load_spec`; an
invalid spec, or one whose combinations are all invalid run configs, stops here with nothing written);
check the backend; take the database's lease (a live holder refuses, a stale one is taken over); record
the spec; plan (grid and random: every valid combination gets its key and a ``pending`` row if it has
none; optuna: the study in the sibling file is loaded or created); then keep a few combinations in flight
per worker, storing each result as it arrives, until there is nothing left, the ``--max-hours`` budget
is spent, or SIGTERM or a first Ctrl-C asks to stop. In the last cases nothing new starts, what is in flight
finishes and is stored, and the call ends normally saying how to resume (the same command); a second Ctrl-C
aborts at once (the workers are stopped, their combinations go back to ``pending``). Within one call each
combination runs at most once: ``done`` rows are skipped, ``failed`` rows are retried once per call unless
``retry_failed`` is off.

Progress goes to stderr: a tqdm bar when stderr is a terminal, otherwise a plain line every
:data:`PLAIN_EVERY_S` seconds (and a last one), so a log file stays readable.
"""
from __future__ import annotations

import errno
import json
import math
import os
import signal
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from backtests.sweeps.batch import VERIFY_TOP
from backtests.sweeps.execute import ENGINES, data_fingerprints
from backtests.sweeps.spec import SweepSpec, load_spec
from backtests.sweeps.store import SweepStore, canonical_json, combination_key, count_done, optuna_storage_path
from events.errors import InputError, Problem

PLAIN_EVERY_S = 5.0
WAIT_S = 1.0
BACKENDS = ("local", "dask")


def fmt_duration(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "?"
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


# ---------------------------------------------------------------- progress
class Progress:
    """This call's progress: ``ran/to_run``, the sweep's done and failed combinations (``done/total`` when the total
    is known: grid and random), rate and ETA."""

    def __init__(self, to_run: int, total: int | None, done: int, failed: int, stream=None, tty: bool | None = None):
        self.stream = stream or sys.stderr
        self.to_run, self.total, self.done, self.failed = to_run, total, done, failed
        self.ran = 0
        self.t0 = time.monotonic()
        self._last = self.t0
        tty = self.stream.isatty() if tty is None and hasattr(self.stream, "isatty") else bool(tty)
        self.bar = None
        if tty:
            from tqdm import tqdm

            self.bar = tqdm(total=to_run, file=self.stream, unit="comb", desc="sweep", dynamic_ncols=True, smoothing=0.05)
            self.bar.set_postfix_str(self._counts(), refresh=False)

    def _counts(self) -> str:
        done = f"{self.done}/{self.total}" if self.total is not None else f"{self.done}"
        return f"done {done}, failed {self.failed}"

    @property
    def rate(self) -> float | None:
        el = time.monotonic() - self.t0
        return self.ran / el if self.ran and el > 0 else None

    def line(self) -> str:
        r = self.rate
        left = max(self.to_run - self.ran, 0)
        eta = "0:00:00" if not left else fmt_duration(left / r) if r else "?"
        return f"sweep: {self.ran}/{self.to_run} run this call; {self._counts()}; {f'{r:.2f}' if r else '?'}/s, ETA {eta}"

    def update(self, ok: bool, was_failed: bool) -> None:
        self.ran += 1
        if ok:
            self.done += 1
            self.failed -= int(was_failed)
        else:
            self.failed += int(not was_failed)
        if self.bar is not None:
            self.bar.set_postfix_str(self._counts(), refresh=False)
            self.bar.update(1)
        self.tick()

    def advance(self, ok: int, failed: int, was_failed: int = 0) -> None:
        """Many combinations finished at once (a fast-engine plan group): ``ok`` done, ``failed`` failed, of which
        ``was_failed`` had failed before."""
        n = ok + failed
        self.ran += n
        self.done += ok
        self.failed += failed - was_failed
        if self.bar is not None:
            self.bar.set_postfix_str(self._counts(), refresh=False)
            self.bar.update(n)
        self.tick()

    def _print(self) -> None:
        text = self.line()
        if text != getattr(self, "_printed", None):
            print(text, file=self.stream, flush=True)
            self._printed = text

    def tick(self) -> None:
        now = time.monotonic()
        if self.bar is None and now - self._last >= PLAIN_EVERY_S:
            self._last = now
            self._print()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        else:
            self._print()


# ---------------------------------------------------------------- what to run
@dataclass
class Item:
    key: str
    config: dict
    data: dict
    prior: str  # the row's status before this call ran it
    trial: int | None = None  # optuna: the trial number
    counted: bool = True  # optuna: counts towards n_trials (a retry of a failed combination does not)


class GridPlan:
    """Grid and random search: every valid combination gets a row; the pending (and failed) ones run in ordinal order."""

    def __init__(self, spec: SweepSpec, store: SweepStore, engine: str, retry_failed: bool, beat):
        def rows():
            for c in spec.combinations():
                data = _data(c.config)
                yield combination_key(c.config, data, engine), c.ordinal, c.params, c.config, data, engine

        self.total = store.plan(rows(), beat=beat)
        self.to_run = store.count_todo(retry_failed)
        self._todo = store.todo(retry_failed)
        self.limit_per_worker = 2

    def next(self) -> Item | None:
        nxt = next(self._todo, None)
        if nxt is None:
            return None
        key, status, config, data = nxt
        return Item(key, config, data, status)

    def on_result(self, item: Item, result) -> None:
        pass


class OptunaPlan:
    """Optuna search (TPE, seeded): ask a trial, run its combination, tell the study the metric. The study lives in
    the sibling file :func:`~backtests.sweeps.store.optuna_storage_path`, named after the spec and the data; a
    combination already done (in this call or an earlier one) is told its stored value without running again,
    and a proposal that breaks a constraint or is an invalid run config is told as failed and not counted.
    ``n_trials`` counts trials whose combination ran (or had run); on resume, a combination a killed call left
    unfinished runs first, and failed ones are retried once (as extra, enqueued trials that do not count)."""

    def __init__(self, spec: SweepSpec, store: SweepStore, engine: str, retry_failed: bool, beat):
        import optuna
        from optuna.trial import TrialState

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.TrialState = TrialState
        self.spec, self.store, self.engine = spec, store, engine
        self.dists = spec.distributions()
        first = next(p for _, p in spec._grid_candidates() if _valid(spec, p))
        data_sha = combination_key({}, _data(spec.config_for(first)), engine)[:12]
        self.study_name = f"{spec.name}-{spec.sha256[:12]}-{data_sha}"
        url = f"sqlite:///{optuna_storage_path(store.path)}"
        storage = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 30}})
        sampler = optuna.samplers.TPESampler(seed=spec.seed, constant_liar=True)
        self.study = optuna.create_study(study_name=self.study_name, storage=storage, sampler=sampler, direction=spec.direction, load_if_exists=True)
        for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):  # left by a killed call: not a result
            optuna.trial.Trial(self.study, t._trial_id).set_user_attr("counted", False)
            self.study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
        trials = self.study.get_trials(deepcopy=False)
        keys = {}
        for t in trials:
            if "key" in t.user_attrs:
                keys.setdefault(t.user_attrs["key"], t.number)
        # only rows computed on today's data become current: a data file that only some combinations read may have
        # changed since (the study's name holds the first combination's data fingerprint only)
        fresh = {}
        for k, n in keys.items():
            row = store.con.execute("SELECT config, data FROM combinations WHERE key = ?", (k,)).fetchone()
            if row and row[0] and row[1] and json.loads(row[1]) == _data(json.loads(row[0])):
                fresh[k] = n
        store.plan(((k, n, {}, None, None, engine) for k, n in fresh.items()), beat=beat)  # marks the study's rows current
        self.finished = sum(1 for t in trials if t.user_attrs.get("counted") and t.state.is_finished()
                            and store.status_of(t.user_attrs["key"]) in ("done", "failed"))
        self.queue: list[Item] = []  # combinations to run before asking for new ones
        for key, status, config, data in store.todo(retry_failed):
            self.queue.append(Item(key, config, data, status, counted=(status == "pending")))
        self.total = spec.n_trials
        self.in_flight_counted = 0
        self.to_run = max(self.total - self.finished, sum(i.counted for i in self.queue)) + sum(not i.counted for i in self.queue)
        self.running_keys: set[str] = set()
        self.asks_left = 20 * spec.n_trials + 100
        self.limit_per_worker = 1

    def _tell(self, trial_number: int, value: float | None) -> None:
        if value is None or not math.isfinite(value):
            self.study.tell(trial_number, state=self.TrialState.FAIL)
        else:
            self.study.tell(trial_number, value)

    def next(self) -> Item | None:
        if self.queue:
            item = self.queue.pop(0)
            self.study.enqueue_trial(self.spec.to_optuna(_params_of(self.store, item.key)),
                                     user_attrs={"key": item.key, "counted": item.counted, "resumed": True})
            item.trial = self.study.ask(self.dists).number
            self.in_flight_counted += int(item.counted)
            self.running_keys.add(item.key)
            return item
        while self.finished + self.in_flight_counted < self.total and self.asks_left > 0:
            self.asks_left -= 1
            trial = self.study.ask(self.dists)
            params = self.spec.from_optuna(trial.params)
            if not _valid(self.spec, params):
                trial.set_user_attr("skipped", "breaks a constraint or is an invalid run config")
                self.study.tell(trial, state=self.TrialState.FAIL)
                continue
            cfg = self.spec.config_for(params)
            data = _data(cfg)
            key = combination_key(cfg, data, self.engine)
            if key in self.running_keys:
                trial.set_user_attr("skipped", "the same combination is running")
                self.study.tell(trial, state=self.TrialState.FAIL)
                continue
            status = self.store.add(key, trial.number, params, cfg, data, self.engine)
            trial.set_user_attr("key", key)
            trial.set_user_attr("counted", True)
            if status in ("done", "failed"):  # a known result: told, never run twice
                self._tell(trial.number, self.store.metric(key, self.spec.metric) if status == "done" else None)
                self.finished += 1
                continue
            self.in_flight_counted += 1
            self.running_keys.add(key)
            return Item(key, cfg, data, status, trial.number, counted=True)
        return None

    def on_result(self, item: Item, result) -> None:
        self.running_keys.discard(item.key)
        v = result.summary.get(self.spec.metric) if result.ok else None
        self._tell(item.trial, None if v is None else float(v))
        if item.counted:
            self.in_flight_counted -= 1
            self.finished += 1


def _data(cfg: dict) -> dict:
    """The data fingerprints of a combination; when its data cannot be read (say, a ticker with no prices) the
    reason stands in for them, and the combination fails when it runs, with that error, like any run-time failure."""
    try:
        return data_fingerprints(cfg)
    except InputError as exc:
        return {"unavailable": str(exc)}


def _valid(spec: SweepSpec, params: dict) -> bool:
    if not spec.holds(params):
        return False
    try:
        spec.config_for(params)
    except InputError:
        return False
    return True


def _params_of(store: SweepStore, key: str) -> dict:
    import json

    r = store.con.execute("SELECT params FROM combinations WHERE key = ?", (key,)).fetchone()
    return json.loads(r[0]) if r else {}


# ---------------------------------------------------------------- the call
@dataclass
class Outcome:
    total: int = 0
    done: int = 0
    failed: int = 0
    pending: int = 0
    ran: int = 0
    stopped: str | None = None  # None (finished), "budget", "signal" (SIGTERM) or "interrupt" (Ctrl-C)
    trials: int = 0  # optuna: trials finished (a trial that proposed a combination already done counts)
    took_over: dict | None = None
    elapsed: float = 0.0
    messages: list = field(default_factory=list)


#: exit codes of a call stopped on request (shell convention 128 + signal number), so a cron job can tell it from a finished one
STOPPED_EXIT = {"interrupt": 130, "signal": 143}

_STORAGE_FAULTS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG}


def storage_fault(exc: BaseException) -> str | None:
    """What went wrong, when ``exc`` is the disk refusing a write (full, quota, read-only, I/O error); else None."""
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc)
        if any(w in text for w in ("disk is full", "disk I/O error", "readonly database", "read-only")):
            return text
    if isinstance(exc, OSError) and exc.errno in _STORAGE_FAULTS:
        return exc.strerror or str(exc)
    return None


def _storage_error(db: Path, what: str, kept: int) -> InputError:
    saved = f"the {kept} combinations stored before are kept"
    return InputError(Problem(f"cannot write the sweep database: {what}; {saved} (each result is committed as it arrives)",
                              path=str(db), field="--db",
                              expected="free space on its disk (or a writable file); then run the same command again to resume"))


def _probe_scheduler(address: str, timeout: float = 10.0) -> None:
    """:class:`InputError` unless a TCP connection to the Dask scheduler ``address`` (``tcp://host:port``) opens."""
    import socket
    from urllib.parse import urlsplit

    u = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = u.hostname, u.port or 8786
    except ValueError:
        host, port = None, None
    if not host:
        raise InputError(Problem(f"not a scheduler address: {address!r}", field="--scheduler", expected="tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786"))
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise InputError(Problem(f"cannot reach the Dask scheduler at {address}: {exc.strerror or exc}", field="--scheduler",
                                 expected="a running 'dask scheduler' at that address (nothing was written)")) from None


def check_db_path(db: Path) -> None:
    if db.exists() and not db.is_file():
        raise InputError(Problem("is a directory, not a database file", path=str(db), field="--db", expected="a file path"))
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(Problem(f"cannot create its folder: {exc.strerror}", path=str(db), field="--db", expected="a writable path")) from None
    if not os.access(db.parent, os.W_OK) or (db.exists() and not os.access(db, os.W_OK)):
        raise InputError(Problem("not writable", path=str(db), field="--db", expected="a writable path"))


def run_sweep(spec_path, db, *, workers: int = 1, backend: str = "local", scheduler: str | None = None, max_hours: float | None = None,
              engine: str = "backtrader", retry_failed: bool = True, echo=print, stream=None, command: str = "",
              verify_top: int | None = None) -> Outcome:
    """Run (or resume) a sweep; see the module docstring. ``echo`` receives the messages meant for stdout."""
    t_call = time.monotonic()
    deadline = t_call + max_hours * 3600 if max_hours else None
    spec = load_spec(spec_path)  # everything about the spec is checked before any file is touched
    if engine not in ENGINES:
        raise InputError(Problem(f"unknown engine {engine!r}", field="--engine", expected="one of " + ", ".join(ENGINES)))
    if backend not in BACKENDS:
        raise InputError(Problem(f"unknown backend {backend!r}", field="--backend", expected="local or dask"))
    if scheduler and backend != "dask":
        raise InputError(Problem("--scheduler needs --backend dask", field="--scheduler"))
    if workers < 1:
        raise InputError(Problem(f"expected at least 1 worker, got {workers}", field="--workers"))
    batched = engine == "fast" and spec.search != "optuna"
    if batched and backend == "dask":
        raise InputError(Problem("a grid or random sweep on the fast engine runs in this process, on --workers threads (a million "
                                 "combinations take minutes on 2 cores), so it does not use a Dask cluster", field="--backend",
                                 expected="--backend local with --engine fast, or --engine backtrader on Dask"))
    if verify_top is not None and verify_top < 0:
        raise InputError(Problem(f"expected 0 or more, got {verify_top}", field="--verify-top"))
    if backend == "dask":
        from backtests.sweeps.backends import import_distributed

        import_distributed()
        if scheduler:
            _probe_scheduler(scheduler)  # before the database is touched: an unreachable cluster writes nothing
    if spec.search == "optuna":
        try:
            import optuna  # noqa: F401
        except ImportError:
            raise InputError(Problem("optuna search needs optuna: pip install optuna", path=str(spec.path), field="search")) from None
    db = Path(db)
    check_db_path(db)

    out = Outcome()
    store = SweepStore(db)
    try:
        return _call(out, store, spec, db, workers, backend, scheduler, max_hours, engine, retry_failed, echo, stream, command,
                     verify_top, t_call, deadline, batched)
    except (sqlite3.OperationalError, OSError) as exc:
        what = storage_fault(exc)
        if what is None:
            raise
        raise _storage_error(db, what, count_done(db)) from None


def _say_invalid(spec: SweepSpec, echo) -> None:
    """Combinations that are not valid run configs never run: say how many, and why the first fails."""
    from backtests.sweeps.spec import _show

    res = spec._check
    if res is None or not res.n_invalid:
        return
    params, exc = res.examples[0]
    p = exc.problems[0]
    echo(f"{res.n_invalid} of {res.n_candidates - res.n_excluded} combinations{' checked' if not res.exhaustive else ''} are invalid "
         f"run configs and will not run; the first, {_show(params)}, fails: {p.message} (field {p.field}"
         + (f"; expected {p.expected})" if p.expected else ")"))


def _call(out: Outcome, store: SweepStore, spec: SweepSpec, db: Path, workers, backend, scheduler, max_hours, engine, retry_failed,
          echo, stream, command, verify_top, t_call, deadline, batched) -> Outcome:
    """The body of :func:`run_sweep`, once everything is checked and the store is open."""
    stop = {"why": None}
    old_handler = None
    try:
        out.took_over = store.acquire(command or f"aibt sweep {spec.path}")
        if out.took_over:
            o = out.took_over
            echo(f"took over a stale lease on {db} (pid {o['pid']} on {o['host']}, since {o['since']}: {o['why']})")
        store.begin_call(spec, engine)
        _say_invalid(spec, echo)
        if threading.current_thread() is threading.main_thread():
            def on_signal(signum, frame):
                if signum == signal.SIGINT and stop["why"] == "interrupt":
                    raise KeyboardInterrupt  # a second Ctrl-C: abort now, in-flight work is lost (and pending again)
                stop["why"] = "interrupt" if signum == signal.SIGINT else "signal"
                if signum == signal.SIGINT:
                    print("\ninterrupted: finishing the combinations in flight (Ctrl-C again to abort them)", file=stream or sys.stderr, flush=True)

            old_handler = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}

        beat = store.heartbeat
        if batched:
            return _run_batched(out, spec, store, db, workers, retry_failed, stop, deadline, echo, stream, t_call,
                                VERIFY_TOP if verify_top is None else verify_top)
        store.set_meta(base_key="", fast_sample="", fast_sweep="")  # what a fast grid on this database recorded is not this call's
        plan = OptunaPlan(spec, store, engine, retry_failed, beat) if spec.search == "optuna" else GridPlan(spec, store, engine, retry_failed, beat)
        try:  # the resolved base config, so the report's SPA benchmark is the base itself, not a file read again later
            store.set_meta(call_total=plan.total, base_config=canonical_json(spec.config_for({})))
        except InputError:
            store.set_meta(call_total=plan.total, base_config="")
        c = store.counts()
        if plan.to_run == 0:
            _finish(out, store, spec, plan, t_call)
            tail = (f" ({c['failed']} failed; a failed combination is retried once in all, and --retry-failed allows that retry)"
                    if c["failed"] else "")
            echo(f"nothing to run: {_counts_line(out, spec)}{tail}; database {db}")
            return out
        where = f"the dask scheduler {scheduler}" if scheduler else f"{workers} {backend} worker{'s' if workers > 1 else ''}"
        _finish(out, store, spec, plan, t_call)
        echo(f"sweep {spec.name} ({spec.search}): {_counts_line(out, spec)}; running {plan.to_run} on {where} -> {db}")
        warm = _warm_config(spec)
        if backend == "dask":
            from backtests.sweeps.backends import DaskBackend

            pool = DaskBackend(workers, scheduler, warm)
            n_workers = max(len(pool.client.scheduler_info().get("workers", {})), 1)
        else:
            from backtests.sweeps.backends import LocalBackend

            pool = LocalBackend(workers, warm)
            n_workers = workers
        limit = max(1, plan.limit_per_worker * n_workers)
        progress = Progress(plan.to_run, None if spec.search == "optuna" else c["total"], c["done"], c["failed"], stream=stream)
        items: dict[str, Item] = {}
        exhausted = False
        try:
            while True:
                while not exhausted and stop["why"] is None and pool.in_flight < limit:
                    if deadline is not None and time.monotonic() >= deadline:
                        stop["why"] = "budget"
                        break
                    item = plan.next()
                    if item is None:
                        exhausted = True
                        break
                    store.mark_running(item.key)
                    items[item.key] = item
                    pool.submit(item.key, item.config, engine, item.data)
                if pool.in_flight == 0:
                    break
                for key, result in pool.wait(WAIT_S):
                    item = items.pop(key)
                    store.record(key, result)
                    plan.on_result(item, result)
                    out.ran += 1
                    progress.update(result.ok, item.prior == "failed")
                store.heartbeat()
                progress.tick()
        except BaseException:
            pool.abort()
            store.reset_running(list(items))
            progress.close()
            raise
        pool.close()
        progress.close()
        out.stopped = stop["why"]
        _finish(out, store, spec, plan, t_call)
        echo(f"{spec.name}: {_counts_line(out, spec)}; this call ran {out.ran} in {fmt_duration(out.elapsed)}")
        if out.stopped == "budget":
            echo(f"time budget of {max_hours:g} h reached: nothing new was started and what was in flight finished; "
                 f"run the same command again to resume ({out.pending} left)")
        elif out.stopped in ("signal", "interrupt"):
            what = "SIGTERM" if out.stopped == "signal" else "Ctrl-C"
            echo(f"stopped on request ({what}) after the combinations in flight; run the same command again to resume ({out.pending} left)")
        if out.failed:
            echo(f"{out.failed} failed: their errors are in the database (load_results, or 'aibt sweep report {db}'); a failed "
                 "combination is retried once in all, at the next call (--no-retry-failed leaves them)")
        echo(f"results: {db}; report: aibt sweep report {db}")
        return out
    finally:
        for s_, h in (old_handler or {}).items():
            signal.signal(s_, h)
        store.release()
        try:
            store.close()
        except sqlite3.Error:  # a full disk can refuse the last checkpoint; the WAL file keeps what was committed
            pass


def _run_batched(out: Outcome, spec: SweepSpec, store: SweepStore, db: Path, workers: int, retry_failed: bool, stop: dict, deadline,
                 echo, stream, t_call: float, verify_top: int) -> Outcome:
    """A grid or random sweep on the fast engine (:mod:`backtests.sweeps.batch`)."""
    from backtests.sweeps.batch import run_batched

    try:
        store.set_meta(base_config=canonical_json(spec.config_for({})))
    except InputError:
        store.set_meta(base_config="")

    def progress(to_run, total, done, failed):
        echo(f"sweep {spec.name} ({spec.search}, fast engine): {total} combinations; running {to_run} on {workers} thread"
             f"{'s' if workers > 1 else ''} -> {db}")
        return Progress(to_run, total, done, failed, stream=stream)

    res = run_batched(spec, store, workers=workers, retry_failed=retry_failed, stop=stop, deadline=deadline, verify_top=verify_top,
                      progress_factory=progress, echo=echo, beat=store.heartbeat)
    store.set_meta(call_total=res["plan"].total)
    out.ran, out.stopped = res["ran"], res["stopped"]
    c = store.counts()
    out.total, out.done, out.failed, out.pending = c["total"], c["done"], c["failed"], c["pending"] + c["running"]
    out.elapsed = time.monotonic() - t_call
    tm = res["timings"]
    echo(f"{spec.name}: {_counts_line(out, spec)}; this call ran {out.ran} in {fmt_duration(out.elapsed)} "
         f"({res['groups']} plans, planned and executed in {tm['execute_s']:.1f} s)")
    v = res["verified"]
    if v:
        n = sum(v.values())
        echo(f"top {n} by {spec.metric} re-run on Backtrader (with their placebo): {v['agree']} agree, {v['disagree']} disagree, {v['failed']} failed"
             + ("" if not v["disagree"] else " -- see 'aibt sweep report'"))
    if out.stopped in ("signal", "interrupt", "budget"):
        echo(f"stopped ({out.stopped}) between plans: what finished is stored; run the same command again to resume ({out.pending} left)")
    if out.failed:
        echo(f"{out.failed} failed: their errors are in the database (load_results, or 'aibt sweep report {db}')")
    echo(f"results: {db}; report: aibt sweep report {db}")
    return out


def _finish(out: Outcome, store: SweepStore, spec: SweepSpec, plan, t_call: float) -> None:
    c = store.counts()
    out.total = c["total"]
    out.done, out.failed = c["done"], c["failed"]
    out.pending = c["pending"] + c["running"]
    if spec.search == "optuna":
        out.trials = plan.finished
        out.pending += max(plan.total - plan.finished - out.pending, 0)  # trials still to ask
    out.elapsed = time.monotonic() - t_call


def _counts_line(out: Outcome, spec: SweepSpec) -> str:
    if spec.search == "optuna":
        return (f"{out.trials} of {spec.n_trials} trials finished ({out.total} distinct combinations: {out.done} done, {out.failed} failed)"
                + (f", {out.pending} to go" if out.pending else ""))
    return f"{out.total} combinations: {out.done} done, {out.failed} failed, {out.pending} pending"


def _warm_config(spec: SweepSpec) -> dict | None:
    """A config whose inputs every worker loads once up front (the first valid combination's)."""
    if spec.search == "optuna":
        for _, p in spec._grid_candidates():
            if _valid(spec, p):
                return spec.config_for(p)
        return None
    return next(iter(spec.combinations())).config
