"""Strategy 3: the pre-earnings run-up, scheduled events only."""
from __future__ import annotations

from events.errors import InputError, Problem
from strategies.base import ScheduleStrategy
from strategies.event_window import episodes_from_plans
from strategies.schedule import plan_event_trades


class PreEarningsRunup(ScheduleStrategy):
    """Hold the target against the basket in the sessions before a scheduled release.

    Parameters: ``entry_offset`` (negative sessions from day 0, default -5;
    events whose date was not public by then are not traded), ``exit_offset``
    (default 0: out at the open of the reaction session, before the news is
    traded), ``side`` (+1 / -1), ``overlap``.
    Only scheduled events are accepted: an unscheduled one in the selection is
    a configuration error.
    """

    params = (("entry_offset", -5), ("exit_offset", 0), ("side", 1), ("overlap", "extend"))

    @classmethod
    def plan(cls, ctx, params):
        unsched = ctx.events[~ctx.events["scheduled"].astype(bool)]
        if len(unsched):
            raise InputError(Problem(
                f"pre_earnings_runup needs scheduled events, but {len(unsched)} unscheduled are selected (e.g. {unsched['event_id'].iloc[0]})",
                field="events.categories", expected="scheduled categories only, e.g. [earnings]",
            ))
        plans = plan_event_trades(ctx.events, ctx.sessions, params["entry_offset"], params["exit_offset"], ctx.portfolio.get("fill", "open"))
        plans["side"] = int(params["side"])
        return episodes_from_plans(ctx, plans, params["overlap"])
