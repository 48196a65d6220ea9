"""Grid and random sweeps on the fast engine: plan each distinct plan once, execute all its cost settings in one call.

A combination's parameters split in two. Those that change *what is traded* (events, windows, sides, hedge,
dates, fill) make its **plan**: :func:`backtests.runner.plan_run` loads the inputs and plans the episodes
(30-70 ms). A strategy never sees the others (:func:`backtests.config.planning_portfolio`), so the grouping
cannot be wrong. Those that change only *how it is executed* (:data:`EXEC_KEYS`: costs, cash, whole shares,
the cash buffer) do not change the plan, so every combination of one plan group runs in one call of the
compiled kernel (:func:`backtests.engines.fast_engine.run_costs`), in parallel over the machine's cores.

What is stored (the same database as any sweep, :mod:`backtests.sweeps.store`):

* every combination's summary.json metrics, computed in the kernel from its full daily equity (the parity
  tests hold them to :func:`backtests.stats.performance.summary_metrics`); ``placebo_p`` is left empty and
  ``placebo_n`` is 0: a placebo of 1,000 runs per combination would cost 1,000 times the sweep, so it is
  computed for the best combinations only, in their Backtrader re-runs;
* daily returns for every combination when the sweep has at most :data:`KEEP_ALL_RETURNS`; else for a
  seeded sample of :data:`RETURNS_SAMPLE` combinations (drawn before anything runs), the top K by the spec's
  metric (for the re-runs), the best Sharpe ratio (the deflated Sharpe's subject) and the base config's
  combination (the SPA benchmark). The report's PBO, SPA and walk-forward use the sample (and the base) only:
  combinations kept *because* of their results would flatter them. It says how many were used;
* the top K (``verify_top``, default 20) re-run on Backtrader, each with the placebo its config asks for, and
  whether the two engines agreed (:mod:`backtests.engines.parity`), in the ``verifications`` table.

Validity: as every grid or random spec is checked (:meth:`SweepSpec.grouped_walk`): a combination's run config
once per plan group, and each swept value of an :data:`~backtests.sweeps.spec.EXEC_KEYS` field once on its own.

Keys: ``sha256`` of the plan group's hash (its resolved config without the swept execution fields, and its
data fingerprints) and the combination's swept execution values (canonical JSON), with the engine; so a changed
file or config means new rows, as for any sweep, and the same command resumes. (The key depends on which
execution fields the spec sweeps: sweeping a field at its base value gives new keys.)
"""
from __future__ import annotations

import copy
import hashlib
import json
import time
import traceback
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backtests.sweeps.execute import data_fingerprints, worker_id
from backtests.sweeps.spec import EXEC_KEYS, CheckResult, SweepSpec
from backtests.sweeps.store import MAX_ATTEMPTS, SweepStore, canonical_json
from events.errors import InputError, Problem

KEEP_ALL_RETURNS = 5_000
RETURNS_SAMPLE = 1_000
VERIFY_TOP = 20
ENGINE = "fast"


@dataclass
class Group:
    """One plan: its combinations (ordinal, index of each parameter's value) and what they share."""

    config: dict  # the first combination's resolved config
    data: dict
    sha: str
    ordinals: list = field(default_factory=list)
    idx: list = field(default_factory=list)
    keys: list = field(default_factory=list)


@dataclass
class BatchPlan:
    """The plan groups of a spec and what its validity walk found (counts and the first invalid combinations)."""

    groups: list
    check: CheckResult = field(default_factory=CheckResult)

    @property
    def total(self) -> int:
        return sum(len(g.ordinals) for g in self.groups)


def _cfg_value(cfg: dict, dotted: str):
    cur = cfg
    for part in dotted.split("."):
        cur = cur[part]
    return cur


def _exec_of(spec: SweepSpec, g: Group, idx: tuple, exec_pos: list) -> dict:
    """A combination's execution values: ``cash, commission_bps, slippage_bps, borrow_bps, fractional, cash_buffer``."""
    out = {name: _cfg_value(g.config, k) for k, name in EXEC_KEYS.items()}
    names = list(spec.params)
    for i in exec_pos:
        out[EXEC_KEYS[names[i]]] = spec.params[names[i]].values[idx[i]]
    return out


