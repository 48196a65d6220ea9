"""Sweep reports: the pure frames by hand, the figures on known frames, the assembled JSON and HTML on a
hand-made database (a fake store with the contract's shapes), escaping of user text, a real browser,
the size limit, and no half-written report on failure."""
from __future__ import annotations

import json
import re
import subprocess
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from backtests.sweeps import overfit as O
from backtests.sweeps import report as R
from events.errors import InputError
from browser_check import CHECKER, FLAGS, browser_or_skip

X, Y, Z = "strategy.params.exit_offset", "costs.slippage_bps", "strategy.params.entry_offset"
HOSTILE = '<script>window.pwned=1;document.title="pwned"</script><b>bold</b>'


# ------------------------------------------------------------- a hand-made database
def _results() -> pd.DataFrame:
    """8 finished combinations (2 x 2 x 2 grid), one failed, one pending; the best by Sharpe is ordinal 5."""
    rows = []
    sharpes = [0.40, -0.20, 0.90, 1.10, 0.30, 1.80, -0.50, 0.70]
    k = 0
    for z in ["earliest", HOSTILE]:
        for x in [1, 2]:
            for y in [2.0, 5.0]:
                s = sharpes[k]
                rows.append({"key": f"k{k:02d}" + "0" * 60, "ordinal": k, "status": "done", "error": None, "attempts": 1, "duration": 1.5, "worker": "w1",
                             "engine": "fast", X: x, Y: y, Z: z, "total_return": s / 10, "sharpe": s, "max_drawdown": -0.05 * (k + 1), "n_trades": 10 + k})
                k += 1
    rows.append({"key": "kf" + "0" * 62, "ordinal": 8, "status": "failed", "error": f"ValueError: bad {HOSTILE}", "attempts": 3, "duration": np.nan,
                 "worker": "w2", "engine": "fast", X: 3, Y: 2.0, Z: "earliest", "total_return": np.nan, "sharpe": np.nan, "max_drawdown": np.nan,
                 "n_trades": np.nan})
    rows.append({"key": "kp" + "0" * 62, "ordinal": 9, "status": "pending", "error": None, "attempts": 0, "duration": np.nan, "worker": None,
                 "engine": "fast", X: 3, Y: 5.0, Z: "earliest", "total_return": np.nan, "sharpe": np.nan, "max_drawdown": np.nan, "n_trades": np.nan})
    f = pd.DataFrame(rows)
    for c in ("total_return", "sharpe", "max_drawdown", "n_trades"):
        f[c] = f[c].astype(float)
    return f


SESSIONS = pd.bdate_range("2023-01-02", periods=300)


def _returns(keys) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame({k: rng.normal(0.0004 * i, 0.01, len(SESSIONS)) for i, k in enumerate(keys)}, index=SESSIONS)


SPEC = f"""# overnight sweep
base: {{strategy: {{kind: event_window, params: {{exit_offset: 2}}}}, costs: {{slippage_bps: 2.0}}}}
params:
  {X}: [1, 2]
  {Y}: [2.0, 5.0]
  {Z}: [earliest, '{HOSTILE}']
search: grid
seed: 1
metric: sharpe
direction: maximize
"""


class FakeStore:
    """The store readers' shapes (backtests/sweeps/__init__.py), from frames held in memory."""

    def __init__(self, results, returns, spec=SPEC):
        self.results, self.returns, self.spec = results, returns, spec
        self.asked = []

    def load_results(self, db):
        return self.results.copy()

    def load_returns(self, db, keys=None):
        self.asked.append(keys)
        keys = list(self.returns.columns) if keys is None else [k for k in keys if k in self.returns.columns]
        return self.returns[keys].copy()

    def load_spec_text(self, db):
        return self.spec


class Recorder:
    """The real :mod:`backtests.sweeps.overfit`, recording what the report passes to each statistic."""

    def __init__(self):
        self.calls: dict = {}

    def __getattr__(self, name):
        fn = getattr(O, name)

        def recorded(*args, **kwargs):
            self.calls.setdefault(name, []).append((args, kwargs))
            return fn(*args, **kwargs)

        return recorded


@pytest.fixture
def sweep(tmp_path, monkeypatch):
    """A database file, a fake store holding the hand-made frames behind it, and the real overfit module recorded."""
    res = _results()
    store = FakeStore(res, _returns(res.loc[res["status"] == "done", "key"]))
    rec = Recorder()
    monkeypatch.setattr(R, "_store", lambda: store)
    monkeypatch.setattr(R, "_overfit", lambda: rec)
    db = tmp_path / "night.sqlite"
    db.write_bytes(b"SQLite format 3\0")
    return SimpleNamespace(db=db, store=store, results=res, rec=rec)


BEST_KEY = "k05" + "0" * 60


# ------------------------------------------------------------- pure frames
def test_split_columns():
    res = _results()
    assert R.split_columns(res, [X, Y, Z, "not.a.column"]) == ([X, Y, Z], ["total_return", "sharpe", "max_drawdown", "n_trades"])
    assert R.split_columns(res)[0] == [X, Y, Z]  # without a spec: the dotted columns


