"""Tear sheets: figure functions on known frames, the pure frames, the section model, the assembled
HTML with its CSV tables, escaping of user text, and a real browser (headless Chromium). The PDF has its
own file (test_tearsheet_pdf.py)."""
from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.patches import Rectangle

from backtests.reports import figures as F
from backtests.reports import sections as S
from backtests.reports import tearframes as T
from backtests.reports import tearsheet as TS
from backtests.cli import main
from browser_check import CHECKER, FLAGS, browser_or_skip

IDX = pd.DatetimeIndex(pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04", "2024-02-01", "2025-01-02"]))
R = pd.DataFrame(
    {"strategy": [0.0, 0.10, -0.5, 0.20, 0.0], "amzn": [0.0, 0.01, 0.02, -0.01, 0.0], "peer_basket": [0.0, 0.0, 0.01, 0.0, 0.0], "benchmark": [0.0] * 5},
    index=IDX,
)


# ------------------------------------------------------------- pure frames
def test_cumulative_and_drawdown_by_hand():
    c = T.cumulative(R)
    assert c["strategy"].tolist() == pytest.approx([1.0, 1.1, 0.55, 0.66, 0.66])
    d = T.drawdowns(R)
    assert d["strategy"].tolist() == pytest.approx([0.0, 0.0, -0.5, -0.4, -0.4])


def test_monthly_and_yearly_tables_by_hand():
    m = T.monthly_table(R["strategy"])
    assert list(m.index) == [2024, 2025] and list(m.columns) == list(range(1, 13))
    assert m.loc[2024, 1] == pytest.approx(1.1 * 0.5 - 1) and m.loc[2024, 2] == pytest.approx(0.2)
    assert np.isnan(m.loc[2024, 3]) and m.loc[2025, 1] == 0
    y = T.yearly_table(R)
    assert y.loc[2024, "strategy"] == pytest.approx(0.66 - 1) and y.loc[2024, "amzn"] == pytest.approx(1.01 * 1.02 * 0.99 - 1)


def test_worst_drawdowns_by_hand():
    r = pd.Series([0.1, -0.2, 0.05, 0.3, -0.1, 0.0, 0.2], index=pd.bdate_range("2024-01-01", periods=7))
    dd = T.worst_drawdowns(r)
    first = dd.iloc[0]
    assert first["depth"] == pytest.approx(-0.2) and first["peak"] == r.index[0] and first["trough"] == r.index[1]
    assert first["recovery"] == r.index[3] and first["sessions"] == 1
    assert dd.iloc[1]["depth"] == pytest.approx(-0.1) and dd.iloc[1]["recovery"] == r.index[6]


def test_caar_paths_by_hand():
    ar = pd.DataFrame({"event_id": ["a", "a", "b", "b", "c", "c"], "model": "peer_adjusted", "day": [0, 1, 0, 1, 0, 1], "ar": [0.01, 0.02, 0.03, 0.00, -0.01, 0.01]})
    ev = pd.DataFrame({"event_id": ["a", "b", "c"], "category": ["x", "x+y", "y"]})
    p = T.caar_paths(ar, ev, lo=0, hi=1, min_events=2).set_index(["group", "day"])
    assert p.loc[("all", 1), "caar"] == pytest.approx((0.03 + 0.03 + 0.0) / 3)
    assert p.loc[("x", 1), "caar"] == pytest.approx(0.03) and p.loc[("x", 1), "n"] == 2
    assert p.loc[("y", 0), "caar"] == pytest.approx(0.01)
    se = np.std([0.03, 0.03, 0.0], ddof=1) / np.sqrt(3)
    assert p.loc[("all", 1), "hi95"] == pytest.approx(0.02 + 1.96 * se)


def test_per_event_returns_by_hand():
    ev = pd.DataFrame({"event_id": ["e"], "category": ["x"], "reaction_session": ["2024-01-03"], "traded": [True], "reason": ["traded: episode 1"]})
    pe = T.per_event_returns(ev, R)
    assert pe.loc[0, "amzn"] == pytest.approx(1.01 * 1.02 - 1) and pe.loc[0, "excess"] == pytest.approx(1.01 * 1.02 - 1.01)


# ------------------------------------------------------------- figures on known frames
def _texts(fig):
    return [t.get_text() for t in fig.texts]


def test_cumulative_figure_lines_labels_and_points():
    fig = F.cumulative_returns(T.cumulative(R), "Source: test", {"amzn": "AMZN"})
    ax = fig.axes[0]
    assert [l.get_label() for l in ax.lines] == ["Strategy", "AMZN", "Peer basket", "Benchmark"]
    assert ax.lines[0].get_ydata().tolist() == pytest.approx([1.0, 1.1, 0.55, 0.66, 0.66])
    assert ax.lines[0].get_color() == F.COLORS["strategy"] and ax.lines[1].get_color() == F.COLORS["amzn"]
    assert ax.get_yscale() == "log" and "growth of 1" in ax.get_ylabel()
    assert "Source: test" in _texts(fig)


def test_underwater_and_exposure_figures():
    fig = F.underwater(T.drawdowns(R), "src")
    ax = fig.axes[0]
    assert ax.lines[0].get_ydata().tolist() == pytest.approx([0, 0, -0.5, -0.4, -0.4])
    assert any(isinstance(c, PolyCollection) for c in ax.collections) and "drawdown" in ax.get_ylabel()
    fig = F.exposure(pd.Series([0, 1.0, 1.0, 0, 0], index=IDX), "src")
    assert "40%" in fig.axes[0].get_title()


def test_rolling_figure_has_two_panels():
    roll = T.rolling(pd.concat([R] * 40, ignore_index=True).set_index(pd.bdate_range("2020-01-01", periods=200)), 20)
    fig = F.rolling_sharpe_beta(roll, 20, "src")
    a1, a2 = fig.axes[:2]
    assert [l.get_label() for l in a1.lines if not l.get_label().startswith("_")] == ["Strategy", "AMZN"]
    assert len(a1.lines[0].get_xdata()) == 200 and "beta" in a2.get_ylabel()


def test_monthly_heatmap_cells():
    m = T.monthly_table(R["strategy"])
    fig = F.monthly_heatmap(m, "src")
    ax = fig.axes[0]
    assert ax.images[0].get_array().shape == (2, 12)
    cell_texts = [t.get_text() for t in ax.texts]
    assert len(cell_texts) == 3 and "-45.0" in cell_texts and "20.0" in cell_texts


def test_yearly_bars_heights():
    y = T.yearly_table(R)
    fig = F.yearly_bars(y, "src")
    bars = [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]
    assert len(bars) == 2 * 4
    heights = sorted(round(b.get_height(), 6) for b in bars)
    assert round((0.66 - 1) * 100, 6) in heights


def test_caar_figure_panels():
    ar = pd.DataFrame({"event_id": np.repeat(["a", "b", "c"], 3), "model": "peer_adjusted", "day": [-1, 0, 1] * 3, "ar": [0, 0.01, 0.02, 0, 0.03, 0, 0, -0.01, 0.01]})
    ev = pd.DataFrame({"event_id": ["a", "b", "c"], "category": ["x", "x", "x"]})
    fig = F.caar_by_category(T.caar_paths(ar, ev, lo=-1, hi=1), "src")
    visible = [a for a in fig.axes if a.get_visible()]
    assert [a.get_title() for a in visible] == ["all (n=3)", "x (n=3)"]
    assert visible[0].lines[0].get_ydata().tolist() == pytest.approx([0.0, 1.0, 2.0])


def test_excess_distribution_counts():
    pe = pd.DataFrame({"excess": [0.01, -0.02, 0.03, 0.0], "traded": [True, False, True, False]})
    fig = F.excess_distribution(pe, "src")
    ax = fig.axes[0]
    counts = [sum(r.get_height() for r in c) for c in ax.containers]
    assert counts == [4, 2] and "mean 0.50%" in [l.get_label() for l in ax.lines][0]


def test_signal_timeline_marks():
    sig = pd.DataFrame({"capex_efficiency": [0.3, 0.3, 0.35, 0.35, 0.35], "backlog_growth_qoq": [np.nan, 0.1, 0.1, 0.2, 0.2], "backlog_growth_yoy": np.nan}, index=IDX)
    marks = pd.DataFrame({"day0": [IDX[2], IDX[3]], "kind": ["earnings", "ai_infra"]})
    fig = F.signal_timeline(sig, marks, "src")
    a1, a2 = fig.axes[:2]
    vlines = [l for l in a1.lines if len(set(l.get_xdata())) == 1 and len(l.get_xdata()) == 2]
    assert len(vlines) == 2 and "capex" in a1.get_ylabel()
    assert {t.get_text() for t in a1.get_legend().get_texts()} == {"AMZN earnings (release reaction session)", "AI-infrastructure event traded"}


# ------------------------------------------------------------- the section model
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (640).to_bytes(4, "big") + (480).to_bytes(4, "big") + b"\x08\x02\x00\x00\x00"


def test_format_cell_by_hand():
    assert S.format_cell(0.0123, "pct") == {"text": "1.23%", "cls": ""}
    assert S.format_cell(-0.0123, "pct1") == {"text": "-1.2%", "cls": "neg"}
    assert S.format_cell(1234567.4, "money") == {"text": "1,234,567", "cls": ""}
    assert S.format_cell(2.0, "int")["text"] == "2" and S.format_cell(0.36712, "p")["text"] == "0.367"
    assert S.format_cell(-1.23456, "num3") == {"text": "-1.235", "cls": "neg"}
    assert S.format_cell(0.000123456, "g")["text"] == "0.0001235" and S.format_cell(-98765.4, "g") == {"text": "-9.877e+04", "cls": "neg"}
    assert S.format_cell(float("nan"), "pct")["text"] == "-" and S.format_cell(float("inf"), "num")["text"] == "-"
    assert S.format_cell(pd.NaT, "date")["text"] == "-" and S.format_cell(pd.Timestamp("2024-03-01"), "date")["text"] == "2024-03-01"
    assert S.format_cell(None, "text") == {"text": "", "cls": "l"} and S.format_cell("x", "wrap")["cls"] == "wrap"
    with pytest.raises(ValueError):
        S.format_cell(1.0, "percent")


def test_table_shows_its_formats_and_keeps_raw_values():
    frame = pd.DataFrame({"name": ["a", "b"], "ret": [0.05, -0.125], "p": [0.01, 0.5], "q": [0.04, 0.9]})

    def with_p(row, c):
        return {"text": f"{row[c]:.1%} (p {row['p']:.2f})", "cls": "sig" if row["q"] < 0.05 else ""}

    t = S.Table("demo-table", "A demo", frame, {"name": "text", "ret": with_p}, {"ret": "return (p)"})
    assert [h["text"] for h in t.header()] == ["name", "return (p)"] and t.header()[0]["cls"] == "l"
    assert t.rows() == [[{"text": "a", "cls": "l"}, {"text": "5.0% (p 0.01)", "cls": "sig"}],
                        [{"text": "b", "cls": "l"}, {"text": "-12.5% (p 0.50)", "cls": ""}]]
    assert t.frame["ret"].tolist() == [0.05, -0.125]  # raw fractions stay in the frame (and the CSV)
    assert t.csv_name("per-event") == "per-event__demo-table.csv" and not t.wide
    assert S.Table("w", "wide", pd.DataFrame({c: [1] for c in "abcdefghi"})).wide
    with pytest.raises(ValueError, match="not in its frame"):
        S.Table("x", "x", frame, {"missing": "pct"})
    with pytest.raises(ValueError, match="unknown format kind"):
        S.Table("x", "x", frame, {"ret": "percent"})
    with pytest.raises(ValueError, match="lower-case"):
        S.Table("Bad Name", "x", frame)


def test_print_column_widths_by_hand():
    # fits the page: shares in proportion to each column's longest text (+2 for padding): 2+2 and 11+2 characters
    t = S.Table("t", "T", pd.DataFrame({"a": ["xx"], "b": ["hello world"]}), {"a": "text", "b": "text"})
    assert t.col_widths() == pytest.approx([100 * 4 / 17, 100 * 13 / 17], abs=1e-3)
    # too wide for a portrait page (130 characters): every column keeps its longest word + 2 (12, 6, 8, 8), and the
    # 96 characters left are shared in proportion to what each still needs to show its longest text (long text
    # capped at 48): 0, 41 - 6 = 35, 50 - 8 = 42, 42
    short, long_ = ("aaaa " * 8).strip(), ("bbbbbb " * 10).strip()
    frame = pd.DataFrame({"c1": ["x" * 10], "c2": [short], "c3": [long_], "c4": [long_]})
    t = S.Table("t", "T", frame, {c: "text" for c in frame})
    assert S.PRINT_CHARS["portrait"] == 130 and (len(short), len(long_)) == (39, 69)
    share = (130 - 34) / (35 + 42 + 42)
    assert t.col_widths() == pytest.approx([100 * x / 130 for x in (12, 6 + 35 * share, 8 + 42 * share, 8 + 42 * share)], abs=1e-3)
    assert sum(t.col_widths()) == pytest.approx(100, abs=0.01)


def test_assemble_gives_every_id_in_design_order():
    fig = S.Figure("f_one", "F", PNG, "caption")
    assert fig.size == (640, 480)
    got = S.assemble([S.Section("drawdowns", "D", items=[fig]), S.Section("metrics", "M", empty="nothing here, because")])
    assert [s.id for s in got] == list(S.SECTION_IDS) == ["metrics", "trade-stats", "costs", "exposure", "tails", "placebo", "event-study",
                                                          "per-event", "in-out-sample", "drawdowns"]
    assert got[0].empty == "nothing here, because" and got[-1].figures == [fig]
    assert all(s.empty for s in got[1:-1]) and not any(s.items for s in got[1:-1])
    with pytest.raises(ValueError, match="does not say why"):
        S.assemble([S.Section("costs", "C")])
    with pytest.raises(ValueError, match="two sections"):
        S.assemble([S.Section("costs", "C", empty="x"), S.Section("costs", "C2", empty="y")])
    with pytest.raises(ValueError, match="figure names used twice"):
        S.assemble([S.Section("costs", "C", items=[fig]), S.Section("tails", "T", items=[fig])])
    with pytest.raises(ValueError, match="DESIGN.md"):
        S.Section("performance", "P")
    with pytest.raises(ValueError, match="not a PNG"):
        S.Figure("x", "x", b"GIF89a", "")
    t = S.Table("t", "T", pd.DataFrame({"a": [1.0]}))
    assert list(S.table_files([S.Section("tails", "T", items=[t])])) == ["tails__t.csv"]


def test_a_figure_drawn_later_is_resolved_once():
    calls = []

    def later():
        calls.append(1)
        return PNG

    f = S.Figure("later", "Later", None, "drawn elsewhere", pending=later)
    with pytest.raises(RuntimeError, match="not drawn yet"):
        f.size
    sec = S.assemble([S.Section("tails", "T", items=[f])])
    assert S.resolve(sec) == sec and f.size == (640, 480) and f.pending is None and calls == [1]
    f.resolve()
    assert calls == [1]  # kept, not drawn again
    with pytest.raises(ValueError, match="neither a PNG nor a pending drawing"):
        S.Figure("x", "x", None, "")
    with pytest.raises(ValueError, match="not a PNG"):
        S.Figure("x", "x", None, "", pending=lambda: b"GIF89a").resolve()


# ------------------------------------------------------------- the assembled tear sheet
HOSTILE = '<script>window.pwned=1;document.title="pwned"</script><b>bold</b> & "quotes"'


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("ts")
    ev = d / "hostile.csv"
    ev.write_text(
        "event_id,date,time,scheduled,company,tickers_affected,category,headline,amount_usd_bn,source_url,confidence\n"
        f'hostile<i>id</i>,2024-06-03,bmo,false,AMZN,AMZN,other,"{HOSTILE.replace(chr(34), chr(34) * 2)}",,http://example.invalid,low\n'
    )
    cfg = d / "cfg.yaml"
    cfg.write_text(f"name: ts_test\nevents: {{files: ['{ev}'], earnings: false}}\ndates: {{start: 2022-11-01}}\n")
    out = d / "run"
    assert main(["run", "--config", str(cfg), "--out", str(out)]) == 0
    return out


FIGURES = ["cumulative_returns", "monthly_returns", "yearly_returns", "trade_outcomes", "cost_sensitivity", "exposure", "return_tails", "placebo",
           "caar_models", "signals_timeline", "excess_distribution", "equity_drawdowns", "rolling_alpha_ir_vol", "drawdown"]


#: where each figure and table lives (section id -> figure names, table CSV files), in display order
PLACES = {"metrics": (["cumulative_returns", "monthly_returns", "yearly_returns"], ["metrics__key-metrics.csv"]),
          "trade-stats": (["trade_outcomes"], ["trade-stats__trade-summary.csv", "trade-stats__win-loss.csv", "trade-stats__best-worst.csv",
                                               "trade-stats__trades.csv"]),
          "costs": (["cost_sensitivity"], ["costs__cost-summary.csv", "costs__break-even.csv", "costs__sensitivity.csv"]),
          "exposure": (["exposure"], ["exposure__average-exposure.csv", "exposure__turnover.csv", "exposure__baskets.csv", "exposure__peers-left-out.csv"]),
          "tails": (["return_tails"], ["tails__tail-stats.csv"]),
          "placebo": (["placebo"], ["placebo__placebo-stats.csv"]),
          "event-study": (["caar_models", "signals_timeline"], ["event-study__pre-event-drift.csv", "event-study__caar-tests.csv",
                                                                "event-study__caar-tests-market-model.csv", "event-study__caar-tests-market-adjusted.csv",
                                                                "event-study__signal-regressions.csv"]),
          "per-event": (["excess_distribution"], ["per-event__returns.csv"]),
          "in-out-sample": (["equity_drawdowns", "rolling_alpha_ir_vol"], []),  # no live start in this run: no split table
          "drawdowns": (["drawdown"], ["drawdowns__worst.csv"])}
TABLES = [t for _, ts in PLACES.values() for t in ts]


def test_run_writes_self_contained_html_and_figures(run_dir):
    html = (run_dir / "tearsheet.html").read_text()
    pngs = sorted(p.name for p in (run_dir / "figures").glob("*.png"))
    assert pngs == sorted(f"{n}.png" for n in FIGURES)
    assert html.count('<img src="data:image/png;base64,') == len(FIGURES) == 14
    assert "<script" not in html and "<link" not in html and "@import" not in html and "url(" not in html
    assert not re.search(r'(src|href)="https?:', html)
    assert len(html.encode()) < 2 * 1024 * 1024  # measured 1.42 MB
    for needle in ("Key metrics", "Cumulative returns", "Event study", "Per-event returns", "Trades", "Worst drawdowns", "sha256"):
        assert needle in html


def test_every_section_in_design_order_with_its_content(run_dir):
    html = (run_dir / "tearsheet.html").read_text()
    assert re.findall(r'<section id="([a-z-]+)"', html) == list(S.SECTION_IDS)
    chunks = dict(zip(S.SECTION_IDS, re.split(r'<section id="[a-z-]+"', html)[1:]))
    for sid, (figs, tables) in PLACES.items():
        assert re.findall(r'<figure id="fig-([a-z-]+)"', chunks[sid]) == [f.replace("_", "-") for f in figs], sid
        assert re.findall(r"<code>tables/([^<]+)</code>", chunks[sid]) == tables, sid
    assert '<p class="empty">' not in html  # every section has something to show for this run
    assert "No live start is set" in chunks["in-out-sample"] and "--live-start" in chunks["in-out-sample"]
    assert sorted(p.name for p in (run_dir / "tables").glob("*.csv")) == sorted(TABLES)


def test_sections_without_content_say_why(run_dir):
    run = TS.load_run(run_dir)
    off = dataclasses.replace(run, placebo=None, placebo_stats=None, config={**run.config, "placebo": {**run.config["placebo"], "enabled": False}})
    s = TS.placebo_section(off)
    assert not s.items and s.empty == "No placebo: placebo.enabled is false in this run's config."
    bh = dataclasses.replace(off, config={**run.config, "strategy": {**run.config["strategy"], "kind": "buy_and_hold"}})
    assert "buy-and-hold" in TS.placebo_section(bh).empty
    none = dataclasses.replace(run, trades=run.trades.iloc[:0], summary={**run.summary, "n_trades": 0})
    s = TS.trade_stats_section(none)
    assert not s.items and s.empty.startswith("Nothing was traded")
    s = TS.costs_section(none)
    assert not s.items and s.empty.startswith("Nothing was traded") and "no costs" in s.empty
    old = dataclasses.replace(run, cost_sensitivity=None, study_json=None, event_car=None)
    assert "no cost_sensitivity.csv" in TS.costs_section(old).notes[0]
    assert [t.name for t in TS.costs_section(old).tables] == ["cost-summary", "break-even"]
    assert "no signal regressions" in TS.event_study_section(old).notes[0]
    assert "no event_car.csv" in TS.per_event_table(old).note and "car_0_1" not in TS.per_event_table(old).frame
    html = TS.render_html(TS.context(off, S.assemble([TS.placebo_section(off)])))
    chunk = html.split('<section id="placebo"')[1].split("</section>")[0]
    assert '<p class="empty">No placebo: placebo.enabled is false in this run&#39;s config.</p>' in chunk
    assert html.count("<section id=") == 10 and "Not part of this version of the tear sheet." in html


def _same(csv_col: pd.Series, col: pd.Series) -> bool:
    """A CSV column read back equals the frame's column: numbers exactly (NaN = NaN), dates as dates, text as text."""
    if pd.api.types.is_datetime64_any_dtype(col):
        return pd.to_datetime(csv_col).astype("datetime64[ns]").reset_index(drop=True).equals(col.astype("datetime64[ns]").reset_index(drop=True))
    if pd.api.types.is_bool_dtype(col):
        return csv_col.astype(bool).tolist() == col.tolist()
    if pd.api.types.is_numeric_dtype(col):
        return np.array_equal(csv_col.to_numpy(float), col.to_numpy(float), equal_nan=True)
    return csv_col.astype(object).fillna("").astype(str).tolist() == col.astype(object).fillna("").astype(str).tolist()


def test_csv_tables_round_trip_with_raw_values(run_dir):
    run = TS.load_run(run_dir)
    files = S.table_files(TS.build_sections(run))
    assert len(files) == len(TABLES) == 21
    for name, frame in files.items():
        back = pd.read_csv(run_dir / "tables" / name, keep_default_na=False, na_values=[""])
        assert list(back.columns) == list(frame.columns) and len(back) == len(frame), name
        for c in frame.columns:
            assert _same(back[c], frame[c]), (name, c)
    km = pd.read_csv(run_dir / "tables" / "metrics__key-metrics.csv").set_index("metric")
    import json

    summary = json.loads((run_dir / "summary.json").read_text())
    assert km.at["total_return", "strategy"] == summary["total_return"] and abs(summary["total_return"]) < 1  # a fraction, not percent
    assert km.at["max_drawdown", "strategy"] == summary["max_drawdown"] < 0
    trades = pd.read_csv(run_dir / "trades.csv")
    tt = pd.read_csv(run_dir / "tables" / "trade-stats__trades.csv")
    assert np.array_equal(tt["excess_return"].to_numpy(float), trades["excess_return"].to_numpy(float), equal_nan=True)
    st = pd.read_csv(run_dir / "study.csv")
    es = pd.read_csv(run_dir / "tables" / "event-study__caar-tests.csv")
    assert len(es) == (st["model"] == "peer_adjusted").sum() and {"t_cs", "p_cs", "q_cs", "q_skew"} <= set(es.columns)


def test_a_failed_build_leaves_the_previous_sheet_intact(run_dir, tmp_path, monkeypatch):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    before = {p.relative_to(copy): p.read_bytes() for p in copy.rglob("*") if p.is_file()}

    def boom(html):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(TS, "_weasyprint", lambda: None)  # the failure comes after every other file is written to its temporary name
    monkeypatch.setattr(TS, "render_pdf", boom)
    (copy / "tables" / "metrics__key-metrics.csv").write_text("stale\n")  # so a rewrite would show
    before[Path("tables/metrics__key-metrics.csv")] = b"stale\n"
    with pytest.raises(RuntimeError, match="disk on fire"):
        TS.build_tearsheet(copy, pdf=True)
    after = {p.relative_to(copy): p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    assert after == before


def test_user_text_is_escaped(run_dir):
    html = (run_dir / "tearsheet.html").read_text()
    assert "&lt;script&gt;window.pwned=1" in html and "<b>bold</b>" not in html
    assert "hostile&lt;i&gt;id&lt;/i&gt;" in html and "<i>id</i>" not in html


def test_tearsheet_command_rebuilds_from_the_directory_alone(run_dir, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    shutil.rmtree(copy / "figures")
    (copy / "tearsheet.html").unlink()
    shutil.rmtree(copy / "tables")
    assert main(["tearsheet", str(copy)]) == 0
    assert sorted(p.stem for p in (copy / "figures").glob("*.png")) == sorted(FIGURES)
    assert sorted(p.name for p in (copy / "tables").glob("*.csv")) == sorted(TABLES)
    assert (copy / "tearsheet.html").read_bytes() == (run_dir / "tearsheet.html").read_bytes()
    assert not list(copy.glob(".*tmp*")) and not list(copy.glob(".*old*")) and not (copy / "tearsheet.pdf").exists()
    assert main(["tearsheet", str(tmp_path / "nope")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_browser_renders_every_figure_and_runs_no_user_script(run_dir, tmp_path):
    chromium = browser_or_skip()
    page = tmp_path / "check.html"
    page.write_text((run_dir / "tearsheet.html").read_text().replace("</body>", CHECKER + "</body>"))
    prof = tmp_path / "profile"
    dom = subprocess.run([chromium, *FLAGS, f"--user-data-dir={prof}", "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    m = re.search(r"images=(\d+) rendered=(\d+) pwned=(\w+) title=([^<\n]*)\nsections=([a-z,-]*)", dom)
    assert m, dom[-2000:]
    assert m.group(1) == m.group(2) == str(len(FIGURES)) and m.group(3) == "no" and "pwned" not in m.group(4)  # no broken image
    assert m.group(5).split(",") == list(S.SECTION_IDS)  # every DESIGN.md id, in order, each a section with a heading
    shot = tmp_path / "shot.png"
    subprocess.run([chromium, *FLAGS, f"--user-data-dir={prof}", "--window-size=1280,4000", f"--screenshot={shot}", (run_dir / "tearsheet.html").as_uri()],
                   capture_output=True, timeout=120)
    from PIL import Image

    im = np.asarray(Image.open(shot).convert("L"))
    assert im.shape == (4000, 1280) and im.std() > 20  # a page with content, not a blank


# ------------------------------------------------------------- the issue 13 sections on the default run: tables are the stats functions' output
LIVE = "2025-01-02"


@pytest.fixture(scope="module")
def live_run(tmp_path_factory):
    """The default run with a live start: (run directory, its HTML split into sections by id)."""
    out = tmp_path_factory.mktemp("live") / "run"
    assert main(["run", "--out", str(out), "--live-start", LIVE, "--quiet"]) == 0
    html = (out / "tearsheet.html").read_text()
    return out, dict(zip(S.SECTION_IDS, re.split(r'<section id="[a-z-]+"', html)[1:]))


def _table(d, name, **kw) -> pd.DataFrame:
    return pd.read_csv(d / "tables" / name, keep_default_na=False, na_values=[""], **kw)


def _eq(a, b) -> bool:
    return np.allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-12, atol=0, equal_nan=True)


def test_trade_and_cost_tables_are_the_stats_output(live_run):
    from backtests.stats import costs as C
    from backtests.stats import trade_stats as TRS

    d, chunks = live_run
    trades = pd.read_csv(d / "trades.csv")
    ts = TRS.trade_summary(trades)
    got = _table(d, "trade-stats__trade-summary.csv").set_index("quantity")
    assert list(got.index) == ["excess", "net", "pnl_net", "sessions_held"] and got.loc["net", "n"] == 39
    for c in ("n", "mean", "median", "t", "p", "ci_low", "ci_high"):
        assert _eq(got[c], ts[c]), c
    assert f"{ts.at['excess', 'ci_low'] * 100:.2f}%" in chunks["trade-stats"] and f"{ts.at['net', 'p']:.3f}" in chunks["trade-stats"]
    wl = TRS.win_loss_stats(trades)
    got = _table(d, "trade-stats__win-loss.csv").set_index("stat")["value"]
    assert all(got[k] == pytest.approx(wl[k], rel=1e-12) for k in got.index)
    assert f"{wl['profit_factor']:.2f}" in chunks["trade-stats"] and "46.15%" in chunks["trade-stats"]  # hit rate: summary.json's
    bw = _table(d, "trade-stats__best-worst.csv")
    assert bw["pnl_net"].tolist() == TRS.best_worst_trades(trades)["pnl_net"].tolist()
    assert bw["pnl_net"].iloc[0] == trades["pnl_net"].max() and bw["pnl_net"].iloc[5] == trades["pnl_net"].min()

    cs = C.cost_summary(trades)
    got = _table(d, "costs__cost-summary.csv").set_index("item")
    for k in ("commission", "slippage", "borrow", "total_cost", "pnl_gross", "pnl_net", "pnl_before_costs"):
        assert got.at[k, "total"] == pytest.approx(cs[k], rel=1e-12), k
    assert got.at["commission", "bps_of_notional"] == pytest.approx(cs["commission_bps"]) == pytest.approx(1.0, abs=0.01)  # the config's 1 bps
    assert got.at["pnl_net", "total"] == pytest.approx(trades["pnl_net"].sum())
    assert f"{cs['total_cost']:,.0f}" in chunks["costs"] and f"{cs['pnl_net']:,.0f}" in chunks["costs"]
    be = _table(d, "costs__break-even.csv")
    assert be.at[1, "bps"] == pytest.approx(cs["break_even_bps"])
    sens = C.tidy_cost_sensitivity(pd.read_csv(d / "cost_sensitivity.csv"))
    assert _eq(_table(d, "costs__sensitivity.csv").to_numpy(float), sens.to_numpy(float)) and len(sens) == 21
    assert _eq(be["bps"].iloc[2:], C.sensitivity_break_even(sens)["slippage_bps"])


def test_exposure_tails_placebo_tables_are_the_stats_output(live_run):
    import json

    from backtests.stats import exposure_stats as X
    from backtests.stats import tails as TL

    d, chunks = live_run
    exp = pd.read_csv(d / "exposure.csv", index_col="date", parse_dates=["date"])
    r = pd.read_csv(d / "returns.csv", index_col="date", parse_dates=["date"])
    trades, summary = pd.read_csv(d / "trades.csv"), json.loads((d / "summary.json").read_text())
    es = X.exposure_summary(exp)
    got = _table(d, "exposure__average-exposure.csv").set_index("leg")
    for leg in ("long", "short", "net", "gross", "beta_net"):
        assert got.at[leg, "mean"] == pytest.approx(es[f"mean_{leg}"], rel=1e-12) and got.at[leg, "mean_in_market"] == es[f"mean_{leg}_in_market"], leg
    assert got.at["gross", "largest_abs"] == es["max_gross"] and got.at["beta_net", "largest_abs"] == es["max_abs_beta_net"]
    assert f"{es['mean_beta_net_in_market'] * 100:.1f}%" in chunks["exposure"]
    to = _table(d, "exposure__turnover.csv").set_index("stat")["value"]
    assert to["share_in_market_close"] == pytest.approx(summary["exposure"])  # the same definition as summary.json's
    assert to["turnover_ann"] == pytest.approx(X.turnover(trades, r, 1_000_000)["turnover_ann"])
    held = X.basket_held(trades, ["MSFT", "GOOGL", "META", "ORCL"], pd.read_csv(d / "events.csv"))
    bk = _table(d, "exposure__baskets.csv")
    assert bk["why"].fillna("").tolist() == held["why"].tolist() and "announcing company: MSFT (msft_openai_multibillion)" in chunks["exposure"]

    tt = TL.tail_table(r, exp)
    got = _table(d, "tails__tail-stats.csv").set_index("stat")
    for series in ("strategy", "strategy_in_market", "amzn", "peer_basket", "benchmark"):
        for k in ("n", "skew", "kurtosis", "var_95", "cvar_95", "worst_day", "best_year"):
            assert got.at[k, series] == pytest.approx(tt.at[series, k], rel=1e-12), (series, k)
    assert got.at["worst_day", "amzn_when"] == tt.at["amzn", "worst_day_date"]
    var = tt.at["strategy_in_market", "var_95"]
    assert f"{var * 100:.2f}%" in chunks["tails"] and f"95% VaR {var * 100:+.2f}%" not in chunks["tails"]  # in the table (the figure is a PNG)

    pj = json.loads((d / "placebo.json").read_text())
    pl = _table(d, "placebo__placebo-stats.csv").set_index("stat")["value"]
    assert pl["placebo_p"] == pj["placebo_p"] == summary["placebo_p"] and pl["placebo_q95"] == pj["placebo_q95"]
    assert pl["beaten"] == pytest.approx(pj["actual_percentile"] / 100)


def test_event_study_and_per_event_tables_are_the_run_files(live_run):
    import json

    d, chunks = live_run
    study = pd.read_csv(d / "study.csv", keep_default_na=False, na_values=[""])
    for name, model in (("caar-tests", "peer_adjusted"), ("caar-tests-market-model", "market_model"), ("caar-tests-market-adjusted", "market_adjusted")):
        got, want = _table(d, f"event-study__{name}.csv"), study[study["model"] == model].reset_index(drop=True)
        assert len(got) == len(want) == 88 and (got["model"] == model).all()
        for c in ("n", "caar", "t_bmp", "p_bmp", "q_bmp", "mean_bhar", "t_skew", "q_skew"):
            assert _eq(got[c], want[c]), (name, c)
    drift = _table(d, "event-study__pre-event-drift.csv")
    assert (drift["window"] == "-5:-1").all() and len(drift) == 9
    pa = study[(study["model"] == "peer_adjusted") & (study["group"] == "all") & (study["window"] == "-5:-1")].iloc[0]
    # the pre-event drift test is called out in the intro with its numbers
    assert f"peer-adjusted {pa['caar']:.2%} (n={int(pa['n'])}, BMP t {pa['t_bmp']:.2f}, p {pa['p_bmp']:.3f}, q {pa['q_bmp']:.3f})" in chunks["event-study"]
    sr = json.loads((d / "study.json").read_text())["signal_regressions"]["regressions"]
    got = _table(d, "event-study__signal-regressions.csv")
    assert len(got) == sum(max(1, len(r.get("terms") or {})) for r in sr) and got["note"].tolist() == [r.get("note", "") for r in sr]

    ec = pd.read_csv(d / "event_car.csv")
    ec = ec[(ec["model"] == "peer_adjusted") & (ec["window"] == "0:1")].set_index("event_id")
    pe = _table(d, "per-event__returns.csv").set_index("event_id")
    assert len(pe) == 45 and set(pe.index) == set(ec.index)
    for c in ("car", "scar", "p"):
        assert _eq(pe[f"{c}_0_1"], ec.loc[pe.index, c]), c
    g = ec.loc["googl_anthropic_2b_2023"]
    car, scar, p = f"{g['car'] * 100:.2f}%", f"{g['scar']:.2f}", f"{g['p']:.3f}"
    assert f'{car}</td><td class="">{scar}</td><td class="">{p}</td>' in chunks["per-event"]


def test_in_out_sample_split_at_live_start(live_run):
    import json

    from backtests.stats import rolling_stats as RS

    d, chunks = live_run
    summary = json.loads((d / "summary.json").read_text())
    r = pd.read_csv(d / "returns.csv", index_col="date", parse_dates=["date"])
    exp = pd.read_csv(d / "exposure.csv", index_col="date", parse_dates=["date"])
    sm = RS.split_metrics(r, exp, LIVE)
    got = _table(d, "in-out-sample__split.csv").set_index("metric")
    assert list(got.columns[1:]) == ["all", "before", "after"]
    for period in ("all", "before", "after"):
        assert _eq(got.loc[[k for k in got.index], period], [sm.at[period, k] for k in got.index]), period
    assert got.at["n", "before"] + got.at["n", "after"] == got.at["n", "all"] == len(r)
    for k in ("total_return", "sharpe", "max_drawdown", "excess_total_return", "information_ratio"):
        assert got.at[k, "all"] == pytest.approx(summary[k], rel=1e-9, abs=1e-12), k
    assert f"Before and after the live start {LIVE}" in chunks["in-out-sample"] and "from report.live_start in config.yaml" in chunks["in-out-sample"]
    assert "No live start is set" not in chunks["in-out-sample"]
    assert f"before live start (in-sample), {summary['start']} to 2024-12-31" in chunks["in-out-sample"]


def test_tearsheet_live_start_option(live_run, tmp_path, capsys):
    d, _ = live_run
    copy = tmp_path / "copy"
    shutil.copytree(d, copy)
    cfg = (copy / "config.yaml").read_bytes()
    before = {p.relative_to(copy): p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    capsys.readouterr()
    for bad, needle in (("2030-01-01", "outside the run period"), ("2022-11-01", "outside the run period"), ("1/2/2025", "not a date")):
        assert main(["tearsheet", str(copy), "--live-start", bad, "--quiet"]) == 2
        err = capsys.readouterr().err
        assert "--live-start" in err and needle in err and "Traceback" not in err, err
    assert {p.relative_to(copy): p.read_bytes() for p in copy.rglob("*") if p.is_file()} == before  # nothing written
    assert main(["tearsheet", str(copy), "--live-start", "2026-01-02", "--quiet"]) == 0
    html = (copy / "tearsheet.html").read_text()
    assert "Before and after the live start 2026-01-02" in html and "2026-01-02 (from --live-start)" in html
    split = _table(copy, "in-out-sample__split.csv").set_index("metric")
    assert split.at["n", "after"] == (pd.read_csv(copy / "returns.csv")["date"] >= "2026-01-02").sum()
    assert (copy / "config.yaml").read_bytes() == cfg  # the option changes this sheet, not the run's config


def test_figures_drawn_in_workers_are_the_same_as_drawn_here(live_run):
    run = TS.load_run(live_run[0])
    serial = TS.build_sections(run, workers=1)
    parallel = TS.build_sections(run, workers=2)
    assert [(f.name, f.png) for s in serial for f in s.figures] == [(f.name, f.png) for s in parallel for f in s.figures]
    assert [f.name for s in parallel for f in s.figures] == [f for f in FIGURES] and all(f.pending is None for s in parallel for f in s.figures)
    assert TS.build_sections(run, workers=2)[0].figures[0].png[:8] == b"\x89PNG\r\n\x1a\n"


def test_trades_without_event_ids_raise_no_pandas_warning():
    """A buy-and-hold run's trades.csv has an empty event_ids column (read as float NaN); filling it with text warned
    (Pandas4Warning: an error in a later pandas) in the trade and cost statistics the sheet shows."""
    import warnings

    from backtests.stats import costs as C
    from backtests.stats import trade_stats as TRS

    tr = pd.DataFrame({"episode": [1], "event_ids": [np.nan], "side": [1], "entry": ["2024-01-02"], "exit": ["2024-12-31"], "sessions_held": [250],
                       "excess_return": [np.nan], "return_on_gross": [0.1], "pnl_net": [1000.0], "pnl_gross": [1010.0], "commission": [10.0],
                       "slippage": [5.0], "borrow": [0.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert TRS.trade_frame(tr)["event_ids"].tolist() == [""] and C.costs_by_trade(tr)["event_ids"].tolist() == [""]


def test_building_leaves_the_garbage_collector_as_it_found_it(live_run):
    """build_sections freezes the objects alive before it (gc.freeze: no full collection walks the imported
    modules again) and unfreezes them after, but leaves a caller's own freeze alone."""
    import gc

    run = TS.load_run(live_run[0])
    assert gc.get_freeze_count() == 0
    TS.build_sections(run, workers=1)
    assert gc.get_freeze_count() == 0
    gc.freeze()
    try:
        n = gc.get_freeze_count()
        TS.build_sections(run, workers=1)
        assert 0 < gc.get_freeze_count() <= n  # still frozen, nothing more frozen (frozen objects may die meanwhile)
    finally:
        gc.unfreeze()


def test_pausing_the_garbage_collector_restores_its_state():
    import gc

    assert gc.isenabled()
    with TS._gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        with TS._gc_paused():
            raise RuntimeError("layout failed")
    assert gc.isenabled()
    gc.disable()
    try:
        with TS._gc_paused():
            pass
        assert not gc.isenabled()  # the caller's choice is kept
    finally:
        gc.enable()


def test_key_metrics_carry_the_information_ratio_and_trades_say_how_concentrated_they_are(live_run):
    """The information ratio of DESIGN.md's excess is a summary.json metric: the metrics table shows it (from
    summary.json for the strategy); the trade section states what the best trade carries of the total."""
    d, sections = live_run
    summary = json.loads((d / "summary.json").read_text())
    m = pd.read_csv(d / "tables" / "metrics__key-metrics.csv").set_index("metric")
    assert m.at["information_ratio", "strategy"] == pytest.approx(summary["information_ratio"], rel=1e-12)
    trades = pd.read_csv(d / "trades.csv")
    best = trades.loc[trades["pnl_net"].idxmax()]
    assert f"the best trade (#{best['episode']}) made {best['pnl_net']:,.0f} USD net of costs" in sections["trade-stats"]


def test_browser_renders_the_live_start_sheet_whole(live_run, tmp_path):
    """The sheet with a live start (the before/after table and the lines at the split) renders every image and
    section in Chromium too."""
    chromium = browser_or_skip()
    d, sections = live_run
    assert "before" in sections["in-out-sample"] and LIVE in sections["in-out-sample"]
    page = tmp_path / "check.html"
    page.write_text((d / "tearsheet.html").read_text().replace("</body>", CHECKER + "</body>"))
    dom = subprocess.run([chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--dump-dom",
                          page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    m = re.search(r"images=(\d+) rendered=(\d+) pwned=(\w+) title=([^<\n]*)\nsections=([a-z,-]*)", dom)
    assert m, dom[-2000:]
    assert int(m.group(1)) == int(m.group(2)) >= 10 and m.group(5).split(",") == list(S.SECTION_IDS)
