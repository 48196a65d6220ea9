"""Per-event returns over the window a trade could hold: entry fill to exit fill.

A close-to-close abnormal return on day 0 includes the move from the previous
close to the first fill a strategy could make after the news (the overnight
gap of a before-open or after-close announcement, or the rest of day 0 for
intraday news). A strategy cannot earn that part, so it is shown apart:

* ``*_gap``: from the close of the session before day 0 to the event's entry
  fill (NaN for entries before day 0, i.e. pre-event entries on scheduled events);
* ``*_traded``: from the entry fill to the exit fill (the event's own plan).

Prices are total-return (dividends included); a fill is at the session's
open (``fill='open'``) or close (``fill='close'``), without costs. The basket is
the one the trade held from the event's entry (for an event that extended an
open position, the episode's basket then, which may also leave out earlier
announcers), else the event's own hedge basket
(:func:`strategies.hedge.hedge_basket`: the peers minus the target and the
announcing companies); equal weight, each peer compounded over the window (a
buy-and-hold basket). Returns are fractions.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from strategies.hedge import hedge_basket

COLUMNS = ["event_id", "category", "company", "reaction_session", "entry_session", "exit_session", "fill", "basket",
           "amzn_gap", "basket_gap", "excess_gap", "amzn_traded", "basket_traded", "excess_traded", "traded"]


def traded_window_returns(plans: pd.DataFrame | None, prices: dict[str, pd.DataFrame], sessions: pd.DatetimeIndex, fill: str,
                          target: str, peers: list[str], traded_ids: set, held_baskets: dict | None = None) -> pd.DataFrame:
    """One row per planned event unit with an entry (see the module docstring).

    ``plans``: ``event_id, category, company, day0, entry, exit`` (sessions);
    ``prices``: ticker -> total-return OHLC frame indexed by session;
    ``held_baskets``: event id -> the hedge basket the trade actually held
    from that event's entry (:func:`held_baskets`); other events use their own.
    """
    held_baskets = held_baskets or {}
    rows = []
    if plans is None or not len(plans):
        return pd.DataFrame(columns=COLUMNS)
    col = "open" if fill == "open" else "close"
    for _, p in plans[plans["entry"].notna()].iterrows():
        basket = held_baskets.get(p["event_id"]) or hedge_basket(peers, target, [p["company"]])
        d0 = sessions.get_loc(p["day0"])
        entry, exit_ = p["entry"], p["exit"]

        def ret(t, a, a_col, b, b_col):
            return prices[t].at[b, b_col] / prices[t].at[a, a_col] - 1

        def both(a, a_col, b, b_col):
            amzn = ret(target, a, a_col, b, b_col)
            bask = float(np.mean([ret(x, a, a_col, b, b_col) for x in basket]))
            return amzn, bask, amzn - bask

        gap = (np.nan,) * 3
        if entry >= p["day0"] and d0 >= 1:
            gap = both(sessions[d0 - 1], "close", entry, col)
        traded = both(entry, col, exit_, col)
        rows.append([p["event_id"], p["category"], p["company"], p["day0"].date().isoformat(), entry.date().isoformat(), exit_.date().isoformat(),
                     fill, ";".join(basket), *gap, *traded, p["event_id"] in traded_ids])
    return pd.DataFrame(rows, columns=COLUMNS)


def held_baskets(episodes) -> dict[str, list[str]]:
    """Event id -> the hedge legs (the side opposite the episode's) of the
    segment in force at the fill where the event joined its episode."""
    out = {}
    for e in episodes:
        segs = e.segments()
        for when, eid in e.joined:
            w = [w for start, w in segs if start <= when][-1]
            out[eid] = e.hedge_legs(w)
    return out
