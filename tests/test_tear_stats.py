"""The statistics behind the tear sheet's trade-stats, costs, exposure, tails and
in-out-sample sections (issue 13): hand-worked cases, comparisons with
empyrical (empyrical-reloaded, in the test extras) and with plain numpy, and
real numbers from the default run."""
from __future__ import annotations

import math

import empyrical as ep
import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats as sps

from backtests.cli import main
from backtests.stats import costs as C
from backtests.stats import exposure_stats as X
from backtests.stats import performance as pf
from backtests.stats import rolling_stats as RS
from backtests.stats import tails as TL
from backtests.stats import trade_stats as TS

PEERS = ["MSFT", "GOOGL", "META", "ORCL"]


def _trades(**cols) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    base = {
        "episode": list(range(1, n + 1)), "event_ids": [f"e{i}" for i in range(1, n + 1)], "side": [1] * n,
        "entry": ["2024-01-02"] * n, "exit": ["2024-01-03"] * n, "sessions_held": [1] * n, "excess_return": [0.0] * n,
        "return_on_gross": [0.0] * n, "pnl_net": [0.0] * n, "pnl_gross": [0.0] * n,
    }
    base.update(cols)
    return pd.DataFrame(base)


# ------------------------------------------------------------------ trade statistics
# Five trades. pnl_net: wins 1000, 1900, 100 (sum 3000, mean 1000); losses -600, -1600 (sum -2200, mean -1100).
FIVE = _trades(
    side=[1, -1, 1, 1, 1],
    excess_return=[0.02, 0.01, -0.03, 0.04, 0.001],  # signed by side: 0.02, -0.01, -0.03, 0.04, 0.001
    return_on_gross=[0.01, -0.006, -0.016, 0.019, 0.001],
    pnl_net=[1000.0, -600.0, -1600.0, 1900.0, 100.0],
    sessions_held=[1, 2, 1, 4, 2],
)


def test_trade_frame_signs_the_excess_by_side():
    tf = TS.trade_frame(FIVE)
    assert tf["excess"].tolist() == pytest.approx([0.02, -0.01, -0.03, 0.04, 0.001])
    assert tf["net"].tolist() == pytest.approx([0.01, -0.006, -0.016, 0.019, 0.001])


def test_win_loss_stats_by_hand():
    w = TS.win_loss_stats(FIVE)
    assert (w["n_trades"], w["n_wins"], w["n_losses"]) == (5, 3, 2)
    assert w["hit_rate"] == pytest.approx(3 / 5)
    assert w["avg_win"] == pytest.approx(1000.0) and w["avg_loss"] == pytest.approx(-1100.0)
    assert w["payoff_ratio"] == pytest.approx(1000 / 1100)  # 0.909: average win over |average loss|
    assert w["profit_factor"] == pytest.approx(3000 / 2200)  # 1.364: gross profit over gross loss (pyfolio)
    assert w["avg_win_net"] == pytest.approx((0.01 + 0.019 + 0.001) / 3) and w["avg_loss_net"] == pytest.approx(-0.011)
    assert w["avg_sessions_held"] == pytest.approx(2.0) and w["median_sessions_held"] == 2.0


def test_trade_summary_mean_median_and_t_by_hand():
    t = _trades(return_on_gross=[0.01, 0.02, 0.03, 0.04], excess_return=[0.01, 0.02, 0.03, 0.04], pnl_net=[1.0, 2.0, 3.0, 4.0])
    s = TS.trade_summary(t, seed=1, reps=2000)
    # mean 0.025, sd (ddof=1) = sqrt(((.015)^2 + (.005)^2) * 2 / 3) = 0.0129099, se = sd / 2 = 0.00645497, t = 3.87298
    assert s.loc["net", "n"] == 4 and s.loc["net", "mean"] == pytest.approx(0.025) and s.loc["net", "median"] == pytest.approx(0.025)
    assert s.loc["net", "t"] == pytest.approx(3.872983, rel=1e-6)
    assert s.loc["net", "p"] == pytest.approx(2 * sps.t.sf(3.872983346, df=3), rel=1e-6)  # 0.0305
    assert s.loc["pnl_net", "t"] == pytest.approx(3.872983, rel=1e-6)
    assert np.isnan(s.loc["sessions_held", "t"]) and s.loc["sessions_held", "mean"] == 1.0
    assert s.loc["net", "ci_low"] < 0.025 < s.loc["net", "ci_high"]


