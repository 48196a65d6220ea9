"""Assembling a tear sheet from a run directory alone (no re-run).

:func:`build_tearsheet` reads the run directory (:func:`load_run`) and builds
one :class:`~backtests.reports.sections.Section` per id of DESIGN.md's list,
each from its own function of :data:`SECTIONS` (``RunData -> Section``): tables
of raw values from the pure frames (:mod:`backtests.reports.tearframes`,
:mod:`backtests.stats`), figures drawn by :mod:`backtests.reports.figures`.
It writes ``figures/*.png``, ``tables/<section-id>__<table-name>.csv`` (raw
values: fractions, not percent), a self-contained ``tearsheet.html`` (Jinja2
with autoescape; figures embedded as base64 PNG; no scripts, no external
fonts) and, on request, ``tearsheet.pdf``: the same HTML laid out by WeasyPrint
with the template's print CSS. Files are written to temporary names and moved
into place, so a failure leaves the previous tear sheet intact.

To add a section: write ``def x_section(run: RunData) -> Section`` (tables
and figures, or ``empty`` saying why there is nothing) and put it in
:data:`SECTIONS`; the template, the CSV files and the PDF follow.
"""
from __future__ import annotations

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
from matplotlib.figure import Figure

from backtests.reports import figures as F
from backtests.reports import sections as S
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


def figure(name: str, title: str, fig: Figure, caption: str) -> S.Figure:
    """A drawn matplotlib figure as a section figure (PNG at 100 dpi)."""
    return S.Figure(name, title, _png(fig), caption)


def _source(run: RunData) -> str:
    cfg = run.config
    return f"Source: aibt run '{cfg['name']}', {run.summary['start']} to {run.summary['end']}; bundled daily total-return prices."


def _names(run: RunData) -> dict:
    u = run.config["universe"]
    return {"amzn": u["target"], "benchmark": f"Benchmark ({u['benchmark']})"}


# ------------------------------------------------------------------ tables (pure: RunData in, Table out)
METRIC_ROWS = [
    ("total_return", "total return", "pct"), ("cagr", "CAGR", "pct"), ("ann_vol", "annual volatility", "pct"), ("sharpe", "Sharpe", "num"),
    ("sortino", "Sortino", "num"), ("max_drawdown", "max drawdown", "pct"), ("calmar", "Calmar", "num"),
    ("excess_total_return", "excess vs basket (same net)", "pct"), ("alpha_ann", "alpha (annual)", "pct"), ("beta", "beta to peer basket", "num"),
    ("alpha_tstat_hac", "alpha t (HAC)", "num"), ("n_trades", "trades", "int"), ("n_events", "events", "int"), ("hit_rate", "hit rate", "pct"),
    ("exposure", "time in market", "pct"), ("placebo_p", "placebo p", "p"),
]


def metrics_table(run: RunData) -> S.Table:
    """Key metrics, one row per metric: the strategy's from summary.json, the target's, the peer basket's and the
    benchmark's recomputed the same way (:func:`backtests.reports.tearframes.metrics_table`). Fractions for returns."""
    u = run.config["universe"]
    mt = T.metrics_table(run.returns, run.summary)
    mt["strategy"] = pd.Series({k: run.summary.get(k, np.nan) for k in mt.index}).astype(float)
    kinds = {k: kind for k, _, kind in METRIC_ROWS}
    frame = pd.DataFrame({"metric": [k for k, _, _ in METRIC_ROWS], "label": [lab for _, lab, _ in METRIC_ROWS]})
    for c in T.SERIES:
        frame[c] = [float(mt.at[k, c]) if pd.notna(mt.at[k, c]) else np.nan for k, _, _ in METRIC_ROWS]

    def by_row(row, c):
        return S.format_cell(row[c], kinds[row["metric"]])

    return S.Table("key-metrics", "Key metrics", frame, {"label": "text", **{c: by_row for c in T.SERIES}},
                   {"label": "metric", "strategy": "Strategy", "amzn": u["target"], "peer_basket": "Peer basket",
                    "benchmark": f"Benchmark ({u['benchmark']})"})


