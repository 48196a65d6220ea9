"""Event-study statistics: hand-worked cases, the formulas of the source papers,
a size/power simulation, and the outputs of a study on the bundled data."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import yaml
from scipy import stats

from backtests.stats import eventtests as et
from backtests.cli import main
from backtests.stats.eventstudy import EventStudy, StudySettings
from backtests.stats.performance import alpha_beta_hac, newey_west_lags
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


def test_abnormal_returns_start_at_path_start_without_changing_any_test():
    """path_start widens abnormal_returns.csv (CAAR paths from day -10, pre-event drift visible) and nothing else:
    the table of tests is identical, and the extra days' ARs are the plain differences (market-adjusted: y - m)."""
    rng = np.random.default_rng(7)
    m, b = rng.normal(0, 0.01, len(SESS)), rng.normal(0, 0.01, len(SESS))
    y = 0.8 * m + rng.normal(0, 0.01, len(SESS))
    pos = np.array([400, 800, 1200])
    kw = dict(windows=("-5:-1", "0:1"), bhar_windows=(), models=("market_model", "market_adjusted", "peer_adjusted"), market="MKT")
    short = EventStudy(_frame(y, m, b), _events(pos), "AAA", ["B1"], StudySettings(path_start=-5, **kw)).fit()
    long = EventStudy(_frame(y, m, b), _events(pos), "AAA", ["B1"], StudySettings(path_start=-10, **kw)).fit()
    assert short.ar["day"].min() == -5 and long.ar["day"].min() == -10
    pd.testing.assert_frame_equal(short.table, long.table)
    ma = long.ar[(long.ar["model"] == "market_adjusted") & (long.ar["event_id"] == "e1")].set_index("day")["ar"]
    assert ma[-10] == pytest.approx(y[790] - m[790]) and ma[-6] == pytest.approx(y[794] - m[794])


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
    assert t_est["e0"] == 100 and t_est["e1"] == 100  # the latest 100 clean sessions
    est0 = res.fits[0].est
    assert not {560, 561} & set(est0) and est0[0] == 600 - 10 - 100 - 2 and est0[-1] == 589  # reaching back 2 sessions further


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
    assert list(ar.columns) == ["event_id", "model", "day", "ar", "needs_day1", "category", "scheduled"]
    # CAAR recomputed from abnormal_returns.csv (0:1 reaches day +1: unknown-time events count)
    pa = ar[(ar["model"] == "peer_adjusted") & ar["day"].between(0, 1)].groupby("event_id")["ar"].sum()
    assert head["n"] == 45 and head["caar"] == pytest.approx(pa.mean())
    # the cross-sectional t recomputed from the same CARs
    assert head["t_cs"] == pytest.approx(pa.mean() / (pa.std(ddof=1) / math.sqrt(len(pa))))
    doc = json.loads((out / "study.json").read_text())
    assert doc["clusters_rule"] == "merge" and doc["n_events"] == 45
    regs = doc["signal_regressions"]["regressions"]
    eff = [r for r in regs if r["x"] == ["capex_efficiency_chg"] and r["window"] == "0:1"][0]
    # AMZN releases with a defined efficiency change (how many depends on the signals' point-in-time data)
    data = doc["signal_regressions"]["data"]["0:1"]
    assert eff["n"] == sum(d["car"] is not None and d["capex_efficiency_chg"] is not None for d in data)


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


# ============================================================= issue 9: statistics that measure what is traded
from statsmodels.stats.multitest import multipletests  # noqa: E402

from backtests.reports import tearframes as T  # noqa: E402

P_TESTS = ["p_cs", "p_patell", "p_bmp", "p_kp", "p_rank", "p_sign", "p_skew"]
CAR_TESTS = ["t_cs", "p_cs", "t_patell", "p_patell", "t_bmp", "p_bmp", "t_kp", "p_kp", "z_rank", "p_rank", "z_sign", "p_sign"]


def test_bh_qvalues_by_hand():
    # sorted p 0.01, 0.03, 0.04, 0.20 (m = 4): p * m / rank = 0.04, 0.06, 0.0533, 0.20; then the running
    # minimum from the top: 0.04, 0.0533, 0.0533, 0.20. NaN stays NaN and is not counted.
    q = et.bh_qvalues([0.01, 0.04, 0.03, 0.20, np.nan])
    np.testing.assert_allclose(q[:4], [0.04, 0.16 / 3, 0.16 / 3, 0.20])
    assert np.isnan(q[4])
    np.testing.assert_allclose(q[:4], multipletests([0.01, 0.04, 0.03, 0.20], method="fdr_bh")[1])


