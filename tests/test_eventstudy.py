"""Event-study statistics: hand-worked cases, the formulas of the source papers,
a size/power simulation, and the outputs of a study on the bundled data."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from backtests import eventtests as et
from backtests.cli import main
from backtests.eventstudy import EventStudy, StudySettings
from backtests.performance import alpha_beta_hac, newey_west_lags
from events.calendar import sessions_between


# ------------------------------------------------------------- hand-worked statistics
def test_cross_sectional_t_by_hand():
    # CARs 1%, 3%, 2%: mean 2%, sd 1%, t = 0.02 / (0.01 / sqrt 3) = 2 sqrt 3
    t, p = et.cross_sectional_t([0.01, 0.03, 0.02])
    assert t == pytest.approx(2 * math.sqrt(3))
    assert p == pytest.approx(2 * stats.t.sf(2 * math.sqrt(3), 2))


def test_patell_by_hand():
    # sum SCAR = 3.5; each (T-2)/(T-4) = 98/96, three of them: 3.0625 = 1.75^2 -> Z = 2
    z, p = et.patell_z([1.0, 2.0, 0.5], [100, 100, 100])
    assert z == pytest.approx(2.0) and p == pytest.approx(2 * stats.norm.sf(2.0))


def test_bmp_and_kolari_pynnonen_by_hand():
    # SCAR 1, 2, 0.5: mean 7/6, variance 7/12, t = (7/6) / sqrt(7/36) = sqrt 7
    t, _ = et.bmp_t([1.0, 2.0, 0.5])
    assert t == pytest.approx(math.sqrt(7))
    # r = 0.25, N = 3: factor sqrt(0.75 / 1.5) = sqrt(1/2) -> sqrt(3.5)
    tk, pk = et.kolari_pynnonen_t([1.0, 2.0, 0.5], 0.25)
    assert tk == pytest.approx(math.sqrt(3.5)) and pk == pytest.approx(2 * stats.t.sf(math.sqrt(3.5), 2))
    assert et.kolari_pynnonen_t([1.0, 2.0, 0.5], 0.0)[0] == pytest.approx(math.sqrt(7))


def test_window_overlap_correlation_by_hand():
    # windows of two sessions; the first two share one session (corr 1/2), the third shares none
    assert et.window_overlap_correlation([(0, 1), (1, 2), (10, 11)]) == pytest.approx((0.5 + 0 + 0) / 3)
    assert et.window_overlap_correlation([(5, 5), (5, 5)]) == pytest.approx(1.0)  # same reaction session


def test_sign_test_by_hand():
    # 3 of 4 CARs positive, p = 0.5: z = (3 - 2) / sqrt(4 * 0.25) = 1
    z, p = et.generalized_sign_z([0.01, -0.02, 0.03, 0.04], 0.5)
    assert z == pytest.approx(1.0) and p == pytest.approx(2 * stats.norm.sf(1.0))
    # with p = 0.6 (more positive days than half in the estimation window): (3 - 2.4) / sqrt(0.96)
    assert et.generalized_sign_z([0.01, -0.02, 0.03, 0.04], 0.6)[0] == pytest.approx(0.6 / math.sqrt(0.96))


def test_rank_by_hand():
    u = et.rank_u(np.array([3.0, 1.0, np.nan, 2.0]))
    # ranks 3, 1, 2 among M = 3 -> K / (1 + M) - 0.5
    np.testing.assert_allclose(u[[0, 1, 3]], [0.25, -0.25, 0.0])
    assert np.isnan(u[2])
    # two events, four days; test window = last day
    U = np.array([[-0.1, 0.1, -0.2, 0.3], [0.1, -0.1, 0.0, 0.3]])
    ubar = U.mean(axis=0)  # [0, 0, -0.1, 0.3]
    s = math.sqrt(np.mean(ubar ** 2))  # sqrt((0.01 + 0.09) / 4) = sqrt(0.025)
    z, _ = et.corrado_rank_z(U, np.array([False, False, False, True]))
    assert z == pytest.approx(0.3 / s) and s == pytest.approx(math.sqrt(0.025))


# ------------------------------------------------------------- models on constructed data
SESS = sessions_between("2012-01-03", "2019-12-31")


def _frame(y, m, b):
    return pd.DataFrame({"AAA": y, "MKT": m, "B1": b}, index=SESS)


def _events(pos, sched=False, cat="x"):
    return pd.DataFrame({"event_id": [f"e{i}" for i in range(len(pos))], "day0": SESS[pos], "category": cat, "scheduled": sched})


def test_market_model_recovers_injected_abnormal_returns_exactly():
    rng = np.random.default_rng(1)
    m = rng.normal(0, 0.01, len(SESS))
    b = rng.normal(0, 0.01, len(SESS))
    y = 0.0005 + 1.3 * m  # an exact market model: estimation residuals are zero...
    y = y + rng.normal(0, 1e-6, len(SESS))  # ...up to a whisker so s > 0
    pos = np.array([400, 800, 1200])
    y[pos] += 0.05
    y[pos + 1] -= 0.02
    st = StudySettings(windows=("0:0", "0:1"), bhar_windows=(), models=("market_model", "market_adjusted", "peer_adjusted"), market="MKT")
    res = EventStudy(_frame(y, m, b), _events(pos), "AAA", ["B1"], st).fit()
    car = res.car.set_index(["event_id", "model", "window"])["car"]
    for e in ("e0", "e1", "e2"):
        assert car[(e, "market_model", "0:0")] == pytest.approx(0.05, abs=1e-5)
        assert car[(e, "market_model", "0:1")] == pytest.approx(0.03, abs=1e-5)
    ar = res.ar[(res.ar["model"] == "market_adjusted") & (res.ar["day"] == 0)].set_index("event_id")["ar"]
    assert ar["e0"] == pytest.approx(y[400] - m[400])
    ar = res.ar[(res.ar["model"] == "peer_adjusted") & (res.ar["day"] == 0)].set_index("event_id")["ar"]
    assert ar["e1"] == pytest.approx(y[800] - b[800])


def test_market_model_matches_statsmodels_and_patell_variance():
    rng = np.random.default_rng(2)
    m = rng.normal(0, 0.01, len(SESS))
    y = 0.0003 + 0.9 * m + rng.normal(0, 0.012, len(SESS))
    b = rng.normal(0, 0.01, len(SESS))
    pos = np.array([700])
    st = StudySettings(windows=("0:2",), bhar_windows=(), models=("market_model",), market="MKT", estimation=250, gap=10)
    res = EventStudy(_frame(y, m, b), _events(pos), "AAA", ["B1"], st).fit()
    est = np.arange(700 - 10 - 250, 700 - 10)
    ols = sm.OLS(y[est], sm.add_constant(m[est])).fit()
    a, beta = ols.params
    w = np.arange(700, 703)
    car = (y[w] - a - beta * m[w]).sum()
    L, T = 3, 250
    xbar, ssx = m[est].mean(), ((m[est] - m[est].mean()) ** 2).sum()
    var = ols.mse_resid * (L + L * L / T + (m[w].sum() - L * xbar) ** 2 / ssx)
    row = res.car.iloc[0]
    assert row["car"] == pytest.approx(car) and row["scar"] == pytest.approx(car / math.sqrt(var))


def test_other_events_windows_are_excluded_from_estimation():
    rng = np.random.default_rng(3)
    m = rng.normal(0, 0.01, len(SESS))
    y = m + rng.normal(0, 0.01, len(SESS))
    pos = np.array([600, 560])  # the second event's window sits inside the first's estimation window
    st = StudySettings(windows=("0:1",), bhar_windows=(), models=("market_adjusted",), market="MKT", estimation=100, gap=10, min_estimation=50)
    res = EventStudy(_frame(y, m, m), _events(pos), "AAA", ["B1"], st).fit()
    t_est = res.car.set_index("event_id")["t_est"]
    assert t_est["e0"] == 100 - 2  # sessions 560 and 561 dropped
    assert t_est["e1"] == 100


# ------------------------------------------------------------- size and power
def _simulate(rng, effect, n_events=30):
    n = len(SESS)
    m = rng.normal(0.0004, 0.01, n)
    y = 0.0002 + 1.2 * m + rng.normal(0, 0.015, n)
    pos = np.sort(rng.choice(np.arange(300, n - 30, 40), n_events, replace=False))
    y[pos] += effect
    return _frame(y, m, 0.5 * m + rng.normal(0, 0.01, n)), _events(pos)


SIM_SETTINGS = StudySettings(windows=("0:0",), bhar_windows=(), models=("market_model",), market="MKT", estimation=200, gap=10, min_estimation=100)
TESTS = ["p_cs", "p_patell", "p_bmp", "p_kp", "p_rank", "p_sign"]


def _rejections(effect, draws, seed):
    rng = np.random.default_rng(seed)
    hits = np.zeros(len(TESTS))
    for _ in range(draws):
        r, ev = _simulate(rng, effect)
        t = EventStudy(r, ev, "AAA", ["B1"], SIM_SETTINGS).fit().table
        row = t[t["group"] == "all"].iloc[0]
        hits += np.array([row[k] < 0.05 for k in TESTS])
    return dict(zip(TESTS, hits / draws))


def test_tests_reject_at_nominal_rate_without_an_event_effect():
    rates = _rejections(0.0, draws=200, seed=11)
    for k, v in rates.items():
        # 5% nominal; with 200 draws the standard error is 1.5 points
        assert 0.01 <= v <= 0.10, (k, v)


def test_tests_reject_far_more_often_with_an_injected_effect():
    rates = _rejections(0.015, draws=60, seed=12)  # one residual standard deviation on day 0
    for k, v in rates.items():
        assert v >= 0.6, (k, v)


# ------------------------------------------------------------- performance regressions
def test_alpha_beta_hac_matches_statsmodels():
    rng = np.random.default_rng(5)
    f = rng.normal(0, 0.01, 500)
    r = 0.0004 + 0.7 * f + rng.normal(0, 0.005, 500)
    out = alpha_beta_hac(r, f)
    ref = sm.OLS(r, sm.add_constant(f)).fit(cov_type="HAC", cov_kwds={"maxlags": newey_west_lags(500), "use_correction": True})
    assert out["beta"] == pytest.approx(ref.params[1]) and out["alpha_tstat_hac"] == pytest.approx(ref.tvalues[0])
    assert out["alpha_ann"] == pytest.approx((1 + ref.params[0]) ** 252 - 1)
    assert newey_west_lags(500) == 5  # floor(4 * 5 ** (2/9)) = floor(5.71)


# ------------------------------------------------------------- on the bundled data
def test_study_outputs_on_bundled_data(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["study", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "[peer_adjusted]" in text and "clustered reaction sessions: 'merge'" in text
    study = pd.read_csv(out / "study.csv")
    for c in ["model", "group", "window", "n", "caar", "t_cs", "p_cs", "t_patell", "p_patell", "t_bmp", "p_bmp", "t_kp", "p_kp", "z_rank", "p_rank", "z_sign", "p_sign"]:
        assert c in study.columns
    assert set(study["model"]) == {"market_adjusted", "market_model", "peer_adjusted"}
    assert {"all", "scheduled", "unscheduled", "capex_guidance", "custom_silicon"} <= set(study["group"])
    head = study[(study["model"] == "peer_adjusted") & (study["group"] == "all") & (study["window"] == "0:1")].iloc[0]
    ar = pd.read_csv(out / "abnormal_returns.csv")
    assert list(ar.columns) == ["event_id", "model", "day", "ar"]
    # CAAR recomputed from abnormal_returns.csv
    pa = ar[(ar["model"] == "peer_adjusted") & ar["day"].between(0, 1)].groupby("event_id")["ar"].sum()
    assert head["n"] == 45 and head["caar"] == pytest.approx(pa.mean())
    # the cross-sectional t recomputed from the same CARs
    assert head["t_cs"] == pytest.approx(pa.mean() / (pa.std(ddof=1) / math.sqrt(len(pa))))
    doc = json.loads((out / "study.json").read_text())
    assert doc["clusters_rule"] == "merge" and doc["n_events"] == 45
    regs = doc["signal_regressions"]["regressions"]
    eff = [r for r in regs if r["x"] == ["capex_efficiency_chg"] and r["window"] == "0:1"][0]
    assert eff["n"] == 18 and "terms" in eff  # AMZN releases with a defined efficiency change


def test_run_writes_study_unless_disabled(tmp_path):
    assert main(["run", "--out", str(tmp_path / "a")]) == 0
    for f in ("study.json", "study.csv", "abnormal_returns.csv"):
        assert (tmp_path / "a" / f).exists()
    doc = json.loads((tmp_path / "a" / "study.json").read_text())
    assert set(doc["performance"]) >= {"vs_peer_basket", "vs_market"}
    summ = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert doc["performance"]["vs_peer_basket"]["alpha_tstat_hac"] == pytest.approx(summ["alpha_tstat_hac"])
    cfg = tmp_path / "nostudy.yaml"
    cfg.write_text("study: {enabled: false}\n")
    assert main(["run", "--config", str(cfg), "--out", str(tmp_path / "b")]) == 0
    assert not (tmp_path / "b" / "study.json").exists()


def test_unknown_time_events_stay_out_of_windows_without_day_plus_one():
    rng = np.random.default_rng(4)
    m = rng.normal(0, 0.01, len(SESS))
    y = m + rng.normal(0, 0.01, len(SESS))
    ev = _events(np.array([500, 900]))
    ev["time"] = ["unknown", "bmo"]
    st = StudySettings(windows=("0:0", "0:1"), bhar_windows=(), models=("market_adjusted",), market="MKT")
    res = EventStudy(_frame(y, m, m), ev, "AAA", ["B1"], st).fit()
    t = res.table[res.table["group"] == "all"].set_index("window")
    assert t.loc["0:0", "n"] == 1 and t.loc["0:1", "n"] == 2
    assert res.excluded_unknown_time == {"0:0": ["e0"], "0:1": []}
    assert "window 0:0: 1 unknown-time events left out" in res.summary()
    assert res.to_dict()["excluded_unknown_time"] == {"0:0": ["e0"]}
