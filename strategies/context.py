"""The run's planning inputs: a frozen bundle of pure frames, for the framework.

Built by ``backtests`` from the event calendar, the signals and the prices;
strategies never load files themselves. It holds the WHOLE run (every session,
event, return and signal), so strategies never receive it: the framework
(:func:`strategies.api.plan_decisions`) cuts a point-in-time view from it for
each decision (:class:`strategies.view.Timeline`), and uses it itself only for
rules that are point in time by their own construction (hedge baskets and
trailing betas in :func:`strategies.event_window.weigh`, the buy-and-hold
benchmarks' single episode).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from strategies.hedge import hedge_basket


@dataclass(frozen=True)
class StrategyContext:
    """Inputs for :meth:`strategies.base.ScheduleStrategy.plan`.

    * ``sessions``: the run's sessions (DatetimeIndex).
    * ``events``: aligned, cluster-resolved events selected for the run
      (see :func:`events.align.align`), with ``day0_pos`` on ``sessions``.
    * ``returns``: daily total returns (fractions) per ticker, indexed by session.
    * ``signals``: the target's point-in-time signal table
      (:func:`signals.history.signal_table`), or None.
    * ``target``, ``peers``: the traded stock and its hedge basket.
    * ``portfolio``: gross, long_share, hedge, beta_window, fill (never cash, sizing or costs:
      :func:`backtests.config.planning_portfolio`).
    * ``closes``: total-return closes per ticker, indexed by session (optional).
    """

    sessions: pd.DatetimeIndex
    events: pd.DataFrame
    returns: pd.DataFrame
    target: str
    peers: tuple[str, ...]
    portfolio: dict = field(default_factory=dict)
    signals: pd.DataFrame | None = None
    closes: pd.DataFrame | None = None

    def basket_for(self, event_companies=()) -> list[str]:
        """The hedge basket for a trade: the peers minus the target and minus the
        companies that announced the traded events (an event's own company is
        never in its benchmark basket), unless that would leave no peer."""
        return hedge_basket(self.peers, self.target, event_companies)

    def companies_of(self, event_ids) -> list[str]:
        """Announcing companies of the given (possibly merged) event ids."""
        if self.events is None or not len(self.events) or "company" not in self.events:
            return []
        comp = dict(zip(self.events["event_id"], self.events["company"]))
        return [comp[e] for e in event_ids if e in comp]
