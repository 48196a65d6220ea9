"""NYSE sessions (exchange_calendars XNYS) and the reaction-session rule.

Conventions (DESIGN.md, "Time"):

* ``bmo`` (before 09:30 ET) and ``intraday``: day 0 is that date's session.
* ``amc`` (after 16:00 ET): day 0 is the next session.
* A weekend or holiday date: day 0 is the next session, whatever the time.
* ``unknown``: day 0 is that date's session, and every window for such an
  event must include day +1 (the news may have come after the close).
"""
from __future__ import annotations

import warnings
from functools import lru_cache

import exchange_calendars as xcals
import pandas as pd

TIMES = ("bmo", "intraday", "amc", "unknown")
CALENDAR_START = "2000-01-03"


@lru_cache(maxsize=1)
def xnys() -> xcals.ExchangeCalendar:
    """The XNYS calendar from 2000 to one year past today (exchange_calendars' default end)."""
    with warnings.catch_warnings():
        # exchange_calendars 4.13 reads Series.values on tz-aware data while it
        # builds the calendar; pandas 3.1 deprecates that. Not ours to fix.
        warnings.simplefilter("ignore", getattr(pd.errors, "Pandas4Warning", FutureWarning))
        return xcals.get_calendar("XNYS", start=CALENDAR_START)


def sessions_between(start, end) -> pd.DatetimeIndex:
    """XNYS sessions from ``start`` to ``end`` inclusive (tz-naive midnight timestamps)."""
    return xnys().sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))


def reaction_session(date, time: str) -> pd.Timestamp:
    """Day 0: the first NYSE session in which the market could trade on the news.

    ``date`` is the US Eastern calendar date of the announcement.
    """
    if time not in TIMES:
        raise ValueError(f"unknown event time {time!r}; expected one of {TIMES}")
    cal = xnys()
    d = pd.Timestamp(date).normalize()
    if time == "amc" and cal.is_session(d):
        return cal.next_session(d)
    return cal.date_to_session(d, direction="next")


def reaction_sessions(dates: pd.Series, times: pd.Series) -> pd.Series:
    """Vectorised :func:`reaction_session` over aligned date and time series.

    Dates past the end of the exchange calendar give NaT (the caller reports them).
    """
    cal = xnys()
    sessions = cal.sessions
    d = pd.DatetimeIndex(pd.to_datetime(dates)).normalize()
    # first session on or after the date
    pos = sessions.searchsorted(d, side="left")
    on_session = (pos < len(sessions)) & (sessions[pos.clip(max=len(sessions) - 1)] == d)
    amc = pd.Series(times).to_numpy() == "amc"
    pos = pos + (on_session & amc).astype(int)
    beyond = pos >= len(sessions)
    out = pd.Series(pd.NaT, index=dates.index, dtype="datetime64[ns]")
    out[~beyond] = sessions[pos[~beyond]]
    return out
