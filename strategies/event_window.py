"""Strategy 1: trade the target against the peer basket in a window around events."""
from __future__ import annotations

from strategies.base import ScheduleStrategy
from strategies.hedge import leg_weights, trailing_beta
from strategies.schedule import build_episodes, plan_event_trades


def weigh(ctx, episodes) -> None:
    """Fill each episode's weights by the portfolio's hedge rule (pure, in place)."""
    pf = ctx.portfolio
    for e in episodes:
        basket = ctx.basket_for(ctx.companies_of(e.event_ids))
        beta = None
        if pf.get("hedge") == "beta":
            pos = ctx.sessions.get_loc(e.entry)
            until = ctx.sessions[max(pos - 1, 0)]
            beta = trailing_beta(ctx.returns, ctx.target, basket, until, pf.get("beta_window", 120))
        e.weights = leg_weights(e.side, ctx.target, basket, pf.get("gross", 1.0), pf.get("long_share", 0.5), pf.get("hedge", "equal"), beta)


def episodes_from_plans(ctx, plans, overlap: str, notes: dict | None = None):
    """Plans with a ``side`` column -> weighted episodes, with a note per event.

    ``notes`` (optional) holds strategy-specific notes per event (why a side
    was chosen); they are kept next to what the overlap rule did, and plans
    that could not be traded say why.
    """
    notes = dict(notes or {})
    episodes, done = build_episodes(plans, overlap)
    weigh(ctx, episodes)
    for k, v in done.items():
        notes[k] = f"{v} ({notes[k]})" if k in notes else v
    for eid, why in zip(plans["event_id"], plans["reason"]):
        if why:
            notes[eid] = f"not traded: {why}"
    return episodes, notes, plans


class EventWindow(ScheduleStrategy):
    """Long the target / short the basket (or the reverse) around each selected event.

    Parameters:

    * ``entry_offset``: ``"earliest"`` (default; each event's earliest legal
      entry) or sessions from day 0 (negative only for scheduled events);
    * ``exit_offset``: sessions from day 0 of the exit fill (default 2: with
      open fills the position carries day 0 and day +1);
    * ``side``: +1 long target / short basket (default), -1 the reverse;
    * ``overlap``: ``extend`` (default) or ``skip`` (see :mod:`strategies.schedule`).
    """

    params = (("entry_offset", "earliest"), ("exit_offset", 2), ("side", 1), ("overlap", "extend"))

    @classmethod
    def plan(cls, ctx, params):
        plans = plan_event_trades(ctx.events, ctx.sessions, params["entry_offset"], params["exit_offset"], ctx.portfolio.get("fill", "open"))
        plans["side"] = int(params["side"])
        return episodes_from_plans(ctx, plans, params["overlap"])
