"""The run outputs the tear sheet's trade, cost, exposure, per-event and in-out-sample sections read:
trades.csv's traded_notional, exposure.csv's long/short/beta_net, cost_sensitivity.csv, event_car.csv and
report.live_start. Checked on the bundled data against numbers worked out from prices and the other run files,
on both engines."""
from __future__ import annotations

import copy
import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from backtests.cli import main
from backtests.config import live_start, load_config, resolve, with_live_start
from backtests.engines.cost_curve import SLIPPAGE_BPS, slippage_grid
from backtests.engines.fast_engine import SUMMARY_ATOL, SUMMARY_RTOL
from backtests.engines.parity import EXPOSURE_ATOL, compare_columns
from backtests.market.marketdata import load_prices
from backtests.reports.rundir import write_run, write_study
from backtests.runner import run
from backtests.stats.book import BETA_MIN_SESSIONS, BETA_WINDOW, trailing_betas
from backtests.stats.eventtests import patell_z
from backtests.stats.study import study_for_config
from events.errors import InputError


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """The default config run as ``aibt run`` runs it (run, study, run directory), with the objects kept."""
    root = tmp_path_factory.mktemp("outputs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIBT_CACHE_DIR", str(root / "cache"))
        cfg = load_config(None)
        res = run(cfg)
        study = study_for_config(cfg, res)
        d = write_run(res, root / "run", dt.datetime.now(dt.timezone.utc), extra_writers=[lambda p: write_study(study, p)])
    return res, study, d


@pytest.fixture(scope="module")
def default_fast(default_run):
    cfg = copy.deepcopy(default_run[0].config)
    cfg["placebo"]["enabled"] = False  # the placebo is the same code on both engines and changes no trade
    return run(cfg, engine="fast")


def _tr(tickers):
    prices = load_prices(tickers)
    return {t: prices[t].total_return_ohlc() for t in tickers}


# ---------------------------------------------------------------- trades.csv: traded_notional
@pytest.mark.parametrize("engine", ["backtrader", "fast"])
def test_traded_notional_of_a_one_leg_each_side_trade_worked_by_hand(engine):
    """AMZN long against MSFT alone: entry buys AMZN and shorts MSFT, exit sells and covers; each fill at the open
    times (1 +/- slippage), sizes 0.5 x the value at the decision close / that close."""
    cfg = load_config(None)
    cfg["universe"]["peers"] = ["MSFT"]
    cfg["costs"] = {"commission_bps": 3.0, "slippage_bps": 7.0, "borrow_bps": 50.0}
    cfg["placebo"]["enabled"] = False
    res = run(cfg, engine=engine)
    t = res.trades[(res.trades["basket"] == "MSFT") & (res.trades["rebalances"] == "")].iloc[0]
    tr = _tr(["AMZN", "MSFT"])
    sessions = res.returns.index
    e, x = pd.Timestamp(t["entry"]), pd.Timestamp(t["exit"])
    d = sessions[sessions.get_loc(e) - 1]  # the decision close
    value = cfg["portfolio"]["cash"] * float((1 + res.returns.loc[:d, "strategy"]).prod())
    s = 7.0 / 1e4
    q_a = 0.5 * value / tr["AMZN"].at[d, "close"]
    q_m = 0.5 * value / tr["MSFT"].at[d, "close"]
    expected = (q_a * (tr["AMZN"].at[e, "open"] * (1 + s) + tr["AMZN"].at[x, "open"] * (1 - s))
                + q_m * (tr["MSFT"].at[e, "open"] * (1 - s) + tr["MSFT"].at[x, "open"] * (1 + s)))
    assert t["traded_notional"] == pytest.approx(expected, rel=1e-12)
    assert t["commission"] == pytest.approx(expected * 3.0 / 1e4, rel=1e-12)  # commission is charged on what was traded
    assert t["traded_notional"] > 1.9 * t["gross_notional"]  # in and out: about twice the book