TRADE_COLUMNS = {"episode": ("#", "int"), "event_ids": ("events", "text"), "side": ("side", "int"), "entry": ("entry", "text"),
                 "exit": ("exit", "text"), "sessions_held": ("sessions", "int"), "pnl_net": ("net P&L (USD)", "money"),
                 "commission": ("commission", "money"), "slippage": ("slippage", "money"), "borrow": ("borrow", "money"),
                 "return_on_gross": ("return on gross", "pct"), "excess_return": ("{target} - basket", "pct")}


def trades_table(run: RunData) -> S.Table:
    """trades.csv's position episodes, with the columns shown (money in USD, returns as fractions)."""
    target = run.config["universe"]["target"]
    cols = [c for c in TRADE_COLUMNS if c in run.trades]  # slippage is missing from the oldest run directories
    frame = run.trades[cols].reset_index(drop=True)
    return S.Table("trades", f"Trades ({len(frame)})", frame, {c: TRADE_COLUMNS[c][1] for c in cols},
                   {c: TRADE_COLUMNS[c][0].format(target=target) for c in cols},
                   note="Net P&L is after commission, slippage and borrow (all in USD). Return on gross is net P&L over the gross notional "
                        f"at the entry fill; {target} - basket is the target's return minus its hedge basket's from the entry fill to the exit "
                        "fill, not signed by the side and before costs.", long=len(frame) > 15)


STUDY_TESTS = (("t_cs", "p_cs", "t cs (p; q)"), ("t_patell", "p_patell", "Patell (p; q)"), ("t_bmp", "p_bmp", "BMP (p; q)"),
               ("t_kp", "p_kp", "KP (p; q)"), ("z_rank", "p_rank", "rank (p; q)"), ("z_sign", "p_sign", "sign (p; q)"),
               ("mean_bhar", None, "mean BHAR"), ("t_skew", "p_skew", "skew-adj. t (p; q)"))
STUDY_MODEL = "peer_adjusted"


def _stat_p_q(p: str):
    """A cell 'statistic (p; q)', bold (class ``sig``) only when the adjusted q < 0.05."""
    q = p.replace("p_", "q_")

    def cell(row, c):
        out = S.format_cell(row[c], "num")
        pv, qv = row[p], row[q]
        if np.isfinite(pv):
            qt = f"; q {qv:.3f}" if np.isfinite(qv) else ""
            out = {"text": f"{out['text']} ({pv:.3f}{qt})", "cls": "sig" if np.isfinite(qv) and qv < 0.05 else ""}
        return out

    return cell


def study_table(run: RunData) -> S.Table | None:
    """study.csv's rows of the peer-adjusted model (CAAR as a fraction, each test's statistic, two-sided p and
    Benjamini-Hochberg q over the whole study.csv); None without a study."""
    if run.study is None or not len(run.study):
        return None
    st = run.study.copy()
    names = [c for t, p, _ in STUDY_TESTS for c in ((t, p, p.replace("p_", "q_")) if p else (t,))]
    for c in names:  # study.csv of older runs: no q, no BHAR test
        if c not in st:
            st[c] = np.nan
    qcols = [p.replace("p_", "q_") for _, p, _ in STUDY_TESTS if p]
    n_tests = int(np.isfinite(st[qcols].to_numpy(float)).sum())  # the Benjamini-Hochberg family
    n_models = st["model"].nunique()
    frame = st.loc[st["model"] == STUDY_MODEL, ["model", "group", "window", "n", "caar", *names]].reset_index(drop=True)
    formats = {"group": "text", "window": "text", "n": "int", "caar": "pct"}
    formats.update({t: (_stat_p_q(p) if p else "pct") for t, p, _ in STUDY_TESTS})
    labels = {"caar": "CAAR", **{t: lab for t, _, lab in STUDY_TESTS}}
    target = run.config["universe"]["target"]
    note = ("Cross-sectional t (Brown-Warner 1985), Patell (1976), BMP (Boehmer-Musumeci-Poulsen 1991), BMP with the Kolari-Pynnonen (2010) "
            "adjustment for overlapping windows, Corrado (1989) rank and Cowan (1992) generalized sign on the CAR windows; on the BHAR "
            "windows the mean buy-and-hold abnormal return and the skewness-adjusted t (Lyon-Barber-Tsai 1999) adjusted for overlapping windows "
            "(Kolari-Pynnonen factor), tested only for 10 or more events. "
            f"Two-sided p and Benjamini-Hochberg q in brackets: q adjusts over all {n_tests} tests run in study.csv ({n_models} models, "
            "every group, window and test); bold means adjusted significance, q < 0.05. The basket is each event's hedge basket "
            "(the peers minus its announcing company); unknown-time events count only in windows reaching day +1.")
    return S.Table("caar-tests", f"CAAR and tests: {target} minus the peer basket (peer-adjusted)", frame, formats, labels, note, long=len(frame) > 15)