def test_bootstrap_ci_matches_the_normal_interval_on_a_large_sample():
    # 400 draws of N(0.3, 1): the 95% CI of the mean is about mean +- 1.96 * s / sqrt(400) (+-0.098)
    x = np.random.default_rng(7).normal(0.3, 1.0, 400)
    half = 1.96 * x.std(ddof=1) / 20
    for method in ("bca", "percentile"):
        lo, hi = TS.bootstrap_mean_ci(x, seed=3, reps=4000, method=method)
        assert lo == pytest.approx(x.mean() - half, abs=0.012) and hi == pytest.approx(x.mean() + half, abs=0.012)
    assert TS.bootstrap_mean_ci(x, seed=3, reps=500) == TS.bootstrap_mean_ci(x, seed=3, reps=500)  # seeded
    assert TS.bootstrap_mean_ci(x, seed=3, reps=500) != TS.bootstrap_mean_ci(x, seed=4, reps=500)


def test_trade_stats_with_zero_one_and_only_winning_trades():
    empty = FIVE.iloc[:0]
    w = TS.win_loss_stats(empty)
    assert w["n_trades"] == 0 and np.isnan(w["hit_rate"]) and np.isnan(w["payoff_ratio"]) and np.isnan(w["profit_factor"])
    s = TS.trade_summary(empty)
    assert (s["n"] == 0).all() and s[["mean", "t", "ci_low"]].isna().all().all()
    assert TS.best_worst_trades(empty).empty

    one = FIVE.iloc[:1]
    s1 = TS.trade_summary(one)
    assert s1.loc["net", "n"] == 1 and s1.loc["net", "mean"] == pytest.approx(0.01)
    assert np.isnan(s1.loc["net", "t"]) and np.isnan(s1.loc["net", "ci_low"])
    assert TS.win_loss_stats(one)["hit_rate"] == 1.0

    wins = FIVE[FIVE["pnl_net"] > 0]
    w = TS.win_loss_stats(wins)
    assert w["payoff_ratio"] == math.inf and w["profit_factor"] == math.inf and np.isnan(w["avg_loss"]) and w["hit_rate"] == 1.0
    losses = FIVE[FIVE["pnl_net"] < 0]
    w = TS.win_loss_stats(losses)
    assert w["profit_factor"] == 0.0 and np.isnan(w["payoff_ratio"]) and w["hit_rate"] == 0.0
    same = _trades(return_on_gross=[0.01, 0.01, 0.01], pnl_net=[5.0, 5.0, 5.0])
    s = TS.trade_summary(same)
    assert np.isnan(s.loc["net", "t"]) and (s.loc["net", "ci_low"], s.loc["net", "ci_high"]) == (0.01, 0.01)


def test_best_and_worst_trades_largest_first():
    bw = TS.best_worst_trades(FIVE, n=2)
    best, worst = bw[bw["kind"] == "best"], bw[bw["kind"] == "worst"]
    assert best["pnl_net"].tolist() == [1900.0, 1000.0] and best["event_ids"].tolist() == ["e4", "e1"]
    assert worst["pnl_net"].tolist() == [-1600.0, -600.0] and worst["event_ids"].tolist() == ["e3", "e2"]
    assert worst["rank"].tolist() == [1, 2]
    assert TS.best_worst_trades(FIVE, n=1, by="excess")["excess"].tolist() == pytest.approx([0.04, -0.03])


# ------------------------------------------------------------------ tails
def test_var_cvar_by_hand():
    # 21 returns: -0.05, -0.03 and nineteen of 0.01. np.percentile at 5%: position 20 * 0.05 = 1 -> the
    # second lowest, -0.03. CVaR: k = floor(20 * 0.05) + 1 = 2 lowest -> (-0.05 - 0.03) / 2 = -0.04.
    r = np.array([0.01] * 10 + [-0.05] + [0.01] * 9 + [-0.03])
    assert TL.value_at_risk(r) == pytest.approx(-0.03) and TL.conditional_value_at_risk(r) == pytest.approx(-0.04)
    # ten returns -0.04..0.05: position 9 * 0.05 = 0.45 -> -0.04 + 0.45 * 0.01 = -0.0355; CVaR: the lowest one
    r10 = np.array([0.01, -0.02, 0.03, -0.04, 0.05, 0.0, -0.01, 0.02, -0.03, 0.04])
    assert TL.value_at_risk(r10) == pytest.approx(-0.0355) and TL.conditional_value_at_risk(r10) == pytest.approx(-0.04)
    assert np.isnan(TL.value_at_risk([])) and np.isnan(TL.conditional_value_at_risk([]))


