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

Figures are drawn in :data:`DRAW_WORKERS` worker processes while the main
process computes the tables (:func:`build_sections`; the trade statistics'
bootstrap runs there too); a section function called on its own draws its
figures at once.

To add a section: write ``def x_section(run: RunData) -> Section`` (tables
and figures, or ``empty`` saying why there is nothing) and put it in
:data:`SECTIONS`; the template, the CSV files and the PDF follow.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import os
import shutil
from contextvars import ContextVar
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from jinja2 import Environment, FileSystemLoader, select_autoescape
from matplotlib.figure import Figure

from backtests.config import live_start as config_live_start
from backtests.config import live_start_problems, position_label
from backtests.reports import figures as F
from backtests.reports import sections as S
from backtests.reports import tearframes as T
from backtests.stats import costs as C
from backtests.stats import exposure_stats as X
from backtests.stats import rolling_stats as RS
from backtests.stats import tails as TL
from backtests.stats import trade_stats as TRS
from events.errors import InputError, Problem

REQUIRED = ("config.yaml", "summary.json", "returns.csv", "trades.csv", "events.csv")
ROLL_WINDOW = 126
#: processes drawing the figures (the machine this was tuned on has 2 cores); 1 draws in the calling process
DRAW_WORKERS = 2


@dataclass
class RunData:
    """The files of a run directory as read by :func:`load_run` (None: the file is absent, e.g. an older run).

    ``exposure`` is the whole exposure.csv indexed by date (``exposure`` gross, ``net``, ``episode``,
    ``net_held`` and, in newer runs, ``long``, ``short``, ``beta_net``). ``live_start`` is the first
    out-of-sample day (ISO date) or None, from config.yaml's ``report.live_start`` unless a caller overrides it;
    ``live_start_source`` says which."""

    path: Path
    config: dict
    summary: dict
    manifest: dict
    returns: pd.DataFrame
    trades: pd.DataFrame
    events: pd.DataFrame
    exposure: pd.DataFrame | None
    signals: pd.DataFrame | None
    study: pd.DataFrame | None
    ar: pd.DataFrame | None
    per_event: pd.DataFrame | None = None
    placebo: pd.DataFrame | None = None
    placebo_stats: dict | None = None
    cost_sensitivity: pd.DataFrame | None = None
    event_car: pd.DataFrame | None = None
    study_json: dict | None = None
    live_start: str | None = None
    live_start_source: str = ""


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

    def js(name):
        p = d / name
        return json.loads(p.read_text()) if p.exists() else None

    try:
        returns = pd.read_csv(d / "returns.csv", index_col="date", parse_dates=["date"])
        cfg = yaml.safe_load((d / "config.yaml").read_text())
        live = config_live_start(cfg)
        return RunData(
            d, cfg, json.loads((d / "summary.json").read_text()), js("manifest.json") or {},
            returns, pd.read_csv(d / "trades.csv"), pd.read_csv(d / "events.csv", keep_default_na=False, na_values=[""]),
            csv("exposure.csv", index_col="date", parse_dates=["date"]), csv("signals.csv", index_col="date", parse_dates=["date"]),
            csv("study.csv"), csv("abnormal_returns.csv"),
            csv("per_event.csv", keep_default_na=False, na_values=[""]), csv("placebo.csv"), js("placebo.json"),
            csv("cost_sensitivity.csv"), csv("event_car.csv", keep_default_na=False, na_values=[""]), js("study.json"),
            live, "from report.live_start in config.yaml" if live else "",
        )
    except (ValueError, KeyError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InputError(Problem(f"cannot read the run files: {exc}", path=str(d), expected="files as written by 'aibt run'"))


# ------------------------------------------------------------------ drawing (in worker processes when build_sections runs)
_POOL: ContextVar = ContextVar("aibt_tearsheet_draw_pool", default=None)
#: computations started ahead in the pool by :func:`build_sections`: key -> callable giving the result
_AHEAD: ContextVar = ContextVar("aibt_tearsheet_ahead", default=None)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _draw(fn, args: tuple, kwargs: dict) -> bytes:
    """``fn(*args, **kwargs)`` (a function of :mod:`backtests.reports.figures`) as PNG bytes at 100 dpi."""
    return _png(fn(*args, **kwargs))


def figure(name: str, title: str, fig: Figure, caption: str) -> S.Figure:
    """A drawn matplotlib figure as a section figure (PNG at 100 dpi)."""
    return S.Figure(name, title, _png(fig), caption)


def draw(name: str, title: str, caption: str, fn, *args, **kwargs) -> S.Figure:
    """A section figure drawn by ``fn(*args, **kwargs)``: in a worker process of :func:`build_sections` when one
    is running (the figure is resolved when the sheet is assembled), else here and now."""
    pool = _POOL.get()
    if pool is None:
        return S.Figure(name, title, _draw(fn, args, kwargs), caption)
    return S.Figure(name, title, None, caption, pending=pool.submit(_draw, fn, args, kwargs).result)


@contextlib.contextmanager
def _frozen_gc():
    """The objects alive now (the imported modules above all) left out of the garbage collector's scans while the
    block runs (``gc.freeze``): building a sheet allocates enough to trigger full collections, each of which would
    walk every object of pandas, scipy and matplotlib again (0.3 s of the default run's 2.5 s), and forked workers
    would copy the parent's memory page by page doing so. Nothing is done if the caller froze objects already."""
    import gc

    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextlib.contextmanager
def _drawing_pool(workers: int):
    """A process pool for :func:`draw` while the block runs (none for ``workers`` <= 1, or inside a daemonic
    worker, which may not start processes), forked where the platform can so that the workers inherit the
    imports. On leaving, the pool is shut down (pending work cancelled if the block failed)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    if workers <= 1 or mp.current_process().daemon:
        yield
        return
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    pool = ProcessPoolExecutor(workers, mp_context=ctx)
    token = _POOL.set(pool)
    ok = False
    try:
        yield
        ok = True
    finally:
        _POOL.reset(token)
        pool.shutdown(wait=True, cancel_futures=not ok)


def _source(run: RunData) -> str:
    cfg = run.config
    return f"Source: aibt run '{cfg['name']}', {run.summary['start']} to {run.summary['end']}; bundled daily total-return prices."


def _names(run: RunData) -> dict:
    u = run.config["universe"]
    return {"amzn": u["target"], "benchmark": f"Benchmark ({u['benchmark']})"}


def _cell(v, kind: str) -> S.Cell:
    """:func:`sections.format_cell`, with an infinite ratio (a profit factor without losses) shown as such."""
    if isinstance(v, (float, np.floating)) and math.isinf(v) and kind not in ("text", "wrap"):
        return {"text": "∞" if v > 0 else "-∞", "cls": "" if v > 0 else "neg"}
    return S.format_cell(v, kind)


def _by_row(kinds: dict, key: str):
    """A column format whose kind depends on the row: ``kinds[row[key]]``."""
    def cell(row, c):
        return _cell(row[c], kinds[row[key]])

    return cell


# ------------------------------------------------------------------ tables (pure: RunData in, Table out)
METRIC_ROWS = [
    ("total_return", "total return", "pct"), ("cagr", "CAGR", "pct"), ("ann_vol", "annual volatility", "pct"), ("sharpe", "Sharpe", "num"),
    ("sortino", "Sortino", "num"), ("max_drawdown", "max drawdown", "pct"), ("calmar", "Calmar", "num"),
    ("excess_total_return", "excess vs basket (same net)", "pct"), ("information_ratio", "information ratio (that excess)", "num"),
    ("alpha_ann", "alpha (annual)", "pct"), ("beta", "beta to peer basket", "num"),
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



MODEL_ORDER = ("peer_adjusted", "market_model", "market_adjusted")
MODEL_LABELS = {"peer_adjusted": "peer-adjusted", "market_model": "market model", "market_adjusted": "market-adjusted"}


def _study_frame(run: RunData) -> tuple[pd.DataFrame, list[str], int]:
    """study.csv with every test column (NaN where an older run lacks one), the names of those columns, and the
    number of tests in the Benjamini-Hochberg family (finite q values)."""
    st = run.study.copy()
    names = [c for t, p, _ in STUDY_TESTS for c in ((t, p, p.replace("p_", "q_")) if p else (t,))]
    for c in names:  # study.csv of older runs: no q, no BHAR test
        if c not in st:
            st[c] = np.nan
    qcols = [p.replace("p_", "q_") for _, p, _ in STUDY_TESTS if p]
    return st, names, int(np.isfinite(st[qcols].to_numpy(float)).sum())


def _study_formats() -> tuple[dict, dict]:
    formats = {"group": "text", "window": "text", "n": "int", "caar": "pct"}
    formats.update({t: (_stat_p_q(p) if p else "pct") for t, p, _ in STUDY_TESTS})
    return formats, {"caar": "CAAR", **{t: lab for t, _, lab in STUDY_TESTS}}


def _model_title(run: RunData, model: str) -> str:
    target = run.config["universe"]["target"]
    market = (run.config.get("study") or {}).get("market") or run.config["universe"].get("market", "the market")
    return {"peer_adjusted": f"CAAR and tests: {target} minus the peer basket (peer-adjusted)",
            "market_model": f"CAAR and tests: {target} against its market model on {market} (market model)",
            "market_adjusted": f"CAAR and tests: {target} minus {market} (market-adjusted)"}.get(model, f"CAAR and tests: {model}")


def study_table(run: RunData, model: str = STUDY_MODEL) -> S.Table | None:
    """study.csv's rows of one abnormal-return model (CAAR as a fraction, each test's statistic, two-sided p and
    Benjamini-Hochberg q over the whole study.csv); None without a study or without rows of that model. The
    peer-adjusted table is named ``caar-tests``, the others ``caar-tests-<model>``."""
    if run.study is None or not len(run.study):
        return None
    st, names, n_tests = _study_frame(run)
    n_models = st["model"].nunique()
    frame = st.loc[st["model"] == model, ["model", "group", "window", "n", "caar", *names]].reset_index(drop=True)
    if not len(frame):
        return None
    formats, labels = _study_formats()
    what = {"peer_adjusted": "The basket is each event's hedge basket (the peers minus its announcing company). ",
            "market_model": "Abnormal return: the target's return minus alpha + beta times the market's, fitted by OLS on the event's "
                            "estimation window. ",
            "market_adjusted": "Abnormal return: the target's return minus the market's. "}.get(model, "")
    note = ("Cross-sectional t (Brown-Warner 1985), Patell (1976), BMP (Boehmer-Musumeci-Poulsen 1991), BMP with the Kolari-Pynnonen (2010) "
            "adjustment for overlapping windows, Corrado (1989) rank and Cowan (1992) generalized sign on the CAR windows; on the BHAR "
            "windows the mean buy-and-hold abnormal return and the skewness-adjusted t (Lyon-Barber-Tsai 1999) adjusted for overlapping windows "
            "(Kolari-Pynnonen factor), tested only for 10 or more events. "
            f"Two-sided p and Benjamini-Hochberg q in brackets: q adjusts over all {n_tests} tests run in study.csv ({n_models} models, "
            f"every group, window and test); bold means adjusted significance, q < 0.05. {what}"
            "Unknown-time events count only in windows reaching day +1.")
    name = "caar-tests" if model == STUDY_MODEL else "caar-tests-" + model.replace("_", "-")
    return S.Table(name, _model_title(run, model), frame, formats, labels, note, long=len(frame) > 15)


DRIFT_WINDOW = "-5:-1"


def drift_table(run: RunData) -> S.Table | None:
    """The pre-event drift test: study.csv's rows of window -5:-1 for the groups ``all``, ``scheduled`` and
    ``unscheduled`` of every model (the same columns as :func:`study_table`); None without such rows."""
    if run.study is None or not len(run.study):
        return None
    st, names, n_tests = _study_frame(run)
    rank = {m: i for i, m in enumerate(MODEL_ORDER)}
    sub = st[(st["window"].astype(str) == DRIFT_WINDOW) & st["group"].isin(["all", "scheduled", "unscheduled"])]
    if not len(sub):
        return None
    sub = sub.assign(_m=sub["model"].map(lambda m: rank.get(m, 9)), _g=sub["group"].map({"all": 0, "scheduled": 1, "unscheduled": 2}))
    frame = sub.sort_values(["_m", "_g"], kind="mergesort")[["model", "group", "window", "n", "caar", *names]].reset_index(drop=True)
    formats, labels = _study_formats()
    formats = {"model": "text", **{c: f for c, f in formats.items() if c not in ("window", "mean_bhar", "t_skew")}}  # CAR tests only
    return S.Table("pre-event-drift", "Pre-event drift: CAAR over days -5 to -1, every model", frame, formats, labels,
                   "The same tests, p and q (Benjamini-Hochberg over all of study.csv) as the tables below, for the five sessions before "
                   "day 0. A drift here is a move before the market could trade on the news (or a leak); an unknown-time event is left out "
                   "of this window (its day 0 may already hold the reaction).")


def signal_regressions_table(run: RunData) -> S.Table | None:
    """study.json's signal regressions, one row per (regression, term): ``window, y, x`` (the regressors,
    ``+``-joined), ``term``, ``coef``, ``se``, ``t``, ``p`` (HC3 robust errors), ``n``, ``r2``, ``cov``; a
    regression that was not fitted (too few observations) is one row with its ``note``. None when study.json
    has no ``signal_regressions``."""
    sr = (run.study_json or {}).get("signal_regressions")
    if not sr or not sr.get("regressions"):
        return None
    rows = []
    for r in sr["regressions"]:
        base = {"window": str(r.get("window", "")), "y": r.get("y", ""), "x": " + ".join(r.get("x") or []), "n": r.get("n", np.nan),
                "r2": r.get("r2", np.nan), "cov": r.get("cov", ""), "note": r.get("note", "")}
        terms = r.get("terms") or {}
        if not terms:
            rows.append({**base, "term": "", "coef": np.nan, "se": np.nan, "t": np.nan, "p": np.nan})
        for term, v in terms.items():
            rows.append({**base, "term": term, "coef": v.get("coef", np.nan), "se": v.get("se", np.nan), "t": v.get("t", np.nan), "p": v.get("p", np.nan)})
    cols = ["window", "y", "x", "term", "coef", "se", "t", "p", "n", "r2", "cov", "note"]
    frame = pd.DataFrame(rows, columns=cols)
    n_fit = sum(1 for r in sr["regressions"] if r.get("terms"))
    dep = sr.get("dependent", "peer-adjusted CAR (fraction)")
    note = (f"OLS of the {dep} of each of the target's earnings releases ({sr.get('events', '?')} releases with prices, FY2018Q4 on: the whole "
            "calendar, not only the run's period) over the window shown "
            "on the signals as known at the release's reaction session (point in time), with HC3 heteroskedasticity-robust errors "
            f"(statsmodels); t and two-sided p from those errors. {n_fit} of {len(sr['regressions'])} regressions could be fitted; the others "
            "say why (a regression needs 8 releases with every variable defined).")
    return S.Table("signal-regressions", "Signal regressions: post-earnings CAR on capex efficiency and backlog changes", frame,
                   {"window": "text", "x": "text", "term": "text", "coef": "g", "t": "num", "p": "p", "n": "int", "r2": "num3", "note": "wrap"},
                   {"x": "regressors", "coef": "coefficient", "t": "t (HC3)", "r2": "R²"}, note)


CAR_MODEL, CAR_WINDOW = "peer_adjusted", "0:1"


def per_event_car(event_car: pd.DataFrame | None, model: str = CAR_MODEL, window: str = CAR_WINDOW) -> pd.DataFrame:
    """event_car.csv's rows of one model and window, by ``event_id``: ``car`` (the sum of the event's abnormal
    returns over the window, a fraction), ``scar`` (CAR over its standard deviation under the null from the
    event's own estimation window: the event's test statistic) and ``p`` (two-sided, standard normal); NaN where
    the event does not count in that window. Empty without event_car.csv."""
    if event_car is None or not len(event_car):
        return pd.DataFrame(columns=["car", "scar", "p"], index=pd.Index([], name="event_id"), dtype=float)
    e = event_car[(event_car["model"] == model) & (event_car["window"].astype(str) == window)]
    return e.drop_duplicates("event_id").set_index("event_id")[["car", "scar", "p"]].astype(float)


def per_event_table(run: RunData) -> S.Table:
    """One row per event unit: returns over its traded window (fractions; per_event.csv) and its peer-adjusted
    CAR 0:1 with SCAR and p (event_car.csv, joined by event id), or, for a run directory from before
    per_event.csv existed, day 0 to +1 close to close."""
    target = run.config["universe"]["target"]
    if _has_traded_windows(run):
        frame = T.per_event_table(run.events, run.per_event).reset_index(drop=True)
        car = per_event_car(run.event_car)
        has_car = len(car) > 0
        if has_car:
            pos = frame.columns.get_loc("traded")
            for c, col in (("car", "car_0_1"), ("scar", "scar_0_1"), ("p", "p_0_1")):
                frame.insert(pos, col, frame["event_id"].map(car[c]).astype(float))
                pos += 1

        def window(row, c):
            return {"text": f"{row['entry']} to {row['exit']}" if isinstance(row["entry"], str) and row["entry"] else "-", "cls": ""}

        formats = {"event_id": "text", "category": "text", "reaction_session": "text", "entry": window, "excess_gap": "pct",
                   "amzn_traded": "pct", "basket_traded": "pct", "excess_traded": "pct"}
        if has_car:
            formats.update({"car_0_1": "pct", "scar_0_1": "num", "p_0_1": "p"})
        formats.update({"reason": "wrap", "headline": "wrap"})
        labels = {"event_id": "event", "reaction_session": "reaction session", "entry": "entry to exit", "excess_gap": "gap excess (not tradable)",
                  "amzn_traded": target, "basket_traded": "peer basket", "excess_traded": "excess", "reason": "traded or why not",
                  "car_0_1": "CAR 0:1", "scar_0_1": "SCAR 0:1", "p_0_1": "p"}
        note = (f"Each event unit (same-session news merged) from its entry fill to its exit fill: {target}, its own hedge basket "
                "(announcing peers left out) and the excess. The gap column is the excess from the close before day 0 to the entry fill: "
                "part of the reaction that a trade filling at its first legal fill cannot earn, shown apart and not in the traded columns.")
        if has_car:
            note += (" CAR 0:1 is the event's peer-adjusted cumulative abnormal return over day 0 and day +1, close to close (gap included: "
                     "it measures the reaction, not what could be traded); SCAR 0:1 is that CAR over its standard deviation under the null "
                     "from the event's own estimation-window residuals (the event's t statistic) and p its two-sided normal p-value "
                     "(event_car.csv).")
        else:
            note += " This run directory has no event_car.csv, so the per-event CAR and SCAR are not shown."
    else:
        frame = T.per_event_returns(run.events, run.returns)
        head = run.events.set_index("event_id")["headline"] if "headline" in run.events else pd.Series(dtype=object)
        frame["headline"] = [head.get(e, "") for e in frame["event_id"]]
        formats = {"event_id": "text", "category": "text", "reaction_session": "text", "amzn": "pct", "peer_basket": "pct", "excess": "pct",
                   "reason": "wrap", "headline": "wrap"}
        labels = {"event_id": "event", "reaction_session": "reaction session", "amzn": target, "peer_basket": "peer basket",
                  "reason": "traded or why not"}
        note = f"{target} minus the peer basket, compounded over day 0 and day +1 (close to close); this run directory has no per_event.csv."
    title = "Per-event returns over the traded window, and CAR" if _has_traded_windows(run) else "Per-event returns, day 0 to day +1"
    return S.Table("returns", title, frame, formats, labels, note, long=len(frame) > 15)


# trade-stats ------------------------------------------------------------------------------------------------------------
TRADE_QUANTITIES = {"excess": ("side-signed excess over the basket (before costs)", "pct"), "net": ("net return on gross notional (after costs)", "pct"),
                    "pnl_net": ("net P&L (USD, after costs)", "money"), "sessions_held": ("holding time (sessions)", "num")}


BOOT_SEED, BOOT_REPS = 0, 10_000


def trade_summary_table(run: RunData, seed: int = BOOT_SEED, reps: int = BOOT_REPS) -> S.Table:
    """:func:`trade_stats.trade_summary`: per trade quantity, n, mean, median, t and p (one-sample t-test of a
    zero mean) and the 95% BCa bootstrap interval of the mean (``reps`` resamples of trades, ``seed``); taken
    from :func:`build_sections`' worker when it computed the same there."""
    ahead = (_AHEAD.get() or {}).get(("trade_summary", seed, reps))
    ts = (ahead() if ahead is not None else TRS.trade_summary(run.trades, seed=seed, reps=reps)).reset_index()
    ts.insert(1, "label", ts["quantity"].map(lambda q: TRADE_QUANTITIES[q][0]))
    kind = _by_row({q: k for q, (_, k) in TRADE_QUANTITIES.items()}, "quantity")
    return S.Table("trade-summary", "Per-trade returns: mean, median, t-test and bootstrap interval", ts,
                   {"label": "text", "n": "int", "mean": kind, "median": kind, "t": "num", "p": "p", "ci_low": kind, "ci_high": kind},
                   {"label": "per trade", "t": "t (mean = 0)", "ci_low": "95% CI low", "ci_high": "95% CI high"},
                   f"t: one-sample t-test of a zero mean (sample sd, ddof 1), p two-sided; no test of the holding time. 95% CI: bias-corrected and "
                   f"accelerated (BCa) bootstrap interval of the mean, {reps:,} resamples of the trades, seed {seed} (arch). n counts the trades "
                   "with the quantity defined (the excess needs a hedge basket).")