def _key(g: Group, spec: SweepSpec, idx: tuple, exec_pos: list) -> str:
    names = list(spec.params)
    ex = {names[i]: spec.params[names[i]].values[idx[i]] for i in exec_pos}
    return hashlib.sha256(f"{g.sha}|{canonical_json(ex)}|{ENGINE}".encode()).hexdigest()


def plan_batches(spec: SweepSpec) -> BatchPlan:
    """The spec's valid combinations (:meth:`SweepSpec.grouped_walk`) grouped by plan; every combination gets its key."""
    names = list(spec.params)
    exec_pos = [i for i, k in enumerate(names) if k in EXEC_KEYS]
    out = BatchPlan([])
    for ordinal, idx, plan_no, cfg in spec.grouped_walk(out.check):
        if cfg is not None:
            data = _data(cfg)
            body = copy.deepcopy(cfg)
            for i in exec_pos:  # the swept execution fields are the combinations', not the group's
                sect, leaf = names[i].split(".")
                body[sect].pop(leaf, None)
            out.groups.append(Group(cfg, data, hashlib.sha256(canonical_json({"config": body, "data": data}).encode()).hexdigest()))
        g = out.groups[plan_no]
        g.ordinals.append(ordinal)
        g.idx.append(idx)
        g.keys.append(_key(g, spec, idx, exec_pos))
    return out


def _data(cfg: dict) -> dict:
    try:
        return data_fingerprints(cfg)
    except InputError as exc:
        return {"unavailable": str(exc)}


def returns_sample(plan: BatchPlan, seed: int, n: int | None = None) -> set:
    """Ordinals whose daily returns are kept: all of them up to :data:`KEEP_ALL_RETURNS`, else a seeded sample of ``n``
    (default :data:`RETURNS_SAMPLE`)."""
    n = RETURNS_SAMPLE if n is None else n
    ordinals = np.array(sorted(o for g in plan.groups for o in g.ordinals), dtype=np.int64)
    if len(ordinals) <= KEEP_ALL_RETURNS:
        return set(ordinals.tolist())
    rng = np.random.default_rng([seed, 20261124])
    return set(rng.choice(ordinals, size=min(n, len(ordinals)), replace=False).tolist())


@dataclass
class Executed:
    """One plan group executed: per todo row ``(key, summary values in SUMMARY_KEYS order or None when it failed,
    daily returns or None, error or None, seconds, worker)`` on the session axis ``index``."""

    rows: list
    index: pd.DatetimeIndex | None


def execute_group(spec: SweepSpec, g: Group, todo: list, keep: set, keep_returns_for=None) -> Executed:
    """Plan ``g`` once and execute its combinations at positions ``todo`` (indexes into ``g.ordinals``);
    daily returns kept for the ordinals in ``keep`` (or for every row with ``keep_returns_for='all'``). Any failure
    fails the plan's combinations with its message (an input error's, else the traceback), as for any sweep."""
    t0 = time.perf_counter()
    who = worker_id()
    try:
        return _execute_group(spec, g, todo, keep, keep_returns_for, t0, who)
    except InputError as exc:
        err = str(exc)
    except Exception:  # noqa: BLE001 - as in backtests.sweeps.execute: the plan's combinations fail, the sweep goes on
        err = "internal error: " + traceback.format_exc(limit=20)
    return Executed([(g.keys[j], None, None, err, 0.0, who) for j in todo], None)


