"""When each bundled fundamental became public, and from which document.

A value is usable only from the session after the document that first
published it became public (DESIGN.md, "Time"). Three kinds of document:

* the quarter's **earnings release** (the press release, 8-K exhibit 99.1, and
  the call held the same evening): usable from the release's reaction session.
  For Amazon the release carries the statements of operations, the segment
  results and the full cash-flow statement (three-month, year-to-date and
  twelve-month columns, with the supplemental lines such as finance-lease
  additions), so a figure read in the quarter's *own* 10-Q/10-K for one of
  those lines is the release's figure: Amazon files the 10-Q within a day of
  the release, with the same statements;
* the quarter's **10-Q/10-K** for what only the filing has (Amazon's RPO and
  its weighted-average remaining life, Note 1): usable from the filing date.
  Where the sources state it, that date (and time) is used; else an EDGAR
  ``filed`` date when a refresh supplies one (:func:`signals.edgar.filing_dates`);
  else the SEC deadline for large accelerated filers, :data:`TEN_Q_DAYS` days
  after the quarter end for a 10-Q and :data:`TEN_K_DAYS` after the fiscal
  year end for a 10-K, moved to the next business day when it falls on a
  weekend or federal holiday, and treated as filed after the close;
* a **later document** (a later 10-Q/10-K's prior-year column, a later
  release's comparative table, or arithmetic on such figures): a later
  vintage, usable only from that document's date, never from the original
  release's.

Per-field defaults are :data:`AMZN_RULES` and :data:`PEER_RULES`; the cells
that differ are listed, each with its reason, in the bundled
``signals/data/availability.csv`` (:data:`AVAILABILITY_COLUMNS`). A row with an
empty ``value`` dates the value in the fundamentals file; a row with a
``value`` adds another vintage of the same cell (for example the release's
rounded figure, quoted in the file's notes, before the exact figure that was
read in a later filing).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd
from pandas.tseries.holiday import USFederalHolidayCalendar

from events.calendar import TIMES, reaction_session
from events.errors import InputError, Problem
from events.tabular import Column, read_table

TEN_Q_DAYS = 40
TEN_K_DAYS = 60
SOURCES = ("release", "10-Q", "10-K")

AVAILABILITY_COLUMNS = {
    "ticker": Column("str"),
    "fiscal_quarter": Column("str"),
    "metric": Column("str"),
    "value": Column("float", nonempty=False),
    "source": Column("choice", choices=SOURCES),
    "source_quarter": Column("str", nonempty=False),
    "published": Column("date", nonempty=False),
    "time": Column("choice", nonempty=False, choices=TIMES),
    "basis": Column("str"),
}


@dataclass(frozen=True)
class Rule:
    """Where a field normally comes from: ``release`` or ``filing`` (the quarter's 10-Q/10-K)."""

    source: str
    text: str


_REL = "release"
_FIL = "filing"
AMZN_RULES = {
    "total_net_sales": Rule(_REL, "release (statement of operations)"),
    "operating_income": Rule(_REL, "release (statement of operations)"),
    "aws_net_sales": Rule(_REL, "release (segment results)"),
    "aws_operating_income": Rule(_REL, "release (segment results)"),
    "capex_purchases_of_pp_and_e": Rule(_REL, "release (cash-flow statement, three-month column)"),
    "capex_ttm": Rule(_REL, "release (cash-flow statement, twelve-month column)"),
    "pp_and_e_finance_leases": Rule(_REL, "release (cash-flow statement, supplemental lines)"),
    "aws_backlog": Rule(_REL, "release call (AWS backlog stated on the call the same evening)"),
    "aws_backlog_wavg_life_years": Rule(_FIL, "10-Q/10-K filing (Note 1; not in the release)"),
    "total_rpo": Rule(_FIL, "10-Q/10-K filing (Note 1; not in the release)"),
}
PEER_RULES = {
    "total_revenue": Rule(_REL, "release (income statement)"),
    "operating_income": Rule(_REL, "release (income statement)"),
    "cloud_revenue": Rule(_REL, "release or its call (Microsoft Cloud, Google Cloud, Oracle cloud)"),
    "cloud_operating_income": Rule(_REL, "release (segment results)"),
    "capex": Rule(_REL, "release (cash-flow statement) or its call"),
    "capex_incl_finance_leases": Rule(_REL, "release headline (Meta) or call (Microsoft)"),
    "rpo": Rule(_REL, "release or its call (Microsoft commercial RPO, Google Cloud backlog, Oracle RPO)"),
}
LAG_TEXT = (f"SEC deadline: {TEN_Q_DAYS} days after the quarter end (10-Q) or {TEN_K_DAYS} after the fiscal year end (10-K), "
            "next business day, treated as after the close")


def bundled_path() -> Path:
    return Path(str(resources.files("signals") / "data" / "availability.csv"))


def rules_for(ticker: str) -> dict[str, Rule]:
    """Per-field default rules of a ticker's fundamentals file."""
    return AMZN_RULES if ticker == "AMZN" else PEER_RULES


def is_annual(quarter: str) -> bool:
    """A fiscal fourth quarter (``2024Q4``, ``FY2025Q4``): its filing is the 10-K."""
    return str(quarter).endswith("Q4")


@lru_cache(maxsize=None)
def _federal_holidays(year: int) -> frozenset:
    """US federal holidays from a week before ``year`` to three weeks after it (the span a deadline can roll into)."""
    return frozenset(USFederalHolidayCalendar().holidays(pd.Timestamp(year - 1, 12, 24), pd.Timestamp(year + 1, 1, 21)))


def filing_deadline(period_end, annual: bool) -> pd.Timestamp:
    """Last day a large accelerated filer may file the 10-Q (``annual=False``) or
    10-K for a period ending ``period_end``: 40 or 60 days later, moved to the next
    day that is neither a weekend nor a US federal holiday (SEC Rule 0-3)."""
    d = pd.Timestamp(period_end).normalize() + pd.Timedelta(days=TEN_K_DAYS if annual else TEN_Q_DAYS)
    holidays = _federal_holidays(d.year)
    while d.weekday() >= 5 or d in holidays:
        d += pd.Timedelta(days=1)
    return d


def deadline_session(period_end, annual: bool) -> pd.Timestamp:
    """First session a filing due at :func:`filing_deadline` is surely public (filed after that day's close)."""
    return reaction_session(filing_deadline(period_end, annual), "amc")


def read_availability(path, quarters: dict[str, dict[str, pd.Timestamp]], cells: set[tuple[str, str, str]]) -> pd.DataFrame:
    """Read and check an availability file.

    ``quarters``: ticker -> {quarter label: period end} of the fundamentals;
    ``cells``: the (ticker, quarter, field) with a value in them. Every problem
    is reported with file, line and field. Returns the typed frame with a
    ``line`` column and ``source_quarter`` filled in.
    """
    table, problems = read_table(path, AVAILABILITY_COLUMNS, raise_errors=False)
    if table is None and [pr.message for pr in problems] == ["no data rows"]:  # a header alone: no exceptions
        return pd.DataFrame(columns=[*AVAILABILITY_COLUMNS, "line"])
    if problems:
        raise InputError(problems)
    f = table.frame.copy()
    f["ticker"] = f["ticker"].str.upper()
    f["source_quarter"] = f["source_quarter"].where(f["source_quarter"].notna(), f["fiscal_quarter"])
    f["line"] = [table.line_of(i) for i in range(len(f))]

    def bad(i, fld, msg, expected):
        problems.append(Problem(msg, path=table.path, line=int(f["line"].iloc[i]), field=fld, expected=expected))

    seen: dict[tuple, int] = {}
    for i, r in enumerate(f.itertuples(index=False)):
        if r.ticker not in quarters:
            bad(i, "ticker", f"unknown ticker '{r.ticker}'", "one of " + ", ".join(sorted(quarters)))
            continue
        qs = quarters[r.ticker]
        if r.fiscal_quarter not in qs:
            bad(i, "fiscal_quarter", f"no quarter '{r.fiscal_quarter}' for {r.ticker} in the fundamentals", "a quarter of that ticker's rows")
            continue
        fields = rules_for(r.ticker)
        if r.metric not in fields:
            bad(i, "metric", f"unknown field '{r.metric}' for {r.ticker}", "one of " + ", ".join(fields))
            continue
        if (r.ticker, r.fiscal_quarter, r.metric) not in cells:
            bad(i, "value", f"{r.ticker} {r.fiscal_quarter} {r.metric} is empty in the fundamentals: nothing to date",
                "rows only for cells that have a value (a vintage never stands in for a missing figure)")
            continue
        if pd.isna(r.value):
            key = (r.ticker, r.fiscal_quarter, r.metric)
            if key in seen:
                bad(i, "metric", f"second row dating the file's value of {' '.join(key)} (first on line {seen[key]})", "one such row per cell")
                continue
            seen[key] = int(f["line"].iloc[i])
        sq = r.source_quarter
        if sq not in qs:
            bad(i, "source_quarter", f"no quarter '{sq}' for {r.ticker} in the fundamentals", "a quarter of that ticker's rows, or empty for the same quarter")
            continue
        if qs[sq] < qs[r.fiscal_quarter]:
            bad(i, "source_quarter", f"document of {sq} ends before the quarter {r.fiscal_quarter} it reports", "the same or a later quarter")
            continue
        if r.source == "10-K" and not is_annual(sq):
            bad(i, "source", f"a 10-K for {sq}, which is not a fiscal fourth quarter", "10-Q for quarters 1-3, 10-K for quarter 4")
        elif r.source == "10-Q" and is_annual(sq):
            bad(i, "source", f"a 10-Q for {sq}, a fiscal fourth quarter", "10-K for quarter 4")
    if problems:
        raise InputError(problems)
    return f.reset_index(drop=True)


def _filed_lookup(filings: pd.DataFrame | None) -> dict[tuple[str, str, pd.Timestamp], pd.Timestamp]:
    if filings is None or not len(filings):
        return {}
    f = filings.sort_values("filed")
    out: dict = {}
    for tk, form, end, filed in zip(f["ticker"], f["form"], pd.to_datetime(f["period_end"]), pd.to_datetime(f["filed"])):
        out.setdefault((str(tk).upper(), form, pd.Timestamp(end).normalize()), pd.Timestamp(filed))
    return out


@dataclass(frozen=True)
class Dated:
    available: pd.Timestamp
    document: str
    published: pd.Timestamp
    rule: str


def date_document(ticker, source, source_quarter, quarter, published, time, period_ends, releases, filed) -> Dated:
    """The session a document became usable, its name and the rule that dated it.

    ``releases``: (ticker, quarter) -> (release date, reaction session); ``filed``: from :func:`_filed_lookup`.
    """
    later = "" if source_quarter == quarter else "later document, "
    doc = f"{ticker} {source} {source_quarter}"
    if isinstance(published, pd.Timestamp) and not pd.isna(published):
        t = time if isinstance(time, str) else "amc"
        return Dated(reaction_session(published, t), doc, published, f"{later}{'release' if source == 'release' else 'filing'}: date stated in the sources")
    if source == "release":
        date, session = releases.get((ticker, source_quarter), (pd.NaT, pd.NaT))
        return Dated(session, doc, date, f"{later}release: its reaction session" + ("" if not pd.isna(session) else " (release date unknown: never usable)"))
    end = period_ends[source_quarter]
    when = filed.get((ticker, source, end))
    if when is not None:
        return Dated(reaction_session(when, "amc"), doc, when, f"{later}filing: EDGAR filed date, treated as after the close")
    annual = source == "10-K"
    return Dated(deadline_session(end, annual), doc, filing_deadline(end, annual),
                 f"{later}filing: deadline lag ({TEN_K_DAYS if annual else TEN_Q_DAYS} days after the {'fiscal year' if annual else 'quarter'} end; date not in the sources)")


def date_cells(cells: pd.DataFrame, releases: pd.DataFrame, table: pd.DataFrame | None, filings: pd.DataFrame | None = None,
               path: str = "availability") -> pd.DataFrame:
    """One row per vintage: ``cells`` (``ticker, quarter, period_end, field, value``,
    the non-empty cells of the fundamentals files) dated by the default rules
    and the availability ``table``. Adds ``available, document, published, rule, basis``
    and ``listed`` (dated by a row of the availability table rather than by the field's rule)."""
    rel = {(t, q): (d, a) for t, q, d, a in zip(releases["ticker"], releases["quarter"], releases["release_date"], releases["available"])}
    ends: dict[str, dict[str, pd.Timestamp]] = {}
    for t, q, e in zip(releases["ticker"], releases["quarter"], releases["period_end"]):
        ends.setdefault(t, {})[q] = pd.Timestamp(e)
    filed = _filed_lookup(filings)
    rows_by_cell: dict[tuple, list] = {}
    if table is not None:
        for r in table.itertuples(index=False):
            rows_by_cell.setdefault((r.ticker, r.fiscal_quarter, r.metric), []).append(r)
    out = []
    problems = []
    for c in cells.itertuples(index=False):
        key = (c.ticker, c.quarter, c.field)
        exc = rows_by_cell.get(key, [])
        own = [r for r in exc if pd.isna(r.value)]
        vintages = []
        if own:
            r = own[0]
            vintages.append((c.value, r, date_document(c.ticker, r.source, r.source_quarter, c.quarter, r.published, r.time, ends[c.ticker], rel, filed), r.basis))
        else:  # the field's default rule
            rule = rules_for(c.ticker)[c.field]
            src = "release" if rule.source == _REL else ("10-K" if is_annual(c.quarter) else "10-Q")
            vintages.append((c.value, None, date_document(c.ticker, src, c.quarter, c.quarter, pd.NaT, None, ends[c.ticker], rel, filed), rule.text))
        for r in exc:
            if not pd.isna(r.value):
                vintages.append((r.value, r, date_document(c.ticker, r.source, r.source_quarter, c.quarter, r.published, r.time, ends[c.ticker], rel, filed), r.basis))
        sessions = [v[2].available for v in vintages if not pd.isna(v[2].available)]
        if len(set(sessions)) < len(sessions):
            line = next((int(v[1].line) for v in vintages if v[1] is not None), None)
            problems.append(Problem(f"two vintages of {' '.join(key)} become usable on the same session", path=path, line=line, field="published",
                                    expected="each vintage of a cell on its own session"))
        for value, r_, d, basis in vintages:
            out.append({"ticker": c.ticker, "quarter": c.quarter, "period_end": c.period_end, "field": c.field, "value": float(value),
                        "available": d.available, "document": d.document, "published": d.published, "rule": d.rule, "basis": basis,
                        "listed": r_ is not None})
    if problems:
        raise InputError(problems)
    cols = ["ticker", "quarter", "period_end", "field", "value", "available", "document", "published", "rule", "basis", "listed"]
    return pd.DataFrame(out, columns=cols)
