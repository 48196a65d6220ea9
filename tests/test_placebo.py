"""The array executor against Backtrader and by hand, and the placebo null for event timing."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from backtests.engines.arrays import ExecConfig, Holding, PriceArrays, check_schedule, execute, execute_batch, holding_arrays, holdings_from_episodes
from backtests.stats.placebo import DEFAULT_SEED, near_event_mask, placebo_result, placebo_test, sample_schedules

CONFIGS = "backtests/configs/"


# ---------------------------------------------------------------- helpers
def _frames(opens: dict, closes: dict, sessions) -> dict:
    """OHLC frames with a wide high/low (so Backtrader never caps the slipped price)."""
    out = {}
    for t in opens:
        o, c = np.asarray(opens[t], float), np.asarray(closes[t], float)
        out[t] = pd.DataFrame({"open": o, "high": np.maximum(o, c) * 1.05, "low": np.minimum(o, c) * 0.95, "close": c,
                               "volume": 1e6}, index=pd.DatetimeIndex(sessions))
    return out


def _targets(holdings, sessions, tickers, cash_buffer=0.0) -> pd.DataFrame:
    """The ScheduleStrategy targets frame of ``holdings`` (a continuing holding keeps its episode)."""
    from backtests.engines.arrays import scaled_weights

    w = pd.DataFrame(0.0, index=sessions, columns=list(tickers))
    ep = pd.Series(0, index=sessions, dtype=int)
    k = 0
    for h in holdings:
        k += 0 if h.continues else 1
        end = h.exit if h.exit is not None else len(sessions)
        row = scaled_weights(np.array([h.weights.get(t, 0.0) for t in tickers]), cash_buffer)
        w.iloc[h.entry:end] = row
        ep.iloc[h.entry:end] = k
    w["episode"] = ep
    return w


def _backtrader(holdings, frames, cfg: ExecConfig) -> pd.Series:
    from backtests.engines.backtrader_engine import simulate
    from strategies.base import ScheduleStrategy

    sessions = next(iter(frames.values())).index
    t = _targets(holdings, sessions, list(frames), cfg.cash_buffer)
    sim = simulate(ScheduleStrategy, t, frames, cash=cfg.cash, commission_bps=cfg.commission_bps, slippage_bps=cfg.slippage_bps,
                   borrow_bps=cfg.borrow_bps, fill=cfg.fill, fractional=cfg.fractional)
    return sim.returns.reindex(sessions).fillna(0.0)


@pytest.fixture(scope="module")
def engine_slip_out() -> bool:
    """Does the engine charge the slipped price in full (slip_out=True) or cap it at the bar's high?
    Probed on a bar whose open is its high."""
    s = pd.bdate_range("2024-01-02", periods=4)
    f = {"X": pd.DataFrame({"open": [10.0, 10.0, 10.0, 10.0], "high": [10.0] * 4, "low": [9.0] * 4, "close": [10.0] * 4, "volume": 1e6}, index=s)}
    from backtests.engines.backtrader_engine import simulate
    from strategies.base import ScheduleStrategy

    t = _targets([Holding(1, None, {"X": 0.5})], s, ["X"])
    sim = simulate(ScheduleStrategy, t, f, cash=1000.0, commission_bps=0.0, slippage_bps=100.0, borrow_bps=0.0)
    return bool(sim.fills["price"].iloc[0] > 10.0)


# ---------------------------------------------------------------- by hand
HAND_SESSIONS = pd.DatetimeIndex(["2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09", "2024-01-10"])  # Thu Fri Mon Tue Wed
HAND_OPEN = {"A": [100, 101, 104, 103, 99], "B": [50, 50, 48, 49, 52]}
HAND_CLOSE = {"A": [100, 102, 105, 100, 98], "B": [50, 49, 48, 51, 52]}
HAND_CFG = ExecConfig(cash=1_000_000, commission_bps=10, slippage_bps=20, borrow_bps=365, fill="open")


def test_hand_worked_two_tickers_open_fill():
    """Long A / short B, 50% each, decided at the close of Thu, filled at Fri's open, out at Tue's open.

    Shares: A 0.5 * 1e6 / 100 = 5000, B -0.5 * 1e6 / 50 = -10000.
    Entry (Fri open, slipped 20 bps): buy A at 101 * 1.002 = 101.202 (505,010 + commission 10 bps
    506.01 ... in full: cost 506,010, commission 506.01); short B at 50 * 0.998 = 49.9 (proceeds
    499,000, commission 499). Cash 991,984.99; value at Fri's close 991,984.99 + 5000 * 102 - 10000 * 49.
    Borrow 365 bps a year = 1e-4 a calendar day on the short value at each close: Fri 490,000 x 3 nights
    = 147 (shows Mon), Mon 480,000 x 1 = 48 (shows Tue). Exit (Tue open): sell A at 103 * 0.998 =
    102.794 (513,970, commission 513.97), buy B at 49 * 1.002 = 49.098 (490,980, commission 490.98).
    """
    pa = PriceArrays.from_frames(_frames(HAND_OPEN, HAND_CLOSE, HAND_SESSIONS))
    ex = execute([Holding(1, 3, {"A": 0.5, "B": -0.5})], pa, HAND_CFG)
    cash1 = 1_000_000 - 506_010 - 506.01 + 499_000 - 499
    assert cash1 == pytest.approx(991_984.99, abs=1e-9)
    v = [1_000_000, cash1 + 510_000 - 490_000, cash1 - 147 + 525_000 - 480_000]
    v += [cash1 - 147 - 48 + 513_970 - 513.97 - 490_980 - 490.98] * 2
    assert v[3] == pytest.approx(1_013_775.04, abs=1e-6)
    np.testing.assert_allclose(ex.value, v, rtol=0, atol=1e-6)
    want = np.array(v) / np.array([1_000_000] + v[:-1]) - 1
    np.testing.assert_allclose(ex.returns.to_numpy(), want, rtol=0, atol=1e-13)
    assert ex.total_return == pytest.approx(0.01377504, abs=1e-12)
    # and Backtrader agrees with the paper
    np.testing.assert_allclose(_backtrader([Holding(1, 3, {"A": 0.5, "B": -0.5})], _frames(HAND_OPEN, HAND_CLOSE, HAND_SESSIONS), HAND_CFG).to_numpy(),
                               want, rtol=0, atol=1e-12)


def test_hand_close_fill_borrow_nights_shift_by_one():
    """With close fills a position filled at Fri's close and left at Tue's close pays borrow on the
    nights after Mon's and Tue's closes (1 day each), not after Fri's (3 days): the book Backtrader
    holds at a close is the one from before that close's own fills."""
    pa = PriceArrays.from_frames(_frames(HAND_OPEN, HAND_CLOSE, HAND_SESSIONS))
    h = [Holding(1, 3, {"A": 0.5, "B": -0.5})]
    cfg = ExecConfig(cash=1_000_000, borrow_bps=365, fill="close")
    free = ExecConfig(cash=1_000_000, borrow_bps=0, fill="close")
    with_b, without = execute(h, pa, cfg), execute(h, pa, free)
    short_shares = 0.5 * 1_000_000 / 49  # sized at Fri's close with the value then (flat: the cash)
    borrow = 1e-4 * short_shares * (48 * 1 + 51 * 1)
    assert without.value[-1] - with_b.value[-1] == pytest.approx(borrow, rel=1e-12)
    # entry costs show at the close after the fill (Backtrader executes cheat-on-close orders on the next bar)
    assert without.value[1] == 1_000_000
    np.testing.assert_allclose(_backtrader(h, _frames(HAND_OPEN, HAND_CLOSE, HAND_SESSIONS), cfg).to_numpy(), with_b.returns.to_numpy(), rtol=0, atol=1e-12)


