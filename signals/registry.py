"""Signals a user adds: computed from point-in-time fundamentals, like the shipped ones.

A signal is a function of ``(panel, ticker)``: ``panel`` is the company's quarterly figures *as known at one
session* (:func:`signals.fundamentals.as_of_panel`, one row per calendar quarter, one column per metric), so a
signal cannot see a figure before it was public: it is evaluated again at every session on which something new
became usable (:func:`signals.history.signal_table`). It returns a :class:`pandas.Series` indexed like the panel
(NaN where undefined) or a :class:`signals.quarterly.Derived` (values with the reason for each gap).

Register one with :func:`register_signal` from a script, or ship it in a package through the entry point group
``aibt.signals`` (the entry point names a module or object whose import registers the signals). A registered
signal appears in ``aibt signals show``, in a run's ``signals.csv``, in the event study's signal regressions and
in what strategies see at each decision.
"""
from __future__ import annotations

import re
from typing import Callable

import numpy as np
import pandas as pd

from events.errors import InputError, Problem
from signals.quarterly import Derived, labels

ENTRY_POINT_GROUP = "aibt.signals"
#: the quarterly metrics a panel can hold (the canonical names of signals.fundamentals' point-in-time table)
KNOWN_METRICS = frozenset(__import__("signals.fundamentals", fromlist=["CANONICAL"]).CANONICAL.values())
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
#: names registered by users, in registration order (the shipped ones are in signals.history.SIGNALS only)
USER_SIGNALS: list[str] = []
_loaded = {"entry_points": False}


def _as_derived(name: str, out, panel: pd.DataFrame) -> Derived:
    if isinstance(out, Derived):
        return out
    if not isinstance(out, pd.Series):
        raise TypeError(f"signal {name!r} returned {type(out).__name__}; expected a pandas Series indexed like the panel, or a Derived")
    if len(out) and len(panel) and not out.index.isin(panel.index).any():
        raise TypeError(f"signal {name!r} returned a Series indexed unlike the panel (quarters as a PeriodIndex, e.g. "
                        f"{panel.index[-1]}); got {out.index[:3].tolist()}")
    raw = out.reindex(panel.index)
    value = pd.to_numeric(raw, errors="coerce").astype(float)
    text = raw.notna() & value.isna()
    if text.any():
        raise TypeError(f"signal {name!r} returned values that are not numbers, e.g. {raw[text].iloc[0]!r}")
    value = value.where(np.isfinite(value))  # an infinite ratio (a zero denominator) is undefined
    reason = pd.Series([f"{name} undefined for {lab}" for lab in labels(panel)], index=panel.index) if len(panel) else pd.Series(dtype=str)
    return Derived.of(value, reason)


def register_signal(name: str, units: str, *, replace: bool = False) -> Callable:
    """Decorator: register ``fn(panel, ticker)`` as the signal ``name`` (lower case, letters, digits, '_'),
    measured in ``units`` (said wherever the signal is shown, e.g. "fraction" or "ratio points, QoQ").
    A name already taken (a shipped signal or another registration) is refused unless ``replace``."""
    from signals.history import SIGNALS

    if not isinstance(name, str) or not _NAME.match(name):
        raise InputError(Problem(f"not a signal name: {name!r}", field="signal", expected="lower case letters, digits and '_', up to 40"))
    if name in SIGNALS and not replace:
        raise InputError(Problem(f"a signal named {name!r} exists already", field="signal",
                                 expected="a new name (or replace=True to redefine a signal you registered)"))

    def deco(fn: Callable) -> Callable:
        def evaluate(panel, ticker, _fn=fn):
            try:
                out = _fn(panel, ticker)
            except KeyError as exc:  # a metric with no figure known yet at this session: undefined, and why
                if exc.args and exc.args[0] not in KNOWN_METRICS:
                    raise InputError(Problem(f"signal {name!r} reads {exc.args[0]!r}, which is not a fundamentals metric", field="signal",
                                             expected="one of " + ", ".join(sorted(KNOWN_METRICS)))) from None
                value = pd.Series(float("nan"), index=panel.index)
                return Derived.of(value, pd.Series(f"{name} needs {exc.args[0]}, not reported or not public yet", index=panel.index))
            except Exception as exc:  # noqa: BLE001 - the user's function failed: a user error naming it, not aibt's bug
                raise InputError(Problem(f"signal {name!r} raised {type(exc).__name__}: {exc}", field="signal",
                                         expected="a function of (panel, ticker) returning a Series indexed like the panel")) from exc
            try:
                return _as_derived(name, out, panel)
            except TypeError as exc:
                raise InputError(Problem(str(exc), field="signal", expected="a pandas Series indexed like the panel, or a Derived")) from None

        evaluate.__doc__ = fn.__doc__
        SIGNALS[name] = (evaluate, units)
        if name not in USER_SIGNALS:
            USER_SIGNALS.append(name)
        return fn

    return deco


def load_entry_points() -> None:
    """Import every ``aibt.signals`` entry point once (their import registers their signals)."""
    if _loaded["entry_points"]:
        return
    _loaded["entry_points"] = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as exc:  # noqa: BLE001 - another package's entry point: name it
            raise InputError(Problem(f"the {ENTRY_POINT_GROUP} entry point {ep.name!r} ({ep.value}) cannot be loaded: "
                                     f"{type(exc).__name__}: {exc}", field="entry point",
                                     expected="an importable module or object (reinstall the package that declares it)")) from None


def user_signals() -> list[str]:
    """Names of the registered user signals (entry points loaded first)."""
    load_entry_points()
    return list(USER_SIGNALS)