def test_skewness_adjusted_t_by_hand():
    # x = 0, 0, 0, 0, 5: mean 1, sd (n-1) sqrt 5, S = 1/sqrt 5; gamma = (4 (-1)^3 + 4^3) / (5 sd^3) = 2.4/sqrt 5;
    # t_sa = sqrt 5 (S + gamma S^2 / 3 + gamma / (6 * 5)) = 1 + 0.16 + 0.08 = 1.24
    t, p = et.skewness_adjusted_t([0.0, 0.0, 0.0, 0.0, 5.0])
    assert t == pytest.approx(1.24) and p == pytest.approx(2 * stats.t.sf(1.24, 4))
    # a symmetric sample: gamma = 0, so t_sa is the ordinary t
    x = [-1.0, 0.0, 1.0, 2.0, 3.0]
    assert et.skewness_adjusted_t(x)[0] == pytest.approx(et.cross_sectional_t(x)[0])
    assert np.isnan(et.skewness_adjusted_t([1.0, 2.0])[0])


def test_bootstrap_skewness_adjusted_t_by_a_plain_loop():
    x = np.array([0.02, -0.01, 0.15, 0.00, -0.03, 0.04, 0.01, -0.02])
    t, p = et.bootstrap_skewness_adjusted_t(x, draws=499, seed=7)
    assert t == pytest.approx(et.skewness_adjusted_t(x)[0])
    # Hall (1992) / Lyon-Barber-Tsai (1999): resample n with replacement, the statistic of each resample
    # centred on the sample mean, equal-tailed two-sided p
    rng = np.random.default_rng(7)
    idx = rng.integers(0, len(x), size=(499, len(x)))
    stars = []
    for row in idx:
        b = x[row]
        sd = b.std(ddof=1)
        s = (b.mean() - x.mean()) / sd
        g = ((b - b.mean()) ** 3).sum() / (len(b) * sd ** 3)
        stars.append(math.sqrt(len(b)) * (s + g * s * s / 3 + g / (6 * len(b))))
    stars = np.array(stars)
    lo, hi = (1 + (stars <= t).sum()) / 500, (1 + (stars >= t).sum()) / 500
    assert p == pytest.approx(min(1.0, 2 * min(lo, hi)))
    assert et.bootstrap_skewness_adjusted_t(x, draws=499, seed=7) == (t, p)  # seeded: the same twice


def test_bootstrap_skewness_adjusted_t_size_under_a_skewed_null():
    rng = np.random.default_rng(31)
    rej = 0
    for _ in range(200):
        x = rng.lognormal(0, 1, 40) - math.exp(0.5)  # mean zero, strongly right-skewed, like long-horizon BHARs
        rej += et.bootstrap_skewness_adjusted_t(x, draws=499, seed=1)[1] < 0.05
    assert 0.01 <= rej / 200 <= 0.10


def _four_frame(seed):
    rng = np.random.default_rng(seed)
    n = len(SESS)
    return pd.DataFrame({c: rng.normal(0, 0.01, n) for c in ("AAA", "MKT", "B1", "B2")}, index=SESS)