def test_top_table_ranks_by_the_metric_in_its_direction():
    res = _results()
    t = R.top_table(res, [X, Y, Z], "sharpe", "maximize", n=3)
    assert t["rank"].tolist() == [1, 2, 3] and t["ordinal"].tolist() == [5, 3, 2]
    assert list(t.columns[:6]) == ["rank", "key", "ordinal", X, Y, Z] and "status" not in t
    low = R.top_table(res, [X, Y, Z], "max_drawdown", "minimize", n=2)  # minimize: the most negative first
    assert low["ordinal"].tolist() == [7, 6]
    assert len(R.top_table(res, [X], "sharpe", n=50)) == 8  # failed and pending are not ranked
    with pytest.raises(InputError):
        R.top_table(res, [X], "sharpe", "sideways")


def test_heatmap_grid_means_and_counts_by_hand():
    """x in {1, 2}, y in {2, 5}, a third parameter averaged over; NaN metrics and unfinished rows left out."""
    f = pd.DataFrame({"key": list("abcdefgh"), "ordinal": range(8), "status": ["done"] * 7 + ["failed"],
                      X: [1, 1, 2, 2, 1, 1, 2, 2], Y: [2, 2, 2, 2, 5, 5, 5, 5], Z: ["a", "b", "a", "b", "a", "b", "a", "b"],
                      "sharpe": [1.0, 3.0, 0.5, np.nan, -1.0, -2.0, 4.0, 100.0]})
    mean, count = R.heatmap_grid(f, X, Y, "sharpe")
    # on paper: (y=2, x=1): (1 + 3) / 2 = 2; (y=2, x=2): 0.5 alone (the other is NaN); (y=5, x=1): (-1 - 2) / 2 = -1.5;
    # (y=5, x=2): 4 alone (the failed row's 100 does not count)
    assert list(mean.index) == [2, 5] and list(mean.columns) == [1, 2] and mean.columns.name == X and mean.index.name == Y
    assert mean.to_numpy().tolist() == [[2.0, 0.5], [-1.5, 4.0]]
    assert count.to_numpy().tolist() == [[2, 1], [2, 1]]
    one, n1 = R.heatmap_grid(f, X, None, "sharpe")
    assert one.loc["all"].tolist() == pytest.approx([(1 + 3 - 1 - 2) / 4, (0.5 + 4) / 2]) and n1.loc["all"].tolist() == [4, 2]
    # a cell nothing landed in is NaN with count 0; text and null values sort after numbers
    g = pd.DataFrame({"key": list("abc"), "ordinal": range(3), "status": "done", X: [1, "x", None], Y: [2, 2, 5], "sharpe": [1.0, 2.0, 3.0]})
    m, c = R.heatmap_grid(g, X, Y, "sharpe")
    assert list(m.columns) == [1, "x", None] and np.isnan(m.loc[5, 1]) and c.loc[5, 1] == 0 and m.loc[5, None] == 3.0


def test_heatmap_pairs_single_parameter_and_the_limit():
    res = _results()
    assert R.heatmap_pairs(res, [X, Y, Z], "sharpe") == ([(X, Y), (X, Z), (Y, Z)], [])
    assert R.heatmap_pairs(res, [X], "sharpe") == ([(X, None)], [])
    const = res.assign(**{"a.const": 1})
    assert R.heatmap_pairs(const, [X, "a.const"], "sharpe") == ([(X, None)], [])  # a constant parameter is not drawn
    # effects (spread of the mean Sharpe across a parameter's values): x 0.025, y 0.575, z 1.025 once z's second value adds 1
    res.loc[res[Z] == HOSTILE, "sharpe"] += 1.0
    eff = R.param_effects(res, [X, Y, Z], "sharpe")
    assert eff.to_dict() == pytest.approx({X: 0.025, Y: 0.575, Z: 1.025})
    assert R.heatmap_pairs(res, [X, Y, Z], "sharpe", limit=1) == ([(Y, Z)], [X])


def test_returns_matrix_keeps_the_shared_sessions():
    r = pd.DataFrame({"a": [0.01, 0.02, np.nan, 0.0], "b": [np.nan, 0.01, 0.01, 0.0], "c": np.nan}, index=pd.bdate_range("2024-01-01", periods=4))
    m = R.returns_matrix(r, ["b", "a", "c", "zz"])
    assert list(m.columns) == ["b", "a"] and list(m.index) == list(r.index[[1, 3]])


def test_sharpe_rank_pairs_equity_and_base_combination():
    r = pd.DataFrame({"a": [0.01, -0.01, 0.02, 0.0], "flat": 0.0})
    s = R.sharpe_ratios(r)
    assert s["a"] == pytest.approx(r["a"].mean() / r["a"].std() * np.sqrt(252)) and np.isnan(s["flat"])
    rp = R.rank_pairs({"lambdas": [0.0, np.log(3)]})  # w from the logits when oos_rank is not given
    assert rp["oos_rank"].tolist() == pytest.approx([0.5, 0.75]) and rp["is_metric"].isna().all()
    rp = R.rank_pairs({"lambdas": [0.0], "oos_rank": np.array([0.5]), "is_metric": np.array([2.0]), "oos_metric": np.array([-1.0]), "selected": np.array(["k"], dtype=object)})
    assert rp.iloc[0].tolist() == [2.0, -1.0, 0.5, "k"]
    c = R.equity_curves(pd.Series([0.1, -0.5], index=[1, 2]), pd.Series([0.0, 0.2, 0.2], index=[0, 1, 2]))
    assert c["walk_forward"].tolist() == pytest.approx([1.1, 0.55]) and c["best"].tolist() == pytest.approx([1.2, 1.44])
    res = _results()
    row = R.base_combination(res, [X, Y, Z], {X: 2, Y: 2, Z: "earliest"})
    assert row["ordinal"] == 2
    assert R.base_combination(res, [X, Y, Z], {X: 3, Y: 2, Z: "earliest"}) is None  # failed: not among the finished trials


