"""How many events a run considered, selected, could trade and traded: defined once.

Every place that shows a count (the CLI, summary.json, the tear sheet and its
figures) takes it from :func:`event_counts`, so the same word always means the
same number:

* ``calendar``: events in the loaded calendar files (one row each in events.csv);
* ``selected``: calendar events that pass the config's filters and fall in the
  run's dates (raw events);
* ``events``: the event *units* after the cluster rule (same-session events
  merged into one with ``clusters: merge``): what a strategy plans on, and
  summary.json's ``n_events``;
* ``tradable``: units with a legal entry and exit inside the data;
* ``traded``: units that are part of a position episode;
* ``trades``: position episodes that were filled (rows of trades.csv).
"""
from __future__ import annotations

import pandas as pd

COUNT_KEYS = ("calendar", "selected", "events", "tradable", "traded", "trades")


def event_counts(events_table: pd.DataFrame, units: pd.DataFrame, plans: pd.DataFrame | None, traded_units: set, trades: pd.DataFrame) -> dict:
    """The counts of the module docstring.

    ``events_table``: events.csv (column ``selected``); ``units``: the
    cluster-resolved events the strategy planned on (``event_id``); ``plans``:
    per unit ``event_id, entry`` (None for strategies that do not trade
    events); ``traded_units``: ids of units in an episode; ``trades``: trades.csv.
    """
    ids = set(units["event_id"]) if len(units) else set()
    tradable = 0
    if plans is not None and len(plans):
        tradable = int(plans.loc[plans["event_id"].isin(ids), "entry"].notna().sum())
    return {
        "calendar": int(len(events_table)),
        "selected": int(events_table["selected"].astype(bool).sum()) if len(events_table) else 0,
        "events": int(len(ids)),
        "tradable": tradable,
        "traded": int(len(ids & set(traded_units))),
        "trades": int(len(trades)),
    }


def describe(counts: dict) -> str:
    """One line for people: '79 in the calendar, 48 selected, 45 after merging same-session news, ...'."""
    return (f"{counts['calendar']} in the calendar, {counts['selected']} selected, {counts['events']} after the cluster rule, "
            f"{counts['tradable']} tradable, {counts['traded']} traded in {counts['trades']} trades")


def why_nothing_traded(events_table: pd.DataFrame, counts: dict) -> str:
    """A sentence for a run with no trade: which step left nothing, with the
    most common reasons of events.csv ('' when something was traded)."""
    if counts["trades"]:
        return ""
    if not counts["selected"]:
        return "nothing was traded: no event passed the config's filters and dates"
    if not counts["tradable"] and counts["events"]:
        sel = events_table[events_table["selected"].astype(bool)]
        top = sel["reason"].str.replace(r"^as part of [^:]+: ", "", regex=True).value_counts().head(3)
        return "nothing was traded: no event had a legal entry and exit inside the data (" + "; ".join(f"{n} x {r}" for r, n in top.items()) + ")"
    return "nothing was traded: every tradable event was left out by the strategy's rules (see events.csv 'reason')"
