"""Overfitting guards (backtests.sweeps.overfit) against answers known in advance: pure noise, a genuine edge,
hand-worked formulas, brute-force loops and constructed walk-forward switches."""
from __future__ import annotations

import math
import warnings
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.stats import norm

from backtests.sweeps import overfit as o


def noise(seed: int, t: int = 2000, n: int = 200, sd: float = 0.01) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2015-01-02", periods=t)
    return pd.DataFrame(rng.normal(0.0, sd, (t, n)), index=idx, columns=[f"trial{i:03d}" for i in range(n)])


# ------------------------------------------------------------------------------------- DSR / PSR

def test_dsr_hand_worked_step_by_step():
    r = np.array([0.012, -0.004, 0.007, 0.015, -0.011, 0.003, 0.009, -0.002, 0.021, -0.006,
                  0.004, 0.001, -0.013, 0.010, 0.006, 0.018, -0.003, 0.002, 0.008, -0.009])
    trials = np.array([0.05, -0.02, 0.11, 0.03, 0.07, -0.04, 0.01, 0.09])  # per period (daily)
    T = len(r)
    mu, sd = r.mean(), r.std(ddof=1)
    sr = mu / sd
    m2 = np.mean((r - mu) ** 2)
    skew = np.mean((r - mu) ** 3) / m2 ** 1.5
    kurt = np.mean((r - mu) ** 4) / m2 ** 2  # non-excess
    N = len(trials)
    V = trials.var(ddof=1)
    g = 0.5772156649015329
    sr0 = math.sqrt(V) * ((1 - g) * norm.ppf(1 - 1 / N) + g * norm.ppf(1 - 1 / (N * math.e)))
    z = (sr - sr0) * math.sqrt(T - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr ** 2)
    got = o.deflated_sharpe(r, trials)
    assert got["dsr"] == pytest.approx(norm.cdf(z), abs=1e-12)
    assert got["sr0"] == pytest.approx(sr0, abs=1e-12)
    assert got["sr_best"] == pytest.approx(sr, abs=1e-12)
    assert got["sr_best_ann"] == pytest.approx(sr * math.sqrt(252), abs=1e-12)
    assert got["sr0_ann"] == pytest.approx(sr0 * math.sqrt(252), abs=1e-12)
    assert (got["t"], got["n_trials"]) == (T, N)
    assert got["skew"] == pytest.approx(skew, abs=1e-12) and got["kurt"] == pytest.approx(kurt, abs=1e-12)
    assert got["var_trials"] == pytest.approx(V, abs=1e-15)
    # an explicit N (the number of independent trials) replaces the count; N = 1 means no deflation
    eight_to_three = o.deflated_sharpe(r, trials, n_trials=3)
    assert eight_to_three["sr0"] == pytest.approx(o.expected_max_sharpe(3, V)) and eight_to_three["dsr"] > got["dsr"]
    one = o.deflated_sharpe(r, trials, n_trials=1)
    assert one["sr0"] == 0.0
    assert one["dsr"] == pytest.approx(o.probabilistic_sharpe(r)) == pytest.approx(norm.cdf(sr * math.sqrt(T - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr ** 2)))


def test_probabilistic_sharpe_benchmark_is_per_period():
    r = noise(0, t=500, n=1)["trial000"] + 0.001
    sr = r.mean() / r.std(ddof=1)
    assert o.probabilistic_sharpe(r, sr_benchmark=sr) == pytest.approx(0.5)
    assert o.probabilistic_sharpe(r, 0.0) > 0.9 > o.probabilistic_sharpe(r, 2 * sr)
    assert o.probabilistic_sharpe(r.iloc[:2]) != o.probabilistic_sharpe(r.iloc[:2])  # NaN: too short


def test_expected_max_formula_matches_monte_carlo_of_max_of_normals():
    rng = np.random.default_rng(7)
    for n in (10, 100, 1000):
        mc = rng.standard_normal((4000, n)).max(axis=1).mean()
        assert o.expected_max_sharpe(n) == pytest.approx(mc, rel=0.04), n
    assert o.expected_max_sharpe(100, 0.04) == pytest.approx(0.2 * o.expected_max_sharpe(100))
    assert o.expected_max_sharpe(1) == 0.0


def test_dsr_low_for_best_of_pure_noise_though_undeflated_psr_is_high():
    for seed in range(3):
        x = noise(seed)
        sr = o.sharpe_ratios(x)
        d = o.deflated_sharpe(x[sr.idxmax()], sr)
        assert d["psr0"] > 0.95  # the naive reading: "significant"
        assert d["dsr"] < 0.9, d  # deflated: compatible with luck
        assert "not significant" in d["reading"] or "no better" in d["reading"]