def per_event_table(run: RunData) -> S.Table:
    """One row per event unit: returns over its traded window (fractions; per_event.csv), or, for a run
    directory from before per_event.csv existed, day 0 to +1 close to close."""
    target = run.config["universe"]["target"]
    if _has_traded_windows(run):
        frame = T.per_event_table(run.events, run.per_event).reset_index(drop=True)

        def window(row, c):
            return {"text": f"{row['entry']} to {row['exit']}" if isinstance(row["entry"], str) and row["entry"] else "-", "cls": ""}

        formats = {"event_id": "text", "category": "text", "reaction_session": "text", "entry": window, "excess_gap": "pct",
                   "amzn_traded": "pct", "basket_traded": "pct", "excess_traded": "pct", "reason": "wrap", "headline": "wrap"}
        labels = {"event_id": "event", "reaction_session": "reaction session", "entry": "entry to exit", "excess_gap": "gap excess (not tradable)",
                  "amzn_traded": target, "basket_traded": "peer basket", "excess_traded": "excess", "reason": "traded or why not"}
        note = (f"Each event unit (same-session news merged) from its entry fill to its exit fill: {target}, its own hedge basket "
                "(announcing peers left out) and the excess. The gap column is the excess from the close before day 0 to the entry fill: "
                "part of the reaction that a trade filling at its first legal fill cannot earn, shown apart and not in the traded columns.")
    else:
        frame = T.per_event_returns(run.events, run.returns)
        head = run.events.set_index("event_id")["headline"] if "headline" in run.events else pd.Series(dtype=object)
        frame["headline"] = [head.get(e, "") for e in frame["event_id"]]
        formats = {"event_id": "text", "category": "text", "reaction_session": "text", "amzn": "pct", "peer_basket": "pct", "excess": "pct",
                   "reason": "wrap", "headline": "wrap"}
        labels = {"event_id": "event", "reaction_session": "reaction session", "amzn": target, "peer_basket": "peer basket",
                  "reason": "traded or why not"}
        note = f"{target} minus the peer basket, compounded over day 0 and day +1 (close to close); this run directory has no per_event.csv."
    return S.Table("returns", "Per-event returns over the traded window", frame, formats, labels, note, long=len(frame) > 15)


def drawdowns_table(run: RunData, top: int = 5) -> S.Table:
    """The strategy's ``top`` deepest drawdowns: peak, trough, recovery (empty if not recovered), depth (a negative
    fraction of the peak wealth), sessions from peak to trough."""
    dd = T.worst_drawdowns(run.returns["strategy"], top)
    frame = pd.DataFrame({"rank": range(1, len(dd) + 1), **{c: dd[c].to_numpy() if c in dd else [] for c in ("peak", "trough", "recovery", "depth", "sessions")}})
    for c in ("peak", "trough", "recovery"):
        frame[c] = pd.to_datetime(frame[c])

    def recovery(row, c):
        return {"text": "not recovered", "cls": ""} if pd.isna(row[c]) else S.format_cell(row[c], "date")

    return S.Table("worst", "Worst drawdowns", frame,
                   {"rank": "int", "peak": "date", "trough": "date", "recovery": recovery, "depth": "pct", "sessions": "int"},
                   {"rank": "#", "sessions": "sessions peak to trough"})