WIN_LOSS_ROWS = (("n_trades", "trades", "int"), ("hit_rate", "hit rate (share of trades with net P&L > 0)", "pct"), ("n_wins", "winning trades", "int"),
                 ("n_losses", "losing trades", "int"), ("avg_win", "average win (USD)", "money"), ("avg_loss", "average loss (USD)", "money"),
                 ("payoff_ratio", "payoff ratio (average win / |average loss|)", "num"),
                 ("profit_factor", "profit factor (gross profit / gross loss)", "num"), ("gross_profit", "gross profit (USD, sum of wins)", "money"),
                 ("gross_loss", "gross loss (USD, sum of losses, positive)", "money"),
                 ("avg_win_net", "average net return of the wins", "pct"), ("avg_loss_net", "average net return of the losses", "pct"),
                 ("avg_sessions_held", "average holding time (sessions)", "num"), ("median_sessions_held", "median holding time (sessions)", "num"))


def win_loss_table(run: RunData) -> S.Table:
    """:func:`trade_stats.win_loss_stats`, one row per statistic (USD, fractions, sessions)."""
    wl = TRS.win_loss_stats(run.trades)
    frame = pd.DataFrame({"stat": [k for k, _, _ in WIN_LOSS_ROWS], "label": [lab for _, lab, _ in WIN_LOSS_ROWS],
                          "value": [float(wl[k]) for k, _, _ in WIN_LOSS_ROWS]})
    return S.Table("win-loss", "Wins and losses", frame, {"label": "text", "value": _by_row({k: kd for k, _, kd in WIN_LOSS_ROWS}, "stat")},
                   {"label": "statistic"},
                   "A win is a trade with net P&L (after commission, slippage and borrow) above 0, a loss one below 0. Profit factor and payoff "
                   "ratio as pyfolio's round-trip tables define them; ∞ when there is no losing trade.")


