"""Run configuration: a YAML file, validated against a schema with defaults.

Unknown keys and wrong types are rejected with the key path
(``costs.commission_bps``), the file and its line where known, and what was
expected. :func:`resolve` returns the fully resolved config (every default
filled in) that a run writes to ``config.yaml``.
"""
from __future__ import annotations

import copy
import datetime as dt
import hashlib
import math
import re
import reprlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from events.clusters import POLICIES
from events.errors import InputError, Problem
from events.schema import CATEGORIES
from strategies import STRATEGIES, engine_strategy, strategy_name


@dataclass(frozen=True)
class Leaf:
    kind: str  # str | int | float | bool | date | list[str] | map[str] | choice | offset
    default: Any = None
    choices: tuple = ()
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None


#: run-config fields that change only how planned episodes are executed, never what is planned (costs and sizing),
#: with the engines' names for them. A strategy never sees them (:func:`planning_portfolio`), and the schema checks
#: each on its own, so a sweep on the fast engine plans once for all their values (backtests.sweeps.batch).
EXEC_KEYS = {"costs.commission_bps": "commission_bps", "costs.slippage_bps": "slippage_bps", "costs.borrow_bps": "borrow_bps",
             "portfolio.cash": "cash", "portfolio.fractional": "fractional", "portfolio.cash_buffer": "cash_buffer"}


def planning_portfolio(portfolio: dict) -> dict:
    """The ``portfolio`` section as a strategy sees it when planning: without the execution-only fields
    (:data:`EXEC_KEYS`), so no plan can depend on cash, sizing or costs."""
    drop = {k.split(".", 1)[1] for k in EXEC_KEYS if k.startswith("portfolio.")}
    return {k: v for k, v in portfolio.items() if k not in drop}


SCHEMA: dict = {
    "name": Leaf("str", "run"),
    "description": Leaf("str", "", nullable=True),
    "strategy": {
        "kind": Leaf("str", "event_window"),  # a registered strategy name (checked in _strategy_params: names can be added)
        "params": "strategy-params",
    },
    "universe": {
        "target": Leaf("str", "AMZN"),
        "peers": Leaf("list[str]", ["MSFT", "GOOGL", "META", "ORCL"]),
        "benchmark": Leaf("str", "QQQ"),
        "market": Leaf("str", "SPY"),
    },
    "dates": {"start": Leaf("date", "2019-01-02"), "end": Leaf("date", None, nullable=True)},
    "events": {
        "files": Leaf("list[str]", []),
        # event tables built in a script (backtests.runner.run(events=DataFrame)), as CSV text by name: read and checked
        # exactly like the files, and kept in the run's config.yaml so the run can be repeated from its directory alone
        "inline": Leaf("map[str]", {}),
        "bundled": Leaf("bool", True),
        "earnings": Leaf("bool", True),
        "categories": Leaf("list[str]", None, nullable=True, choices=CATEGORIES),
        "tickers": Leaf("list[str]", ["AMZN"], nullable=True),
        "companies": Leaf("list[str]", None, nullable=True),
        "min_confidence": Leaf("choice", "low", ("low", "medium", "high")),
        "clusters": Leaf("choice", "merge", POLICIES),  # 'drop' is refused for runs (see resolve)
        # sessions before day 0 a scheduled event's date is assumed public (no public_since in its file):
        # an assumption with no data behind it, kept conservative (DATA.md)
        "notice_sessions": Leaf("int", 5, minimum=0),
    },
    "portfolio": {
        "cash": Leaf("float", 1_000_000.0, minimum=1.0),
        "gross": Leaf("float", 1.0, minimum=0.0, maximum=10.0),
        "long_share": Leaf("float", 0.5, minimum=0.0, maximum=1.0),
        "hedge": Leaf("choice", "equal", ("equal", "beta")),
        "beta_window": Leaf("int", 120, minimum=20),
        "fractional": Leaf("bool", True),
        "fill": Leaf("choice", "open", ("open", "close")),
        "cash_buffer": Leaf("float", 0.02, minimum=0.0, maximum=0.5),
    },
    "costs": {
        "commission_bps": Leaf("float", 1.0, minimum=0.0),
        "slippage_bps": Leaf("float", 2.0, minimum=0.0),
        "borrow_bps": Leaf("float", 50.0, minimum=0.0),
    },
    "study": {
        "enabled": Leaf("bool", True),
        "windows": Leaf("list[str]", ["-5:-1", "0:0", "0:1", "-1:1", "0:2", "0:5"]),  # -5:-1 tests pre-event drift
        "bhar_windows": Leaf("list[str]", ["0:20", "0:60"]),
        "estimation": Leaf("int", 250, minimum=30),
        "gap": Leaf("int", 10, minimum=0),
        "min_estimation": Leaf("int", 120, minimum=20),
        "models": Leaf("list[str]", ["market_adjusted", "market_model", "peer_adjusted"], choices=("market_adjusted", "market_model", "peer_adjusted")),
        "market": Leaf("str", "SPY"),
        # null: the run's own events.clusters, so the study counts the units the run traded
        "clusters": Leaf("choice", None, POLICIES, nullable=True),
        "signal_windows": Leaf("list[str]", ["0:1", "0:5"]),
        # abnormal_returns.csv (and the tear sheet's CAAR paths) start here: pre-event drift is visible; no test is added
        "path_start": Leaf("int", -10, minimum=-60, maximum=0),
    },
    "placebo": {
        # the same holdings at seeded random sessions away from every event of the target (backtests.stats.placebo)
        "enabled": Leaf("bool", True),
        "n": Leaf("int", 1000, minimum=1, maximum=100_000),
        "seed": Leaf("int", 20261124, minimum=0),
    },
    "output": {"tearsheet": Leaf("bool", True)},
    # the first session of the out-of-sample period in the tear sheet (the in-out-sample section); null: no split.
    # Inside the run: after dates.start, on or before its end. It changes no number of the run itself.
    "report": {"live_start": Leaf("date", None, nullable=True)},
}


