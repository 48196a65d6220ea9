"""A three-asset case invented so that every number can be worked out on paper.

Sessions (real NYSE days): s0 Tue 2024-03-05, s1 Wed 03-06, s2 Thu 03-07,
s3 Fri 03-08, s4 Mon 03-11, s5 Tue 03-12, s6 Wed 03-13. AAA is the target,
BBB and CCC the peer basket. One episode: decided at the close of s1, long AAA
50% / short BBB 25% / short CCC 25% filled at the open of s2, closed at the
open of s4. Cash 10,000.
"""
from __future__ import annotations

import pandas as pd
import pytest

from backtests.engines.backtrader_engine import simulate
from strategies.base import ScheduleStrategy
from strategies.schedule import Episode, build_episodes, target_weights

S = pd.DatetimeIndex(pd.to_datetime(["2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08", "2024-03-11", "2024-03-12", "2024-03-13"]))


def frame(opens, closes):
    o, c = pd.Series(opens, index=S, dtype=float), pd.Series(closes, index=S, dtype=float)
    return pd.DataFrame({"open": o, "high": pd.concat([o, c], axis=1).max(axis=1) + 1, "low": pd.concat([o, c], axis=1).min(axis=1) - 1, "close": c, "volume": 1e6})


FRAMES = {
    #                 s0   s1   s2   s3   s4   s5   s6
    "AAA": frame([99, 100, 101, 104, 110, 111, 112], [100, 100, 103, 108, 111, 112, 113]),
    "BBB": frame([50, 50, 50, 47, 45, 44, 44], [50, 50, 48, 46, 44, 44, 44]),
    "CCC": frame([20, 20, 20.5, 20, 21, 21, 21], [20, 20, 20, 21, 21, 21, 21]),
}
W = {"AAA": 0.5, "BBB": -0.25, "CCC": -0.25}


def sim(episodes, **kw):
    targets = target_weights(episodes, S, ["AAA", "BBB", "CCC"])
    args = dict(cash=10_000.0, commission_bps=0.0, slippage_bps=0.0, borrow_bps=0.0)
    args.update(kw)
    return simulate(ScheduleStrategy, targets, FRAMES, **args)


def one_episode():
    return [Episode(1, ["e1"], 1, S[2], S[4], dict(W))]


def test_entry_exit_and_short_leg_pnl_on_paper():
    r = sim(one_episode())
    f = r.fills.set_index(["date", "ticker"])
    # sizes from the s1 close: 5000/100 = 50 AAA, -2500/50 = -50 BBB, -2500/20 = -125 CCC
    assert f.loc[(S[2], "AAA"), "size"] == pytest.approx(50)
    assert f.loc[(S[2], "BBB"), "size"] == pytest.approx(-50)
    assert f.loc[(S[2], "CCC"), "size"] == pytest.approx(-125)
    assert f.loc[(S[2], "AAA"), "price"] == 101 and f.loc[(S[4], "AAA"), "price"] == 110
    # 50*(110-101) - 50*(45-50) - 125*(21-20.5) = 450 + 250 - 62.5
    assert r.final_value == pytest.approx(10_000 + 637.5)
    assert len(r.fills) == 6


def test_costs_commission_and_borrow_on_paper():
    r = sim(one_episode(), commission_bps=10.0, borrow_bps=3650.0)
    # commission 0.1% of traded notional: entry 50*101 + 50*50 + 125*20.5 = 10112.5, exit 50*110 + 50*45 + 125*21 = 10375
    assert r.fills["commission"].sum() == pytest.approx(0.001 * (10112.5 + 10375))
    # borrow 36.5%/yr = 0.1% per calendar day on the short value at the close:
    # night s2->s3 (1 day): 50*48 + 125*20 = 4900 -> 4.9 ; night s3->s4 (Fri->Mon, 3 days): 50*46 + 125*21 = 4925 -> 14.775
    assert r.borrow["cost"].tolist() == pytest.approx([4.9, 14.775])
    assert r.final_value == pytest.approx(10_000 + 637.5 - 20.4875 - 19.675)


def test_slippage_on_paper():
    r = sim(one_episode(), slippage_bps=10.0)
    # buys fill 0.1% above the open, sells 0.1% below
    f = r.fills.set_index(["date", "ticker"])
    assert f.loc[(S[2], "AAA"), "price"] == pytest.approx(101 * 1.001)
    assert f.loc[(S[2], "BBB"), "price"] == pytest.approx(50 * 0.999)
    assert f.loc[(S[4], "CCC"), "price"] == pytest.approx(21 * 1.001)
    pnl = 50 * (110 * 0.999 - 101 * 1.001) - 50 * (45 * 1.001 - 50 * 0.999) - 125 * (21 * 1.001 - 20.5 * 0.999)
    assert r.final_value == pytest.approx(10_000 + pnl)


