"""The fast engine's contract: the same config gives the same fills, equity, daily returns and summary.json
on Backtrader (the reference) and on the fast engine, for every shipped config and a seeded random sample (20)
of parameters and costs; a mismatch names the first differing session and both values."""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from backtests.config import bundled_config, bundled_configs, load_config
from backtests.engines.parity import compare_fills, compare_returns, compare_runs, compare_summaries
from backtests.runner import run
from events.errors import InputError


def _pair(cfg):
    """Both engines' runs, or (when the reference refuses the config, e.g. an order the cash cannot pay
    for) the same refusal from both: then None, None."""
    try:
        ref = run(cfg)
    except InputError as exc:
        with pytest.raises(InputError) as fast_exc:
            run(cfg, engine="fast")
        assert str(fast_exc.value) == str(exc)
        return None, None
    return ref, run(cfg, engine="fast")


@pytest.mark.parametrize("name", sorted(bundled_configs()))
def test_every_shipped_config_agrees_on_both_engines(name):
    cfg = load_config(bundled_config(name))
    bt_res, fast_res = _pair(cfg)
    problems = compare_runs(bt_res, fast_res)
    assert not problems, "\n".join(problems)
    assert len(bt_res.trades) == len(fast_res.trades)
    pd.testing.assert_frame_equal(bt_res.trades[["episode", "event_ids", "side", "entry", "exit", "held", "basket"]],
                                  fast_res.trades[["episode", "event_ids", "side", "entry", "exit", "held", "basket"]])


def _random_config(rng) -> dict:
    """A seeded random run config: strategy, windows, fill, sizing and costs all drawn."""
    kind = rng.choice(["event_window", "event_window", "earnings_window", "pre_earnings_runup", "post_earnings_signal"])
    if kind == "event_window":
        cfg = load_config(bundled_config("default"))
        cfg["strategy"]["params"].update(exit_offset=int(rng.integers(1, 9)), side=int(rng.choice([1, -1])),
                                         overlap=str(rng.choice(["extend", "skip"])))
        cfg["events"]["clusters"] = str(rng.choice(["merge", "keep", "first"]))
        cfg["events"]["categories"] = None if rng.random() < 0.5 else ["ai_partnership", "custom_silicon", "capacity_power"]
    elif kind == "earnings_window":
        cfg = load_config(bundled_config("earnings_only"))
        cfg["strategy"]["params"].update(exit_offset=int(rng.integers(1, 6)), side=int(rng.choice([1, -1])))
        cfg["events"]["companies"] = None if rng.random() < 0.5 else ["AMZN"]  # peers' releases too: baskets change
    elif kind == "pre_earnings_runup":
        cfg = load_config(bundled_config("pre_earnings_runup"))
        cfg["strategy"]["params"].update(entry_offset=int(rng.integers(-5, -1)), exit_offset=-1)
    else:
        cfg = load_config(bundled_config("signal_earnings"))
        cfg["strategy"]["params"].update(exit_offset=int(rng.integers(2, 8)), rule=str(rng.choice(["efficiency", "backlog"])))
    pf = cfg["portfolio"]
    pf["fill"] = str(rng.choice(["open", "close"]))
    pf["fractional"] = bool(rng.random() < 0.6)
    pf["cash"] = float(rng.choice([1e5, 1e6, 3.3e6]))
    pf["cash_buffer"] = float(rng.choice([0.0, 0.02, 0.1]))
    pf["hedge"] = str(rng.choice(["equal", "beta"]))
    pf["gross"] = float(rng.choice([1.0, 1.6]))
    pf["long_share"] = float(rng.choice([0.5, 0.7]))
    cfg["costs"] = {"commission_bps": float(rng.uniform(0, 10)), "slippage_bps": float(rng.uniform(0, 25)), "borrow_bps": float(rng.uniform(0, 400))}
    cfg["dates"]["start"] = str(rng.choice(["2019-01-02", "2021-06-01", "2023-03-01"]))
    cfg["placebo"]["enabled"] = False  # same code on both engines; the shipped configs above run it
    cfg["study"]["enabled"] = False
    return cfg


@pytest.mark.parametrize("seed", range(20))
def test_seeded_random_configs_agree_on_both_engines(seed):
    cfg = _random_config(np.random.default_rng([20261124, seed]))
    bt_res, fast_res = _pair(cfg)
    if bt_res is None:
        return  # both refused it, with the same message
    problems = compare_runs(bt_res, fast_res)
    assert not problems, f"config {cfg['strategy']} {cfg['portfolio']} {cfg['costs']}:\n" + "\n".join(problems)