def _type_ok(leaf: Leaf, v):
    """(normalised value, error message or None)."""
    if v is None:
        return (None, None) if leaf.nullable else (None, "a value is required")
    k = leaf.kind
    if k == "str":
        return (v, None) if isinstance(v, str) else (v, f"expected a string, got {type(v).__name__} {v!r}")
    if k == "bool":
        return (v, None) if isinstance(v, bool) else (v, f"expected true or false, got {v!r}")
    if k == "int":
        if isinstance(v, bool) or not isinstance(v, int):
            return v, f"expected a whole number, got {v!r}"
    if k == "float":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return v, f"expected a number, got {_short_repr(v)}" + (" (YAML 1.1 reads 1e9 as text: write 1.0e+9)" if isinstance(v, str)
                                                                    and re.fullmatch(r"[-+]?\d+(\.\d*)?[eE][-+]?\d+", v) else "")
        v = float(v)
        if not math.isfinite(v) or abs(v) > 1e15:
            return v, f"expected a finite number of sensible size, got {v}"
    if k in ("int", "float"):
        if leaf.minimum is not None and v < leaf.minimum:
            return v, f"expected a value >= {leaf.minimum}, got {v}"
        if leaf.maximum is not None and v > leaf.maximum:
            return v, f"expected a value <= {leaf.maximum}, got {v}"
        return v, None
    if k == "date":
        if isinstance(v, dt.date):
            return v.isoformat(), None
        try:
            return dt.date.fromisoformat(str(v)).isoformat(), None
        except ValueError:
            return v, f"expected an ISO date YYYY-MM-DD, got {v!r}"
    if k == "choice":
        return (v, None) if v in leaf.choices else (v, f"expected one of {', '.join(map(str, leaf.choices))}, got {v!r}")
    if k == "map[str]":  # name -> text, e.g. events.inline: a script's event tables as CSV text
        if not isinstance(v, dict) or not all(isinstance(a, str) and isinstance(b, str) for a, b in v.items()):
            return v, f"expected a mapping of names to text, got {_short_repr(v)}"
        bad = [a for a in v if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}", a)]
        if bad:
            return v, f"expected names of letters, digits, '_', '.' or '-', got {bad[0]!r}"
        return dict(v), None
    if k == "list[str]":
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            return v, f"expected a list of strings, got {v!r}"
        if leaf.choices:
            bad = [x for x in v if x not in leaf.choices]
            if bad:
                return v, f"unknown value(s) {', '.join(bad)}; expected from {', '.join(leaf.choices)}"
        return v, None
    raise AssertionError(k)


