"""The strategy API: a plain class that decides, event by event, on a point-in-time view.

A strategy is a plain Python class (no Backtrader subclass)::

    class BigDeals:
        params = {"min_amount": 10.0, "exit_offset": 2}   # name -> default; YAML strategy.params are checked against them

        def decide(self, view, event):                   # once per event, at its decision point
            if not event["amount_usd_bn"] >= self.p.min_amount:
                return Decision(0, note="below the minimum amount")
            return Decision(side=+1)                     # long the target / short the peer basket

The framework does the rest, the same way for every strategy, shipped or not: it finds each event's decision point,
builds the :class:`~strategies.view.PointInTimeView` of that fill, calls ``decide`` in time order, checks the
decisions (legal entries, no entry before the decision), turns them into plans and episodes (overlap rules,
point-in-time hedge baskets and rebalances, :func:`strategies.event_window.episodes_from_plans`), scales each
episode's weights by its decision's size, and executes them on Backtrader or on the fast engine.

What a strategy class may declare (class attributes; a parameter of the same name overrides the attribute):

* ``params``: a dict (or Backtrader's tuple of pairs) of parameter names and defaults. A YAML value is checked
  against the default's type (bool, int, float, str; a list for a list; anything for None); an optional
  ``check(self, params)`` method returns more problems: strings, ``(param, message)`` or ``(param, message,
  expected)`` tuples. During planning the values are ``self.p.name`` (or ``self.params.name``), read-only, and
  ``self.target`` / ``self.peers`` name the traded stock and its basket.
* ``entry_offset``: the decision point and default entry of every event: ``"earliest"`` (default: the first fill
  after the news is out, e.g. the open of day 0 for a bmo/amc event, the close of day 0 for an intraday one) or a
  number of sessions from day 0 (negative only for scheduled events whose date was public by then).
* ``exit_offset``: the default exit (sessions from day 0 of the exit fill) for a decision that gives none.
* ``overlap``: ``extend`` (default) or ``skip`` (:mod:`strategies.schedule`).
* ``max_size``: the largest size a decision may ask for (default 1.0); larger sizes are cut to it, and the event's
  note says so.
* ``categories`` (e.g. ``("earnings",)``), ``own_company`` (True: only events the target announced) and
  ``scheduled_only`` (True: a selection with an unscheduled event is refused): which of the run's selected events
  the strategy is asked about. They read an event's own fields only.

``decide(view, event)`` returns a :class:`Decision`, or None when the strategy makes no plan for that event
(events.csv then says ``not traded: no plan``). ``event`` is the event's row, read-only
(:class:`strategies.view.EventRow`: ``event["amount_usd_bn"]`` or ``event.amount_usd_bn``): ``event_id, date, time,
scheduled, company, tickers, category, headline, amount_usd_bn, confidence, day0, ...``.

Time: decisions are taken in the order of their fills, each with a view cut at its own fill, so nothing a strategy
keeps on ``self`` between decisions can come from later.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from events.errors import InputError, Problem
from strategies.base import ScheduleStrategy
from strategies.schedule import decision_points, plan_event_trades
from strategies.view import LookAheadError, Timeline


@dataclass(frozen=True)
class Decision:
    """What a strategy decides for one event.

    * ``side``: +1 long the target / short the peer basket, -1 the reverse, 0 flat (not traded; ``note`` says why);
    * ``exit``: the exit fill's offset in sessions from day 0, or ``hold``: sessions from the entry fill to the exit
      fill (give at most one; neither: the strategy's ``exit_offset``);
    * ``entry``: the entry's offset in sessions from day 0 (default: the decision point). Not before the decision
      point, and before day 0 only for a scheduled event whose date was public by then: the legality rules and error
      texts of :func:`strategies.schedule.plan_event_trades`;
    * ``size``: a multiplier of the configured gross exposure (default 1.0), cut to the strategy's ``max_size``;
    * ``note``: why, kept in events.csv's ``reason``.
    """

    side: int
    exit: int | None = None
    hold: int | None = None
    entry: int | None = None
    size: float = 1.0
    note: str = ""


class Params(Mapping):
    """Read-only parameter values: ``p.name`` or ``p["name"]``."""

    __slots__ = ("_d",)

    def __init__(self, values: dict):
        object.__setattr__(self, "_d", dict(values))

    def __getattr__(self, name):
        try:
            return self._d[name]
        except KeyError:
            raise AttributeError(f"no parameter {name!r} (declared: {', '.join(self._d) or 'none'})") from None

    def __setattr__(self, name, value):
        raise AttributeError("strategy parameters are read-only while planning")

    def __getitem__(self, key):
        return self._d[key]

    def __iter__(self):
        return iter(self._d)

    def __len__(self):
        return len(self._d)

    def __repr__(self):
        return f"Params({self._d!r})"


# ---------------------------------------------------------------- declarations of a strategy class
def user_code_error(exc: BaseException, context: str) -> InputError:
    """An exception raised by a user's strategy or signal code as an :class:`InputError` naming the code's own
    innermost frame (file and line) and the decision, so the CLI exits 2 with where to look, not 'a bug in aibt'."""
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/site-packages/" not in f.filename]
    where = f"{frames[-1].filename}, line {frames[-1].lineno}, in {frames[-1].name}" if frames else "your code"
    return InputError(Problem(f"{context}: your code raised {type(exc).__name__}: {exc}", path=where,
                              expected="code that runs for every event it is given (a Decision, or None for no trade)"))


def declared_params(user) -> dict:
    """The parameter defaults a strategy class declares (``params``: a dict or Backtrader's tuple of pairs)."""
    p = getattr(user, "params", None)
    if p is None:
        return {}
    if isinstance(p, Mapping):
        out = dict(p)
    else:
        try:
            out = dict(p)
        except (TypeError, ValueError):
            raise TypeError(f"{user.__name__}.params must be a dict of name -> default (or a tuple of (name, default) pairs)") from None
    bad = [k for k in out if not isinstance(k, str) or not k.isidentifier()]
    if bad:
        raise TypeError(f"{user.__name__}.params: parameter names must be identifiers, got {bad!r}")
    return out


def option(user, params: Mapping, name: str, default):
    """A declaration of the strategy: the parameter ``name`` when declared, else the class attribute, else ``default``."""
    if name in params:
        return params[name]
    return getattr(user, name, default)


def instantiate(user, params: Mapping, target: str | None = None, peers=()):
    """A fresh instance of a strategy class with its read-only parameters (``p``, ``params``), ``target`` and ``peers``."""
    inst = user()
    ro = Params(params)
    for k, v in (("p", ro), ("params", ro), ("target", target), ("peers", tuple(peers))):
        try:
            setattr(inst, k, v)
        except AttributeError:  # a class with __slots__ or read-only properties: it does without
            pass
    return inst


def user_problems(user, params: Mapping) -> list[tuple[str, str, str | None]]:
    """``(parameter, what is wrong, expected)`` from the class's ``check(params)`` hook (none without one)."""
    if getattr(user, "check", None) is None:
        return []
    got = instantiate(user, params).check(dict(params))
    out = []
    for item in got or ():
        if isinstance(item, str):
            out.append(("", item, None))
        elif isinstance(item, tuple) and 2 <= len(item) <= 3:
            out.append((str(item[0]), str(item[1]), None if len(item) == 2 else item[2]))
        else:
            raise TypeError(f"{user.__name__}.check returned {item!r}: expected strings or (param, message[, expected]) tuples")
    return out


# ---------------------------------------------------------------- planning
def _offered(user, events: pd.DataFrame, target: str, name: str) -> pd.DataFrame:
    """The selected events the strategy is asked about (its ``categories``, ``own_company`` and ``scheduled_only``)."""
    ev = events
    cats = getattr(user, "categories", None)
    if cats:
        want = {cats} if isinstance(cats, str) else set(cats)
        ev = ev[ev["category"].astype(str).map(lambda c: bool(want & set(c.split("+")))).astype(bool)]
    if getattr(user, "own_company", False):
        ev = ev[ev["company"] == target]
    if getattr(user, "scheduled_only", False):
        unsched = ev[~ev["scheduled"].astype(bool)]
        if len(unsched):
            raise InputError(Problem(
                f"{name} needs scheduled events, but {len(unsched)} unscheduled are selected (e.g. {unsched['event_id'].iloc[0]})",
                field="events.categories", expected="scheduled categories only, e.g. [earnings]",
            ))
    return ev


def _bad_decision(name: str, eid: str, field: str, what: str, expected: str) -> InputError:
    return InputError(Problem(f"strategy {name}, deciding on {eid}: {what}", field=f"Decision.{field}", expected=expected))


def _checked(d, name: str, eid: str, cap: float) -> tuple[Decision, str]:
    """A strategy's answer, checked; ``(decision with its size cut to cap, note about the cut or '')``."""
    if not isinstance(d, Decision):
        raise _bad_decision(name, eid, "side", f"decide returned {d!r}", "a strategies.Decision or None")
    side = d.side
    if isinstance(side, bool) or side not in (-1, 0, 1):
        raise _bad_decision(name, eid, "side", f"side {side!r}", "+1 (long the target), -1 (short it) or 0 (flat)")
    whole = {}
    for k in ("exit", "hold", "entry"):
        v = getattr(d, k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Integral)):
            raise _bad_decision(name, eid, k, f"{k} {v!r}", "a whole number of sessions, or None")
        whole[k] = None if v is None else int(v)
    if d.exit is not None and d.hold is not None:
        raise _bad_decision(name, eid, "hold", f"both exit {d.exit} and hold {d.hold} given", "one of them")
    if d.hold is not None and d.hold < 1:
        raise _bad_decision(name, eid, "hold", f"hold {d.hold}", "at least 1 session")
    size = d.size
    if isinstance(size, bool) or not isinstance(size, numbers.Real) or not math.isfinite(size) or size <= 0:
        raise _bad_decision(name, eid, "size", f"size {size!r}", "a positive multiplier of the configured gross, e.g. 1.0")
    cut = ""
    if size > cap:
        cut, size = f"size {size:g} cut to the maximum {cap:g}", cap
    return Decision(int(side), whole["exit"], whole["hold"], whole["entry"], float(size), str(d.note or "")), cut


def plan_decisions(ctx, user, params: Mapping, name: str):
    """Plan a run for the strategy class ``user`` with resolved ``params``: ``(episodes, notes, plans)`` as
    :meth:`strategies.base.ScheduleStrategy.plan` returns them (see the module docstring for the steps)."""
    from strategies.event_window import episodes_from_plans

    fill = ctx.portfolio.get("fill", "open")
    entry_default = option(user, params, "entry_offset", "earliest")
    exit_default = option(user, params, "exit_offset", None)
    overlap = option(user, params, "overlap", "extend")
    cap = float(option(user, params, "max_size", 1.0))
    entry_key = "strategy.params.entry_offset" if "entry_offset" in params else f"{name}.entry_offset"
    ev = _offered(user, ctx.events, ctx.target, name)
    points = decision_points(ev, ctx.sessions, entry_default, fill, entry_key)
    pos = points["pos"].to_numpy()
    offs = points["offset"].to_numpy()
    inst = instantiate(user, params, ctx.target, ctx.peers)
    timeline = Timeline(ctx)
    ids = ev["event_id"].tolist()
    day0_pos = ev["day0_pos"].to_numpy()
    first_fill = 1 if fill == "open" else 0
    n_ev = len(ev)
    decided: list = [None] * n_ev
    cuts = [""] * n_ev
    asked = [False] * n_ev
    for i in sorted((i for i in range(n_ev) if pos[i] >= 0), key=lambda i: (pos[i], i)):
        eid = ids[i]
        view = timeline.view(int(pos[i]), int(offs[i]))
        context = f"strategy {name}, deciding on {eid}"
        try:
            d = inst.decide(view, timeline.event_row(eid, int(pos[i])))
        except LookAheadError as exc:
            raise exc.within(context) from None
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - the user's code failed: say where, as a user error (exit 2), not as aibt's bug
            raise user_code_error(exc, f"{context} ({view.when})") from exc
        if view._violations:  # asked for the future and caught the error: the run still fails
            raise view._violations[0].within(context)
        asked[i] = True
        if d is not None:
            decided[i], cuts[i] = _checked(d, name, eid, cap)
    keep = [i for i in range(n_ev) if not (asked[i] and decided[i] is None)]
    entries, exits, sides, sizes, notes = [], [], [], [], {}
    for i in keep:
        d, eid = decided[i], ids[i]
        entry = d.entry if d is not None and d.entry is not None else entry_default
        p0 = int(day0_pos[i])
        if d is not None and d.entry is not None:
            used = max(p0 + d.entry, first_fill) - p0 if p0 >= 0 and p0 + d.entry >= 0 else d.entry
        else:
            used = int(offs[i])
        if d is not None and d.exit is not None:
            exit_ = d.exit
        elif d is not None and d.hold is not None:
            exit_ = used + d.hold
        elif exit_default is not None:
            exit_ = exit_default
        elif d is not None and d.side != 0:
            raise _bad_decision(name, eid, "exit", "no exit given and the strategy declares no exit_offset", "Decision(exit=...) or hold=...")
        else:
            exit_ = used + 1  # a flat decision or no decision point: any exit after the entry
        entries.append(entry), exits.append(exit_)
        sides.append(d.side if d is not None else 0), sizes.append(d.size if d is not None else 1.0)
        if d is not None:
            note = "; ".join(x for x in (d.note, cuts[i]) if x)
            if d.side == 0:
                notes[eid] = f"not traded: {note or 'the strategy decided to stay flat'}"
            elif note:
                notes[eid] = note
    kept = ev.iloc[keep]
    plans = plan_event_trades(kept, ctx.sessions, entries, exits, fill, config_key=f"Decision.entry of strategy {name}")
    for j, i in enumerate(keep):
        d = decided[i]
        if d is not None and d.entry is not None and d.entry < int(offs[i]):
            eid = ids[i]
            when = f"{'before the open' if fill == 'open' else 'at the close'} of {ctx.sessions[pos[i]].date()}"
            raise LookAheadError(f"strategy {name}, deciding on {eid}: entry at offset {d.entry} asked at a decision {when} (offset "
                                 f"{int(offs[i])}): a decision cannot trade before it is taken", field="Decision.entry",
                                 decision=ctx.sessions[pos[i]], expected=f"an entry at or after offset {int(offs[i])}, or none")
    if exit_default is None:  # rows without a decision point keep the decision point's reason, not a made-up exit's
        for j, i in enumerate(keep):
            if pos[i] < 0:
                plans.iloc[j, plans.columns.get_loc("reason")] = points["reason"].iloc[i]
    plans["side"] = sides
    plans["size"] = sizes
    return episodes_from_plans(ctx, plans, overlap, notes)


class DecisionStrategy(ScheduleStrategy):
    """The Backtrader strategy of a :mod:`strategies.api` class: plans with :func:`plan_decisions`, executes the
    schedule like every :class:`~strategies.base.ScheduleStrategy`. ``user`` is the class, ``kind`` its name.
    Made by :func:`strategies.registry.engine_strategy`; never subclassed by hand."""

    user: type = None
    kind: str = ""

    @classmethod
    def param_names(cls) -> list[str]:
        return list(declared_params(cls.user))

    @classmethod
    def param_defaults(cls) -> dict:
        return declared_params(cls.user)

    @classmethod
    def check_params(cls, params: dict, portfolio: dict) -> list[tuple[str, str, str]]:
        return user_problems(cls.user, params)

    @classmethod
    def cluster_offsets(cls, params: dict) -> tuple[int, int]:
        eo = option(cls.user, params, "entry_offset", "earliest")
        xo = option(cls.user, params, "exit_offset", None)
        return min(eo if isinstance(eo, int) else 0, 0), max(int(xo) if isinstance(xo, int) else 0, 0)

    @classmethod
    def plan(cls, ctx, params):
        return plan_decisions(ctx, cls.user, params, cls.kind or cls.user.__name__)
