"""Backlog and remaining performance obligations (RPO).

For Amazon, the AWS backlog given on calls and the over-one-year RPO of the
filings are the same measure wherever both exist; :func:`backlog_level` uses
the backlog figure and falls back to RPO. For peers it is their own RPO
measure (Microsoft commercial RPO, Google Cloud backlog, Oracle total RPO).
Levels are USD bn; growth rates are fractions.
"""
from __future__ import annotations

import pandas as pd

from signals.quarterly import Derived, diff, growth, labels, ratio, raw, ttm


def backlog_level(panel) -> Derived:
    """Backlog (USD bn): ``backlog`` where reported, else ``rpo``."""
    b = raw(panel, "backlog")
    r = raw(panel, "rpo")
    v = b.value.where(b.value.notna(), r.value)
    names = "backlog and rpo"
    reason = pd.Series([f"{names} missing for {q}" for q in labels(panel)], index=panel.index)
    return Derived.of(v, reason)


def backlog_growth_qoq(panel) -> Derived:
    """Backlog growth over the previous quarter (fraction)."""
    return growth(backlog_level(panel), 1, "previous quarter's backlog")


def backlog_growth_yoy(panel) -> Derived:
    """Backlog growth over the same quarter a year earlier (fraction)."""
    return growth(backlog_level(panel), 4, "backlog four quarters earlier")


def backlog_acceleration(panel) -> Derived:
    """Change of year-on-year backlog growth from the previous quarter (fraction points)."""
    return diff(backlog_growth_yoy(panel), 1, "previous quarter's YoY backlog growth")


def backlog_coverage(panel) -> Derived:
    """Backlog / cloud (AWS) revenue TTM: years of current cloud sales already contracted."""
    return ratio(backlog_level(panel), ttm(panel, "cloud_revenue"))
