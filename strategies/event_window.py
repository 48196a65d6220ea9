"""Strategy 1: trade the target against the peer basket in a window around events."""
from __future__ import annotations

from strategies.base import ScheduleStrategy
from strategies.hedge import leg_weights, trailing_beta
from strategies.schedule import build_episodes, plan_event_trades


def _weights_at(ctx, e, session, basket):
    """Weights of episode ``e`` against ``basket``, a beta hedge estimated on
    returns up to the session before the fill at ``session``."""
    pf = ctx.portfolio
    beta = None
    if pf.get("hedge") == "beta":
        pos = ctx.sessions.get_loc(session)
        until = ctx.sessions[max(pos - 1, 0)]
        beta = trailing_beta(ctx.returns, ctx.target, basket, until, pf.get("beta_window", 120))
    return leg_weights(e.side, ctx.target, basket, pf.get("gross", 1.0), pf.get("long_share", 0.5), pf.get("hedge", "equal"), beta)


def weigh(ctx, episodes) -> None:
    """Fill each episode's weights by the portfolio's hedge rule (pure, in place).

    Point in time: the basket at the entry fill leaves out the announcing
    companies of the events public at that fill only. A later event joining
    the episode (overlap ``extend``) changes the basket from its own entry
    fill on, as a rebalance (:attr:`strategies.schedule.Episode.rebalances`),
    never before.
    """
    for e in episodes:
        basket = ctx.basket_for(ctx.companies_of(e.known_at(e.entry)))
        e.weights = _weights_at(ctx, e, e.entry, basket)
        e.rebalances = []
        for when in sorted({w for w, _ in e.joined if w > e.entry}):
            if e.exit is not None and when >= e.exit:
                continue
            new = ctx.basket_for(ctx.companies_of(e.known_at(when)))
            if new != basket:
                why_ids = [eid for w, eid in e.joined if w == when]
                gone = [p for p in basket if p not in new]
                e.rebalances.append((when, _weights_at(ctx, e, when, new),
                                     f"{when.date()}: {', '.join(gone) or 'basket'} left the basket ({', '.join(why_ids)})"))
                basket = new


def episodes_from_plans(ctx, plans, overlap: str, notes: dict | None = None):
    """Plans with a ``side`` column -> weighted episodes, with a note per event.

    ``notes`` (optional) holds strategy-specific notes per event (why a side
    was chosen); they are kept next to what the overlap rule did, and plans
    that could not be traded say why.
    """
    notes = dict(notes or {})
    episodes, done = build_episodes(plans, overlap)
    weigh(ctx, episodes)
    for e in episodes:
        for when, _, why in e.rebalances:
            for eid in (x for w, x in e.joined if w == when):
                done[eid] = f"{done.get(eid, '')}; rebalanced episode {e.episode} from {why}"
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