def _walk(schema: dict, data: dict, path: str, problems: list, source: str | None) -> dict:
    out = {}
    if not isinstance(data, dict):
        problems.append(Problem(f"expected a mapping of {', '.join(schema)}, got the {_yaml_kind(data)} {_short_repr(data)}", path=source,
                                field=path.rstrip(".") or "<top>"))
        return out
    for key in data:
        if key not in schema:
            problems.append(Problem(f"unknown key '{key}'", path=source, field=f"{path}{key}", expected="one of " + ", ".join(schema)))
    for key, spec in schema.items():
        here = f"{path}{key}"
        if isinstance(spec, dict):
            out[key] = _walk(spec, data.get(key, {}) or {}, here + ".", problems, source)
        elif spec == "strategy-params":
            out[key] = data.get(key, {}) or {}
        else:
            if key in data:
                v, err = _type_ok(spec, data[key])
                if err:
                    problems.append(Problem(err, path=source, field=here))
                out[key] = v
            else:
                out[key] = copy.deepcopy(spec.default)
    return out


def _param_problem(k: str, v, d) -> tuple[str | None, object]:
    """(what is wrong with the value ``v`` of strategy parameter ``k`` whose default is ``d``, or None; the value
    converted to the default's type). The default's type is the parameter's type: bool, int, float, str, a list for
    a list or tuple; a None default accepts anything. ``entry_offset`` is ``'earliest'`` or a whole number."""
    if k == "entry_offset":
        ok = v == "earliest" or (isinstance(v, int) and not isinstance(v, bool))
        return (None if ok else f"expected 'earliest' or a whole number of sessions, got {v!r}"), v
    if d is None:
        return None, v
    if isinstance(d, bool) or isinstance(v, bool):
        return (None if type(v) is type(d) else f"expected {type(d).__name__}, got {v!r}"), v
    if isinstance(d, (int, float)):
        if not isinstance(v, (int, float)) or (isinstance(d, int) and isinstance(v, float) and not float(v).is_integer()):
            return f"expected a number, got {v!r}", v
        if not math.isfinite(v) or abs(v) > 1e15:
            return f"expected a finite number of sensible size, got {v}", v
        return None, type(d)(v)
    if isinstance(d, str):
        return (None if isinstance(v, str) else f"expected a string, got {v!r}"), v
    if isinstance(d, (list, tuple)):
        if not isinstance(v, list):
            return f"expected a list, got {v!r}", v
        kinds = {type(x) for x in d}
        if len(kinds) == 1 and not all(isinstance(x, tuple(kinds)) or (float in kinds and isinstance(x, int)) for x in v):
            return f"expected a list of {next(iter(kinds)).__name__}, got {v!r}", v
        return None, v
    return None, v


def strategy_class(kind, source: str | None = None, strategy=None):
    """The Backtrader class of ``strategy.kind`` (:data:`strategies.STRATEGIES`; an installed entry point is loaded
    on first use), or of the class ``strategy`` given by a script; :class:`InputError` listing the registered names
    for an unknown kind."""
    if strategy is not None:
        return engine_strategy(strategy, kind)
    cls = STRATEGIES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise InputError(Problem(f"expected one of {', '.join(STRATEGIES.names())}, got {_short_repr(kind)} (a strategy of your own: "
                                 "@register_strategy in your script, or an 'aibt.strategies' entry point)", path=source, field="strategy.kind"))
    return cls


def _strategy_params(cfg: dict, problems: list, source: str | None, strategy=None) -> None:
    kind = cfg["strategy"]["kind"]
    if any(p.field == "strategy.kind" for p in problems):  # not a string: already said
        return
    try:
        cls = strategy_class(kind, source, strategy)
    except InputError as exc:
        problems.extend(exc.problems)
        return
    given = cfg["strategy"]["params"]
    if not isinstance(given, dict):
        problems.append(Problem("expected a mapping", path=source, field="strategy.params"))
        return
    defaults = cls.param_defaults()
    resolved = dict(defaults)
    for k, v in given.items():
        here = f"strategy.params.{k}"
        if k not in defaults:
            problems.append(Problem(f"unknown parameter '{k}' for strategy {kind}", path=source, field=here, expected="one of " + ", ".join(defaults)))
            continue
        err, v = _param_problem(k, v, defaults[k])
        if err:
            problems.append(Problem(err, path=source, field=here))
        resolved[k] = v
    cfg["strategy"]["params"] = resolved
    if not problems:
        for key, what, expected in cls.check_params(resolved, planning_portfolio(cfg.get("portfolio", {}))):
            problems.append(Problem(what, path=source, field=f"strategy.params.{key}" if key else "strategy.params", expected=expected))


