"""Sweep specs: which run configs a sweep tries, validated before anything runs.

A spec is a YAML file::

    name: event_windows                      # optional
    description: exit day x event category   # optional
    base: ../configs/default.yaml            # a run config, relative to this file (or a bundled name such as
                                             # `default`, or an inline mapping of run-config keys)
    params:                                  # dotted run-config keys, each to a list of values or a range
      strategy.params.exit_offset: {start: 1, stop: 5, step: 1}    # stop included when it is on the grid
      costs.slippage_bps: [1.0, 2.0, 5.0]
      events.categories: [[capex_guidance], [custom_silicon]]      # a value may itself be a list
    search: grid                             # grid (default) | random (seeded) | optuna (TPE)
    n_trials: 50                             # random and optuna only
    seed: 7                                  # random and optuna (default 0)
    metric: sharpe                           # a summary.json key to rank by (default sharpe)
    direction: maximize                      # or minimize
    constraints:                             # optional; every one must hold
      - strategy.params.exit_offset > 1 and costs.slippage_bps <= 2
      - not exit_offset == 3                 # a parameter's last segment, where it is unambiguous

Constraints are parsed with :mod:`ast` and evaluated by a small interpreter that knows only the swept
parameters' names, numbers, strings, comparisons, ``+ - * / // %``, unary minus and ``and``/``or``/``not``:
calls, attributes other than a parameter's dotted name, subscripts, comprehensions, lambdas and powers are
refused, and nothing is ever passed to ``eval``.

Grid search enumerates the product of the value lists in the order written (the last parameter varies
fastest); a combination's ``ordinal`` is its position in that product. Random search draws ``n_trials``
distinct combinations from a permutation of that product seeded by ``seed``, so a larger ``n_trials``
extends the same draw. Combinations that break a constraint are left out; combinations whose run config
:func:`backtests.config.resolve` rejects are left out and counted (:meth:`SweepSpec.check`), and a spec
with no valid combination is an :class:`~events.errors.InputError` naming the key path. Optuna search
asks its sampler for each trial (:meth:`SweepSpec.distributions`, :meth:`SweepSpec.from_optuna`).
"""
from __future__ import annotations

import ast
import copy
import hashlib
import itertools
import json
import math
import operator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import yaml

from backtests.config import EXEC_KEYS, SCHEMA, _Loader, bundled_config, resolve
from backtests.reports.rundir import SUMMARY_KEYS
from events.errors import InputError, Problem

SPEC_KEYS = ("name", "description", "base", "params", "search", "n_trials", "seed", "metric", "direction", "constraints")
SEARCHES = ("grid", "random", "optuna")
DIRECTIONS = ("maximize", "minimize")
#: summary.json keys a sweep can rank by (start and end are dates)
METRICS = tuple(k for k in SUMMARY_KEYS if k not in ("start", "end"))
MAX_VALUES = 100_000  # values of one parameter
MAX_CONSTRAINT_CHARS = 1000
MAX_CONSTRAINT_DEPTH = 50  # levels of the expression's syntax tree
_PERMUTE_UP_TO = 1_000_000  # random search permutes grids up to this size; larger ones draw per parameter


@dataclass(frozen=True)
class Combination:
    """One point of a sweep: its position, the swept values by dotted key, and the resolved run config."""

    ordinal: int
    params: dict
    config: dict


@dataclass(frozen=True)
class Param:
    """A swept run-config key and its values (``range`` keeps ``{start, stop, step}`` when given as one)."""

    key: str
    values: tuple
    range: dict | None = None

    @property
    def int_range(self) -> bool:
        return self.range is not None and all(isinstance(self.range[k], int) for k in ("start", "stop", "step"))


@dataclass
class CheckResult:
    """What :meth:`SweepSpec.check` found: candidates enumerated, left out by constraints, invalid, valid."""

    n_candidates: int = 0
    n_excluded: int = 0
    n_invalid: int = 0
    n_valid: int = 0
    examples: list = field(default_factory=list)  # (params, error text) of the first invalid combinations
    exhaustive: bool = True  # False when an optuna space was too large to check every point


# ---------------------------------------------------------------- constraints
class ConstraintError(ValueError):
    pass