def test_skew_and_excess_kurtosis_by_hand():
    # [0, 0, 0, 1]: mean 1/4; m2 = 3/16, m3 = 3/32, m4 = 21/256 -> skew = m3 / m2^1.5 = 2 / sqrt(3),
    # excess kurtosis = m4 / m2^2 - 3 = 7/3 - 3 = -2/3 (biased moments, Fisher: scipy's defaults, pyfolio's)
    assert TL.skew([0, 0, 0, 1]) == pytest.approx(2 / math.sqrt(3))
    assert TL.excess_kurtosis([0, 0, 0, 1]) == pytest.approx(-2 / 3)
    assert np.isnan(TL.skew([0.01, 0.01, 0.01])) and np.isnan(TL.excess_kurtosis([0.0, 1.0]))


def test_best_worst_day_month_year_by_hand():
    r = pd.Series([0.10, -0.5, 0.2, 0.1], index=pd.to_datetime(["2024-01-30", "2024-01-31", "2024-02-01", "2025-03-03"]))
    t = TL.tail_stats(r)
    # Jan 2024: 1.1 * 0.5 - 1 = -0.45; Feb 2024: 0.2; Mar 2025: 0.1. 2024: 0.55 * 1.2 - 1 = -0.34; 2025: 0.1
    assert (t["best_day"], t["best_day_date"]) == (0.2, "2024-02-01") and (t["worst_day"], t["worst_day_date"]) == (-0.5, "2024-01-31")
    assert t["best_month"] == pytest.approx(0.2) and t["best_month_label"] == "2024-02"
    assert t["worst_month"] == pytest.approx(-0.45) and t["worst_month_label"] == "2024-01"
    assert t["best_year"] == pytest.approx(0.1) and t["best_year_label"] == "2025"
    assert t["worst_year"] == pytest.approx(-0.34) and t["worst_year_label"] == "2024"


def test_in_market_counts_the_session_a_position_is_closed_at_its_open():
    idx = pd.bdate_range("2024-01-01", periods=6)
    ex = pd.DataFrame({"exposure": [0.0, 1.0, 1.0, 0.0, 0.0, 1.0]}, index=idx)
    assert TL.in_market_sessions(ex).tolist() == [False, True, True, True, False, True]
    r = pd.DataFrame({"strategy": [0.0, 0.01, -0.02, 0.03, 0.0, 0.04], "amzn": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5],
                      "peer_basket": 0.0, "benchmark": 0.0}, index=idx)
    t = TL.tail_table(r, ex)
    assert t.loc["strategy", "n"] == 6 and t.loc["amzn", "n"] == 5  # the first session is not an AMZN return
    assert t.loc["amzn", "worst_day"] == pytest.approx(0.1)
    assert t.loc["strategy_in_market", "n"] == 4 and t.loc["strategy_in_market", "worst_day"] == pytest.approx(-0.02)
    assert t.loc["strategy_in_market", "var_95"] == pytest.approx(np.percentile([0.01, -0.02, 0.03, 0.04], 5))


# ------------------------------------------------------------------ costs
# Two trades. A: pnl_gross 900 (after 100 of slippage), commission 50, borrow 10 -> net 840, traded 500,000.
#            B: pnl_gross -400 (after 60 of slippage), commission 30, borrow 5 -> net -435, traded 300,000.
COSTS = pd.DataFrame({"episode": [1, 2], "event_ids": ["a", "b"], "pnl_gross": [900.0, -400.0], "commission": [50.0, 30.0],
                      "slippage": [100.0, 60.0], "borrow": [10.0, 5.0], "pnl_net": [840.0, -435.0], "traded_notional": [500_000.0, 300_000.0]})