def test_peer_adjusted_uses_the_trades_hedge_basket():
    r = _four_frame(21)
    ev = _events(np.array([400, 800, 1200]))
    ev["company"] = ["B1", "OTHER", "B1+B2"]
    st = StudySettings(windows=("0:1",), bhar_windows=(), models=("peer_adjusted", "market_adjusted"), market="MKT", estimation=100, gap=10,
                       min_estimation=50)
    res = EventStudy(r, ev, "AAA", ["B1", "B2"], st).fit()
    # strategies.hedge.hedge_basket: the announcing company leaves the basket; nobody left -> the full basket
    assert res.baskets == {"e0": ["B2"], "e1": ["B1", "B2"], "e2": ["B1", "B2"]}
    y = r["AAA"].to_numpy()
    basket = {"e0": r["B2"].to_numpy(), "e1": r[["B1", "B2"]].mean(axis=1).to_numpy(), "e2": r[["B1", "B2"]].mean(axis=1).to_numpy()}
    car = res.car[res.car["model"] == "peer_adjusted"].set_index("event_id")
    for e, p in zip(["e0", "e1", "e2"], [400, 800, 1200]):
        b = basket[e]
        assert car.loc[e, "car"] == pytest.approx((y[p:p + 2] - b[p:p + 2]).sum())
        est = np.arange(p - 110, p - 10)  # no other event nearby
        s = np.std(y[est] - b[est], ddof=1)
        assert car.loc[e, "scar"] == pytest.approx(car.loc[e, "car"] / (s * math.sqrt(2)))
    # the market models do not depend on the basket
    mk = res.car[res.car["model"] == "market_adjusted"].set_index("event_id")
    assert mk.loc["e0", "car"] == pytest.approx((y[400:402] - r["MKT"].to_numpy()[400:402]).sum())


def test_estimation_leaves_out_the_sessions_it_is_told_to():
    rng = np.random.default_rng(3)
    m = rng.normal(0, 0.01, len(SESS))
    y = m + rng.normal(0, 0.01, len(SESS))
    st = StudySettings(windows=("0:1",), bhar_windows=(), models=("market_adjusted",), market="MKT", estimation=100, gap=10, min_estimation=50)
    res = EventStudy(_frame(y, m, m), _events(np.array([600])), "AAA", ["B1"], st, exclude_sessions=SESS[[550, 551, 552, 300, 700]]).fit()
    est = res.fits[0].est
    assert len(est) == 100 and not set(est) & {550, 551, 552} and list(est) == [p for p in range(487, 590) if p not in (550, 551, 552)]
    # at most `lookback` sessions back: too few clean ones -> skipped
    st2 = StudySettings(windows=("0:1",), bhar_windows=(), models=("market_adjusted",), market="MKT", estimation=100, gap=10, min_estimation=100,
                        lookback=101)
    res2 = EventStudy(_frame(y, m, m), _events(np.array([600])), "AAA", ["B1"], st2, exclude_sessions=SESS[[550, 551, 552]]).fit()
    assert res2.skipped == {"e0": "only 98 clean estimation sessions (need 100)"}


def test_calendar_exclusions_by_hand():
    from backtests.stats.study import calendar_exclusions

    cal = pd.DataFrame({
        "event_id": ["earn_amzn", "earn_msft", "nvda_only", "openai_amzn", "late"],
        "company": ["AMZN", "MSFT", "NVDA", "OPENAI", "AMZN"],
        "tickers": [("AMZN",), ("MSFT",), ("NVDA",), ("AMZN", "MSFT"), ("AMZN",)],
        "day0": [SESS[100], SESS[200], SESS[300], SESS[400], pd.Timestamp("2031-01-02")],
    })
    out = calendar_exclusions(cal, "AMZN", ["MSFT", "GOOGL"], SESS, -1, 2)
    want = SESS[[99, 100, 101, 102, 199, 200, 201, 202, 399, 400, 401, 402]]
    assert list(out) == list(want)


def test_rank_test_ranks_estimation_plus_the_window_under_test_only():
    # market-adjusted ARs = y (market 0): estimation (4 sessions) 1%, 2%, 3%, 4%; day 0 5%, day 1 2.5%, day 2 -10%.
    # For window 0:0 the ranks are taken among the 4 estimation ARs and day 0 only: U = -1/3, -1/6, 0, 1/6 and 1/3;
    # both events alike, S = sqrt(mean U^2) = sqrt(1/18), z = (1/3) / sqrt(1/18) = sqrt 2. (Ranking over days 0..2 as
    # well would give est U -1/4, -1/8, 1/8, 1/4, day 0 3/8 and z = 0.375 / sqrt(0.059375) = 1.539.)
    y = np.zeros(len(SESS))
    for p in (100, 200):
        y[p - 4:p + 3] = [0.01, 0.02, 0.03, 0.04, 0.05, 0.025, -0.10]
    m = np.zeros(len(SESS))
    st = StudySettings(windows=("0:0",), bhar_windows=("0:2",), models=("market_adjusted",), market="MKT", estimation=4, gap=0, min_estimation=4)
    res = EventStudy(_frame(y, m, m), _events(np.array([100, 200])), "AAA", ["B1"], st).fit()
    t = res.table
    row = t[(t["group"] == "all") & (t["window"] == "0:0")].iloc[0]
    assert row["n"] == 2 and row["z_rank"] == pytest.approx(math.sqrt(2))