def best_worst_table(run: RunData, n: int = 5) -> S.Table:
    """:func:`trade_stats.best_worst_trades` by net P&L (USD): the ``n`` best, largest first, then the ``n`` worst,
    largest loss first."""
    bw = TRS.best_worst_trades(run.trades, n=n)
    return S.Table("best-worst", f"Best and worst {n} trades by net P&L", bw,
                   {"kind": lambda row, c: {"text": row[c], "cls": ""}, "rank": "int", "episode": "int",  # a short word: never broken "event_ids": "text", "entry": "text", "exit": "text", "side": "int",
                    "excess": "pct", "net": "pct", "pnl_net": "money"},
                   {"rank": "#", "episode": "trade", "event_ids": "events", "excess": "excess (signed)", "net": "net return", "pnl_net": "net P&L (USD)"},
                   "Ranked by net P&L in USD, largest first: the best from the largest gain down, the worst from the largest loss up.")


# costs ------------------------------------------------------------------------------------------------------------------
COST_ROWS = (("pnl_before_costs", "P&L before costs (gross P&L + slippage)"), ("commission", "commission"), ("slippage", "slippage"),
             ("borrow", "borrow"), ("total_cost", "all costs"), ("pnl_gross", "gross P&L as in trades.csv (after slippage)"),
             ("pnl_net", "net P&L (after all costs)"), ("traded_notional", "traded notional (every fill, both legs)"))
