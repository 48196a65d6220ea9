"""Where combinations run: a local process pool or a Dask cluster, behind one small interface.

Both take ``submit(tag, config, engine, expect)`` and hand finished work back from ``wait(timeout)`` as
``(tag, TrialResult)`` pairs as soon as each is done (the parent, the one SQLite writer, stores them one
by one), so nothing accumulates in memory whatever the number of combinations; the driver keeps only a
few combinations in flight per worker.

* :class:`LocalBackend` -- :class:`concurrent.futures.ProcessPoolExecutor` on the ``forkserver`` start
  method (``spawn`` where there is none) with :mod:`backtests.sweeps.execute` preloaded in the server, so
  workers start quickly and never inherit the parent's open database or threads. Each worker process runs
  :func:`~backtests.sweeps.execute.init_worker` once: the sweep's environment, a watch that ends it if the
  sweep process dies (even by SIGKILL), and the shared inputs loaded for every later combination. A worker that dies (killed, out
  of memory) fails the combinations then in flight with that reason, and the pool is restarted.
* :class:`DaskBackend` -- ``dask.distributed``: a ``Client`` on ``--scheduler`` or on a ``LocalCluster`` of
  ``--workers`` single-threaded worker processes; futures come back through ``distributed.as_completed``.
  Per-worker caching is the same per-process memo (the ``client.run`` warm-up fills it). Dask is the
  ``dist`` extra and is imported only here, lazily.
"""
from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing as mp
import os
import time
from concurrent.futures.process import BrokenProcessPool

from backtests.sweeps.execute import ENV_KEYS, TrialResult, init_worker, run_combination, worker_id
from events.errors import InputError, Problem

DASK_MISSING = ("the dask backend needs dask.distributed, which is not installed: pip install -e '.[dist]' "
                "(or pip install 'dask[distributed]')")


def _failed(why: str) -> TrialResult:
    return TrialResult(None, None, 0.0, worker_id(), why)


class LocalBackend:
    """A local process pool (see the module docstring)."""

    def __init__(self, workers: int, warm_config: dict | None = None):
        self.workers = workers
        self.warm_config = warm_config
        methods = mp.get_all_start_methods()
        if "forkserver" in methods:
            self.ctx = mp.get_context("forkserver")
            self.ctx.set_forkserver_preload(["backtests.sweeps.forkserver_signals", "backtests.sweeps.execute"])
        else:  # pragma: no cover - Windows
            self.ctx = mp.get_context("spawn")
        self.futures: dict = {}
        self._start()

    def _start(self) -> None:
        env = {k: os.environ.get(k) for k in ENV_KEYS}
        self.pool = cf.ProcessPoolExecutor(self.workers, mp_context=self.ctx, initializer=init_worker, initargs=(env, self.warm_config, os.getpid()))

    @property
    def in_flight(self) -> int:
        return len(self.futures)

    def submit(self, tag, config: dict, engine: str, expect: dict | None) -> None:
        self.futures[self.pool.submit(run_combination, config, engine, expect)] = tag

    def wait(self, timeout: float) -> list:
        if not self.futures:
            return []
        done, _ = cf.wait(list(self.futures), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        out, broken = [], False
        for f in done:
            tag = self.futures.pop(f)
            try:
                out.append((tag, f.result()))
            except BrokenProcessPool:
                broken = True
                out.append((tag, _failed("a worker process died while this combination was in flight (killed, or out of memory?)")))
            except Exception as exc:  # noqa: BLE001
                out.append((tag, _failed(f"internal error: {type(exc).__name__}: {exc}")))
        if broken:
            for f in list(self.futures):
                out.append((self.futures.pop(f), _failed("a worker process died while this combination was in flight (killed, or out of memory?)")))
            self.pool.shutdown(wait=False, cancel_futures=True)
            self._start()
        return out

    def close(self, cancel: bool = False) -> None:
        self.pool.shutdown(wait=True, cancel_futures=cancel)

    def abort(self) -> None:
        """Stop now: the worker processes this pool started are terminated, in-flight work is dropped."""
        procs = list((getattr(self.pool, "_processes", None) or {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if p.is_alive():
                p.kill()  # the workers ignore SIGTERM (it goes to the whole process group; the sweep process decides)
        for p in procs:
            p.join(timeout=5)


def import_distributed():
    """``distributed``, or an :class:`InputError` saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise InputError(Problem(DASK_MISSING, field="--backend")) from None
    return distributed


class DaskBackend:
    """A dask.distributed cluster (see the module docstring)."""

    def __init__(self, workers: int, scheduler: str | None = None, warm_config: dict | None = None):
        distributed = import_distributed()
        self.distributed = distributed
        self.cluster = None
        if scheduler:
            try:
                self.client = distributed.Client(scheduler, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise InputError(Problem(f"cannot reach the Dask scheduler: {exc}", field="--scheduler",
                                         expected="the address of a running dask scheduler, e.g. tcp://10.0.0.5:8786")) from None
            env = {}  # a remote cluster keeps its own environment; run_combination checks its data's fingerprints
        else:
            self.cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                                    silence_logs=logging.ERROR)
            self.client = distributed.Client(self.cluster)
            env = {k: os.environ.get(k) for k in ENV_KEYS}
        self.client.run(init_worker, env, warm_config, None)
        self.ac = distributed.as_completed()
        self.futures: dict = {}

    @property
    def in_flight(self) -> int:
        return len(self.futures)

    def submit(self, tag, config: dict, engine: str, expect: dict | None) -> None:
        f = self.client.submit(run_combination, config, engine, expect, pure=False)
        self.futures[f] = tag
        self.ac.add(f)

    def wait(self, timeout: float) -> list:
        if not self.futures:
            return []
        end = time.monotonic() + timeout
        while not self.ac.has_ready() and time.monotonic() < end:
            time.sleep(0.02)
        out = []
        for f in self.ac.next_batch(block=False) if self.ac.has_ready() else []:
            tag = self.futures.pop(f)
            if f.status == "finished":
                out.append((tag, f.result()))
            else:
                try:
                    exc = f.exception()
                except Exception as e:  # noqa: BLE001 - e.g. cancelled
                    exc = e
                out.append((tag, _failed(f"the Dask task did not finish ({f.status}): {type(exc).__name__}: {exc}")))
            f.release()
        return out

    def abort(self) -> None:
        self.close(cancel=True)

    def close(self, cancel: bool = False) -> None:
        try:
            if cancel and self.futures:
                self.client.cancel(list(self.futures))
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()