def test_cost_summary_and_break_even_by_hand():
    c = C.cost_summary(COSTS)
    assert c["pnl_before_costs"] == pytest.approx(1000 - 340) and c["pnl_net"] == pytest.approx(405.0)
    assert (c["commission"], c["slippage"], c["borrow"], c["total_cost"]) == pytest.approx((80.0, 160.0, 15.0, 255.0))
    assert c["commission_per_trade"] == pytest.approx(40.0) and c["total_cost_per_trade"] == pytest.approx(127.5)
    assert c["total_cost_bps"] == pytest.approx(255 / 800_000 * 1e4)  # 3.1875 bps
    assert c["commission_bps"] == pytest.approx(1.0) and c["slippage_bps"] == pytest.approx(2.0)
    # break-even: (660 - 15) / 800,000 * 1e4 = 8.0625 bps per side; at that rate 8.0625e-4 * 800,000 = 645 = 660 - 15
    assert c["break_even_bps"] == pytest.approx(8.0625) and c["notes"] == []
    b = C.costs_by_trade(COSTS)
    assert b["pnl_before_costs"].tolist() == [1000.0, -340.0] and b["cost_bps"].tolist() == pytest.approx([3.2, 95 / 300_000 * 1e4])


def test_break_even_negative_and_absent_traded_notional():
    losing = COSTS.assign(pnl_gross=[-200.0, -100.0])  # before costs: -100 + -40 = -140, minus borrow 15
    c = C.cost_summary(losing)
    assert c["break_even_bps"] == pytest.approx(-155 / 800_000 * 1e4) and "lose" in c["notes"][0]
    old = COSTS.drop(columns="traded_notional")
    c = C.cost_summary(old)
    assert np.isnan(c["break_even_bps"]) and np.isnan(c["total_cost_bps"]) and c["notes"] == [C.NO_NOTIONAL]
    assert c["total_cost"] == pytest.approx(255.0)
    none = C.cost_summary(COSTS.iloc[:0])
    assert none["n_trades"] == 0 and none["total_cost"] == 0.0 and np.isnan(none["break_even_bps"])


def test_zero_crossing_by_linear_interpolation():
    # (10, 5) -> (20, -5): zero at 10 + 5 * 10 / 10 = 15
    assert C.zero_crossing([0, 10, 20], [10, 5, -5]) == {"x": 15.0, "status": "crosses"}
    assert C.zero_crossing([0, 1, 2], [3, 0, -1]) == {"x": 1.0, "status": "crosses"}
    assert C.zero_crossing([0, 1, 2], [-1, -2, -3])["status"] == "negative throughout"
    z = C.zero_crossing([0, 1, 2], [3, 2, 1])
    assert z["status"] == "positive throughout" and np.isnan(z["x"])
    assert C.zero_crossing([0, 1, 2, 3], [4, np.nan, 2, -2])["x"] == pytest.approx(2.5)  # the NaN point is skipped
    assert C.zero_crossing([], [])["status"] == "no data"


def test_cost_sensitivity_tidy_and_break_even():
    f = pd.DataFrame({"slippage_bps": [2, 0, 1], "total_return": [-0.01, 0.01, 0.0], "excess_total_return": [-0.02, 0.02, 0.01],
                      "sharpe": [-0.5, 0.5, 0.1], "pnl_net": [-10_000.0, 10_000.0, 0.0]})
    t = C.tidy_cost_sensitivity(f)
    assert t["slippage_bps"].tolist() == [0, 1, 2]
    be = C.sensitivity_break_even(f)
    assert be.loc["pnl_net", "slippage_bps"] == 1.0 and be.loc["excess_total_return", "slippage_bps"] == pytest.approx(1 + 0.01 / 0.03)
    assert be.loc["sharpe", "slippage_bps"] == pytest.approx(1 + 0.1 / 0.6)
    with pytest.raises(ValueError, match="sharpe"):
        C.tidy_cost_sensitivity(f.drop(columns="sharpe"))