def test_traded_notional_is_every_fill_and_agrees_on_both_engines(default_run, default_fast):
    res = default_run[0]
    t = pd.read_csv(default_run[2] / "trades.csv")
    per_episode = res.fills.assign(v=res.fills["value"].abs()).groupby("episode")["v"].sum()
    np.testing.assert_allclose(t.set_index("episode")["traded_notional"], per_episode.loc[t["episode"]], rtol=1e-10)
    assert compare_columns(res.trades, default_fast.trades, ["traded_notional"], "trades", rtol=1e-9) == []


def test_traded_notional_counts_rebalances_on_both_engines():
    """Every company's earnings, held five sessions: a peer reporting during a trade leaves the basket (a rebalance)."""
    cfg = load_config("earnings_only")
    cfg["events"].update(companies=None, tickers=None)
    cfg["strategy"]["params"]["exit_offset"] = 5
    cfg["placebo"]["enabled"] = False
    res, fast = run(cfg), run(cfg, engine="fast")
    t = res.trades
    rebalanced = t[t["rebalances"].fillna("") != ""]
    assert len(rebalanced) > 10
    # commission (1 bp) is charged on every fill, the rebalances' included: it is 1 bp of the traded notional
    np.testing.assert_allclose(t["commission"], t["traded_notional"] * cfg["costs"]["commission_bps"] / 1e4, rtol=1e-10)
    assert (rebalanced["traded_notional"] > 2.1 * rebalanced["gross_notional"]).all()
    assert compare_columns(t, fast.trades, ["traded_notional"], "trades", rtol=1e-9) == []


# ---------------------------------------------------------------- exposure.csv: long, short, beta_net
def test_long_short_add_up_to_the_engines_net_and_gross(default_run, default_fast):
    e = pd.read_csv(default_run[2] / "exposure.csv", index_col="date", parse_dates=["date"])
    assert list(e.columns[-3:]) == ["long", "short", "beta_net"]
    assert (e["long"] >= 0).all() and (e["short"] >= 0).all()
    np.testing.assert_allclose(e["long"] - e["short"], e["net"], atol=1e-12)
    np.testing.assert_allclose(e["long"] + e["short"], e["exposure"], atol=1e-12)
    held = e["exposure"] > 0
    assert held.sum() > 50 and (e.loc[~held, ["long", "short", "beta_net"]] == 0).all().all()
    assert e.loc[held, ["long", "short"]].stack().between(0.4, 0.6).all()  # half the book a side, drifting while held
    assert compare_columns(default_run[0].exposure, default_fast.exposure, ["long", "short", "beta_net"], "exposure", atol=EXPOSURE_ATOL) == []


def test_beta_net_of_one_held_session_by_hand(default_run):
    """Weights from the fills and the portfolio value; each ticker's beta by statsmodels OLS on the 252 sessions
    before the session, against the equal-weight MSFT/GOOGL/META/ORCL basket."""
    import statsmodels.api as sm

    res, _, d = default_run
    e = pd.read_csv(d / "exposure.csv", index_col="date", parse_dates=["date"])
    day = e.index[e["exposure"] > 0][10]
    tickers = ["AMZN", "MSFT", "GOOGL", "META", "ORCL"]
    tr = _tr(tickers)
    daily = pd.DataFrame({t: tr[t]["close"] for t in tickers}).pct_change()
    basket = daily[tickers[1:]].mean(axis=1)
    f = res.fills[pd.to_datetime(res.fills["date"]) <= day]
    shares = f.groupby("ticker")["size"].sum()
    value = res.config["portfolio"]["cash"] * float((1 + res.returns.loc[:day, "strategy"]).prod())
    p = daily.index.get_loc(day)
    expected = 0.0
    for t, q in shares.items():
        if abs(q) < 1e-9:
            continue
        fit = sm.OLS(daily[t].iloc[p - BETA_WINDOW:p].to_numpy(), sm.add_constant(basket.iloc[p - BETA_WINDOW:p].to_numpy())).fit()
        expected += q * tr[t].at[day, "close"] / value * fit.params[1]
    assert e.at[day, "beta_net"] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert e.at[day, "beta_net"] != 0


