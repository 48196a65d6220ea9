"""Tear-sheet figures: each function takes frames and returns a matplotlib Figure.

No pyplot state is touched (``matplotlib.figure.Figure`` is used directly, so
figures render with Agg on any machine, with or without a display), and
nothing is written to disk here. Colours are fixed per series across every
figure (:data:`COLORS`); every figure says its units and its source.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter, ScalarFormatter

COLORS = {"strategy": "#1f4e79", "amzn": "#e47911", "peer_basket": "#7f7f7f", "benchmark": "#2ca02c",
          # exposure legs, trade outcomes, excess over the basket, shaded drawdowns
          "long": "#2a7f62", "short": "#b03a2e", "net": "#1f4e79", "beta_net": "#9467bd",
          "win": "#2a7f62", "loss": "#b03a2e", "excess": "#9467bd", "drawdown": "#d62728"}
LABELS = {"strategy": "Strategy", "amzn": "AMZN", "peer_basket": "Peer basket", "benchmark": "Benchmark"}
MODEL_COLORS = {"market_adjusted": "#2ca02c", "market_model": "#9467bd", "peer_adjusted": "#1f4e79"}
MODEL_LABELS = {"market_adjusted": "market-adjusted", "market_model": "market model", "peer_adjusted": "peer-adjusted"}
CATEGORY_COLORS = ["#1f4e79", "#e47911", "#2ca02c", "#9467bd", "#d62728", "#8c564b", "#17becf", "#bcbd22", "#7f7f7f"]
WIDTH = 10.0


def _new(height: float = 4.2, nrows: int = 1, sharex: bool = True, ncols: int = 1, top_in: float = 0.4,
         bottom_in: float = 0.75, left_in: float = 0.9, right_in: float = 0.25, hspace: float = 0.2, wspace: float = 0.2,
         sharey: bool = False, width_ratios: list | None = None, height_ratios: list | None = None) -> tuple[Figure, list]:
    """A figure with fixed margins in inches (room for titles, tick labels, axis
    labels and the source line). Fixed margins draw about 30% faster than a
    layout engine, which matters for a tear sheet of nine figures."""
    fig = Figure(figsize=(WIDTH, height), dpi=100)
    fig.subplots_adjust(left=left_in / WIDTH, right=1 - right_in / WIDTH, bottom=bottom_in / height, top=1 - top_in / height, hspace=hspace, wspace=wspace)
    axes = fig.subplots(nrows, ncols, sharex=sharex, sharey=sharey, squeeze=False, width_ratios=width_ratios, height_ratios=height_ratios).ravel()
    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    return fig, list(axes)


def _source(fig: Figure, text: str) -> None:
    fig.text(0.005, 0.002, text, fontsize=7, color="#555555", ha="left", va="bottom")


def _labels(names: dict | None) -> dict:
    out = dict(LABELS)
    out.update(names or {})
    return out


def cumulative_returns(cum: pd.DataFrame, source: str, names: dict | None = None) -> Figure:
    """Growth of 1 (log scale) for strategy, AMZN, peer basket and benchmark."""
    fig, (ax,) = _new()
    lab = _labels(names)
    for c in ["strategy", "amzn", "peer_basket", "benchmark"]:
        if c in cum:
            ax.plot(cum.index, cum[c], color=COLORS[c], lw=2.2 if c == "strategy" else 1.3, label=lab[c])
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.2f}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:.1f}"))
    ax.set_ylabel("growth of 1 (log scale, total return)")
    ax.set_title("Cumulative returns")
    ax.legend(loc="upper left", frameon=False, ncol=4)
    _source(fig, source)
    return fig


def underwater(dd: pd.DataFrame, source: str, names: dict | None = None) -> Figure:
    """Drawdown from the running peak (%) of the strategy, with AMZN for scale."""
    fig, (ax,) = _new(3.4)
    lab = _labels(names)
    ax.fill_between(dd.index, dd["strategy"], 0, color=COLORS["strategy"], alpha=0.35, label=lab["strategy"])
    ax.plot(dd.index, dd["strategy"], color=COLORS["strategy"], lw=1)
    if "amzn" in dd:
        ax.plot(dd.index, dd["amzn"], color=COLORS["amzn"], lw=1, alpha=0.8, label=lab["amzn"])
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("drawdown (%)")
    ax.set_title("Underwater plot")
    ax.legend(loc="lower left", frameon=False)
    _source(fig, source)
    return fig


def rolling_sharpe_beta(roll: pd.DataFrame, window: int, source: str, names: dict | None = None) -> Figure:
    """Two panels: rolling Sharpe (strategy and AMZN), rolling beta of the strategy to the peer basket."""
    fig, (a1, a2) = _new(5.2, nrows=2, hspace=0.12)
    lab = _labels(names)
    a1.plot(roll.index, roll["sharpe_strategy"], color=COLORS["strategy"], lw=1.6, label=lab["strategy"])
    a1.plot(roll.index, roll["sharpe_amzn"], color=COLORS["amzn"], lw=1.0, label=lab["amzn"])
    a1.axhline(0, color="black", lw=0.6)
    a1.set_ylabel("Sharpe (annualised)")
    a1.set_title(f"Rolling {window}-session (about {round(window / 21)}-month) Sharpe ratio and beta")
    a1.legend(loc="upper left", frameon=False, ncol=2)
    a2.plot(roll.index, roll["beta_strategy_to_basket"], color=COLORS["peer_basket"], lw=1.4, label=f"{lab['strategy']} beta to {lab['peer_basket'].lower()}")
    a2.axhline(0, color="black", lw=0.6)
    a2.set_ylabel("beta")
    a2.legend(loc="upper left", frameon=False)
    _source(fig, source)
    return fig


def monthly_heatmap(table: pd.DataFrame, source: str) -> Figure:
    """Strategy's compounded monthly returns (%), years x months, diverging colours around 0."""
    fig, (ax,) = _new(0.45 * max(len(table), 3) + 1.6, right_in=0.1)
    ax.grid(False)
    vals = table.to_numpy(dtype=float) * 100
    finite = vals[np.isfinite(vals)]
    lim = max(float(np.abs(finite).max()) if finite.size else 1.0, 0.5)
    im = ax.imshow(vals, cmap="RdYlGn", norm=TwoSlopeNorm(vcenter=0, vmin=-lim, vmax=lim), aspect="auto")
    ax.set_xticks(range(12), ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"])
    ax.set_yticks(range(len(table)), [str(y) for y in table.index])
    for i in range(vals.shape[0]):
        for j in range(vals.shape[1]):
            if np.isfinite(vals[i, j]):
                ax.text(j, i, f"{vals[i, j]:.1f}", ha="center", va="center", fontsize=8)
    fig.colorbar(im, ax=ax, label="monthly return (%)", shrink=0.8)
    ax.set_title("Strategy monthly returns (%)")
    _source(fig, source)
    return fig


def yearly_bars(table: pd.DataFrame, source: str, names: dict | None = None) -> Figure:
    """Calendar-year returns (%) of each series, grouped bars."""
    fig, (ax,) = _new(3.8)
    lab = _labels(names)
    cols = [c for c in ["strategy", "amzn", "peer_basket", "benchmark"] if c in table]
    x = np.arange(len(table))
    w = 0.8 / len(cols)
    for k, c in enumerate(cols):
        ax.bar(x + (k - (len(cols) - 1) / 2) * w, table[c] * 100, width=w, color=COLORS[c], label=lab[c])
    ax.set_xticks(x, [str(y) for y in table.index])
    ax.axhline(0, color="black", lw=0.6)
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi + 0.25 * (hi - lo))  # headroom for the legend
    ax.set_ylabel("calendar-year return (%)")
    ax.set_title("Yearly returns")
    ax.legend(loc="upper left", frameon=False, ncol=len(cols))
    _source(fig, source)
    return fig