_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod}
_CMPOPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
           ast.GtE: operator.ge}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
_WHAT = {ast.Call: "function calls", ast.Subscript: "subscripts", ast.Lambda: "lambdas", ast.IfExp: "conditional expressions",
         ast.ListComp: "comprehensions", ast.SetComp: "comprehensions", ast.DictComp: "comprehensions", ast.GeneratorExp: "comprehensions",
         ast.List: "lists", ast.Tuple: "tuples", ast.Dict: "mappings", ast.Set: "sets", ast.NamedExpr: "assignments",
         ast.Starred: "starred expressions", ast.JoinedStr: "f-strings", ast.Await: "await", ast.Yield: "yield"}


def _dotted(node) -> str | None:
    """``a.b.c`` for a chain of attribute accesses on a bare name; None for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


@dataclass(frozen=True)
class Constraint:
    """A parsed constraint: ``holds(params)`` evaluates it on one combination's values."""

    text: str
    tree: Any
    names: dict  # name as written -> dotted parameter key

    @classmethod
    def parse(cls, text: str, keys: list[str]) -> "Constraint":
        """Parse and check ``text``; raises :class:`ConstraintError` saying what is not allowed."""
        if len(text) > MAX_CONSTRAINT_CHARS:
            raise ConstraintError(f"longer than {MAX_CONSTRAINT_CHARS} characters")
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise ConstraintError(f"not a valid expression: {exc.msg}") from None
        except (RecursionError, MemoryError):
            raise ConstraintError(f"nested more than {MAX_CONSTRAINT_DEPTH} levels deep") from None
        depth, stack = 0, [(tree, 1)]
        while stack:  # iterative, so a deeply nested expression cannot exhaust the stack here
            node, d = stack.pop()
            depth = max(depth, d)
            if depth > MAX_CONSTRAINT_DEPTH:
                raise ConstraintError(f"nested more than {MAX_CONSTRAINT_DEPTH} levels deep")
            stack.extend((c, d + 1) for c in ast.iter_child_nodes(node))
        short: dict[str, list[str]] = {}
        for k in keys:
            short.setdefault(k.rsplit(".", 1)[-1], []).append(k)
        names: dict[str, str] = {}

        def name_of(written: str) -> str:
            if written in keys:
                return written
            hits = short.get(written, [])
            if len(hits) == 1:
                return hits[0]
            if len(hits) > 1:
                raise ConstraintError(f"'{written}' is ambiguous ({', '.join(hits)}); write the full dotted key")
            raise ConstraintError(f"unknown name '{written}': a constraint may use only the swept parameters ({', '.join(keys)}), "
                                  "numbers, comparisons, arithmetic and and/or/not")

        def check(node) -> None:
            if isinstance(node, ast.Expression):
                return check(node.body)
            if isinstance(node, (ast.Name, ast.Attribute)):
                written = _dotted(node)
                if written is None:
                    raise ConstraintError("attribute access is allowed only as a parameter's dotted name")
                names[written] = name_of(written)
                return
            if isinstance(node, ast.Constant):
                if isinstance(node.value, bool) or isinstance(node.value, (int, float, str)):
                    return
                raise ConstraintError(f"constant {node.value!r} is not a number or a string")
            if isinstance(node, ast.BoolOp):
                for v in node.values:
                    check(v)
                return
            if isinstance(node, ast.UnaryOp):
                if type(node.op) not in _UNARY:
                    raise ConstraintError(f"operator {type(node.op).__name__} is not allowed")
                return check(node.operand)
            if isinstance(node, ast.BinOp):
                if type(node.op) not in _BINOPS:
                    raise ConstraintError(f"operator {type(node.op).__name__} is not allowed (only + - * / // %)")
                check(node.left)
                return check(node.right)
            if isinstance(node, ast.Compare):
                bad = [type(o).__name__ for o in node.ops if type(o) not in _CMPOPS]
                if bad:
                    raise ConstraintError(f"comparison {bad[0]} is not allowed (only == != < <= > >=)")
                check(node.left)
                for c in node.comparators:
                    check(c)
                return
            what = _WHAT.get(type(node), type(node).__name__)
            raise ConstraintError(f"{what} are not allowed in a constraint")

        check(tree)
        return cls(text, tree, names)

    def holds(self, params: dict) -> bool:
        def ev(node):
            if isinstance(node, ast.Expression):
                return ev(node.body)
            if isinstance(node, (ast.Name, ast.Attribute)):
                return params[self.names[_dotted(node)]]
            if isinstance(node, ast.Constant):
                return node.value
            if isinstance(node, ast.BoolOp):
                if isinstance(node.op, ast.And):
                    for v in node.values:
                        r = ev(v)
                        if not r:
                            return r
                    return r
                for v in node.values:
                    r = ev(v)
                    if r:
                        return r
                return r
            if isinstance(node, ast.UnaryOp):
                v = ev(node.operand)
                if not isinstance(node.op, ast.Not) and not _is_number(v):
                    raise ConstraintError(f"unary {type(node.op).__name__} of {v!r}, which is not a number")
                return _UNARY[type(node.op)](v)
            if isinstance(node, ast.BinOp):
                a, b = ev(node.left), ev(node.right)
                if not (_is_number(a) and _is_number(b)):  # no string repetition or list arithmetic
                    raise ConstraintError(f"arithmetic on {a!r} and {b!r}: both must be numbers")
                return _BINOPS[type(node.op)](a, b)
            if isinstance(node, ast.Compare):
                left = ev(node.left)
                for op, c in zip(node.ops, node.comparators):
                    right = ev(c)
                    if not _CMPOPS[type(op)](left, right):
                        return False
                    left = right
                return True
            raise ConstraintError(f"cannot evaluate {type(node).__name__}")  # parse() refuses these

        try:
            return bool(ev(self.tree))
        except ConstraintError:
            raise
        except (TypeError, ZeroDivisionError, OverflowError, ValueError) as exc:
            raise ConstraintError(f"cannot be evaluated for {_show(params)}: {exc}") from None


