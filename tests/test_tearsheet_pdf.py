"""The PDF tear sheet: the same HTML laid out by WeasyPrint. Its text (extracted with pypdf) carries every
section, table and figure title of the HTML and every row of the long tables (the on-screen scroll boxes
expand in print); pages are A4; every figure is embedded. Without WeasyPrint's system libraries,
``aibt tearsheet --pdf`` exits 2 with one line naming them and writes nothing."""
from __future__ import annotations

import builtins
import logging
import os
import re
import sys

import pytest

from backtests.cli import main
from backtests.reports import tearsheet as TS
from events.errors import InputError

pypdf = pytest.importorskip("pypdf")


def weasyprint_or_skip() -> None:
    """Skip when WeasyPrint cannot load its system libraries (Pango), unless AIBT_REQUIRE_PDF is set (.ci/run
    sets it once it has installed them)."""
    try:
        TS._weasyprint()
    except InputError as exc:
        if os.environ.get("AIBT_REQUIRE_PDF"):
            pytest.fail(f"AIBT_REQUIRE_PDF is set but {exc}")
        pytest.skip(str(exc))


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("pdf") / "run"
    assert main(["run", "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def pdf(default_run):
    """(run directory, PdfReader, flattened text, WeasyPrint warnings) of ``aibt tearsheet RUN --pdf``."""
    weasyprint_or_skip()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    log = logging.getLogger("weasyprint")
    log.addHandler(handler)
    try:
        assert main(["tearsheet", str(default_run), "--pdf", "--quiet"]) == 0
    finally:
        log.removeHandler(handler)
    reader = pypdf.PdfReader(default_run / "tearsheet.pdf")
    text = _flat("\n".join(p.extract_text() for p in reader.pages))
    return default_run, reader, text, [r.getMessage() for r in records if r.levelno >= logging.WARNING]


def _drawn_images(reader) -> set[int]:
    """Object numbers of the image XObjects that some page's content stream draws (``/Name Do``)."""
    drawn = set()
    for page in reader.pages:
        xobjects = page["/Resources"].get("/XObject", {})
        for name in re.findall(rb"/([^\s/]+)\s+Do\b", page.get_contents().get_data()):
            ref = xobjects.get("/" + name.decode())
            if ref is not None and ref.get_object().get("/Subtype") == "/Image":
                drawn.add(ref.idnum)
    return drawn


def test_pdf_carries_every_section_table_and_figure(pdf):
    run_dir, reader, text, warnings = pdf
    sections = TS.build_sections(TS.load_run(run_dir))
    assert len(sections) == 10
    titles = [s.title for s in sections] + [t.title for s in sections for t in s.tables] + [f.title for s in sections for f in s.figures]
    missing = [t for t in titles if _flat(t) not in text]
    assert not missing, missing
    for s in sections:  # a section with nothing to show says why in the PDF too
        if not s.items:
            assert _flat(s.empty) in text, s.id
    assert sum(len(s.tables) for s in sections) == 21 and sum(len(s.figures) for s in sections) == 14
    assert len(_drawn_images(reader)) == 14  # every figure drawn, each its own image
    assert not warnings, warnings  # WeasyPrint understood all of the print CSS
    import gc

    assert gc.isenabled()  # paused while WeasyPrint laid the pages out, and back on


def test_long_tables_run_across_pages_whole(pdf):
    """The per-event, trades and study tables scroll on screen; in print every row is there."""
    run_dir, reader, text, _ = pdf
    run = TS.load_run(run_dir)
    per_event = TS.per_event_table(run).frame
    assert len(per_event) == 45 and per_event["event_id"].map(lambda e: e in text).all()
    assert text.count("chatgpt_launch") >= 2  # in the per-event table and the trades table
    study = TS.study_table(run)
    assert len(study.frame) > 60
    rows = study.rows()
    # the last row of the study table (far past the screen's scroll box) is printed, cell by cell
    assert all(c["text"] in text for c in rows[-1] if c["text"] != "-")
    assert _flat(TS.trades_table(run).frame["event_ids"].iloc[-1]) in text


def test_pages_are_a4_portrait_or_landscape(pdf):
    _, reader, _, _ = pdf
    sizes = {(round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in reader.pages}
    assert sizes == {(595, 842), (842, 595)}  # portrait, and landscape for the sections with wide tables
    assert 20 <= len(reader.pages) <= 45  # measured 31: three 88-row study tables, one per model


def _files(d):
    return {p.relative_to(d): p.stat().st_mtime_ns for p in d.rglob("*")}


@pytest.mark.parametrize("failure, needle", [
    (OSError("cannot load library 'libpango-1.0-0': libpango-1.0-0: cannot open shared object file: No such file or directory"),
     "apt-get install libpango-1.0-0 libpangoft2-1.0-0"),
    (ModuleNotFoundError("No module named 'weasyprint'", name="weasyprint"), "pip install weasyprint"),
])
def test_pdf_without_weasyprint_exits_2_and_writes_nothing(default_run, monkeypatch, capsys, failure, needle):
    before = _files(default_run)
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "weasyprint" or name.startswith("weasyprint."):
            raise failure
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "weasyprint", raising=False)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    capsys.readouterr()
    assert main(["tearsheet", str(default_run), "--pdf", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err and "Traceback" not in err, err
    assert _files(default_run) == before  # nothing written, not even the HTML


def _y_of(reader, needle: str) -> tuple[int, float]:
    """(page index, baseline y in points from the page bottom) of the first text run containing ``needle``."""
    for i, page in enumerate(reader.pages):
        found = []

        def visit(text, cm, tm, font, size):
            if needle in text and not found:
                found.append(tm[4] * cm[1] + tm[5] * cm[3] + cm[5])

        page.extract_text(visitor_text=visit)
        if found:
            return i, found[0]
    raise AssertionError(f"{needle!r} not in the PDF")


def test_scroll_boxes_expand_in_print(default_run):
    """A long table scrolls on screen (a box at most 520 px tall); printed, its box must hold every row, so
    the line after the table comes below its last row instead of overprinting it. The section is laid out
    on its own (the template's head and this section's HTML) so the table starts at the top of a page and
    fits on it: a table running across pages is laid out whole by WeasyPrint either way."""
    import io

    import pandas as pd

    from backtests.reports import sections as S

    weasyprint_or_skip()
    run = TS.load_run(default_run)
    n = 40
    table = S.Table("many-rows", "Many rows", pd.DataFrame({"key": [f"row{i:03d}" for i in range(n)], "value": range(n)}), {"key": "text"}, long=True)
    html = TS.render_html(TS.context(run, S.assemble([S.Section("tails", "Tails", items=[table])])))
    head = html.split("<body>")[0]
    section = '<section id="tails"' + html.split('<section id="tails"')[1].split("</section>")[0] + "</section>"
    assert 'class="scroll"' in section
    reader = pypdf.PdfReader(io.BytesIO(TS.render_pdf(head + "<body>" + section + "</body></html>")))
    assert len(reader.pages) == 1
    _, y_first = _y_of(reader, "row000")
    _, y_last = _y_of(reader, f"row{n - 1:03d}")
    _, y_after = _y_of(reader, "tails__many-rows.csv")
    assert y_first - y_last > 520 * 0.75  # taller than the screen's scroll box (520 px = 390 pt)
    assert y_after < y_last - 5, (y_last, y_after)
