"""Strategies that trade AMZN against a peer basket around events, and the API to write your own.

``STRATEGIES`` maps the config name of each strategy (``strategy.kind``) to the Backtrader class that plans and
executes it (:mod:`strategies.registry`; names of installed ``aibt.strategies`` entry points are loaded on first
lookup). A strategy is a plain class with ``decide(view, event) -> Decision | None`` (:mod:`strategies.api`) that
sees a point-in-time view (:mod:`strategies.view`), registered with ``@register_strategy("name")``.
"""
from strategies.api import Decision
from strategies.registry import STRATEGIES, engine_strategy, register_strategy, strategy_name
from strategies.view import LookAheadError, PointInTimeView

# the shipped strategies register themselves on import, in this order
from strategies.event_window import EventWindow  # noqa: E402
from strategies.post_earnings import PostEarningsSignal  # noqa: E402
from strategies.pre_earnings import PreEarningsRunup  # noqa: E402
from strategies.benchmarks import BuyAndHold  # noqa: E402

__all__ = ["STRATEGIES", "BuyAndHold", "Decision", "EventWindow", "LookAheadError", "PointInTimeView", "PostEarningsSignal",
           "PreEarningsRunup", "engine_strategy", "register_strategy", "strategy_name"]