def _is_number(v) -> bool:
    return isinstance(v, (int, float))  # booleans count as 0 and 1, as in Python


def _show(params: dict) -> str:
    return "{" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in params.items()) + "}"


# ---------------------------------------------------------------- values
def _canon(v):
    """A value's identity for duplicate checks (1 and 1.0 are the same value)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return ("n", float(v))
    return ("j", json.dumps(v, sort_keys=True))


def _json_value(v) -> bool:
    if v is None or isinstance(v, (bool, int, str)):
        return True
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, list):
        return all(_json_value(x) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and _json_value(x) for k, x in v.items())
    return False


def _range_values(key: str, r: dict, problems: list, src: str) -> tuple | None:
    here = f"params.{key}"
    unknown = [k for k in r if k not in ("start", "stop", "step")]
    for k in unknown:
        problems.append(Problem(f"unknown range key '{k}'", path=src, field=f"{here}.{k}", expected="a range {start, stop, step}"))
    missing = [k for k in ("start", "stop", "step") if k not in r]
    for k in missing:
        problems.append(Problem(f"a range needs '{k}'", path=src, field=f"{here}.{k}", expected="a range {start, stop, step} (stop included when on the grid)"))
    if unknown or missing:
        return None
    for k in ("start", "stop", "step"):
        v = r[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            problems.append(Problem(f"expected a number, got {v!r}", path=src, field=f"{here}.{k}"))
            return None
    start, stop, step = r["start"], r["stop"], r["step"]
    if step <= 0:
        problems.append(Problem(f"step must be positive, got {step}", path=src, field=f"{here}.step"))
        return None
    if stop < start:
        problems.append(Problem(f"stop {stop} is below start {start}", path=src, field=f"{here}.stop", expected="stop >= start"))
        return None
    n = math.floor((stop - start) / step + 1e-9) + 1
    if n > MAX_VALUES:
        problems.append(Problem(f"the range has {n} values", path=src, field=f"{here}.step", expected=f"at most {MAX_VALUES} values per parameter"))
        return None
    if all(isinstance(r[k], int) for k in ("start", "stop", "step")):
        return tuple(start + i * step for i in range(n))
    return tuple(float(f"{start + i * step:.12g}") for i in range(n))


def _key_problem(key: str, kinds: set[str]) -> str | None:
    """Why ``key`` is not a run-config value one can sweep (None when it is)."""
    from strategies import STRATEGIES

    node: Any = SCHEMA
    segs = key.split(".")
    for i, seg in enumerate(segs):
        if node == "strategy-params":
            rest = ".".join(segs[i:])
            known = sorted({p for k in kinds if k in STRATEGIES for p in STRATEGIES[k].param_defaults()})
            if len(segs) - i != 1 or rest not in known:
                return f"unknown strategy parameter '{rest}' for {'/'.join(sorted(kinds))} (expected one of {', '.join(known)})"
            return None
        if not isinstance(node, dict):
            return f"'{'.'.join(segs[:i])}' is a single value, not a section"
        if seg not in node:
            where = ".".join(segs[:i]) or "the run config"
            return f"unknown key '{seg}' in {where} (expected one of {', '.join(node)})"
        node = node[seg]
    if isinstance(node, dict) or node == "strategy-params":
        return "a section, not a value: sweep the keys inside it (e.g. " + (f"{key}.{next(iter(node))}" if isinstance(node, dict) else f"{key}.exit_offset") + ")"
    return None


def _set_dotted(d: dict, key: str, value) -> None:
    segs = key.split(".")
    for s in segs[:-1]:
        nxt = d.get(s)
        if not isinstance(nxt, dict):
            nxt = {}
            d[s] = nxt
        d = nxt
    d[segs[-1]] = value


# ---------------------------------------------------------------- the spec
@dataclass
class SweepSpec:
    """A validated sweep spec (see the module docstring); :func:`load_spec` builds it."""

    path: Path
    text: str
    name: str
    description: str
    base: dict  # the base run config as written (before the swept values are set)
    base_source: str  # the base config's file, or the spec's for an inline base
    base_dir: Path  # relative event files in the base are relative to this folder
    base_inline: bool
    params: dict  # dotted key -> Param, in the order written
    search: str
    n_trials: int | None
    seed: int
    metric: str
    direction: str
    constraints: list
    _check: CheckResult | None = None

    # ------------------------------------------------------------ identity
    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def grid_size(self) -> int:
        return math.prod(len(p.values) for p in self.params.values())

    # ------------------------------------------------------------ configs
    def config_for(self, params: dict) -> dict:
        """The resolved run config of one combination; :class:`InputError` naming the spec's key path."""
        raw = copy.deepcopy(self.base)
        for k, v in params.items():
            _set_dotted(raw, k, copy.deepcopy(v))
        try:
            cfg = resolve(raw, self.base_source)
            self._check_dates(cfg)
        except InputError as exc:
            raise InputError([self._locate(p) for p in exc.problems]) from None
        cfg["events"]["files"] = [f if Path(f).is_absolute() else str((self.base_dir / f).resolve()) for f in cfg["events"]["files"]]
        missing = [f for f in cfg["events"]["files"] if not Path(f).is_file()]
        if missing:
            raise InputError([self._locate(Problem(f"event file not found: {f}", field="events.files", expected="an event CSV, relative to the base config"))
                              for f in missing])
        return cfg

    def _check_dates(self, cfg: dict) -> None:
        """Dates outside the target's price data make a combination invalid before it runs (memoised per target
        and dates: a grid checks them once, not once per combination)."""
        from backtests.market.marketdata import check_dates_in_data

        key = (cfg["universe"]["target"], str(cfg["dates"]["start"]), str(cfg["dates"]["end"]))
        memo = self.__dict__.setdefault("_dates_memo", {})
        if key not in memo:
            try:
                check_dates_in_data(cfg)
                memo[key] = None
            except InputError as exc:
                memo[key] = exc
        if memo[key] is not None:
            raise InputError(memo[key].problems)

    def _locate(self, p: Problem) -> Problem:
        """A run-config problem of a combination, named where the spec user can fix it."""
        f = p.field or ""
        if f in self.params or any(f.startswith(k + ".") for k in self.params):
            return Problem(p.message, path=str(self.path), field=f"params.{f}", expected=p.expected)
        if self.base_inline:
            return Problem(p.message, path=str(self.path), field=f"base.{f}" if f else "base", expected=p.expected)
        return Problem(f"{p.message} (in the base config {self.base_source})", path=str(self.path), field=f, expected=p.expected)

    def holds(self, params: dict) -> bool:
        """Whether every constraint holds (:class:`InputError` naming the constraint if one cannot be evaluated)."""
        for i, c in enumerate(self.constraints):
            try:
                if not c.holds(params):
                    return False
            except ConstraintError as exc:
                raise InputError(Problem(f"constraint '{c.text}' {exc}", path=str(self.path), field=f"constraints[{i}]")) from None
        return True

    # ------------------------------------------------------------ enumeration
    def _values_at(self, idx) -> dict:
        return {k: p.values[int(i)] for (k, p), i in zip(self.params.items(), idx)}

    def _grid_candidates(self) -> Iterator[tuple[int, dict]]:
        for n, idx in self.grid_indices():
            yield n, self._values_at(idx)

    def grid_indices(self) -> Iterator[tuple[int, tuple]]:
        """``(ordinal, index of each parameter's value)`` of every grid point, in grid order."""
        ranges = [range(len(p.values)) for p in self.params.values()]
        return enumerate(itertools.product(*ranges))

    def random_indices(self) -> Iterator[tuple]:
        """The seeded random search's draws, as the index of each parameter's value, without repeats."""
        sizes = [len(p.values) for p in self.params.values()]
        total = math.prod(sizes)
        rng = np.random.default_rng(self.seed)
        if total <= _PERMUTE_UP_TO:
            for flat in rng.permutation(total):
                yield tuple(int(i) for i in np.unravel_index(int(flat), sizes))
            return
        seen: set = set()
        misses = 0
        while misses < 10_000:
            idx = tuple(int(rng.integers(n)) for n in sizes)
            if idx in seen:
                misses += 1
                continue
            seen.add(idx)
            yield idx

    def _random_candidates(self) -> Iterator[dict]:
        for idx in self.random_indices():
            yield self._values_at(idx)

    def grouped_walk(self, result: CheckResult | None = None) -> Iterator[tuple[int, tuple, int, dict | None]]:
        """Valid combinations of a grid or random search, in order, as ``(ordinal, idx, plan_no, config)``: ``idx``
        the index of each parameter's value, ``plan_no`` numbers the distinct plans (the values of the parameters
        outside :data:`EXEC_KEYS`) in order of first appearance, and ``config`` is the resolved config of a plan's
        first combination (None for its later ones). Validity is checked once per plan (:meth:`config_for`) and
        once per swept :data:`EXEC_KEYS` value, on its own: the same verdict as checking every combination,
        at a fraction of the cost (a million combinations in seconds). Counts go into ``result``."""
        from backtests.config import resolve

        if self.search == "optuna":
            raise TypeError("optuna search proposes its combinations one trial at a time (see SweepSpec.distributions)")
        result = result if result is not None else CheckResult()
        names = list(self.params)
        exec_pos = [i for i, k in enumerate(names) if k in EXEC_KEYS]
        plan_pos = [i for i, k in enumerate(names) if k not in EXEC_KEYS]
        bad_value: dict = {}
        for i in exec_pos:
            sect, leaf = names[i].split(".")
            for vi, v in enumerate(self.params[names[i]].values):
                try:
                    resolve({sect: {leaf: v}}, self.base_source)
                except InputError as exc:
                    bad_value[(i, vi)] = InputError([self._locate(p) for p in exc.problems])
        plans: dict = {}
        n_plans = 0
        constrained = bool(self.constraints)
        cands = self.grid_indices() if self.search == "grid" else enumerate(self.random_indices())
        n_valid = 0
        for n, idx in cands:
            result.n_candidates += 1
            params = self._values_at(idx) if constrained else None
            if constrained and not self.holds(params):
                result.n_excluded += 1
                continue
            bad = next((bad_value[(i, idx[i])] for i in exec_pos if (i, idx[i]) in bad_value), None)
            pk = tuple(idx[i] for i in plan_pos)
            cfg = None
            if bad is None:
                known = plans.get(pk)
                if known is None:
                    try:
                        cfg = self.config_for(params or self._values_at(idx))
                        plans[pk] = n_plans
                        n_plans += 1
                    except InputError as exc:
                        plans[pk] = bad = exc
                elif isinstance(known, InputError):
                    bad = known
            if bad is not None:
                result.n_invalid += 1
                if len(result.examples) < 3:
                    result.examples.append((self._values_at(idx), bad))
                continue
            ordinal = n if self.search == "grid" else n_valid
            n_valid += 1
            result.n_valid += 1
            yield ordinal, idx, plans[pk], cfg
            if self.search == "random" and n_valid >= self.n_trials:
                return

    def _walk(self, result: CheckResult | None = None) -> Iterator[Combination]:
        """Valid combinations in order (grid or random), counting what was left out into ``result``."""
        if self.search == "optuna":
            raise TypeError("optuna search proposes its combinations one trial at a time (see SweepSpec.distributions)")
        result = result if result is not None else CheckResult()
        cands = self._grid_candidates() if self.search == "grid" else enumerate(self._random_candidates())
        n_valid = 0
        for n, params in cands:
            result.n_candidates += 1
            if not self.holds(params):
                result.n_excluded += 1
                continue
            try:
                cfg = self.config_for(params)
            except InputError as exc:
                result.n_invalid += 1
                if len(result.examples) < 3:
                    result.examples.append((params, exc))
                continue
            ordinal = n if self.search == "grid" else n_valid
            n_valid += 1
            result.n_valid += 1
            yield Combination(ordinal, params, cfg)
            if self.search == "random" and n_valid >= self.n_trials:
                return

    def combinations(self) -> Iterator[Combination]:
        """The valid combinations of a grid or random search, lazily, in order."""
        return self._walk()

    def check(self) -> CheckResult:
        """Enumerate once: count valid, invalid and constrained-out combinations; an :class:`InputError` when none
        is left (naming the constraint or the first invalid combination's key path). Optuna spaces of more than
        200,000 points are checked on 10,000 seeded draws."""
        if self._check is not None:
            return self._check
        res = CheckResult()
        if self.search == "optuna":
            grid = self.grid_size <= 200_000
            cands = (p for _, p in self._grid_candidates()) if grid else itertools.islice(self._random_candidates(), 10_000)
            res.exhaustive = grid
            for params in cands:
                res.n_candidates += 1
                if not self.holds(params):
                    res.n_excluded += 1
                    continue
                try:
                    self.config_for(params)
                    res.n_valid += 1
                except InputError as exc:
                    res.n_invalid += 1
                    if len(res.examples) < 3:
                        res.examples.append((params, exc))
        else:
            for _ in self.grouped_walk(res):
                pass
        if res.n_candidates and res.n_excluded == res.n_candidates:
            raise InputError(Problem(f"no combination satisfies the constraints (all {res.n_candidates} are left out)",
                                     path=str(self.path), field="constraints", expected="constraints that some combination meets"))
        if res.n_valid == 0:
            params, exc = res.examples[0]
            first = exc.problems[0]
            n = res.n_candidates - res.n_excluded
            raise InputError(Problem(
                f"all {n} combinations{' checked' if not res.exhaustive else ''} are invalid run configs; the first, {_show(params)}, fails: {first.message}",
                path=str(self.path), field=first.field, expected=first.expected))
        self._check = res
        return res

    # ------------------------------------------------------------ optuna
    def distributions(self) -> dict:
        """Optuna distributions by dotted key: integer and float ranges as stepped numeric distributions (the
        sampler sees their order), lists as categorical (values that are not scalars as JSON text)."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        out = {}
        for k, p in self.params.items():
            if p.range is not None and p.int_range:
                out[k] = IntDistribution(p.values[0], p.values[-1], step=p.range["step"])
            elif p.range is not None:
                out[k] = FloatDistribution(p.values[0], p.values[-1], step=float(p.range["step"])) if len(p.values) > 1 else CategoricalDistribution(list(p.values))
            else:
                out[k] = CategoricalDistribution([v if v is None or isinstance(v, (bool, int, float, str)) else json.dumps(v, sort_keys=True)
                                                  for v in p.values])
        return out

    def from_optuna(self, suggested: dict) -> dict:
        """Our values from an optuna trial's params (floats snapped to the range's grid, JSON text decoded)."""
        out = {}
        for k, p in self.params.items():
            v = suggested[k]
            if p.range is not None and not p.int_range:
                v = min(p.values, key=lambda x: abs(x - v))
            elif p.range is None and isinstance(v, str) and not any(isinstance(x, str) and x == v for x in p.values):
                v = json.loads(v)
            out[k] = v
        return out

    def to_optuna(self, params: dict) -> dict:
        """Optuna's params for our values (the inverse of :meth:`from_optuna`), e.g. to enqueue a retry."""
        return {k: (v if v is None or isinstance(v, (bool, int, float, str)) else json.dumps(v, sort_keys=True)) for k, v in params.items()}