_COSTS = ("commission", "slippage", "borrow", "total_cost")


def cost_table(run: RunData) -> S.Table:
    """:func:`costs.cost_summary` and the means of :func:`costs.costs_by_trade`: per item its total and mean per
    trade (USD) and, for the costs, the total over the traded notional in bps (a rate per side)."""
    cs, bt = C.cost_summary(run.trades), C.costs_by_trade(run.trades)
    rows = []
    for k, label in COST_ROWS:
        total = cs[k] if k != "traded_notional" else cs["traded_notional"]
        per = cs[k + "_per_trade"] if k in _COSTS else (float(bt[k].mean()) if len(bt) else np.nan)
        rows.append({"item": k, "label": label, "total": total, "per_trade": per, "bps_of_notional": cs[k + "_bps"] if k in _COSTS else np.nan})
    return S.Table("cost-summary", "Gross and net P&L, and what the costs came to", pd.DataFrame(rows),
                   {"label": "text", "total": "money", "per_trade": "money", "bps_of_notional": "num"},
                   {"label": "item", "total": "total (USD)", "per_trade": "mean per trade (USD)", "bps_of_notional": "bps of traded notional"},
                   "; ".join(cs["notes"]))


def _status_text(status: str, top: float) -> str:
    return {"crosses": "exact re-simulations at 0 to {top:g} bps, linear between the two slippages around the sign change",
            "negative throughout": "below 0 at every slippage tried, 0 bps included: no break-even",
            "positive throughout": "above 0 at every slippage tried, up to {top:g} bps: the break-even lies beyond",
            "no data": "no cost-sensitivity data"}.get(status, status).format(top=top)


SENSITIVITY_LABELS = {"pnl_net": "net P&L", "total_return": "total return", "excess_total_return": "excess total return", "sharpe": "Sharpe ratio"}


def break_even_table(run: RunData) -> S.Table:
    """The run's realised commission + slippage per side (bps of traded notional), the break-even commission +
    slippage of :func:`costs.cost_summary` (sizes and prices held fixed) and, with cost_sensitivity.csv, the
    slippage per side at which each result of the re-simulations reaches zero (:func:`costs.sensitivity_break_even`)."""
    cs = C.cost_summary(run.trades)
    rows = [{"measure": "realised commission + slippage per side", "bps": cs["commission_bps"] + cs["slippage_bps"],
             "how": "trades.csv's commission and slippage over the traded notional"},
            {"measure": "break-even commission + slippage per side", "bps": cs["break_even_bps"],
             "how": "(P&L before costs - borrow) / traded notional: the rate that would take net P&L to 0, the trades' sizes and prices held "
                    "fixed (an approximation)" + ("; a position still held at the end has traded its entry side only, so this rate is large"
                                                  if run.trades["exit"].isna().any() or (run.trades["exit"].astype(str) == "").any() else "")}]
    if run.cost_sensitivity is not None:
        t = C.tidy_cost_sensitivity(run.cost_sensitivity)
        top = float(t["slippage_bps"].max()) if len(t) else float("nan")
        for metric, r in C.sensitivity_break_even(t).iterrows():
            rows.append({"measure": f"slippage per side at which the {SENSITIVITY_LABELS.get(metric, metric)} reaches 0", "bps": r["slippage_bps"],
                         "how": _status_text(r["status"], top) + "; commission and borrow as in the run"})
    return S.Table("break-even", "Break-even cost per side", pd.DataFrame(rows), {"measure": "text", "bps": "num", "how": "wrap"},
                   {"bps": "bps per side", "how": "how it is measured"})


def sensitivity_table(run: RunData) -> S.Table:
    """:func:`costs.tidy_cost_sensitivity` of cost_sensitivity.csv: the run's results re-simulated at each slippage."""
    t = C.tidy_cost_sensitivity(run.cost_sensitivity)
    own = run.config["costs"]["slippage_bps"]
    return S.Table("sensitivity", "Cost sensitivity: results against slippage per side", t,
                   {"slippage_bps": "g", "total_return": "pct", "excess_total_return": "pct", "sharpe": "num", "pnl_net": "money"},
                   {"slippage_bps": "slippage (bps per side)", "total_return": "total return", "excess_total_return": "excess vs basket (same net)",
                    "sharpe": "Sharpe", "pnl_net": "net P&L (USD)"},
                   f"The same plan re-executed (fast engine) at each slippage; commission and borrow as in the run, which used {own:g} bps.",
                   long=len(t) > 15)


# exposure ---------------------------------------------------------------------------------------------------------------
EXPOSURE_LEGS = {"long": "long", "short": "short (positive)", "net": "net (long - short)", "gross": "gross (long + short)",
                 "beta_net": "beta-adjusted net"}


def exposure_table(run: RunData) -> S.Table:
    """:func:`exposure_stats.exposure_summary`: each leg's mean over every session and over the sessions with a
    position at the close, and its largest (absolute) value; fractions of portfolio value."""
    es = X.exposure_summary(run.exposure)
    largest = {"gross": es["max_gross"], "net": es["max_abs_net"], "beta_net": es["max_abs_beta_net"]}
    frame = pd.DataFrame([{"leg": k, "label": lab, "mean": es[f"mean_{k}"], "mean_in_market": es[f"mean_{k}_in_market"],
                           "largest_abs": largest.get(k, np.nan)} for k, lab in EXPOSURE_LEGS.items()])
    return S.Table("average-exposure", "Exposure by leg", frame, {"label": "text", "mean": "pct1", "mean_in_market": "pct1", "largest_abs": "pct1"},
                   {"label": "leg", "mean": "mean, every session", "mean_in_market": "mean, sessions with a position", "largest_abs": "largest |value|"},
                   "At each close, as a fraction of portfolio value (shown in percent).")


