"""Building blocks on a quarterly panel: trailing sums and changes that say why they are missing.

Every function takes columns of a panel from
:func:`signals.fundamentals.as_of_panel` (index: consecutive calendar
quarters) and returns a :class:`Derived`: values plus, for each undefined
quarter, a human-readable reason naming the missing inputs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class Derived:
    """A quarterly series and the reason for each missing value ('' where defined)."""

    value: pd.Series
    reason: pd.Series

    @classmethod
    def of(cls, value: pd.Series, reason: pd.Series | None = None) -> "Derived":
        if reason is None:
            reason = pd.Series("", index=value.index)
        reason = reason.where(value.isna(), "")
        return cls(value, reason)


def _col(panel: pd.DataFrame, name: str) -> pd.Series:
    return panel[name] if name in panel else pd.Series(np.nan, index=panel.index)


def labels(panel: pd.DataFrame) -> list[str]:
    """Quarter labels of the panel rows (the file's label, else the calendar quarter)."""
    q = panel["quarter"].tolist() if "quarter" in panel else [None] * len(panel)
    return [x if isinstance(x, str) else str(p) for x, p in zip(q, panel.index)]


def raw(panel: pd.DataFrame, name: str) -> Derived:
    """A reported figure as it is; missing -> '<name> missing for <quarter>'."""
    v = _col(panel, name)
    reason = pd.Series([f"{name} missing for {lab}" for lab in labels(panel)], index=panel.index)
    return Derived.of(v, reason)


def ttm(panel: pd.DataFrame, name: str, stated: str | None = None) -> Derived:
    """Trailing-twelve-month sum: the quarter and the three before it, all reported.

    Where ``stated`` (a TTM figure given directly in a filing) exists it is
    used as is; otherwise all four quarterly values must exist.
    """
    q = _col(panel, name)
    s = q.rolling(4, min_periods=4).sum()
    labs = labels(panel)
    isna = q.isna().tolist()
    reasons = []
    for i in range(len(labs)):
        lo = max(0, i - 3)
        miss = [labs[j] for j in range(lo, i + 1) if isna[j]]
        if i < 3:
            miss = [f"quarters before {labs[0]}"] + miss
        reasons.append(f"{name} missing for {', '.join(miss)}" if miss else "")
    reason = pd.Series(reasons, index=panel.index)
    if stated is not None:
        st = _col(panel, stated)
        s = st.where(st.notna(), s)
    return Derived.of(s, reason)


def ratio(num: Derived, den: Derived) -> Derived:
    """``num / den``; undefined where either is, or where ``den <= 0``."""
    den_v = den.value.where(den.value > 0)
    v = num.value / den_v
    r = num.reason.where(num.reason != "", den.reason)
    r = r.where(r != "", pd.Series(np.where(den.value <= 0, "denominator not positive", ""), index=v.index))
    return Derived.of(v, r)


def diff(x: Derived, lag: int = 1, what: str = "previous quarter") -> Derived:
    """``x[q] - x[q-lag]`` (same units as x)."""
    prev = x.value.shift(lag)
    v = x.value - prev
    r = x.reason.where(x.reason != "", pd.Series(np.where(prev.isna(), f"no value for the {what}", ""), index=v.index))
    return Derived.of(v, r)


def growth(x: Derived, lag: int = 1, what: str = "previous quarter") -> Derived:
    """``x[q] / x[q-lag] - 1`` (a fraction)."""
    prev = x.value.shift(lag)
    v = x.value / prev.where(prev > 0) - 1
    r = x.reason.where(x.reason != "", pd.Series(np.where(prev.isna(), f"no value for the {what}", ""), index=v.index))
    return Derived.of(v, r)


def break_at(x: Derived, periods_affected: pd.Series, why: str) -> Derived:
    """Blank out quarters where ``periods_affected`` is true, with reason ``why``."""
    v = x.value.where(~periods_affected)
    r = x.reason.where(~periods_affected, why)
    return Derived.of(v, r)