# ---------------------------------------------------------------- parity with Backtrader runs
def _parity(cfg, slip_out):
    from backtests.market.marketdata import load_prices
    from backtests.runner import run
    from strategies import STRATEGIES

    r = run(cfg)
    ctx, c = r.context, r.config
    eps, _, _ = STRATEGIES[c["strategy"]["kind"]].plan(ctx, c["strategy"]["params"])
    tickers = list(dict.fromkeys([ctx.target, *ctx.peers, *[t for e in eps for t in e.weights]]))
    prices = load_prices(tickers)
    pa = PriceArrays.from_frames({t: prices[t].total_return_ohlc() for t in tickers}, ctx.sessions, tickers)
    hs = holdings_from_episodes(eps, ctx.sessions, c["portfolio"]["fill"])
    ex = execute(hs, pa, ExecConfig.from_config(c, slip_out=slip_out))
    return ex, r, hs


@pytest.mark.parametrize("name,fill", [("default", "open"), ("default", "close"), ("earnings_only", "open"),
                                       ("earnings_only", "close"), ("buy_and_hold_amzn", "open"), ("buy_and_hold_amzn", "close")])
def test_parity_with_backtrader_runs(name, fill, engine_slip_out):
    from backtests.config import load_config

    cfg = load_config(CONFIGS + name + ".yaml")
    cfg["portfolio"]["fill"] = fill
    ex, r, hs = _parity(cfg, engine_slip_out)
    assert len(hs) >= len(r.trades)
    bt = r.returns["strategy"]
    assert ex.returns.index.equals(bt.index)
    assert float((ex.returns - bt).abs().max()) < 1e-10
    assert ex.total_return == pytest.approx(r.summary["total_return"], rel=1e-9, abs=1e-12)