def test_colour_centre():
    assert R.colour_centre([-1, 0.5, 2]) == 0.0
    assert R.colour_centre([0.1, 0.2, 0.9]) == pytest.approx(0.2)  # all positive: turn at the median
    assert R.colour_centre([np.nan]) == 0.0


def test_readings_in_plain_words():
    assert R.read_pbo(0.48, 12870).startswith("PBO 0.48: the best in-sample choice ranked at or below the median out of sample in 48% of the 12,870")
    assert "as likely as not" in R.read_pbo(0.48) and "held up" in R.read_pbo(0.05) and "random" in R.read_pbo(0.8)
    assert "120 combinations tried" in R.read_dsr(0.62, 120) and "62%" in R.read_dsr(0.62, 120) and "clears" in R.read_dsr(0.97, 3)
    assert R.read_spa(0.31).startswith("SPA p 0.310: no combination beat the base config") and "at least one" in R.read_spa(0.01)
    assert R.read_spa(0.0).startswith("SPA p < 0.001: at least one")
    assert R.read_spa(None, "no base").startswith("SPA test not available: no base")


# ------------------------------------------------------------- figures on known frames
def _texts(fig):
    return [t.get_text() for t in fig.texts]


def test_heatmap_figure_cells_colours_and_source():
    mean = pd.DataFrame([[2.0, 0.5], [-1.5, np.nan]], index=pd.Index([2, 5], name=Y), columns=pd.Index([1, 2], name=X))
    count = pd.DataFrame([[2, 1], [2, 0]], index=mean.index, columns=mean.columns)
    fig = R.heatmap(mean, count, "sharpe", "Source: test", centre=0.0)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["2.00\nn=2", "0.50\nn=1", "-1.50\nn=2", "none"]
    norm = ax.images[0].norm
    assert norm.vcenter == 0 and norm.vmin == -2.0 and norm.vmax == 2.0  # symmetric around the centre
    assert ax.images[0].cmap.name.startswith("RdYlGn") and ax.get_xlabel() == X and ax.get_ylabel() == Y
    assert "Source: test" in _texts(fig) and "centre 0.00" in fig.axes[1].get_ylabel()
    fig = R.heatmap(mean * 0.01, count, "total_return", "src", centre=0.0, better_high=False)  # a percent metric, smaller is better
    ax = fig.axes[0]
    assert ax.texts[0].get_text() == "2.0%\nn=2" and ax.images[0].cmap.name.endswith("_r") and "(%)" in fig.axes[1].get_ylabel()


def test_cscv_and_walk_forward_figures():
    lam = np.array([-1.0, -0.3, 0.02, 0.4, 1.6])  # 10 even bins would put 0.02 in a bin that starts below 0
    fig = R.logit_histogram(lam, 0.4, "src")
    ax = fig.axes[0]
    reds = [p for p in ax.patches if p.get_facecolor()[:3] == pytest.approx((214 / 255, 39 / 255, 40 / 255))]
    assert sum(p.get_height() for p in reds) == 2 and sum(p.get_height() for p in ax.patches) == 5  # the red bars are the PBO share
    assert all(p.get_x() + p.get_width() <= 1e-12 for p in reds) and "src" in _texts(fig)
    pairs = pd.DataFrame({"is_metric": [1.0, 2.0, 3.0], "oos_metric": [-0.5, 1.0, 0.0], "oos_rank": [0.2, 0.9, 0.5]})
    fig = R.rank_scatter(pairs, "src", degradation={"slope": 0.5, "intercept": -1.0})
    a1, a2 = fig.axes
    assert [len(c.get_offsets()) for c in a1.collections] == [1, 2] and [len(c.get_offsets()) for c in a2.collections] == [1, 2]
    assert a2.collections[1].get_offsets()[:, 1].tolist() == [0.2, 0.5]  # at or below the median, in red
    assert a1.lines[-1].get_ydata().tolist() == pytest.approx([-0.5, 0.5]) and "src" in _texts(fig)
    curves = R.equity_curves(pd.Series([0.1, -0.05], index=SESSIONS[:2]), pd.Series([0.0, 0.2], index=SESSIONS[:2]))
    fig = R.walk_forward_equity(curves, "src", [SESSIONS[1]])
    ax = fig.axes[0]
    assert ax.lines[1].get_ydata().tolist() == pytest.approx([1.1, 1.045]) and ax.lines[1].get_color() == R.COLORS["walk_forward"]
    assert "growth of 1" in ax.get_ylabel() and "src" in _texts(fig)
    fig = R.metric_distribution(pd.Series([0.1, 0.2, -0.1]), 0.2, "total_return", "src", base=0.1)
    assert "best 20.00%" in [l.get_label() for l in fig.axes[0].lines] and "(%)" in fig.axes[0].get_xlabel()


