"""Category-specific holding periods: custom-silicon news held longer than the rest.

    python -m backtests.examples.category_holding

For a Backtrader user: instead of counting bars in ``next()`` to close a position, a decision names its exit, in
sessions from the event's day 0 (``Decision(exit=...)``) or from the entry fill (``Decision(hold=...)``). The framework
places the fills (at the open of that session by default), resolves overlapping positions by the ``overlap`` rule
(``extend``: a later event on the same side extends the open position) and hedges with the peer basket.

The rule: long AMZN / short the peers after every selected event; exit at day ``exit_offset`` (default 2), or at day
``silicon_exit`` (default 10) for custom-silicon news (Trainium, Graviton...), whose effect may take longer to be priced.
"""
from __future__ import annotations

from backtests.config import load_config
from backtests.runner import run
from strategies import Decision, register_strategy


@register_strategy("category_holding")
class CategoryHolding:
    params = {"exit_offset": 2, "silicon_exit": 10, "overlap": "extend"}

    def check(self, params):
        if params["silicon_exit"] < 1:
            return [("silicon_exit", f"silicon_exit {params['silicon_exit']} is not after day 0", "a whole number of sessions >= 1")]
        return []

    def decide(self, view, event):
        # a merged event unit (two news on one session) has categories joined by '+', e.g. 'ai_investment+custom_silicon'
        if "custom_silicon" in str(event["category"]).split("+"):
            return Decision(+1, exit=self.p.silicon_exit, note=f"custom silicon: held to day {self.p.silicon_exit}")
        return Decision(+1)  # no exit given: the strategy's exit_offset


def example_config(start: str = "2022-11-01", end: str | None = None, placebo_n: int = 1000) -> dict:
    cfg = load_config()
    cfg["name"] = "category_holding"
    cfg["strategy"] = {"kind": "category_holding", "params": {"exit_offset": 2, "silicon_exit": 10}}
    cfg["dates"] = {"start": start, "end": end}
    cfg["placebo"]["n"] = placebo_n
    return cfg


def run_example(**kw):
    return run(example_config(**kw))


def main() -> None:
    r = run_example()
    s = r.summary
    print(f"category_holding: total return {s['total_return']:.2%}, {s['n_trades']:.0f} trades, placebo p {s['placebo_p']:.3f}")
    ev = r.events[r.events["traded"]]
    print(ev[["event_id", "category", "reaction_session", "entry_session", "exit_session"]].to_string(index=False))


if __name__ == "__main__":
    main()