# ------------------------------------------------------------------ sections: one function each, RunData in, Section out
def metrics_section(run: RunData) -> S.Section:
    r, u, src, names = run.returns, run.config["universe"], _source(run), _names(run)
    return S.Section("metrics", "Key metrics", intro=(
        "Daily simple returns, 252 sessions a year, risk-free rate 0. Excess is the compounded daily excess over a peer-basket position of "
        "the same net exposure held into each session (about the strategy's own return when it is dollar neutral; the series minus the "
        "basket for the fully invested columns). Alpha and beta are against the peer basket; alpha t uses Newey-West (HAC) errors. "
        "Placebo p: the share of seeded placebo runs (the same holdings at random sessions away from events) at least as good as the strategy."),
        items=[
            metrics_table(run),
            figure("cumulative_returns", "Cumulative returns", F.cumulative_returns(T.cumulative(r), src, names),
                   f"Growth of 1 invested in the strategy, {u['target']}, the equal-weight peer basket and {u['benchmark']}; total return, log scale."),
            figure("monthly_returns", "Monthly returns", F.monthly_heatmap(T.monthly_table(r["strategy"]), src),
                   "Compounded strategy return per calendar month, percent."),
            figure("yearly_returns", "Yearly returns", F.yearly_bars(T.yearly_table(r), src, names),
                   "Compounded return per calendar year (partial years at the ends), percent."),
        ])


def trade_stats_section(run: RunData) -> S.Section:
    s = S.Section("trade-stats", "Trades", intro=(
        "One row per position episode (from an entry fill to the exit fill; events traded together share an episode). Side +1 is long the "
        "target and short its hedge basket, -1 the reverse."))
    if not len(run.trades):
        s.empty = _nothing_traded(run)
    else:
        s.items.append(trades_table(run))
    return s


def costs_section(run: RunData) -> S.Section:
    return S.Section("costs", "Costs", empty="Cost statistics are not part of this version of the tear sheet; each trade's commission, "
                                             "slippage and borrow (USD) are in the trades table and trades.csv.")


def exposure_section(run: RunData) -> S.Section:
    s = S.Section("exposure", "Exposure", intro="Gross exposure: the sum of absolute position values over portfolio value at each close.")
    if run.exposure is None:
        s.empty = "This run directory has no exposure.csv."
    else:
        s.items.append(figure("exposure", "Exposure", F.exposure(run.exposure, _source(run)),
                              "Sum of absolute position values over portfolio value at each close."))
    return s


def tails_section(run: RunData) -> S.Section:
    return S.Section("tails", "Tails", empty="Tail statistics (skew, kurtosis, VaR, CVaR) are not part of this version of the tear sheet.")


def placebo_section(run: RunData) -> S.Section:
    s = S.Section("placebo", "Placebo", intro=(
        "Did the event timing matter? The strategy's own holdings are placed at seeded random sessions away from events and executed "
        "like the strategy; placebo p is the share of those placebo runs whose total return after costs is at least the strategy's."))
    if run.placebo is None or not run.placebo_stats:
        cfg = run.config
        if not cfg.get("placebo", {}).get("enabled", True):
            s.empty = "No placebo: placebo.enabled is false in this run's config."
        elif cfg["strategy"]["kind"] == "buy_and_hold":
            s.empty = "No placebo: a buy-and-hold run has no event timing to move."
        elif not run.summary.get("n_trades"):
            s.empty = "No placebo: nothing was traded, so there are no holdings to place at random sessions."
        else:
            s.empty = "No placebo: this run directory has no placebo.csv and placebo.json."
        return s
    ps = run.placebo_stats
    s.items.append(figure("placebo", "Placebo null", F.placebo_distribution(run.placebo["total_return"].to_numpy(), ps["actual_total_return"],
                                                                           ps["placebo_p"], ps["placebo_n"], _source(run), ps.get("placebo_p_conservative")),
                          f"Total return after costs of {ps['placebo_n']} placebo runs: the strategy's own holdings (lengths, sides, hedge baskets) placed at "
                          f"seeded random sessions (seed {ps['seed']}) that touch no session from {ps.get('before', 0)} before to {ps.get('after', 0)} after "
                          f"day 0 of any of the target's {ps.get('events_avoided', '?')} calendar events or releases, and executed like the strategy. "
                          f"The strategy beats {ps['actual_percentile']:.1f}% of them; placebo p = {ps['placebo_p']:.3f} (share of placebo runs at least as good)."))
    return s