# ------------------------------------------------------------------ exposure
def test_exposure_over_time_given_or_derived():
    idx = pd.bdate_range("2024-01-01", periods=3)
    old = pd.DataFrame({"exposure": [0.0, 1.0, 1.0], "net": [0.0, 0.2, -0.1], "episode": [0, 1, 1], "net_held": [0.0, 0.0, 0.2]}, index=idx)
    e = X.exposure_over_time(old)
    assert e["long"].tolist() == pytest.approx([0.0, 0.6, 0.45]) and e["short"].tolist() == pytest.approx([0.0, 0.4, 0.55])
    assert e["beta_net"].isna().all() and X.exposure_notes(old) == [X.DERIVED_LONG_SHORT, X.NO_BETA_NET]
    new = old.assign(long=[0.0, 0.7, 0.5], short=[0.0, 0.5, 0.6], beta_net=[0.0, 0.05, -0.02])  # a ticker both long and short
    e = X.exposure_over_time(new)
    assert e["long"].tolist() == [0.0, 0.7, 0.5] and e["beta_net"].tolist() == [0.0, 0.05, -0.02] and X.exposure_notes(new) == []
    s = X.exposure_summary(new)
    assert s["mean_long_in_market"] == pytest.approx(0.6) and s["mean_gross"] == pytest.approx(2 / 3)
    assert s["share_in_market_close"] == pytest.approx(2 / 3) and s["share_in_market_any"] == pytest.approx(2 / 3)
    assert s["max_abs_net"] == pytest.approx(0.2) and s["max_abs_beta_net"] == pytest.approx(0.05)


def test_turnover_by_hand():
    idx = pd.bdate_range("2024-01-01", periods=504)
    r = pd.DataFrame({"strategy": 0.0}, index=idx)
    tr = pd.DataFrame({"traded_notional": [1.5e6, 2.5e6]})
    t = X.turnover(tr, r, cash=1e6)
    # 4,000,000 traded over 504 / 252 = 2 years, on an average equity of 1,000,000: 2.0 a year
    assert t["years"] == 2.0 and t["avg_equity"] == 1e6 and t["turnover_ann"] == pytest.approx(2.0) and t["note"] == ""
    r2 = pd.DataFrame({"strategy": [1.0] + [0.0] * 503}, index=idx)  # equity 2,000,000 throughout: 1.0 a year
    assert X.turnover(tr, r2, cash=1e6)["turnover_ann"] == pytest.approx(1.0)
    t = X.turnover(pd.DataFrame({"pnl_net": [1.0]}), r, cash=1e6)
    assert np.isnan(t["turnover_ann"]) and "traded_notional" in t["note"]


def test_basket_held_names_the_announcing_peer():
    tr = pd.DataFrame({"episode": [1, 2, 3, 4], "event_ids": ["a+b", "c", "d", "e"], "entry": ["2024-01-02"] * 4,
                       "basket": ["GOOGL;META;ORCL", "MSFT;GOOGL;META;ORCL", "MSFT;GOOGL;ORCL", np.nan],
                       "rebalances": [np.nan, np.nan, "2024-01-03: x", np.nan]})
    ev = pd.DataFrame({"event_id": ["a", "b", "c", "d", "e"], "company": ["AMZN", "MSFT", "GOOGL", "NVDA", "AMZN"]})
    h = X.basket_held(tr, PEERS, ev)
    assert h["left_out"].tolist() == ["MSFT", "", "META", ""] and h["n_basket"].tolist() == [3, 4, 3, 0]
    assert h.loc[0, "why"] == "announcing company: MSFT (b)" and h.loc[1, "why"] == ""
    assert h.loc[2, "why"] == "META: not an announcing company of these events" and h.loc[2, "rebalances"] == "2024-01-03: x"
    assert h.loc[3, "why"] == "no hedge basket"
    assert X.basket_held(tr, PEERS).loc[0, "why"] == "announcing company unknown (no events.csv)"
    p = X.peers_left_out(h, PEERS)
    assert p.loc["MSFT", "n_trades_left_out"] == 1 and p.loc["META", "episodes"] == "3" and p.loc["ORCL", "n_trades_left_out"] == 0