TURNOVER_ROWS = (("share_in_market_close", "sessions with a position at the close (summary.json's exposure)", "pct1"),
                 ("share_in_market_any", "sessions whose return moved with a position (held at the previous close or this close)", "pct1"),
                 ("traded_notional", "traded notional, every fill of every trade, both legs (USD)", "money"),
                 ("avg_equity", "average equity (USD)", "money"), ("years", "years (sessions / 252)", "num"),
                 ("turnover_ann", "turnover per year (traded notional / years / average equity)", "num"))


def turnover_table(run: RunData) -> S.Table:
    """:func:`exposure_stats.turnover` and the time in the market of :func:`exposure_stats.exposure_summary`."""
    es = X.exposure_summary(run.exposure)
    to = X.turnover(run.trades, run.returns, float(run.config["portfolio"]["cash"]))
    vals = {**es, **to}
    frame = pd.DataFrame({"stat": [k for k, _, _ in TURNOVER_ROWS], "label": [lab for _, lab, _ in TURNOVER_ROWS],
                          "value": [float(vals[k]) for k, _, _ in TURNOVER_ROWS]})
    return S.Table("turnover", "Turnover and time in the market", frame, {"label": "text", "value": _by_row({k: kd for k, _, kd in TURNOVER_ROWS}, "stat")},
                   {"label": "measure"}, to["note"] or "Turnover 1.0 means the portfolio's value traded once a year, buys and sells counted.")


def baskets_table(run: RunData) -> S.Table:
    """:func:`exposure_stats.basket_held`: the hedge basket each trade held at its entry fill, the configured peers
    left out of it and why."""
    bh = X.basket_held(run.trades, list(run.config["universe"]["peers"]), run.events)
    return S.Table("baskets", "Basket held per trade", bh,
                   {"episode": "int", "event_ids": "text", "entry": "text", "basket": "text", "left_out": "text", "why": "wrap", "rebalances": "wrap"},
                   {"episode": "trade", "event_ids": "events", "basket": "basket at entry", "left_out": "peers left out", "why": "why"},
                   "The hedge basket at the entry fill (trades.csv); a peer is left out when it announced one of the trade's events (events.csv's "
                   "company), so the hedge does not hold the news it trades on; rebalances are later fills that changed the basket.",
                   long=len(bh) > 15)


def peers_left_out_table(run: RunData, held: pd.DataFrame) -> S.Table:
    """:func:`exposure_stats.peers_left_out`: per configured peer, the trades whose basket lacked it."""
    pl = X.peers_left_out(held, list(run.config["universe"]["peers"])).reset_index()
    return S.Table("peers-left-out", "Peers left out of the basket", pl, {"peer": "text", "n_trades_left_out": "int", "episodes": "wrap"},
                   {"n_trades_left_out": "trades without it", "episodes": "those trades"})


# tails ------------------------------------------------------------------------------------------------------------------
TAIL_ROWS = (("n", "sessions", "int", None), ("skew", "skew", "num", None), ("kurtosis", "excess kurtosis", "num", None),
             ("var_95", "95% VaR (historical, daily)", "pct", None), ("cvar_95", "95% CVaR (historical, daily)", "pct", None),
             ("best_day", "best day", "pct", "best_day_date"), ("worst_day", "worst day", "pct", "worst_day_date"),
             ("best_month", "best month", "pct", "best_month_label"), ("worst_month", "worst month", "pct", "worst_month_label"),
             ("best_year", "best year", "pct", "best_year_label"), ("worst_year", "worst year", "pct", "worst_year_label"))
TAIL_SERIES = ("strategy", "strategy_in_market", "amzn", "peer_basket", "benchmark")


def tail_frame(tt: pd.DataFrame) -> pd.DataFrame:
    """:func:`tails.tail_table` turned for display: one row per statistic (``stat``, ``label``), one column per
    series with the value and one ``<series>_when`` with the date or period of the best/worst rows."""
    series = [c for c in TAIL_SERIES if c in tt.index]
    rows = []
    for k, label, _, when in TAIL_ROWS:
        row = {"stat": k, "label": label}
        for c in series:
            row[c] = float(tt.at[c, k])
        for c in series:
            row[f"{c}_when"] = str(tt.at[c, when]) if when else ""
        rows.append(row)
    return pd.DataFrame(rows)


def tail_table(run: RunData) -> S.Table:
    """:func:`tails.tail_table` of returns.csv (with the strategy's in-market sessions when exposure.csv exists)."""
    tt = TL.tail_table(run.returns, run.exposure)
    frame = tail_frame(tt)
    kinds = {k: kd for k, _, kd, _ in TAIL_ROWS}

    def cell(row, c):
        out = _cell(row[c], kinds[row["stat"]])
        when = row.get(f"{c}_when", "")
        return {**out, "text": f"{out['text']} ({when})"} if when and out["text"] != "-" else out

    u = run.config["universe"]
    series = [c for c in TAIL_SERIES if c in frame.columns]
    labels = {"label": "statistic", "strategy": "Strategy, every session", "strategy_in_market": "Strategy, sessions in the market",
              "amzn": u["target"], "peer_basket": "Peer basket", "benchmark": f"Benchmark ({u['benchmark']})"}
    return S.Table("tail-stats", "Tail statistics of daily returns", frame, {"label": "text", **{c: cell for c in series}}, labels,
                   "Skew and excess kurtosis: scipy's (biased) moment estimators, 0 for a normal distribution. VaR: the 5th percentile of daily "
                   "returns (empyrical's value_at_risk); CVaR: the mean of the returns at or below it (empyrical's conditional_value_at_risk); "
                   "both are returns, negative for a loss. Months and years compounded over the calendar period (the first and last may be "
                   "partial). The first session is left out of the buy-and-hold columns (it has no previous close in the run).")


# placebo ----------------------------------------------------------------------------------------------------------------
PLACEBO_ROWS = (("actual_total_return", "strategy total return (after costs)", "pct"),
                ("beaten", "share of placebo runs the strategy beats", "pct1"),
                ("placebo_p", "placebo p (share of placebo runs at least as good)", "p"),
                ("placebo_p_conservative", "placebo p, conservative ((1 + at least as good) / (1 + runs))", "p"),
                ("placebo_mean", "placebo total return: mean", "pct"), ("placebo_median", "placebo total return: median", "pct"),
                ("placebo_q05", "placebo total return: 5th percentile", "pct"), ("placebo_q95", "placebo total return: 95th percentile", "pct"),
                ("placebo_n", "placebo runs", "int"), ("n_holdings", "holdings placed in each run", "int"),
                ("events_avoided", "events and releases whose sessions the placebo avoids", "int"), ("seed", "seed", "int"))


def placebo_table(run: RunData) -> S.Table:
    """placebo.json's statistics, one row each (returns as fractions; ``beaten`` is its ``actual_percentile`` / 100)."""
    ps = {**run.placebo_stats, "beaten": run.placebo_stats.get("actual_percentile", np.nan) / 100}
    rows = [(k, lab, kd) for k, lab, kd in PLACEBO_ROWS if k in ps]
    frame = pd.DataFrame({"stat": [k for k, _, _ in rows], "label": [lab for _, lab, _ in rows],
                          "value": [float(ps[k]) if ps[k] is not None else np.nan for k, _, _ in rows]})
    return S.Table("placebo-stats", "Placebo statistics", frame, {"label": "text", "value": _by_row({k: kd for k, _, kd in rows}, "stat")},
                   {"label": "statistic"}, "From placebo.json.")