def event_study_section(run: RunData) -> S.Section:
    u, src = run.config["universe"], _source(run)
    s = S.Section("event-study", "Event study", intro=(
        f"Abnormal returns of {u['target']} around each event's reaction session (day 0), against each event's own hedge basket "
        "(peer-adjusted model), with the tests of study.csv. Returns are daily simple returns; CAAR is the mean cumulative abnormal "
        "return over the events of a group."))
    if run.ar is not None and len(run.ar):
        lo = int(run.ar["day"].min())
        paths = T.caar_paths(run.ar, run.events, lo=lo)
        if len(paths):
            s.items.append(figure("caar_by_category", "Event-window CAAR", F.caar_by_category(paths, src + " Event study: peer-adjusted model."),
                                  f"Mean cumulative abnormal return of the target against the peer basket, cumulated from day {lo}, by event category "
                                  "(events counted in every category they hold), with a 95% band from the cross-sectional standard error."))
        else:
            s.notes.append("No CAAR figure: fewer than 3 events have abnormal returns for the event study.")
    st = study_table(run)
    if st is not None:
        s.items.append(st)
    if run.signals is not None and len(run.signals):
        ev, r = run.events, run.returns
        marks = pd.concat([
            pd.DataFrame({"day0": run.signals.index[run.signals["release"] == 1] if "release" in run.signals else [], "kind": "earnings"}),
            pd.DataFrame({"day0": pd.to_datetime(ev.loc[(ev["category"] != "earnings") & ev["traded"].astype(bool), "reaction_session"]), "kind": "ai_infra"}),
        ])
        marks = marks[(marks["day0"] >= r.index[0]) & (marks["day0"] <= r.index[-1])]
        s.items.append(figure("signals_timeline", "Signals timeline", F.signal_timeline(run.signals, marks, src + " Fundamentals: bundled AMZN filings."),
                              "AWS operating income TTM over Amazon capex TTM, and AWS backlog growth, each as it was known at every session "
                              "(each input from the session after the document that first published it: the release, or the 10-Q/10-K for figures "
                              "only found there; gaps where an input is missing or not yet public; see DATA.md)."))
    if not s.items:
        s.empty = ("No event study: study.enabled is false in this run's config." if not run.config.get("study", {}).get("enabled", True)
                   else "No event study: this run directory has no study.csv or abnormal_returns.csv.")
    return s


def per_event_section(run: RunData) -> S.Section:
    target = run.config["universe"]["target"]
    s = S.Section("per-event", "Per-event returns", intro=(
        f"What each event unit could earn: {target} against its own hedge basket over the window a trade held (entry fill to exit fill), "
        "with the overnight gap before the first legal fill apart. Returns are compounded daily simple returns, as fractions shown in percent."))
    pe = per_event_table(run)
    if not len(pe.frame):
        s.empty = "No event unit of this run falls inside the price data."
        return s
    s.items.append(pe)
    if _has_traded_windows(run):
        ex = pe.frame.rename(columns={"excess_traded": "excess"}).dropna(subset=["excess"])
        s.items.append(figure("excess_distribution", "Per-event excess returns", F.excess_distribution(ex, _source(run), "entry fill to exit fill"),
                              f"{target} minus the event's own hedge basket, from each event's entry fill to its exit fill (the part a trade could earn; "
                              "the overnight gap before the first fill is left out), for every event unit with a legal entry and exit in the run."))
    else:
        s.items.append(figure("excess_distribution", "Per-event excess returns", F.excess_distribution(pe.frame, _source(run), "0:1"),
                              f"{target} minus the peer basket, compounded over day 0 and day +1 (close to close), for every selected event in the run period."))
    return s


def in_out_sample_section(run: RunData) -> S.Section:
    src, names = _source(run), _names(run)
    live = (run.config.get("report") or {}).get("live_start")
    split = (f"The config's report.live_start is {live}, but this version of the sheet does not split at it yet" if live
             else "No live_start date splits this sheet into before and after")
    return S.Section("in-out-sample", "Stability over time", intro=(
        f"Whether the result holds across the period. {split}, so the rolling statistics below cover the whole run."),
        items=[figure("rolling", "Rolling Sharpe and beta", F.rolling_sharpe_beta(T.rolling(run.returns, ROLL_WINDOW), ROLL_WINDOW, src, names),
                      f"{ROLL_WINDOW}-session windows (about six months); Sharpe annualised with 252 sessions; beta by OLS on the peer basket.")])