def caar_by_category(paths: pd.DataFrame, source: str, model_label: str = "AMZN minus peer basket") -> Figure:
    """Small multiples: for each category, its mean cumulative abnormal return
    by event day with a 95% band; the all-events path in grey for reference."""
    groups = [g for g in dict.fromkeys(paths["group"]) if g != "all"]
    panels = ["all"] + groups
    ncols = 3
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = _new(2.5 * nrows + 1.2, nrows=nrows, ncols=ncols, sharex=True, top_in=0.65, hspace=0.45, wspace=0.25)
    ref = paths[paths["group"] == "all"]
    for k, ax in enumerate(axes):
        if k >= len(panels):
            ax.set_visible(False)
            continue
        g = panels[k]
        p = paths[paths["group"] == g]
        col = "black" if g == "all" else CATEGORY_COLORS[(k - 1) % len(CATEGORY_COLORS)]
        if g != "all":
            ax.plot(ref["day"], ref["caar"] * 100, color="#999999", lw=1, ls="--", label="all events")
        ax.fill_between(p["day"], p["lo95"] * 100, p["hi95"] * 100, color=col, alpha=0.18, label="95% band")
        ax.plot(p["day"], p["caar"] * 100, color=col, lw=2, label="CAAR")
        ax.axvline(0, color="black", lw=0.7, ls=":")
        ax.axhline(0, color="black", lw=0.5)
        ax.set_title(f"{g} (n={int(p['n'].max())})", fontsize=10)
        if k % ncols == 0:
            ax.set_ylabel("CAAR (%)")
        if k >= len(panels) - ncols:
            ax.set_xlabel("sessions from day 0")
        ax.tick_params(labelbottom=True)
    axes[0].legend(loc="upper left", frameon=False, fontsize=7)
    if len(axes) > 1 and len(panels) > 1:
        axes[1].legend(loc="upper left", frameon=False, fontsize=7)
    fig.suptitle(f"Event-window CAAR by category ({model_label})")
    _source(fig, source)
    return fig