def test_table_q_values_bhar_tests_and_summary():
    rng = np.random.default_rng(41)
    r, ev = _simulate(rng, 0.01, n_events=30)
    ev["category"] = ["a", "b"] * 15
    st = StudySettings(windows=("0:0", "0:1", "-5:-1"), bhar_windows=("0:20",), models=("market_model", "market_adjusted"), market="MKT",
                       estimation=200, gap=10, min_estimation=100)
    res = EventStudy(r, ev, "AAA", ["B1"], st).fit()
    t = res.table
    for c in ["q_cs", "q_patell", "q_bmp", "q_kp", "q_rank", "q_sign", "t_skew", "p_skew", "q_skew"]:
        assert c in t.columns
    bhar = t["window"] == "0:20"
    assert t.loc[bhar, CAR_TESTS + ["q_cs", "q_patell", "q_bmp", "q_kp", "q_rank", "q_sign"]].isna().all().all()
    big = bhar & (t["n"] >= et.BHAR_MIN_EVENTS)
    assert big.sum() >= 2 and t.loc[big, "t_skew"].notna().all() and t.loc[big, "p_skew"].notna().all()
    assert t.loc[bhar & ~big, ["t_skew", "p_skew", "q_skew"]].isna().all().all()  # small groups get no test and no q
    assert t.loc[~bhar, ["t_skew", "p_skew", "q_skew"]].isna().all().all()
    # one Benjamini-Hochberg family: every finite p-value of the table, all models, rows and tests together
    p = t[P_TESTS].to_numpy().ravel()
    ok = np.isfinite(p)
    q = np.full(p.shape, np.nan)
    q[ok] = multipletests(p[ok], method="fdr_bh")[1]
    np.testing.assert_allclose(t[[c.replace("p_", "q_") for c in P_TESTS]].to_numpy().ravel(), q)
    mt = res.multiple_testing
    assert mt["method"] == "fdr_bh" and mt["n_tests"] == ok.sum() and mt["n_q_below_0.05"] == int((q[ok] < 0.05).sum())
    assert res.to_dict()["multiple_testing"] == mt
    s = res.summary()
    assert "stars by Benjamini-Hochberg q" in s and f"{ok.sum()} tests" in s
    # the BHAR row of the summary shows the skewness-adjusted t, and a -5:-1 (pre-event drift) row exists
    assert "-5:-1" in s and "skew" in s
    # fits 100 columns; --wide puts [p, q] beside each statistic, the numbers of the table
    assert max(map(len, s.splitlines())) <= 100 and "[0." not in s
    w = res.summary(wide=True)
    r = t[(t["model"] == "market_model") & (t["group"] == "all")].iloc[0]
    assert f"[{r['p_cs']:.3f},{r['q_cs']:.3f}]" in w and max(map(len, w.splitlines())) > 100


# ------------------------------------------------------------- issue 9 on the bundled data
@pytest.fixture(scope="module")
def bundled_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study9") / "s"
    cfg = out.parent / "cfg.yaml"
    from backtests.config import bundled_config

    doc = yaml.safe_load(bundled_config("default").read_text())  # the default selection, plus a pre-event drift window
    doc["study"] = {"windows": ["-5:-1", "0:0", "0:1", "-1:1", "0:2", "0:5"]}
    cfg.write_text(yaml.safe_dump(doc))
    assert main(["study", "--config", str(cfg), "--out", str(out)]) == 0
    return out


def _groups_of(ar):
    ev = ar.drop_duplicates("event_id").set_index("event_id")
    g = {"all": list(ev.index), "scheduled": list(ev.index[ev["scheduled"].astype(bool)]), "unscheduled": list(ev.index[~ev["scheduled"].astype(bool)])}
    for e, cs in ev["category"].items():
        for c in str(cs).split("+"):
            g.setdefault(c, []).append(e)
    return g