def _upper_tickers(cfg: dict, problems: list, source: str | None) -> None:
    """Tickers as the price files and event files name them: upper case (``amzn`` is AMZN), each a ticker."""
    from events.schema import TICKER_RE

    def fix(value, field):
        t = value.strip().upper()
        if not TICKER_RE.match(t):
            problems.append(Problem(f"not a ticker: {_short_repr(value)}", path=source, field=field,
                                    expected="letters, digits, '.' or '-', up to 10, e.g. AMZN"))
        return t

    u = cfg["universe"]
    for key in ("target", "benchmark", "market"):
        u[key] = fix(u[key], f"universe.{key}")
    u["peers"] = [fix(p, "universe.peers") for p in u["peers"]]
    cfg["study"]["market"] = fix(cfg["study"]["market"], "study.market")
    if cfg["events"]["tickers"]:
        cfg["events"]["tickers"] = [fix(t, "events.tickers") for t in cfg["events"]["tickers"]]
    if cfg["events"]["companies"]:
        cfg["events"]["companies"] = [c.strip().upper() for c in cfg["events"]["companies"]]


def resolve(data: dict | None, source: str | None = None, strategy=None) -> dict:
    """Validate ``data`` (a parsed YAML mapping) and fill every default. ``strategy``: a strategy class given by a
    script (``run(config, strategy=MyStrategy)``): ``strategy.kind`` becomes its name and its params are checked
    against it, registered or not; a config whose ``strategy.kind`` names another strategy (e.g. the shipped
    ``default.yaml``) lends everything but its strategy params, and the class's defaults are used."""
    problems: list[Problem] = []
    if data is not None and not isinstance(data, dict):
        raise InputError(Problem(f"a run config must be a mapping, not a {_yaml_kind(data)}", path=source,
                                 expected="a mapping of sections (strategy, universe, dates, events, portfolio, costs...)"))
    if strategy is not None:
        data = dict(data or {})
        st = data.get("strategy") if isinstance(data.get("strategy"), dict) else {}
        name = strategy_name(strategy)
        if st.get("kind") not in (None, name):  # a config written for another strategy (default.yaml): its params are not this one's
            st = {k: v for k, v in st.items() if k != "params"}
        data["strategy"] = {**st, "kind": name}
    cfg = _walk(SCHEMA, data or {}, "", problems, source)
    _strategy_params(cfg, problems, source, strategy)
    if not problems and cfg["study"]["clusters"] is None:
        cfg["study"]["clusters"] = cfg["events"]["clusters"]
    if not problems:
        u = cfg["universe"]
        _upper_tickers(cfg, problems, source)
        if not u["peers"]:
            problems.append(Problem("the peer basket is empty", path=source, field="universe.peers", expected="at least one peer ticker"))
        name = cfg.get("name")
        if isinstance(name, str) and (not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}", name) or ".." in name):
            problems.append(Problem(f"name {_short_repr(name)} cannot name a run directory", path=source, field="name",
                                    expected="letters, digits, '_', '.' or '-' (no '/' or '..'), at most 80, e.g. ai_infra_events"))
        if u["target"] in u["peers"]:
            problems.append(Problem(f"the target {u['target']} is in its own peer basket", path=source, field="universe.peers", expected="peers other than the target"))
        from events.align import Window

        if cfg["study"]["path_start"] < -cfg["study"]["gap"]:
            problems.append(Problem(f"path_start {cfg['study']['path_start']} reaches into the estimation window, which ends "
                                    f"{cfg['study']['gap'] + 1} sessions before day 0 (study.gap {cfg['study']['gap']})", path=source,
                                    field="study.path_start", expected=f"an offset from -{cfg['study']['gap']} to 0, or a larger study.gap"))
        st = cfg["study"]
        for key in ("windows", "signal_windows", "models") if st["enabled"] else ():
            if not st[key]:
                problems.append(Problem("an empty list", path=source, field=f"study.{key}",
                                        expected="at least one entry (leave the key out for the default), or study.enabled: false"))
        if st["enabled"] and st["min_estimation"] > st["estimation"]:
            problems.append(Problem(f"min_estimation {st['min_estimation']} is more than the estimation window of {st['estimation']} sessions, "
                                    "so no event could be studied", path=source, field="study.min_estimation",
                                    expected=f"at most study.estimation ({st['estimation']})"))
        for key in ("windows", "bhar_windows", "signal_windows"):
            for w in cfg["study"][key]:
                try:
                    Window.parse(w)
                except InputError as exc:
                    problems.append(Problem(exc.problems[0].message, path=source, field=f"study.{key}", expected=exc.problems[0].expected))
        if cfg["events"]["clusters"] == "drop":
            problems.append(Problem(
                "cluster rule 'drop' removes an event because of another event that may come later (news not public at the first "
                "event's fill), so a trading run cannot use it", path=source, field="events.clusters",
                expected="keep, merge or first (study.clusters may still be 'drop' for the event study)"))
        if cfg["dates"]["end"] and cfg["dates"]["end"] <= cfg["dates"]["start"]:
            problems.append(Problem("end is not after start", path=source, field="dates.end"))
        elif cfg["report"]["live_start"] is not None:
            problems += live_start_problems(cfg["report"]["live_start"], cfg["dates"]["start"], cfg["dates"]["end"], source=source)
    if problems:
        raise InputError(problems)
    return cfg