# ------------------------------------------------------------- the assembled report
def test_json_keys_and_values_on_a_hand_made_database(sweep):
    doc = R.write_report(sweep.db)
    out = sweep.db.parent / "night-report"
    assert doc["written"]["dir"] == str(out)
    on_disk = json.loads((out / "sweep_report.json").read_text())
    assert on_disk == {k: v for k, v in doc.items() if k != "written"}
    for k in ("n_trials", "n_done", "n_failed", "n_pending", "metric", "direction", "best", "top", "deflated_sharpe", "pbo", "spa", "walk_forward",
              "settings", "overfit_sample", "heatmaps", "headline"):
        assert k in on_disk, k
    assert (on_disk["n_trials"], on_disk["n_done"], on_disk["n_failed"], on_disk["n_pending"], on_disk["n_running"]) == (10, 8, 1, 1, 0)
    assert on_disk["metric"] == "sharpe" and on_disk["direction"] == "maximize" and on_disk["params"] == [X, Y, Z]
    best = on_disk["best"]
    assert best["key"] == BEST_KEY and best["ordinal"] == 5 and best["params"] == {X: 1, Y: 5.0, Z: HOSTILE}
    assert best["metrics"] == {"total_return": pytest.approx(0.18), "sharpe": 1.8, "max_drawdown": pytest.approx(-0.30), "n_trades": 15.0}
    assert [t["ordinal"] for t in on_disk["top"]] == [5, 3, 2, 7, 0, 4, 1, 6]
    # the statistics, from the real overfit module, on the inputs they should get: all 8 finished combinations over their
    # 300 shared sessions; the trial Sharpes are summary.json's (annualised, all 8 finished); arrays summarised in the JSON
    rets = sweep.store.returns
    sharpes = sweep.results.loc[sweep.results["status"] == "done", "sharpe"].to_numpy(float)
    (r_best, trial_sharpes), kw = sweep.rec.calls["deflated_sharpe"][0]
    assert r_best.name == BEST_KEY and r_best.equals(rets[BEST_KEY]) and trial_sharpes.tolist() == sharpes.tolist()
    assert kw == {"n_trials": 8, "trial_sharpes_annualised": True}
    want = O.deflated_sharpe(rets[BEST_KEY], sharpes, n_trials=8, trial_sharpes_annualised=True)
    d = on_disk["deflated_sharpe"]
    assert d["dsr"] == pytest.approx(want["dsr"]) and d["sr0_ann"] == pytest.approx(want["sr0_ann"]) and d["n_trials"] == 8
    n_eff = O.effective_n_trials(rets)["n_effective"]
    assert d["effective_n"]["n_effective"] == pytest.approx(n_eff)
    assert d["effective_n"]["dsr"] == pytest.approx(O.deflated_sharpe(rets[BEST_KEY], sharpes, n_trials=n_eff, trial_sharpes_annualised=True)["dsr"])
    (m,), kw = sweep.rec.calls["pbo_cscv"][0]
    assert m.equals(rets) and kw == {"n_splits": 16}
    want = O.pbo_cscv(rets, n_splits=16)
    assert on_disk["pbo"]["pbo"] == pytest.approx(want["pbo"]) and on_disk["pbo"]["n_combinations"] == 12870
    assert on_disk["pbo"]["lambdas"] == {"omitted": "12870 values; see the figures"}
    assert sum(x["splits"] for x in on_disk["pbo"]["selection_counts"]["most_chosen"]) <= 12870
    # SPA against the base config's combination (inline base: exit_offset 2, slippage 2.0, entry earliest by default) = ordinal 2
    base_key = "k02" + "0" * 60
    (bench, cands), kw = sweep.rec.calls["spa_test"][0]
    assert bench.name == base_key and list(cands.columns) == [k for k in rets.columns if k != base_key]
    spa_want = O.spa_test(rets[base_key], rets.drop(columns=[base_key]))
    assert on_disk["spa"]["benchmark_key"] == base_key and on_disk["spa"]["p_consistent"] == pytest.approx(spa_want["p_consistent"])
    assert on_disk["spa"]["benchmark_params"] == {X: 2, Y: 2.0, Z: "earliest"} and len(on_disk["spa"]["candidates"]) == 7
    # a database without the stored base config: matched on the swept parameters, and said to be only that
    assert "base config's combination (the spec's inline base;" in on_disk["settings"]["spa_benchmark"]
    assert "not necessarily the base config itself" in on_disk["settings"]["spa_benchmark"]
    (m,), kw = sweep.rec.calls["walk_forward"][0]
    assert m.equals(rets) and kw == {"is_sessions": 150, "oos_sessions": 37}  # 300 sessions: too few for a year + two quarters
    want = O.walk_forward(rets, is_sessions=150, oos_sessions=37)
    wf = on_disk["walk_forward"]
    assert wf["oos_total_return"] == pytest.approx(want["oos_total_return"]) and wf["n_steps"] == want["n_steps"] == 5
    assert wf["steps"][1]["oos_start"] == str(SESSIONS[187].date()) and wf["steps"][1]["chosen"] == want["steps"]["chosen"][1]
    assert wf["choices"][0] == [str(SESSIONS[150].date()), want["choices"][0][1]] and wf["oos_returns"] == {"omitted": "150 values; see the figures"}
    assert on_disk["settings"]["walk_forward"] == {"is_sessions": 150, "oos_sessions": 37, "anchored": False, "metric": "sharpe"}
    s = on_disk["overfit_sample"]
    assert (s["n_done"], s["n_with_returns"], s["n_used"], s["n_sessions"], s["subset"]) == (8, 8, 8, 300, False)
    assert s["start"] == "2023-01-02" and s["end"] == str(SESSIONS[-1].date())
    # heatmap grids: 3 pairs; (x, y) means over the entry parameter, checked against the hand-made Sharpes
    assert [(h["x"], h["y"]) for h in on_disk["heatmaps"]] == [(X, Y), (X, Z), (Y, Z)]
    h = on_disk["heatmaps"][0]
    assert h["x_values"] == [1, 2] and h["y_values"] == [2.0, 5.0] and h["count"] == [[2, 2], [2, 2]]
    assert np.array(h["mean"]) == pytest.approx(np.array([[(0.4 + 0.3) / 2, (0.9 - 0.5) / 2], [(-0.2 + 1.8) / 2, (1.1 + 0.7) / 2]]))
    head = on_disk["headline"]
    assert head[0] == "10 combinations tried: 8 finished, 1 failed, 1 not finished yet (1 pending, 0 running)."
    assert head[1].startswith("Best by sharpe (maximize): exit_offset=1, slippage_bps=5, entry_offset=<script>")
    p, dsr = on_disk["pbo"]["pbo"], d["dsr"]
    assert f"PBO {p:.2f}: the best in-sample choice ranked at or below the median out of sample in {p:.0%} of the 12,870 CSCV splits" in head[3]
    assert head[2].startswith(f"Deflated Sharpe {dsr:.2f}: allowing for the 8 combinations tried, there is a {dsr:.0%} probability")
    assert f"about {n_eff:.1f} independent trials instead" in head[2]
    top_c = spa_want["candidates"].loc[spa_want["best"]]
    assert head[4].startswith(f"SPA p {on_disk['spa']['p_consistent']:.3f}") and on_disk["spa"]["best"] == spa_want["best"]
    best_c = sweep.results.set_index("key").loc[spa_want["best"]]
    assert (f"(5% level). The strongest candidate, exit_offset={best_c[X]}, slippage_bps={best_c[Y]:g}, entry_offset={best_c[Z]}, earned "
            f"{top_c['mean_excess_ann']:+.1%} a year more than the base config (t = {top_c['t_stat']:.2f}).") in head[4] and head[5].startswith("Walk-forward:") and len(head) == 6
    names = sorted(p.stem for p in (out / "figures").glob("*.png"))
    assert names == ["cscv_logits", "cscv_ranks", "heatmap_01", "heatmap_02", "heatmap_03", "metric_distribution", "walk_forward"]
    assert json.loads((out / "manifest.json").read_text())["kind"] == "sweep_report"


