"""Events that share a reaction session or fall inside each other's windows.

Clusters are connected groups of events whose windows ``[day0+pre,
day0+post]`` (in session positions) overlap; a cluster whose events all share
day 0 is a *same-session* cluster. Strategies and statistics must choose what
to do with them explicitly (:data:`POLICIES`):

* ``keep``: every event stays as it is (overlaps are then the consumer's job);
* ``merge``: events sharing a reaction session become one event (ids and
  categories joined with ``+``; scheduled only if all were); window overlaps
  between different sessions are kept;
* ``first``: only the earliest event of each cluster stays;
* ``drop``: every event in a cluster of two or more is removed.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from events.errors import InputError, Problem

POLICIES = ("keep", "merge", "first", "drop")
#: How late in day 0 the news of each time arrives (amc of the previous day and bmo are before the open).
_LATENESS = {"amc": 0, "bmo": 0, "intraday": 1, "unknown": 2}


def find_clusters(aligned: pd.DataFrame, pre: int, post: int) -> pd.DataFrame:
    """Add ``cluster`` (int id), ``cluster_size`` and ``same_session`` (shares day 0 with another event).

    ``aligned`` needs ``day0_pos`` (see :func:`events.align.align`); events
    outside the data get their own singleton clusters.
    """
    f = aligned.copy()
    order = np.argsort(f["day0_pos"].to_numpy(), kind="stable")
    pos = f["day0_pos"].to_numpy()[order]
    cluster = np.empty(len(f), dtype=int)
    cid, reach = -1, None
    for i, p in zip(order, pos):
        start, end = p + pre, p + post
        if reach is None or p < 0 or start > reach:
            cid += 1
            reach = end
        else:
            reach = max(reach, end)
        cluster[i] = cid
    f["cluster"] = cluster
    f["cluster_size"] = f.groupby("cluster")["event_id"].transform("size")
    f["same_session"] = f.groupby("day0")["event_id"].transform("size") > 1
    return f


def apply_policy(clustered: pd.DataFrame, policy: str) -> pd.DataFrame:
    """Resolve clusters by ``policy`` (see module docstring); returns a new frame."""
    if policy not in POLICIES:
        raise InputError(Problem(f"unknown cluster policy '{policy}'", field="clusters", expected="one of " + ", ".join(POLICIES)))
    f = clustered
    if policy == "keep" or f.empty:
        return f.copy()
    if policy == "drop":
        return f[f["cluster_size"] == 1].copy()
    if policy == "first":
        return f.sort_values(["day0_pos", "event_id"]).groupby("cluster", sort=False).head(1).sort_index().copy()
    # merge same-session events
    rows = []
    for _, g in f.groupby("day0", sort=True):
        if len(g) == 1:
            rows.append(g.iloc[0].to_dict())
            continue
        r = g.iloc[0].to_dict()
        r["event_id"] = "+".join(g["event_id"])
        r["category"] = "+".join(sorted(set(g["category"])))
        r["headline"] = " | ".join(g["headline"])
        r["tickers"] = tuple(sorted(set().union(*g["tickers"])))
        r["company"] = "+".join(dict.fromkeys(g["company"]))  # every announcing company of the group
        r["scheduled"] = bool(g["scheduled"].all())
        # the most conservative earliest entry of the group
        if "earliest_entry_offset" in g:
            k = g.apply(lambda x: (x["earliest_entry_offset"], x["earliest_entry_fill"] == "close"), axis=1).idxmax()
            for c in ("earliest_entry_offset", "earliest_entry_fill", "earliest_entry"):
                r[c] = g.at[k, c]
        # the latest news of the group decides when it is tradable
        r["time"] = max(g["time"], key=lambda t: _LATENESS.get(t, 2))
        r["merged_from"] = len(g)
        rows.append(r)
    out = pd.DataFrame(rows)
    if "merged_from" in out:
        out["merged_from"] = out["merged_from"].fillna(1).astype(int)
    return out.reset_index(drop=True)


def cluster_report(clustered: pd.DataFrame) -> pd.DataFrame:
    """One row per cluster of two or more events: sessions, size, ids."""
    multi = clustered[clustered["cluster_size"] > 1]
    if multi.empty:
        return pd.DataFrame(columns=["cluster", "first_day0", "last_day0", "size", "same_session", "event_ids"])
    rep = multi.groupby("cluster").agg(
        first_day0=("day0", "min"),
        last_day0=("day0", "max"),
        size=("event_id", "size"),
        same_session=("same_session", "any"),
        event_ids=("event_id", lambda s: ", ".join(s)),
    ).reset_index()
    return rep