def test_trailing_beta_is_point_in_time_and_waits_for_60_sessions():
    rng = np.random.default_rng(7)
    idx = pd.bdate_range("2020-01-01", periods=700)
    x = rng.normal(0, 0.01, (700, 2))
    daily = pd.DataFrame({"P1": x[:, 0], "P2": x[:, 1]}, index=idx)
    daily["T"] = 2.0 * daily[["P1", "P2"]].mean(axis=1)  # beta exactly 2 to the basket
    b = trailing_betas(daily, ["T"], ["P1", "P2"])["T"]
    assert b.iloc[:BETA_MIN_SESSIONS].isna().all() and np.isfinite(b.iloc[BETA_MIN_SESSIONS])  # 60 sessions before row 60
    np.testing.assert_allclose(b.iloc[BETA_MIN_SESSIONS:], 2.0, rtol=1e-9)
    shocked = daily.copy()
    shocked.iloc[300, shocked.columns.get_loc("T")] += 0.5  # a session's own return never enters its beta
    b2 = trailing_betas(shocked, ["T"], ["P1", "P2"])["T"]
    assert b2.iloc[300] == pytest.approx(2.0, rel=1e-9) and abs(b2.iloc[301] - 2.0) > 0.1
    assert abs(b2.iloc[300 + BETA_WINDOW] - 2.0) > 0.1 and b2.iloc[301 + BETA_WINDOW] == pytest.approx(2.0, rel=1e-9)  # 252-session window