def test_subset_of_returns_is_said_and_spa_without_a_base(sweep):
    keep = [f"k{i:02d}" + "0" * 60 for i in (0, 1, 3, 5, 6, 7)]  # returns kept for 6 of 8: the best's, not the base's (2)
    sweep.store.returns = sweep.store.returns[keep]
    doc = R.write_report(sweep.db, sweep.db.parent / "rep")
    s = doc["overfit_sample"]
    assert s["subset"] and (s["n_with_returns"], s["n_used"]) == (6, 6) and "kept for 6 of the 8" in s["note"]
    assert doc["headline"][-1].startswith("Note: daily returns were kept for 6 of the 8 finished combinations")
    assert doc["spa"] == {"available": False, "reason": "the base combination's daily returns are not in the database"}
    (r_best, trial_sharpes), kw = sweep.rec.calls["deflated_sharpe"][0]
    assert len(trial_sharpes) == 8 and kw["n_trials"] == 8  # the deflation still counts every finished trial
    assert sweep.rec.calls["pbo_cscv"][0][0][0].shape == (300, 6)
    html = (sweep.db.parent / "rep" / "sweep_report.html").read_text()
    assert "kept for 6 of the 8" in html


def test_spa_not_available_when_the_base_is_not_among_the_trials(sweep):
    sweep.store.spec = SPEC.replace("exit_offset: 2}", "exit_offset: 7}")
    doc = R.write_report(sweep.db)
    assert doc["spa"] == {"available": False, "reason": "the spec's base combination is not among the finished trials, so there is no benchmark"}
    assert "spa_test" not in sweep.rec.calls
    assert any(l.startswith("SPA test not available: the spec's base combination is not among") for l in doc["headline"])
    assert doc["settings"]["spa_benchmark"].startswith("not available")


def test_short_names_and_fixed_parameters():
    assert R.short_names(["strategy.params.exit_offset", "placebo.n", "strategy.params.n", "costs.slippage_bps"]) == {
        "strategy.params.exit_offset": "exit_offset", "placebo.n": "placebo.n", "strategy.params.n": "params.n", "costs.slippage_bps": "slippage_bps"}
    res = _results().assign(**{"placebo.n": 200})
    assert R.fixed_params(res, [X, "placebo.n", Y]) == ([X, Y], {"placebo.n": 200})


