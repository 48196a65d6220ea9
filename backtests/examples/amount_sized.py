"""Amount-weighted sizing with a cap: bigger deals, bigger positions.

    python -m backtests.examples.amount_sized

For a Backtrader user: there is no ``next()`` here. aibt calls ``decide(view, event)`` once per event, at the fill
where the event can first be traded (its "decision point"), and the framework does what your ``next()`` would:
orders, fills at the next open, commission, slippage, borrow, the peer-basket hedge. ``view`` plays the part of
``self.datas``, cut at the decision: it cannot show a later bar or later news.

The rule: long AMZN / short the peer basket after each AI-infrastructure event, with a position of
``amount_usd_bn * per_bn`` times the configured gross (portfolio.gross), e.g. a $75B capex guide at 0.01 per $1B is
0.75 x gross. Events without an amount are not traded. The framework cuts a size above ``max_size`` to it, and says so
in events.csv.
"""
from __future__ import annotations

import math

from backtests.config import load_config
from backtests.runner import run
from strategies import Decision, register_strategy


@register_strategy("amount_sized")  # now usable as `strategy: {kind: amount_sized}` in YAML configs and sweep specs
class AmountSized:
    # Like Backtrader's `params`: names and defaults. A YAML value is checked against the default's type.
    # `exit_offset` and `max_size` are read by the framework too: the default exit (sessions from day 0) and the cap.
    params = {"exit_offset": 2, "per_bn": 0.01, "max_size": 1.5}

    def check(self, params):  # optional: more checks on a config's values (a config error, exit 2, names the key)
        if params["per_bn"] <= 0:
            return [("per_bn", f"per_bn {params['per_bn']} is not positive", "a size per $1B above 0, e.g. 0.01")]
        return []

    def decide(self, view, event):
        # `event` is the event's row (read-only): event["amount_usd_bn"] is the headline amount in USD billions
        amount = event["amount_usd_bn"]
        if amount is None or not math.isfinite(amount):
            return Decision(0, note="no amount to size by")  # side 0: not traded, the note says why
        # self.p is the resolved parameter set (self.p.per_bn, as in Backtrader); size is a multiple of the gross
        return Decision(side=+1, size=amount * self.p.per_bn, note=f"${amount:g}B")


def example_config(start: str = "2022-11-01", end: str | None = None, placebo_n: int = 1000) -> dict:
    """The bundled default config (AI-infrastructure events affecting AMZN) with this strategy."""
    cfg = load_config()
    cfg["name"] = "amount_sized"
    cfg["strategy"] = {"kind": "amount_sized", "params": {"exit_offset": 2, "per_bn": 0.01, "max_size": 1.5}}
    cfg["dates"] = {"start": start, "end": end}
    cfg["placebo"]["n"] = placebo_n
    return cfg


def run_example(**kw):
    return run(example_config(**kw))


def main() -> None:
    r = run_example()
    s = r.summary
    print(f"amount_sized: total return {s['total_return']:.2%}, Sharpe {s['sharpe']:.2f}, {s['n_trades']:.0f} trades, "
          f"placebo p {s['placebo_p']:.3f}")
    cols = ["event_ids", "entry", "exit", "gross_notional", "pnl_net"]
    print(r.trades[cols].to_string(index=False))
    print(r.events.loc[r.events["selected"], ["event_id", "reason"]].to_string(index=False))


if __name__ == "__main__":
    main()
