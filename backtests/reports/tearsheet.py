"""Assembling a tear sheet from a run directory alone (no re-run).

:func:`build_tearsheet` reads the run directory, computes the frames
(:mod:`backtests.reports.tearframes`), draws the figures (:mod:`backtests.reports.figures`),
and writes ``figures/*.png``, a self-contained ``tearsheet.html`` (Jinja2 with
autoescape; figures embedded as base64 PNG; no scripts, no external fonts)
and, on request, a multi-page ``tearsheet.pdf``. Files are written to
temporary names and moved into place, so a failure leaves the previous tear
sheet intact.
"""
from __future__ import annotations

import base64
import io
import json
import os
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from jinja2 import Environment, FileSystemLoader, select_autoescape
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from backtests.reports import figures as F
from backtests.config import position_label
from backtests.reports import tearframes as T
from events.errors import InputError, Problem

REQUIRED = ("config.yaml", "summary.json", "returns.csv", "trades.csv", "events.csv")
ROLL_WINDOW = 126


@dataclass
class RunData:
    path: Path
    config: dict
    summary: dict
    manifest: dict
    returns: pd.DataFrame
    trades: pd.DataFrame
    events: pd.DataFrame
    exposure: pd.Series | None
    signals: pd.DataFrame | None
    study: pd.DataFrame | None
    ar: pd.DataFrame | None
    per_event: pd.DataFrame | None = None
    placebo: pd.DataFrame | None = None
    placebo_stats: dict | None = None