def test_a_parameter_fixed_for_every_combination(sweep):
    """placebo.n: [200] differs from the base's default (1000) but is every combination's: the base is still found, and
    the fixed value is said once, not in every row."""
    sweep.store.results = sweep.results.assign(**{"placebo.n": 200})
    sweep.store.spec = SPEC.replace("params:\n", "params:\n  placebo.n: [200]\n")
    doc = R.write_report(sweep.db)
    assert doc["params"] == ["placebo.n", X, Y, Z] and doc["fixed_params"] == {"placebo.n": 200} and doc["varying_params"] == [X, Y, Z]
    assert doc["spa"]["benchmark_key"] == "k02" + "0" * 60 and doc["best"]["params"]["placebo.n"] == 200
    assert "with placebo.n=200 fixed for every combination" in doc["settings"]["spa_benchmark"]
    assert "n=200" not in doc["headline"][1] and doc["headline"][1].startswith("Best by sharpe (maximize): exit_offset=1, slippage_bps=5, entry_offset=")
    html = (sweep.db.parent / "night-report" / "sweep_report.html").read_text()
    assert "Fixed for every combination (swept over one value): placebo.n=200." in html and 'title="placebo.n"' not in html


def test_a_relative_base_is_read_beside_the_recorded_spec(sweep, tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "mybase.yaml").write_text("strategy: {kind: event_window, params: {exit_offset: 1}}\ncosts: {slippage_bps: 5.0}\n")
    spec = tmp_path / "specs" / "night.yaml"
    text = SPEC.replace(SPEC.splitlines()[1], "base: ../mybase.yaml")
    spec.write_text(text)
    sweep.store.spec = text
    sweep.store.status = lambda db: {"spec": str(spec), "running_now": True}
    doc = R.write_report(sweep.db)
    assert doc["spa"]["benchmark_key"] == "k01" + "0" * 60 and str(tmp_path / "specs" / ".." / "mybase.yaml") in doc["settings"]["spa_benchmark"]
    assert doc["running_when_built"] is True and doc["headline"][1].startswith("A sweep was still writing to this database")
    spec.write_text(text + "# edited since\n")  # no longer the spec the database used: its folder is not trusted
    doc = R.write_report(sweep.db)
    assert doc["spa"] == {"available": False, "reason": "no benchmark: the spec's base config '../mybase.yaml' could not be found from here"}


def test_a_database_with_nothing_finished_still_reports(sweep):
    sweep.store.results = sweep.results[sweep.results["status"] != "done"]
    sweep.store.returns = pd.DataFrame(index=SESSIONS)
    doc = R.write_report(sweep.db)
    assert (doc["n_trials"], doc["n_done"], doc["best"], doc["top"]) == (2, 0, None, [])
    assert doc["pbo"]["available"] is False and doc["headline"][1].startswith("No finished combination")
    assert sweep.rec.calls == {}
    html = (sweep.db.parent / "night-report" / "sweep_report.html").read_text()
    assert "No finished combination" in html and "<img" not in html


def test_user_text_is_escaped(sweep):
    R.write_report(sweep.db)
    html = (sweep.db.parent / "night-report" / "sweep_report.html").read_text()
    assert "<script" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;window.pwned=1" in html  # the parameter value, the error text and the spec, escaped
    assert "ValueError: bad &lt;script&gt;" in html and html.count("&lt;script&gt;") >= 3


def test_html_is_self_contained_with_stable_ids_and_small(sweep):
    R.write_report(sweep.db)
    out = sweep.db.parent / "night-report"
    html = (out / "sweep_report.html").read_text()
    assert html.count('<img src="data:image/png;base64,') == 7
    assert "<link" not in html and "@import" not in html and "url(" not in html and not re.search(r'(src|href)="https?:', html)
    for sid in ("summary", "best", "top", "heatmaps", "overfitting", "deflated-sharpe", "pbo", "spa", "walk-forward", "failures", "spec", "settings"):
        assert f'id="{sid}"' in html, sid
    assert len(html.encode()) < 2_000_000


def test_size_stays_under_two_megabytes_on_a_wide_sweep(sweep):
    """7 parameters of 6 values each: the heatmaps are capped, the page stays under 2 MB."""
    rng = np.random.default_rng(3)
    n = 600
    keys = [f"w{i:04d}" for i in range(n)]
    pcols = {f"p.a{j}": rng.integers(0, 6, n) for j in range(7)}
    res = pd.DataFrame({"key": keys, "ordinal": range(n), "status": "done", "error": None, "attempts": 1, "duration": 1.0, "worker": "w", "engine": "fast",
                        **pcols, "sharpe": rng.normal(0, 1, n), "total_return": rng.normal(0, 0.1, n)})
    sweep.store.results = res
    sweep.store.returns = pd.DataFrame(rng.normal(0, 0.01, (300, n)), index=SESSIONS, columns=keys)
    sweep.store.spec = "metric: sharpe\nparams:\n" + "".join(f"  p.a{j}: [0, 1, 2, 3, 4, 5]\n" for j in range(7))
    doc = R.write_report(sweep.db)
    html = (sweep.db.parent / "night-report" / "sweep_report.html")
    assert len(doc["heatmaps"]) == R.MAX_HEATMAPS and len(doc["heatmap_params_left_out"]) == 2
    assert html.stat().st_size < 2_000_000
    assert "only the parameters that move sharpe most" in html.read_text().lower()


