"""Strategies by name: the ``@register_strategy("name")`` decorator and the ``aibt.strategies`` entry point group.

A config's ``strategy.kind`` is looked up in :data:`STRATEGIES`. A name not registered in this process is looked up
among the installed packages' entry points of the group ``aibt.strategies`` (``importlib.metadata``), loaded on
that first lookup only. An entry point names a strategy class (or function, or a module that registers its
strategies with the decorator when imported)::

    # pyproject.toml of another package
    [project.entry-points."aibt.strategies"]
    big_deals = "my_package.strategies:BigDeals"

The registry maps each name to the Backtrader class that plans and executes it (:func:`engine_strategy`): a
:class:`~strategies.api.DecisionStrategy` made for a plain strategy class, or a
:class:`~strategies.base.ScheduleStrategy` subclass as is (the buy-and-hold benchmarks).
"""
from __future__ import annotations

import re
from importlib import metadata

from strategies.api import Decision, DecisionStrategy, Params, declared_params
from strategies.base import ScheduleStrategy

ENTRY_POINT_GROUP = "aibt.strategies"
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")

_ADAPTERS: dict = {}  # plain strategy class -> its DecisionStrategy


def _entry_points() -> list:
    return list(metadata.entry_points(group=ENTRY_POINT_GROUP))


class StrategyRegistry(dict):
    """``name -> Backtrader strategy class``; a name not registered is looked up once among the entry points."""

    def _load(self, name) -> bool:
        if not isinstance(name, str):
            return False
        for ep in _entry_points():
            if ep.name == name:
                obj = ep.load()  # a module that registers on import, or the object to register
                if name not in self.keys() and obj is not None and not isinstance(obj, type(metadata)):
                    register_strategy(name)(obj)
                return name in self.keys()
        return False

    def __contains__(self, name) -> bool:
        return dict.__contains__(self, name) or self._load(name)

    def __getitem__(self, name):
        if not dict.__contains__(self, name):
            self._load(name)
        return dict.__getitem__(self, name)

    def get(self, name, default=None):
        return self[name] if name in self else default

    def names(self) -> list[str]:
        """The registered names, then the entry points' names not loaded yet."""
        out = list(self.keys())
        try:
            out += [ep.name for ep in _entry_points() if ep.name not in out]
        except Exception:  # noqa: BLE001 - a broken installed package must not hide the registered names
            pass
        return out


#: config name (``strategy.kind``) -> Backtrader strategy class
STRATEGIES = StrategyRegistry()


def strategy_name(obj) -> str:
    """The name a strategy is known by: its registered name, or its ``name`` attribute, or its class name."""
    for k, v in STRATEGIES.items():
        if v is obj or getattr(v, "user", None) is obj:
            return k
    return getattr(obj, "kind", None) or getattr(obj, "name", None) or getattr(obj, "__name__", "strategy")


def _from_function(fn, params: dict | None, options: dict) -> type:
    """A strategy class around ``decide(view, event, p)``."""
    def decide(self, view, event):
        return fn(view, event, self.p)

    ns = {"params": dict(params or {}), "decide": decide, "__doc__": fn.__doc__, "__module__": fn.__module__,
          "__qualname__": getattr(fn, "__qualname__", fn.__name__), **options}
    return type(fn.__name__, (), ns)


def engine_strategy(obj, name: str | None = None) -> type:
    """The Backtrader class that plans and executes ``obj``: a :class:`ScheduleStrategy` subclass as is, or a
    :class:`DecisionStrategy` made (once) for a plain class with a ``decide(view, event)`` method."""
    if isinstance(obj, type) and issubclass(obj, ScheduleStrategy):
        return obj
    if not isinstance(obj, type) or not callable(getattr(obj, "decide", None)):
        raise TypeError(f"{obj!r} is not a strategy: expected a class with a decide(view, event) method (or a function "
                        "registered with register_strategy(name, params=...))")
    declared_params(obj)  # refuses malformed params now, not at the first run
    key = (obj, name)
    if key not in _ADAPTERS:
        meta = type(DecisionStrategy)
        # in strategies.api's module: Backtrader looks the class's module up in sys.modules, and a user's class may
        # live in one that is not there (exec'd code, a notebook cell)
        _ADAPTERS[key] = meta(obj.__name__, (DecisionStrategy,), {"user": obj, "kind": name or strategy_name(obj),
                                                                   "__module__": DecisionStrategy.__module__, "__doc__": obj.__doc__})
    return _ADAPTERS[key]


def register_strategy(name: str, *, params: dict | None = None, **options):
    """Class (or function) decorator: make a strategy available as ``strategy.kind: name`` in configs and sweeps.

    On a class, it is returned unchanged. On a function ``decide(view, event, p)``, ``params`` (name -> default)
    and ``options`` (class attributes such as ``max_size=2.0``, ``exit_offset=5``, ``categories=("earnings",)``)
    declare what a class would, and the decorator returns the strategy class made around it.

    Registering a different strategy under a name already taken is refused; registering the same class again
    (a script run twice in one interpreter) replaces it.
    """
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError(f"strategy name {name!r}: expected letters, digits, '_', '.' or '-', starting with a letter")

    def deco(obj):
        user = obj
        if not isinstance(obj, type):
            if not callable(obj):
                raise TypeError(f"register_strategy({name!r}) needs a class or a function, got {obj!r}")
            user = _from_function(obj, params, options)
        elif params is not None or options:
            raise TypeError("params= and options are for functions; a class declares them as class attributes")
        engine = engine_strategy(user, name)
        old = dict.get(STRATEGIES, name)
        if old is not None and old is not engine:
            was = getattr(old, "user", old)
            if (getattr(was, "__module__", None), getattr(was, "__qualname__", None)) != (user.__module__, user.__qualname__):
                raise ValueError(f"strategy name {name!r} is taken by {was.__module__}.{was.__qualname__}")
        dict.__setitem__(STRATEGIES, name, engine)
        return user

    return deco


__all__ = ["ENTRY_POINT_GROUP", "STRATEGIES", "Decision", "Params", "StrategyRegistry", "engine_strategy", "register_strategy",
           "strategy_name"]