def load_run(run_dir: str | Path) -> RunData:
    """Read the files of a run directory; :class:`InputError` if it is not one."""
    d = Path(run_dir)
    if not d.is_dir():
        raise InputError(Problem("not a directory", path=str(d), expected="a run directory written by 'aibt run'"))
    missing = [f for f in REQUIRED if not (d / f).exists()]
    if missing:
        raise InputError(Problem(f"missing {', '.join(missing)}", path=str(d), expected="a run directory written by 'aibt run'"))

    def csv(name, **kw):
        p = d / name
        return pd.read_csv(p, **kw) if p.exists() else None

    try:
        returns = pd.read_csv(d / "returns.csv", index_col="date", parse_dates=["date"])
        exp = csv("exposure.csv", index_col="date", parse_dates=["date"])
        sig = csv("signals.csv", index_col="date", parse_dates=["date"])
        return RunData(
            d, yaml.safe_load((d / "config.yaml").read_text()), json.loads((d / "summary.json").read_text()),
            json.loads((d / "manifest.json").read_text()) if (d / "manifest.json").exists() else {},
            returns, pd.read_csv(d / "trades.csv"), pd.read_csv(d / "events.csv", keep_default_na=False, na_values=[""]),
            exp["exposure"] if exp is not None else None, sig, csv("study.csv"), csv("abnormal_returns.csv"),
            csv("per_event.csv", keep_default_na=False, na_values=[""]), csv("placebo.csv"),
            json.loads((d / "placebo.json").read_text()) if (d / "placebo.json").exists() else None,
        )
    except (ValueError, KeyError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InputError(Problem(f"cannot read the run files: {exc}", path=str(d), expected="files as written by 'aibt run'"))


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def make_figures(run: RunData) -> list[tuple[str, str, Figure, str]]:
    """(name, title, figure, caption) for every figure of the tear sheet."""
    r = run.returns
    cfg = run.config
    u = cfg["universe"]
    names = {"amzn": u["target"], "benchmark": f"Benchmark ({u['benchmark']})"}
    src = f"Source: aibt run '{cfg['name']}', {run.summary['start']} to {run.summary['end']}; bundled daily total-return prices."
    out = [
        ("cumulative_returns", "Cumulative returns", F.cumulative_returns(T.cumulative(r), src, names),
         f"Growth of 1 invested in the strategy, {u['target']}, the equal-weight peer basket and {u['benchmark']}; total return, log scale."),
        ("drawdown", "Drawdown", F.underwater(T.drawdowns(r), src, names), "Fall from the running peak of cumulative wealth, in percent."),
        ("rolling", "Rolling Sharpe and beta", F.rolling_sharpe_beta(T.rolling(r, ROLL_WINDOW), ROLL_WINDOW, src, names),
         f"{ROLL_WINDOW}-session windows (about six months); Sharpe annualised with 252 sessions; beta by OLS on the peer basket."),
        ("monthly_returns", "Monthly returns", F.monthly_heatmap(T.monthly_table(r["strategy"]), src), "Compounded strategy return per calendar month, percent."),
        ("yearly_returns", "Yearly returns", F.yearly_bars(T.yearly_table(r), src, names), "Compounded return per calendar year (partial years at the ends), percent."),
    ]
    if run.ar is not None and len(run.ar):
        lo = int(run.ar["day"].min())
        paths = T.caar_paths(run.ar, run.events, lo=lo)
    if run.ar is not None and len(run.ar) and len(paths):
        out.append(("caar_by_category", "Event-window CAAR", F.caar_by_category(paths, src + " Event study: peer-adjusted model."),
                    f"Mean cumulative abnormal return of the target against the peer basket, cumulated from day {lo}, by event category "
                    "(events counted in every category they hold), with a 95% band from the cross-sectional standard error."))
    if _has_traded_windows(run):
        pe = T.per_event_table(run.events, run.per_event).rename(columns={"excess_traded": "excess"}).dropna(subset=["excess"])
        out.append(("excess_distribution", "Per-event excess returns", F.excess_distribution(pe, src, "entry fill to exit fill"),
                    f"{u['target']} minus the event's own hedge basket, from each event's entry fill to its exit fill (the part a trade could earn; "
                    "the overnight gap before the first fill is left out), for every event unit with a legal entry and exit in the run."))
    else:  # a run directory from before per_event.csv existed
        pe = T.per_event_returns(run.events, r)
        out.append(("excess_distribution", "Per-event excess returns", F.excess_distribution(pe, src, "0:1"),
                    "AMZN minus the peer basket, compounded over day 0 and day +1 (close to close), for every selected event in the run period."))
    if run.signals is not None and len(run.signals):
        ev = run.events
        marks = pd.concat([
            pd.DataFrame({"day0": run.signals.index[run.signals["release"] == 1] if "release" in run.signals else [], "kind": "earnings"}),
            pd.DataFrame({"day0": pd.to_datetime(ev.loc[(ev["category"] != "earnings") & ev["traded"].astype(bool), "reaction_session"]), "kind": "ai_infra"}),
        ])
        marks = marks[(marks["day0"] >= r.index[0]) & (marks["day0"] <= r.index[-1])]
        out.append(("signals_timeline", "Signals timeline", F.signal_timeline(run.signals, marks, src + " Fundamentals: bundled AMZN filings."),
                    "AWS operating income TTM over Amazon capex TTM, and AWS backlog growth, each as it was known at every session "
                    "(each input from the session after the document that first published it: the release, or the 10-Q/10-K for figures "
                    "only found there; gaps where an input is missing or not yet public; see DATA.md)."))
    if run.placebo is not None and run.placebo_stats:
        ps = run.placebo_stats
        out.append(("placebo", "Placebo null", F.placebo_distribution(run.placebo["total_return"].to_numpy(), ps["actual_total_return"], ps["placebo_p"],
                                                                       ps["placebo_n"], src, ps.get("placebo_p_conservative")),
                    f"Total return after costs of {ps['placebo_n']} placebo runs: the strategy's own holdings (lengths, sides, hedge baskets) placed at "
                    f"seeded random sessions (seed {ps['seed']}) that touch no session from {ps.get('before', 0)} before to {ps.get('after', 0)} after "
                    f"day 0 of any of the target's {ps.get('events_avoided', '?')} calendar events or releases, and executed like the strategy. "
                    f"The strategy beats {ps['actual_percentile']:.1f}% of them; placebo p = {ps['placebo_p']:.3f} (share of placebo runs at least as good)."))
    if run.exposure is not None:
        out.append(("exposure", "Exposure", F.exposure(run.exposure, src), "Sum of absolute position values over portfolio value at each close."))
    return out


def _fmt(v, kind="pct", digits=2):
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return {"text": "-", "cls": ""}
    if kind == "pct":
        return {"text": f"{v * 100:.{digits}f}%", "cls": "neg" if v < 0 else ""}
    if kind == "int":
        return {"text": f"{int(v)}", "cls": ""}
    if kind == "p":
        return {"text": f"{v:.3f}", "cls": ""}
    if kind == "money":
        return {"text": f"{v:,.0f}", "cls": "neg" if v < 0 else ""}
    return {"text": f"{v:.{digits}f}", "cls": "neg" if v < 0 else ""}


METRIC_ROWS = [
    ("total_return", "total return", "pct"), ("cagr", "CAGR", "pct"), ("ann_vol", "annual volatility", "pct"), ("sharpe", "Sharpe", "num"),
    ("sortino", "Sortino", "num"), ("max_drawdown", "max drawdown", "pct"), ("calmar", "Calmar", "num"),
    ("excess_total_return", "excess vs basket (same net)", "pct"), ("alpha_ann", "alpha (annual)", "pct"), ("beta", "beta to peer basket", "num"),
    ("alpha_tstat_hac", "alpha t (HAC)", "num"), ("n_trades", "trades", "int"), ("n_events", "events", "int"), ("hit_rate", "hit rate", "pct"),
    ("exposure", "time in market", "pct"), ("placebo_p", "placebo p", "p"),
]


def context(run: RunData, figs: list) -> dict:
    cfg, m = run.config, run.manifest
    u = cfg["universe"]
    mt = T.metrics_table(run.returns, run.summary)
    mt["strategy"] = pd.Series({k: run.summary.get(k, np.nan) for k in mt.index}).astype(float)
    metrics = [{"name": label, "cells": [_fmt(mt.at[key, c], kind) for c in T.SERIES]} for key, label, kind in METRIC_ROWS]
    study_rows, study_model, n_tests, n_models = [], "peer_adjusted", 0, 0
    study_tests = (("t_cs", "p_cs"), ("t_patell", "p_patell"), ("t_bmp", "p_bmp"), ("t_kp", "p_kp"), ("z_rank", "p_rank"), ("z_sign", "p_sign"),
                   ("mean_bhar", None), ("t_skew", "p_skew"))
    if run.study is not None and len(run.study):
        qcols = [p.replace("p_", "q_") for _, p in study_tests if p]
        st = run.study.copy()
        for c in [c for tp in study_tests for c in tp if c] + qcols:  # study.csv of older runs: no q, no BHAR test
            if c not in st:
                st[c] = np.nan
        n_tests = int(np.isfinite(st[qcols].to_numpy(float)).sum())  # the Benjamini-Hochberg family
        n_models = st["model"].nunique()
        for _, x in st[st["model"] == study_model].iterrows():
            row = [{"text": x["group"], "cls": "l"}, {"text": x["window"], "cls": "l"}, _fmt(x["n"], "int"), _fmt(x["caar"])]
            for t, p in study_tests:
                if p is None:
                    row.append(_fmt(x[t]))
                    continue
                c, q = _fmt(x[t], "num"), x[p.replace("p_", "q_")]
                if np.isfinite(x[p]):
                    qt = f"; q {q:.3f}" if np.isfinite(q) else ""
                    c = {"text": f"{c['text']} ({x[p]:.3f}{qt})", "cls": "sig" if np.isfinite(q) and q < 0.05 else ""}
                row.append(c)
            study_rows.append(row)
    if _has_traded_windows(run):
        pe = T.per_event_table(run.events, run.per_event)
        per_event = [{"event_id": e.event_id, "category": e.category, "reaction_session": e.reaction_session,
                      "window": f"{e.entry} to {e.exit}" if e.entry else "-", "gap": _fmt(e.excess_gap), "amzn": _fmt(e.amzn_traded),
                      "peer_basket": _fmt(e.basket_traded), "excess": _fmt(e.excess_traded), "reason": e.reason, "headline": e.headline}
                     for e in pe.itertuples()]
    else:
        pe = T.per_event_returns(run.events, run.returns)
        head = run.events.set_index("event_id")["headline"] if "headline" in run.events else pd.Series(dtype=object)
        per_event = [{"event_id": e.event_id, "category": e.category, "reaction_session": e.reaction_session, "window": "0:1", "gap": _fmt(None),
                      "amzn": _fmt(e.amzn), "peer_basket": _fmt(e.peer_basket), "excess": _fmt(e.excess), "reason": e.reason,
                      "headline": head.get(e.event_id, "")} for e in pe.itertuples()]
    tcols = [("episode", "int"), ("event_ids", "str"), ("side", "int"), ("entry", "str"), ("exit", "str"), ("sessions_held", "int"),
             ("pnl_net", "money"), ("commission", "money"), ("borrow", "money"), ("return_on_gross", "pct"), ("excess_return", "pct")]
    trades = [[_fmt(t[c], k) if k != "str" else {"text": "" if pd.isna(t[c]) else str(t[c]), "cls": "l" if c == "event_ids" else ""} for c, k in tcols]
              for _, t in run.trades.iterrows()]
    dd = T.worst_drawdowns(run.returns["strategy"])
    drawdowns = [{"peak": d.peak.date(), "trough": d.trough.date(), "recovery": d.recovery.date() if pd.notna(d.recovery) else "not recovered",
                  "depth": f"{d.depth * 100:.2f}%", "sessions": d.sessions} for d in dd.itertuples()]
    ev = cfg["events"]
    pk = m.get("packages", {})
    fig_ctx = []
    for name, title, png, caption in figs:
        w, h = _png_size(png)
        fig_ctx.append({"name": name, "title": title, "b64": base64.b64encode(png).decode(), "caption": caption, "width": w, "height": h})
    return {
        "title": f"{cfg['name']}: {position_label(cfg)}",
        "description": (cfg.get("description") or "").strip(),
        "strategy": cfg["strategy"]["kind"],
        "params": ", ".join(f"{k}={v}" for k, v in cfg["strategy"]["params"].items()),
        "period": f"{run.summary['start']} to {run.summary['end']} ({len(run.returns)} sessions)",
        "universe": u,
        "costs": f"commission {cfg['costs']['commission_bps']} bps and slippage {cfg['costs']['slippage_bps']} bps per side, borrow {cfg['costs']['borrow_bps']} bps a year; "
                 f"fills at the {cfg['portfolio']['fill']}; gross {cfg['portfolio']['gross']}, hedge {cfg['portfolio']['hedge']}",
        "notices": _notices(run, figs),
        "events_desc": f"categories {', '.join(ev['categories'] or ['all'])}; affecting {', '.join(ev['tickers'] or ['any'])}; clusters '{ev['clusters']}'; "
                       + _counts_line(run.summary),
        "version": m.get("aibt_version", "?"), "commit": m.get("git_commit"), "python": m.get("python", "?"),
        "packages": ", ".join(f"{k} {v}" for k, v in pk.items() if v),
        "started": m.get("started_utc", "?"), "finished": m.get("finished_utc", "?"), "config_hash": m.get("config_hash", ""),
        "fingerprints": sorted(m.get("data_sha256", {}).items()),
        "metric_cols": ["Strategy", u["target"], "Peer basket", f"Benchmark ({u['benchmark']})"],
        "metrics": metrics, "figures": fig_ctx,
        "study_model": "AMZN minus the peer basket (peer-adjusted)", "study_rows": study_rows,
        "study_header": ["group", "window", "n", "CAAR", "t cs (p; q)", "Patell (p; q)", "BMP (p; q)", "KP (p; q)", "rank (p; q)", "sign (p; q)",
                         "mean BHAR", "skew-adj. t (p; q)"],
        "study_note": "Cross-sectional t (Brown-Warner 1985), Patell (1976), BMP (Boehmer-Musumeci-Poulsen 1991), BMP with the Kolari-Pynnonen (2010) "
                      "adjustment for overlapping windows, Corrado (1989) rank and Cowan (1992) generalized sign on the CAR windows; on the BHAR "
                      "windows the mean buy-and-hold abnormal return and the skewness-adjusted t (Lyon-Barber-Tsai 1999) adjusted for overlapping windows (Kolari-Pynnonen factor), tested only for 10 or more events. "
                      f"Two-sided p and Benjamini-Hochberg q in brackets: q adjusts over all {n_tests} tests run in study.csv ({n_models} models, "
                      "every group, window and test); bold means adjusted significance, q < 0.05. The basket is each event's hedge basket "
                      "(the peers minus its announcing company); unknown-time events count only in windows reaching day +1.",
        "event_window": "0:1", "per_event": per_event,
        "trade_header": ["#", "events", "side", "entry", "exit", "sessions", "net P&L (USD)", "commission", "borrow", "return on gross", f"{u['target']} - basket"],
        "trades": trades, "drawdowns": drawdowns,
    }


def _has_traded_windows(run: RunData) -> bool:
    return run.per_event is not None and "selected" in run.events and "unit" in run.events


def _notices(run: RunData, figs: list) -> list[str]:
    """What a reader must know before the numbers: nothing traded, figures left out."""
    from backtests.stats.counts import why_nothing_traded

    out = []
    s = run.summary
    if not s.get("n_trades"):
        ev = run.events
        if "selected" in ev:
            counts = {"trades": 0, "selected": int(ev["selected"].astype(bool).sum()), "events": int(s.get("n_events") or 0),
                      "tradable": int(s.get("n_events_tradable") or 0)}
            out.append(why_nothing_traded(ev, counts).capitalize() + ".")
        else:
            out.append("Nothing was traded.")
    names = {f[0] for f in figs}
    if run.ar is not None and "caar_by_category" not in names:
        out.append("No CAAR figure: fewer than 3 events have abnormal returns for the event study.")
    return out


def _counts_line(summary: dict) -> str:
    """The run's event counts (backtests.stats.counts), as the CLI prints them."""
    from backtests.stats.counts import describe

    keys = {"calendar": "n_events_calendar", "selected": "n_events_selected", "events": "n_events", "tradable": "n_events_tradable",
            "traded": "n_events_traded", "trades": "n_trades"}
    if not all(summary.get(v) is not None for v in keys.values()):
        return f"{int(summary.get('n_events') or 0)} events after the cluster rule, {int(summary.get('n_trades') or 0)} trades"
    return describe({k: int(summary[v]) for k, v in keys.items()})


def _png_size(png: bytes) -> tuple[int, int]:
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def render_html(ctx: dict) -> str:
    env = Environment(loader=FileSystemLoader(str(resources.files("backtests.reports") / "templates")), autoescape=select_autoescape(["html", "j2"]))
    return env.get_template("tearsheet.html.j2").render(**ctx)


def write_pdf(path: Path, figs: list, ctx: dict) -> None:
    """A multi-page PDF: a title page with the header and key metrics, then one figure per page."""
    with PdfPages(path) as pdf:
        fig = Figure(figsize=(8.27, 11.69))
        ax = fig.add_axes([0.05, 0.05, 0.9, 0.9])
        ax.axis("off")
        lines = [ctx["title"], "", f"Strategy: {ctx['strategy']} ({ctx['params']})", f"Period: {ctx['period']}", f"Costs: {ctx['costs']}",
                 f"aibt {ctx['version']}, run {ctx['started']}"]
        import textwrap

        ax.text(0, 1, "\n".join(textwrap.fill(x, 100) if x else x for x in lines), va="top", fontsize=9)
        cells = [[m["name"]] + [c["text"] for c in m["cells"]] for m in ctx["metrics"]]
        tbl = ax.table(cellText=cells, colLabels=["metric"] + ctx["metric_cols"], loc="center", cellLoc="right")
        tbl.auto_set_font_size(False)
        tbl.set_fontsize(8)
        tbl.scale(1, 1.3)
        pdf.savefig(fig)
        for _, title, f, caption in figs:
            pdf.savefig(f)
        d = pdf.infodict()
        d["Title"] = ctx["title"]
        d["Creator"] = f"aibt {ctx['version']}"


def build_tearsheet(run_dir: str | Path, pdf: bool = False) -> dict[str, Path]:
    """Build the tear sheet of a run directory; returns the paths written."""
    run = load_run(run_dir)
    d = run.path
    drawn = make_figures(run)
    pngs = [(name, title, _png(fig), caption) for name, title, fig, caption in drawn]
    ctx = context(run, pngs)
    html = render_html(ctx)
    tmp_fig = d / f".figures.tmp-{os.getpid()}"
    shutil.rmtree(tmp_fig, ignore_errors=True)
    tmp_fig.mkdir()
    written = {}
    try:
        for name, _, png, _ in pngs:
            (tmp_fig / f"{name}.png").write_bytes(png)
        tmp_html = d / f".tearsheet.html.tmp-{os.getpid()}"
        tmp_html.write_text(html, encoding="utf-8")
        if pdf:
            tmp_pdf = d / f".tearsheet.pdf.tmp-{os.getpid()}"
            write_pdf(tmp_pdf, drawn, ctx)
        old = d / f".figures.old-{os.getpid()}"
        if (d / "figures").exists():
            (d / "figures").rename(old)
        tmp_fig.rename(d / "figures")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp_html, d / "tearsheet.html")
        written["html"] = d / "tearsheet.html"
        written["figures"] = d / "figures"
        if pdf:
            os.replace(tmp_pdf, d / "tearsheet.pdf")
            written["pdf"] = d / "tearsheet.pdf"
    except BaseException:
        shutil.rmtree(tmp_fig, ignore_errors=True)
        for p in d.glob(".tearsheet.*.tmp-*"):
            p.unlink(missing_ok=True)
        raise
    return written