# ------------------------------------------------------------------ in/out of sample, rolling
def test_rolling_alpha_beta_vol_ir_by_hand_and_no_look_ahead():
    idx = pd.bdate_range("2024-01-01", periods=4)
    f = pd.Series([0.01, 0.02, 0.03, -0.05], index=idx)
    r = 2 * f + 0.001  # exactly beta 2, daily alpha 0.001 over any window
    ab = RS.rolling_alpha_beta(r, f, window=3)
    assert ab["beta"].isna().tolist() == [True, True, False, False]
    assert ab["beta"].iloc[2:].tolist() == pytest.approx([2.0, 2.0]) and ab["alpha"].iloc[2:].tolist() == pytest.approx([0.001, 0.001])
    assert ab["alpha_ann"].iloc[2] == pytest.approx(1.001 ** 252 - 1)
    # a change on the last day leaves every earlier value alone
    r2 = r.copy()
    r2.iloc[-1] = 0.3
    assert RS.rolling_alpha_beta(r2, f, window=3)["beta"].iloc[2] == pytest.approx(2.0)
    # vol over 2 sessions of 0.01 and 0.03: std (ddof 1) = 0.02 / sqrt(2)
    assert RS.rolling_vol(pd.Series([0.01, 0.03]), window=2).iloc[1] == pytest.approx(0.02 / math.sqrt(2) * math.sqrt(252))
    # information ratio of the excess r - n b: n = 0.5, b = 0.02 on each day -> excess 0.0, 0.02, 0.01
    rr = pd.DataFrame({"strategy": [0.01, 0.03, 0.02], "peer_basket": [0.02, 0.02, 0.02]}, index=idx[:3])
    ex = pd.DataFrame({"net_held": [0.5, 0.5, 0.5]}, index=idx[:3])
    rf = RS.rolling_frame(rr, ex, window=3)
    assert rf["information_ratio"].iloc[2] == pytest.approx(0.01 / 0.01 * math.sqrt(252))


def test_split_metrics_by_hand():
    idx = pd.bdate_range("2024-01-01", periods=4)
    r = pd.DataFrame({"strategy": [0.1, -0.1, 0.2, 0.1], "peer_basket": [0.0, 0.1, 0.0, 0.1]}, index=idx)
    ex = pd.DataFrame({"net_held": [0.0, 1.0, 0.0, 0.0]}, index=idx)
    s = RS.split_metrics(r, ex, "2024-01-03")
    assert s.loc["before", "n"] == 2 and s.loc["after", "n"] == 2 and s.loc["after", "start"] == "2024-01-03"
    assert s.loc["before", "total_return"] == pytest.approx(1.1 * 0.9 - 1)  # -0.01
    assert s.loc["after", "total_return"] == pytest.approx(1.2 * 1.1 - 1)  # 0.32
    assert s.loc["before", "excess_total_return"] == pytest.approx(1.1 * 0.8 - 1)  # day 2: -0.1 - 1.0 * 0.1
    assert s.loc["before", "max_drawdown"] == pytest.approx(-0.1) and s.loc["after", "max_drawdown"] == 0.0
    assert s.loc["all", "total_return"] == pytest.approx(1.1 * 0.9 * 1.2 * 1.1 - 1)
    assert list(RS.split_metrics(r, ex, None).index) == ["all"]
    late = RS.split_metrics(r, ex, "2030-01-01")
    assert late.loc["after", "n"] == 0 and np.isnan(late.loc["after", "total_return"])


# ------------------------------------------------------------------ the default run, real numbers
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tearstats") / "run"
    assert main(["run", "--out", str(out), "--quiet"]) == 0
    rd = lambda n, **kw: pd.read_csv(out / n, **kw)  # noqa: E731
    import json

    return {
        "trades": rd("trades.csv"), "events": rd("events.csv"),
        "returns": rd("returns.csv", index_col=0, parse_dates=True), "exposure": rd("exposure.csv", index_col=0, parse_dates=True),
        "summary": json.loads((out / "summary.json").read_text()), "config": yaml.safe_load((out / "config.yaml").read_text()),
    }


def test_real_trade_stats(run):
    tr, summ = run["trades"], run["summary"]
    w = TS.win_loss_stats(tr)
    assert w["n_trades"] == summ["n_trades"] == 39 and w["hit_rate"] == pytest.approx(summ["hit_rate"])
    pnl = tr["pnl_net"].to_numpy()
    # independent: the pyfolio definitions written out on the raw column
    assert w["profit_factor"] == pytest.approx(pnl[pnl > 0].sum() / -pnl[pnl < 0].sum())
    assert w["payoff_ratio"] == pytest.approx(pnl[pnl > 0].mean() / -pnl[pnl < 0].mean())
    s = TS.trade_summary(tr, seed=1)
    ex = (tr["side"] * tr["excess_return"]).to_numpy()
    assert s.loc["excess", "mean"] == pytest.approx(ex.mean())
    assert s.loc["excess", "t"] == pytest.approx(ex.mean() / (ex.std(ddof=1) / math.sqrt(len(ex))))
    assert s.loc["net", "ci_low"] < s.loc["net", "mean"] < s.loc["net", "ci_high"]
    bw = TS.best_worst_trades(tr, n=3)
    assert bw.iloc[0]["pnl_net"] == pytest.approx(pnl.max()) and bw[bw["kind"] == "worst"].iloc[0]["pnl_net"] == pytest.approx(pnl.min())


