"""Strategy 3: the pre-earnings run-up, scheduled events only."""
from __future__ import annotations

from strategies.api import Decision
from strategies.event_window import side_problems
from strategies.registry import register_strategy


@register_strategy("pre_earnings_runup")
class PreEarningsRunup:
    """Hold the target against the basket in the sessions before a scheduled release.

    Parameters: ``entry_offset`` (negative sessions from day 0, default -5;
    events whose date was not public by then are not traded), ``exit_offset``
    (default -1; at most -1), ``side`` (+1 / -1), ``overlap``.

    A run-up is flat before the release can be traded: the exit fill is at
    the latest in the last session before the reaction session (day -1: its
    open with open fills, its close with close fills). An exit at day 0's open
    would carry the overnight gap of an after-close release, i.e. the
    earnings reaction itself, so ``exit_offset >= 0`` is refused.
    Only scheduled events are accepted (``scheduled_only``): an unscheduled one in the selection is
    a configuration error. Decides at the entry fill (:mod:`strategies.api`), reading nothing from its view.
    """

    params = {"entry_offset": -5, "exit_offset": -1, "side": 1, "overlap": "extend"}
    scheduled_only = True

    def check(self, params):
        out = []
        if params["exit_offset"] > -1:
            out.append(("exit_offset", f"a run-up exit at offset {params['exit_offset']} holds through the release (day 0 is the reaction session)",
                        "an exit offset of -1 or earlier (flat before the news can be traded)"))
        eo = params["entry_offset"]
        if not isinstance(eo, int) or eo >= params["exit_offset"]:
            out.append(("entry_offset", f"entry offset {eo!r} is not before the exit offset {params['exit_offset']}",
                        "a whole number of sessions before the exit, e.g. -5"))
        return out + side_problems(params)

    def decide(self, view, event):
        return Decision(side=int(self.p.side))
