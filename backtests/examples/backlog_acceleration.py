"""A backlog-acceleration filter on AMZN's earnings: long only when backlog growth speeds up.

    python -m backtests.examples.backlog_acceleration

For a Backtrader user: fundamentals are not a data feed you index with ``[-1]``. ``view.signals`` holds the
target's signal rows that were public at the decision (each row is usable from the reaction session of the release
or filing that made it public, never from its quarter end), and ``view.signal(name, quarter)`` reads one quarter,
refusing (LookAheadError, exit 2) a quarter whose figures were not out yet.

The rule, at each AMZN earnings release (decided at the open of its reaction session, day 0): take the quarter just
reported, read its quarter-on-quarter backlog growth and the previous quarter's, both as known at the decision; go
long AMZN / short the peer basket for ``exit_offset`` sessions when growth rose by more than ``min_accel``, stay flat
otherwise (events.csv says why).
"""
from __future__ import annotations

import math

import pandas as pd

from backtests.config import load_config
from backtests.runner import run
from strategies import Decision, register_strategy


def acceleration(known: pd.DataFrame, measure: str = "backlog_growth_qoq") -> tuple[str, float, float]:
    """``(quarter, growth of that quarter, growth of the quarter before)`` from signal rows ``known`` (the rows
    available at a decision, in the order they became available): the last row's quarter is the one just
    reported; each quarter's value is the last non-missing one among its available rows. NaN where it has none."""
    last = known.groupby("quarter", sort=False)[measure].last()
    quarter = str(known["quarter"].iloc[-1])
    prev = str(pd.Period(quarter, freq="Q") - 1)
    return quarter, float(last.get(quarter, math.nan)), float(last.get(prev, math.nan))


@register_strategy("backlog_acceleration")
class BacklogAcceleration:
    params = {"exit_offset": 5, "min_accel": 0.0}
    categories = ("earnings",)   # asked about earnings events only...
    own_company = True           # ...of the target itself (AMZN's own releases)

    def decide(self, view, event):
        known = view.signals     # only rows with `available` <= the decision session
        if known.empty:
            return Decision(0, note="no signal public yet")
        quarter, now, before = acceleration(known)
        if math.isnan(now) or math.isnan(before):
            return Decision(0, note=f"{quarter}: backlog growth of it or of the quarter before not public")
        accel = now - before
        if accel > self.p.min_accel:
            return Decision(+1, note=f"{quarter}: backlog growth {before:+.3f} -> {now:+.3f}")
        return Decision(0, note=f"{quarter}: backlog growth did not accelerate ({before:+.3f} -> {now:+.3f})")


def example_config(start: str = "2019-01-02", end: str | None = None, placebo_n: int = 1000) -> dict:
    """AMZN's earnings releases only (the bundled earnings calendar), this strategy."""
    cfg = load_config("earnings_only")
    cfg["name"] = "backlog_acceleration"
    cfg["strategy"] = {"kind": "backlog_acceleration", "params": {"exit_offset": 5, "min_accel": 0.0}}
    cfg["dates"] = {"start": start, "end": end}
    cfg["placebo"]["n"] = placebo_n
    return cfg


def run_example(**kw):
    return run(example_config(**kw))


def main() -> None:
    r = run_example()
    s = r.summary
    print(f"backlog_acceleration: total return {s['total_return']:.2%}, {s['n_trades']:.0f} trades, placebo p {s['placebo_p']:.3f}")
    print(r.events.loc[r.events["selected"], ["event_id", "reaction_session", "traded", "reason"]].to_string(index=False))


if __name__ == "__main__":
    main()