def _execute_group(spec: SweepSpec, g: Group, todo: list, keep: set, keep_returns_for, t0: float, who: str) -> Executed:
    from backtests.engines.fast_engine import run_costs
    from backtests.engines.kernel import METRICS
    from backtests.reports.rundir import SUMMARY_KEYS
    from backtests.runner import kernel_inputs, plan_run
    from backtests.sweeps.execute import _check_data
    from strategies.schedule import cash_shortfall

    names = list(spec.params)
    exec_pos = [i for i, k in enumerate(names) if k in EXEC_KEYS]
    pl = plan_run(g.config)
    why = _check_data(pl.fingerprints(), g.data)  # the files read now are the ones the keys were computed with
    if why:
        return Executed([(g.keys[j], None, None, why, 0.0, who) for j in todo], None)
    cfg, sessions = pl.cfg, pl.sessions
    fill = cfg["portfolio"]["fill"]
    tickers = list(pl.frames)
    sched, prices, basket, lags = kernel_inputs(pl)
    ex = [_exec_of(spec, g, g.idx[j], exec_pos) for j in todo]
    costs = {name: np.array([e[name] for e in ex]) for name in EXEC_KEYS.values()}
    want = np.array([keep_returns_for == "all" or g.ordinals[j] in keep for j in todo], dtype=bool)
    metrics, rets, fail = run_costs(sched, prices, basket, costs, lags=lags, keep_returns=bool(want.any()))
    units = pl.resolved
    plans = pl.plans
    ids = set(units["event_id"]) if len(units) else set()
    traded_units = {eid for e in pl.episodes for eid in e.event_ids}
    const = {"n_events": float(len(ids)), "placebo_p": None, "placebo_n": 0.0,
             "n_events_calendar": float(len(pl.everything)), "n_events_selected": float(pl.selected.sum()),
             "n_events_tradable": float(plans.loc[plans["event_id"].isin(ids), "entry"].notna().sum()) if plans is not None and len(plans) else 0.0,
             "n_events_traded": float(len(ids & traded_units))}
    # the summary.json values of every row, in SUMMARY_KEYS order (text dates first), NaN stored as NULL
    col = {m: i for i, m in enumerate(METRICS)}
    numeric = [k for k in SUMMARY_KEYS if k not in ("start", "end")]
    table = np.column_stack([metrics[:, col[k]] if k in col else np.full(len(todo), np.nan if const[k] is None else const[k]) for k in numeric])
    took = (time.perf_counter() - t0) / max(len(todo), 1)
    dates = (sessions[0].date().isoformat(), sessions[-1].date().isoformat())
    rows = []
    for r, (j, vals) in enumerate(zip(todo, table.tolist())):
        if fail[r, 0] >= 0:
            err = str(cash_shortfall(sessions[fail[r, 0]], tickers[fail[r, 1]], fill))
            rows.append((g.keys[j], None, None, err, took, who))
        else:
            rows.append((g.keys[j], (*dates, *vals), rets[r] if want[r] else None, None, took, who))
    return Executed(rows, sessions)


def set_threads(workers: int) -> None:
    """Numba's parallel rows use ``workers`` threads (at most the machine's cores)."""
    import numba

    numba.set_num_threads(max(1, min(int(workers), numba.config.NUMBA_NUM_THREADS)))


def verify(spec: SweepSpec, store: SweepStore, plan: BatchPlan, keys: list, stop: dict, echo) -> dict:
    """Re-run ``keys`` on Backtrader (with their placebo) and store whether the engines agree; returns counts."""
    from backtests.engines.parity import compare_returns, compare_summaries
    from backtests.sweeps.execute import run_combination
    from backtests.sweeps.store import load_returns

    from backtests.reports.rundir import SUMMARY_KEYS
    from backtests.sweeps.store import _q

    wanted = set(keys)
    where = {k: (g, j) for g in plan.groups for j, k in enumerate(g.keys) if k in wanted}
    done = store.verified("backtrader")
    fast_rets = load_returns(store.path, keys)
    counts = {"agree": 0, "disagree": 0, "failed": 0}
    cols = ", ".join(_q("m_" + k) for k in SUMMARY_KEYS)
    for k in keys:
        if stop.get("why"):
            break
        if done.get(k) in ("agree", "disagree"):  # a failed re-run is tried again
            counts[done[k]] += 1
            continue
        if k not in where:
            continue
        g, j = where[k]
        cfg = spec.config_for(spec._values_at(g.idx[j]))
        res = run_combination(cfg, "backtrader", expect=g.data)
        if not res.ok:
            store.record_verification(k, "backtrader", "failed", [res.error], None, res.duration)
            counts["failed"] += 1
            continue
        row = store.con.execute(f"SELECT {cols} FROM combinations WHERE key = ?", (k,)).fetchone()
        fast = {m: (v if v is not None else float("nan")) for m, v in zip(SUMMARY_KEYS, row)}
        compared = [m for m in SUMMARY_KEYS if m not in ("placebo_p", "placebo_n")]
        problems = compare_summaries(res.summary, fast, compared)
        if k in fast_rets.columns:
            problems += compare_returns(res.returns, fast_rets[k].dropna())
        status = "agree" if not problems else "disagree"
        store.record_verification(k, "backtrader", status, problems, res.summary, res.duration)
        counts[status] += 1
        store.heartbeat()
    return counts


