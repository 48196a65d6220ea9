"""Strategy 1: trade the target against the peer basket in a window around events.

Also the framework's last planning step, shared by every strategy: :func:`episodes_from_plans` (plans ->
episodes by the overlap rule) and :func:`weigh` (each episode's hedge weights, point in time).
"""
from __future__ import annotations

from strategies.api import Decision
from strategies.hedge import leg_weights, trailing_beta
from strategies.registry import register_strategy
from strategies.schedule import build_episodes


def _weights_at(ctx, e, session, basket):
    """Weights of episode ``e`` against ``basket``, a beta hedge estimated on
    returns up to the session before the fill at ``session``; the gross is the
    configured gross times the episode's size."""
    pf = ctx.portfolio
    beta = None
    if pf.get("hedge") == "beta":
        pos = ctx.sessions.get_loc(session)
        until = ctx.sessions[max(pos - 1, 0)]
        beta = trailing_beta(ctx.returns, ctx.target, basket, until, pf.get("beta_window", 120))
    gross = pf.get("gross", 1.0)
    if e.size != 1.0:
        gross = gross * e.size
    return leg_weights(e.side, ctx.target, basket, gross, pf.get("long_share", 0.5), pf.get("hedge", "equal"), beta)


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


def side_problems(params) -> list[tuple[str, str, str]]:
    """A ``side`` parameter other than +1 or -1 (a side of 2 would double the gross; 0 would trade nothing)."""
    if params.get("side") not in (1, -1):
        return [("side", f"side {params.get('side')!r}", "1 (long the target, short the basket) or -1 (the reverse)")]
    return []


@register_strategy("event_window")
class EventWindow:
    """Long the target / short the basket (or the reverse) around each selected event.

    Parameters:

    * ``entry_offset``: ``"earliest"`` (default; each event's earliest legal
      entry) or sessions from day 0 (negative only for scheduled events);
    * ``exit_offset``: sessions from day 0 of the exit fill (default 2: with
      open fills the position carries day 0 and day +1);
    * ``side``: +1 long target / short basket (default), -1 the reverse;
    * ``overlap``: ``extend`` (default) or ``skip`` (see :mod:`strategies.schedule`).

    Decides at each event's entry fill (:mod:`strategies.api`) and reads nothing from its view: every event is
    traded on the same side.
    """

    params = {"entry_offset": "earliest", "exit_offset": 2, "side": 1, "overlap": "extend"}

    def check(self, params):
        return side_problems(params)

    def decide(self, view, event):
        return Decision(side=int(self.p.side))
