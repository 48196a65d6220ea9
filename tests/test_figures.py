"""The figures of the reviewer's tear-sheet sections (issue 13): each built from a real
default run's frames and from small hand-made frames, with assertions on what is drawn
(line data equal to the input, shaded spans at the drawdown periods, the live-start and
break-even positions, labels with units), not only that a figure exists."""
from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats as sps

from backtests.cli import main
from backtests.reports import figures as F
from backtests.reports import tearframes as T
from backtests.stats import costs as C
from backtests.stats import exposure_stats as X
from backtests.stats import rolling_stats as RS
from backtests.stats import tails as TL
from backtests.stats import trade_stats as TS

MODELS = ("market_adjusted", "market_model", "peer_adjusted")


# ------------------------------------------------------------------ helpers
def by_gid(ax, gid: str, kind: str = "lines") -> list:
    return [a for a in getattr(ax, kind) if a.get_gid() == gid]


def vline_x(ax, gid: str) -> list[float]:
    """x positions (matplotlib's date numbers for dates) of the vertical lines with ``gid``."""
    return [float(ln.get_xdata(orig=False)[0]) for ln in by_gid(ax, gid)]


def span_x(ax, gid: str) -> list[tuple[float, float]]:
    """(left, right) of the axvspans with ``gid`` (Rectangles), in data units."""
    return [(p.get_x(), p.get_x() + p.get_width()) for p in by_gid(ax, gid, "patches")]


def ydata(line) -> np.ndarray:
    return np.asarray(line.get_ydata(orig=False), dtype=float)


def dnum(d) -> float:
    return float(mdates.date2num(pd.Timestamp(d)))


def legend_texts(ax) -> list[str]:
    leg = ax.get_legend()
    return [t.get_text() for t in leg.get_texts()] if leg else []


# ------------------------------------------------------------------ the default run
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("figs") / "run"
    assert main(["run", "--out", str(d), "--quiet"]) == 0
    out = {
        "returns": pd.read_csv(d / "returns.csv", index_col="date", parse_dates=["date"]),
        "exposure": pd.read_csv(d / "exposure.csv", index_col="date", parse_dates=["date"]),
        "trades": pd.read_csv(d / "trades.csv"),
        "events": pd.read_csv(d / "events.csv", keep_default_na=False, na_values=[""]),
        "ar": pd.read_csv(d / "abnormal_returns.csv"),
        "config": yaml.safe_load((d / "config.yaml").read_text()),
    }
    out["cost_sensitivity"] = pd.read_csv(d / "cost_sensitivity.csv") if (d / "cost_sensitivity.csv").exists() else None
    return out