def live_start_problems(live_start: str, start: str, end: str | None, *, source: str | None = None,
                        field: str = "report.live_start") -> list[Problem]:
    """Why ``live_start`` (ISO date) cannot split a run from ``start`` to ``end`` (ISO dates; None: the data's last
    session, checked by the run): it must lie after ``start`` (some in-sample sessions) and on or before ``end``
    (some out-of-sample ones). Empty when it can."""
    if live_start <= start or (end is not None and live_start > end):
        period = f"{start} to {end if end is not None else 'the last session of the data'}"
        return [Problem(f"live_start {live_start} is outside the run period {period}", path=source, field=field,
                        expected=f"the first out-of-sample day: a date after {start}" + (f" and on or before {end}" if end is not None else "")
                                 + ", or null for no split")]
    return []


def live_start(cfg: dict) -> str | None:
    """The resolved config's ``report.live_start`` (ISO date: the first out-of-sample day of the tear sheet), or None.
    Reads config.yaml files of runs written before the key existed too (None)."""
    v = (cfg.get("report") or {}).get("live_start")
    return None if v is None else str(v)


def with_live_start(cfg: dict, value, source: str | None = None, field: str = "--live-start") -> dict:
    """A copy of the resolved ``cfg`` with ``report.live_start`` set to ``value`` (a date or ISO text; None clears
    it), checked as the config key is (a date, inside the run's dates); :class:`InputError` naming ``field`` if not.
    For a command-line option that overrides the config's value."""
    out = copy.deepcopy(cfg)
    if isinstance(value, dt.datetime):  # click.DateTime gives a datetime: its day
        value = value.date()
    if value is None:
        out.setdefault("report", {})["live_start"] = None
        return out
    v, err = _type_ok(SCHEMA["report"]["live_start"], value)
    if err:
        raise InputError(Problem(err, path=source, field=field))
    problems = live_start_problems(v, out["dates"]["start"], out["dates"]["end"], source=source, field=field)
    if problems:
        raise InputError(problems)
    out.setdefault("report", {})["live_start"] = v
    return out