def drawdowns_section(run: RunData) -> S.Section:
    return S.Section("drawdowns", "Drawdowns", intro=(
        "Falls of the strategy's cumulative wealth (growth of 1, daily returns compounded) from its running peak; depth as a fraction of "
        "the peak, shown in percent."),
        items=[figure("drawdown", "Drawdown", F.underwater(T.drawdowns(run.returns), _source(run), _names(run)),
                      "Fall from the running peak of cumulative wealth, in percent."),
               drawdowns_table(run)])


#: the sheet's section builders; adding a section is adding a function here (its id from DESIGN.md's list)
SECTIONS = (metrics_section, trade_stats_section, costs_section, exposure_section, tails_section, placebo_section, event_study_section,
            per_event_section, in_out_sample_section, drawdowns_section)


def build_sections(run: RunData) -> list[S.Section]:
    """Every section of the sheet, in DESIGN.md's order (:func:`backtests.reports.sections.assemble`)."""
    return S.assemble(b(run) for b in SECTIONS)


def _has_traded_windows(run: RunData) -> bool:
    return run.per_event is not None and "selected" in run.events and "unit" in run.events


def _nothing_traded(run: RunData) -> str:
    from backtests.stats.counts import why_nothing_traded

    s, ev = run.summary, run.events
    if "selected" in ev:
        counts = {"trades": 0, "selected": int(ev["selected"].astype(bool).sum()), "events": int(s.get("n_events") or 0),
                  "tradable": int(s.get("n_events_tradable") or 0)}
        return why_nothing_traded(ev, counts).capitalize() + "."
    return "Nothing was traded."


def _notices(run: RunData) -> list[str]:
    """What a reader must know before the numbers: nothing traded."""
    return [] if run.summary.get("n_trades") else [_nothing_traded(run)]


def _counts_line(summary: dict) -> str:
    """The run's event counts (backtests.stats.counts), as the CLI prints them."""
    from backtests.stats.counts import describe

    keys = {"calendar": "n_events_calendar", "selected": "n_events_selected", "events": "n_events", "tradable": "n_events_tradable",
            "traded": "n_events_traded", "trades": "n_trades"}
    if not all(summary.get(v) is not None for v in keys.values()):
        return f"{int(summary.get('n_events') or 0)} events after the cluster rule, {int(summary.get('n_trades') or 0)} trades"
    return describe({k: int(summary[v]) for k, v in keys.items()})


def context(run: RunData, sections: list[S.Section] | None = None) -> dict:
    """The template's context: the run header (provenance) and the sections (built here when not given).

    ``study_header``, ``study_rows`` and ``study_note`` repeat the event-study table's header labels,
    displayed cells and note, for callers that check that table alone."""
    cfg, m = run.config, run.manifest
    u = cfg["universe"]
    if sections is None:
        sections = build_sections(run)
    study = next((t for s in sections for t in s.tables if s.id == "event-study" and t.name == "caar-tests"), None) or study_table(run)
    ev = cfg["events"]
    pk = m.get("packages", {})
    return {
        "title": f"{cfg['name']}: {position_label(cfg)}",
        "description": (cfg.get("description") or "").strip(),
        "strategy": cfg["strategy"]["kind"],
        "params": ", ".join(f"{k}={v}" for k, v in cfg["strategy"]["params"].items()),
        "period": f"{run.summary['start']} to {run.summary['end']} ({len(run.returns)} sessions)",
        "universe": u,
        "costs": f"commission {cfg['costs']['commission_bps']} bps and slippage {cfg['costs']['slippage_bps']} bps per side, borrow {cfg['costs']['borrow_bps']} bps a year; "
                 f"fills at the {cfg['portfolio']['fill']}; gross {cfg['portfolio']['gross']}, hedge {cfg['portfolio']['hedge']}",
        "notices": _notices(run),
        "events_desc": f"categories {', '.join(ev['categories'] or ['all'])}; affecting {', '.join(ev['tickers'] or ['any'])}; clusters '{ev['clusters']}'; "
                       + _counts_line(run.summary),
        "version": m.get("aibt_version", "?"), "commit": m.get("git_commit"), "python": m.get("python", "?"),
        "packages": ", ".join(f"{k} {v}" for k, v in pk.items() if v),
        "started": m.get("started_utc", "?"), "finished": m.get("finished_utc", "?"), "config_hash": m.get("config_hash", ""),
        "fingerprints": sorted(m.get("data_sha256", {}).items()),
        "sections": sections,
        "study_header": [h["text"] for h in study.header()] if study else [],
        "study_rows": study.rows() if study else [],
        "study_note": study.note if study else "",
    }


