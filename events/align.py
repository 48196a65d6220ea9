"""Event windows and the earliest legal entry, in session offsets from day 0.

Offsets count sessions of the trading calendar passed in (normally the price
data's sessions, which equal XNYS): offset 0 is day 0, -1 the session before,
+1 the session after.

Earliest legal entry (DESIGN.md):

* unscheduled ``bmo`` / ``amc`` (and weekend/holiday dates): the **open** of day 0;
* unscheduled ``intraday`` / ``unknown``: the **close** of day 0;
* scheduled: the open of the session on which the date became public
  (``public_since``), or, when the file does not say, ``notice_sessions``
  sessions before day 0 (a stated assumption, recorded in the output).

Fills happen at a session's open (the default: a decision at the close of
session s-1 executes at the open of s) or, when a config says so in so many
words, at a session's close. So an entry "at the close of day 0" is, for an
open-filling strategy, the open of day +1.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from events.errors import InputError, Problem

FILLS = ("open", "close")


@dataclass(frozen=True)
class Window:
    """Session offsets ``[pre, post]`` around day 0 (``pre <= 0 <= post`` not required)."""

    pre: int
    post: int

    def __post_init__(self):
        if self.pre > self.post:
            raise InputError(Problem(f"window [{self.pre}, {self.post}] is empty", field="window", expected="pre <= post, e.g. -1:1"))

    @classmethod
    def parse(cls, text: str) -> "Window":
        """``"-1:1"`` -> Window(-1, 1)."""
        try:
            a, b = str(text).split(":")
            return cls(int(a), int(b))
        except ValueError:
            raise InputError(Problem(f"bad window '{text}'", field="window", expected="two session offsets 'pre:post', e.g. -1:1 or 0:5"))

    def __str__(self) -> str:
        return f"{self.pre}:{self.post}"


def _positions(sessions: pd.DatetimeIndex, when: pd.Series) -> np.ndarray:
    """Index in ``sessions`` of each timestamp (-1 if not a session in range)."""
    pos = sessions.get_indexer(pd.DatetimeIndex(when))
    return pos


def align(frame: pd.DataFrame, sessions: pd.DatetimeIndex, window: Window = Window(-1, 1), notice_sessions: int = 5) -> pd.DataFrame:
    """Add session-aligned columns to an event frame (needs ``day0``, ``time``, ``scheduled``).

    Added columns:

    * ``day0_pos``: position of day 0 in ``sessions`` (-1 when outside the data);
    * ``window_start``, ``window_end``: sessions at ``window.pre`` / ``window.post``
      (NaT when the window runs off the data); ``window_complete``;
    * ``earliest_entry``: session of the earliest legal entry,
      ``earliest_entry_fill``: ``open`` or ``close`` of that session,
      ``earliest_entry_offset``: its offset from day 0;
    * ``public_assumed``: true where a scheduled event's public date was assumed.
    """
    f = frame.copy()
    n = len(sessions)
    pos = _positions(sessions, f["day0"])
    f["day0_pos"] = pos
    inside = pos >= 0
    ws, we = pos + window.pre, pos + window.post
    ok_s = inside & (ws >= 0) & (ws < n)
    ok_e = inside & (we >= 0) & (we < n)
    f["window_start"] = pd.NaT
    f["window_end"] = pd.NaT
    f.loc[ok_s, "window_start"] = sessions[ws[ok_s]]
    f.loc[ok_e, "window_end"] = sessions[we[ok_e]]
    f["window_complete"] = ok_s & ok_e
    sched = f["scheduled"].astype(bool).to_numpy()
    late = np.isin(f["time"].to_numpy(), ["intraday", "unknown"])
    offset = np.where(sched, -notice_sessions, 0)
    public_assumed = sched.copy()
    if "public_since" in f:
        ps = pd.DatetimeIndex(f["public_since"])
        has = sched & ~ps.isna()
        if has.any():
            ppos = sessions.searchsorted(ps[has], side="left")
            offset[has] = np.minimum(ppos - pos[has], 0)
            public_assumed[has] = False
    fill = np.where(~sched & late, "close", "open")
    f["earliest_entry_offset"] = offset
    f["earliest_entry_fill"] = fill
    ep = pos + offset
    ok = inside & (ep >= 0) & (ep < n)
    f["earliest_entry"] = pd.NaT
    f.loc[ok, "earliest_entry"] = sessions[ep[ok]]
    f["public_assumed"] = public_assumed
    return f


def is_legal_entry(offset: int, fill: str, earliest_offset: int, earliest_fill: str) -> bool:
    """Whether an entry at ``(offset, fill)`` is at or after the earliest legal ``(offset, fill)``.

    Within one session the open comes before the close.
    """
    return (offset, FILLS.index(fill)) >= (earliest_offset, FILLS.index(earliest_fill))


def first_legal_entry(earliest_offset: int, earliest_fill: str, fill: str) -> int:
    """Earliest offset at which a strategy that fills at ``fill`` may enter."""
    if fill == "open" and earliest_fill == "close":
        return earliest_offset + 1
    return earliest_offset


def unknown_time_windows(frame: pd.DataFrame, window: Window) -> list[str]:
    """Ids of ``unknown``-time events for which ``window`` does not include day +1."""
    if window.post >= 1:
        return []
    return list(frame.loc[frame["time"] == "unknown", "event_id"])
