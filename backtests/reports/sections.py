"""The section model of a tear sheet: sections, tables and figures, independent of any run.

A tear sheet is the run header (provenance) followed by one :class:`Section` per
id of :data:`SECTION_IDS`, always all of them and always in that order
(DESIGN.md: links and checks find them by id). A section holds an intro saying
what is measured, optional notes, and items in display order: :class:`Table`
(a DataFrame of raw values plus how to show each column) and :class:`Figure`
(a PNG). A section with nothing to show for a run says why in ``empty``.

Tables keep raw values: returns and rates as fractions (0.0123, not "1.23%"),
money in the run's currency, dates as ISO strings or Timestamps. Formatting is
only for display (:func:`format_cell`); :meth:`Table.csv_name` names the CSV
file the raw frame is written to (``tables/<section-id>__<table-name>.csv``).

Nothing here draws, reads or writes files.
"""
from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass, field
from typing import Callable, ClassVar, Iterable, Union

import numpy as np
import pandas as pd

#: DESIGN.md's section ids, in the order the sheet shows them
SECTION_IDS = ("metrics", "trade-stats", "costs", "exposure", "tails", "placebo", "event-study", "per-event", "in-out-sample", "drawdowns")

_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

#: a displayed cell: its text and CSS class ("" plain, "neg" negative, "sig" significant, "l" left-aligned, "wrap" long text)
Cell = dict

#: how a column is shown: a kind name (see :func:`format_cell`) or ``f(row, column) -> Cell``
Format = Union[str, Callable[[pd.Series, str], Cell]]

#: characters of 7 pt table text (cell padding included) across the printed A4 page, portrait and landscape
PRINT_CHARS = {"portrait": 130, "landscape": 190}

KINDS = ("pct", "pct1", "num", "num3", "g", "int", "p", "money", "text", "wrap", "date")


def _missing(v) -> bool:
    if v is None or v is pd.NaT:
        return True
    if isinstance(v, (float, np.floating)):
        return not math.isfinite(float(v))
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def format_cell(v, kind: str = "num") -> Cell:
    """One value as displayed. Kinds: ``pct`` a fraction as percent with 2 decimals (0.0123 -> "1.23%"),
    ``pct1`` the same with 1 decimal, ``num`` 2 decimals, ``num3`` 3 decimals, ``int`` whole number,
    ``g`` 4 significant digits (for
    coefficients of any scale), ``p`` a probability with 3 decimals, ``money`` thousands-separated whole units, ``date`` the
    ``YYYY-MM-DD`` of a date or timestamp, ``text`` and ``wrap`` text as is (left-aligned; ``wrap`` for
    long text). Missing or non-finite numbers show as "-". Negative numbers of the kinds
    pct/pct1/num/num3/g/money get the class ``neg``."""
    if kind in ("text", "wrap"):
        return {"text": "" if _missing(v) else str(v), "cls": "l" if kind == "text" else "wrap"}
    if _missing(v):
        return {"text": "-", "cls": ""}
    if kind == "date":
        return {"text": str(pd.Timestamp(v).date()) if not isinstance(v, str) else v, "cls": ""}
    if kind not in KINDS:
        raise ValueError(f"unknown format kind {kind!r}; one of {', '.join(KINDS)}")
    x = float(v) + 0.0  # -0.0 shows as 0
    neg = "neg" if x < 0 else ""
    if kind == "pct":
        return {"text": f"{x * 100:.2f}%", "cls": neg}
    if kind == "pct1":
        return {"text": f"{x * 100:.1f}%", "cls": neg}
    if kind == "int":
        return {"text": f"{int(round(x))}", "cls": ""}
    if kind == "p":
        return {"text": f"{x:.3f}", "cls": ""}
    if kind == "money":
        return {"text": f"{x:,.0f}", "cls": neg}
    if kind == "num3":
        return {"text": f"{x:.3f}", "cls": neg}
    if kind == "g":
        return {"text": f"{x:.4g}", "cls": neg}
    return {"text": f"{x:.2f}", "cls": neg}


