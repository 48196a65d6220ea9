"""Strict reading of the project's CSV files.

Every bundled or user-supplied table goes through :func:`read_table`: the file
is read once as bytes (so the sha256 fingerprint is of exactly what was
parsed), every column is converted with a declared type, and every defect is
collected as a :class:`~events.errors.Problem` naming file, line and field.
Nothing is returned unless the whole file is valid: a table is never half-read.
"""
from __future__ import annotations

import csv
import difflib
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from events.errors import InputError, Problem

TRUE_WORDS = {"true", "1", "yes", "y", "t"}
FALSE_WORDS = {"false", "0", "no", "n", "f"}


@dataclass(frozen=True)
class Column:
    """Declared type of one CSV column.

    kind: ``date`` (ISO YYYY-MM-DD), ``float``, ``int``, ``str``, ``bool``
    (true/false), or ``choice`` (one of ``choices``). ``required`` means the
    column must exist; ``nonempty`` means no cell may be blank.
    """

    kind: str
    required: bool = True
    nonempty: bool = True
    choices: tuple[str, ...] = ()
    positive: bool = False
    nonnegative: bool = False


@dataclass(frozen=True)
class Table:
    """A validated table: the typed frame, where it came from and its sha256."""

    frame: pd.DataFrame
    path: str
    sha256: str
    lines: tuple[int, ...] = field(repr=False, default=())
    notes: tuple[str, ...] = ()  # how the file was read when it was not plain UTF-8 (e.g. decoded as UTF-16)

    def line_of(self, row: int) -> int:
        """Physical file line where data row ``row`` (0-based) starts."""
        return self.lines[row]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    return sha256_bytes(Path(path).read_bytes())


def _blank(row: list[str]) -> bool:
    """A csv row that is no record: an empty or whitespace-only line (pandas skips those too)."""
    return not row or (len(row) == 1 and not row[0].strip())


def _record_lines(text: str) -> list[int]:
    """1-based line on which each data record starts (header excluded)."""
    reader = csv.reader(io.StringIO(text))
    starts = []
    prev_end = 0
    header = False
    for row in reader:
        if not _blank(row):
            if header:
                starts.append(prev_end + 1)
            header = True
        prev_end = reader.line_num
    return starts