def test_real_tails_against_empyrical_and_numpy(run):
    r, ex = run["returns"], run["exposure"]
    t = TL.tail_table(r, ex)
    for c in ("strategy", "amzn", "peer_basket", "benchmark"):
        s = r[c] if c == "strategy" else r[c].iloc[1:]
        assert t.loc[c, "var_95"] == pytest.approx(ep.value_at_risk(s, 0.05), abs=1e-15)
        assert t.loc[c, "cvar_95"] == pytest.approx(ep.conditional_value_at_risk(s, 0.05), abs=1e-15)
        d = s.to_numpy() - s.mean()  # moments written out with numpy
        m2 = (d ** 2).mean()
        assert t.loc[c, "skew"] == pytest.approx((d ** 3).mean() / m2 ** 1.5, rel=1e-9)
        assert t.loc[c, "kurtosis"] == pytest.approx((d ** 4).mean() / m2 ** 2 - 3, rel=1e-9)
        months = ep.aggregate_returns(s, "monthly")
        assert t.loc[c, "worst_month"] == pytest.approx(months.min()) and t.loc[c, "best_month"] == pytest.approx(months.max())
        assert t.loc[c, "best_year"] == pytest.approx(ep.aggregate_returns(s, "yearly").max())
        assert t.loc[c, "worst_day_date"] == s.idxmin().date().isoformat()
    # days in the market: every nonzero strategy return falls on one, and the flat days dilute the tails
    im = t.loc["strategy_in_market"]
    assert im["n"] >= (r["strategy"] != 0).sum() and im["n"] < len(r) / 5
    assert im["var_95"] < 50 * t.loc["strategy", "var_95"] < 0 and im["kurtosis"] < t.loc["strategy", "kurtosis"]


def test_real_costs(run):
    tr, summ, cfg = run["trades"], run["summary"], run["config"]
    c = C.cost_summary(tr)
    # independent: the net P&L of all trades is the run's total return on its starting cash (every trade closed)
    assert c["pnl_net"] == pytest.approx(summ["total_return"] * cfg["portfolio"]["cash"], rel=1e-6)
    assert c["pnl_net"] == pytest.approx(c["pnl_before_costs"] - c["total_cost"])
    assert c["pnl_before_costs"] > 0 > c["pnl_net"]  # the default run earns before costs and loses after them
    if "traded_notional" in tr.columns:
        # commission is charged at commission_bps of every fill's value, so per traded dollar it is that rate exactly
        assert c["commission_bps"] == pytest.approx(cfg["costs"]["commission_bps"], rel=1e-9)
        assert 0 < c["break_even_bps"] < cfg["costs"]["commission_bps"] + cfg["costs"]["slippage_bps"]
    else:
        assert np.isnan(c["break_even_bps"]) and c["notes"] == [C.NO_NOTIONAL]


def test_real_exposure_and_baskets(run):
    ex, tr, ev, summ = run["exposure"], run["trades"], run["events"], run["summary"]
    s = X.exposure_summary(ex)
    assert s["share_in_market_close"] == pytest.approx(summ["exposure"])
    assert s["share_in_market_any"] > s["share_in_market_close"]
    e = X.exposure_over_time(ex)
    if {"long", "short"} <= set(ex.columns):  # the run's own long/short columns agree with its gross and net (CSV: 12 digits)
        assert (e["long"] - e["short"]).to_numpy() == pytest.approx(e["net"].to_numpy(), abs=1e-9)
        assert (e["long"] + e["short"]).to_numpy() == pytest.approx(e["gross"].to_numpy(), abs=1e-9)
        assert X.DERIVED_LONG_SHORT not in X.exposure_notes(ex)
    else:
        assert X.exposure_notes(ex)[0] == X.DERIVED_LONG_SHORT
    # a dollar-neutral strategy: about half its gross on each side while in the market
    assert s["mean_long_in_market"] == pytest.approx(0.5, abs=0.01) and s["mean_short_in_market"] == pytest.approx(0.5, abs=0.01)
    h = X.basket_held(tr, PEERS, ev)
    company = dict(zip(ev["event_id"], ev["company"]))
    for _, row in h.iterrows():  # independent: the left-out peers are exactly the peers among the trade's announcing companies
        announced = {company[i] for i in row["event_ids"].split("+")} & set(PEERS)
        assert set(filter(None, row["left_out"].split(";"))) == announced
        assert row["why"].startswith("announcing company") or not announced
    assert h.loc[h["episode"] == 2, "left_out"].item() == "MSFT"
    assert X.peers_left_out(h, PEERS)["n_trades_left_out"].sum() == (h["left_out"] != "").sum() == 8