def test_rebalance_and_whole_shares_match_backtrader(engine_slip_out):
    """A rebalance inside an episode (one leg changes) and truncated share counts, open and close fills."""
    from strategies.base import ScheduleStrategy

    if not hasattr(ScheduleStrategy, "_rebalance"):
        pytest.skip("this ScheduleStrategy does not rebalance within an episode")
    rng = np.random.default_rng(3)
    s = pd.bdate_range("2024-03-01", periods=30)
    o = {t: 100 * np.exp(np.cumsum(rng.normal(0, 0.02, len(s)))) for t in "ABC"}
    c = {t: o[t] * np.exp(rng.normal(0, 0.01, len(s))) for t in "ABC"}
    frames = _frames(o, c, s)
    pa = PriceArrays.from_frames(frames)
    hs = [Holding(2, 6, {"A": 0.6, "B": -0.3, "C": -0.3}), Holding(6, 11, {"A": 0.6, "B": -0.6}, continues=True),
          Holding(11, 15, {"A": -0.5, "C": 0.5}), Holding(18, None, {"B": 1.0})]
    for fill in ("open", "close"):
        for frac in (True, False):
            cfg = ExecConfig(cash=100_000, commission_bps=3, slippage_bps=5, borrow_bps=80, fill=fill, fractional=frac, cash_buffer=0.02,
                             slip_out=engine_slip_out)
            got = execute(hs, pa, cfg).returns.to_numpy()
            want = _backtrader(hs, frames, cfg).to_numpy()
            assert np.abs(got - want).max() < 1e-12, (fill, frac)


def test_backtrader_caps_close_fill_slippage_at_the_next_bar():
    """Backtrader's slip_out=False caps a cheat-on-close fill at the high/low of the bar on which
    it executes, the *next* session: a look-ahead. The executor reproduces it on request."""
    from strategies.btcompat import bt

    s = pd.bdate_range("2024-01-02", periods=5)
    o = {"X": [10.0, 10.0, 10.0, 9.0, 9.0]}
    c = {"X": [10.0, 10.0, 10.0, 9.0, 9.0]}
    frames = _frames(o, c, s)
    frames["X"].loc[s[3], ["high", "low"]] = [9.2, 8.8]  # the session after the close-fill entry gaps down
    pa = PriceArrays.from_frames(frames)
    h = [Holding(2, None, {"X": 0.5})]
    capped = ExecConfig(cash=1000.0, slippage_bps=100, fill="close", slip_out=False)
    real = ExecConfig(cash=1000.0, slippage_bps=100, fill="close", slip_out=True)
    orig = bt.brokers.BackBroker.set_slippage_perc

    def forced(self, perc, *a, **k):
        k["slip_out"] = False
        return orig(self, perc, *a, **k)

    bt.brokers.BackBroker.set_slippage_perc = forced
    try:
        want = _backtrader(h, frames, capped).to_numpy()
    finally:
        bt.brokers.BackBroker.set_slippage_perc = orig
    np.testing.assert_allclose(execute(h, pa, capped).returns.to_numpy(), want, rtol=0, atol=1e-13)
    shares = 0.5 * 1000 / 10.0
    assert execute(h, pa, capped).value[-1] == pytest.approx(1000 - shares * 9.2 + shares * 9.0)  # bought at tomorrow's high
    assert execute(h, pa, real).value[-1] == pytest.approx(1000 - shares * 10.1 + shares * 9.0)