def test_exposure_legs_worked_by_hand():
    """Two sessions, three tickers: long, short and the beta-weighted sum; a held ticker without a beta makes
    beta_net unknown, an unheld one does not, and a flat book is 0."""
    from backtests.stats.book import book_weights, exposure_legs

    idx = pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04"])
    closes = pd.DataFrame({"A": [10.0, 11.0, 12.0], "B": [20.0, 20.0, 25.0], "C": [5.0, 5.0, 5.0]}, index=idx)
    fills = pd.DataFrame({"date": ["2024-01-02", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-04"],
                          "ticker": ["A", "B", "C", "A", "B"], "size": [50.0, -20.0, -10.0, -50.0, 20.0]})
    value = pd.Series([1000.0, 1100.0, 1000.0], index=idx)
    w = book_weights(fills, closes, value)
    # day 1: A 50 x 10 / 1000 = 0.5, B -20 x 20 / 1000 = -0.4; day 2: A 0.5, B -400/1100, C -50/1100; day 3: C -50/1000
    np.testing.assert_allclose(w.to_numpy(), [[0.5, -0.4, 0.0], [550 / 1100, -400 / 1100, -50 / 1100], [0.0, 0.0, -0.05]])
    betas = pd.DataFrame({"A": [1.2, 1.2, 1.2], "B": [0.8, 0.8, 0.8], "C": [np.nan, 2.0, 2.0]}, index=idx)
    legs = exposure_legs(w, betas)
    np.testing.assert_allclose(legs["long"], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(legs["short"], [0.4, 450 / 1100, 0.05])
    np.testing.assert_allclose(legs["beta_net"], [0.5 * 1.2 - 0.4 * 0.8, (550 * 1.2 - 400 * 0.8 - 50 * 2.0) / 1100, -0.1])
    legs = exposure_legs(w, betas.assign(C=[2.0, np.nan, 2.0]))
    assert np.isnan(legs["beta_net"].iloc[1]) and legs["beta_net"].iloc[0] == pytest.approx(0.28)
    flat = exposure_legs(book_weights(fills.iloc[:0], closes, value), betas)
    assert (flat.to_numpy() == 0).all()


# ---------------------------------------------------------------- cost_sensitivity.csv
def test_cost_curve_meets_the_run_at_its_own_slippage_and_never_rises(default_run):
    res, _, d = default_run
    c = pd.read_csv(d / "cost_sensitivity.csv")
    assert list(c.columns) == ["slippage_bps", "total_return", "excess_total_return", "sharpe", "pnl_net"]
    assert c["slippage_bps"].tolist() == list(SLIPPAGE_BPS) == [float(b) for b in range(21)]
    own = c[c["slippage_bps"] == res.config["costs"]["slippage_bps"]].iloc[0]
    for k in ("total_return", "excess_total_return", "sharpe"):
        assert abs(own[k] - res.summary[k]) <= SUMMARY_ATOL + SUMMARY_RTOL * abs(res.summary[k]), k
    assert own["pnl_net"] == pytest.approx(res.trades["pnl_net"].sum(), rel=1e-9)
    assert own["pnl_net"] == pytest.approx(res.final_value - res.config["portfolio"]["cash"], rel=1e-9)
    for k in ("total_return", "excess_total_return", "sharpe", "pnl_net"):
        assert (np.diff(c[k]) < 0).all(), k
    assert c["total_return"].iloc[0] - c["total_return"].iloc[-1] > 0.1  # 20 bps a side on ~80 fills a year is not nothing


def test_cost_curve_rows_are_runs_at_those_slippages():
    """A row of the curve is the run that slippage would give (Backtrader, the reference), and the configured level
    is added when it is off the grid."""
    cfg = load_config("capex_guidance")
    cfg["placebo"]["enabled"] = False
    cfg["costs"]["slippage_bps"] = 2.5
    cfg["portfolio"]["cash"] = 250_000.0
    res = run(cfg)
    c = res.cost_sensitivity()
    assert c.loc[c["slippage_bps"] == 2.5, "pnl_net"].iloc[0] == pytest.approx(res.final_value - 250_000.0, rel=1e-9)
    assert len(c) == 22 and 2.5 in c["slippage_bps"].tolist() and c["slippage_bps"].is_monotonic_increasing
    other = copy.deepcopy(cfg)
    other["costs"]["slippage_bps"] = 13.0
    ref = run(other).summary
    row = c[c["slippage_bps"] == 13.0].iloc[0]
    for k in ("total_return", "excess_total_return", "sharpe"):
        assert abs(row[k] - ref[k]) <= SUMMARY_ATOL + SUMMARY_RTOL * abs(ref[k]), k
    assert slippage_grid(20.0).tolist() == list(SLIPPAGE_BPS) and slippage_grid(30.0)[-1] == 30.0


# ---------------------------------------------------------------- event_car.csv
def test_event_car_of_one_event_by_hand(default_run):
    res, study, d = default_run
    ec = pd.read_csv(d / "event_car.csv")
    ar = pd.read_csv(d / "abnormal_returns.csv")
    row = ec[(ec["model"] == "peer_adjusted") & (ec["window"] == "0:1") & ec["counted"]].iloc[3]
    eid = row["event_id"]
    days = ar[(ar["event_id"] == eid) & (ar["model"] == "peer_adjusted") & ar["day"].between(0, 1)]
    assert len(days) == 2 and row["days"] == 2
    assert row["car"] == pytest.approx(days["ar"].sum(), rel=1e-10)
    # sd_est: the SD of AMZN minus the event's hedge basket over its estimation sessions
    fit = next(f for f in study.results.fits if f.event_id == eid)
    tickers = ["AMZN", *fit.basket]
    tr = _tr(tickers)
    daily = pd.DataFrame({t: tr[t]["close"] for t in tickers}).pct_change()
    resid = (daily["AMZN"] - daily[fit.basket].mean(axis=1)).iloc[fit.est]
    assert len(resid) == row["t_est"] and row["sd_est"] == pytest.approx(np.std(resid.to_numpy(), ddof=1), rel=1e-10)
    assert row["scar"] == pytest.approx(row["car"] / (row["sd_est"] * math.sqrt(2)), rel=1e-10)
    assert row["p"] == pytest.approx(2 * stats.norm.sf(abs(row["scar"])), rel=1e-10)
    assert str(pd.Timestamp(study.results.sessions[fit.p0]).date()) == row["day0"]


def test_event_car_is_what_the_study_table_tests(default_run):
    """The counted rows give study.csv's n and CAAR, and their SCARs give its Patell z, for every model and window."""
    _, _, d = default_run
    ec = pd.read_csv(d / "event_car.csv")
    table = pd.read_csv(d / "study.csv")
    assert set(ec["window"]) == set(load_config(None)["study"]["windows"])
    checked = 0
    for (model, window), g in ec[ec["counted"]].groupby(["model", "window"]):
        r = table[(table["model"] == model) & (table["group"] == "all") & (table["window"] == window)].iloc[0]
        assert len(g) == r["n"] and g["car"].mean() == pytest.approx(r["caar"], rel=1e-10)
        assert patell_z(g["scar"], g["t_est"])[0] == pytest.approx(r["t_patell"], rel=1e-10)
        checked += 1
    assert checked == 3 * 6
    assert ec.loc[~ec["counted"], ["car", "scar", "p"]].isna().all().all() and (~ec["counted"]).any()


def test_event_car_of_a_study_without_events_is_an_empty_table(tmp_path):
    from backtests.stats.eventstudy import EVENT_CAR_COLUMNS

    cfg = load_config(None)
    cfg["dates"]["start"] = "2025-01-02"
    cfg["events"]["categories"] = ["regulatory"]
    cfg["events"]["companies"] = ["NOBODY"]
    study = study_for_config(cfg)
    assert len(study.results.fits) == 0
    write_study(study, tmp_path)
    ec = pd.read_csv(tmp_path / "event_car.csv")
    assert list(ec.columns) == EVENT_CAR_COLUMNS and len(ec) == 0


# ---------------------------------------------------------------- report.live_start
def test_live_start_defaults_to_none_and_reaches_config_yaml(tmp_path, default_run):
    assert load_config(None)["report"]["live_start"] is None
    assert yaml.safe_load((default_run[2] / "config.yaml").read_text())["report"] == {"live_start": None}
    p = tmp_path / "c.yaml"
    p.write_text("dates: {start: 2023-01-03, end: 2023-06-30}\nreport: {live_start: 2023-05-01}\n"
                 "study: {enabled: false}\nplacebo: {enabled: false}\noutput: {tearsheet: false}\n")
    assert main(["run", "--config", str(p), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    cfg = yaml.safe_load((tmp_path / "out" / "config.yaml").read_text())
    assert cfg["report"]["live_start"] == "2023-05-01" and live_start(cfg) == "2023-05-01"
    assert live_start({"name": "an old run"}) is None


@pytest.mark.parametrize("text, needle", [
    ("report: {live_start: soon}\n", "field 'report.live_start': expected an ISO date YYYY-MM-DD, got 'soon'"),
    ("report: {live_start: 2023-02-30}\n", "field 'report.live_start': expected an ISO date"),
    ("dates: {start: 2023-01-03}\nreport: {live_start: 2022-12-30}\n", "field 'report.live_start': live_start 2022-12-30 is outside the run period"),
    ("dates: {start: 2023-01-03, end: 2023-06-30}\nreport: {live_start: 2023-07-03}\n",
     "field 'report.live_start': live_start 2023-07-03 is outside the run period 2023-01-03 to 2023-06-30"),
    ("report: {live_start: [2024-01-02]}\n", "field 'report.live_start': expected an ISO date"),
    ("report: {live_start: 2040-01-02}\n", "field 'report.live_start': live_start 2040-01-02 is outside the run period"),  # after the data
    ("report: {live_stat: 2024-01-02}\n", "field 'report.live_stat': unknown key"),
])
def test_a_bad_live_start_exits_2_naming_the_key(tmp_path, capsys, text, needle):
    p = tmp_path / "bad.yaml"
    p.write_text(text + "placebo: {enabled: false}\nstudy: {enabled: false}\noutput: {tearsheet: false}\n")
    assert main(["run", "--config", str(p), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"aibt: error: {p}, {needle}" in err, err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_live_start_override_is_checked_like_the_key():
    cfg = resolve({"dates": {"start": "2023-01-03", "end": "2024-06-28"}})
    assert with_live_start(cfg, dt.date(2024, 1, 2))["report"]["live_start"] == "2024-01-02"
    assert with_live_start(cfg, dt.datetime(2024, 1, 2, 0, 0))["report"]["live_start"] == "2024-01-02"
    assert cfg["report"]["live_start"] is None  # a copy
    with pytest.raises(InputError, match="field '--live-start': live_start 2024-07-01 is outside the run period"):
        with_live_start(cfg, "2024-07-01")
    with pytest.raises(InputError, match="field '--live-start': expected an ISO date"):
        with_live_start(cfg, "01/02/2024")
    assert with_live_start(with_live_start(cfg, "2024-01-02"), None)["report"]["live_start"] is None