# in-out-sample ----------------------------------------------------------------------------------------------------------
SPLIT_ROWS = (("n", "sessions", "int"), ("total_return", "total return", "pct"), ("cagr", "CAGR", "pct"), ("ann_vol", "annual volatility", "pct"),
              ("sharpe", "Sharpe", "num"), ("max_drawdown", "max drawdown", "pct"), ("excess_total_return", "excess vs basket (same net)", "pct"),
              ("information_ratio", "information ratio", "num"), ("alpha_ann", "alpha vs basket (annual)", "pct"), ("beta", "beta to peer basket", "num"),
              ("alpha_tstat_hac", "alpha t (HAC)", "num"))
SPLIT_NAMES = {"all": "whole run", "before": "before live start (in-sample)", "after": "from live start (out-of-sample)"}


def split_table(run: RunData) -> S.Table:
    """:func:`rolling_stats.split_metrics` at ``run.live_start``, one row per metric, one column per period
    (``all``, ``before``, ``after``); the periods' dates are in the headers."""
    sm = RS.split_metrics(run.returns, run.exposure, run.live_start)
    frame = pd.DataFrame({"metric": [k for k, _, _ in SPLIT_ROWS], "label": [lab for _, lab, _ in SPLIT_ROWS]})
    for period in sm.index:
        frame[period] = [float(sm.at[period, k]) for k, _, _ in SPLIT_ROWS]
    kind = _by_row({k: kd for k, _, kd in SPLIT_ROWS}, "metric")
    labels = {"label": "metric", **{p: f"{SPLIT_NAMES.get(p, p)}, {sm.at[p, 'start']} to {sm.at[p, 'end']}" if sm.at[p, "n"] else SPLIT_NAMES.get(p, p)
                                    for p in sm.index}}
    return S.Table("split", f"Before and after the live start {run.live_start}", frame, {"label": "text", **{p: kind for p in sm.index}}, labels,
                   "Each period measured on its own (its compounding, drawdown and regression start afresh), with summary.json's definitions: "
                   "daily returns, 252 sessions a year, risk-free 0; excess over a peer-basket position of the same net exposure; alpha and "
                   "beta by OLS on the peer basket with Newey-West (HAC) t.")




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
    figs = [  # submitted before the table is computed, so that a drawing pool starts on them at once
        draw("cumulative_returns", "Cumulative returns",
             f"Growth of 1 invested in the strategy, {u['target']}, the equal-weight peer basket and {u['benchmark']}; total return, log scale.",
             F.cumulative_returns, T.cumulative(r), src, names),
        draw("monthly_returns", "Monthly returns", "Compounded strategy return per calendar month, percent.",
             F.monthly_heatmap, T.monthly_table(r["strategy"]), src),
        draw("yearly_returns", "Yearly returns", "Compounded return per calendar year (partial years at the ends), percent.",
             F.yearly_bars, T.yearly_table(r), src, names),
    ]
    return S.Section("metrics", "Key metrics", intro=(
        "Daily simple returns, 252 sessions a year, risk-free rate 0. Excess is the compounded daily excess over a peer-basket position of "
        "the same net exposure held into each session (about the strategy's own return when it is dollar neutral; the series minus the "
        "basket for the fully invested columns). Alpha and beta are against the peer basket; alpha t uses Newey-West (HAC) errors. "
        "Placebo p: the share of seeded placebo runs (the same holdings at random sessions away from events) at least as good as the strategy."),
        items=[metrics_table(run), *figs])


def trade_stats_section(run: RunData) -> S.Section:
    target = run.config["universe"]["target"]
    s = S.Section("trade-stats", "Trades", intro=(
        "One trade is one position episode, from its entry fill to its exit fill (events traded together share one); side +1 is long the "
        f"target and short its hedge basket, -1 the reverse. Per trade: the side-signed excess is the side times ({target}'s return minus its "
        "hedge basket's) from the entry fill to the exit fill at reference prices, before all costs (positive when the side taken was "
        "right; a spread return on one dollar long against one dollar short); the net return is the net P&L after commission, slippage and "
        "borrow over the gross notional at entry; the net P&L is in USD. Returns are fractions shown in percent."))
    if not len(run.trades):
        s.empty = _nothing_traded(run)
        return s
    outcomes = draw("trade_outcomes", "Trade outcomes",
                    "Net return on gross notional of each trade (after all costs) in entry order, wins and losses coloured, with the mean and "
                    "median; on the right the distribution of the same numbers.",
                    F.trade_outcomes, TRS.trade_frame(run.trades), _source(run))
    pnl = pd.to_numeric(run.trades["pnl_net"], errors="coerce").dropna()
    if len(pnl) >= 3:  # how much of the result one trade carries: a reader must see it before trusting the total
        best = pnl.idxmax()
        s.notes.append(f"Concentration: the best trade (#{int(run.trades.at[best, 'episode'])}) made {pnl[best]:,.0f} USD net of costs, against "
                       f"{pnl.sum():,.0f} USD for all {len(pnl)} trades; without it the total is {pnl.sum() - pnl[best]:,.0f} USD.")
    s.items += [trade_summary_table(run), win_loss_table(run), best_worst_table(run), outcomes, trades_table(run)]
    return s


def costs_section(run: RunData) -> S.Section:
    c = run.config["costs"]
    s = S.Section("costs", "Costs", intro=(
        f"What trading cost, in USD and per traded dollar. Every fill pays commission ({c['commission_bps']:g} bps of its value) and slippage "
        f"(filled {c['slippage_bps']:g} bps worse than the reference price); short legs pay borrow ({c['borrow_bps']:g} bps a year, each night "
        "held). trades.csv's gross P&L is already after slippage, so the P&L before costs is gross P&L plus slippage, and the net P&L is gross "
        "P&L minus commission and borrow. Rates in bps are totals over the traded notional (every fill, both legs), so they are rates per side. "
        "The cost-sensitivity curve re-executes the same plan at 0 to 20 bps of slippage per side, commission and borrow unchanged."))
    if not len(run.trades):
        s.empty = _nothing_traded(run) + " There are no costs to measure."
        return s
    s.items += [cost_table(run), break_even_table(run)]
    if run.cost_sensitivity is None:
        s.notes.append("This run directory has no cost_sensitivity.csv (a run written before it existed): no cost-sensitivity curve.")
        return s
    t = C.tidy_cost_sensitivity(run.cost_sensitivity)
    s.items += [draw("cost_sensitivity", "Cost sensitivity",
                     f"Total return and excess total return over the run, after all costs, when the same plan is re-executed at each slippage per "
                     f"side (commission and borrow as in the run); the dashed line is this run's {c['slippage_bps']:g} bps, and a cross marks where a "
                     "curve reaches zero.",
                     F.cost_sensitivity, t, c["slippage_bps"], C.sensitivity_break_even(t), _source(run)),
                sensitivity_table(run)]
    return s


def exposure_section(run: RunData) -> S.Section:
    s = S.Section("exposure", "Exposure", intro=(
        "What the portfolio held, as fractions of its value at each close (100% = the portfolio's value): long and short (both positive), "
        "net = long - short, gross = long + short, and the beta-adjusted net: each held position's weight times its beta to the peer basket "
        "(OLS over the 252 sessions before that day, point in time), summed; the basket exposure the hedge leaves. Turnover and the time "
        "in the market from the same records; the hedge basket each trade actually held, with the peers left out and why."))
    if run.exposure is None:
        s.empty = "This run directory has no exposure.csv."
        return s
    src = _source(run)
    if "net" not in run.exposure:  # the oldest run directories: gross exposure only
        s.items.append(draw("exposure", "Exposure", "Sum of absolute position values over portfolio value at each close.",
                            F.exposure, run.exposure["exposure"], src))
        s.notes.append("exposure.csv has no net column (a run written before it existed): only the gross exposure is shown.")
        return s
    s.notes += X.exposure_notes(run.exposure)
    s.items += [draw("exposure", "Exposure over time",
                     "Long (above zero) and short (drawn below zero) exposure, the net and the beta-adjusted net, at each close, in percent of "
                     "portfolio value, held until the next close.",
                     F.exposure_lines, X.exposure_over_time(run.exposure), src),
                exposure_table(run), turnover_table(run)]
    if len(run.trades):
        b = baskets_table(run)
        s.items += [b, peers_left_out_table(run, b.frame)]
    return s