def _plain_name(name: str) -> str:
    """'Adj Close' -> 'adj_close': a header name as aibt would spell it."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _shape_problems(text: str, label: str, show: int = 20) -> list[Problem]:
    """Why a CSV text does not parse, row by row: each record whose number of fields differs from the header's (the
    usual cause: a comma inside an unquoted text), and a double quote left open. Line numbers are where each record
    starts in the file (blank lines counted). Empty when nothing specific is found."""
    out = []
    reader = csv.reader(io.StringIO(text))
    prev_end, width = 0, None
    try:
        for row in reader:
            start = prev_end + 1
            prev_end = reader.line_num
            if _blank(row):
                continue
            if width is None:
                width = len(row)
                continue
            if len(row) != width and len(out) < show:
                why = ("more fields than the header: a text with a comma in it is probably not in double quotes"
                       if len(row) > width else "fewer fields than the header")
                hint = (f"{width} fields; a text containing commas in double quotes, e.g. \"Big deal, with comma\""
                        if len(row) > width else f"{width} fields (an empty cell for a missing value)")
                out.append(Problem(f"{len(row)} fields where the header has {width} ({why})", path=label, line=start, expected=hint))
    except csv.Error as exc:
        out.append(Problem(f"cannot be read from here on: {exc}", path=label, line=prev_end + 1,
                           expected="rows ending in a line feed, and every opening double quote closed on its row"))
    if reader.line_num and text.count('"') % 2 and not any("double quote" in (p.expected or "") for p in out):
        opened = _open_quote_line(text)
        out = [p for p in out if (p.line or 0) < opened]  # what follows an open quote is one long text: its counts mean nothing
        out.append(Problem("a double quote is opened and never closed (the rest of the file reads as one text)", path=label,
                           line=opened, expected="every opening double quote closed on its row"))
    return out


def _open_quote_line(text: str) -> int:
    """The line of the double quote that is never closed (quotes toggle; a doubled quote inside a text is two)."""
    inside, line, opened = False, 1, 1
    for ch in text:
        if ch == '"':
            inside = not inside
            if inside:
                opened = line
        elif ch == "\n":
            line += 1
    return opened


_CONTROL_RE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # control bytes other than tab, line feed, carriage return


def decode_text(data: bytes, label: str) -> tuple[str | None, str | None, Problem | None]:
    """Bytes of a CSV file -> ``(text, note, problem)``.

    UTF-8 (with or without a byte-order mark) is read as it is. UTF-16 with a byte-order mark (what Excel's
    "Unicode text" and some exports write) is decoded, with a note saying so. Other bytes that are not UTF-8 are
    decoded as Windows-1252 (Excel's "CSV" on Windows) with a note naming the first such byte and the character it
    became, so the user can check it; a file with NUL or other control bytes is refused as binary."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "decoded as UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8 to silence this", None
        except UnicodeDecodeError as exc:
            return None, None, Problem(f"starts with a UTF-16 byte-order mark but is not UTF-16 text (byte {exc.start})", path=label,
                                       expected="UTF-8 text")
    m = _CONTROL_RE.search(data)
    if m:
        i = m.start()
        return None, None, Problem(f"a binary file, not CSV text (control byte 0x{data[i]:02x} at byte {i})", path=label,
                                   expected="a CSV text file (UTF-8)")
    try:
        return data.decode("utf-8-sig"), None, None
    except UnicodeDecodeError as exc:
        first = exc.start
    # line by line: lines that are UTF-8 stay UTF-8 (a file edited in two programs can mix them); the others are
    # read as Windows-1252, and the note names them
    lines, legacy = [], []
    for n, raw in enumerate(data.splitlines(keepends=True), 1):
        try:
            lines.append(raw.decode("utf-8-sig" if n == 1 else "utf-8"))
        except UnicodeDecodeError:
            try:
                lines.append(raw.decode("cp1252"))
            except UnicodeDecodeError as exc:
                return None, None, Problem(f"not UTF-8 text (byte {first}), nor Windows-1252 (line {n}, byte {exc.start} of the line)",
                                           path=label, line=n, expected="UTF-8 text")
            legacy.append(n)
    ch = bytes([data[first]]).decode("cp1252")
    where = f"line {legacy[0]}" if len(legacy) == 1 else f"{len(legacy)} lines, the first {legacy[0]}"
    return "".join(lines), (f"not UTF-8: {where} decoded as Windows-1252 (byte 0x{data[first]:02x} read as {ch!r}); check the text "
                            "and save the file as UTF-8 to silence this"), None


def read_table(
    source: str | Path | bytes,
    columns: dict[str, Column],
    *,
    name: str | None = None,
    raise_errors: bool = True,
) -> Table | tuple[Table | None, list[Problem]]:
    """Read and type-check a CSV file against ``columns``.

    ``source`` is a path or the raw bytes (then ``name`` labels it in
    messages). Extra columns are kept as strings. Returns a :class:`Table`, or
    raises :class:`InputError` listing every problem. With
    ``raise_errors=False`` returns ``(table_or_None, problems)`` instead (the
    table, with bad cells as missing, whenever the header was readable), so a
    validator can add its own checks to the same report; the caller must then
    raise if ``problems`` is not empty.
    """
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
        label = name or "<bytes>"
    else:
        label = name or str(source)
        try:
            data = Path(source).read_bytes()
        except FileNotFoundError:
            raise InputError(Problem("file not found", path=label))
        except OSError as exc:
            raise InputError(Problem(f"cannot read file: {exc.strerror}", path=label))
    digest = sha256_bytes(data)
    problems: list[Problem] = []
    text, note, bad = decode_text(data, label)
    if bad is not None:
        problems.append(bad)
        return _finish(None, problems, raise_errors)
    notes = (note,) if note else ()
    if not text.strip():
        problems.append(Problem("file is empty", path=label, expected="a header line and data rows"))
        return _finish(None, problems, raise_errors)
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False)
    except (pd.errors.ParserError, csv.Error) as exc:
        problems += _shape_problems(text, label) or [Problem(f"not a well-formed CSV file: {exc}", path=label)]
        return _finish(None, problems, raise_errors)
    try:
        header = next((r for r in csv.reader(io.StringIO(text)) if not _blank(r)), [])
    except csv.Error:  # a stray carriage return: the record check below says where
        header = []
    names = [c.strip() for c in header]
    dups = sorted({c for c in names if c and names.count(c) > 1})
    if dups:  # pandas would rename the second 'date' to 'date.1' and read the first only
        problems.append(Problem(f"column(s) {', '.join(dups)} appear more than once in the header", path=label, line=1,
                                expected="each column once"))
        return _finish(None, problems, raise_errors)
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c, spec in columns.items() if spec.required and c not in raw.columns]
    renamed = {c: m for m in columns for c in raw.columns if c not in columns and _plain_name(c) == m}
    near = {c: m[0] for c in raw.columns if c not in columns and c not in renamed
            for m in [difflib.get_close_matches(c, [k for k in columns if k not in raw.columns], n=1, cutoff=0.8)] if m}
    if renamed or near:  # 'Adj Close' for adj_close, 'public_snce' for public_since: a column aibt would otherwise ignore
        pairs = ", ".join(f"'{c}' for '{m}'" for c, m in {**renamed, **near}.items())
        problems.append(Problem(f"column name(s) {pairs}: aibt's names are lower case with '_'", path=label, line=1,
                                expected="the names " + ", ".join(columns) + " (a column of your own needs a name not so close to these)"))
        return _finish(None, problems, raise_errors)
    if missing:
        header = text.splitlines()[0] if text else ""
        for sep, word in ((";", "semicolons"), ("\t", "tabs")):
            if sep in header and "," not in header:
                problems.append(Problem(f"the header is separated by {word}, not commas (as a spreadsheet with a decimal comma saves CSV)",
                                        path=label, line=1, expected="a comma-separated file with points as decimal marks "
                                        "(save as 'CSV UTF-8 (comma delimited)')"))
                return _finish(None, problems, raise_errors)
        problems.append(
            Problem(
                f"missing column(s) {', '.join(missing)}",
                path=label,
                line=1,
                expected=f"a header with {', '.join(c for c, s in columns.items() if s.required)}",
            )
        )
        return _finish(None, problems, raise_errors)
    if raw.empty:
        problems.append(Problem("no data rows", path=label, expected="at least one row below the header"))
        return _finish(None, problems, raise_errors)
    try:
        lines = _record_lines(text)
    except csv.Error as exc:  # e.g. a lone carriage return (an old Mac line ending) inside a row
        problems.append(Problem(f"not a well-formed CSV file: {exc}", path=label, expected="rows ending in a line feed (or CR LF)"))
        return _finish(None, problems, raise_errors)
    out = {}
    for col in raw.columns:
        spec = columns.get(col)
        values = raw[col].str.strip()
        if spec is None:
            out[col] = values
            continue
        out[col] = _convert(values, col, spec, label, lines, problems)
    for col, spec in columns.items():
        if col not in raw.columns:  # optional and absent
            out[col] = pd.Series([np.nan] * len(raw), index=raw.index)
    frame = pd.DataFrame(out, index=raw.index)
    table = Table(frame=frame, path=label, sha256=digest, lines=tuple(lines), notes=notes)
    return _finish(table, problems, raise_errors)