def test_slippage_is_charged_in_full_when_the_open_is_the_bars_extreme():
    """Slippage is never capped at the bar's high/low: a buy at an open that is the
    day's high still pays open x (1 + slippage), a sell at the low gets low x (1 - slippage)."""

    def tight(opens, closes):  # high/low exactly max/min(open, close)
        o, c = pd.Series(opens, index=S, dtype=float), pd.Series(closes, index=S, dtype=float)
        return pd.DataFrame({"open": o, "high": pd.concat([o, c], axis=1).max(axis=1), "low": pd.concat([o, c], axis=1).min(axis=1),
                             "close": c, "volume": 1e6})

    frames = {
        #                s0   s1   s2   s3   s4   s5   s6
        "AAA": tight([99, 100, 101, 104, 110, 111, 112], [100, 100, 100, 108, 111, 112, 113]),  # s2 opens at its high, s4 at its low
        "BBB": tight([50, 50, 50, 47, 45, 44, 44], [50, 50, 51, 46, 44, 44, 44]),  # s2 opens at its low, s4 at its high
    }
    eps = [Episode(1, ["e1"], 1, S[2], S[4], {"AAA": 0.5, "BBB": -0.5})]
    targets = target_weights(eps, S, ["AAA", "BBB"])
    r = simulate(ScheduleStrategy, targets, frames, cash=10_000.0, commission_bps=0.0, slippage_bps=10.0, borrow_bps=0.0)
    f = r.fills.set_index(["date", "ticker"])
    up, down = 1 + 10.0 / 1e4, 1 - 10.0 / 1e4
    exact = dict(rel=1e-13, abs=0)  # exact but for float rounding
    assert f.loc[(S[2], "AAA"), "price"] == pytest.approx(101 * up, **exact)  # above the bar's high of 101
    assert f.loc[(S[2], "BBB"), "price"] == pytest.approx(50 * down, **exact)  # below the bar's low of 50
    assert f.loc[(S[4], "AAA"), "price"] == pytest.approx(110 * down, **exact)
    assert f.loc[(S[4], "BBB"), "price"] == pytest.approx(45 * up, **exact)
    # sizes from the s1 close: 5000/100 = 50 AAA, -5000/50 = -100 BBB
    assert f.loc[(S[2], "AAA"), "size"] == pytest.approx(50) and f.loc[(S[2], "BBB"), "size"] == pytest.approx(-100)
    pnl = 50 * (110 * down - 101 * up) - 100 * (45 * up - 50 * down)
    assert r.final_value == pytest.approx(10_000 + pnl, rel=1e-12)


def test_overlapping_events_extend_never_double():
    plans = pd.DataFrame({"event_id": ["e1", "e2"], "side": [1, 1], "entry": [S[2], S[3]], "exit": [S[4], S[5]]})
    eps, notes = build_episodes(plans, "extend")
    assert len(eps) == 1 and eps[0].exit == S[5] and eps[0].event_ids == ["e1", "e2"]
    assert notes["e2"] == "extended episode 1 (overlap rule 'extend')"
    eps[0].weights = dict(W)
    r = sim(eps)
    # one entry and one exit per leg: the size is never doubled
    assert len(r.fills) == 6
    assert r.fills.groupby("ticker")["size"].apply(lambda s: s.abs().max()).to_dict() == pytest.approx({"AAA": 50, "BBB": 50, "CCC": 125})
    assert set(r.fills["date"]) == {S[2], S[5]}
    # exposure in force through s4 and back to flat after the s5 open
    assert (r.exposure.loc[S[2]:S[4], "exposure"] > 0.9).all() and r.exposure.loc[S[5], "exposure"] == 0


def test_overlap_skip_and_opposite_side():
    plans = pd.DataFrame({"event_id": ["e1", "e2"], "side": [1, 1], "entry": [S[2], S[3]], "exit": [S[4], S[5]]})
    eps, notes = build_episodes(plans, "skip")
    assert len(eps) == 1 and eps[0].exit == S[4] and notes["e2"].startswith("skipped")
    plans["side"] = [1, -1]
    eps, notes = build_episodes(plans, "extend")
    assert [(e.side, e.entry, e.exit) for e in eps] == [(1, S[2], S[3]), (-1, S[3], S[5])]
    assert "cut short" in notes["e1"]