def test_schedule_checks():
    with pytest.raises(ValueError, match="overlap"):
        check_schedule(np.array([[1, 3]]), np.array([[4, 6]]), np.zeros((1, 2), bool), 10, "open")
    with pytest.raises(ValueError, match="decision close"):
        check_schedule(np.array([[0]]), np.array([[4]]), np.zeros((1, 1), bool), 10, "open")
    with pytest.raises(ValueError, match="rebalance"):
        check_schedule(np.array([[1, 5]]), np.array([[4, 6]]), np.array([[False, True]]), 10, "open")
    check_schedule(np.array([[0, 4]]), np.array([[4, -1]]), np.zeros((1, 2), bool), 10, "close")


# ---------------------------------------------------------------- the placebo sampler
def _occupied(entry, exit_, n):
    occ = np.zeros(n, int)
    for e, x in zip(entry, exit_):
        occ[e:(n if x < 0 else x + 1)] += 1
    return occ


def test_sampler_stays_away_from_events_and_other_holdings():
    n = 400
    near = near_event_mask(n, [20, 75, 130, 200, 201, 260, 390], before=1, after=3)
    assert near[19:24].all() and not near[18] and not near[24]
    hs = [Holding(21, 24, {"A": 0.5, "B": -0.5}), Holding(76, 78, {"A": -0.5, "B": 0.5}), Holding(131, 140, {"A": 1.0}),
          Holding(140, 146, {"A": 0.5}, continues=True), Holding(201, 204, {"B": -1.0})]
    sch = sample_schedules(hs, n, near, ["A", "B"], n=300, seed=7)
    assert sch.entry.shape == (300, 5) and sch.n_skipped == 0
    check_schedule(sch.entry, sch.exit, sch.continues, n, "open")
    for r in range(300):
        occ = _occupied(sch.entry[r], sch.exit[r], n)
        # blocks may meet only where a rebalance continues the holding before it
        shared = sum(1 for h in range(4) if sch.exit[r, h] == sch.entry[r, h + 1])
        assert occ.max() <= 2 and (occ == 2).sum() == shared == 1
        assert not (near & (occ > 0)).any()
        lengths = sorted((sch.exit[r] - sch.entry[r]).tolist())
        assert lengths == sorted([3, 2, 9, 6, 3])
        rb = np.nonzero(sch.continues[r])[0][0]
        assert sch.entry[r, rb] == sch.exit[r, rb - 1] and sch.weights[r, rb, 0] == 0.5 and sch.weights[r, rb - 1, 0] == 1.0
    assert len(np.unique(sch.entry[:, 0])) > 50  # spread over the axis


def test_sampler_is_reproducible_and_seeded():
    n = 300
    near = near_event_mask(n, [50, 150], 0, 5)
    hs = [Holding(50, 53, {"A": 1.0}), Holding(150, 152, {"A": -1.0})]
    a = sample_schedules(hs, n, near, ["A"], n=200, seed=DEFAULT_SEED)
    b = sample_schedules(hs, n, near, ["A"], n=200, seed=DEFAULT_SEED)
    c = sample_schedules(hs, n, near, ["A"], n=200, seed=DEFAULT_SEED + 1)
    assert np.array_equal(a.entry, b.entry) and np.array_equal(a.exit, b.exit) and np.array_equal(a.weights, b.weights)
    assert not np.array_equal(a.entry, c.entry)


def test_sampler_redraws_and_counts_runs_it_cannot_place():
    near = np.zeros(30, bool)
    near[10:20] = True  # free: sessions 1..9 (0 has no close before it) and 20..29
    two = [Holding(1, 8, {"A": 1.0}), Holding(20, 27, {"A": 1.0})]  # 8 sessions each: always placeable
    fits_sometimes = two + [Holding(28, 29, {"A": 1.0})]  # 2 more sessions: fit only beside some placements
    sch = sample_schedules(fits_sometimes, 30, near, ["A"], n=50, seed=1)
    assert sch.n_skipped == 0 and sch.tries > 1  # the runs that did not fit were drawn again
    never = two + [Holding(27, 29, {"A": 1.0})]  # 3 more sessions: never fit
    sch = sample_schedules(never, 30, near, ["A"], n=50, seed=1, max_tries=5)
    assert sch.n_skipped == 50 and sch.entry.shape == (0, 3) and sch.tries == 5
    pa = PriceArrays.from_frames(_frames({"A": np.full(30, 10.0)}, {"A": np.full(30, 10.0)}, pd.bdate_range("2024-01-01", periods=30)))
    res = placebo_test(never, pa, ExecConfig(), near, n=50, max_tries=5)
    assert res.n == 0 and res.n_skipped == 50 and np.isnan(res.p)


