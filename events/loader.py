"""Loading event files into one validated calendar.

:func:`load_calendar` reads the bundled AI-infrastructure events and earnings
dates plus any user files, checks every row (reporting *all* problems with
file, line and field) and returns an :class:`EventCalendar`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd

from events.calendar import reaction_sessions
from events.errors import InputError, Problem
from events.schema import EARNINGS_COLUMNS, EVENT_COLUMNS, FRAME_COLUMNS, TICKER_RE
from events.tabular import Table, decode_text, read_table


def bundled_path(name: str) -> Path:
    return Path(str(resources.files("events") / "data" / name))


BUNDLED_EVENTS = "ai_infra_events.csv"
BUNDLED_EARNINGS = "earnings_dates.csv"


@dataclass
class EventCalendar:
    """Validated events, one row each, sorted by date then id.

    ``frame`` columns: see :data:`events.schema.FRAME_COLUMNS` plus ``day0``
    (the reaction session). ``fingerprints`` maps each file read to its sha256.
    """

    frame: pd.DataFrame
    fingerprints: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # how files that were not plain UTF-8 were read, one line each

    def __len__(self) -> int:
        return len(self.frame)

    def select(self, categories=None, tickers=None, since=None, until=None, min_confidence=None) -> "EventCalendar":
        """Events filtered by category, affected ticker, date range and confidence."""
        f = self.frame
        if categories:
            f = f[f["category"].isin(list(categories))]
        if tickers:
            want = {t.upper() for t in tickers}
            f = f[f["tickers"].map(lambda ts: bool(want & set(ts))).astype(bool)]
        if since is not None:
            f = f[f["date"] >= pd.Timestamp(since)]
        if until is not None:
            f = f[f["date"] <= pd.Timestamp(until)]
        if min_confidence:
            order = {"low": 0, "medium": 1, "high": 2}
            f = f[(f["confidence"].map(order) >= order[min_confidence]).astype(bool)]
        return EventCalendar(f.copy(), dict(self.fingerprints), list(self.notes))


def _split_tickers(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(t.strip().upper() for t in str(text).split(";") if t.strip())


def _event_rows(table: Table, problems: list[Problem]) -> pd.DataFrame:
    f = table.frame.copy()
    f["tickers"] = f["tickers_affected"].map(_split_tickers)
    for pos, (raw, ts) in enumerate(zip(f["tickers_affected"], f["tickers"])):
        if raw is not None and not ts:
            problems.append(Problem("empty ticker list", table.path, table.line_of(pos), "tickers_affected", "one or more tickers separated by ';'"))
        bad = [t for t in ts if not TICKER_RE.match(t)]
        if bad:
            problems.append(Problem(f"malformed ticker(s) {', '.join(bad)}", table.path, table.line_of(pos), "tickers_affected", "US tickers such as AMZN;MSFT"))
    if "public_since" in f:
        for pos, (ps, d, sched) in enumerate(zip(f["public_since"], f["date"], f["scheduled"])):
            if pd.isna(ps) or pd.isna(d):
                continue
            if pd.notna(sched) and not bool(sched):
                problems.append(Problem(f"public_since {ps.date()} on an unscheduled event", table.path, table.line_of(pos), "public_since",
                                        "an empty cell: an unscheduled event is public from its own date and time; public_since says "
                                        "since when a scheduled event's date was known"))
            elif ps > d:
                problems.append(Problem(f"public_since {ps.date()} is after the event's date {d.date()}", table.path, table.line_of(pos),
                                        "public_since", "the day the date was announced: on or before the event's date"))
    f["origin"] = table.path
    return f


_FISCAL_RE = __import__("re").compile(r"^FY(\d{4})Q([1-4])$")


def _earnings_rows(table: Table, problems: list[Problem]) -> pd.DataFrame:
    e = table.frame
    for pos, t in enumerate(e["ticker"]):
        if isinstance(t, str) and not TICKER_RE.match(t.strip().upper()):
            problems.append(Problem(f"malformed ticker {t!r}", table.path, table.line_of(pos), "ticker", "a US ticker such as AMZN"))
    for pos, (q, d) in enumerate(zip(e["fiscal_quarter"], e["date"])):
        m = _FISCAL_RE.match(str(q).strip()) if isinstance(q, str) else None
        if not m:
            problems.append(Problem(f"fiscal quarter {q!r} is not in the form FY2024Q4", table.path, table.line_of(pos), "fiscal_quarter",
                                    "FY, the fiscal year's four digits, Q and the quarter 1-4, e.g. FY2024Q4"))
        elif not pd.isna(d) and abs(int(m.group(1)) - d.year) > 1:
            problems.append(Problem(f"fiscal quarter {q} is reported on {d.date()}, more than a year from its fiscal year", table.path,
                                    table.line_of(pos), "fiscal_quarter", "a fiscal year within one year of the release date"))
    out = pd.DataFrame(
        {
            "event_id": "earn_" + e["ticker"].str.upper() + "_" + e["fiscal_quarter"],
            "date": e["date"],
            "time": e["time"],
            "scheduled": True,
            "company": e["ticker"].str.upper(),
            "tickers": e["ticker"].str.upper().map(lambda t: (t,)),
            "category": "earnings",
            "headline": e["ticker"].str.upper() + " " + e["fiscal_quarter"] + " earnings release",
            "amount_usd_bn": float("nan"),
            "source_url": e["source_url"],
            "confidence": "high",
            "public_since": pd.NaT,
            "fiscal_quarter": e["fiscal_quarter"],
            "origin": table.path,
        }
    )
    return out


#: how an event table given as text (a DataFrame from a script, via :func:`frame_to_csv`) is named in messages
INLINE_LABEL = "DataFrame '{name}'"


def frame_to_csv(frame: pd.DataFrame) -> str:
    """An event table built in a script as the CSV text of an event file, to be validated exactly as a file is.

    Columns as in an event file (:data:`events.schema.EVENT_COLUMNS`); ``tickers_affected`` may hold lists
    (joined with ';'), dates may be Timestamps or dates (written as YYYY-MM-DD), booleans are written
    true/false and missing values as empty cells. The index is dropped. Nothing is checked here: the
    reader checks every cell and names its row."""
    import datetime as dt

    if not isinstance(frame, pd.DataFrame):
        raise InputError(Problem(f"events must be a pandas DataFrame, got {type(frame).__name__}", field="events",
                                 expected="a DataFrame with the columns of an event file (event_id, date, time, ...)"))

    def cell(v):
        if isinstance(v, (list, tuple, set)):
            return ";".join(map(str, v))
        if isinstance(v, (bool,)) or type(v).__name__ == "bool_":
            return "true" if v else "false"
        if isinstance(v, (pd.Timestamp, dt.datetime)):  # a time of day or a time zone is kept, so the reader refuses it
            ts = pd.Timestamp(v)
            return ts.date().isoformat() if ts.tzinfo is None and ts == ts.normalize() else ts.isoformat()
        if isinstance(v, dt.date):
            return v.isoformat()
        if v is None or (isinstance(v, float) and v != v) or v is pd.NaT or v is pd.NA:
            return ""
        return v

    out = frame.reset_index(drop=True).astype(object).map(cell) if len(frame.columns) else frame
    return out.to_csv(index=False, lineterminator="\n")


def _inline_problem(p: Problem, label: str, name: str, rows: dict[int, int]) -> Problem:
    """A reader's problem in an inline table, named by DataFrame row (0-based; ``rows``: CSV line where each record
    starts -> its row, so a text with a line break does not shift the rows after it) instead of CSV line."""
    if p.path != label:
        return p
    where = INLINE_LABEL.format(name=name) + (", header" if p.line == 1 else f", row {rows[p.line]}" if p.line in rows else "")
    return Problem(p.message, path=where, line=None, field=p.field, expected=p.expected)


def load_calendar(
    paths: list[str | Path] | None = None,
    *,
    bundled: bool = True,
    earnings: bool = True,
    price_range: tuple | None = None,
    inline: dict[str, str] | None = None,
) -> EventCalendar:
    """Load and validate event files into one calendar.

    ``paths``: extra user files in the event schema (an earnings-shaped file
    is recognised by its ``fiscal_quarter`` column). ``bundled`` and
    ``earnings`` include the shipped files. ``inline``: name -> CSV text of an
    event table built in a script (:func:`frame_to_csv`), read by the same
    reader as a file; its problems name the DataFrame and row.
    ``price_range=(first, last)`` rejects events whose reaction session falls
    outside the price data. Raises :class:`InputError` listing every problem in
    every file.
    """
    files: list[tuple[Path | bytes, str, str | None]] = []
    if bundled:
        files.append((bundled_path(BUNDLED_EVENTS), "events", None))
    if earnings:
        files.append((bundled_path(BUNDLED_EARNINGS), "earnings", None))
    for p in paths or []:
        p = Path(p)
        kind = "earnings" if _looks_like_earnings(p) else "events"
        files.append((p, kind, None))
    for name, text in (inline or {}).items():
        files.append((text.encode("utf-8"), "events", name))
    if not files:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in FRAME_COLUMNS})
        empty["date"] = pd.Series(dtype="datetime64[ns]")
        empty["day0"] = pd.Series(dtype="datetime64[ns]")
        empty["scheduled"] = pd.Series(dtype=bool)
        return EventCalendar(empty, {})
    problems: list[Problem] = []
    frames, prints, notes = [], {}, []
    for path, kind, name in files:
        cols = EARNINGS_COLUMNS if kind == "earnings" else EVENT_COLUMNS
        label = str(path) if name is None else f"<inline {name}>"
        table, probs = read_table(path, cols, name=label, raise_errors=False)
        problems += probs
        if table is None:
            continue
        prints[label if name is None else f"inline:{name}"] = table.sha256
        notes += [f"{label}: {n}" for n in table.notes]
        rows = _earnings_rows(table, problems) if kind == "earnings" else _event_rows(table, problems)
        rows["_line"] = list(table.lines)
        frames.append(rows)
    if not frames:
        raise InputError(problems or [Problem("no event files given")])
    f = pd.concat(frames, ignore_index=True)
    # duplicate ids across and within files
    dup = f["event_id"].duplicated(keep="first") & f["event_id"].notna()
    for i in f.index[dup]:
        first = f.index[(f["event_id"] == f.at[i, "event_id"])][0]
        earnings = "fiscal_quarter" in f and isinstance(f.at[i, "fiscal_quarter"], str)  # an earnings file has no event_id column
        problems.append(
            Problem(
                (f"duplicate earnings release {f.at[i, 'company']} {f.at[i, 'fiscal_quarter']}" if earnings else
                 f"duplicate event_id '{f.at[i, 'event_id']}'") + f" (first at {f.at[first, 'origin']} line {f.at[first, '_line']})",
                f.at[i, "origin"], int(f.at[i, "_line"]), "fiscal_quarter" if earnings else "event_id",
                "one row per company and fiscal quarter" if earnings else "ids unique across all event files",
            )
        )
    ok = f["date"].notna() & f["time"].notna() & f["time"].isin(["bmo", "intraday", "amc", "unknown"])
    f["day0"] = pd.NaT
    if ok.any():
        f.loc[ok, "day0"] = reaction_sessions(f.loc[ok, "date"], f.loc[ok, "time"])
    beyond = ok & f["day0"].isna()
    for i in f.index[beyond]:
        problems.append(Problem(f"date {f.at[i, 'date'].date()} is past the end of the NYSE calendar", f.at[i, "origin"], int(f.at[i, "_line"]), "date", "a date within the exchange calendar"))
    if price_range is not None:
        lo, hi = (pd.Timestamp(x) for x in price_range)
        out = ok & ((f["day0"] < lo) | (f["day0"] > hi))
        for i in f.index[out]:
            problems.append(
                Problem(
                    f"reaction session {f.at[i, 'day0'].date()} of date {f.at[i, 'date'].date()} is outside the price data",
                    f.at[i, "origin"], int(f.at[i, "_line"]), "date", f"a date whose reaction session is within {lo.date()}..{hi.date()}",
                )
            )
    if problems:
        if inline:
            from events.errors import in_line_order

            problems = in_line_order(problems)  # in row order, before lines become rows
            from events.tabular import _record_lines

            for name, text in inline.items():
                try:
                    rows = {line: i for i, line in enumerate(_record_lines(text))}
                except Exception:  # noqa: BLE001 - unreadable text: its problems keep no row
                    rows = {}
                problems = [_inline_problem(p, f"<inline {name}>", name, rows) for p in problems]
        raise InputError(problems)
    cols = FRAME_COLUMNS + ["day0"] + (["fiscal_quarter"] if "fiscal_quarter" in f else [])
    f = f[cols].sort_values(["day0", "date", "event_id"], kind="stable").reset_index(drop=True)
    f["scheduled"] = f["scheduled"].astype(bool)
    return EventCalendar(f, prints, notes)


def _looks_like_earnings(path: Path) -> bool:
    """Whether a file's header is the earnings calendar's (decoded as :func:`events.tabular.decode_text` reads it;
    a file that cannot be read or decoded is taken for an event file, whose reader then says what is wrong)."""
    try:
        data = path.read_bytes()[:65536]
    except OSError:
        return False
    text, _, bad = decode_text(data, str(path))
    if bad is not None or text is None:
        return False
    header = text.splitlines()[0] if text else ""
    return "fiscal_quarter" in header and "event_id" not in header
