"""Capex guidance as a categorical signal, from the event calendar.

Each ``capex_guidance`` event of a company becomes one observation on its
reaction session (day 0) with the headline amount (USD bn) and its direction
against that company's previous guidance event: ``raise``, ``cut``, ``hold``
(within ``hold_band``), ``first`` (no earlier one) or ``n/a`` (no amount).
Caveat from the calendar: amounts mix horizons (a year's guide, or for
Microsoft one quarter's capex), so only same-company comparisons are made.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def capex_guidance_signal(events: pd.DataFrame, ticker: str = "AMZN", hold_band: float = 0.02) -> pd.DataFrame:
    """Rows: ``day0, event_id, amount_usd_bn, prev_amount, change, direction``.

    ``events`` is an event frame with ``day0`` (see :func:`events.loader.load_calendar`);
    ``change`` is the fractional change of the amount.
    """
    g = events[(events["category"] == "capex_guidance") & (events["company"] == ticker)].sort_values("day0")
    amt = g["amount_usd_bn"].astype(float)
    prev = amt.where(amt.notna()).ffill().shift(1)
    change = amt / prev - 1
    direction = np.select(
        [amt.isna(), prev.isna(), change > hold_band, change < -hold_band],
        ["n/a", "first", "raise", "cut"],
        default="hold",
    )
    return pd.DataFrame(
        {"day0": g["day0"].to_numpy(), "event_id": g["event_id"].to_numpy(), "amount_usd_bn": amt.to_numpy(),
         "prev_amount": prev.to_numpy(), "change": change.to_numpy(), "direction": direction}
    )