def test_abnormal_returns_csv_reproduces_every_caar_of_study_csv(bundled_study):
    study = pd.read_csv(bundled_study / "study.csv")
    ar = pd.read_csv(bundled_study / "abnormal_returns.csv")
    assert list(ar.columns[:4]) == ["event_id", "model", "day", "ar"] and {"needs_day1", "category", "scheduled"} <= set(ar.columns)
    groups = _groups_of(ar)
    checked = 0
    for _, row in study.iterrows():
        a, b = (int(x) for x in row["window"].split(":"))
        sub = ar[(ar["model"] == row["model"]) & ar["event_id"].isin(groups.get(row["group"], [])) & ar["day"].between(a, b)]
        if b < 1:  # DESIGN: an unknown-time event counts only in windows that include day +1
            sub = sub[~sub["needs_day1"].astype(bool)]
        days = sub.groupby("event_id")["day"].nunique()
        car = sub.groupby("event_id")["ar"].sum()[days == b - a + 1]  # events with every day of the window
        assert row["n"] == len(car), (row["model"], row["group"], row["window"])
        if len(car):
            assert row["caar"] == pytest.approx(car.mean(), abs=1e-12), (row["model"], row["group"], row["window"])
            checked += 1
    assert checked > 200
    # the unknown-time rule bites: 0:0 counts fewer events than 0:1
    t = study[(study["model"] == "peer_adjusted") & (study["group"] == "all")].set_index("window")
    assert t.loc["0:0", "n"] < t.loc["0:1", "n"]


def test_caar_figure_counts_the_tables_events(bundled_study):
    study = pd.read_csv(bundled_study / "study.csv")
    ar = pd.read_csv(bundled_study / "abnormal_returns.csv")
    pa = study[study["model"] == "peer_adjusted"].set_index(["group", "window"])
    no_ids = pd.DataFrame({"event_id": pd.Series(dtype=str), "category": pd.Series(dtype=str)})  # categories come from abnormal_returns.csv
    for lo, days in ((0, (0, 1, 2, 5)), (-1, (1,))):
        paths = T.caar_paths(ar, no_ids, lo=lo, hi=5, min_events=1).set_index(["group", "day"])
        for g in set(paths.index.get_level_values(0)):
            for d in days:
                row = pa.loc[(g, f"{lo}:{d}")]
                if row["n"] == 0:
                    assert (g, d) not in paths.index or paths.loc[(g, d), "n"] == 0
                    continue
                assert paths.loc[(g, d), "n"] == row["n"], (g, lo, d)
                assert paths.loc[(g, d), "caar"] == pytest.approx(row["caar"]), (g, lo, d)


def test_bundled_peer_adjusted_ar_uses_the_hedge_basket(bundled_study):
    from backtests.stats.study import _returns

    ar = pd.read_csv(bundled_study / "abnormal_returns.csv")
    doc = json.loads((bundled_study / "study.json").read_text())
    ev = {e["event_id"]: e for e in doc["events"]}
    msft = [e for e, v in ev.items() if v["company"] == "MSFT"]
    assert msft and all(ev[e]["basket"] == ["GOOGL", "META", "ORCL"] for e in msft)
    rets, _ = _returns(["AMZN", "MSFT", "GOOGL", "META", "ORCL"])
    e = msft[0]
    d0 = pd.Timestamp(ev[e]["day0"])
    p = rets.index.get_loc(d0)
    got = ar[(ar["event_id"] == e) & (ar["model"] == "peer_adjusted") & (ar["day"] == 1)]["ar"].iloc[0]
    r1 = rets.iloc[p + 1]
    assert got == pytest.approx(r1["AMZN"] - r1[["GOOGL", "META", "ORCL"]].mean())


def test_bundled_study_multiple_testing_and_bhar_rows(bundled_study):
    study = pd.read_csv(bundled_study / "study.csv")
    doc = json.loads((bundled_study / "study.json").read_text())
    mt = doc["multiple_testing"]
    p = study[P_TESTS].to_numpy().ravel()
    ok = np.isfinite(p)
    assert mt["method"] == "fdr_bh" and mt["n_tests"] == int(ok.sum())
    q = multipletests(p[ok], method="fdr_bh")[1]
    np.testing.assert_allclose(study[[c.replace("p_", "q_") for c in P_TESTS]].to_numpy().ravel()[ok], q)
    bhar = study["window"].isin(["0:20", "0:60"])
    assert study.loc[bhar, CAR_TESTS].isna().all().all() and study.loc[bhar & (study["n"] >= 10), "t_skew"].notna().all()
    assert study.loc[bhar & (study["n"] < 10), ["t_skew", "p_skew", "q_skew"]].isna().all().all()
    # the KP factor uses the overlap of the long windows
    row = study[(study["model"] == "peer_adjusted") & (study["group"] == "all") & (study["window"] == "0:60")].iloc[0]
    assert 0 < row["rbar"] < 1
    assert "-5:-1" in set(study["window"])