def test_dsr_high_for_a_genuine_edge_among_noise():
    x = noise(1)
    x["trial042"] += 0.0015  # daily Sharpe about 0.15, annualised about 2.4
    sr = o.sharpe_ratios(x)
    assert sr.idxmax() == "trial042"
    d = o.deflated_sharpe(x["trial042"], sr)
    assert d["dsr"] > 0.99 and "unlikely to be luck" in d["reading"]


def test_dsr_annualised_trial_sharpes_flag_and_warning():
    x = noise(2, t=1000, n=50)
    x["trial007"] += 0.001
    daily = o.sharpe_ratios(x)
    annual = o.sharpe_ratios(x, annualization=252)
    assert annual.to_numpy() == pytest.approx(daily.to_numpy() * math.sqrt(252))
    a = o.deflated_sharpe(x["trial007"], daily)
    b = o.deflated_sharpe(x["trial007"], annual, trial_sharpes_annualised=True)
    assert a["dsr"] == pytest.approx(b["dsr"]) and a["sr0"] == pytest.approx(b["sr0"])
    with pytest.warns(UserWarning, match="annualised"):
        o.deflated_sharpe(x["trial007"], annual)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        o.deflated_sharpe(x["trial007"], daily)


def test_sharpe_ratios_zero_variance_convention():
    df = pd.DataFrame({"flat": np.zeros(10), "up": np.full(10, 0.001), "down": np.full(10, -0.001)})
    assert o.sharpe_ratios(df).to_dict() == {"flat": 0.0, "up": np.inf, "down": -np.inf}


def test_effective_n_trials():
    x = noise(3, t=1000, n=20)
    assert o.effective_n_trials(x)["n_effective"] > 15
    base = x["trial000"]
    rng = np.random.default_rng(0)
    near = pd.DataFrame({f"c{i}": base + rng.normal(0, 0.0005, len(base)) for i in range(20)})
    near["copy"] = near["c0"]
    e = o.effective_n_trials(near)
    assert e["n_trials"] == 21 and e["n_distinct"] == 20 and e["n_effective"] < 1.1


# ------------------------------------------------------------------------------------- PBO

def test_pbo_near_half_for_pure_noise():
    pbos = [o.pbo_cscv(noise(seed))["pbo"] for seed in range(10)]
    # a single panel's PBO is itself noisy (about 0.2..0.8 at 200 x 2000); the average is near 0.5
    assert 0.4 < np.mean(pbos) < 0.6, pbos
    assert all(0.15 < p < 0.85 for p in pbos), pbos
    r = o.pbo_cscv(noise(0))
    assert r["n_combinations"] == math.comb(16, 8) == 12870 == len(r["lambdas"]) == len(r["oos_metric"])
    assert r["n_trials"] == 200 and r["block_length"] == 125 and r["t"] == 2000


def test_pbo_near_zero_with_a_genuine_edge():
    x = noise(4)
    x["trial042"] += 0.0015
    r = o.pbo_cscv(x)
    assert r["pbo"] < 0.1, r["reading"]  # 0.00 to 0.06 over seeds 0-7 for this edge
    assert max(r["selection_counts"], key=r["selection_counts"].get) == "trial042"
    assert r["prob_oos_loss"] < 0.1
    assert np.median(r["oos_metric"]) > 1.0  # annualised Sharpe of the chosen trial out of sample