def test_held_to_end_holding_keeps_its_sessions_in_the_market():
    n = 50
    hs = [Holding(40, None, {"A": 1.0})]
    near = np.zeros(n, bool)
    sch = sample_schedules(hs, n, near, ["A"], n=200, seed=2)
    ends = np.where(sch.exit[:, 0] < 0, n, sch.exit[:, 0])
    assert ((ends - sch.entry[:, 0]) == 10).all() and (sch.exit[:, 0] == -1).any() and (sch.exit[:, 0] >= 0).any()


# ---------------------------------------------------------------- the placebo test
def _jump_market(n=500, jumps=(60, 130, 210, 290, 370, 440), size=0.05, seed=11):
    """A stock A with small noise and +5% overnight jumps on known sessions, and a flat-ish hedge B."""
    rng = np.random.default_rng(seed)
    s = pd.bdate_range("2021-01-04", periods=n)
    gap = rng.normal(0, 0.003, n)
    gap[list(jumps)] += size
    intraday = rng.normal(0, 0.003, n)
    close = 100 * np.exp(np.cumsum(gap + intraday))
    open_ = close * np.exp(-intraday)
    b = 50 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    return PriceArrays.from_frames(_frames({"A": open_, "B": b}, {"A": close, "B": b}, s)), list(jumps)


def test_actual_on_the_best_days_has_a_small_p():
    pa, jumps = _jump_market()
    cfg = ExecConfig(cash=1e6, commission_bps=1, slippage_bps=2, borrow_bps=50, fill="open")
    # enter at the open before each jump's gap (decided two closes before), out two opens later
    hs = [Holding(j - 1, j + 1, {"A": 0.5, "B": -0.5}) for j in jumps]
    near = near_event_mask(pa.n, jumps, before=2, after=2)
    res = placebo_test(hs, pa, cfg, near)
    assert res.n == 1000 and res.seed == DEFAULT_SEED
    assert res.actual_total > 0.1
    assert res.p == 0.0 and res.p_conservative == pytest.approx(1 / 1001) and res.percentile == 100.0
    worst = placebo_test([Holding(h.entry, h.exit, {"A": -0.5, "B": 0.5}) for h in hs], pa, cfg, near)
    assert worst.p == 1.0 and worst.percentile == 0.0


def test_placebo_runs_use_the_same_executor():
    """Each placebo total is what the executor gives that placebo schedule alone, costs included."""
    pa, jumps = _jump_market()
    cfg = ExecConfig(cash=1e6, commission_bps=5, slippage_bps=5, borrow_bps=100, fill="open", fractional=False, cash_buffer=0.02)
    hs = [Holding(j - 1, j + 1 + i % 3, {"A": 0.7, "B": -0.3}) for i, j in enumerate(jumps)]
    near = near_event_mask(pa.n, jumps, 2, 4)
    res = placebo_test(hs, pa, cfg, near, n=40, seed=5)
    sch = sample_schedules(hs, pa.n, near, pa.tickers, n=40, seed=5)
    for r in (0, 17, 39):
        one = [Holding(int(e), None if x < 0 else int(x), dict(zip(pa.tickers, w))) for e, x, w in zip(sch.entry[r], sch.exit[r], sch.weights[r])]
        assert res.totals[r] == pytest.approx(execute(one, pa, cfg).total_return, abs=1e-12)
    free = placebo_test(hs, pa, ExecConfig(cash=1e6, fill="open", fractional=False, cash_buffer=0.02), near, n=40, seed=5)
    assert (free.totals > res.totals).all()  # costs are charged in every placebo run


def test_no_holdings_is_a_flat_placebo():
    pa, _ = _jump_market(n=60, jumps=(30,))
    res = placebo_test([], pa, ExecConfig(commission_bps=1), np.zeros(60, bool), n=20)
    assert res.n == 20 and (res.totals == 0).all() and res.actual_total == 0 and res.p == 1.0