@dataclass
class Table:
    """A table of a section.

    ``frame`` holds raw values, one row per displayed row; it is written whole
    to CSV. ``formats`` lists the columns shown, in order, each with a kind of
    :func:`format_cell` or a function of the row (for a cell that combines
    columns, e.g. "t (p; q)"); frame columns not listed are in the CSV only.
    Empty ``formats`` shows every column as ``num``. ``labels`` gives column
    headers (default: the column name). ``long`` tables scroll on screen and
    run across pages in print, their header repeated on each page; :attr:`wide`
    tables are printed on landscape pages.
    """

    name: str
    title: str
    frame: pd.DataFrame
    formats: dict[str, Format] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    note: str = ""
    long: bool = False
    kind: ClassVar[str] = "table"

    def __post_init__(self):
        if not _SLUG.match(self.name):
            raise ValueError(f"table name {self.name!r} must be lower-case words joined by '-'")
        unknown = [c for c in self.formats if c not in self.frame.columns]
        if unknown:
            raise ValueError(f"table {self.name!r}: formats name columns not in its frame: {unknown}")
        for c, f in self.formats.items():
            if isinstance(f, str) and f not in KINDS:
                raise ValueError(f"table {self.name!r}, column {c!r}: unknown format kind {f!r}")

    @property
    def shown(self) -> dict[str, Format]:
        return self.formats or {c: "num" for c in self.frame.columns}

    @property
    def wide(self) -> bool:
        """More than 8 columns shown: printed on landscape pages."""
        return len(self.shown) > 8

    def header(self) -> list[Cell]:
        """Header cells; text columns are left-aligned like their cells."""
        return [{"text": self.labels.get(c, c), "cls": "l" if f in ("text", "wrap") else ""} for c, f in self.shown.items()]

    def rows(self) -> list[list[Cell]]:
        """Displayed cells, row by row."""
        cols = self.shown
        out = []
        for _, row in self.frame.iterrows():
            out.append([f(row, c) if callable(f) else format_cell(row[c], f) for c, f in cols.items()])
        return out

    def col_widths(self, rows: list[list[Cell]] | None = None) -> list[float]:
        """Each shown column's share of the table width, in percent (summing to 100), for printing with a fixed
        table layout (which WeasyPrint lays out without measuring every cell; about a third faster on the default
        run's tables). A cheap version of the browser's automatic layout, in characters: each column gets at least
        its longest word (headers bold, counted 1.2 times; capped at 24), and the room left on the page
        (:data:`PRINT_CHARS`) is shared in proportion to how much more its longest text needs (capped at 48)."""
        rows = self.rows() if rows is None else rows
        budget = PRINT_CHARS["landscape" if self.wide else "portrait"]
        lo, hi = [], []
        for j, h in enumerate(self.header()):
            texts = [r[j]["text"] for r in rows]
            words = [len(w) for t in texts for w in t.split()] + [1.2 * len(w) for w in h["text"].split()] + [1]
            lo.append(min(24, max(words)) + 2)
            hi.append(max(lo[-1], min(48, max([len(t) for t in texts] + [0])) + 2))
        if sum(hi) <= budget:
            w = hi
        elif sum(lo) >= budget:
            w = lo
        else:
            share = (budget - sum(lo)) / (sum(hi) - sum(lo))
            w = [a + (b - a) * share for a, b in zip(lo, hi)]
        total = sum(w)
        return [round(100 * x / total, 3) for x in w]

    def csv_name(self, section_id: str) -> str:
        return f"{section_id}__{self.name}.csv"