def _naive_pbo(x: np.ndarray, S: int):
    """Brute force, one combination at a time, ranks by scipy."""
    T, N = x.shape
    x = x[T % S:]
    blocks = np.array_split(x, S)
    lam, is_m, oos_m, chosen = [], [], [], []
    for combo in combinations(range(S), S // 2):
        ins = np.concatenate([blocks[i] for i in combo])
        oos = np.concatenate([blocks[i] for i in range(S) if i not in combo])
        sr_is = ins.mean(0) / ins.std(0, ddof=1)
        sr_oos = oos.mean(0) / oos.std(0, ddof=1)
        k = int(np.argmax(sr_is))
        w = stats.rankdata(sr_oos)[k] / (N + 1)
        lam.append(math.log(w / (1 - w)))
        is_m.append(sr_is[k])
        oos_m.append(sr_oos[k])
        chosen.append(k)
    return np.array(lam), np.array(is_m), np.array(oos_m), np.array(chosen)


def test_pbo_vectorised_equals_brute_force_and_callable_metric():
    x = noise(5, t=303, n=12)  # 303 rows, 6 blocks: the 3 oldest rows are dropped
    lam, is_m, oos_m, chosen = _naive_pbo(x.to_numpy(), 6)
    r = o.pbo_cscv(x, n_splits=6)
    assert r["n_combinations"] == 20 and r["n_rows_dropped_for_blocks"] == 3 and r["t"] == 300
    np.testing.assert_allclose(r["lambdas"], lam, rtol=1e-9)
    np.testing.assert_allclose(r["is_metric"], is_m * math.sqrt(252), rtol=1e-9)
    np.testing.assert_allclose(r["oos_metric"], oos_m * math.sqrt(252), rtol=1e-9)
    assert list(r["selected"]) == [x.columns[k] for k in chosen]
    assert r["pbo"] == pytest.approx(np.mean(lam <= 0))
    slope = np.polyfit(is_m, oos_m, 1)[0]
    assert r["degradation"]["slope"] == pytest.approx(slope, rel=1e-9)
    rc = o.pbo_cscv(x, n_splits=6, metric=lambda a: a.mean(0) / a.std(0, ddof=1))
    np.testing.assert_allclose(rc["lambdas"], lam, rtol=1e-9)
    rm = o.pbo_cscv(x, n_splits=6, metric="mean")
    assert rm["metric_units"].startswith("mean daily return")


def test_pbo_missing_values_duplicates_ties_and_constant_columns():
    x = noise(6, t=640, n=30)
    x["failed"] = np.nan  # a trial that never produced returns
    x.iloc[:40, 3] = np.nan  # a trial whose sessions start later
    x["copy"] = x["trial005"]
    x["flat1"] = 0.0  # trials that never traded
    x["flat2"] = 0.0
    r = o.pbo_cscv(x)
    assert r["trials_dropped_empty"] == ["failed"]
    assert r["trials_dropped_duplicate"] == ["copy", "flat2"]
    assert r["n_sessions_dropped"] == 40 and r["t"] == 592 and r["n_rows_dropped_for_blocks"] == 8
    assert r["n_trials"] == 31
    assert np.isfinite(r["lambdas"]).all() and 0 <= r["pbo"] <= 1
    # without dedupe, identical trials tie: they share their average rank
    two = pd.DataFrame({"a": x["trial000"], "b": x["trial000"]}).dropna()
    rt = o.pbo_cscv(two, dedupe=False)
    assert np.all(rt["oos_rank"] == 0.5) and rt["pbo"] == 1.0  # the median counts as overfit (lambda <= 0)
    with pytest.raises(ValueError, match="at least 2 distinct trials"):
        o.pbo_cscv(two)
    with pytest.raises(ValueError, match="even"):
        o.pbo_cscv(x, n_splits=5)
    with pytest.raises(ValueError, match="2 sessions per block"):
        o.pbo_cscv(x.iloc[:20], n_splits=16)
    z = o.pbo_cscv(x, nan="zero")
    assert z["n_sessions_dropped"] == 0 and z["t"] == 640


# ------------------------------------------------------------------------------------- SPA

def _spa_panel(seed=3, t=1000, k=30):
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2020-01-01", periods=t)
    bench = pd.Series(rng.normal(0.0003, 0.01, t), index=idx)
    cand = pd.DataFrame(rng.normal(0.0003, 0.01, (t, k)), index=idx, columns=[f"t{i}" for i in range(k)])
    return bench, cand


def test_spa_noise_candidates_give_large_p():
    bench, cand = _spa_panel()
    r = o.spa_test(bench, cand, reps=300, seed=1)
    assert r["p_consistent"] > 0.3 and r["p_lower"] > 0.3 and r["better"] == []
    assert r["block"] == int(math.sqrt(1000)) == 31 and r["t"] == 1000 and r["n_candidates"] == 30
    assert "Not significant" in r["reading"]
    again = o.spa_test(bench, cand, reps=300, seed=1)
    assert (again["p_lower"], again["p_consistent"], again["p_upper"]) == (r["p_lower"], r["p_consistent"], r["p_upper"])


def test_spa_strong_candidate_gives_small_p_and_sign_convention():
    bench, cand = _spa_panel()
    cand["t5"] += 0.003
    r = o.spa_test(bench, cand, reps=300, seed=1)
    assert r["p_consistent"] < 0.01 and r["p_upper"] < 0.01
    assert r["better"] == ["t5"] and r["best"] == "t5"
    assert r["candidates"].loc["t5", "mean_excess_ann"] > 0.5
    # a candidate clearly *worse* than the benchmark is never significant (a sign flip would make it so)
    worse = o.spa_test(bench, cand[["t5"]] - 0.006, reps=300, seed=1)
    assert worse["p_upper"] > 0.9 and worse["p_consistent"] > 0.3 and worse["better"] == []
    rc = o.reality_check(bench, cand, reps=300, seed=1)
    assert rc["p_value"] < 0.01
    assert o.reality_check(*_spa_panel(), reps=300, seed=1)["p_value"] > 0.3


def test_spa_alignment_auto_block_and_benchmark_copies():
    bench, cand = _spa_panel(t=600, k=5)
    cand["base"] = bench
    cand["failed"] = np.nan
    cand.iloc[:50, 0] = np.nan
    r = o.spa_test(bench, cand, reps=200, seed=2, block="auto")
    assert r["trials_dropped_same_as_benchmark"] == ["base"] and r["trials_dropped_empty"] == ["failed"]
    assert r["t"] == 550 and r["n_candidates"] == 5 and 1 <= r["block"] <= 10  # iid data: short blocks


def test_stationary_bootstrap_variance_matches_hansen_formula():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(60, 3)).cumsum(axis=0) * 0.1 + rng.normal(size=(60, 3))
    T, q = 60, 1 / 7
    z = x - x.mean(0)
    want = (z * z).sum(0) / T
    for i in range(1, T):
        kappa = (1 - i / T) * (1 - q) ** i + (i / T) * (1 - q) ** (T - i)
        want = want + 2 * kappa * (z[: T - i] * z[i:]).sum(0) / T
    np.testing.assert_allclose(o.stationary_bootstrap_variance(x, 7), want, rtol=1e-10)