def test_real_split_and_rolling_against_summary_and_empyrical(run):
    r, ex, summ = run["returns"], run["exposure"], run["summary"]
    sp = RS.split_metrics(r, ex, "2025-01-01")
    for k in RS.METRICS:
        assert sp.loc["all", k] == pytest.approx(summ[k], rel=1e-9, abs=1e-15), k
    before, after = r[r.index < "2025-01-01"]["strategy"], r[r.index >= "2025-01-01"]["strategy"]
    for row, s in (("before", before), ("after", after)):
        assert sp.loc[row, "total_return"] == pytest.approx(ep.cum_returns_final(s), rel=1e-9)
        assert sp.loc[row, "cagr"] == pytest.approx(ep.annual_return(s), rel=1e-9)
        assert sp.loc[row, "ann_vol"] == pytest.approx(ep.annual_volatility(s), rel=1e-9)
        assert sp.loc[row, "sharpe"] == pytest.approx(ep.sharpe_ratio(s), rel=1e-9)
        assert sp.loc[row, "max_drawdown"] == pytest.approx(ep.max_drawdown(s), rel=1e-9)
    assert (1 + sp.loc["before", "total_return"]) * (1 + sp.loc["after", "total_return"]) - 1 == pytest.approx(summ["total_return"])
    rf = RS.rolling_frame(r, ex, window=126)
    eab = ep.roll_alpha_beta(r["strategy"], r["peer_basket"], window=126)
    eab.index = r.index[125:]
    got = rf.iloc[125:]
    assert got["beta"].to_numpy() == pytest.approx(eab[1].to_numpy(), rel=1e-7, abs=1e-12)
    assert got["alpha_ann"].to_numpy() == pytest.approx(eab[0].to_numpy(), rel=1e-7, abs=1e-12)
    assert rf["vol_ann"].iloc[125:].to_numpy() == pytest.approx(ep.roll_annual_volatility(r["strategy"], 126).to_numpy(), rel=1e-9)
    excess = r["strategy"] - ex["net_held"] * r["peer_basket"]
    assert rf["information_ratio"].iloc[125:].to_numpy() == pytest.approx(ep.roll_sharpe_ratio(excess, 126).to_numpy(), rel=1e-7)
    assert rf.iloc[:125].isna().all().all()


def test_bca_interval_of_skewed_trade_returns_agrees_with_scipys_bca():
    """A skewed sample (like trade returns: many small losses, a few large wins): arch's BCa interval agrees with an
    independent implementation, scipy.stats.bootstrap(method='BCa'), to Monte Carlo noise, and differs from the
    symmetric normal interval in the direction of the skew."""
    from scipy import stats

    rng = np.random.default_rng(11)
    x = np.concatenate([rng.normal(-0.004, 0.004, 30), rng.lognormal(-3.5, 0.6, 9)])
    lo, hi = TS.bootstrap_mean_ci(x, seed=1, reps=20_000, method="bca")
    ref = stats.bootstrap((x,), np.mean, n_resamples=20_000, method="BCa", random_state=2).confidence_interval
    width = ref.high - ref.low
    assert abs(lo - ref.low) < 0.05 * width and abs(hi - ref.high) < 0.05 * width
    m, se = x.mean(), x.std(ddof=1) / np.sqrt(len(x))
    assert (hi - m) > (m - lo) and hi > m + 1.96 * se - 0.02 * width  # right-skewed: the upper arm is the longer