def test_close_fills_with_truncated_sizes_and_borrow_agree():
    """The hardest settings at once on the default events: close fills (cheat-on-close, borrow a night late),
    whole shares, a long buffer, a beta hedge and heavy costs."""
    cfg = load_config(bundled_config("default"))
    cfg["portfolio"].update(fill="close", fractional=False, cash=250_000.0, cash_buffer=0.05, hedge="beta")
    cfg["costs"] = {"commission_bps": 7.5, "slippage_bps": 15.0, "borrow_bps": 300.0}
    bt_res, fast_res = _pair(cfg)
    problems = compare_runs(bt_res, fast_res)
    assert not problems, "\n".join(problems)
    assert (fast_res.fills["size"] == np.trunc(fast_res.fills["size"])).all()
    assert bt_res.summary["n_trades"] == fast_res.summary["n_trades"] > 20


# ---------------------------------------------------------------- the checker itself fails, and says where
def test_a_mismatch_names_the_first_differing_session_and_both_values():
    idx = pd.bdate_range("2024-01-01", periods=6)
    a = pd.Series([0.0, 0.01, -0.02, 0.0, 0.003, 0.0], index=idx)
    b = a.copy()
    b.iloc[2] += 3e-10
    b.iloc[4] += 1e-9
    msg = compare_returns(a, b)
    assert len(msg) == 1 and "2024-01-03" in msg[0] and "first of 2 differing sessions" in msg[0]
    assert "-0.02" in msg[0] and "-0.0199999997" in msg[0]
    assert compare_returns(a, a + 5e-11) == []


def test_a_summary_or_fill_mismatch_is_reported():
    ref = {"start": "2024-01-02", "total_return": 0.1, "sharpe": float("nan"), "n_trades": 3.0}
    assert compare_summaries(ref, dict(ref)) == []
    bad = dict(ref, total_return=0.1 + 1e-8, n_trades=4.0, sharpe=0.5)
    out = compare_summaries(ref, bad)
    assert [line.split(":")[0] for line in out] == ["summary total_return", "summary sharpe", "summary n_trades"]
    fills = pd.DataFrame({"date": pd.to_datetime(["2024-01-02", "2024-01-02"]), "ticker": ["AMZN", "MSFT"], "episode": [1, 1],
                          "size": [10.0, -5.0], "price": [100.0, 200.0], "commission": [0.1, 0.1]})
    assert compare_fills(fills, fills.copy()) == []
    moved = fills.copy()
    moved.loc[1, "price"] = 200.0001
    assert "fill 2 (2024-01-02 MSFT, episode 1): price" in compare_fills(fills, moved)[0]
    assert "made 2 fills, fast 1" in compare_fills(fills, fills.iloc[:1])[0]


def test_a_broken_fast_engine_is_caught(monkeypatch):
    """Break the kernel's commission (charge it twice) and the parity check must fail on the first fill."""
    import backtests.engines.fast_engine as fe

    cfg = load_config(bundled_config("capex_guidance"))
    cfg["placebo"]["enabled"] = False
    ref = run(cfg)
    real = fe.simulate_fast

    def doubled(*a, **k):
        k["commission_bps"] *= 2
        return real(*a, **k)

    monkeypatch.setattr(fe, "simulate_fast", doubled)
    problems = compare_runs(ref, run(copy.deepcopy(cfg), engine="fast"))
    assert problems and problems[0].startswith("fill 1 (") and "commission" in problems[0]
    assert any(p.startswith("daily return on ") for p in problems)


def test_a_trades_or_exposure_mismatch_is_reported():
    from backtests.engines.parity import compare_columns

    t = pd.DataFrame({"traded_notional": [1000.0, 2000.0]})
    assert compare_columns(t, t.copy(), ["traded_notional"], "trades", rtol=1e-9) == []
    off = t.assign(traded_notional=[1000.0, 2000.0 * (1 + 1e-8)])
    assert compare_columns(t, off, ["traded_notional"], "trades", rtol=1e-9)[0].startswith("trades traded_notional, row 2 (1; first of 1)")
    e = pd.DataFrame({"long": [0.0, 0.5], "short": [0.0, 0.5], "beta_net": [np.nan, -0.1]}, index=pd.to_datetime(["2024-01-02", "2024-01-03"]))
    assert compare_columns(e, e.copy(), ["long", "short", "beta_net"], "exposure", atol=1e-9) == []
    moved = e.assign(beta_net=[0.0, -0.1])  # NaN against a number differs
    assert compare_columns(e, moved, ["beta_net"], "exposure", atol=1e-9)[0].startswith("exposure beta_net, row 1 (2024-01-02")