# ------------------------------------------------------------------ 1. equity with drawdowns
def test_equity_with_drawdowns_on_the_default_run(run):
    r = run["returns"]
    cum, dd = T.cumulative(r), T.worst_drawdowns(r["strategy"])
    live = r.index[len(r) // 2]
    fig = F.equity_with_drawdowns(cum, dd, live, "Source: test", {"amzn": "AMZN"})
    top, bottom = fig.axes
    assert len(fig.axes) == 2
    (s,) = [ln for ln in top.lines if ln.get_label() == "Strategy"]
    np.testing.assert_allclose(ydata(s), cum["strategy"].to_numpy())
    # the strategy has its own linear axis, scaled to its own few percent, not to the 4x buy-and-hold curves
    assert top.get_yscale() == "linear" and bottom.get_yscale() == "log"
    lo, hi = top.get_ylim()
    assert lo > 0.8 and hi < 1.2 and bottom.get_ylim()[1] > 2.5
    for c, label in (("amzn", "AMZN"), ("peer_basket", "Peer basket"), ("benchmark", "Benchmark")):
        (ln,) = [ln for ln in bottom.lines if ln.get_label() == label]
        np.testing.assert_allclose(ydata(ln), cum[c].to_numpy())
        assert ln.get_color() == F.COLORS[c]
    # one shaded span per drawdown period, peak to recovery, or to the last session when not recovered
    expected = [(dnum(p), dnum(rec if pd.notna(rec) else r.index[-1])) for p, rec in zip(dd["peak"], dd["recovery"])]
    assert len(dd) >= 1
    np.testing.assert_allclose(span_x(top, "drawdown"), expected)
    assert vline_x(top, "live_start") == [dnum(live)] and vline_x(bottom, "live_start") == [dnum(live)]
    assert "live start" in legend_texts(top)
    assert "growth of 1" in top.get_ylabel() and "log scale" in bottom.get_ylabel() and "own axis" in top.get_title()
    assert fig.texts[-1].get_text() == "Source: test"


def test_equity_with_drawdowns_by_hand():
    idx = pd.bdate_range("2024-01-01", periods=7)
    r = pd.DataFrame({"strategy": [0.1, -0.2, 0.05, 0.3, -0.1, 0.0, 0.0], "amzn": 0.01, "peer_basket": 0.0, "benchmark": 0.0}, index=idx)
    # growth 1.1, 0.88, 0.924, 1.2012, 1.08108, ...: falls from 1.1 (day 0) to 0.88 (day 1), recovers on day 3;
    # falls again on day 4 and never recovers, so its span runs to the last session
    dd = T.worst_drawdowns(r["strategy"])
    fig = F.equity_with_drawdowns(T.cumulative(r), dd, None, "src")
    top = fig.axes[0]
    np.testing.assert_allclose(span_x(top, "drawdown"), [(dnum(idx[0]), dnum(idx[3])), (dnum(idx[3]), dnum(idx[6]))])
    assert [t.get_text() for t in top.texts] == ["-20.0%", "-10.0%"]  # depth at each trough
    assert vline_x(top, "live_start") == [] and vline_x(fig.axes[1], "live_start") == []  # no live_start: no line
    # a live_start outside the run's dates is not drawn (it would stretch the axis)
    fig = F.equity_with_drawdowns(T.cumulative(r), dd, "2030-01-01", "src")
    assert vline_x(fig.axes[0], "live_start") == []


# ------------------------------------------------------------------ 2. rolling alpha, IR, volatility
def test_rolling_alpha_ir_vol_on_the_default_run(run):
    r, e = run["returns"], run["exposure"]
    roll = RS.rolling_frame(r, e, 126)
    live = "2025-01-02"
    fig = F.rolling_alpha_ir_vol(roll, 126, live, "src")
    assert len(fig.axes) == 3
    for ax, col, scale in zip(fig.axes, ("alpha_ann", "information_ratio", "vol_ann"), (100, 1, 100)):
        data = [ln for ln in ax.lines if ln.get_gid() is None and len(ln.get_xdata()) == len(roll)]
        assert len(data) == 1
        np.testing.assert_allclose(ydata(data[0]), roll[col].to_numpy() * scale, equal_nan=True)
        assert vline_x(ax, "live_start") == [dnum(live)]
    assert np.isfinite(roll["alpha_ann"]).sum() > 500  # the run is long enough to draw something
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert "alpha" in labels[0] and "%" in labels[0] and "annualised" in labels[1] and "%" in labels[2] and "volatility" in labels[2]
    assert "126-session" in fig.axes[0].get_title()


def test_rolling_alpha_ir_vol_without_live_start():
    idx = pd.bdate_range("2024-01-01", periods=4)
    roll = pd.DataFrame({"alpha_ann": [np.nan, 0.1, 0.2, -0.05], "information_ratio": [np.nan, 1.0, 0.5, -0.5],
                         "vol_ann": [np.nan, 0.1, 0.12, 0.08], "beta": 0.0}, index=idx)
    fig = F.rolling_alpha_ir_vol(roll, 2, None, "src")
    assert all(vline_x(ax, "live_start") == [] for ax in fig.axes)
    np.testing.assert_allclose(ydata(fig.axes[0].lines[0]), [np.nan, 10.0, 20.0, -5.0], equal_nan=True)
    np.testing.assert_allclose(ydata(fig.axes[2].lines[0]), [np.nan, 10.0, 12.0, 8.0], equal_nan=True)


# ------------------------------------------------------------------ 3. exposure lines
def _poly_y(ax, label):
    (coll,) = [c for c in ax.collections if c.get_label() == label]
    return np.concatenate([p.vertices[:, 1] for p in coll.get_paths()])


def test_exposure_lines_by_hand():
    idx = pd.bdate_range("2024-01-01", periods=4)
    raw = pd.DataFrame({"exposure": [0.0, 1.0, 0.9, 0.0], "net": [0.0, 0.1, -0.1, 0.0],
                        "long": [0.0, 0.55, 0.4, 0.0], "short": [0.0, 0.45, 0.5, 0.0], "beta_net": [0.0, 0.2, 0.05, 0.0]}, index=idx)
    fig = F.exposure_lines(X.exposure_over_time(raw), "src")
    (ax,) = fig.axes
    np.testing.assert_allclose(ydata(by_gid(ax, "net")[0]), [0.0, 0.1, -0.1, 0.0])
    np.testing.assert_allclose(ydata(by_gid(ax, "beta_net")[0]), [0.0, 0.2, 0.05, 0.0])
    assert _poly_y(ax, "long").max() == pytest.approx(0.55)
    assert _poly_y(ax, "short (drawn negative)").min() == pytest.approx(-0.5)  # short drawn below zero
    assert "50% of closes" in ax.get_title() and "%" in ax.get_ylabel()
    # an older exposure.csv: long/short derived from gross and net, no beta-adjusted net (and the figure says so)
    old = raw[["exposure", "net"]]
    fig = F.exposure_lines(X.exposure_over_time(old), "src")
    (ax,) = fig.axes
    assert by_gid(ax, "beta_net") == [] and any("not in this run's exposure.csv" in t.get_text() for t in ax.texts)
    assert _poly_y(ax, "long").max() == pytest.approx(0.55) and _poly_y(ax, "short (drawn negative)").min() == pytest.approx(-0.5)


def test_exposure_lines_on_the_default_run(run):
    e = X.exposure_over_time(run["exposure"])
    fig = F.exposure_lines(e, "src")
    (ax,) = fig.axes
    np.testing.assert_allclose(ydata(by_gid(ax, "net")[0]), e["net"].to_numpy())
    assert _poly_y(ax, "short (drawn negative)").min() == pytest.approx(-e["short"].max())
    share = float((e["gross"] > 1e-9).mean())
    assert f"{share:.0%} of closes" in ax.get_title()
    if e["beta_net"].notna().any():  # exposure.csv of this checkout carries beta_net
        np.testing.assert_allclose(ydata(by_gid(ax, "beta_net")[0]), e["beta_net"].to_numpy())


# ------------------------------------------------------------------ 4. cost sensitivity
def test_cost_sensitivity_by_hand():
    # total return +2%, +1%, -1% at 0, 5, 10 bps: zero between 5 and 10, at 5 + 5 * 1 / 2 = 7.5 bps;
    # the excess stays positive: "profitable up to 10 bps"
    raw = pd.DataFrame({"slippage_bps": [10, 0, 5], "total_return": [-0.01, 0.02, 0.01], "excess_total_return": [0.01, 0.03, 0.02],
                        "sharpe": [0.0, 1.0, 0.5], "pnl_net": [-1.0, 2.0, 1.0]})
    t = C.tidy_cost_sensitivity(raw)
    fig = F.cost_sensitivity(t, 2.0, C.sensitivity_break_even(t), "src")
    (ax,) = fig.axes
    np.testing.assert_allclose(ydata(by_gid(ax, "total_return")[0]), [2.0, 1.0, -1.0])
    np.testing.assert_allclose(by_gid(ax, "total_return")[0].get_xdata(), [0, 5, 10])
    (m,) = by_gid(ax, "break_even_total_return")
    assert float(m.get_xdata()[0]) == pytest.approx(7.5) and float(m.get_ydata()[0]) == 0.0
    assert by_gid(ax, "break_even_excess_total_return") == []
    assert vline_x(ax, "actual_slippage") == [2.0]
    texts = legend_texts(ax)
    assert "total return: zero at 7.5 bps" in texts and "excess vs basket (same net): profitable up to 10 bps" in texts
    assert "this run: 2 bps per side" in texts
    assert "bps" in ax.get_xlabel() and "%" in ax.get_ylabel()
    # losing everywhere
    neg = t.assign(total_return=[-0.01, -0.02, -0.03])
    fig = F.cost_sensitivity(neg, 2.0, C.sensitivity_break_even(neg), "src")
    assert any(s.startswith("total return: loses at any cost") for s in legend_texts(fig.axes[0]))


def test_cost_sensitivity_on_the_default_run(run):
    if run["cost_sensitivity"] is None:
        pytest.skip("this checkout's run does not write cost_sensitivity.csv yet")
    t = C.tidy_cost_sensitivity(run["cost_sensitivity"])
    be = C.sensitivity_break_even(t)
    actual = float(run["config"]["costs"]["slippage_bps"])
    fig = F.cost_sensitivity(t, actual, be, "src")
    (ax,) = fig.axes
    assert t["slippage_bps"].min() == 0 and t["slippage_bps"].max() == 20
    for col in ("total_return", "excess_total_return"):
        np.testing.assert_allclose(ydata(by_gid(ax, col)[0]), t[col].to_numpy() * 100)
        marks = by_gid(ax, f"break_even_{col}")
        if be.at[col, "status"] == "crosses":
            assert float(marks[0].get_xdata()[0]) == pytest.approx(be.at[col, "slippage_bps"])
        else:
            assert marks == []
    assert vline_x(ax, "actual_slippage") == [actual]


# ------------------------------------------------------------------ 5. return tails
def test_return_tails_by_hand():
    # 20 returns -1.0%, -0.9%, ..., +0.9%: VaR = percentile 5 = -0.905%, CVaR = mean of the lowest floor(19 * 0.05) + 1 = 1
    r = pd.Series(np.arange(-10, 10) / 1000, index=pd.bdate_range("2024-01-01", periods=20), name="strategy")
    var, cvar = TL.value_at_risk(r), TL.conditional_value_at_risk(r)
    assert var == pytest.approx(-0.00905) and cvar == pytest.approx(-0.01)
    fig = F.return_tails(r, var, cvar, "src", what="hand-made")
    (ax,) = fig.axes
    assert vline_x(ax, "var") == pytest.approx([-0.905]) and vline_x(ax, "cvar") == pytest.approx([-1.0])
    # 20 values in 10 equal bins: 2 a bin; the normal curve has the same mean and sd, scaled to sessions per bin
    (hist,) = by_gid(ax, "histogram", "patches")
    assert hist.get_path().vertices[:, 1].max() == pytest.approx(2.0)
    (nl,) = by_gid(ax, "normal")
    x, y = np.asarray(nl.get_xdata()), ydata(nl)
    mu, sd, width = np.mean(r) * 100, np.std(r, ddof=1) * 100, 1.9 / 10
    np.testing.assert_allclose(y, sps.norm.pdf(x, mu, sd) * 20 * width)
    assert x[0] == pytest.approx(-1.0) and x[-1] == pytest.approx(0.9)
    assert "hand-made (n=20)" in ax.get_title() and "%" in ax.get_xlabel() and ax.get_ylabel() == "sessions"


def test_return_tails_on_the_default_run_in_market_sessions(run):
    r, e = run["returns"], run["exposure"]
    tt = TL.tail_table(r, e)
    m = TL.in_market_sessions(e).reindex(r.index, fill_value=False).to_numpy()
    s = r["strategy"][m]
    fig = F.return_tails(s, tt.at["strategy_in_market", "var_95"], tt.at["strategy_in_market", "cvar_95"], "src",
                         what="strategy, sessions in the market")
    (ax,) = fig.axes
    assert tt.at["strategy_in_market", "n"] == len(s) and f"sessions in the market (n={len(s)})" in ax.get_title()
    assert vline_x(ax, "var") == pytest.approx([tt.at["strategy_in_market", "var_95"] * 100])
    assert vline_x(ax, "cvar") == pytest.approx([tt.at["strategy_in_market", "cvar_95"] * 100])
    assert vline_x(ax, "cvar")[0] <= vline_x(ax, "var")[0] < 0


# ------------------------------------------------------------------ 6. trade outcomes
def test_trade_outcomes_by_hand():
    # four trades listed out of entry order; net return on gross +1%, -2%, +4% and exactly 0 (neither win nor loss)
    trades = pd.DataFrame({"episode": [1, 2, 3, 4], "event_ids": ["a", "b", "c", "d"], "side": [1, 1, -1, 1],
                           "entry": ["2024-03-01", "2024-01-02", "2024-02-01", "2024-04-01"],
                           "exit": ["2024-03-04", "2024-01-03", "2024-02-02", "2024-04-02"],
                           "sessions_held": [1, 1, 1, 1], "excess_return": [0.0] * 4, "return_on_gross": [0.01, -0.02, 0.04, 0.0],
                           "pnl_net": [10.0, -20.0, 40.0, 0.0], "pnl_gross": [11.0, -19.0, 41.0, 1.0]})
    fig = F.trade_outcomes(TS.trade_frame(trades), "src")
    bars, hist = fig.axes
    wins, losses, zero = (by_gid(bars, g, "patches") for g in ("win", "loss", "peer_basket"))
    # entry order: 2024-01-02 (-2%), 2024-02-01 (+4%), 2024-03-01 (+1%), 2024-04-01 (0%)
    np.testing.assert_allclose(sorted((p.get_x() + p.get_width() / 2, p.get_height()) for p in wins + losses + zero),
                               [(1, -2.0), (2, 4.0), (3, 1.0), (4, 0.0)])
    assert (len(wins), len(losses), len(zero)) == (2, 1, 1)
    win_rgb = tuple(int(F.COLORS["win"][i:i + 2], 16) / 255 for i in (1, 3, 5))
    assert all(p.get_facecolor()[:3] == pytest.approx(win_rgb) for p in wins)
    for ax in (bars, hist):
        assert float(by_gid(ax, "mean")[0].get_ydata()[0]) == pytest.approx(0.75)  # (1 - 2 + 4 + 0) / 4
        assert float(by_gid(ax, "median")[0].get_ydata()[0]) == pytest.approx(0.5)  # between 0 and 1
    assert hist.get_shared_y_axes().joined(bars, hist)
    assert "%" in bars.get_ylabel() and "4 trades" in bars.get_title() and "win (2)" in legend_texts(bars) and "zero (1)" in legend_texts(bars)


def test_trade_outcomes_on_the_default_run(run):
    tf = TS.trade_frame(run["trades"])
    fig = F.trade_outcomes(tf, "src")
    bars = fig.axes[0]
    heights = [p.get_height() for p in by_gid(bars, "win", "patches") + by_gid(bars, "loss", "patches") + by_gid(bars, "peer_basket", "patches")]
    assert len(heights) == len(tf) == len(run["trades"]) > 10
    assert sorted(heights) == pytest.approx(sorted(tf["net"].to_numpy() * 100))
    w = TS.win_loss_stats(run["trades"])
    assert len(by_gid(bars, "win", "patches")) == w["n_wins"] and len(by_gid(bars, "loss", "patches")) == w["n_losses"]
    assert float(by_gid(bars, "mean")[0].get_ydata()[0]) == pytest.approx(tf["net"].mean() * 100)


# ------------------------------------------------------------------ 7. CAAR by model
def test_caar_models_on_the_default_run(run):
    ar, ev = run["ar"], run["events"]
    paths = {m: T.caar_paths(ar, ev, model=m, lo=-10, hi=20) for m in MODELS}
    fig = F.caar_models(paths, "src")
    assert len(fig.axes) == 3
    start = int(ar["day"].min())
    for ax, m in zip(fig.axes, MODELS):
        p = paths[m][paths[m]["group"] == "all"].sort_values("day")
        (ln,) = by_gid(ax, "caar")
        np.testing.assert_allclose(ydata(ln), p["caar"].to_numpy() * 100)
        assert list(ln.get_xdata()) == list(range(max(start, -10), 21))
        assert span_x(ax, "pre_event") == [(-5.0, -1.0)] and vline_x(ax, "day0") == [0.0]
        assert F.MODEL_LABELS[m] in ax.get_title()
        assert ln.get_color() == F.MODEL_COLORS[m]
    label = fig.get_supxlabel()
    assert f"cumulated from day {max(start, -10)}" in label
    assert ("not at day -10" in label) == (start > -10)
    assert "%" in fig.axes[0].get_ylabel()


def test_caar_models_by_hand():
    # three events, AR 1% on every day from -10 to +2: CAAR at day d = (d + 11)%, zero band (no dispersion)
    days = list(range(-10, 3))
    ar = pd.concat([pd.DataFrame({"event_id": e, "model": m, "day": days, "ar": 0.01}) for e in "abc" for m in MODELS[:2]])
    ev = pd.DataFrame({"event_id": list("abc"), "category": "x", "time": "bmo"})
    paths = {m: T.caar_paths(ar, ev, model=m, lo=-10, hi=20) for m in MODELS[:2]}
    fig = F.caar_models(paths, "src")
    assert len(fig.axes) == 2
    (ln,) = by_gid(fig.axes[1], "caar")
    np.testing.assert_allclose(ydata(ln), [d + 11 for d in days])
    assert "(n=3 events)" in fig.axes[1].get_title()
    label = fig.get_supxlabel()
    assert "cumulated from day -10" in label and "not at day -10" not in label