def test_result_statistics():
    r = placebo_result(np.array([0.1, 0.2, 0.3, 0.4]), 0.3, n_requested=5, seed=9)
    assert (r.p, r.p_conservative, r.percentile, r.n, r.n_skipped) == (0.5, 0.6, 50.0, 4, 1)
    assert r.mean == pytest.approx(0.25) and r.median == pytest.approx(0.25)
    assert r.summary() == {"placebo_p": 0.5, "placebo_n": 4}
    d = r.to_dict()
    assert d["seed"] == 9 and d["placebo_p_conservative"] == 0.6 and "totals" not in d


def test_placebo_on_the_default_run_is_fast(engine_slip_out):
    """1,000 placebo runs of the default config's ~40 holdings in well under a few seconds."""
    from backtests.config import load_config

    ex, r, hs = _parity(load_config(CONFIGS + "default.yaml"), engine_slip_out)
    ctx = r.context
    pa_tickers = list(dict.fromkeys([ctx.target, *ctx.peers]))
    from backtests.market.marketdata import load_prices

    prices = load_prices(pa_tickers)
    pa = PriceArrays.from_frames({t: prices[t].total_return_ohlc() for t in pa_tickers}, ctx.sessions, pa_tickers)
    near = near_event_mask(pa.n, ctx.events["day0_pos"].to_numpy(), 0, 2)
    cfg = ExecConfig.from_config(r.config, slip_out=engine_slip_out)
    t0 = time.perf_counter()
    res = placebo_test(hs, pa, cfg, near, actual_total=r.summary["total_return"])
    took = time.perf_counter() - t0
    assert res.n == 1000 and res.n_skipped == 0 and 0 <= res.p <= 1
    assert took < 10.0, took
    again = placebo_test(hs, pa, cfg, near, actual_total=r.summary["total_return"])
    assert np.array_equal(res.totals, again.totals)


def test_batch_daily_paths_equal_single_runs():
    pa, jumps = _jump_market(n=120, jumps=(30, 80))
    cfg = ExecConfig(cash=1e5, commission_bps=2, slippage_bps=3, borrow_bps=40, fill="close")
    scheds = [[Holding(5, 9, {"A": 0.5, "B": -0.5}), Holding(9, 20, {"A": -0.5, "B": 0.5}), Holding(40, None, {"A": 1.0})],
              [Holding(1, 3, {"A": 0.5, "B": -0.5}), Holding(50, 60, {"A": -0.5, "B": 0.5}), Holding(100, 119, {"A": 1.0})]]
    arrs = [holding_arrays(s, pa.tickers) for s in scheds]
    b = execute_batch(*[np.stack([a[i] for a in arrs]) for i in range(4)], pa, cfg, daily=True)
    for r, s in enumerate(scheds):
        one = execute(s, pa, cfg)
        np.testing.assert_allclose(b.returns[r], one.returns.to_numpy(), rtol=0, atol=1e-15)
        assert b.total_return[r] == pytest.approx(np.prod(1 + one.returns.to_numpy()) - 1, abs=1e-12)


def test_placebo_figure():
    from matplotlib.figure import Figure

    from backtests.reports.figures import placebo_distribution

    fig = placebo_distribution(np.random.default_rng(0).normal(0, 0.05, 1000), 0.12, 0.004, 1000, "Source: test", 0.005)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert "p = 0.004" in ax.get_title() and "%" in ax.get_xlabel()
    assert any("strategy +12.0%" in t.get_text() for t in ax.get_legend().get_texts())


def test_sampler_gives_up_fast_when_nothing_can_be_placed():
    """Blocks that cannot fit between near-event sessions: no run is placed, every one is
    counted as skipped, and the sampler stops after a few fruitless rounds, not max_tries."""
    from backtests.engines.arrays import Holding
    from backtests.stats.placebo import sample_schedules

    N = 300
    near = np.zeros(N, dtype=bool)
    near[::8] = True  # free gaps of 7 sessions: a holding of 9 sessions (entry to exit) never fits
    hs = [Holding(10, 18, {"A": 0.5, "B": -0.5}), Holding(40, 48, {"A": 0.5, "B": -0.5})]
    s = sample_schedules(hs, N, near, ["A", "B"], n=200, seed=1, max_tries=100)
    assert s.n_skipped == 200 and len(s.entry) == 0
    assert s.tries <= 10
    # enough room: everything is placed at the first round
    near[:] = False
    s = sample_schedules(hs, N, near, ["A", "B"], n=200, seed=1, max_tries=100)
    assert s.n_skipped == 0 and s.tries == 1
