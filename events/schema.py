"""Event-file schema: what a calendar file must hold, and how it is checked.

A user file has the bundled ``ai_infra_events.csv`` columns::

    event_id,date,time,scheduled,company,tickers_affected,category,headline,
    amount_usd_bn,source_url,confidence[,public_since]

* ``event_id``: unique across every file loaded together.
* ``date``: US Eastern calendar date of the first public report (ISO).
* ``time``: ``bmo`` | ``intraday`` | ``amc`` | ``unknown``.
* ``scheduled``: ``true`` when the date was public beforehand (earnings,
  keynotes). Only scheduled events may be entered before day 0.
* ``tickers_affected``: ``;``-separated US tickers, at least one.
* ``category``: one of :data:`CATEGORIES`.
* ``amount_usd_bn``: headline amount in USD billions, blank if none.
* ``confidence``: ``high`` | ``medium`` | ``low``.
* ``public_since`` (optional): the date a scheduled event's date became
  public; without it a scheduled event is assumed public
  ``notice_sessions`` sessions before day 0 (see :mod:`events.align`).

Earnings files (``ticker,fiscal_quarter,date,time,source_url``) become events
of category ``earnings``, scheduled, with id ``earn_<TICKER>_<QUARTER>``.
"""
from __future__ import annotations

import re

from events.calendar import TIMES
from events.tabular import Column

CATEGORIES = (
    "earnings",
    "capex_guidance",
    "ai_investment",
    "ai_partnership",
    "capacity_power",
    "custom_silicon",
    "product_launch",
    "regulatory",
    "other",
)
CONFIDENCE = ("high", "medium", "low")
TICKER_RE = re.compile(r"^[A-Z][A-Z0-9.\-]{0,9}$")

EVENT_COLUMNS = {
    "event_id": Column("str"),
    "date": Column("date"),
    "time": Column("choice", choices=TIMES),
    "scheduled": Column("bool"),
    "company": Column("str"),
    "tickers_affected": Column("str"),
    "category": Column("choice", choices=CATEGORIES),
    "headline": Column("str"),
    "amount_usd_bn": Column("float", nonempty=False, nonnegative=True),
    "source_url": Column("str", nonempty=False),
    "confidence": Column("choice", choices=CONFIDENCE),
    "public_since": Column("date", required=False, nonempty=False),
}

EARNINGS_COLUMNS = {
    "ticker": Column("str"),
    "fiscal_quarter": Column("str"),
    "date": Column("date"),
    "time": Column("choice", choices=TIMES),
    "source_url": Column("str", nonempty=False),
}

#: Columns of the combined event frame, in order.
FRAME_COLUMNS = [
    "event_id", "date", "time", "scheduled", "company", "tickers", "category",
    "headline", "amount_usd_bn", "source_url", "confidence", "public_since", "origin",
]