def test_a_page_over_the_limit_gets_smaller_figures_then_fewer_heatmaps(sweep, monkeypatch):
    R.write_report(sweep.db, sweep.db.parent / "full")
    full = (sweep.db.parent / "full" / "sweep_report.html").stat().st_size
    monkeypatch.setattr(R, "HTML_LIMIT", int(full * 0.8))  # the lower resolutions are enough
    doc = R.write_report(sweep.db, sweep.db.parent / "smaller")
    assert doc["settings"]["figure_dpi"] < 90 and "heatmaps_left_out_for_size" not in doc["settings"]
    assert (sweep.db.parent / "smaller" / "sweep_report.html").stat().st_size <= full * 0.8
    monkeypatch.setattr(R, "HTML_LIMIT", int(full * 0.35))  # heatmaps have to go, from the last one on
    doc = R.write_report(sweep.db, sweep.db.parent / "fewer")
    html = (sweep.db.parent / "fewer" / "sweep_report.html").read_text()
    n = doc["settings"]["heatmaps_left_out_for_size"]
    assert doc["settings"]["figure_dpi"] == 45 and n >= 1 and len(html.encode()) <= full * 0.35
    assert f"{n} of the 3 heatmaps are left out of this page" in html and len(doc["heatmaps"]) == 3  # the JSON keeps every grid
    assert sorted(p.stem for p in (sweep.db.parent / "fewer" / "figures").glob("heatmap_*.png")) == [f"heatmap_{i:02d}" for i in range(1, 4 - n)]
    monkeypatch.setattr(R, "HTML_LIMIT", 1000)
    with pytest.raises(RuntimeError, match="over the 1,000-byte limit"):
        R.write_report(sweep.db, sweep.db.parent / "never")
    assert not (sweep.db.parent / "never").exists()


def test_no_half_written_report_on_failure(sweep, monkeypatch):
    out = sweep.db.parent / "night-report"
    R.write_report(sweep.db)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def boom(*a, **k):
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(R, "walk_forward_equity", boom)
    with pytest.raises(RuntimeError, match="drawing failed"):
        R.write_report(sweep.db)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before  # the previous report intact
    fresh = sweep.db.parent / "fresh" / "deeper"
    with pytest.raises(RuntimeError):
        R.write_report(sweep.db, fresh)
    assert not fresh.exists() and not (sweep.db.parent / "fresh").exists()

    def fail_late(*a, **k):  # a failure while the files are written, inside the atomic step
        raise OSError("disk full")

    monkeypatch.undo()
    monkeypatch.setattr(R, "_store", lambda: sweep.store)
    monkeypatch.setattr(R, "_overfit", lambda: sweep.rec)
    monkeypatch.setattr(R, "_manifest", fail_late)
    with pytest.raises(OSError, match="disk full"):
        R.write_report(sweep.db)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert not [p for p in sweep.db.parent.iterdir() if p.name.startswith(".")]  # no temporary left

    import errno

    from events.errors import InputError

    def full(*a, **k):  # the disk itself refuses: a clear input-style error naming what was being written, not "the run"
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(R, "_manifest", full)
    with pytest.raises(InputError, match=r"cannot be written: No space left on device \(while writing the sweep report\)"):
        R.write_report(sweep.db)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_a_users_folder_and_a_run_directory_are_refused(sweep, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not an aibt run directory"):
        R.write_report(sweep.db, mine)
    assert (mine / "notes.txt").read_text() == "keep me" and sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text('{"aibt_version": "0.1.0"}')
    with pytest.raises(InputError, match="not a sweep report"):
        R.write_report(sweep.db, run)
    empty = tmp_path / "empty"
    empty.mkdir()
    R.write_report(sweep.db, empty)
    R.write_report(sweep.db, empty)  # a previous report is replaced
    assert sorted(p.name for p in empty.iterdir()) == ["figures", "manifest.json", "sweep_report.html", "sweep_report.json"]
    with pytest.raises(InputError, match="sweep database not found"):
        R.write_report(tmp_path / "nope.sqlite", tmp_path / "x")


# ------------------------------------------------------------- a real database, through the CLI
def test_report_of_a_real_sweep_through_the_cli(tmp_path, capsys):
    """A 2 x 2 sweep run by ``aibt sweep`` into a real SQLite store, reported by ``aibt sweep report``: the best is
    the stored row with the highest Sharpe, the statistics use all four, the base (exit 2, slippage 2) is the SPA benchmark."""
    from backtests.cli import main
    from backtests.sweeps import store

    spec = tmp_path / "tiny.yaml"
    spec.write_text("base: {dates: {start: '2024-01-01'}, placebo: {n: 1}}\n"
                    "params:\n  strategy.params.exit_offset: [1, 2]\n  costs.slippage_bps: [2.0, 5.0]\nsearch: grid\nmetric: sharpe\n")
    db = tmp_path / "tiny.sqlite"
    assert main(["sweep", str(spec), "--db", str(db), "--workers", "1"]) == 0
    assert main(["sweep", "report", str(db)]) == 0
    out = tmp_path / "tiny-report"
    doc = json.loads((out / "sweep_report.json").read_text())
    res = store.load_results(db)
    top = res.sort_values("sharpe", ascending=False).iloc[0]
    assert (doc["n_trials"], doc["n_done"], doc["n_failed"], doc["n_pending"]) == (4, 4, 0, 0)
    assert doc["best"]["key"] == top["key"] and doc["best"]["metrics"]["sharpe"] == pytest.approx(top["sharpe"])
    assert doc["best"]["params"] == {"strategy.params.exit_offset": top["strategy.params.exit_offset"], "costs.slippage_bps": top["costs.slippage_bps"]}
    assert doc["overfit_sample"]["n_used"] == 4 and doc["overfit_sample"]["start"] == "2024-01-02" and not doc["overfit_sample"]["subset"]
    base = res[(res["strategy.params.exit_offset"] == 2) & (res["costs.slippage_bps"] == 2.0)].iloc[0]
    assert doc["spa"]["benchmark_key"] == base["key"] and 0 <= doc["spa"]["p_consistent"] <= 1
    assert 0 <= doc["pbo"]["pbo"] <= 1 and 0 <= doc["deflated_sharpe"]["dsr"] <= 1 and doc["walk_forward"]["n_steps"] >= 2
    html = (out / "sweep_report.html").read_text()
    assert html.count('<img src="data:image/png;base64,') == 5 and "4 combinations tried: 4 finished, 0 failed." in html
    capsys.readouterr()
    assert main(["sweep", "report", str(tmp_path / "nope.sqlite")]) == 2
    assert "sweep database not found" in capsys.readouterr().err
    spec.rename(tmp_path / "not-a-db.sqlite")
    assert main(["sweep", "report", str(tmp_path / "not-a-db.sqlite")]) == 2
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    assert main(["sweep", "report", str(db), "--out", str(tmp_path / "mine")]) == 2
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]