def excess_distribution(per_event: pd.DataFrame, source: str, window: str = "0:1") -> Figure:
    """Histogram of per-event AMZN-minus-basket returns (%), traded events highlighted."""
    fig, (ax,) = _new(3.6)
    x = per_event["excess"].to_numpy(dtype=float) * 100
    bins = np.histogram_bin_edges(x, bins=min(max(len(x) // 2, 5), 30)) if len(x) else 10
    ax.hist(x, bins=bins, color=COLORS["peer_basket"], alpha=0.6, label=f"all events (n={len(x)})")
    t = per_event.loc[per_event["traded"], "excess"].to_numpy(dtype=float) * 100
    ax.hist(t, bins=bins, color=COLORS["strategy"], alpha=0.8, label=f"traded (n={len(t)})")
    if len(x):
        ax.axvline(np.mean(x), color="black", lw=1, ls="--", label=f"mean {np.mean(x):.2f}%")
    ax.set_xlabel(f"AMZN minus peer basket over sessions {window} of day 0 (%)")
    ax.set_ylabel("events")
    ax.set_title("Distribution of per-event excess returns")
    ax.legend(loc="upper right", frameon=False)
    _source(fig, source)
    return fig


def signal_timeline(signals: pd.DataFrame, marks: pd.DataFrame, source: str) -> Figure:
    """Capex efficiency and backlog growth as known at each session, with events marked.

    ``signals``: session-indexed columns ``capex_efficiency`` (ratio),
    ``backlog_growth_qoq`` and ``backlog_growth_yoy`` (fractions; undefined
    quarters stay as gaps, marked where a value starts); ``marks``: ``day0,
    kind`` with kind ``earnings`` or ``ai_infra``.
    """
    fig, (a1, a2) = _new(5.0, nrows=2, hspace=0.12)
    a1.step(signals.index, signals["capex_efficiency"], where="post", color=COLORS["amzn"], lw=1.8)
    a1.set_ylabel("AWS OI TTM / capex TTM")
    a1.set_title("Signals as known at each session (point in time), with events")
    for col, colr, name in (("backlog_growth_qoq", COLORS["strategy"], "QoQ"), ("backlog_growth_yoy", COLORS["benchmark"], "YoY")):
        v = signals[col] * 100
        a2.step(signals.index, v, where="post", color=colr, lw=1.6, label=f"backlog growth {name}")
        starts = v.notna() & (v != v.shift(1))
        a2.plot(v.index[starts], v[starts], "o", color=colr, ms=4)
    a2.set_ylabel("AWS backlog growth (%)")
    a2.legend(loc="upper left", frameon=False, fontsize=8)
    styles = {"earnings": dict(color="#555555", ls="-", lw=0.6, alpha=0.5), "ai_infra": dict(color="#d62728", ls=":", lw=0.8, alpha=0.6)}
    for kind, st in styles.items():
        days = marks.loc[marks["kind"] == kind, "day0"]
        for i, d in enumerate(days):
            for ax in (a1, a2):
                ax.axvline(d, **st, label=(("AMZN earnings (release reaction session)" if kind == "earnings" else "AI-infrastructure event traded") if i == 0 and ax is a1 else None))
    a1.legend(loc="upper left", frameon=False, fontsize=8)
    _source(fig, source)
    return fig


def exposure(exp: pd.Series, source: str) -> Figure:
    """Gross exposure (sum of |position values| / portfolio value) at each close."""
    fig, (ax,) = _new(2.8)
    ax.fill_between(exp.index, exp.to_numpy(dtype=float), 0, step="post", color=COLORS["strategy"], alpha=0.5)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("gross exposure (%)")
    ax.set_title(f"Exposure over time (in the market {float((exp > 1e-9).mean()):.0%} of sessions)")
    _source(fig, source)
    return fig


def placebo_distribution(totals, actual: float, p: float, n: int, source: str, p_conservative: float | None = None) -> Figure:
    """Histogram of the placebo runs' total returns (%), the strategy's total return marked.

    ``totals``: total return (fraction) of each placebo run (the same holdings
    at seeded random sessions away from events, same costs); ``actual``: the
    strategy's total return (fraction); ``p``: share of placebo runs at least
    as good (k/n) and ``n`` the number of placebo runs; ``p_conservative``
    ((k+1)/(n+1)) is shown when given.
    """
    fig, (ax,) = _new(3.6)
    x = np.asarray(totals, dtype=float) * 100
    a = float(actual) * 100
    if len(x):
        span = np.concatenate([x, [a]])
        bins = np.histogram_bin_edges(span, bins=min(max(len(x) // 20, 10), 60)) if np.ptp(span) > 0 else 10
        ax.hist(x, bins=bins, color=COLORS["peer_basket"], alpha=0.7, label=f"placebo runs (n={n})")
        ax.axvline(float(np.median(x)), color="black", lw=1, ls="--", label=f"placebo median {np.median(x):+.1f}%")
    pc = f", conservative {p_conservative:.3f}" if p_conservative is not None else ""
    ax.axvline(a, color=COLORS["strategy"], lw=2.2, label=f"strategy {a:+.1f}% (p = {p:.3f}{pc})")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}%"))
    ax.set_xlabel("total return over the run (%, after costs)")
    ax.set_ylabel("placebo runs")
    ax.set_title(f"Did event timing matter? Strategy vs {n} placebo runs (same holdings, random sessions away from events); p = {p:.3f}", fontsize=10)
    ax.legend(loc="best", frameon=False, fontsize=8)
    _source(fig, source)
    return fig


# ------------------------------------------------------------------ issue 13: the reviewer's sections

def _live_line(axes, live_start, index, label_ax=None) -> None:
    """A dashed vertical line at ``live_start`` on every axis (gid ``live_start``)
    when it falls inside ``index``'s dates; the first axis's (or ``label_ax``'s)
    line carries the legend label "live start"."""
    if live_start is None or not len(index):
        return
    ls = pd.Timestamp(live_start)
    if not (pd.Timestamp(index[0]) <= ls <= pd.Timestamp(index[-1])):
        return
    label_ax = label_ax if label_ax is not None else axes[0]
    for ax in axes:
        ax.axvline(ls, color="black", ls="--", lw=1.1, gid="live_start", label="live start" if ax is label_ax else None)


def equity_with_drawdowns(cum: pd.DataFrame, drawdown_periods: pd.DataFrame, live_start, source: str, names: dict | None = None) -> Figure:
    """Two panels sharing the date axis.

    Top: the strategy's growth of 1 (``cum["strategy"]``, from
    :func:`tearframes.cumulative`: ``cumprod(1 + r)`` of daily returns, after
    costs) on its own linear axis, so a dollar-neutral strategy that moves a few
    percent is not flattened beside the buy-and-hold curves; its drawdown
    periods (``drawdown_periods``: :func:`tearframes.worst_drawdowns` of the
    strategy's returns, columns ``peak, trough, recovery, depth``) shaded from
    peak to recovery, or to the last session when not recovered (gid
    ``drawdown``), each marked with its depth at its trough. Bottom: the
    growth of 1 of AMZN, the peer basket and the benchmark (log scale).
    ``live_start`` (a date or None): a dashed line on both panels (gid
    ``live_start``) labelled "live start", drawn only inside the run's dates.
    """
    fig, (a1, a2) = _new(6.0, nrows=2, hspace=0.12, height_ratios=[1.25, 1.0])
    lab = _labels(names)
    idx = cum.index
    a1.plot(idx, cum["strategy"], color=COLORS["strategy"], lw=1.6, label=lab["strategy"])
    a1.axhline(1.0, color="black", lw=0.6)
    end = idx[-1] if len(idx) else None
    n = len(drawdown_periods)
    for k, d in enumerate(drawdown_periods.itertuples()):
        stop = d.recovery if pd.notna(d.recovery) else end
        a1.axvspan(d.peak, stop, color=COLORS["drawdown"], alpha=0.13, lw=0, gid="drawdown",
                   label=f"{n} worst drawdown{'s' if n != 1 else ''}, peak to recovery (or to the end)" if k == 0 else None)
        if d.trough in cum.index:
            a1.annotate(f"{d.depth:.1%}", (d.trough, cum.at[d.trough, "strategy"]), xytext=(0, -3), textcoords="offset points",
                        ha="center", va="top", fontsize=7, color=COLORS["drawdown"])
    lo, hi = a1.get_ylim()
    a1.set_ylim(lo - 0.08 * (hi - lo), hi + 0.12 * (hi - lo))  # room for the depths below and the legend above
    a1.yaxis.set_major_formatter(ScalarFormatter(useOffset=False))
    a1.set_ylabel("strategy growth of 1\n(own linear axis)")
    a1.set_title(f"{lab['strategy']} growth of 1 on its own axis, worst drawdowns shaded (depth at the trough); buy-and-hold below",
                 fontsize=11)
    for c in ["amzn", "peer_basket", "benchmark"]:
        if c in cum:
            a2.plot(idx, cum[c], color=COLORS[c], lw=1.2, label=lab[c])
    a2.set_yscale("log")
    a2.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.2f}"))
    a2.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:.1f}"))
    a2.set_ylabel("growth of 1\n(log scale, total return)")
    _live_line([a1, a2], live_start, idx)
    a1.legend(loc="upper left", frameon=False, fontsize=8, ncol=3)
    a2.legend(loc="upper left", frameon=False, fontsize=8, ncol=3)
    _source(fig, source)
    return fig


def rolling_alpha_ir_vol(rolling_frame: pd.DataFrame, window: int, live_start, source: str) -> Figure:
    """Three panels sharing the date axis, from :func:`rolling_stats.rolling_frame`
    (trailing ``window`` sessions, NaN until a full window exists): the
    strategy's rolling alpha against the peer basket (``alpha_ann``,
    annualised, drawn in %), its rolling information ratio (``information_ratio``:
    the daily excess ``r_strategy - net_held * r_basket``, mean over sd times
    sqrt(252)) and its rolling volatility (``vol_ann``, annualised, %).
    ``live_start``: a dashed line on every panel (gid ``live_start``)."""
    fig, axes = _new(6.4, nrows=3, hspace=0.12)
    idx = rolling_frame.index
    spec = [("alpha_ann", 100.0, "alpha vs basket\n(annualised, %)"), ("information_ratio", 1.0, "information ratio\n(annualised)"),
            ("vol_ann", 100.0, "volatility\n(annualised, %)")]
    for ax, (col, scale, ylabel) in zip(axes, spec):
        ax.plot(idx, rolling_frame[col].to_numpy(dtype=float) * scale, color=COLORS["strategy"], lw=1.3)
        if col != "vol_ann":
            ax.axhline(0, color="black", lw=0.6)
        ax.set_ylabel(ylabel, fontsize=9)
    axes[0].set_title(f"Rolling {window}-session (about {round(window / 21)}-month) alpha and information ratio against the peer basket, "
                      "and volatility", fontsize=11)
    _live_line(axes, live_start, idx)
    if any(ln.get_gid() == "live_start" for ln in axes[0].lines):
        axes[0].legend(loc="upper left", frameon=False, fontsize=8)
    _source(fig, source)
    return fig


def exposure_lines(exposure_frame: pd.DataFrame, source: str) -> Figure:
    """Long, short (drawn below zero), net and beta-adjusted net exposure at each
    close, fractions of portfolio value drawn in %, held until the next close
    (steps). ``exposure_frame``: :func:`exposure_stats.exposure_over_time`
    (``long``, ``short`` positive, ``net``, ``gross``, ``beta_net``); when
    ``beta_net`` is all NaN (an older run) it is left out and the figure says
    so. The title gives the share of closes with a position."""
    fig, (ax,) = _new(3.4)
    e = exposure_frame
    idx = e.index
    long = e["long"].to_numpy(dtype=float)
    short = -e["short"].to_numpy(dtype=float)
    ax.fill_between(idx, long, 0, step="post", color=COLORS["long"], alpha=0.35, lw=0, label="long")
    ax.fill_between(idx, short, 0, step="post", color=COLORS["short"], alpha=0.35, lw=0, label="short (drawn negative)")
    ax.step(idx, e["net"].to_numpy(dtype=float), where="post", color=COLORS["net"], lw=1.0, label="net (long minus short)", gid="net")
    bn = e["beta_net"].to_numpy(dtype=float)
    if np.isfinite(bn).any():
        ax.step(idx, bn, where="post", color=COLORS["beta_net"], lw=1.0, ls="--", label="beta-adjusted net", gid="beta_net")
    else:
        ax.text(0.99, 0.02, "beta-adjusted net: not in this run's exposure.csv", transform=ax.transAxes, ha="right", va="bottom", fontsize=8)
    ax.axhline(0, color="black", lw=0.6)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("exposure (% of equity\nat the close)")
    share = float((e["gross"].fillna(0.0).abs() > 1e-9).mean()) if len(e) else float("nan")
    ax.set_title(f"Long, short, net and beta-adjusted net exposure (a position at {share:.0%} of closes)")
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi + 0.3 * (hi - lo))  # headroom for the legend
    ax.legend(loc="upper left", frameon=False, fontsize=8, ncol=4)
    _source(fig, source)
    return fig


def _break_even_text(status: str, x: float, top: float) -> str:
    if status == "crosses":
        return f"zero at {x:.1f} bps"
    if status == "negative throughout":
        return "loses at any cost tried (even at 0 bps slippage)"
    if status == "positive throughout":
        return f"profitable up to {top:g} bps"
    return "no data"


def cost_sensitivity(frame: pd.DataFrame, actual_slippage_bps: float, break_even: pd.DataFrame, source: str) -> Figure:
    """Total return and excess total return over the run (fractions drawn in %,
    after all costs) against slippage per side (bps), from
    :func:`costs.tidy_cost_sensitivity` of cost_sensitivity.csv (re-simulations
    of the same trades; commission and borrow as in the run).

    ``break_even``: :func:`costs.sensitivity_break_even` of the same frame
    (index ``metric``; ``slippage_bps``, ``status``). Where a curve crosses
    zero the crossing is marked (gid ``break_even_<metric>``) and its legend
    says at how many bps; otherwise the legend says "loses at any cost" or
    "profitable up to <max> bps". The run's own slippage is a dashed line (gid
    ``actual_slippage``)."""
    fig, (ax,) = _new(3.8)
    x = frame["slippage_bps"].to_numpy(dtype=float)
    top = float(np.nanmax(x)) if len(x) else float("nan")
    for col, color, name in (("total_return", COLORS["strategy"], "total return"),
                             ("excess_total_return", COLORS["excess"], "excess vs basket (same net)")):
        be = break_even.loc[col] if col in break_even.index else {"slippage_bps": float("nan"), "status": "no data"}
        bx, status = float(be["slippage_bps"]), str(be["status"])
        ax.plot(x, frame[col].to_numpy(dtype=float) * 100, color=color, lw=1.6, marker="o", ms=3,
                label=f"{name}: {_break_even_text(status, bx, top)}", gid=col)
        if status == "crosses":
            ax.plot([bx], [0.0], marker="X", ms=10, color=color, mec="white", ls="none", gid=f"break_even_{col}")
    ax.axhline(0, color="black", lw=0.6)
    if actual_slippage_bps is not None and np.isfinite(actual_slippage_bps):
        ax.axvline(actual_slippage_bps, color="black", ls="--", lw=1.1, gid="actual_slippage", label=f"this run: {actual_slippage_bps:g} bps per side")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))
    ax.set_xlabel("slippage per side (bps); commission and borrow as in the run")
    ax.set_ylabel("result over the run (%, after costs)")
    ax.set_title("Cost sensitivity: total and excess return against slippage (the same trades re-simulated)")
    ax.legend(loc="lower left", frameon=False, fontsize=8)  # results fall as costs rise: the lower left stays empty
    _source(fig, source)
    return fig