def tails_section(run: RunData) -> S.Section:
    s = S.Section("tails", "Tails", intro=(
        "How large the bad days, months and years were, for the strategy and the buy-and-hold series, from daily simple returns (fractions "
        "shown in percent). A strategy that is flat most days has mostly zero returns, which make its every-session tails look thin (VaR near "
        "0, a huge kurtosis); the column of sessions in the market (a position at the previous close or at this close) shows the tails of the "
        "days it actually carried risk."))
    tt_table = tail_table(run)
    s.items.append(tt_table)
    r = run.returns
    if run.exposure is not None:
        tt = TL.tail_table(r, run.exposure)
        m = TL.in_market_sessions(run.exposure).reindex(r.index, fill_value=False).to_numpy(dtype=bool)
        row, what, series = "strategy_in_market", "strategy, sessions in the market", r["strategy"][m]
    else:
        tt = TL.tail_table(r)
        row, what, series = "strategy", "strategy, every session", r["strategy"]
    if int(tt.at[row, "n"]) < 2:
        s.notes.append("No return-tails figure: the strategy was in the market on fewer than 2 sessions.")
        return s
    s.items.append(draw("return_tails", "Return tails",
                        f"Histogram of the strategy's daily returns ({what}), its historical 95% VaR and CVaR as in the table, and a normal "
                        "distribution of the same mean and standard deviation for comparison.",
                        F.return_tails, series, float(tt.at[row, "var_95"]), float(tt.at[row, "cvar_95"]), _source(run), what=what))
    return s


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
    s.items.append(draw("placebo", "Placebo null",
                        f"Total return after costs of {ps['placebo_n']} placebo runs: the strategy's own holdings (lengths, sides, hedge baskets) placed at "
                        f"seeded random sessions (seed {ps['seed']}) that touch no session from {ps.get('before', 0)} before to {ps.get('after', 0)} after "
                        f"day 0 of any of the {ps.get('events_avoided', '?')} events avoided ({ps.get('avoided', 'the calendar events and releases of the target and its peers')}), "
                        "and executed like the strategy. "
                        f"The strategy beats {ps['actual_percentile']:.1f}% of them; placebo p = {ps['placebo_p']:.3f} (share of placebo runs at least as good).",
                        F.placebo_distribution, run.placebo["total_return"].to_numpy(), ps["actual_total_return"], ps["placebo_p"], ps["placebo_n"],
                        _source(run), ps.get("placebo_p_conservative")))
    s.items.append(placebo_table(run))
    return s


def _drift_sentence(run: RunData) -> str:
    """The pre-event drift test's numbers (study.csv, window -5:-1, group all, BMP test) for the intro."""
    if run.study is None or not len(run.study):
        return ""
    st = run.study
    rows = st[(st["window"].astype(str) == DRIFT_WINDOW) & (st["group"] == "all")].set_index("model")
    parts = []
    for m in [m for m in MODEL_ORDER if m in rows.index] + [m for m in rows.index if m not in MODEL_ORDER]:
        r = rows.loc[m]
        if not np.isfinite(r["caar"]):
            continue
        q = f", q {r['q_bmp']:.3f}" if "q_bmp" in r and np.isfinite(r["q_bmp"]) else ""
        parts.append(f"{MODEL_LABELS.get(m, m)} {r['caar']:.2%} (n={int(r['n'])}, BMP t {r['t_bmp']:.2f}, p {r['p_bmp']:.3f}{q})")
    if not parts:
        return ""
    n_all = int(run.study_json.get("n_events", 0)) if run.study_json else 0
    studied = f" of the {n_all} studied" if n_all else ""
    return (" Pre-event drift, the CAAR over days -5 to -1 (before the news could be traded; unknown-time events are left out of this "
            f"window, so n counts fewer events{studied}): " + "; ".join(parts) + ".")


def event_study_section(run: RunData) -> S.Section:
    u, src = run.config["universe"], _source(run)
    market = (run.config.get("study") or {}).get("market") or u.get("market", "the market")
    s = S.Section("event-study", "Event study", intro=(
        f"Abnormal returns of {u['target']} around each event's reaction session (day 0) under three models: peer-adjusted (minus each "
        f"event's own hedge basket, the peers without the announcing company), market model (minus alpha + beta times {market}, fitted on the "
        f"event's estimation window) and market-adjusted (minus {market}). Daily simple returns; CAAR is the mean cumulative abnormal return "
        "over the events of a group; BHAR the buy-and-hold abnormal return; q the Benjamini-Hochberg adjusted p over every test of study.csv."
        + _drift_sentence(run)))
    if run.ar is not None and len(run.ar):
        lo = int(run.ar["day"].min())
        models = [m for m in MODEL_ORDER[::-1] if m in set(run.ar["model"])]
        by_model = {m: T.caar_paths(run.ar, run.events, model=m, lo=max(lo, -10), hi=20) for m in models}
        if any(len(p) for p in by_model.values()):
            s.items.append(draw("caar_models", "CAAR by model",
                                f"Mean cumulative abnormal return of all events under each model, cumulated from day {max(lo, -10)}, with a 95% band from "
                                "the cross-sectional standard error; days -5 to -1 shaded (pre-event drift shows as the path's level at day -1). "
                                "Unknown-time events (their news may fall after day 0's close) count only from day +1, where they join with their "
                                "whole CAR from day -10: a step at day +1 is partly that change of sample, not a move of the events already counted "
                                "(the panel titles give n before and after).",
                                F.caar_models, by_model, src + " Event study: three models."))
        else:
            s.notes.append("No CAAR figure: fewer than 3 events have abnormal returns for the event study.")
    dt_ = drift_table(run)
    if dt_ is not None:
        s.items.append(dt_)
    models = [m for m in MODEL_ORDER if run.study is not None and m in set(run.study["model"])]
    for m in models:
        st = study_table(run, m)
        if st is not None:
            s.items.append(st)
    if run.study is not None and len(run.study):
        sr = signal_regressions_table(run)
        if sr is not None:
            s.items.append(sr)
        else:
            s.notes.append("study.json has no signal regressions (a run written before they existed, or no study.json).")
    if run.signals is not None and len(run.signals):
        ev, r = run.events, run.returns
        marks = pd.concat([
            pd.DataFrame({"day0": run.signals.index[run.signals["release"] == 1] if "release" in run.signals else [], "kind": "earnings"}),
            pd.DataFrame({"day0": pd.to_datetime(ev.loc[(ev["category"] != "earnings") & ev["traded"].astype(bool), "reaction_session"]), "kind": "ai_infra"}),
        ])
        marks = marks[(marks["day0"] >= r.index[0]) & (marks["day0"] <= r.index[-1])]
        s.items.append(draw("signals_timeline", "Signals timeline",
                            "AWS operating income TTM over Amazon capex TTM, and AWS backlog growth, each as it was known at every session "
                            "(each input from the session after the document that first published it: the release, or the 10-Q/10-K for figures "
                            "only found there; gaps where an input is missing or not yet public; see DATA.md).",
                            F.signal_timeline, run.signals, marks, src + " Fundamentals: bundled AMZN filings."))
    if not s.items:
        s.empty = ("No event study: study.enabled is false in this run's config." if not run.config.get("study", {}).get("enabled", True)
                   else "No event study: this run directory has no study.csv or abnormal_returns.csv.")
    return s