def test_close_fill_is_explicit_cheat_on_close():
    eps = [Episode(1, ["e1"], 1, S[2], S[4], dict(W))]
    r = sim(eps, fill="close")
    f = r.fills.set_index(["date", "ticker"])
    # decided and filled at the close of s2; sizes from that close: 5000/103
    assert f.loc[(S[2], "AAA"), "price"] == 103 and f.loc[(S[2], "AAA"), "size"] == pytest.approx(5000 / 103)
    assert f.loc[(S[4], "AAA"), "price"] == 111
    # exposure at each close: in the market after the s2 close fill, out after the s4 close fill
    e = r.exposure["exposure"]
    assert list(e.index) == list(S)
    assert e[S[1]] == 0 and e[S[2]] == pytest.approx(1.0) and e[S[3]] > 0.9 and e[S[4]] == 0


def test_fills_agree_with_backtrader_transactions():
    from backtests.engines.backtrader_engine import check_fills_agree

    r = sim(one_episode())
    # a transactions dict shaped like Backtrader's (bar datetime -> [size, price, sid, name, -value]), from the good fills
    tx = {}
    for row in r.fills.itertuples():
        tx.setdefault(pd.Timestamp(row.notified).to_pydatetime(), []).append([row.size, row.price, 0, row.ticker, -row.value])
    assert sum(len(v) for v in tx.values()) == len(r.fills) == 6
    check_fills_agree(r.fills, tx)  # agrees: must not raise (outside pytest.raises, so a false alarm fails the test)
    bad = r.fills.copy()
    bad.loc[0, "size"] += 1
    with pytest.raises(RuntimeError, match="disagree"):
        check_fills_agree(bad, tx)  # one share off: must raise
    with pytest.raises(RuntimeError, match="disagree"):
        check_fills_agree(r.fills.iloc[1:], tx)  # a fill missing: must raise


def test_strategy_returns_compound_to_final_value():
    r = sim(one_episode(), commission_bps=10.0, borrow_bps=3650.0)
    assert (1 + r.returns).prod() * 10_000 == pytest.approx(r.final_value)


def test_episode_pnl_agrees_with_backtrader_trade_analyzer():
    from backtests.engines.backtrader_engine import check_trades_agree

    r = sim(one_episode(), commission_bps=10.0)
    ta = r.trade_analysis
    assert ta["pnl"]["gross"]["total"] == pytest.approx(637.5) and ta["pnl"]["net"]["total"] == pytest.approx(637.5 - 20.4875)
    trades = pd.DataFrame({"episode": [1], "pnl_gross": [637.5], "commission": [20.4875]})
    check_trades_agree(trades, r.fills, ta)
    with pytest.raises(RuntimeError, match="disagrees"):
        check_trades_agree(trades.assign(pnl_gross=600.0), r.fills, ta)


def test_net_exposure_held_into_each_day_on_paper():
    """The net weight that earns day t is the book held over t valued at the close
    of t-1, over the value at t-1 (not the book at t's close, which already holds t's move)."""
    r = sim(one_episode())
    nh = r.exposure["net_held"]
    # s2: the new book (50 AAA, -50 BBB, -125 CCC) at the s1 close: 5000 - 2500 - 2500 = 0 over 10,000
    assert nh[S[2]] == pytest.approx(0.0, abs=1e-12)
    # s3: the same book at the s2 close: 50*103 - 50*48 - 125*20 = 250, over V(s2) = 10,000 + 262.5
    assert nh[S[3]] == pytest.approx(250 / 10_262.5, rel=1e-12)
    # s4: flat from the s4 open on
    assert nh[S[4]] == 0 and nh[S[1]] == 0


def test_net_exposure_held_into_each_day_with_close_fills():
    r = sim([Episode(1, ["e1"], 1, S[2], S[4], dict(W))], fill="close")
    nh = r.exposure["net_held"]
    # bought at the s2 close (sizes 5000/103 AAA, -2500/48 BBB, -2500/20 CCC): it earns day s3, valued at the s2 close
    assert nh[S[2]] == pytest.approx(0.0, abs=1e-12)
    assert nh[S[3]] == pytest.approx(0.0, abs=1e-9)  # dollar neutral at the s2 close it was sized at
    v3 = 10_000 + 5000 / 103 * (108 - 103) - 2500 / 48 * (46 - 48) - 125 * (21 - 20)
    assert nh[S[4]] == pytest.approx((5000 / 103 * 108 - 2500 / 48 * 46 - 125 * 21) / v3, rel=1e-9)
    assert nh[S[5]] == 0
