"""Sweeps on the fast engine (issue 11): grid and random searches batched by plan, every combination's metrics equal to
its own run's summary.json on Backtrader, the top K re-run on Backtrader and stored, resumable, the returns policy,
and the kernel's metrics against hand-worked cases and statsmodels."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import yaml

from backtests.cli import main
from backtests.engines.parity import compare_summaries
from backtests.reports.rundir import SUMMARY_KEYS
from backtests.runner import run
from backtests.sweeps.spec import load_spec
from backtests.sweeps.store import load_results, load_returns, load_verifications

BASE = {
    "name": "fasttiny",
    "strategy": {"kind": "event_window", "params": {"entry_offset": "earliest", "exit_offset": 2, "side": 1, "overlap": "extend"}},
    "dates": {"start": "2023-06-01", "end": "2025-06-30"},
    "events": {"earnings": False, "tickers": ["AMZN"], "clusters": "merge"},
    "placebo": {"n": 40},
}
PARAMS = {"strategy.params.exit_offset": [1, 3], "portfolio.fill": ["open", "close"], "costs.slippage_bps": [0.0, 7.5],
          "costs.borrow_bps": [0, 300], "portfolio.fractional": [True, False]}
COMPARED = [k for k in SUMMARY_KEYS if k not in ("placebo_p", "placebo_n")]


def write_spec(folder, **over):
    doc = {"base": BASE, "params": PARAMS, "search": "grid", "metric": "sharpe"}
    doc.update(over)
    p = folder / "spec.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p


@pytest.fixture(scope="module")
def fast_db(tmp_path_factory):
    root = tmp_path_factory.mktemp("fast")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIBT_CACHE_DIR", str(root / "cache"))
        spec = write_spec(root)
        db = root / "fast.db"
        assert main(["sweep", "run", str(spec), "--db", str(db), "--engine", "fast", "--workers", "2", "--verify-top", "3"]) == 0
    return spec, db


def test_every_combination_equals_its_own_backtrader_run(fast_db):
    """All 32 combinations (4 plans x 8 cost settings), each against a full Backtrader run of its config."""
    spec_path, db = fast_db
    spec = load_spec(spec_path)
    res = load_results(db)
    assert len(res) == 32 and (res["status"] == "done").all() and set(res["engine"]) == {"fast"}
    assert res["placebo_p"].isna().all() and (res["placebo_n"] == 0).all()
    rets = load_returns(db)
    assert rets.shape[1] == 32  # a small sweep keeps every combination's daily returns
    for _, row in res.iterrows():
        params = {k: row[k] for k in spec.params}
        cfg = spec.config_for(params)
        cfg["placebo"]["enabled"] = False
        ref = run(cfg)
        problems = compare_summaries(ref.summary, row.to_dict(), COMPARED)
        assert not problems, f"{params}: " + "; ".join(problems)
        assert np.allclose(rets[row["key"]].dropna().to_numpy(), ref.returns["strategy"].to_numpy(), atol=1e-10, rtol=0)
    assert res["n_trades"].min() > 5 and res["total_return"].nunique() == 32


def test_the_top_k_are_re_run_on_backtrader_and_agree(fast_db):
    _, db = fast_db
    v = load_verifications(db)
    res = load_results(db).sort_values(["sharpe", "ordinal"], ascending=[False, True])
    assert list(v["key"]) == list(res["key"].head(3))
    assert (v["engine"] == "backtrader").all() and (v["status"] == "agree").all(), v["problems"].tolist()
    assert all(s["placebo_n"] == 40 and 0 <= s["placebo_p"] <= 1 for s in v["summary"])


def test_a_second_call_resumes_with_nothing_to_run(fast_db, capsys):
    spec, db = fast_db
    before = load_results(db)
    assert main(["sweep", "run", str(spec), "--db", str(db), "--engine", "fast", "--workers", "1", "--verify-top", "3"]) == 0
    out = capsys.readouterr().out
    assert "this call ran 0" in out and "3 agree" in out
    after = load_results(db)
    pd.testing.assert_frame_equal(before.drop(columns=["duration", "worker"]), after.drop(columns=["duration", "worker"]))


def test_an_interrupted_fast_sweep_keeps_finished_plans_and_resumes_to_the_same_results(fast_db, tmp_path, monkeypatch):
    import backtests.sweeps.batch as batch

    spec = write_spec(tmp_path)
    db = tmp_path / "cut.db"
    real = batch.execute_group
    calls = {"n": 0}

    def stop_after_two(spec_, g, todo, keep, keep_returns_for=None):
        calls["n"] += 1
        if calls["n"] == 2 and keep_returns_for is None:
            import signal

            signal.raise_signal(signal.SIGINT)  # Ctrl-C while the second plan runs: it finishes, nothing new starts
        return real(spec_, g, todo, keep, keep_returns_for)

    monkeypatch.setattr(batch, "execute_group", stop_after_two)
    # 130: stopped by Ctrl-C (a cron job can tell it from a finished sweep); the finished plans are stored
    assert main(["sweep", "run", str(spec), "--db", str(db), "--engine", "fast", "--workers", "1", "--verify-top", "0"]) == 130
    part = load_results(db)
    assert (part["status"] == "done").sum() == 16 and (part["status"] == "pending").sum() == 16
    monkeypatch.setattr(batch, "execute_group", real)
    assert main(["sweep", "run", str(spec), "--db", str(db), "--engine", "fast", "--workers", "2", "--verify-top", "0"]) == 0
    cols = ["key", "ordinal", "status"] + COMPARED
    a = load_results(db)[cols].sort_values("key").reset_index(drop=True)
    b = load_results(fast_db[1])[cols].sort_values("key").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12, atol=1e-15)


def test_large_sweeps_keep_returns_for_a_seeded_sample_and_the_top_k(tmp_path, monkeypatch):
    """Above the keep-all limit: returns for a seeded sample, the top K, the best Sharpe; the overfitting statistics of
    the report use the sample only (the top K were chosen by their results and would flatter PBO and the walk-forward)."""
    import sqlite3

    import backtests.sweeps.batch as batch
    from backtests.sweeps.report import write_report

    monkeypatch.setattr(batch, "KEEP_ALL_RETURNS", 10)
    monkeypatch.setattr(batch, "RETURNS_SAMPLE", 5)
    spec = write_spec(tmp_path, metric="total_return")
    db = tmp_path / "big.db"
    assert main(["sweep", "run", str(spec), "--db", str(db), "--engine", "fast", "--workers", "2", "--verify-top", "4"]) == 0
    res = load_results(db)
    kept = set(load_returns(db).columns)
    top4 = set(res.sort_values(["total_return", "ordinal"], ascending=[False, True])["key"].head(4))
    best_sharpe = res.sort_values(["sharpe", "ordinal"], ascending=[False, True])["key"].iloc[0]
    con = sqlite3.connect(db)
    meta = {k: v for k, v in con.execute("SELECT name, value FROM meta")}
    con.close()
    sample = set(json.loads(meta["fast_sample"])["keys"])
    assert len(sample) == 5 and kept == sample | top4 | {best_sharpe}
    assert json.loads(meta["fast_sweep"])["returns_policy"] == "a seeded sample of 5, the top 4 by total_return, the best Sharpe ratio"
    doc = write_report(db, tmp_path / "report")
    assert doc["overfit_sample"]["n_used"] == 5 and "seeded random sample" in doc["overfit_sample"]["note"]
    again = tmp_path / "again.db"
    assert main(["sweep", "run", str(spec), "--db", str(again), "--engine", "fast", "--workers", "1", "--verify-top", "4"]) == 0
    assert set(load_returns(again).columns) == kept  # the sample is seeded


def test_combinations_the_cash_cannot_pay_for_fail_with_the_reason(tmp_path):
    base = dict(BASE, portfolio={"gross": 2.0, "long_share": 0.75, "cash_buffer": 0.0})
    spec = write_spec(tmp_path, base=base, params={"costs.slippage_bps": [0.0, 40.0]})
    db = tmp_path / "margin.db"
    assert main(["sweep", "run", str(spec), "--db", str(db), "--engine", "fast", "--workers", "1", "--verify-top", "0"]) == 0
    res = load_results(db)
    assert (res["status"] == "failed").all()
    assert res["error"].str.contains("the cash could not pay for the AMZN order").all()
    cfg = load_spec(spec).config_for({"costs.slippage_bps": 40.0})
    with pytest.raises(Exception, match="the cash could not pay for the AMZN order"):
        run(cfg)


def test_fast_sweeps_do_not_run_on_dask(tmp_path, capsys):
    spec = write_spec(tmp_path)
    assert main(["sweep", "run", str(spec), "--db", str(tmp_path / "d.db"), "--engine", "fast", "--backend", "dask"]) == 2
    assert "runs in this process" in capsys.readouterr().err
    assert not (tmp_path / "d.db").exists()


def test_grouped_validation_gives_the_same_verdict_as_checking_every_combination(tmp_path):
    """An invalid cost value, an invalid plan value and a constraint: counted the same as the per-combination walk."""
    spec = load_spec(write_spec(tmp_path, params={"strategy.params.exit_offset": [1, 2, "soon"], "costs.slippage_bps": [1.0, -3.0, 2.0],
                                                  "portfolio.cash": [1e6, 0.5]}, constraints=["costs.slippage_bps < 2"]), check=False)
    from backtests.sweeps.spec import CheckResult

    a, b = CheckResult(), CheckResult()
    walked = [(c.ordinal, tuple(sorted(c.params.items()))) for c in spec._walk(a)]
    grouped = [(o, tuple(sorted(spec._values_at(idx).items()))) for o, idx, _, _ in spec.grouped_walk(b)]
    assert walked == grouped
    assert (a.n_candidates, a.n_excluded, a.n_invalid, a.n_valid) == (b.n_candidates, b.n_excluded, b.n_invalid, b.n_valid) == (18, 6, 10, 2)


# ---------------------------------------------------------------- the kernel's metrics, by hand and against statsmodels
def _metrics(r, net_held, basket, pnl=(0.0,), traded=(False,), gross=None):
    from backtests.engines.kernel import METRICS, metrics_row

    n = len(r)
    out = np.zeros(len(METRICS))
    metrics_row(np.asarray(r, float), np.asarray(net_held, float), np.zeros(n) if gross is None else np.asarray(gross, float),
                np.asarray(pnl, float), np.asarray(traded, bool), np.asarray(basket, float), 2, out)
    return dict(zip(METRICS, out))


def test_kernel_metrics_on_a_hand_worked_case():
    r = [0.0, 0.10, -0.05, 0.02]
    m = _metrics(r, [0, 1, 1, 0], [0.0, 0.05, 0.0, -0.01], pnl=[0, 10.0, -2.0, 3.0], traded=[False, True, True, False],
                 gross=[0, 1.0, 1.0, 0])
    wealth = 1.1 * 0.95 * 1.02
    assert m["total_return"] == pytest.approx(wealth - 1, abs=1e-15)  # 0.0659
    assert m["max_drawdown"] == pytest.approx(0.95 - 1, abs=1e-15)  # from the peak 1.10 to 1.045
    assert m["excess_total_return"] == pytest.approx(1.05 * 0.95 * 1.02 - 1, abs=1e-15)  # day 1: 0.10 - 1 x 0.05
    assert m["n_trades"] == 2 and m["hit_rate"] == 0.5 and m["exposure"] == 0.5
    sd = np.std(r, ddof=1)
    assert m["sharpe"] == pytest.approx(np.mean(r) / sd * math.sqrt(252), rel=1e-14)
    assert m["sortino"] == pytest.approx(np.mean(r) * 252 / (math.sqrt(0.05 ** 2 / 4) * math.sqrt(252)), rel=1e-14)
    assert math.isnan(m["alpha_tstat_hac"])  # fewer than 10 sessions: not estimated, as summary_metrics


def test_kernel_alpha_beta_and_hac_t_equal_statsmodels():
    rng = np.random.default_rng(7)
    b = rng.normal(0, 0.01, 600)
    r = 0.0004 + 0.6 * b + rng.normal(0, 0.01, 600) + 0.3 * np.r_[0, rng.normal(0, 0.01, 599)]
    from backtests.engines.kernel import METRICS, metrics_row

    out = np.zeros(len(METRICS))
    metrics_row(r, np.zeros(600), np.zeros(600), np.zeros(1), np.zeros(1, bool), b, 7, out)
    m = dict(zip(METRICS, out))
    res = sm.OLS(r, sm.add_constant(b)).fit(cov_type="HAC", cov_kwds={"maxlags": 7, "use_correction": True})
    assert m["beta"] == pytest.approx(res.params[1], rel=1e-12)
    assert m["alpha_ann"] == pytest.approx((1 + res.params[0]) ** 252 - 1, rel=1e-10)
    assert m["alpha_tstat_hac"] == pytest.approx(res.tvalues[0], rel=1e-10)


def test_cash_sizing_and_commission_sweep_equals_backtrader(tmp_path):
    """One plan, eight execution settings (cash x cash buffer x commission) in whole shares: each equals its Backtrader run."""
    base = dict(BASE, portfolio={"fractional": False, "gross": 2.0, "long_share": 0.6})  # long legs 1.2: the buffer scales them
    spec_path = write_spec(tmp_path, base=base, params={"portfolio.cash": [1e6, 150_000.0], "portfolio.cash_buffer": [0.05, 0.15],
                                                        "costs.commission_bps": [0.5, 6.0]})
    db = tmp_path / "cash.db"
    assert main(["sweep", "run", str(spec_path), "--db", str(db), "--engine", "fast", "--workers", "2", "--verify-top", "0"]) == 0
    spec = load_spec(spec_path)
    res = load_results(db)
    assert len(res) == 8 and (res["status"] == "done").all() and res["total_return"].nunique() == 8
    for _, row in res.iterrows():
        cfg = spec.config_for({k: row[k] for k in spec.params})
        cfg["placebo"]["enabled"] = False
        problems = compare_summaries(run(cfg).summary, row.to_dict(), COMPARED)
        assert not problems, "; ".join(problems)


@pytest.mark.parametrize("name,change", [("buy_and_hold_amzn", {}), ("buy_and_hold_qqq", {"portfolio": {"fill": "close"}}),
                                         ("signal_earnings", {}), ("default", {"dates": {"start": "2019-03-01", "end": "2019-06-28"}})])
def test_kernel_metrics_equal_summary_metrics_held_to_the_end_and_without_trades(name, change):
    """The sweep kernel's metrics (not only its fills) against Backtrader's summary.json: a position held to the last
    session (open and close fills), a strategy with few trades, and a window without any event (no trade at all)."""
    from backtests.config import bundled_config, resolve
    from backtests.engines.fast_engine import run_costs
    from backtests.engines.kernel import METRICS
    from backtests.runner import kernel_inputs, plan_run

    raw = yaml.safe_load(bundled_config(name).read_text())
    for sect, vals in change.items():
        raw.setdefault(sect, {}).update(vals)
    cfg = resolve(raw)
    cfg["placebo"]["enabled"] = False
    ref = run(cfg).summary
    sched, prices, basket, lags = kernel_inputs(plan_run(cfg))
    pf, c = cfg["portfolio"], cfg["costs"]
    costs = {"cash": [pf["cash"]], "commission_bps": [c["commission_bps"]], "slippage_bps": [c["slippage_bps"]], "borrow_bps": [c["borrow_bps"]],
             "fractional": [pf["fractional"]], "cash_buffer": [pf["cash_buffer"]]}
    m, _, fail = run_costs(sched, prices, basket, costs, lags=lags)
    assert fail[0, 0] == -1
    problems = compare_summaries(ref, dict(zip(METRICS, m[0])), list(METRICS))
    assert not problems, "; ".join(problems)
    if name == "default":
        assert ref["n_trades"] == 0 and math.isnan(ref["hit_rate"])


def test_strategies_plan_without_cash_sizing_or_costs():
    """The plan cannot depend on what a fast sweep varies within a plan group: a strategy never sees those fields."""
    res = run(None)
    assert {"cash", "fractional", "cash_buffer"}.isdisjoint(res.context.portfolio)
    assert {"gross", "long_share", "hedge", "fill"} <= set(res.context.portfolio)


def test_one_and_two_threads_store_identical_results(fast_db, tmp_path):
    """Determinism: each combination is computed on its own, whatever the thread count."""
    spec, db = fast_db
    one = tmp_path / "one.db"
    assert main(["sweep", "run", str(spec), "--db", str(one), "--engine", "fast", "--workers", "1", "--verify-top", "0"]) == 0
    cols = ["key", "ordinal", "status"] + COMPARED
    a = load_results(one)[cols].sort_values("key").reset_index(drop=True)
    b = load_results(db)[cols].sort_values("key").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    ra, rb = load_returns(one), load_returns(db)
    pd.testing.assert_frame_equal(ra[sorted(ra.columns)], rb[sorted(rb.columns)], check_exact=True)