def _finish(table, problems, raise_errors):
    if raise_errors:
        if problems:
            raise InputError(problems)
        return table
    return table, problems


def _bad(values: pd.Series, mask: np.ndarray, col, label, lines, problems, message, expected):
    for pos in np.flatnonzero(mask):
        problems.append(
            Problem(
                message.format(value=values.iloc[pos]),
                path=label,
                line=lines[pos],
                field=col,
                expected=expected,
            )
        )


def _convert(values: pd.Series, col: str, spec: Column, label, lines, problems) -> pd.Series:
    empty = (values == "").to_numpy()
    if spec.nonempty:
        _bad(values, empty, col, label, lines, problems, "empty cell", f"a {spec.kind} value")
    if spec.kind == "str":
        return values.where(~empty, None)
    if spec.kind == "date":
        # years outside 1900..2199 are typos here (and pandas cannot hold dates past 2262): refused as bad dates
        plausible = values.str.match(r"^(19|20|21)\d\d-\d\d-\d\d$").fillna(False).to_numpy(bool)
        parsed = pd.to_datetime(values.where(plausible, None), format="%Y-%m-%d", errors="coerce")
        bad = parsed.isna().to_numpy() & ~empty
        _bad(values, bad, col, label, lines, problems, "bad date '{value}'", "an ISO date YYYY-MM-DD between 1900 and 2199")
        return parsed
    if spec.kind in ("float", "int"):
        parsed = pd.to_numeric(values.where(~empty, None), errors="coerce").astype(float)
        bad = parsed.isna().to_numpy() & ~empty
        bad |= ~np.isfinite(parsed.fillna(0.0).to_numpy())
        _bad(values, bad, col, label, lines, problems, "not a number: '{value}'", f"a finite {spec.kind}")
        ok = ~bad & ~empty
        if spec.kind == "int":
            frac = ok & (parsed.fillna(0) % 1 != 0).to_numpy()
            _bad(values, frac, col, label, lines, problems, "not a whole number: '{value}'", "an integer")
        if spec.positive:
            neg = ok & (parsed.fillna(1) <= 0).to_numpy()
            _bad(values, neg, col, label, lines, problems, "not positive: '{value}'", "a value > 0")
        if spec.nonnegative:
            neg = ok & (parsed.fillna(0) < 0).to_numpy()
            _bad(values, neg, col, label, lines, problems, "negative: '{value}'", "a value >= 0")
        return parsed
    if spec.kind == "bool":
        low = values.str.lower()
        bad = ~low.isin(TRUE_WORDS | FALSE_WORDS).to_numpy() & ~empty
        _bad(values, bad, col, label, lines, problems, "not a boolean: '{value}'", "true or false")
        return low.isin(TRUE_WORDS).where(~empty, None)
    if spec.kind == "choice":
        bad = ~values.isin(spec.choices).to_numpy() & ~empty
        _bad(values, bad, col, label, lines, problems, "unknown value '{value}'", "one of " + ", ".join(spec.choices))
        return values.where(~empty, None)
    raise ValueError(f"unknown column kind {spec.kind!r}")