# ------------------------------------------------------------------------------------- walk-forward

def _switching_panel(t=610, switch=400):
    """A earns +0.002 a day until row `switch`, then -0.002; B the mirror image; C zero-mean zig-zag."""
    zig = 0.001 * np.where(np.arange(t) % 2 == 0, 1.0, -1.0)
    drift = np.where(np.arange(t) < switch, 0.002, -0.002)
    idx = pd.bdate_range("2021-01-04", periods=t)
    return pd.DataFrame({"A": drift + zig, "B": -drift - zig, "C": zig}, index=idx)


def test_walk_forward_switch_at_a_known_date_exactly():
    x = _switching_panel()
    r = o.walk_forward(x, is_sessions=100, oos_sessions=40)
    starts = list(range(100, 610, 40))  # 100, 140, ..., 580 (the last window has 30 rows)
    # A's in-sample mean is positive while more than half its window lies before row 400: OOS start <= 420
    want = ["A" if s <= 420 else "B" for s in starts]
    assert [c for _, c in r["choices"]] == want
    assert [s for s, _ in r["choices"]] == [x.index[s] for s in starts]
    expected = pd.concat([x[c].iloc[s:s + 40] for s, c in zip(starts, want)])
    pd.testing.assert_series_equal(r["oos_returns"], expected, check_names=False, check_freq=False)
    assert list(r["held"]) == [c for s, c in zip(starts, want) for _ in range(min(40, 610 - s))]
    expected_is = pd.concat([x[c].iloc[s - 40:s] for s, c in zip(starts, want)])
    pd.testing.assert_series_equal(r["is_returns"], expected_is, check_names=False, check_freq=False)
    assert r["n_steps"] == 13 and r["n_switches"] == 1
    assert r["oos_total_return"] == pytest.approx(np.prod(1 + expected.to_numpy()) - 1)
    steps = r["steps"]
    assert steps.loc[0, "is_start"] == x.index[0] and steps.loc[0, "is_end"] == x.index[99]
    assert steps.iloc[-1]["oos_end"] == x.index[-1]


def test_walk_forward_never_looks_ahead():
    x = noise(11, t=700, n=15)
    base = o.walk_forward(x, is_sessions=150, oos_sessions=50)
    for k, s in enumerate(range(150, 700, 50)):
        y = x.copy()
        y.iloc[s:] = np.random.default_rng(k).normal(0, 0.05, (700 - s, 15))  # rewrite the future from row s
        y.iloc[s:, k % 15] += 0.05  # and make some trial wildly good there
        r = o.walk_forward(y, is_sessions=150, oos_sessions=50)
        assert r["choices"][: k + 1] == base["choices"][: k + 1], k
        assert r["oos_returns"].index[0] == x.index[150]


def test_walk_forward_anchored_metric_and_short_data():
    x = _switching_panel()
    a = o.walk_forward(x, is_sessions=100, oos_sessions=40, anchored=True)
    assert (a["steps"]["is_start"] == x.index[0]).all()
    # anchored, A stays ahead until the cumulative mean turns: rows before 400 outnumber those after until row 800
    assert set(c for _, c in a["choices"]) == {"A"}
    m = o.walk_forward(x, metric="mean", is_sessions=100, oos_sessions=40)
    assert [c for _, c in m["choices"]] == [c for _, c in o.walk_forward(x, is_sessions=100, oos_sessions=40)["choices"]]
    short = o.walk_forward(x.iloc[:80], is_sessions=100)
    assert short["n_steps"] == 0 and "needs more than" in short["reading"]