def return_tails(returns_series: pd.Series, var: float, cvar: float, source: str, what: str | None = None) -> Figure:
    """Histogram of daily returns (fractions drawn in %; NaNs dropped) with the
    historical 95% VaR and CVaR (fractions, as :func:`tails.tail_stats` gives
    them; gids ``var`` and ``cvar``) and, for comparison, the normal density
    of the same mean and sample sd (ddof=1), scaled to sessions per bin (gid
    ``normal``). ``what`` says which sessions the series holds (for example
    "strategy, sessions in the market"); it defaults to the series' name and
    appears in the title."""
    from scipy import stats

    x = pd.to_numeric(pd.Series(returns_series), errors="coerce").dropna().to_numpy(dtype=float) * 100
    what = what or str(getattr(returns_series, "name", None) or "daily returns")
    fig, (ax,) = _new(3.8)
    n = len(x)
    if n:
        bins = np.histogram_bin_edges(x, bins=min(max(n // 8, 10), 50)) if np.ptp(x) > 0 else 10
        counts, edges, _ = ax.hist(x, bins=bins, histtype="stepfilled", color=COLORS["strategy"], alpha=0.55, label=f"sessions (n={n})",
                                   gid="histogram")
        if n > 1 and np.std(x, ddof=1) > 0:
            mu, sd = float(np.mean(x)), float(np.std(x, ddof=1))
            g = np.linspace(edges[0], edges[-1], 200)
            ax.plot(g, stats.norm.pdf(g, mu, sd) * n * (edges[1] - edges[0]), color="black", lw=1.1, gid="normal",
                    label=f"normal, same mean ({mu:+.2f}%) and sd ({sd:.2f}%)")
    ax.axvline(var * 100, color=COLORS["loss"], lw=1.6, ls="--", gid="var", label=f"95% VaR {var * 100:+.2f}%")
    ax.axvline(cvar * 100, color=COLORS["loss"], lw=1.6, ls=":", gid="cvar", label=f"95% CVaR {cvar * 100:+.2f}%")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))
    ax.set_xlabel("daily return (%)")
    ax.set_ylabel("sessions")
    ax.set_title(f"Daily returns: {what} (n={n}), historical 95% VaR and CVaR", fontsize=11)
    ax.legend(loc="upper left", frameon=False, fontsize=8)
    _source(fig, source)
    return fig


def trade_outcomes(trade_frame: pd.DataFrame, source: str) -> Figure:
    """Per-trade net return on gross notional (``net`` of
    :func:`trade_stats.trade_frame`: ``pnl_net / gross_notional``, after all
    costs; drawn in %). Left: one bar per trade in entry order (stable for
    equal entries), wins (net > 0) and losses (net < 0) coloured, with the
    mean and median as horizontal lines (gids ``mean``, ``median``). Right,
    on the same y axis: the histogram of the same numbers."""
    tf = trade_frame.sort_values("entry", kind="mergesort") if "entry" in trade_frame else trade_frame
    y = tf["net"].to_numpy(dtype=float) * 100
    y = y[np.isfinite(y)]
    n = len(y)
    fig, (a1, a2) = _new(3.8, ncols=2, sharex=False, sharey=True, width_ratios=[2.6, 1.0], wspace=0.06)
    a2.grid(True, alpha=0.3)
    pos = np.arange(1, n + 1)
    for mask, key, name in ((y > 0, "win", "win"), (y < 0, "loss", "loss"), (y == 0, "peer_basket", "zero")):
        if mask.any():
            a1.bar(pos[mask], y[mask], width=0.8, color=COLORS[key], gid=key, label=f"{name} ({int(mask.sum())})")
    if n:
        mean, med = float(np.mean(y)), float(np.median(y))
        bins = np.histogram_bin_edges(y, bins=min(max(n // 3, 5), 25)) if np.ptp(y) > 0 else 5
        a2.hist(y, bins=bins, orientation="horizontal", histtype="stepfilled", color=COLORS["peer_basket"], alpha=0.7, gid="histogram")
        for ax in (a1, a2):
            ax.axhline(mean, color="black", lw=1.1, ls="--", gid="mean", label=f"mean {mean:+.2f}%" if ax is a1 else None)
            ax.axhline(med, color="black", lw=1.1, ls=":", gid="median", label=f"median {med:+.2f}%" if ax is a1 else None)
    a1.axhline(0, color="black", lw=0.6)
    a1.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))
    a1.set_xlabel("trade, in entry order")
    a1.set_ylabel("net return on gross\nnotional (%, after costs)")
    a2.set_xlabel("trades")
    a1.set_title(f"Per-trade net return on gross notional, {n} trades", fontsize=11)
    lo, hi = a1.get_ylim()
    a1.set_ylim(lo, hi + 0.15 * (hi - lo))  # headroom for the legend
    a1.legend(loc="upper left", frameon=False, fontsize=8, ncol=4)
    _source(fig, source)
    return fig


def caar_models(paths_by_model: dict, source: str) -> Figure:
    """One panel per abnormal-return model (market_adjusted, market_model,
    peer_adjusted, in that order; others after), sharing both axes: the CAAR
    of group ``all`` by session from day 0 (fractions drawn in %) with its 95%
    band, a dotted line at day 0 (gid ``day0``) and the pre-event window -5..-1
    shaded (gid ``pre_event``), so pre-event drift shows as the path's level
    at day -1.

    ``paths_by_model``: model -> :func:`tearframes.caar_paths` frame (``group,
    day, caar, lo95, hi95, n``). The x label gives the first day drawn: the
    paths cumulate from the first day abnormal_returns.csv holds, which may be
    later than the -10 asked for. Each panel's title gives the range of ``n``:
    an event enters a path only from the first day its whole window from the
    start is counted (unknown-time events from day +1, DESIGN's rule), so the
    path can jump where they join."""
    order = [m for m in MODEL_COLORS if m in paths_by_model] + [m for m in paths_by_model if m not in MODEL_COLORS]
    height = 3.8
    fig, axes = _new(height, ncols=max(len(order), 1), sharex=True, sharey=True, wspace=0.08, top_in=0.7, bottom_in=0.95)
    first = []
    for k, (ax, m) in enumerate(zip(axes, order)):
        p = paths_by_model[m]
        p = p[p["group"] == "all"].sort_values("day")
        color = MODEL_COLORS.get(m, CATEGORY_COLORS[k % len(CATEGORY_COLORS)])
        ax.axvspan(-5, -1, color="#f0b429", alpha=0.18, lw=0, gid="pre_event", label="pre-event -5..-1")
        if len(p):
            first.append(int(p["day"].min()))
            ax.fill_between(p["day"], p["lo95"] * 100, p["hi95"] * 100, color=color, alpha=0.2, lw=0, label="95% band")
            ax.plot(p["day"], p["caar"] * 100, color=color, lw=2, gid="caar", label="CAAR")
            n0, n1 = int(p["n"].min()), int(p["n"].max())
            ax.set_title(f"{MODEL_LABELS.get(m, m)} (n={n0}{'' if n0 == n1 else f' to {n1}'} events)", fontsize=9)
        else:
            ax.text(0.5, 0.5, "too few events", transform=ax.transAxes, ha="center", va="center")
            ax.set_title(MODEL_LABELS.get(m, m), fontsize=9)
        ax.axvline(0, color="black", lw=0.8, ls=":", gid="day0")
        ax.axhline(0, color="black", lw=0.5)
    axes[0].set_ylabel("CAAR, all events (%)")
    axes[0].legend(loc="upper left", frameon=False, fontsize=7)
    start = min(first) if first else None
    note = "" if start is None or start <= -10 else " (abnormal_returns.csv starts there, not at day -10)"
    fig.supxlabel(f"sessions from day 0; CAAR cumulated from day {start}{note}" if start is not None else "sessions from day 0",
                  y=0.3 / height, va="bottom", fontsize=10)
    fig.suptitle("CAAR of all events by abnormal-return model, with 95% bands (cross-sectional)", y=1 - 0.12 / height, va="top")
    _source(fig, source)
    return fig