def per_event_section(run: RunData) -> S.Section:
    target = run.config["universe"]["target"]
    s = S.Section("per-event", "Per-event returns", intro=(
        f"What each event unit could earn: {target} against its own hedge basket over the window a trade held (entry fill to exit fill), "
        "with the gap apart (from the close before day 0 to the first legal fill: the overnight gap, and for news during or after day 0's "
        "session the whole of day 0 as well); and how large its reaction was: the peer-adjusted CAR over day 0 and day +1 "
        "with its standardised CAR (SCAR, the event's own t statistic) and p. Returns are compounded daily simple returns, CARs sums of daily "
        "abnormal returns, as fractions shown in percent."))
    pe = per_event_table(run)
    if not len(pe.frame):
        s.empty = "No event unit of this run falls inside the price data."
        return s
    s.items.append(pe)
    if _has_traded_windows(run):
        ex = pe.frame.rename(columns={"excess_traded": "excess"}).dropna(subset=["excess"])
        s.items.append(draw("excess_distribution", "Per-event excess returns",
                            f"{target} minus the event's own hedge basket, from each event's entry fill to its exit fill (the part a trade could earn; "
                            "the move from the close before day 0 to the first legal fill is left out), for every event unit with a legal entry and "
                            "exit in the run.",
                            F.excess_distribution, ex, _source(run), "entry fill to exit fill"))
    else:
        s.items.append(draw("excess_distribution", "Per-event excess returns",
                            f"{target} minus the peer basket, compounded over day 0 and day +1 (close to close), for every selected event in the run period.",
                            F.excess_distribution, pe.frame, _source(run), "0:1"))
    return s


def in_out_sample_section(run: RunData) -> S.Section:
    src, names, live = _source(run), _names(run), run.live_start
    s = S.Section("in-out-sample", "In and out of sample", intro=(
        "Whether the result holds across the period. " +
        (f"The live start {live} ({run.live_start_source}) is the first out-of-sample day: the table measures the run before it and from it "
         "on, and the figures mark it with a dashed line. " if live else "") +
        f"Rolling statistics use trailing {ROLL_WINDOW}-session windows (about six months; no later session enters a value): alpha against "
        "the peer basket (OLS, annualised), the information ratio of the daily excess over a basket position of the same net exposure "
        "(annualised with 252 sessions), and the strategy's volatility. The equity curve draws the strategy on its own axis, so a "
        "dollar-neutral book is not flattened beside the buy-and-hold series."))
    if live:
        s.items.append(split_table(run))
    else:
        s.notes.append("No live start is set, so the sheet is not split into before and after: set report.live_start in the run's config, "
                       "or rebuild this sheet with 'aibt tearsheet RUN_DIR --live-start YYYY-MM-DD' (or 'aibt run --live-start').")
    rf = RS.rolling_frame(run.returns, run.exposure, ROLL_WINDOW)
    dd = T.worst_drawdowns(run.returns["strategy"])
    s.items += [
        draw("equity_drawdowns", "Equity and drawdowns",
             f"Top: the strategy's growth of 1 (after costs) on its own linear axis, its {len(dd)} worst drawdown{'s' if len(dd) != 1 else ''} "
             "(at most five) shaded from peak to recovery (or to the end), depth at the trough. Bottom: growth of 1 of the buy-and-hold series, "
             "log scale." + (" Dashed: the live start." if live else ""),
             F.equity_with_drawdowns, T.cumulative(run.returns), dd, live, src, names),
        draw("rolling_alpha_ir_vol", "Rolling alpha, information ratio and volatility",
             f"Trailing {ROLL_WINDOW}-session alpha against the peer basket (annualised), information ratio of the daily excess "
             "r_strategy - net_held x r_basket (annualised) and volatility (annualised); blank until a full window exists or where the "
             "window has no variance." + (" Dashed: the live start." if live else ""),
             F.rolling_alpha_ir_vol, rf, ROLL_WINDOW, live, src),
    ]
    return s


def drawdowns_section(run: RunData) -> S.Section:
    return S.Section("drawdowns", "Drawdowns", intro=(
        "Falls of the strategy's cumulative wealth (growth of 1, daily returns compounded) from its running peak; depth as a fraction of "
        "the peak, shown in percent."),
        items=[draw("drawdown", "Drawdown", "Fall from the running peak of cumulative wealth, in percent.",
                    F.underwater, T.drawdowns(run.returns), _source(run), _names(run)),
               drawdowns_table(run)])


#: the sheet's section builders; adding a section is adding a function here (its id from DESIGN.md's list)
SECTIONS = (metrics_section, trade_stats_section, costs_section, exposure_section, tails_section, placebo_section, event_study_section,
            per_event_section, in_out_sample_section, drawdowns_section)


def build_sections(run: RunData, workers: int = DRAW_WORKERS) -> list[S.Section]:
    """Every section of the sheet, in DESIGN.md's order (:func:`backtests.reports.sections.assemble`), every
    figure drawn: in ``workers`` processes while the tables are computed here (1: all in this process)."""
    import scipy.stats  # noqa: F401 -- 0.5 s: the tables need it here and the tails figure in a worker; imported once, before the fork

    with _frozen_gc(), _drawing_pool(workers):
        pool, ahead = _POOL.get(), {}
        if pool is not None and len(run.trades):  # the bootstrap (arch) is the one slow table: a worker starts on it at once
            ahead[("trade_summary", BOOT_SEED, BOOT_REPS)] = pool.submit(TRS.trade_summary, run.trades, seed=BOOT_SEED, reps=BOOT_REPS).result
        token = _AHEAD.set(ahead)
        try:
            return S.resolve(S.assemble(b(run) for b in SECTIONS))
        finally:
            _AHEAD.reset(token)


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
        "live_start": f"{run.live_start} ({run.live_start_source})" if run.live_start else "none (no in- and out-of-sample split)",
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


@contextlib.contextmanager
def _gc_paused():
    """The garbage collector off while the block runs, back to its previous state after."""
    import gc

    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def render_pdf(html: str) -> bytes:
    """The same HTML as a PDF (WeasyPrint, print CSS of the template: A4, tables not cut mid-row, long
    tables across pages with their header repeated, figures scaled to the page width).

    The garbage collector is paused while WeasyPrint works: its full collections, walking the many layout
    boxes again and again, took a third to a half of the time on the default run, for little to collect (the
    peak memory grows by about 17 MB without them)."""
    wp = _weasyprint()
    with _gc_paused():
        return wp.HTML(string=html).write_pdf()


def build_tearsheet(run_dir: str | Path, pdf: bool = False, live_start: str | None = None, workers: int = DRAW_WORKERS,
                    live_start_field: str = "--live-start") -> dict[str, Path]:
    """Build the tear sheet of a run directory; returns the paths written.

    Writes ``figures/*.png``, ``tables/<section-id>__<table-name>.csv`` (each table's raw frame),
    ``tearsheet.html`` and, with ``pdf``, ``tearsheet.pdf`` rendered from the same HTML. ``live_start``
    (ISO date) overrides the config's ``report.live_start`` for this sheet; it must lie inside the run's
    dates (:func:`backtests.config.live_start_problems`; :class:`InputError` naming ``live_start_field``
    otherwise). Figures are drawn in ``workers`` processes. Everything is written to temporary names first
    and moved into place only once all of it is written, so a failure leaves the previous tear sheet
    intact; with ``pdf`` and no WeasyPrint, nothing is written at all."""
    if pdf:
        _weasyprint()
    run = load_run(run_dir)
    if live_start is not None:
        live_start = str(live_start)
        problems = live_start_problems(live_start, str(run.summary["start"]), str(run.summary["end"]), source=str(run.path), field=live_start_field)
        if problems:
            raise InputError(problems)
        run = dataclasses.replace(run, live_start=live_start, live_start_source=f"from {live_start_field}")
    d = run.path
    sections = build_sections(run, workers)
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
