"""Strategy 4: benchmarks that trade once and hold: the target, the peer basket, or an ETF."""
from __future__ import annotations

from strategies.base import ScheduleStrategy
from strategies.registry import register_strategy
from strategies.schedule import Episode


@register_strategy("buy_and_hold")
class BuyAndHold(ScheduleStrategy):
    """Buy at the first session's fill and hold to the end.

    Not on the decision API of :mod:`strategies.api`: it reads no events, signals or prices when it plans (one
    episode from the first fill a run allows, with fixed weights), so it has nothing a point-in-time view would
    guard; it plans directly from the context's sessions, target and peers.

    Parameter ``asset``: ``target`` (default), ``basket`` (equal weights over the
    peers, bought once and left to drift) or a ticker such as ``QQQ``;
    ``weight``: fraction of the portfolio invested (default 1.0).
    """

    params = (("asset", "target"), ("weight", 1.0))

    @classmethod
    def plan(cls, ctx, params):
        a = params["asset"]
        if a == "target":
            w = {ctx.target: params["weight"]}
        elif a == "basket":
            b = ctx.basket_for()
            w = {p: params["weight"] / len(b) for p in b}
        else:
            w = {a.upper(): params["weight"]}
        start = ctx.sessions[1] if ctx.portfolio.get("fill", "open") == "open" else ctx.sessions[0]
        return [Episode(1, [], 1, start, None, w)], {}, None
