"""The morning report of a sweep: what the night's combinations found, and how much of it is selection luck.

Split like the tear sheet (alphalens' performance / plotting / tears):

* **frames** -- pure functions on the store's frames (:func:`split_columns`, :func:`top_table`,
  :func:`heatmap_grid`, :func:`heatmap_pairs`, :func:`returns_matrix`, :func:`rank_pairs`,
  :func:`equity_curves`); they take and return DataFrames and touch no file.
* **figures** -- each drawing function takes those frames and returns a :class:`matplotlib.figure.Figure`
  (no pyplot state; fixed colours; units and a source line on every figure).
* **assembly** -- :func:`write_report` reads the database through :mod:`backtests.sweeps.store`
  (``load_results``, ``load_returns``, ``load_spec_text``), computes the overfitting statistics with
  :mod:`backtests.sweeps.overfit` and writes, atomically, a report directory holding
  ``sweep_report.json``, a self-contained ``sweep_report.html`` (Jinja2 with autoescape, figures as
  base64 PNG, no scripts, no external fonts), ``figures/*.png`` and an aibt ``manifest.json``.

The report directory follows the ``--out`` rule of :mod:`backtests.reports.rundir`: a new path, an
empty directory or a previous sweep report (an aibt directory with its manifest.json and
sweep_report.json) is written; anything else is refused with :class:`~events.errors.InputError`
before any work, and a failure leaves the previous report (or nothing) in place.

Which trials the statistics use: the deflated Sharpe ratio deflates the best combination's Sharpe
by every finished combination (its ``sharpe`` column comes from summary.json, so it is known even
for combinations whose daily returns were not kept); the CSCV probability of backtest overfitting,
Hansen's SPA test and the walk-forward selection need daily returns and use the finished
combinations whose returns the database holds, over the sessions they all share.
``sweep_report.json``'s ``overfit_sample`` says how many that was.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import itertools
import json
import math
import platform
import re
import sqlite3
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from jinja2 import Environment, FileSystemLoader, select_autoescape
from matplotlib import colormaps
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from backtests.files import json_ready
from backtests.reports import figures as F
from backtests.reports.rundir import KEY_PACKAGES, atomic_directory, check_out_dir, git_commit, is_run_directory
from events.errors import InputError, Problem

#: the store's bookkeeping columns (backtests/sweeps/__init__.py); every other column is a parameter or a metric
FIXED = ("key", "ordinal", "status", "error", "attempts", "duration", "worker", "engine")
#: summary.json metrics that are fractions (shown in percent); counts are shown as integers
PCT_METRICS = {"total_return", "cagr", "ann_vol", "max_drawdown", "excess_total_return", "alpha_ann", "hit_rate", "exposure"}
P_METRICS = {"placebo_p"}  # probabilities, shown with 3 decimals
INT_METRICS = {"n_trades", "n_events", "placebo_n", "n_events_calendar", "n_events_selected", "n_events_tradable", "n_events_traded"}
#: metrics shown beside the ranking metric in the top table, when present
SHOWN_METRICS = ["sharpe", "total_return", "max_drawdown", "excess_total_return", "information_ratio", "n_trades"]
#: short column headers for the top table (the full key is the header's tooltip)
METRIC_LABELS = {"sharpe": "Sharpe", "total_return": "total return", "max_drawdown": "max drawdown", "excess_total_return": "excess vs basket",
                 "information_ratio": "info. ratio", "n_trades": "trades"}
#: metric -> the direction that is better when a spec names none (a drawdown is negative: closer to 0 is better)
DEFAULT_DIRECTION = "maximize"

TOP_N = 20
MAX_HEATMAPS = 10
MAX_FAILURES_SHOWN = 20
PBO_SPLITS = 16
MIN_SESSIONS = 2 * PBO_SPLITS
#: walk-forward windows (sessions): a year in sample, a quarter out of sample (shorter samples: see walk_forward_windows)
WF_IS, WF_OOS = 252, 63
#: the effective number of trials (eigenvalues of the return correlations) is computed up to this many combinations
MAX_EFFECTIVE_N = 2000
ANNUALISATION = 252
HTML_LIMIT = 2_000_000
#: figure resolutions tried in turn until sweep_report.html is under HTML_LIMIT
DPI_STEPS = (90, 65, 45)
COLORS = {"best": F.COLORS["strategy"], "walk_forward": F.COLORS["amzn"], "trials": F.COLORS["peer_basket"], "below": "#d62728",
          "base": F.COLORS["benchmark"]}
REPORT_FILES = ("sweep_report.json", "sweep_report.html")


# ====================================================================== frames
def split_columns(results: pd.DataFrame, spec_params=None) -> tuple[list[str], list[str]]:
    """(parameter columns, metric columns) of a ``load_results`` frame.

    Parameters are the spec's dotted keys present as columns (every dotted, non-bookkeeping column
    when no spec keys are given); metrics are the remaining numeric columns (summary.json's
    ``start``/``end`` dates are neither).
    """
    cols = [c for c in results.columns if c not in FIXED]
    if spec_params:
        params = [k for k in spec_params if k in results.columns]
    else:
        params = [c for c in cols if "." in str(c)]
    metrics = [c for c in cols if c not in params and pd.api.types.is_numeric_dtype(results[c]) and not pd.api.types.is_bool_dtype(results[c])]
    return params, metrics


def _hashable(v):
    """A parameter value as a grouping label: scalars as they are, containers as canonical JSON."""
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v, sort_keys=True, default=str)
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


def _sort_key(v):
    if v is None:
        return (3, "")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (0, float(v), "")
    if isinstance(v, str):
        return (1, 0.0, v)
    return (2, 0.0, str(v))


def value_text(v) -> str:
    """A parameter value as the report prints it (``null`` for None, JSON for containers)."""
    v = _hashable(v)
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v)) if not isinstance(v, bool) else str(v)
    return str(v)


def _better_first(direction: str) -> bool:
    """Whether larger values of the metric are better (``maximize``/``max``)."""
    d = str(direction or DEFAULT_DIRECTION).lower()
    if d in ("maximize", "maximise", "max", "higher"):
        return True
    if d in ("minimize", "minimise", "min", "lower"):
        return False
    raise InputError(Problem(f"unknown direction {direction!r}", field="direction", expected="maximize or minimize"))


def done_trials(results: pd.DataFrame, metric: str, columns=None) -> pd.DataFrame:
    """Finished combinations with a finite value of ``metric`` (the ones that can be ranked); only ``columns``
    (and the metric) when given, so a million-row sweep is not copied whole for one heat map."""
    if metric not in results:
        return results.iloc[0:0]
    ok = (results["status"] == "done").to_numpy() & np.isfinite(pd.to_numeric(results[metric], errors="coerce").to_numpy(float))
    if columns is not None:
        cols = list(dict.fromkeys([*[c for c in columns if c is not None], metric]))
        return results.loc[ok, cols]
    return results[ok]


def top_table(results: pd.DataFrame, params: list[str], metric: str, direction: str = DEFAULT_DIRECTION, n: int = TOP_N) -> pd.DataFrame:
    """The ``n`` best finished combinations by ``metric`` (ties: lower ordinal first).

    Columns: ``rank`` (1 = best), ``key``, ``ordinal``, the parameter columns, then every other
    column of ``results`` that is not bookkeeping (the metrics). Combinations whose metric is
    missing (NaN) are not ranked.
    """
    d = done_trials(results, metric, ["ordinal"])
    asc = not _better_first(direction)
    first = d.assign(_m=pd.to_numeric(d[metric]).astype(float)).sort_values(["_m", "ordinal"], ascending=[asc, True], kind="mergesort").index[:n]
    d = results.loc[first]
    rest = [c for c in d.columns if c not in FIXED and c not in params]
    out = d[["key", "ordinal", *params, *rest]].reset_index(drop=True)
    out.insert(0, "rank", range(1, len(out) + 1))
    return out


def heatmap_grid(results: pd.DataFrame, x: str, y: str | None, metric: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(mean, count) of ``metric`` over the finished combinations, by values of ``y`` (rows) and ``x`` (columns).

    Each cell averages every finished combination with that pair of values, whatever its other
    parameters: for a full grid the mean over the other parameters' values, for a random search the
    mean of the combinations that landed in the cell; ``count`` says how many. Combinations whose
    metric is NaN are left out of both. ``y=None`` gives a single row labelled ``"all"``. Values
    are sorted (numbers, then text, then null); a cell nothing landed in is NaN with count 0.
    """
    d = done_trials(results, metric, [x, y])
    frame = pd.DataFrame({"y": [_hashable(v) for v in d[y]] if y is not None else ["all"] * len(d),
                          "x": [_hashable(v) for v in d[x]], "v": d[metric].to_numpy(float)})
    g = frame.groupby(["y", "x"], dropna=False, sort=False)["v"].agg(["sum", "count"])
    def none(v):  # groupby keeps a null label as NaN
        return None if isinstance(v, float) and math.isnan(v) else v

    xv = sorted({none(v) for v in g.index.get_level_values("x")}, key=_sort_key) if len(g) else []
    yv = sorted({none(v) for v in g.index.get_level_values("y")}, key=_sort_key) if len(g) else []
    mean = pd.DataFrame(np.nan, index=pd.Index(yv, dtype=object, name=y or ""), columns=pd.Index(xv, dtype=object, name=x))
    count = pd.DataFrame(0, index=mean.index.copy(), columns=mean.columns.copy())
    for (a, b), (s_, k) in zip(g.index, g[["sum", "count"]].itertuples(index=False, name=None)):
        i, j = yv.index(none(a)), xv.index(none(b))
        mean.iat[i, j] = s_ / k
        count.iat[i, j] = k
    return mean, count