# ---------------------------------------------------------------- loading
def _read_yaml(path: Path, what: str, field_name: str | None, spec_path: Path | None = None):
    from backtests.config import read_yaml_text

    try:
        text = read_yaml_text(path, "a YAML sweep spec" if spec_path is None else "a YAML run config")
    except FileNotFoundError:
        if spec_path is not None:
            raise InputError(Problem(f"{what} not found: {path}", path=str(spec_path), field=field_name,
                                     expected="a run config path relative to the spec, a bundled config name, or a mapping"))
        raise InputError(Problem(f"{what} not found", path=str(path), expected="a YAML sweep spec, e.g. backtests/sweeps/smoke.yaml"))
    except (IsADirectoryError, PermissionError) as exc:
        raise InputError(Problem(f"cannot read {what}: {exc.strerror or exc}", path=str(path)))
    try:
        return text, yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(Problem(f"not valid YAML: {getattr(exc, 'problem', None) or exc}", path=str(path), line=(mark.line + 1) if mark else None))


def load_spec(path: str | Path, *, check: bool = True) -> SweepSpec:
    """Read and validate a sweep spec. Raises :class:`InputError` naming the spec file and every key path at
    fault; with ``check`` (the default) also enumerates the combinations once (:meth:`SweepSpec.check`)."""
    path = Path(path)
    src = str(path)
    text, doc = _read_yaml(path, "sweep spec", None)
    if not isinstance(doc, dict):
        raise InputError(Problem(f"expected a mapping, got {type(doc).__name__}", path=src, field="<top>",
                                 expected="a mapping with base, params, search, metric (see backtests/sweeps/smoke.yaml)"))
    problems: list[Problem] = []
    for k in doc:
        if k not in SPEC_KEYS:
            problems.append(Problem(f"unknown key '{k}'", path=src, field=str(k), expected="one of " + ", ".join(SPEC_KEYS)))

    # base
    base, base_source, base_dir, inline = {}, src, path.parent, True
    b = doc.get("base")
    if b is None:
        problems.append(Problem("a base run config is required", path=src, field="base", expected="a run config path relative to the spec, or a mapping"))
    elif isinstance(b, str):
        bp = Path(b) if Path(b).is_absolute() else path.parent / b
        if not bp.exists() and "/" not in b and not b.endswith((".yaml", ".yml")) and bundled_config(b).exists():
            bp = bundled_config(b)
        try:
            _, raw = _read_yaml(bp, "base config", "base", path)
        except InputError as exc:
            problems.extend(exc.problems)
            raw = None
        if raw is not None and not isinstance(raw, dict):
            problems.append(Problem(f"expected a mapping, got {type(raw).__name__}", path=str(bp), field="<top>"))
        elif raw is not None:
            base, base_source, base_dir, inline = raw, str(bp), bp.parent, False
    elif isinstance(b, dict):
        base = b
    else:
        problems.append(Problem(f"expected a run config path or a mapping, got {b!r}", path=src, field="base"))

    # params
    params: dict[str, Param] = {}
    p = doc.get("params")
    if not isinstance(p, dict) or not p:
        problems.append(Problem("expected a mapping of dotted run-config keys to lists of values or ranges" + ("" if p is None else f", got {p!r}"),
                                path=src, field="params", expected="e.g. {strategy.params.exit_offset: [1, 2, 3]}"))
        p = {}
    st = base.get("strategy")
    kinds = {str(st.get("kind", "event_window")) if isinstance(st, dict) else "event_window"}
    kv = p.get("strategy.kind")
    if isinstance(kv, list):
        kinds |= {str(v) for v in kv}
    for key, values in p.items():
        here = f"params.{key}"
        why = _key_problem(str(key), kinds)
        if why:
            problems.append(Problem(why, path=src, field=here, expected="a dotted key of a run config value, e.g. costs.slippage_bps"))
            continue
        rng = None
        if isinstance(values, dict):
            rng = values
            values = _range_values(str(key), values, problems, src)
            if values is None:
                continue
        elif not isinstance(values, list):
            problems.append(Problem(f"expected a list of values or a range {{start, stop, step}}, got {values!r}", path=src, field=here))
            continue
        if not values:
            problems.append(Problem("no values", path=src, field=here, expected="at least one value"))
            continue
        if len(values) > MAX_VALUES:
            problems.append(Problem(f"{len(values)} values", path=src, field=here, expected=f"at most {MAX_VALUES}"))
            continue
        bad = [v for v in values if not _json_value(v)]
        if bad:
            problems.append(Problem(f"value {bad[0]!r} is not a number, string, boolean, null, list or mapping", path=src, field=here))
            continue
        seen = set()
        dup = None
        for v in values:
            c = _canon(v)
            if c in seen:
                dup = v
                break
            seen.add(c)
        if dup is not None:
            problems.append(Problem(f"value {dup!r} is listed twice", path=src, field=here, expected="distinct values"))
            continue
        params[str(key)] = Param(str(key), tuple(values), rng)

    # search and its settings
    search = doc.get("search", "grid")
    if search not in SEARCHES:
        problems.append(Problem(f"unknown search {search!r}", path=src, field="search", expected="one of " + ", ".join(SEARCHES)))
    n_trials = doc.get("n_trials")
    if search in ("random", "optuna"):
        if n_trials is None:
            problems.append(Problem(f"{search} search needs n_trials", path=src, field="n_trials", expected="a whole number >= 1"))
        elif isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
            problems.append(Problem(f"expected a whole number >= 1, got {n_trials!r}", path=src, field="n_trials"))
    elif n_trials is not None and search == "grid":
        problems.append(Problem("n_trials applies to random and optuna search; a grid runs every combination", path=src, field="n_trials",
                                expected="no n_trials with search: grid"))
    seed = doc.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        problems.append(Problem(f"expected a whole number >= 0, got {seed!r}", path=src, field="seed"))
    metric = doc.get("metric", "sharpe")
    if metric not in METRICS:
        problems.append(Problem(f"unknown metric {metric!r}", path=src, field="metric", expected="a summary.json key: " + ", ".join(METRICS)))
    direction = doc.get("direction", "maximize")
    if direction not in DIRECTIONS:
        problems.append(Problem(f"unknown direction {direction!r}", path=src, field="direction", expected="maximize or minimize"))
    for k in ("name", "description"):
        if doc.get(k) is not None and not isinstance(doc[k], str):
            problems.append(Problem(f"expected a string, got {doc[k]!r}", path=src, field=k))

    # constraints
    constraints: list[Constraint] = []
    cs = doc.get("constraints")
    if cs is not None and not (isinstance(cs, list) and all(isinstance(c, str) for c in cs)):
        problems.append(Problem(f"expected a list of expressions (strings), got {cs!r}", path=src, field="constraints",
                                expected="e.g. ['strategy.params.exit_offset > 1']"))
    elif cs:
        for i, c in enumerate(cs):
            try:
                constraints.append(Constraint.parse(c, list(params)))
            except ConstraintError as exc:
                problems.append(Problem(f"constraint '{c}': {exc}", path=src, field=f"constraints[{i}]"))

    if problems:
        raise InputError(problems)
    spec = SweepSpec(path=path, text=text, name=str(doc.get("name") or path.stem), description=str(doc.get("description") or ""),
                     base=base, base_source=base_source, base_dir=base_dir, base_inline=inline, params=params, search=search,
                     n_trials=n_trials, seed=seed, metric=metric, direction=direction, constraints=constraints)
    if check:
        spec.check()
    return spec