def test_estimation_windows_leave_out_the_whole_calendar():
    from backtests.config import load_config
    from backtests.stats.study import study_for_config
    from events.loader import load_calendar

    cfg = load_config(None)  # default: AI-infrastructure events only, earnings not selected
    out = study_for_config(cfg)
    res = out.results
    cal = load_calendar(bundled=True, earnings=True).frame
    names = {"AMZN", "MSFT", "GOOGL", "META", "ORCL"}
    earn = cal[(cal["category"] == "earnings") & cal["company"].isin(names)]
    # third parties' news that names a peer but not AMZN (e.g. NVIDIA-OpenAI, which moved ORCL) is left out too
    third = cal[~cal["company"].isin(names) & cal["tickers"].map(lambda ts: bool(names & set(ts)) and "AMZN" not in ts)]
    assert "nvda_openai_10gw_100b" in set(third["event_id"])
    day0s = set(pd.DatetimeIndex(earn["day0"])) | set(pd.DatetimeIndex(third["day0"]))
    assert len(day0s) > 100
    for f in res.fits:
        est_days = set(res.sessions[f.est])
        assert not est_days & day0s, f.event_id
    assert "calendar" in res.summary()


def test_tearsheet_study_table_bolds_by_adjusted_q(tmp_path):
    from backtests.reports.tearsheet import context, load_run

    out = tmp_path / "r"
    assert main(["run", "--out", str(out)]) == 0
    run = load_run(out)
    ctx = context(run, [])
    study = run.study
    n_tests = int(np.isfinite(study[[c.replace("p_", "q_") for c in P_TESTS]].to_numpy(float)).sum())
    note = ctx["study_note"]
    assert f"{n_tests} tests" in note and "adjusted" in note and "q < 0.05" in note
    pa = study[study["model"] == "peer_adjusted"].reset_index(drop=True)
    assert len(ctx["study_rows"]) == len(pa)
    labels = ["t cs (p; q)", "Patell (p; q)", "BMP (p; q)", "KP (p; q)", "rank (p; q)", "sign (p; q)", "skew-adj. t (p; q)"]
    assert set(labels) <= set(ctx["study_header"])
    p_only = 0
    for (_, x), row in zip(pa.iterrows(), ctx["study_rows"]):
        cells = dict(zip(ctx["study_header"], row))
        for label, p in zip(labels, P_TESTS):
            q = p.replace("p_", "q_")
            c = cells[label]
            assert (c["cls"] == "sig") == bool(np.isfinite(x[q]) and x[q] < 0.05), (x["group"], x["window"], label)
            if np.isfinite(x[q]):
                assert f"q {x[q]:.3f}" in c["text"] and f"{x[p]:.3f}" in c["text"]
            p_only += bool(x[p] < 0.05 <= x[q])
    assert p_only > 0  # some p < 0.05 are not significant once adjusted, and are not bold


def test_overlap_adjusted_skewness_t_on_paper():
    x = np.array([0.0, 0.0, 0.0, 0.0, 5.0, 1.0, -1.0, 2.0, 0.5, -0.5])
    t, _ = et.skewness_adjusted_t(x)
    ta, p = et.overlap_adjusted_skewness_t(x, 0.1)
    # KP factor for N = 10, r = 0.1: sqrt(0.9 / 1.9)
    assert ta == pytest.approx(t * math.sqrt(0.9 / 1.9), rel=1e-12)
    from scipy import stats

    assert p == pytest.approx(2 * stats.t.sf(abs(ta), 9), rel=1e-12)
    assert et.overlap_adjusted_skewness_t(x[:9], 0.1) == (pytest.approx(float("nan"), nan_ok=True), pytest.approx(float("nan"), nan_ok=True))