def render_html(ctx: dict) -> str:
    env = Environment(loader=FileSystemLoader(str(resources.files("backtests.reports") / "templates")), autoescape=select_autoescape(["html", "j2"]))
    return env.get_template("tearsheet.html.j2").render(**ctx)


PANGO_HELP = ("the PDF needs WeasyPrint's system libraries Pango and PangoFT2, which cannot be loaded "
              "(Debian/Ubuntu: apt-get install libpango-1.0-0 libpangoft2-1.0-0); without --pdf the HTML tear sheet needs neither")


def _weasyprint():
    """The weasyprint module; :class:`InputError` (exit 2) naming what is missing when it cannot be imported."""
    try:
        import weasyprint
    except ModuleNotFoundError as exc:
        if exc.name != "weasyprint":
            raise
        raise InputError(Problem("the PDF needs the Python package weasyprint, which is not installed", field="--pdf",
                                 expected="pip install weasyprint (it comes with aibt's install_requires)")) from None
    except OSError as exc:  # cffi cannot dlopen Pango / GObject
        detail = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise InputError(Problem(f"{PANGO_HELP} [{detail}]", field="--pdf")) from None
    return weasyprint


def render_pdf(html: str) -> bytes:
    """The same HTML as a PDF (WeasyPrint, print CSS of the template: A4, tables not cut mid-row, long
    tables across pages with their header repeated, figures scaled to the page width)."""
    wp = _weasyprint()
    return wp.HTML(string=html).write_pdf()


def build_tearsheet(run_dir: str | Path, pdf: bool = False) -> dict[str, Path]:
    """Build the tear sheet of a run directory; returns the paths written.

    Writes ``figures/*.png``, ``tables/<section-id>__<table-name>.csv`` (each table's raw frame),
    ``tearsheet.html`` and, with ``pdf``, ``tearsheet.pdf`` rendered from the same HTML. Everything is
    written to temporary names first and moved into place only once all of it is written, so a failure
    leaves the previous tear sheet intact; with ``pdf`` and no WeasyPrint, nothing is written at all."""
    if pdf:
        _weasyprint()
    run = load_run(run_dir)
    d = run.path
    sections = build_sections(run)
    html = render_html(context(run, sections))
    pid = os.getpid()
    tmp = {"figures": d / f".figures.tmp-{pid}", "tables": d / f".tables.tmp-{pid}"}
    tmp_html, tmp_pdf = d / f".tearsheet.html.tmp-{pid}", d / f".tearsheet.pdf.tmp-{pid}"
    written = {}
    try:
        for p in tmp.values():
            shutil.rmtree(p, ignore_errors=True)
            p.mkdir()
        for f in (f for s in sections for f in s.figures):
            (tmp["figures"] / f"{f.name}.png").write_bytes(f.png)
        for name, frame in S.table_files(sections).items():
            frame.to_csv(tmp["tables"] / name, index=False)
        tmp_html.write_text(html, encoding="utf-8")
        if pdf:
            tmp_pdf.write_bytes(render_pdf(html))
        for name, p in tmp.items():
            old = d / f".{name}.old-{pid}"
            if (d / name).exists():
                (d / name).rename(old)
            p.rename(d / name)
            shutil.rmtree(old, ignore_errors=True)
            written[name] = d / name
        os.replace(tmp_html, d / "tearsheet.html")
        written["html"] = d / "tearsheet.html"
        if pdf:
            os.replace(tmp_pdf, d / "tearsheet.pdf")
            written["pdf"] = d / "tearsheet.pdf"
    except BaseException:
        for p in tmp.values():
            shutil.rmtree(p, ignore_errors=True)
        for p in d.glob(".tearsheet.*.tmp-*"):
            p.unlink(missing_ok=True)
        raise
    return written