def check_sorted_unique_dates(table: Table, col: str = "date") -> list[Problem]:
    """Problems for dates that are not strictly increasing (duplicates or out of order)."""
    dates = table.frame[col]
    problems = []
    prev = dates.shift(1)
    bad = (dates <= prev).to_numpy() & dates.notna().to_numpy() & prev.notna().to_numpy()
    for pos in np.flatnonzero(bad):
        kind = "duplicate" if dates.iloc[pos] == prev.iloc[pos] else "out-of-order"
        problems.append(
            Problem(
                f"{kind} date {dates.iloc[pos].date()} after {prev.iloc[pos].date()}",
                path=table.path,
                line=table.line_of(pos),
                field=col,
                expected="dates sorted ascending and unique",
            )
        )
    return problems


def rows_problems(table: Table, mask: Iterable[bool], field_name: str, message: str, expected: str) -> list[Problem]:
    """One :class:`Problem` for each row where ``mask`` is true."""
    mask = np.asarray(list(mask) if not isinstance(mask, (np.ndarray, pd.Series)) else mask, dtype=bool)
    return [
        Problem(message.format(row=table.frame.iloc[pos]), path=table.path, line=table.line_of(pos), field=field_name, expected=expected)
        for pos in np.flatnonzero(mask)
    ]
