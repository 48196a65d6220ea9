"""Backtrader strategies that trade AMZN against a peer basket around events.

``STRATEGIES`` maps the config name of each strategy to its class.
"""
from strategies.benchmarks import BuyAndHold
from strategies.event_window import EventWindow
from strategies.post_earnings import PostEarningsSignal
from strategies.pre_earnings import PreEarningsRunup

STRATEGIES = {
    "event_window": EventWindow,
    "post_earnings_signal": PostEarningsSignal,
    "pre_earnings_runup": PreEarningsRunup,
    "buy_and_hold": BuyAndHold,
}