def varying_params(results: pd.DataFrame, params: list[str], metric: str) -> list[str]:
    """The parameters that take more than one value among the ranked combinations."""
    d = done_trials(results, metric, params)
    return [p for p in params if len({_hashable(v) for v in pd.unique(d[p].map(_hashable))}) > 1]


def param_effects(results: pd.DataFrame, params: list[str], metric: str) -> pd.Series:
    """Per parameter, the spread (max - min) of the mean metric across its values: how much it moves the metric."""
    out = {}
    for p in params:
        m, _ = heatmap_grid(results, p, None, metric)
        v = m.to_numpy(float)
        out[p] = float(np.nanmax(v) - np.nanmin(v)) if np.isfinite(v).any() else 0.0
    return pd.Series(out, dtype=float)


def heatmap_pairs(results: pd.DataFrame, params: list[str], metric: str, limit: int = MAX_HEATMAPS) -> tuple[list[tuple[str, str | None]], list[str]]:
    """(pairs (x, y) to draw, parameters left out).

    Every pair of varying parameters (the first in spec order on the x axis); a single varying
    parameter gives ``[(p, None)]``. With more pairs than ``limit``, only the pairs among the
    parameters that move the metric most (:func:`param_effects`) are kept.
    """
    vary = varying_params(results, params, metric)
    if len(vary) == 1:
        return [(vary[0], None)], []
    keep = list(vary)
    if len(vary) * (len(vary) - 1) // 2 > limit:
        k = max(k for k in range(2, len(vary) + 1) if k * (k - 1) // 2 <= limit)
        eff = param_effects(results, vary, metric)
        top = set(eff.sort_values(ascending=False, kind="mergesort").index[:k])
        keep = [p for p in vary if p in top]
    return list(itertools.combinations(keep, 2)), [p for p in vary if p not in keep]


def returns_matrix(returns: pd.DataFrame, keys) -> pd.DataFrame:
    """Daily returns of ``keys`` (those the frame holds, in that order) over the sessions all of them share.

    ``load_returns`` leaves NaN outside a combination's sessions; the statistics compare
    combinations on the same sessions, so rows with any NaN are dropped, and columns with no
    returns at all are left out first.
    """
    cols = [k for k in keys if k in returns.columns and returns[k].notna().any()]
    m = returns[cols].dropna(how="any")
    return m.sort_index()


def sharpe_ratios(returns: pd.DataFrame, annualisation: int = ANNUALISATION) -> pd.Series:
    """Annualised Sharpe ratio (risk-free 0, ``sqrt(annualisation)``) of each column; NaN for a flat column."""
    sd = returns.std(ddof=1)
    return (returns.mean() / sd.where(sd > 0) * math.sqrt(annualisation)).astype(float)


def rank_pairs(pbo: dict) -> pd.DataFrame:
    """In-sample vs out-of-sample of each CSCV split's chosen combination, one row per split.

    From :func:`backtests.sweeps.overfit.pbo_cscv`'s arrays: ``is_metric`` (the chosen combination's
    in-sample metric, the best of all by construction), ``oos_metric`` (its metric on the other half),
    ``oos_rank`` (its relative rank out of sample, w in (0, 1), 1 = best, 0.5 = the median; from the
    ``lambdas`` when ``oos_rank`` is absent) and ``selected`` (its key, when given).
    """
    n = len(pbo.get("lambdas", [])) if pbo.get("lambdas") is not None else 0
    w = pbo.get("oos_rank")
    if w is None and n:
        w = 1.0 / (1.0 + np.exp(-np.asarray(pbo["lambdas"], dtype=float)))
    if w is None:
        return pd.DataFrame(columns=["is_metric", "oos_metric", "oos_rank", "selected"])
    w = np.asarray(w, dtype=float)
    nan = np.full(len(w), np.nan)
    return pd.DataFrame({"is_metric": np.asarray(pbo.get("is_metric", nan), dtype=float), "oos_metric": np.asarray(pbo.get("oos_metric", nan), dtype=float),
                         "oos_rank": w, "selected": list(pbo["selected"]) if pbo.get("selected") is not None else [None] * len(w)})


def equity_curves(walk_forward_returns: pd.Series, best_returns: pd.Series) -> pd.DataFrame:
    """Growth of 1 of the walk-forward stitched out-of-sample returns and of the best in-sample
    combination's returns, over the sessions of the stitched series (columns ``walk_forward``, ``best``)."""
    wf = pd.Series(walk_forward_returns, dtype=float).dropna()
    best = pd.Series(best_returns, dtype=float).reindex(wf.index).fillna(0.0)
    return pd.DataFrame({"walk_forward": (1 + wf).cumprod(), "best": (1 + best).cumprod()})


def fixed_params(results: pd.DataFrame, params: list[str]) -> tuple[list[str], dict]:
    """(parameters that vary, {parameter: value} of those with one value in every combination).

    A parameter swept over a single value (``placebo.n: [200]``) is part of every combination's base: it is
    shown once, not in every row, and the base config's combination is looked for on the varying ones.
    """
    vary, fixed = [], {}
    for p in params:
        vals = {json.dumps(v, sort_keys=True, default=str) for v in pd.unique(results[p].map(_hashable))}
        if len(vals) > 1:
            vary.append(p)
        elif len(results):
            fixed[p] = _hashable(results[p].iloc[0])
    return vary, fixed


def short_names(keys) -> dict:
    """Each dotted key's shortest trailing part that no other key ends with (``exit_offset``, or ``placebo.n``
    beside ``strategy.params.n``)."""
    keys = list(keys)
    out = {}
    for k in keys:
        parts = k.split(".")
        for i in range(1, len(parts) + 1):
            tail = ".".join(parts[-i:])
            if not any(o != k and (o == tail or o.endswith("." + tail)) for o in keys):
                break
        out[k] = tail
    return out


def base_combination(results: pd.DataFrame, params: list[str], base_values: dict | None) -> pd.Series | None:
    """The finished combination whose every parameter in ``params`` (pass the varying ones, :func:`fixed_params`)
    equals the base config's value, or None."""
    if not base_values or any(p not in base_values for p in params):
        return None
    want = {p: _hashable(base_values[p]) for p in params}
    d = results[results["status"] == "done"].sort_values("ordinal", kind="mergesort")
    hit = np.ones(len(d), dtype=bool)
    for p in params:
        w = want[p]
        if isinstance(w, (int, float)) and not isinstance(w, bool):
            col = d[p].map(lambda v: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else np.nan).to_numpy(float)
            hit &= np.isclose(col, float(w), rtol=1e-12, atol=1e-12)
        else:
            hit &= np.array([_same(_hashable(v), w) for v in d[p]], dtype=bool)
    return d.iloc[int(np.argmax(hit))] if hit.any() else None


def _same(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)
    return a == b


# ====================================================================== figures
def _is_pct(metric: str) -> bool:
    return metric in PCT_METRICS


def _metric_text(metric: str, v, digits: int = 2) -> str:
    if v is None or (isinstance(v, (float, np.floating)) and not np.isfinite(v)):
        return "-"
    if metric in INT_METRICS:
        return f"{int(round(float(v)))}"
    if _is_pct(metric):
        return f"{float(v) * 100:.{digits}f}%"
    if metric in P_METRICS:
        return f"{float(v):.3f}"
    return f"{float(v):.{digits}f}"


def _unit(metric: str) -> str:
    return "%" if _is_pct(metric) else ("count" if metric in INT_METRICS else "ratio")


def _short(text: str, n: int = 14) -> str:
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def colour_centre(values) -> float:
    """Where a diverging colour map turns: 0 when the values straddle 0 (gain vs loss), else their median."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not v.size:
        return 0.0
    if v.min() < 0 < v.max():
        return 0.0
    return float(np.median(v))


def _norm(vals: np.ndarray, centre: float) -> TwoSlopeNorm:
    finite = vals[np.isfinite(vals)]
    lo = float(finite.min()) if finite.size else centre - 1
    hi = float(finite.max()) if finite.size else centre + 1
    span = max(hi - centre, centre - lo, 1e-12)
    return TwoSlopeNorm(vcenter=centre, vmin=centre - span, vmax=centre + span)


def heatmap(mean: pd.DataFrame, count: pd.DataFrame, metric: str, source: str, centre: float, better_high: bool = True) -> Figure:
    """Mean ``metric`` per pair of parameter values, diverging colours turning at ``centre``
    (green = better, whichever the direction), each cell annotated with its mean and count."""
    rows, cols = mean.shape
    scale = 100.0 if _is_pct(metric) else 1.0
    vals = mean.to_numpy(dtype=float) * scale
    height = min(max(0.5 * rows + 2.2, 3.0), 9.0)
    fig, (ax,) = F._new(height, left_in=1.6, right_in=0.2, bottom_in=1.15, top_in=0.5)
    ax.grid(False)
    cmap = colormaps["RdYlGn" if better_high else "RdYlGn_r"].with_extremes(bad="#eeeeee")
    norm = _norm(vals, centre * scale)
    im = ax.imshow(np.ma.masked_invalid(vals), cmap=cmap, norm=norm, aspect="auto")
    ax.set_xticks(range(cols), [_short(value_text(v)) for v in mean.columns], rotation=30 if cols > 6 else 0, ha="right" if cols > 6 else "center")
    ax.set_yticks(range(rows), [_short(value_text(v)) for v in mean.index])
    ax.set_xlabel(str(mean.columns.name))
    ax.set_ylabel(str(mean.index.name) if mean.index.name else "")
    fs = 10 if rows * cols <= 16 else (8 if rows * cols <= 60 else (6 if rows * cols <= 200 else 0))
    if fs:
        for i in range(rows):
            for j in range(cols):
                k = int(count.iat[i, j])
                if k == 0:
                    ax.text(j, i, "none", ha="center", va="center", fontsize=fs - 1, color="#777777")
                    continue
                v = vals[i, j]
                r, g, b, _ = cmap(norm(v))
                dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.45
                txt = f"{v:.1f}%" if _is_pct(metric) else f"{v:.2f}"
                ax.text(j, i, f"{txt}\nn={k}", ha="center", va="center", fontsize=fs, color="white" if dark else "black")
    unit = " (%)" if _is_pct(metric) else ""
    c = f"{centre * scale:.1f}%" if _is_pct(metric) else f"{centre:.2f}"
    fig.colorbar(im, ax=ax, label=f"mean {metric}{unit}, centre {c}", shrink=0.9, pad=0.02)
    title = f"Mean {metric} by {mean.columns.name}" + (f" and {mean.index.name}" if mean.index.name else "")
    ax.set_title(_short(title, 110), fontsize=11)
    F._source(fig, source)
    return fig


def metric_distribution(values: pd.Series, best: float | None, metric: str, source: str, base: float | None = None) -> Figure:
    """Histogram of ``metric`` over the ranked combinations, the best (and the base config's) marked."""
    fig, (ax,) = F._new(3.4)
    scale = 100.0 if _is_pct(metric) else 1.0
    x = np.asarray(values, dtype=float) * scale
    x = x[np.isfinite(x)]
    if x.size:
        bins = np.histogram_bin_edges(x, bins=min(max(x.size // 3, 5), 40)) if np.ptp(x) > 0 else 5
        ax.hist(x, bins=bins, color=COLORS["trials"], alpha=0.75, label=f"combinations (n={x.size})")
        ax.axvline(float(np.median(x)), color="black", lw=1, ls="--", label=f"median {_metric_text(metric, np.median(x) / scale)}")
    if best is not None and np.isfinite(best):
        ax.axvline(best * scale, color=COLORS["best"], lw=2.2, label=f"best {_metric_text(metric, best)}")
    if base is not None and np.isfinite(base):
        ax.axvline(base * scale, color=COLORS["base"], lw=1.8, ls=":", label=f"base config {_metric_text(metric, base)}")
    ax.set_xlabel(f"{metric}" + (" (%)" if _is_pct(metric) else ""))
    ax.set_ylabel("combinations")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"Distribution of {metric} over the finished combinations")
    ax.legend(loc="upper left", frameon=False, fontsize=8)
    F._source(fig, source)
    return fig


def rank_scatter(pairs: pd.DataFrame, source: str, units: str = "annualised Sharpe ratio", degradation: dict | None = None) -> Figure:
    """CSCV, one point per split: the chosen (in-sample best) combination's in-sample metric against its
    out-of-sample metric (left, with the least-squares line) and against its out-of-sample relative rank (right;
    at or below 50% = at or below the median, the splits PBO counts)."""
    fig, (a1, a2) = F._new(4.2, ncols=2, sharex=False, wspace=0.28, left_in=0.8)
    below = (pairs["oos_rank"] <= 0.5).to_numpy()
    x = pairs["is_metric"].to_numpy(float)
    for ax, y in ((a1, pairs["oos_metric"].to_numpy(float)), (a2, pairs["oos_rank"].to_numpy(float))):
        ax.scatter(x[~below], y[~below], s=6, alpha=0.3, color=COLORS["best"], linewidths=0, label=f"above the median out of sample ({int((~below).sum()):,})")
        ax.scatter(x[below], y[below], s=6, alpha=0.3, color=COLORS["below"], linewidths=0, label=f"at or below the median ({int(below.sum()):,})")
        ax.set_xlabel(f"in-sample {units}")
    a1.axhline(0, color="black", lw=0.6)
    d = degradation or {}
    fx = x[np.isfinite(x)]  # a flat trial's Sharpe is +/-inf by overfit's convention: not on the axes
    if np.isfinite(d.get("slope", np.nan)) and fx.size:
        xs = np.linspace(fx.min(), fx.max(), 2)
        a1.plot(xs, d["intercept"] + d["slope"] * xs, color="black", lw=1.2, ls="--", label=f"least squares, slope {d['slope']:+.2f}")
    a1.set_ylabel(f"out-of-sample {units}")
    a1.set_title("Chosen combination: in- vs out-of-sample", fontsize=10)
    a1.legend(loc="upper left", frameon=False, fontsize=7)
    a2.axhline(0.5, color="black", lw=0.8, ls="--")
    a2.set_ylim(0, 1.02)
    a2.yaxis.set_major_formatter(PercentFormatter(1.0))
    a2.set_ylabel("out-of-sample relative rank (%, 100% = best)")
    a2.set_title(f"Chosen combination's out-of-sample rank, {len(pairs):,} splits", fontsize=10)
    F._source(fig, source)
    return fig


def logit_histogram(lambdas, pbo: float, source: str) -> Figure:
    """CSCV: histogram of the logits of the in-sample best's out-of-sample relative rank; PBO is the share at or below 0."""
    fig, (ax,) = F._new(3.6)
    lam = np.asarray(lambdas, dtype=float)
    lam = lam[np.isfinite(lam)]
    if lam.size:
        edges = np.histogram_bin_edges(lam, bins=min(max(lam.size // 20, 10), 50)) if np.ptp(lam) > 0 else np.array([lam[0] - 0.5, lam[0] + 0.5])
        if edges[0] < 0 < edges[-1] and not np.isclose(edges, 0).any():
            edges = np.sort(np.append(edges, 0.0))  # no bin straddles 0, so the colours split exactly at the median
        counts, _ = np.histogram(lam, bins=edges)
        left = edges[:-1]
        w = np.diff(edges)
        neg = left < 0
        ax.bar(left[neg], counts[neg], width=w[neg], align="edge", color=COLORS["below"], alpha=0.75, label="below the median out of sample")
        ax.bar(left[~neg], counts[~neg], width=w[~neg], align="edge", color=COLORS["best"], alpha=0.75, label="above the median out of sample")
    ax.axvline(0, color="black", lw=1, ls="--", label=f"median rank (logit 0); PBO = {pbo:.2f}")
    ax.set_xlabel("logit of the out-of-sample relative rank of the in-sample best, ln(w / (1 - w))")
    ax.set_ylabel("CSCV splits")
    ax.set_title("Probability of backtest overfitting: distribution of logits")
    ax.legend(loc="upper left", frameon=False, fontsize=8)
    F._source(fig, source)
    return fig


def walk_forward_equity(curves: pd.DataFrame, source: str, boundaries=None) -> Figure:
    """Growth of 1: the walk-forward stitched out-of-sample returns against the best in-sample combination's."""
    fig, (ax,) = F._new(3.8)
    ax.plot(curves.index, curves["best"], color=COLORS["best"], lw=1.6, label="best combination over the whole sample (chosen with hindsight)")
    ax.plot(curves.index, curves["walk_forward"], color=COLORS["walk_forward"], lw=2.0, label="walk-forward: best on each training window, traded on the next")
    for b in boundaries or []:
        ax.axvline(pd.Timestamp(b), color="#999999", lw=0.6, ls=":")
    ax.axhline(1.0, color="black", lw=0.5)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.2f}"))
    ax.set_ylabel("growth of 1 (daily strategy returns)")
    ax.set_title("Walk-forward out-of-sample equity vs the best in-sample combination")
    ax.legend(loc="upper left", frameon=False, fontsize=8)
    F._source(fig, source)
    return fig


# ====================================================================== reading the statistics
def read_pbo(p: float, n_splits: int | None = None) -> str:
    """PBO in plain words."""
    if p is None or not np.isfinite(p):
        return "PBO not available."
    where = f" in {p:.0%} of the {n_splits:,} CSCV splits" if n_splits else ""
    base = f"PBO {p:.2f}: the best in-sample choice ranked at or below the median out of sample{where}"
    if p >= 0.6:
        return base + "; picking the best in-sample did worse than picking at random, the ranking is mostly noise or overfit."
    if p >= 0.4:
        return base + "; it is as likely as not to be below the median out of sample, so the in-sample ranking carries little information."
    if p >= 0.2:
        return base + "; the in-sample ranking carries some information, but a below-median choice is a real risk."
    return base + "; choosing by in-sample rank has held up out of sample."


def read_dsr(dsr: float, n_trials: float, sharpe: float | None = None, sr0: float | None = None) -> str:
    """Deflated Sharpe ratio in plain words (``sharpe`` and ``sr0`` annualised)."""
    if dsr is None or not np.isfinite(dsr):
        return "Deflated Sharpe not available."
    n = f"{n_trials:,.0f}" if float(n_trials).is_integer() else f"{n_trials:,.1f}"
    s = f" ({sharpe:.2f} annualised)" if sharpe is not None and np.isfinite(sharpe) else ""
    bar = f" ({sr0:.2f})" if sr0 is not None and np.isfinite(sr0) else ""
    text = (f"Deflated Sharpe {dsr:.2f}: allowing for the {n} combinations tried, there is a {dsr:.0%} probability that the best "
            f"combination's Sharpe ratio{s} truly beats what the best of {n} skill-less combinations would show by luck{bar}")
    if dsr >= 0.95:
        return text + ", which clears the usual 95% bar."
    if dsr >= 0.5:
        return text + ", short of the usual 95% bar: the best result may be mostly the luck of many tries."
    return text + ": the best result is about what the luck of that many tries would give."


def read_spa(p: float | None, reason: str | None = None) -> str:
    """Hansen's SPA p-value in plain words."""
    if p is None or not np.isfinite(p):
        return f"SPA test not available: {reason}." if reason else "SPA test not available."
    text = "SPA p < 0.001: " if p < 0.001 else f"SPA p {p:.3f}: "
    if p < 0.05:
        return text + "at least one combination beat the base config by more than the luck of the search explains (5% level)."
    return text + "no combination beat the base config by more than the luck of searching this many would give (5% level)."


# ====================================================================== assembly
def _spec(text: str) -> dict:
    try:
        doc = yaml.safe_load(text) if text else {}
    except yaml.YAMLError:
        doc = {}
    return doc if isinstance(doc, dict) else {}


def _dotted(cfg: dict, key: str):
    cur = cfg
    for part in key.split("."):
        if not isinstance(cur, dict) or part not in cur:
            raise KeyError(key)
        cur = cur[part]
    return cur


def fast_sample_keys(db: Path) -> set | None:
    """The keys of a fast sweep's seeded random sample of kept daily returns, plus its base config's combination
    (None when every combination's returns were kept, or for other sweeps)."""
    meta = _meta_values(db, "fast_sample", "base_key")
    if not meta.get("fast_sample"):
        return None
    info = json.loads(meta["fast_sample"])
    if info.get("all"):
        return None
    return set(info.get("keys", [])) | ({meta["base_key"]} if meta.get("base_key") else set())


def _meta_values(db: Path, *names: str) -> dict:
    """``name -> value`` of the database's meta rows among ``names`` (those it has; nothing for an unreadable file)."""
    con = sqlite3.connect(str(db))
    try:
        return dict(con.execute(f"SELECT name, value FROM meta WHERE name IN ({','.join('?' * len(names))})", names).fetchall())
    except sqlite3.DatabaseError:
        return {}
    finally:
        con.close()


def exact_base_key(db: Path) -> str | None:
    """Key of the finished, current combination whose stored config equals the resolved base config the sweep
    recorded (meta ``base_config``; a fast sweep records the key itself, meta ``base_key``), or None (an older
    database, or the base is not among the combinations)."""
    con = sqlite3.connect(str(db))
    try:
        fast = con.execute("SELECT value FROM meta WHERE name = 'base_key'").fetchone()
        if fast and fast[0]:
            hit = con.execute("SELECT key FROM combinations WHERE key = ? AND status = 'done' AND current = 1", (fast[0],)).fetchone()
            return hit[0] if hit else None
        row = con.execute("SELECT value FROM meta WHERE name = 'base_config'").fetchone()
        if not row or not row[0]:
            return None
        hit = con.execute("SELECT key FROM combinations WHERE config = ? AND status = 'done' AND current = 1 ORDER BY ordinal LIMIT 1",
                          (row[0],)).fetchone()
        return hit[0] if hit else None
    except sqlite3.DatabaseError:
        return None
    finally:
        con.close()


def base_values(spec: dict, params: list[str], db: Path, spec_path: str | None = None) -> tuple[dict | None, str]:
    """The base config's value of every swept parameter, and where the base came from (or why not).

    An inline ``base`` mapping is resolved with the run-config defaults; a path is looked for, as the
    spec reads it, relative to the spec's folder (``spec_path``, which the store records), else beside
    the database, in the working directory or beside the bundled specs; a bare name such as
    ``default`` is also a bundled config.
    """
    from backtests.config import bundled_config, bundled_configs, load_config, resolve

    base = spec.get("base")
    cfg, where = None, None
    try:
        if isinstance(base, dict):
            cfg, where = resolve(base), "the spec's inline base"
        elif isinstance(base, str) and base:
            p = Path(base)
            here = Path(str(resources.files("backtests.sweeps")))
            cands = [p] if p.is_absolute() else ([Path(spec_path).parent / p] if spec_path else []) + [db.parent / p, Path.cwd() / p, here / p]
            if "/" not in base and not base.endswith((".yaml", ".yml")) and base in bundled_configs():
                cands.append(bundled_config(base))  # a bundled name such as `default`, as spec.py reads it
            for c in cands:
                if c.is_file():
                    cfg, where = load_config(c), str(c)
                    break
            if cfg is None:
                return None, f"the spec's base config {base!r} could not be found from here"
        else:
            cfg, where = resolve({}), "the default config (the spec names no base)"
    except InputError as exc:
        return None, f"the spec's base config could not be read ({exc.problems[0]})"
    try:
        return {p: _dotted(cfg, p) for p in params}, where
    except KeyError as exc:
        return None, f"the base config has no value for {exc.args[0]}"


def _source_line(db: Path, counts: dict, engines: list[str], period: tuple[str, str] | None) -> str:
    eng = ", ".join(engines) if engines else "?"
    per = f"; daily strategy returns {period[0]} to {period[1]}" if period else ""
    return f"Source: aibt sweep database {db.name} ({counts['n_trials']} combinations, {counts['n_done']} done; engine {eng}){per}."


JSON_LIST_LIMIT = 50


def _json_default(v):
    """What json cannot write by itself in a spec (YAML dates of an inline base, paths): ISO text or text."""
    if isinstance(v, (dt.date, dt.datetime, pd.Timestamp)):
        return v.isoformat()
    return str(v)


def _jsonable(v):
    """A statistic's value for sweep_report.json: numbers, text, dates as ISO text; short lists and tables
    (up to :data:`JSON_LIST_LIMIT` items) kept, longer ones replaced by their length (the figures show them)."""
    if isinstance(v, dict):
        if len(v) > JSON_LIST_LIMIT:
            return {"omitted": f"{len(v)} values"}
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, pd.DataFrame):
        if len(v) > JSON_LIST_LIMIT:
            return {"omitted": f"{len(v)} rows; see the figures"}
        f = v.reset_index() if not isinstance(v.index, pd.RangeIndex) else v
        return [_jsonable(r) for r in f.to_dict(orient="records")]
    if isinstance(v, (pd.Series, np.ndarray, list, tuple)):
        if len(v) > JSON_LIST_LIMIT:
            return {"omitted": f"{len(v)} values; see the figures"}
        if isinstance(v, pd.Series) and not isinstance(v.index, pd.RangeIndex):
            return {_jsonable(k) if not isinstance(k, str) else k: _jsonable(x) for k, x in v.items()}
        return [_jsonable(x) for x in list(v)]
    if isinstance(v, (pd.Timestamp, dt.datetime, dt.date)):
        return v.date().isoformat() if isinstance(v, pd.Timestamp) and v == v.normalize() else v.isoformat()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _stat_json(d: dict | None) -> dict | None:
    """An overfit result for the JSON (see :func:`_jsonable`); ``selection_counts`` as its 10 most chosen."""
    if d is None:
        return None
    d = dict(d)
    sc = d.get("selection_counts")
    if isinstance(sc, dict):
        top = sorted(sc.items(), key=lambda kv: -kv[1])
        d["selection_counts"] = {"distinct_chosen": len(sc), "most_chosen": [{"key": k, "splits": int(c)} for k, c in top[:10]]}
    return {str(k): _jsonable(v) for k, v in d.items()}


def _unavailable(reason: str) -> dict:
    return {"available": False, "reason": reason}


def _png(fig: Figure, dpi: int = 90) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _fit_html(doc: dict, drawn: list, extras: dict, db: Path, generated: str) -> tuple[list, str]:
    """(figures as PNG, HTML) under :data:`HTML_LIMIT` bytes: the figures at :data:`DPI_STEPS` in turn, then,
    at the lowest, heatmaps left out from the last one on; ``doc['settings']`` says which (and the page says so)."""
    html, pngs = "", []
    for dpi in DPI_STEPS:
        doc["settings"]["figure_dpi"] = dpi
        pngs = [(name, title, _png(fig, dpi), caption) for name, title, fig, caption in drawn]
        html = render_html(_context(doc, pngs, extras, db, generated))
        if len(html.encode()) <= HTML_LIMIT:
            return pngs, html
    heat = [i for i, p in enumerate(pngs) if p[0].startswith("heatmap_")]
    while heat and len(html.encode()) > HTML_LIMIT:
        pngs.pop(heat.pop())
        doc["settings"]["heatmaps_left_out_for_size"] = doc["settings"].get("heatmaps_left_out_for_size", 0) + 1
        html = render_html(_context(doc, pngs, extras, db, generated))
    if len(html.encode()) > HTML_LIMIT:
        raise RuntimeError(f"sweep_report.html would be {len(html.encode()):,} bytes, over the {HTML_LIMIT:,}-byte limit, even with small figures")
    return pngs, html


def _png_size(png: bytes) -> tuple[int, int]:
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def _fmt_cell(metric: str, v) -> dict:
    t = _metric_text(metric, v)
    neg = isinstance(v, (int, float, np.number)) and np.isfinite(v) and v < 0 and metric not in INT_METRICS
    return {"text": t, "cls": "neg" if neg else ""}


def default_out_dir(db: str | Path) -> Path:
    """``<db folder>/<db stem>-report``, as ``aibt sweep report`` names it."""
    db = Path(db)
    return db.with_name(f"{db.stem}-report")


def is_sweep_report(path: str | Path) -> bool:
    """Whether ``path`` is a sweep report written by aibt (an aibt manifest.json saying so, and sweep_report.json)."""
    p = Path(path)
    if not is_run_directory(p) or not (p / "sweep_report.json").is_file():
        return False
    try:
        return json.loads((p / "manifest.json").read_text(encoding="utf-8")).get("kind") == "sweep_report"
    except (OSError, ValueError, AttributeError):
        return False


def check_report_dir(out: str | Path) -> Path:
    """Refuse, before any work, a report folder aibt may not write: :func:`backtests.reports.rundir.check_out_dir`'s
    rule, and an aibt run directory that is not a sweep report is not replaced either."""
    out = Path(out)
    check_out_dir(out)
    if out.is_dir() and is_run_directory(out) and not is_sweep_report(out):
        raise InputError(Problem("holds an aibt run, not a sweep report; aibt does not replace a run with a report", path=str(out), field="--out",
                                 expected="a new path, an empty directory or a previous sweep report"))
    return out


def _overfit():
    from backtests.sweeps import overfit  # lazily: statistics are only needed here

    return overfit


def _store():
    from backtests.sweeps import store

    return store


def compute(db: str | Path, top_n: int = TOP_N, n_splits: int = PBO_SPLITS) -> tuple[dict, list, dict]:
    """Read the database and compute everything: (the JSON document, figures as (name, title, Figure, caption), HTML extras)."""
    db = Path(db)
    if not db.is_file():
        raise InputError(Problem("sweep database not found", path=str(db), expected="a SQLite database written by 'aibt sweep SPEC --db PATH'"))
    store = _store()
    results = store.load_results(db)
    spec_text = store.load_spec_text(db) or ""
    spec_path, running_now = None, False
    if hasattr(store, "status"):  # where the spec was (its base is relative to it) and whether a sweep holds the database now
        try:
            st = store.status(db)
            spec_path, running_now = st.get("spec"), bool(st.get("running_now"))
            # the path is recorded as typed: trust it only if the file there is still the spec the database used
            if spec_path and not (Path(spec_path).is_file() and Path(spec_path).read_text(encoding="utf-8") == spec_text):
                spec_path = None
        except (InputError, OSError, ValueError, KeyError, sqlite3.Error):
            spec_path = None
    spec = _spec(spec_text)
    metric = str(spec.get("metric") or "sharpe")
    direction = str(spec.get("direction") or DEFAULT_DIRECTION)
    better_high = _better_first(direction)
    spec_params = list(spec["params"]) if isinstance(spec.get("params"), dict) else None
    params, metrics = split_columns(results, spec_params)
    vary, fixed = fixed_params(results, params)
    names = short_names(params)
    status = results["status"].astype(str) if "status" in results else pd.Series(dtype=str)
    counts = {"n_trials": int(len(results)), "n_done": int((status == "done").sum()), "n_failed": int((status == "failed").sum()),
              "n_pending": int((status == "pending").sum()), "n_running": int((status == "running").sum())}
    engines = sorted({str(e) for e in results.get("engine", pd.Series(dtype=object)).dropna() if str(e)})
    ranked = done_trials(results, metric, ["key"])
    top = top_table(results, params, metric, direction, top_n)
    best_row = top.iloc[0] if len(top) else None

    def metrics_of(row) -> dict:
        return {m: (float(row[m]) if pd.notna(row[m]) else None) for m in metrics if m in row.index}

    best = None
    if best_row is not None:
        best = {"key": str(best_row["key"]), "ordinal": int(best_row["ordinal"]), "params": {p: _hashable(best_row[p]) for p in params},
                "metrics": metrics_of(best_row)}
    top_json = [{"rank": int(r["rank"]), "key": str(r["key"]), "ordinal": int(r["ordinal"]), "params": {p: _hashable(r[p]) for p in params},
                 "metrics": metrics_of(r)} for _, r in top.iterrows()]

    # -- daily returns of the finished combinations, as far as the database kept them
    done_keys = [str(k) for k in results.loc[status == "done", "key"]]
    returns = store.load_returns(db, done_keys) if done_keys else pd.DataFrame()
    unbiased = fast_sample_keys(db)  # a large fast sweep: its random sample, not the top combinations chosen by their results
    stat_keys = done_keys if unbiased is None else [k for k in done_keys if k in unbiased]
    rets = returns_matrix(returns, stat_keys) if len(returns.columns) else pd.DataFrame()
    n_with = int(sum(1 for k in done_keys if k in returns.columns and returns[k].notna().any()))
    period = (rets.index[0].strftime("%Y-%m-%d"), rets.index[-1].strftime("%Y-%m-%d")) if len(rets) else None
    sample = {"n_done": counts["n_done"], "n_with_returns": n_with, "n_used": int(rets.shape[1]), "n_sessions": int(len(rets)),
              "start": period[0] if period else None, "end": period[1] if period else None, "subset": n_with < counts["n_done"]}
    if sample["subset"] and unbiased is not None:
        sample["note"] = (f"daily returns were kept for {n_with} of the {counts['n_done']} finished combinations; PBO, SPA and the walk-forward use "
                          f"the {sample['n_used']} of a seeded random sample (with the base config's), never the top combinations kept for "
                          f"their results, which would bias them; the deflated Sharpe counts all {counts['n_done']}")
    elif sample["subset"]:
        sample["note"] = (f"daily returns were kept for {n_with} of the {counts['n_done']} finished combinations; PBO, SPA and the walk-forward use "
                          f"those {sample['n_used']}, the deflated Sharpe counts all {counts['n_done']}")
    else:
        sample["note"] = f"all {counts['n_done']} finished combinations, over the {len(rets)} sessions they share"
    src = _source_line(db, counts, engines, period)

    # -- overfitting statistics
    errors = (ValueError, ZeroDivisionError, FloatingPointError, np.linalg.LinAlgError, InputError)
    stats_reason = None
    if counts["n_done"] < 2:
        stats_reason = "fewer than two finished combinations"
    elif rets.shape[1] < 2 or len(rets) < MIN_SESSIONS:
        stats_reason = (f"daily returns shared by at least two combinations over at least {MIN_SESSIONS} sessions are needed "
                        f"(the database holds {rets.shape[1]} such combinations over {len(rets)} shared sessions)")
    best_has_returns = best is not None and best["key"] in returns.columns and returns[best["key"]].notna().sum() >= 3
    of = _overfit() if stats_reason is None or best_has_returns else None
    wf_windows = walk_forward_windows(len(rets))
    if best is None:
        dsr = _unavailable("no finished combination to deflate")
    elif not best_has_returns:
        dsr = _unavailable("the best combination's daily returns are not in the database")
    else:
        if "sharpe" in results:  # summary.json's sharpe, annualised, known for every finished combination
            sharpes = pd.to_numeric(results.loc[status == "done", "sharpe"], errors="coerce").dropna().to_numpy(float)
        else:
            sharpes = sharpe_ratios(returns[done_keys] if set(done_keys) <= set(returns.columns) else rets).dropna().to_numpy(float)
        # the DSR deflates the selected maximum Sharpe: take the highest-Sharpe combination, whatever the spec ranks by
        dsr_key = best["key"]
        if "sharpe" in results:
            with_returns = results[(status == "done") & results["key"].isin(returns.columns)]
            sr = pd.to_numeric(with_returns["sharpe"], errors="coerce")
            if sr.notna().any():
                dsr_key = with_returns.loc[sr.idxmax(), "key"]
        r_best = returns[dsr_key].dropna()
        try:
            dsr = of.deflated_sharpe(r_best, sharpes, n_trials=counts["n_done"], trial_sharpes_annualised=True)
            dsr = {**dsr, "key": dsr_key, "of": "the combination with the highest Sharpe ratio"
                   + ("" if dsr_key == best["key"] else f" (not the best by {metric}, which the deflated Sharpe does not apply to)")}
        except errors as exc:
            dsr = _unavailable(f"the deflated Sharpe could not be computed: {exc}")
        if dsr.get("available", True) and hasattr(of, "effective_n_trials") and 2 <= rets.shape[1] <= MAX_EFFECTIVE_N:
            try:
                eff = of.effective_n_trials(rets)
                d2 = of.deflated_sharpe(r_best, sharpes, n_trials=max(float(eff["n_effective"]), 1.0), trial_sharpes_annualised=True)
                dsr = {**dsr, "effective_n": {"n_effective": float(eff["n_effective"]), "dsr": d2["dsr"], "sr0_ann": d2.get("sr0_ann"),
                                              "from": f"the return correlations of the {rets.shape[1]} combinations with daily returns"}}
            except errors:
                pass
    if stats_reason is not None:
        pbo = wf = _unavailable(stats_reason)
    else:
        try:
            pbo = of.pbo_cscv(rets, n_splits=n_splits)
        except errors as exc:
            pbo = _unavailable(f"CSCV could not be computed: {exc}")
        try:
            wf = of.walk_forward(rets, is_sessions=wf_windows[0], oos_sessions=wf_windows[1])
            if _wf_returns(wf) is None or not len(_wf_returns(wf)):
                wf = _unavailable(wf.get("reading") or "no out-of-sample window")
        except errors as exc:
            wf = _unavailable(f"the walk-forward selection could not be computed: {exc}")
    exact = exact_base_key(db)
    if exact is not None and (results["key"].astype(str) == exact).any():
        # the sweep stored its resolved base config: the benchmark is the combination whose config is exactly it
        base_row = results[results["key"].astype(str) == exact].iloc[0]
        bv, base_where = {p: _hashable(base_row[p]) for p in vary}, "the base config itself (its resolved config, stored by the sweep)"
    else:
        bv, base_where = base_values(spec, vary, db, spec_path) if params else (None, "no swept parameters")
        base_row = base_combination(results, vary, bv) if bv is not None else None
        if base_row is not None:
            base_where += ("; the grid point matching the base on the varying parameters"
                           + (", with " + _param_text(fixed, {k: k for k in fixed}) + " fixed for every combination" if fixed else "")
                           + " (not necessarily the base config itself)")
    if stats_reason is not None:
        spa = _unavailable(stats_reason)
    elif bv is None:
        spa = _unavailable(f"no benchmark: {base_where}")
    elif base_row is None:
        spa = _unavailable("the spec's base combination is not among the finished trials, so there is no benchmark")
    elif str(base_row["key"]) not in rets.columns:
        spa = _unavailable("the base combination's daily returns are not in the database")
    else:
        bkey = str(base_row["key"])
        try:
            spa = of.spa_test(rets[bkey], rets.drop(columns=[bkey]))
            spa = {**spa, "benchmark_key": bkey, "benchmark_params": {p: _hashable(base_row[p]) for p in params}}
            hit = results[results["key"].astype(str) == str(spa.get("best"))]
            if len(hit):
                spa["best_params"] = {p: _hashable(hit.iloc[0][p]) for p in params}
        except errors as exc:
            spa = _unavailable(f"the SPA test could not be computed: {exc}")

    # -- figures
    figs = []
    pairs, left_out = heatmap_pairs(results, params, metric)
    centre = colour_centre(ranked[metric]) if len(ranked) else 0.0
    grids = []
    for i, (x, y) in enumerate(pairs, 1):
        mean, cnt = heatmap_grid(results, x, y, metric)
        grids.append({"x": x, "y": y, "x_values": [_hashable(v) for v in mean.columns], "y_values": [_hashable(v) for v in mean.index] if y else None,
                      "mean": [[None if not np.isfinite(v) else float(v) for v in row] for row in mean.to_numpy(float)],
                      "count": cnt.to_numpy(int).tolist()})
        cap = (f"Mean {metric} of the finished combinations for each value of {x}" + (f" and {y}" if y else "") + ", averaged over every other parameter "
               f"(n = how many combinations fell in the cell; grey = none). Green is better ({direction}); colours turn at "
               f"{_metric_text(metric, centre)}, {'zero' if centre == 0 else 'the median combination'}.")
        figs.append((f"heatmap_{i:02d}", f"{metric}: {x}" + (f" x {y}" if y else ""), heatmap(mean, cnt, metric, src, centre, better_high), cap))
    if len(ranked) >= 2:
        base_m = float(base_row[metric]) if base_row is not None and metric in base_row and pd.notna(base_row[metric]) else None
        figs.insert(0, ("metric_distribution", f"Distribution of {metric}", metric_distribution(ranked[metric], best["metrics"].get(metric) if best else None, metric, src, base_m),
                        f"{metric} of each finished combination ({len(ranked)}), the best marked" + (" and the base config's" if base_m is not None else "") + "."))
    if pbo.get("available", True) and pbo.get("lambdas") is not None:
        rp = rank_pairs(pbo)
        units = "annualised Sharpe ratio" if pbo.get("metric", "sharpe") == "sharpe" else str(pbo.get("metric_units", "metric"))
        nt = pbo.get("n_trials", rets.shape[1])
        if len(rp):
            figs.append(("cscv_ranks", "CSCV: in-sample vs out-of-sample", rank_scatter(rp, src, units, pbo.get("degradation")),
                         f"Each point is one of the {len(rp):,} CSCV splits of the {pbo.get('t', len(rets))} shared sessions into {n_splits} blocks, half "
                         f"in sample and half out: the combination with the best in-sample Sharpe ratio (of {nt} distinct combinations) against its "
                         "out-of-sample Sharpe ratio (left) and its out-of-sample relative rank (right; red: at or below the median, the splits PBO counts)."))
        figs.append(("cscv_logits", "CSCV: logits", logit_histogram(pbo["lambdas"], float(pbo["pbo"]), src),
                     "Logit of the out-of-sample relative rank w of each split's in-sample best, ln(w / (1 - w)); the share at or below 0 (red) is the "
                     "probability of backtest overfitting."))
    wf_series = _wf_returns(wf)
    curves = None
    if wf_series is not None and best is not None and best["key"] in returns.columns and len(wf_series):
        curves = equity_curves(wf_series, returns[best["key"]])
        figs.append(("walk_forward", "Walk-forward out-of-sample equity", walk_forward_equity(curves, src, _wf_boundaries(wf)),
                     f"Growth of 1 over the {len(curves)} out-of-sample sessions: the walk-forward choice (the best Sharpe ratio over the previous "
                     f"{wf.get('is_sessions', wf_windows[0])} sessions, held for the next {wf.get('oos_sessions', wf_windows[1])}; dotted lines where a "
                     "window starts) against the best combination of the whole sample, which was chosen knowing these sessions."))

    # -- the document
    headline = _headline(counts, metric, direction, best, vary, names, dsr, pbo, spa, wf, sample, curves)
    if running_now:
        headline.insert(1, "A sweep was still writing to this database when the report was built: the counts and statistics are a snapshot.")
    fast = fast_engine_section(db, results, metric)
    if fast is not None:
        headline.extend(fast["lines"])
    doc = {
        "kind": "aibt sweep report", "db": db.name,
        **counts, "running_when_built": running_now,
        "metric": metric, "direction": "maximize" if better_high else "minimize",
        "params": params, "varying_params": vary, "fixed_params": fixed, "metrics": metrics, "engines": engines,
        "best": best, "top": top_json,
        "deflated_sharpe": _stat_json(dsr), "pbo": _stat_json(pbo), "spa": _stat_json(spa), "walk_forward": _stat_json(wf),
        "overfit_sample": sample,
        "fast_engine": None if fast is None else {k: v for k, v in fast.items() if k != "lines"},
        "heatmaps": grids, "heatmap_params_left_out": left_out,
        "settings": {"top_n": top_n, "pbo_splits": n_splits, "max_heatmaps": MAX_HEATMAPS, "min_sessions": MIN_SESSIONS,
                     "sharpe": f"daily returns, mean / standard deviation x sqrt({ANNUALISATION}), risk-free 0",
                     "spa_benchmark": (f"the base config's combination ({base_where})" if base_row is not None else f"not available ({spa.get('reason')})"),
                     "walk_forward": {"is_sessions": wf_windows[0], "oos_sessions": wf_windows[1], "anchored": False, "metric": "sharpe"},
                     "deflated_sharpe_trials": "every finished combination's summary.json sharpe (annualised), N = the number finished",
                     "spec": {k: spec.get(k) for k in ("search", "n_trials", "seed", "metric", "direction", "constraints", "base") if k in spec},
                     "spec_sha256": hashlib.sha256(spec_text.encode()).hexdigest()},
        "headline": headline,
    }
    # labels for the combinations the page names: the top table and those whose daily returns the statistics used
    named = set(top["key"].astype(str)) | set(map(str, rets.columns)) if len(rets.columns) else set(top["key"].astype(str))
    shown = results[results["key"].astype(str).isin(named)]
    labels = {str(r["key"]): _param_text({p: r[p] for p in vary}, names) for _, r in shown.iterrows()}
    extras = {"results": results, "params": params, "vary": vary, "names": names, "metrics": metrics, "top": top, "spec_text": spec_text, "base_row": base_row, "labels": labels}
    return json_ready(doc), figs, extras


def fast_engine_section(db: Path, results: pd.DataFrame, metric: str) -> dict | None:
    """What a sweep on the fast engine kept and checked (None for other sweeps): the returns policy, the placebo,
    and the best combinations re-run on Backtrader with whether the engines agreed (and where not)."""
    raw = _meta_values(db, "fast_sweep").get("fast_sweep")
    if not raw:
        return None
    info = json.loads(raw)
    v = _store().load_verifications(db)
    v = v[v["key"].isin(set(results["key"].astype(str)))] if len(v) else v
    reruns = [{"key": str(r["key"]), "engine": str(r["engine"]), "status": str(r["status"]), "problems": list(r["problems"]),
               "placebo_p": (r["summary"] or {}).get("placebo_p"), "placebo_n": (r["summary"] or {}).get("placebo_n"),
               metric: (r["summary"] or {}).get(metric)} for _, r in v.iterrows()]
    n = {s_: sum(1 for x in reruns if x["status"] == s_) for s_ in ("agree", "disagree", "failed")}
    lines = [f"Fast engine: every combination's metrics were computed from its full daily equity; daily returns were kept for "
             f"{info.get('returns_policy')} (the overfitting statistics use those); the placebo was not run per combination."]
    if reruns:
        lines.append(f"The top {len(reruns)} by {metric} were re-run on Backtrader, the reference, with their placebo: {n['agree']} agree, "
                     f"{n['disagree']} disagree, {n['failed']} failed" + ("." if not n["disagree"] else
                                                                           f" (first: {next(x for x in reruns if x['status'] == 'disagree')['problems'][0]})."))
    else:
        lines.append("No combination was re-run on Backtrader (--verify-top 0, or the sweep stopped first): the fast engine's results are unchecked here.")
    return {"returns_policy": info.get("returns_policy"), "placebo": info.get("placebo"), "verify_top": info.get("verify_top"),
            "reruns": reruns, "counts": n, "timings": info.get("timings"), "lines": lines}


def _wf_returns(wf: dict | None) -> pd.Series | None:
    if not wf or wf.get("available") is False:
        return None
    for k in ("oos_returns", "returns", "stitched"):
        v = wf.get(k)
        if isinstance(v, pd.Series):
            return v.astype(float)
    return None


def _wf_boundaries(wf: dict) -> list:
    """The start of every out-of-sample window after the first."""
    steps = wf.get("steps")
    if isinstance(steps, pd.DataFrame) and "oos_start" in steps:
        return list(pd.to_datetime(steps["oos_start"]))[1:]
    return []


def walk_forward_windows(n_sessions: int) -> tuple[int, int]:
    """(in-sample, out-of-sample) window lengths in sessions: a year and a quarter when the shared sessions
    allow two or more out-of-sample windows after the first year, else half the sessions in sample and
    quarter-length windows of that."""
    if n_sessions >= WF_IS + 2 * WF_OOS:
        return WF_IS, WF_OOS
    is_n = max(n_sessions // 2, 2)
    return is_n, max(is_n // 4, 5)


def _param_text(params: dict, names: dict | None = None) -> str:
    names = names or short_names(params)
    return ", ".join(f"{names.get(k, k)}={value_text(v)}" for k, v in params.items()) or "(no varying parameters)"


def _headline(counts, metric, direction, best, vary, names, dsr, pbo, spa, wf, sample, curves) -> list[str]:
    """The report's first paragraph, one sentence per item, in plain words."""
    n = counts
    pend = n["n_pending"] + n["n_running"]
    out = [f"{n['n_trials']:,} combinations tried: {n['n_done']:,} finished, {n['n_failed']:,} failed"
           + (f", {pend:,} not finished yet ({n['n_pending']:,} pending, {n['n_running']:,} running)" if pend else "") + "."]
    if best is None:
        out.append(f"No finished combination has a value of {metric}, so there is no best combination yet.")
        return out
    m = best["metrics"]
    extra = [f"{k.replace('_', ' ')} {_metric_text(k, m.get(k))}" for k in ("sharpe", "total_return", "max_drawdown") if k != metric and k in m]
    out.append(f"Best by {metric} ({direction}): {_param_text({p: best['params'][p] for p in vary}, names)}, with {metric} {_metric_text(metric, m.get(metric))}"
               + (f" ({', '.join(extra)})" if extra else "") + ".")
    if dsr and dsr.get("available", True) and "dsr" in dsr:
        out.append(read_dsr(float(dsr["dsr"]), dsr.get("n_trials", n["n_done"]), dsr.get("sr_best_ann", m.get("sharpe")), dsr.get("sr0_ann")))
        if dsr.get("key") and dsr["key"] != best.get("key"):
            out[-1] += f" (This is for the combination with the highest Sharpe ratio; the best by {metric} is another.)"
        eff = dsr.get("effective_n")
        if isinstance(eff, dict) and eff.get("dsr") is not None and np.isfinite(eff["dsr"]):
            out[-1] += (f" Counting the combinations' correlated returns as about {eff['n_effective']:.1f} independent trials instead, "
                        f"the deflated Sharpe is {eff['dsr']:.2f}.")
    elif dsr:
        out.append(f"Deflated Sharpe not available: {dsr.get('reason')}.")
    if pbo and pbo.get("available", True) and "pbo" in pbo:
        nsp = pbo.get("n_combinations") or (len(pbo["lambdas"]) if pbo.get("lambdas") is not None else None)
        out.append(read_pbo(float(pbo["pbo"]), int(nsp) if nsp else None))
    elif pbo:
        out.append(f"PBO not available: {pbo.get('reason')}.")
    if spa and spa.get("available", True):
        out.append(read_spa(_spa_p(spa)))
        cand = spa.get("candidates")
        if isinstance(cand, pd.DataFrame) and spa.get("best") in cand.index and "mean_excess_ann" in cand:
            row = cand.loc[spa["best"]]
            lab = _param_text({p: spa["best_params"][p] for p in vary}, names) if spa.get("best_params") else str(spa["best"])[:10]
            out[-1] = out[-1] + (f" The strongest candidate, {lab}, earned {row['mean_excess_ann']:+.1%} a year more than the base config"
                                      + (f" (t = {row['t_stat']:.2f})." if "t_stat" in row else "."))
            bench = spa.get("benchmark_params") or {}
            diff = [p for p in vary if spa.get("best_params") and p in bench and spa["best_params"].get(p) != bench.get(p)]
            if diff and all(p.startswith("costs.") for p in diff):
                out[-1] += (" It differs from the base config only in its costs, so its edge is a cost saving that is nearly certain, "
                            "not a better strategy.")
    elif spa:
        out.append(read_spa(None, spa.get("reason")))
    if curves is not None and len(curves):
        w, b = curves["walk_forward"].iloc[-1] - 1, curves["best"].iloc[-1] - 1
        out.append(f"Walk-forward: re-choosing the best combination on each training window and trading it on the next returned {w:+.1%} "
                   f"over the {len(curves)} out-of-sample sessions, against {b:+.1%} for the best combination chosen with hindsight.")
    elif wf and wf.get("available") is False:
        out.append(f"Walk-forward not available: {wf.get('reason')}.")
    if sample["subset"]:
        out.append(f"Note: {sample['note']}.")
    return out


def _spa_p(spa: dict):
    for k in ("p_consistent", "consistent", "pvalue", "p_value", "p"):
        v = spa.get(k)
        if v is not None:
            return float(v)
    pv = spa.get("pvalues")
    if isinstance(pv, dict):
        for k in ("consistent", "p_consistent"):
            if pv.get(k) is not None:
                return float(pv[k])
    return None


def _context(doc: dict, figs: list, extras: dict, db: Path, generated: str) -> dict:
    params, top, names = extras["vary"], extras["top"], extras["names"]
    metric = doc["metric"]
    shown = [metric] + [m for m in SHOWN_METRICS if m in extras["metrics"] and m != metric]
    head = [{"text": "#", "title": "rank"}, {"text": "ordinal", "title": "order of the combination in the sweep"},
            {"text": "key", "title": "the combination's key in the database (first 10 of 64 hex digits)", "cls": "l"}]
    head += [{"text": _short(names[p], 18), "title": p, "cls": "l"} for p in params]
    head += [{"text": METRIC_LABELS.get(m, m.replace("_", " ")), "title": m, "cls": "metric" if m == metric else ""} for m in shown]
    rows = []
    for _, r in top.iterrows():
        cells = [{"text": str(r["rank"]), "cls": ""}, {"text": str(r["ordinal"]), "cls": ""}, {"text": str(r["key"])[:10], "cls": "l code"}]
        cells += [{"text": _short(value_text(r[p]), 80), "cls": "param"} for p in params]
        cells += [{**_fmt_cell(m, r[m]), **({"cls": _fmt_cell(m, r[m])["cls"] + " metric"} if m == metric else {})} for m in shown]
        rows.append({"key": str(r["key"]), "cells": cells})
    res = extras["results"]
    failed = res[res["status"] == "failed"].sort_values("ordinal") if "status" in res else res.iloc[0:0]
    failures = [{"ordinal": int(r["ordinal"]), "key": str(r["key"])[:12], "params": _param_text({p: r[p] for p in params}, names),
                 "attempts": "" if pd.isna(r.get("attempts")) else int(r["attempts"]),
                 "error": _short(str(r.get("error") or ""), 600)} for _, r in failed.head(MAX_FAILURES_SHOWN).iterrows()]
    fig_ctx = []
    for name, title, png, caption in figs:
        w, h = _png_size(png)
        fig_ctx.append({"name": name, "id": name.replace("_", "-"), "title": title, "b64": base64.b64encode(png).decode(), "caption": caption, "width": w, "height": h})
    best = doc["best"]
    lab = extras["labels"]
    stats = [_stat_block(sid, title, d or _unavailable("not computed"), lab) for sid, title, d in (
        ("deflated-sharpe", "Deflated Sharpe ratio", doc["deflated_sharpe"]), ("pbo", "Probability of backtest overfitting (CSCV)", doc["pbo"]),
        ("spa", "Hansen's SPA test against the base config", doc["spa"]), ("walk-forward", "Walk-forward selection", doc["walk_forward"]))]
    return {
        "title": f"Sweep report: {db.name}", "headline": doc["headline"], "doc": doc,
        "best_params": [(k, value_text(v)) for k, v in (best or {}).get("params", {}).items() if k in params],
        "fixed": _param_text(doc["fixed_params"], {k: k for k in doc["fixed_params"]}) if doc["fixed_params"] else "",
        "best_metrics": _chunks([(k, _metric_text(k, v)) for k, v in _metric_order((best or {}).get("metrics", {}), metric)], 4),
        "top_head": head, "top_rows": rows, "figures": fig_ctx, "stats": stats, "failures": failures, "spec_text": extras["spec_text"],
        "generated": generated, "sample": doc["overfit_sample"],
        "heatmap_figs": [f for f in fig_ctx if f["name"].startswith("heatmap_")],
        "other_figs": {f["name"]: f for f in fig_ctx if not f["name"].startswith("heatmap_")},
    }


def _metric_order(m: dict, metric: str) -> list:
    """The ranking metric first, then the usual ones, then the rest as stored."""
    first = [metric] + [k for k in SHOWN_METRICS if k != metric]
    return [(k, m[k]) for k in first if k in m] + [(k, v) for k, v in m.items() if k not in first]


def _chunks(items: list, n: int) -> list:
    return [items[i:i + n] for i in range(0, len(items), n)]


def _num(v, fmt: str = "{:.3f}") -> str:
    return fmt.format(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) else "-"


def _pct(v) -> str:
    return _num(v, "{:+.1%}") if isinstance(v, (int, float)) else "-"


def _stat_block(sid: str, title: str, d: dict, labels: dict) -> dict:
    """One statistic's section of the HTML: its reading, a table of its main figures in words, and a table of steps for the walk-forward."""
    reading = d.get("reading")
    if isinstance(reading, str):  # a combination's 64-hex key means little to a reader: its parameters instead
        reading = re.sub(r"\b[0-9a-f]{64}\b", lambda m: f"{labels[m.group(0)]} ({m.group(0)[:10]})" if m.group(0) in labels else m.group(0)[:10], reading)
    block = {"id": sid, "title": title, "available": d.get("available", True), "reason": d.get("reason"), "reading": reading, "rows": [], "steps": []}
    if not block["available"]:
        return block
    rows = block["rows"]

    def name(key) -> str:
        return f"{labels.get(str(key), '?')} ({str(key)[:10]})" if key is not None else "-"

    if sid == "deflated-sharpe":
        rows += [("deflated Sharpe ratio (probability that the best beats SR0)", _num(d.get("dsr"))),
                 ("best combination's Sharpe ratio, annualised", _num(d.get("sr_best_ann"), "{:.2f}")),
                 ("SR0: expected best of N skill-less combinations, annualised", _num(d.get("sr0_ann"), "{:.2f}")),
                 ("N, combinations counted", _num(d.get("n_trials"), "{:,.0f}")), ("T, sessions of the best combination's returns", _num(d.get("t"), "{:,.0f}")),
                 ("skewness / kurtosis of its daily returns", f"{_num(d.get('skew'), '{:.2f}')} / {_num(d.get('kurt'), '{:.2f}')}"),
                 ("probabilistic Sharpe against 0, undeflated", _num(d.get("psr0")))]
        eff = d.get("effective_n")
        if isinstance(eff, dict):
            rows.append((f"at the effective number of trials ({eff.get('from', '')})", f"N = {_num(eff.get('n_effective'), '{:.1f}')}: DSR {_num(eff.get('dsr'))}"))
    elif sid == "pbo":
        rows += [("PBO (share of splits where the in-sample best is at or below the out-of-sample median)", _num(d.get("pbo"))),
                 ("splits (C(S, S/2))", f"{_num(d.get('n_combinations'), '{:,.0f}')} from {d.get('n_splits', '-')} blocks of {d.get('block_length', '-')} sessions"),
                 ("combinations compared (distinct return series)", _num(d.get("n_trials"), "{:,.0f}")), ("sessions used", _num(d.get("t"), "{:,.0f}")),
                 ("splits whose chosen combination lost money out of sample", _num(d.get("prob_oos_loss"), "{:.0%}"))]
        deg = d.get("degradation")
        if isinstance(deg, dict):
            rows.append(("out-of-sample on in-sample slope (R squared)", f"{_num(deg.get('slope'), '{:+.2f}')} ({_num(deg.get('r2'), '{:.2f}')})"))
        dup = d.get("trials_dropped_duplicate")
        if isinstance(dup, list) and dup:
            rows.append(("combinations left out as exact copies of another's returns", str(len(dup))))
        sc = d.get("selection_counts")
        if isinstance(sc, dict) and sc.get("most_chosen"):
            n = d.get("n_combinations") or 1
            rows.append(("most often chosen in sample", "; ".join(f"{name(x['key'])} in {x['splits'] / n:.0%}" for x in sc["most_chosen"][:3])))
    elif sid == "spa":
        rows += [("p-value, consistent (Hansen's recommended)", _num(d.get("p_consistent"))),
                 ("p-value, lower / upper", f"{_num(d.get('p_lower'))} / {_num(d.get('p_upper'))}"),
                 ("benchmark: the base config's combination", name(d.get("benchmark_key"))),
                 ("candidates", _num(d.get("n_candidates"), "{:,.0f}")), ("strongest candidate", name(d.get("best")))]
        better = d.get("better")
        rows.append(("candidates better than the benchmark at 5%", str(len(better)) if isinstance(better, list) else "-"))
        rows.append(("bootstrap", f"{d.get('bootstrap', '-')}, mean block {d.get('block', '-')} sessions, {d.get('reps', '-')} replications, seed {d.get('seed', '-')}; "
                                  f"{d.get('t', '-')} sessions"))
    elif sid == "walk-forward":
        rows += [("windows", f"choose on {d.get('is_sessions', '-')} sessions, hold for the next {d.get('oos_sessions', '-')}"
                              + ("; anchored" if d.get("anchored") else "") + f"; {d.get('n_steps', '-')} steps, {d.get('n_switches', '-')} changes of combination"),
                 ("out of sample: total return / Sharpe", f"{_pct(d.get('oos_total_return'))} / {_num(d.get('oos_sharpe'), '{:.2f}')}"),
                 ("in sample just before each choice: total return / Sharpe", f"{_pct(d.get('is_total_return'))} / {_num(d.get('is_sharpe'), '{:.2f}')}"),
                 ("equal-weight mix of every combination, same sessions: Sharpe", _num(d.get("average_trial_oos_sharpe"), "{:.2f}"))]
        steps = d.get("steps")
        if isinstance(steps, list):
            block["steps"] = [{"window": f"{x.get('oos_start')} to {x.get('oos_end')}", "chosen": name(x.get("chosen")),
                               "is": _num(x.get("is_metric"), "{:.2f}"), "oos": _num(x.get("oos_metric"), "{:.2f}")} for x in steps if isinstance(x, dict)]
    return block


def render_html(ctx: dict) -> str:
    env = Environment(loader=FileSystemLoader(str(resources.files("backtests.sweeps") / "templates")), autoescape=select_autoescape(["html", "j2"]))
    return env.get_template("sweep_report.html.j2").render(**ctx)


def _manifest(db: Path, doc: dict, generated: str) -> dict:
    from importlib import metadata

    from backtests import __version__

    pk = {}
    for name in KEY_PACKAGES + ["jinja2", "arch"]:
        try:
            pk[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pk[name] = None
    st = db.stat()
    return {"aibt_version": __version__, "kind": "sweep_report", "git_commit": git_commit(), "python": platform.python_version(),
            "packages": pk, "db": str(db.resolve()), "db_bytes": st.st_size,
            "db_modified_utc": dt.datetime.fromtimestamp(st.st_mtime, dt.timezone.utc).isoformat(timespec="seconds"),
            "spec_sha256": doc["settings"]["spec_sha256"], "generated_utc": generated}


def write_report(db: str | Path, out_dir: str | Path | None = None, top_n: int = TOP_N) -> dict:
    """Write the sweep report of ``db`` into ``out_dir`` (default ``<db folder>/<db stem>-report``); returns
    the ``sweep_report.json`` document plus ``written`` (the paths, not in the file).

    ``out_dir`` is checked before any work (:func:`check_report_dir`); the directory is written
    whole into a hidden sibling and renamed into place, so a failure leaves no half-written report.
    """
    db = Path(db)
    out = Path(out_dir) if out_dir is not None else default_out_dir(db)
    check_report_dir(out)
    doc, drawn, extras = compute(db, top_n=top_n)
    generated = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    pngs, html = _fit_html(doc, drawn, extras, db, generated)
    check_report_dir(out)  # the folder may have changed while the report was computed
    with atomic_directory(out, what="the sweep report") as tmp:
        (tmp / "figures").mkdir()
        for name, _, png, _ in pngs:
            (tmp / "figures" / f"{name}.png").write_bytes(png)
        (tmp / "sweep_report.json").write_text(json.dumps(doc, indent=2, allow_nan=False, default=_json_default) + "\n", encoding="utf-8")
        (tmp / "sweep_report.html").write_text(html, encoding="utf-8")
        (tmp / "manifest.json").write_text(json.dumps(json_ready(_manifest(db, doc, generated)), indent=2) + "\n", encoding="utf-8")
    return {**doc, "written": {"dir": str(out), "json": str(out / "sweep_report.json"), "html": str(out / "sweep_report.html")}}