@dataclass
class Figure:
    """A figure of a section: a PNG (as drawn by :mod:`backtests.reports.figures`), its title and a caption
    that says what is plotted. ``name`` is the file stem under ``figures/``.

    The PNG may come later: with ``png=None`` and ``pending`` a callable returning the PNG bytes (for example
    the result of a drawing running in another process), :meth:`resolve` (or :func:`resolve`) calls it once and
    keeps the bytes. Until then :attr:`size` and :attr:`b64` raise."""

    name: str
    title: str
    png: bytes | None
    caption: str
    pending: Callable[[], bytes] | None = field(default=None, repr=False, compare=False)
    kind: ClassVar[str] = "figure"

    def __post_init__(self):
        if not re.match(r"^[a-z0-9_]+$", self.name):
            raise ValueError(f"figure name {self.name!r} must be lower-case letters, digits and '_'")
        if self.png is None and self.pending is None:
            raise ValueError(f"figure {self.name!r} has neither a PNG nor a pending drawing")
        if self.png is not None:
            self._check()

    def _check(self):
        if self.png[:8] != b"\x89PNG\r\n\x1a\n":
            raise ValueError(f"figure {self.name!r} is not a PNG")

    def resolve(self) -> "Figure":
        """Wait for a pending drawing and keep its PNG (checked); a figure already drawn is left as it is."""
        if self.png is None:
            self.png = self.pending()
            self.pending = None
            self._check()
        return self

    def _drawn(self) -> bytes:
        if self.png is None:
            raise RuntimeError(f"figure {self.name!r} is not drawn yet (call resolve())")
        return self.png

    @property
    def size(self) -> tuple[int, int]:
        """Pixel width and height, from the PNG header."""
        png = self._drawn()
        return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")

    @property
    def b64(self) -> str:
        return base64.b64encode(self._drawn()).decode()


@dataclass
class Section:
    """One section of the sheet. ``intro`` says what is measured (units, conventions); ``items`` are
    its tables and figures in display order; ``notes`` are short remarks shown after the intro;
    ``empty`` says why there is nothing to show (required when ``items`` is empty)."""

    id: str
    title: str
    intro: str = ""
    items: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    empty: str = ""

    def __post_init__(self):
        if self.id not in SECTION_IDS:
            raise ValueError(f"section id {self.id!r} is not one of DESIGN.md's: {', '.join(SECTION_IDS)}")
        bad = [x for x in self.items if not isinstance(x, (Table, Figure))]
        if bad:
            raise TypeError(f"section {self.id!r}: items must be Table or Figure, not {type(bad[0]).__name__}")
        names = [t.name for t in self.tables]
        if len(names) != len(set(names)):
            raise ValueError(f"section {self.id!r}: duplicate table names {names}")

    @property
    def tables(self) -> list[Table]:
        return [x for x in self.items if isinstance(x, Table)]

    @property
    def figures(self) -> list[Figure]:
        return [x for x in self.items if isinstance(x, Figure)]

    @property
    def wide(self) -> bool:
        """Holds a wide table: the whole section is printed on landscape pages."""
        return any(t.wide for t in self.tables)


def assemble(sections: Iterable[Section], missing: str = "Not part of this version of the tear sheet.") -> list[Section]:
    """Every id of :data:`SECTION_IDS` once, in that order. An id without a section gets an empty one
    saying ``missing``; a section without items must say why in ``empty``; two sections with one id and
    figure names used twice are errors."""
    by_id: dict[str, Section] = {}
    for s in sections:
        if s.id in by_id:
            raise ValueError(f"two sections with id {s.id!r}")
        if not s.items and not s.empty.strip():
            raise ValueError(f"section {s.id!r} has nothing to show and does not say why (Section.empty)")
        by_id[s.id] = s
    out = [by_id.get(i) or Section(i, i.replace("-", " ").capitalize(), empty=missing) for i in SECTION_IDS]
    figs = [f.name for s in out for f in s.figures]
    dup = sorted({n for n in figs if figs.count(n) > 1})
    if dup:
        raise ValueError(f"figure names used twice: {dup}")
    return out


def resolve(sections: Iterable[Section]) -> list[Section]:
    """Every figure of ``sections`` drawn (:meth:`Figure.resolve`, in section order); the sections, as a list."""
    out = list(sections)
    for s in out:
        for f in s.figures:
            f.resolve()
    return out


def table_files(sections: Iterable[Section]) -> dict[str, pd.DataFrame]:
    """``{"<section-id>__<table-name>.csv": raw frame}`` for every table of the sheet."""
    return {t.csv_name(s.id): t.frame for s in sections for t in s.tables}