def top_keys(store: SweepStore, metric: str, direction: str, k: int) -> list:
    """The ``k`` best finished current combinations by ``metric`` (those without a value are not ranked; ties: lower
    ordinal first)."""
    from backtests.sweeps.store import _q

    order = "DESC" if direction == "maximize" else "ASC"
    col = _q("m_" + metric)
    return [r[0] for r in store.con.execute(f"SELECT key FROM combinations WHERE current = 1 AND status = 'done' AND {col} IS NOT NULL "
                                            f"ORDER BY {col} {order}, ordinal LIMIT ?", (int(k),))]


def base_key(spec: SweepSpec, plan: BatchPlan) -> str | None:
    """The key of the combination whose every swept value is the base config's own, if the sweep has it."""
    try:
        base_cfg = spec.config_for({})
    except InputError:
        return None
    want = []
    for k, p in spec.params.items():
        cur = base_cfg
        for part in k.split("."):
            if not isinstance(cur, dict) or part not in cur:
                return None
            cur = cur[part]
        hits = [i for i, v in enumerate(p.values) if canonical_json(v) == canonical_json(cur)
                or (isinstance(v, (int, float)) and isinstance(cur, (int, float)) and not isinstance(v, bool) and float(v) == float(cur))]
        if not hits:
            return None
        want.append(hits[0])
    want = tuple(want)
    for g in plan.groups:
        for idx, key in zip(g.idx, g.keys):
            if tuple(idx) == want:
                return key
    return None