class _Loader(yaml.SafeLoader):
    """SafeLoader that leaves dates as strings, so the schema checks them (with the key path), and refuses a key
    given twice in one mapping (plain YAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: SafeLoader reports it
                    break
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} appears twice in one mapping (lines {first} and {key_node.start_mark.line + 1}); "
                                    "YAML would keep only the last", key_node.start_mark)
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _short_repr(v, n: int = 80) -> str:
    """``repr(v)`` cut to ``n`` characters (a YAML alias bomb must not become a giant message)."""
    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxdict, r.maxstring, r.maxother = 2, 4, 4, n, n
    text = r.repr(v)
    return text if len(text) <= n else text[: n - 3] + "..."


def _yaml_kind(v) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(v), type(v).__name__)


def read_yaml_text(path: Path, what: str = "a YAML file") -> str:
    """The text of a YAML file: UTF-8 (with or without a byte-order mark), or UTF-16 with a byte-order mark (as some
    Windows editors save; decoded losslessly). Other bytes: :class:`InputError` naming the line of the first byte that
    is not UTF-8. Other read errors (missing, a directory, no permission) are left to the caller."""
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise InputError(Problem("starts like UTF-16 but is not valid UTF-16", path=str(path), line=1, expected=f"{what}, saved as UTF-8")) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(Problem(f"not UTF-8 text: byte 0x{data[exc.start]:02x} on this line cannot be read", path=str(path), line=line,
                                 expected=f"{what}, saved as UTF-8")) from None


def load_config(path: str | Path | None = None, strategy=None) -> dict:
    """Read a YAML config file and resolve it. ``path``: a file, or the name of a shipped config (``earnings_only``,
    see :func:`bundled_configs`) when no such file exists; None is the bundled default config. ``strategy``: see
    :func:`resolve`."""
    p = config_path(path)
    try:
        text = read_yaml_text(p, "a YAML run config")
    except FileNotFoundError:
        raise InputError(Problem("config file not found", path=str(p),
                                 expected="a YAML run config file, or the name of a shipped config: " + ", ".join(bundled_configs())))
    except (IsADirectoryError, PermissionError) as exc:
        raise InputError(Problem(f"cannot read the config: {exc.strerror or exc}", path=str(p), expected="a UTF-8 YAML file"))
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(Problem(f"not valid YAML: {getattr(exc, 'problem', exc)}", path=str(p), line=(mark.line + 1) if mark else None))
    if data is None:
        raise InputError(Problem("the config is empty", path=str(p), line=1,
                                 expected="a mapping of sections (strategy, universe, dates, events, portfolio, costs...); "
                                          "backtests/configs/default.yaml is the main job's, a starting point"))
    if not isinstance(data, dict):
        raise InputError(Problem(f"the config is a YAML {_yaml_kind(data)}, not a mapping", path=str(p), line=1,
                                 expected="a mapping of sections (strategy, universe, dates, events, portfolio, costs...)"))
    cfg = resolve(data, str(p), strategy)
    # event files named in a config are relative to the config file, not to the working directory
    cfg["events"]["files"] = [str((p.parent / f).resolve()) if not Path(f).is_absolute() else f for f in cfg["events"]["files"]]
    return cfg


def position_label(cfg: dict) -> str:
    """What a run holds, for titles: 'AMZN vs MSFT/GOOGL/META/ORCL' for the
    long/short strategies; for a buy-and-hold benchmark the asset it holds."""
    u = cfg["universe"]
    peers = [p for p in u["peers"] if p != u["target"]]
    if cfg["strategy"]["kind"] == "buy_and_hold":
        a = cfg["strategy"]["params"].get("asset", "target")
        if a == "target":
            return f"long {u['target']} (buy and hold)"
        if a == "basket":
            return f"long the equal-weight basket {'/'.join(peers)} (buy and hold)"
        return f"long {a.upper()} (buy and hold)"
    return f"{u['target']} vs {'/'.join(peers)}"


def bundled_config(name: str) -> Path:
    return Path(str(resources.files("backtests") / "configs" / f"{name}.yaml"))


def config_path(path: str | Path | None) -> Path:
    """The file a ``--config`` value names: the path itself when it exists (or looks like a path), else the shipped
    config of that name (``aibt run --config earnings_only``); the bundled default for None."""
    if not path:
        return bundled_config("default")
    p = Path(path)
    name = str(path)
    if not p.exists() and "/" not in name and not name.endswith((".yaml", ".yml")) and name in bundled_configs():
        return bundled_config(name)
    return p


def bundled_configs() -> list[str]:
    d = Path(str(resources.files("backtests") / "configs"))
    return sorted(p.stem for p in d.glob("*.yaml"))


def config_hash(cfg: dict) -> str:
    """sha256 of the canonical JSON of a resolved config."""
    return hashlib.sha256(json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def dump_yaml(cfg: dict) -> str:
    return yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True)