# ------------------------------------------------------------- a real browser
def test_browser_renders_every_figure_and_runs_no_user_script(sweep, tmp_path):
    chromium = browser_or_skip()
    R.write_report(sweep.db)
    html = sweep.db.parent / "night-report" / "sweep_report.html"
    page = tmp_path / "check.html"
    page.write_text(html.read_text().replace("</body>", CHECKER + "</body>"))
    prof = tmp_path / "profile"
    dom = subprocess.run([chromium, *FLAGS, f"--user-data-dir={prof}", "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    m = re.search(r"images=(\d+) rendered=(\d+) pwned=(\w+) title=([^<]*)", dom)
    assert m, dom[-2000:]
    assert m.group(1) == "7" and m.group(2) == "7" and m.group(3) == "no" and "pwned" not in m.group(4)
    shot = tmp_path / "shot.png"
    subprocess.run([chromium, *FLAGS, f"--user-data-dir={prof}", "--window-size=1280,3000", f"--screenshot={shot}", html.as_uri()],
                   capture_output=True, timeout=120)
    from PIL import Image

    im = np.asarray(Image.open(shot).convert("L"))
    assert im.shape == (3000, 1280) and im.std() > 20  # a page with content, not a blank


def test_report_of_a_spec_with_an_inline_base_and_yaml_dates_ranked_by_another_metric(tmp_path):
    """An inline base with unquoted YAML dates is written to the JSON as ISO text (it crashed), and the deflated
    Sharpe is about the highest-Sharpe combination even when the spec ranks by another metric."""
    import json as _json

    from backtests.cli import main
    from backtests.sweeps.store import load_results

    spec = tmp_path / "inline.yaml"
    spec.write_text(
        "name: inline\n"
        "base: {dates: {start: 2024-01-02, end: 2024-12-31}, events: {earnings: false}, placebo: {n: 20}}\n"
        "params: {strategy.params.exit_offset: [1, 2, 3], costs.slippage_bps: [1.0, 2.0]}\n"
        "search: grid\nmetric: total_return\ndirection: minimize\n")
    db = tmp_path / "s.db"
    assert main(["sweep", str(spec), "--db", str(db), "--workers", "1"]) == 0
    out = tmp_path / "rep"
    assert main(["sweep", "report", str(db), "--out", str(out)]) == 0
    doc = _json.loads((out / "sweep_report.json").read_text())
    assert "2024-01-02" in _json.dumps(doc["settings"])
    res = load_results(db)
    top_sharpe = res.loc[res["sharpe"].idxmax(), "key"]
    assert doc["deflated_sharpe"]["key"] == top_sharpe
    if top_sharpe != doc["best"]["key"]:
        assert "highest Sharpe ratio" in " ".join(doc["headline"])


def test_spa_benchmark_is_the_stored_base_config_when_a_combination_equals_it(tmp_path):
    import json as _json
    import sqlite3

    from backtests.cli import main

    spec = tmp_path / "b.yaml"
    spec.write_text(
        "name: b\nbase: {dates: {start: '2024-01-02', end: '2024-12-31'}, events: {earnings: false}, placebo: {n: 20}}\n"
        "params: {strategy.params.exit_offset: [1, 2, 3]}\nsearch: grid\nmetric: sharpe\n")
    db = tmp_path / "s.db"
    assert main(["sweep", str(spec), "--db", str(db), "--workers", "1"]) == 0
    con = sqlite3.connect(db)
    base = con.execute("SELECT value FROM meta WHERE name = 'base_config'").fetchone()[0]
    key = con.execute("SELECT key FROM combinations WHERE config = ?", (base,)).fetchone()[0]
    con.close()
    assert _json.loads(base)["strategy"]["params"]["exit_offset"] == 2  # the default config's exit day
    assert main(["sweep", "report", str(db), "--out", str(tmp_path / "r")]) == 0
    doc = _json.loads((tmp_path / "r" / "sweep_report.json").read_text())
    assert doc["spa"]["benchmark_key"] == key and "base config itself" in doc["settings"]["spa_benchmark"]