def run_batched(spec: SweepSpec, store: SweepStore, *, workers: int, retry_failed: bool, stop: dict, deadline: float | None,
                verify_top: int, progress_factory, echo, beat) -> dict:
    """The fast engine's part of :func:`backtests.sweeps.driver.run_sweep` for grid and random searches:
    plan, execute group by group (each group's results committed together), keep the returns of the top K,
    and re-run the top K on Backtrader. Returns ``{"ran", "stopped", "verified", "groups", "timings"}``."""
    t0 = time.perf_counter()
    set_threads(workers)
    plan = plan_batches(spec)
    if not plan.total:
        first = plan.check.examples[0][1] if plan.check.examples else None
        if first is not None:
            raise first
        raise InputError(Problem("every combination is excluded by the constraints", path=str(spec.path), field="constraints"))
    t_enum = time.perf_counter()
    for g in plan.groups:
        store.add_plan_group(g.sha, g.config, g.data)
    names = list(spec.params)

    # params as canonical JSON, joined from per-value pieces (a million json.dumps calls would take longer than the sweep)
    order = sorted(range(len(names)), key=lambda i: names[i])
    pieces = [[json.dumps(names[i]) + ":" + canonical_json(v) for v in spec.params[names[i]].values] for i in range(len(names))]

    def rows():
        for g in plan.groups:
            data = canonical_json({"plan_group": g.sha})
            for o, idx, k in zip(g.ordinals, g.idx, g.keys):
                yield k, o, "{" + ",".join(pieces[i][idx[i]] for i in order) + "}", "", data, ENGINE

    store.plan(rows(), beat=beat)
    t_plan = time.perf_counter()
    keep = returns_sample(plan, spec.seed)
    sample_keys = sorted(k for g in plan.groups for o, k in zip(g.ordinals, g.keys) if o in keep)
    base = base_key(spec, plan)
    todo_by_group = []
    to_run = 0
    for g in plan.groups:
        st = store.statuses(g.keys)
        todo = [j for j, k in enumerate(g.keys)
                if st.get(k, ("pending", 0, False))[0] in ("pending", "running")
                or (retry_failed and st[k][0] == "failed" and st[k][1] < MAX_ATTEMPTS)]
        prior_failed = sum(1 for j in todo if st.get(g.keys[j], ("pending",))[0] == "failed")
        todo_by_group.append((g, todo, prior_failed))
        to_run += len(todo)
    c = store.counts()
    progress = progress_factory(to_run, c["total"], c["done"], c["failed"])
    ran = 0
    stopped = None
    t_exec = 0.0
    try:
        for g, todo, prior_failed in todo_by_group:
            if not todo:
                continue
            if stop.get("why") or (deadline is not None and time.monotonic() >= deadline):
                stopped = stop.get("why") or "budget"
                break
            t1 = time.perf_counter()
            out = execute_group(spec, g, todo, keep)
            t_exec += time.perf_counter() - t1
            store.record_many(out.rows, out.index)
            ran += len(out.rows)
            ok = sum(1 for r in out.rows if r[3] is None)
            progress.advance(ok, len(out.rows) - ok, prior_failed)
            beat()
    finally:
        progress.close()
    t_run = time.perf_counter()
    # daily returns for the re-runs and the report: the top K by the metric, the best Sharpe ratio (the deflated Sharpe's
    # subject) and the base config's combination (the SPA benchmark), besides the seeded sample
    top = top_keys(store, spec.metric, spec.direction, verify_top) if verify_top else []
    extra = top_keys(store, "sharpe", "maximize", 1) + ([base] if base else [])
    missing = {k for k, v in store.statuses(list(dict.fromkeys(top + extra))).items() if not v[2] and v[0] == "done"}
    if missing and not stopped:
        for g in plan.groups:
            want = [j for j, k in enumerate(g.keys) if k in missing]
            if want:
                out = execute_group(spec, g, want, set(), keep_returns_for="all")
                store.set_returns([(r[0], r[2]) for r in out.rows if r[2] is not None], out.index)
    t_top = time.perf_counter()
    verified = verify(spec, store, plan, top, stop, echo) if top and not stopped else {}
    t_end = time.perf_counter()
    timings = {"enumerate_s": t_enum - t0, "store_plan_s": t_plan - t_enum, "execute_s": t_exec, "groups_s": t_run - t_plan,
               "top_returns_s": t_top - t_run, "verify_s": t_end - t_top, "groups": len(plan.groups), "combinations": plan.total,
               "kept_returns": min(len(keep), plan.total), "threads": _threads()}
    everything = plan.total <= KEEP_ALL_RETURNS
    policy = ("every combination" if everything else
              f"a seeded sample of {len(sample_keys)}" + (f", the top {len(top)} by {spec.metric}" if top else "")
              + ", the best Sharpe ratio" + (" and the base config's combination" if base else ""))
    store.set_meta(base_key=base or "",
                   fast_sample=canonical_json({"all": everything, "keys": [] if everything else sample_keys}),
                   fast_sweep=canonical_json({"returns_policy": policy,
                                              "verify_top": verify_top, "placebo": "computed in the Backtrader re-runs of the top combinations only",
                                              "groups": len(plan.groups), "timings": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in timings.items()}}))
    return {"ran": ran, "stopped": stopped, "verified": verified, "groups": len(plan.groups), "timings": timings, "plan": plan}


def _threads() -> int:
    import numba

    return int(numba.get_num_threads())
