"""Tear sheets: figure functions on known frames, the pure frames, the assembled
HTML/PDF, escaping of user text, and a real browser (headless Chromium)."""
from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.patches import Rectangle

from backtests.reports import figures as F
from backtests.reports import tearframes as T
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


FIGURES = ["cumulative_returns", "drawdown", "rolling", "monthly_returns", "yearly_returns", "caar_by_category", "excess_distribution",
           "signals_timeline", "placebo", "exposure"]


def test_run_writes_self_contained_html_and_figures(run_dir):
    html = (run_dir / "tearsheet.html").read_text()
    pngs = sorted(p.name for p in (run_dir / "figures").glob("*.png"))
    assert pngs == sorted(f"{n}.png" for n in FIGURES)
    assert html.count('<img src="data:image/png;base64,') == len(FIGURES) == 10
    assert "<script" not in html and "<link" not in html and "@import" not in html and "url(" not in html
    assert not re.search(r'(src|href)="https?:', html)
    for needle in ("Key metrics", "Cumulative returns", "Event study", "Per-event returns", "Trades", "Worst drawdowns", "sha256"):
        assert needle in html


def test_user_text_is_escaped(run_dir):
    html = (run_dir / "tearsheet.html").read_text()
    assert "&lt;script&gt;window.pwned=1" in html and "<b>bold</b>" not in html
    assert "hostile&lt;i&gt;id&lt;/i&gt;" in html and "<i>id</i>" not in html


def test_tearsheet_command_rebuilds_from_the_directory_alone(run_dir, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    shutil.rmtree(copy / "figures")
    (copy / "tearsheet.html").unlink()
    assert main(["tearsheet", str(copy), "--pdf"]) == 0
    assert sorted(p.stem for p in (copy / "figures").glob("*.png")) == sorted(FIGURES)
    pdf = (copy / "tearsheet.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 11  # title page + 10 figures
    assert not list(copy.glob(".*tmp*"))
    assert main(["tearsheet", str(tmp_path / "nope")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_browser_renders_every_figure_and_runs_no_user_script(run_dir, tmp_path):
    chromium = browser_or_skip()
    page = tmp_path / "check.html"
    page.write_text((run_dir / "tearsheet.html").read_text().replace("</body>", CHECKER + "</body>"))
    prof = tmp_path / "profile"
    dom = subprocess.run([chromium, *FLAGS, f"--user-data-dir={prof}", "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    m = re.search(r"images=(\d+) rendered=(\d+) pwned=(\w+) title=([^<]*)", dom)
    assert m, dom[-2000:]
    assert m.group(1) == "10" and m.group(2) == "10" and m.group(3) == "no" and "pwned" not in m.group(4)
    shot = tmp_path / "shot.png"
    subprocess.run([chromium, *FLAGS, f"--user-data-dir={prof}", "--window-size=1280,4000", f"--screenshot={shot}", (run_dir / "tearsheet.html").as_uri()],
                   capture_output=True, timeout=120)
    from PIL import Image

    im = np.asarray(Image.open(shot).convert("L"))
    assert im.shape == (4000, 1280) and im.std() > 20  # a page with content, not a blank
