"""User strategies (issue 14): the shipped strategies on the decision API give the numbers they gave before it, a
strategy that reaches for later data fails on both engines and through the CLI, registration by decorator and by
entry point, parameter checks, sweeps with a registered strategy on both engines, the examples and the README's
code as written."""
from __future__ import annotations

import math
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from backtests.cli import main
from backtests.runner import run
from events.errors import InputError
from strategies import STRATEGIES, Decision, LookAheadError, register_strategy

ROOT = Path(__file__).resolve().parent.parent

#: a short run: about 1.5 years of the default events, a small placebo, no event study
SHORT = {"name": "short", "dates": {"start": "2024-01-02", "end": "2025-06-30"}, "placebo": {"n": 30},
         "study": {"enabled": False}, "output": {"tearsheet": False}}


# ---------------------------------------------------------------- the regression contract
# Recorded with the code before the decision API (commit cef042d): summary.json of `aibt run --config NAME`.
RECORDED = {
    "default": {"total_return": -0.018382329488035642, "sharpe": -0.08114019833397694, "excess_total_return": -0.01443177999323475,
                "alpha_tstat_hac": 0.03788128811299066, "n_trades": 39.0, "n_events": 45.0, "hit_rate": 0.46153846153846156, "placebo_p": 0.367},
    "signal_earnings": {"total_return": -0.05473693673241864, "sharpe": -0.490365746448484, "excess_total_return": -0.06269933588998211,
                        "alpha_tstat_hac": -1.2480105737858067, "n_trades": 4.0, "n_events": 31.0, "hit_rate": 0.25, "placebo_p": 0.965},
    "pre_earnings_runup": {"total_return": -0.010078795782960448, "sharpe": -0.03154548425773211, "excess_total_return": -0.008881748131134515,
                           "alpha_tstat_hac": 0.2710560902096052, "n_trades": 31.0, "n_events": 31.0, "hit_rate": 0.5483870967741935, "placebo_p": 0.402},
}


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_shipped_strategies_on_the_decision_api_give_the_recorded_numbers(name):
    r = run(name)
    for k, want in RECORDED[name].items():
        assert r.summary[k] == pytest.approx(want, rel=0, abs=1e-12), k
    if name == "signal_earnings":  # the side and the note of each release come from the signal row known at its entry
        t = r.events[r.events["traded"]]
        assert list(t["event_id"]) == ["earn_AMZN_FY2022Q1", "earn_AMZN_FY2022Q2", "earn_AMZN_FY2022Q3", "earn_AMZN_FY2022Q4"]
        assert t["reason"].iloc[0] == "traded: episode 1 (2022Q1: efficiency change +0.0232)"
        assert list(r.trades["pnl_net"]) == pytest.approx([-41349.375938, 10008.499093, -4561.431693, -18834.628194], abs=1e-5)
        assert (r.events.loc[r.events["selected"], "reason"] == "not traded: no signal known at entry").sum() == 1
    if name == "pre_earnings_runup":
        assert list(r.trades[["entry", "exit"]].iloc[0]) == ["2019-01-25", "2019-01-31"]


# ---------------------------------------------------------------- strategies that reach for later data
class NextClose:
    """Reads the close of the fill session itself: at an open fill it is not known yet."""

    params = {"exit_offset": 2}

    def decide(self, view, event):
        view.close(self.target, view.session)
        return Decision(1)


class UnreleasedCapex:
    """Reads the capex efficiency of the quarter after the last one released (its period may have ended)."""

    params = {"exit_offset": 2}

    def decide(self, view, event):
        last = view.signals["quarter"].iloc[-1]
        view.signal("capex_efficiency", str(pd.Period(last, freq="Q") + 1))
        return Decision(1)


class TomorrowsNews:
    """Asks for an event announced after its first decision, and swallows the error."""

    params = {"exit_offset": 2}

    def decide(self, view, event):
        try:
            view.event("amzn_anthropic_4b_2024")  # day 0 2024-11-22: not public at the first decision in 2024
        except LookAheadError:
            pass
        return Decision(1)


@pytest.mark.parametrize("engine", ["backtrader", "fast"])
@pytest.mark.parametrize("cls,field,text", [
    (NextClose, "AMZN close", "AMZN close of 2024-01-26 asked at a decision before the open of 2024-01-26: not yet known"),
    # 2023Q4 ended on 2023-12-31 but AMZN released it on 2024-02-01 (after the close): usable from 2024-02-02 only
    (UnreleasedCapex, "capex_efficiency 2023Q4", "AMZN capex_efficiency of 2023Q4 (period ending 2023-12-31) asked at a decision before "
                                                 "the open of 2024-01-26: not released yet"),
    (TomorrowsNews, "event amzn_anthropic_4b_2024", "event 'amzn_anthropic_4b_2024' asked at a decision before the open of 2024-01-26: not public"),
])
def test_reading_later_data_fails_on_both_engines(cls, field, text, engine):
    with pytest.raises(LookAheadError) as exc:
        run(SHORT, strategy=cls, engine=engine)
    assert isinstance(exc.value, InputError) and exc.value.field == field
    # the first decision of the run: the FTC event of 2024-01-25 (intraday), entered at the next open
    assert exc.value.message.startswith(f"strategy {cls.__name__}, deciding on ftc_6b_ai_partnerships: {text}")


def test_a_decision_cannot_enter_before_it_is_taken():
    class EarlyEntry:
        params = {"exit_offset": 2}
        entry_offset = "earliest"  # decides at day 0 ...

        def decide(self, view, event):
            return Decision(1, entry=-2) if event["scheduled"] else Decision(1)  # ... but asks for day -2

    cfg = {**SHORT, "events": {"bundled": False, "earnings": True, "categories": ["earnings"], "companies": ["AMZN"]}}
    with pytest.raises(LookAheadError, match=r"entry at offset -2 asked at a decision before the open of 2024-02-02 \(offset 0\)"):
        run(cfg, strategy=EarlyEntry)


def test_a_pre_event_entry_on_unscheduled_news_is_refused_with_the_planners_text():
    class PreEntry:
        params = {"exit_offset": 2}
        entry_offset = "earliest"

        def decide(self, view, event):
            return Decision(1, entry=-1)

    with pytest.raises(InputError, match="pre-event entry at offset -1 with fill 'open' on unscheduled event.*cannot be traded before it is public"):
        run(SHORT, strategy=PreEntry)


# ---------------------------------------------------------------- sizes, holds and notes, on paper
def test_sizes_holds_and_flat_decisions_reach_the_plan():
    class Rules:
        params = {"exit_offset": 2}
        max_size = 1.5

        def decide(self, view, event):
            a = event["amount_usd_bn"]
            if not a == a:
                return Decision(0, note="no amount")
            return Decision(1, size=a / 10.0, hold=3)

    r = run(SHORT, strategy=Rules)
    plans = r.planned.plans.set_index("event_id")
    amounts = r.planned.resolved.set_index("event_id")["amount_usd_bn"]
    sized = plans[plans["side"] != 0]
    assert (sized["size"] == np.minimum(amounts[sized.index] / 10.0, 1.5)).all()
    assert (sized.loc[sized["entry"].notna(), "exit"].map(r.planned.sessions.get_loc)
            - sized.loc[sized["entry"].notna(), "entry"].map(r.planned.sessions.get_loc) == 3).all()  # hold 3 sessions
    for e in r.planned.episodes:  # the opener's size times the configured gross (1.0), whatever the hedge basket
        assert sum(abs(w) for w in e.weights.values()) == pytest.approx(min(amounts[e.event_ids[0]] / 10.0, 1.5), abs=1e-12)
    reasons = r.events.set_index("event_id")["reason"]
    assert reasons["ftc_6b_ai_partnerships"] == "not traded: no amount"
    assert "size 3.75 cut to the maximum 1.5" in reasons["meta_capex_raise_2024q1"]  # $37.5B / 10


def test_bad_decisions_name_the_field():
    class Bad:
        params = {"exit_offset": 2}

        def decide(self, view, event):
            return Decision(2)

    with pytest.raises(InputError, match=r"field 'Decision.side': strategy Bad, deciding on ftc_6b_ai_partnerships: side 2"):
        run(SHORT, strategy=Bad)


# ---------------------------------------------------------------- registration and parameters
@register_strategy("test_amount_floor")
class AmountFloor:
    params = {"exit_offset": 2, "min_amount": 10.0, "side": 1}

    def check(self, params):
        return [("side", f"side {params['side']}", "1 or -1")] if params["side"] not in (1, -1) else []

    def decide(self, view, event):
        a = event["amount_usd_bn"]
        return Decision(self.p.side) if a == a and a >= self.p.min_amount else None


def test_a_registered_strategy_runs_from_a_config_and_validates_its_params():
    r = run({**SHORT, "strategy": {"kind": "test_amount_floor", "params": {"min_amount": 20}}})
    assert r.config["strategy"] == {"kind": "test_amount_floor", "params": {"exit_offset": 2, "min_amount": 20.0, "side": 1}}
    planned = r.planned.plans
    amounts = r.planned.resolved.set_index("event_id")["amount_usd_bn"]
    assert len(planned) and (amounts[planned["event_id"]] >= 20).all()  # None: no plan for the others
    assert r.events.set_index("event_id").at["ftc_6b_ai_partnerships", "reason"] == "not traded: no plan"
    for params, message in [({"min_amount": "big"}, "field 'strategy.params.min_amount': expected a number, got 'big'"),
                            ({"side": 2}, "field 'strategy.params.side': side 2 (expected 1 or -1)"),
                            ({"sidee": 1}, "unknown parameter 'sidee' for strategy test_amount_floor")]:
        with pytest.raises(InputError, match=re.escape(message)):
            run({**SHORT, "strategy": {"kind": "test_amount_floor", "params": params}})


def test_an_unknown_kind_lists_the_registered_names():
    with pytest.raises(InputError) as exc:
        run({"strategy": {"kind": "moonshot"}})
    msg = str(exc.value)
    assert "field 'strategy.kind': expected one of event_window, post_earnings_signal, pre_earnings_runup, buy_and_hold" in msg
    assert "test_amount_floor" in msg and "got 'moonshot'" in msg


def test_an_unregistered_class_runs_from_a_script_under_its_own_name():
    class Unlisted:
        params = {"exit_offset": 3}

        def decide(self, view, event):
            return Decision(-1)

    r = run(SHORT, strategy=Unlisted)
    assert r.config["strategy"] == {"kind": "Unlisted", "params": {"exit_offset": 3}}
    assert "Unlisted" not in STRATEGIES and (r.trades["side"] == -1).all() and len(r.trades) > 5


def test_a_shipped_config_lends_everything_but_its_strategy_params_to_a_script_strategy():
    """run("earnings_only", strategy=Mine): the config's universe, dates and events, with Mine's own defaults (the
    config's event_window params are not Mine's)."""
    class Mine:
        params = {"exit_offset": 3}

        def decide(self, view, event):
            return Decision(1)

    from backtests.config import load_config

    r = run("earnings_only", strategy=Mine)
    base = load_config("earnings_only")
    assert r.config["strategy"] == {"kind": "Mine", "params": {"exit_offset": 3}}
    assert r.config["events"] == base["events"] and r.config["dates"] == base["dates"] and len(r.trades) > 5


def test_a_user_strategy_that_raises_is_a_user_error_naming_its_code():
    class Broken:
        params = {"exit_offset": 2}

        def decide(self, view, event):
            return Decision(1 if 1 / 0 else -1)

    with pytest.raises(InputError, match=r"strategy Broken, deciding on .*your code raised ZeroDivisionError") as exc:
        run(SHORT, strategy=Broken)
    assert "test_user_strategies.py" in str(exc.value) and "in decide" in str(exc.value)


def test_a_name_cannot_be_taken_twice():
    with pytest.raises(ValueError, match="taken by"):
        register_strategy("event_window")(AmountFloor)


# ---------------------------------------------------------------- entry points, the CLI and sweeps
PLUGIN = '''
from strategies import Decision


class Fade:
    """Short AMZN after deals of at least min_amount, long after the others."""
    params = {"exit_offset": 2, "min_amount": 10.0}

    def decide(self, view, event):
        a = event["amount_usd_bn"]
        return Decision(-1 if a == a and a >= self.p.min_amount else 1)


class Peek:
    params = {"exit_offset": 2}

    def decide(self, view, event):
        view.close("AMZN", view.session)
        return Decision(1)
'''


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """An installed package (a dist-info on sys.path) shipping strategies through the ``aibt.strategies`` group."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "aibt_test_plugin.py").write_text(PLUGIN)
    dist = site / "aibt_test_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: aibt-test-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[aibt.strategies]\nplugin_fade = aibt_test_plugin:Fade\nplugin_peek = aibt_test_plugin:Peek\n")
    monkeypatch.syspath_prepend(str(site))
    return site


def test_entry_point_strategies_load_on_first_lookup(plugin):
    assert "plugin_fade" in STRATEGIES.names() and "plugin_fade" not in dict(STRATEGIES)
    r = run({**SHORT, "strategy": {"kind": "plugin_fade", "params": {"min_amount": 50}}})
    assert STRATEGIES["plugin_fade"].user.__module__ == "aibt_test_plugin"
    side = r.planned.plans.set_index("event_id")["side"]
    assert side["stargate_launch"] == -1 and side["aws_pennsylvania_20b"] == 1 and side["ftc_6b_ai_partnerships"] == 1  # $500B, $20B, none


def test_the_cli_exits_2_on_a_look_ahead(plugin, tmp_path, capsys):
    cfg = tmp_path / "peek.yaml"
    cfg.write_text(yaml.safe_dump({**SHORT, "strategy": {"kind": "plugin_peek"}}))
    assert main(["run", "--config", str(cfg), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "strategy plugin_peek, deciding on ftc_6b_ai_partnerships: AMZN close of 2024-01-26 asked at a decision before the open" in " ".join(err.split())
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_a_registered_strategy_sweeps_alike_on_both_engines(plugin, tmp_path):
    """aibt sweep --engine backtrader (local worker processes) and --engine fast on a 4-combination grid of an entry-point
    strategy: the same stored metrics."""
    from backtests.engines.parity import compare_summaries
    from backtests.reports.rundir import SUMMARY_KEYS
    from backtests.sweeps.store import load_results

    spec = tmp_path / "spec.yaml"
    base = {**SHORT, "strategy": {"kind": "plugin_fade"}, "placebo": {"enabled": False}}
    spec.write_text(yaml.safe_dump({"base": base, "params": {"strategy.params.min_amount": [0.0, 50.0], "costs.slippage_bps": [0.0, 5.0]},
                                    "search": "grid", "metric": "sharpe"}))
    for engine in ("backtrader", "fast"):
        assert main(["sweep", "run", str(spec), "--db", str(tmp_path / f"{engine}.db"), "--engine", engine, "--workers", "1"]) == 0
    bt, fast = (load_results(tmp_path / f"{e}.db").set_index("ordinal").sort_index() for e in ("backtrader", "fast"))  # keys name the engine
    assert len(bt) == 4 and (bt["status"] == "done").all() and (fast["status"] == "done").all() and list(bt.index) == list(fast.index)
    compared = [k for k in SUMMARY_KEYS if k not in ("placebo_p", "placebo_n")]
    for key in bt.index:
        assert not compare_summaries(bt.loc[key].to_dict(), fast.loc[key].to_dict(), compared), key
    assert bt["total_return"].nunique() == 4 and bt["n_trades"].min() > 5


def test_a_strategy_registered_in_the_sweeping_script_reaches_the_local_workers(tmp_path):
    """The local pool's workers (forkserver) import the script that calls run_sweep, so its module-level
    registration is there: what the README tells script authors."""
    script = tmp_path / "sweep_script.py"
    script.write_text(textwrap.dedent('''
        import sys
        from pathlib import Path
        import yaml
        from backtests.sweeps.driver import run_sweep
        from backtests.sweeps.store import load_results
        from strategies import Decision, register_strategy

        @register_strategy("script_fade")
        class ScriptFade:
            params = {"exit_offset": 2, "min_amount": 10.0}

            def decide(self, view, event):
                a = event["amount_usd_bn"]
                return Decision(-1 if a == a and a >= self.p.min_amount else 1)

        if __name__ == "__main__":
            here = Path(sys.argv[1])
            base = {"strategy": {"kind": "script_fade"}, "dates": {"start": "2024-01-02", "end": "2024-12-31"},
                    "placebo": {"enabled": False}, "study": {"enabled": False}, "output": {"tearsheet": False}}
            (here / "spec.yaml").write_text(yaml.safe_dump({"base": base, "params": {"strategy.params.min_amount": [0.0, 50.0]},
                                                            "search": "grid", "metric": "sharpe"}))
            run_sweep(here / "spec.yaml", here / "s.db", workers=2, backend="local", engine="backtrader")
            r = load_results(here / "s.db")
            print("STATUS", ",".join(sorted(r["status"])), r["total_return"].nunique())
    '''))
    p = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert "STATUS done,done 2" in p.stdout, p.stdout + p.stderr


# ---------------------------------------------------------------- the examples and the README
def test_example_amount_sized_caps_the_size_of_big_deals():
    from backtests.examples import amount_sized

    r = amount_sized.run_example(start="2025-01-02", end="2025-12-31", placebo_n=30)
    amounts = r.planned.resolved.set_index("event_id")["amount_usd_bn"]
    gross, cap, per_bn = r.config["portfolio"]["gross"], 1.5, 0.01
    capped = uncapped = 0
    for e in r.planned.episodes:
        want = min(amounts[e.event_ids[0]] * per_bn, cap) * gross
        assert sum(abs(w) for w in e.weights.values()) == pytest.approx(want, abs=1e-12)
        capped += want == cap * gross
        uncapped += want < cap * gross
    assert capped >= 2 and uncapped >= 2  # e.g. Stargate ($500B) at the cap, the $20B Pennsylvania campus at 0.2
    flat = r.events[r.events["selected"] & r.events["reason"].str.contains("no amount to size by")]
    assert len(flat) and not flat["traded"].any()
    assert r.summary["n_trades"] == len(r.trades) > 5


def test_example_backlog_acceleration_trades_only_accelerating_quarters():
    from backtests.examples import backlog_acceleration

    r = backlog_acceleration.run_example(start="2025-06-02", placebo_n=30)
    sig = r.planned.signals
    plans = r.planned.plans
    checked = 0
    for _, p in plans[plans["entry"].notna()].iterrows():
        known = sig[sig["available"] <= p["entry"]]  # what was public at the entry fill, rebuilt without the view
        q = known["quarter"].iloc[-1]
        vals = known.dropna(subset=["backlog_growth_qoq"]).groupby("quarter")["backlog_growth_qoq"].last()
        prev = str(pd.Period(q, freq="Q") - 1)
        accel = vals[q] - vals[prev] if q in vals and prev in vals else math.nan
        assert (p["side"] == 1) == (accel > 0), (p["event_id"], accel)
        checked += 1
    assert checked >= 4 and 1 <= (plans["side"] == 1).sum() < checked
    assert set(r.trades["side"]) == {1}


def test_example_category_holding_holds_custom_silicon_longer():
    from backtests.examples import category_holding

    r = category_holding.run_example(start="2023-06-01", end="2025-06-30", placebo_n=30)
    p = r.planned.plans[r.planned.plans["entry"].notna()]
    held = p["exit"].map(r.planned.sessions.get_loc) - p["day0_pos"]
    silicon = p["category"].str.split("+").map(lambda c: "custom_silicon" in c)
    assert silicon.sum() >= 2 and (held[silicon] == 10).all() and (held[~silicon] == 2).all()


def test_the_readme_section_runs_as_written(capsys):
    text = (ROOT / "README.md").read_text()
    section = text.split("## Write your own strategy", 1)[1].split("\n## ", 1)[0]
    assert len(section.strip().splitlines()) < 40
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == ["backtrader", "fast"]
    assert out[0].split(",")[0].split()[1:] == out[1].split(",")[0].split()[1:]  # the same number of trades


def test_the_placebo_beta_hedge_keeps_a_decisions_size():
    """Under hedge: beta the placebo re-weighs each placed holding at its own entry; a holding of 1.5 x gross (a
    decision's size) keeps its gross of 1.5 (one of 1.0 is as before)."""
    from backtests.runner import _beta_reweigh, plan_run
    from backtests.config import resolve
    from strategies.hedge import leg_weights, trailing_beta

    pl = plan_run(resolve({**SHORT, "portfolio": {"hedge": "beta"}}))
    tickers = ["AMZN", "MSFT", "GOOGL", "META", "ORCL"]
    pf = pl.cfg["portfolio"]
    f = _beta_reweigh(pl.ctx.returns, "AMZN", tickers, pf)
    w = np.array([[[0.75, -0.1875, -0.1875, -0.1875, -0.1875], [0.5, -0.125, -0.125, -0.125, -0.125]]])
    entry = np.array([[200, 200]])
    out = f(entry, w)
    beta = trailing_beta(pl.ctx.returns, "AMZN", tickers[1:], pl.sessions[199], pf["beta_window"])
    for h, gross in enumerate([1.5, 1.0]):
        want = leg_weights(1, "AMZN", tickers[1:], gross, pf["long_share"], "beta", beta)
        assert out[0, h] == pytest.approx([want[t] for t in tickers], rel=1e-12)
        assert np.abs(out[0, h]).sum() == pytest.approx(gross, rel=1e-12)


@pytest.mark.parametrize("clusters,ok", [("merge", False), ("first", False), ("keep", True)])
def test_entries_before_day_0_refuse_a_cluster_rule_that_would_look_at_later_news(clusters, ok):
    """A scheduled release (S, amc 14 Mar) entered 3 sessions before, and unscheduled news (U) the next morning: with
    'merge' or 'first', whether S is traded (and how) would depend on U, which is not news at S's entry."""
    class PreSched:
        params = {"exit_offset": 1}
        entry_offset = -3

        def decide(self, view, event):
            return Decision(1)

    row = dict(company="AMZN", tickers_affected="AMZN", headline="h", amount_usd_bn=1.0, source_url="", confidence="high")
    evs = pd.DataFrame([dict(row, event_id="S_sched", date=pd.Timestamp("2024-03-14"), time="amc", scheduled=True, category="capex_guidance"),
                        dict(row, event_id="U_news", date=pd.Timestamp("2024-03-15"), time="bmo", scheduled=False, category="ai_investment")])
    cfg = {"dates": {"start": "2024-01-02", "end": "2024-06-28"}, "placebo": {"enabled": False}, "study": {"enabled": False},
           "events": {"bundled": False, "earnings": False, "clusters": clusters, "tickers": [], "categories": ["capex_guidance"]}}
    if ok:
        assert run(cfg, strategy=PreSched, events=evs).summary["n_trades"] == 1
    else:
        # merge: the merged unit holds unscheduled news, which the planner refuses to enter early; first: the rule itself
        with pytest.raises(InputError, match=f"cluster rule '{clusters}' with entries before day 0|pre-event entry .* on unscheduled"):
            run(cfg, strategy=PreSched, events=evs.assign(category=["capex_guidance", "capex_guidance"]))


def test_strategy_params_refuse_nan_infinity_and_list_items_of_another_type():
    from backtests.config import resolve

    class Typed:
        params = {"threshold": 0.5, "windows": [1, 2]}

        def decide(self, view, event):
            return None

    for bad, text in (({"threshold": float("nan")}, "finite number"), ({"threshold": float("inf")}, "finite number"),
                      ({"windows": ["a"]}, "expected a list of int")):
        with pytest.raises(InputError, match=text):
            resolve({"strategy": {"params": bad}}, strategy=Typed)
    assert resolve({"strategy": {"params": {"windows": [3]}}}, strategy=Typed)["strategy"]["params"]["windows"] == [3]


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as hst  # noqa: E402


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entry=hst.integers(-5, 0), fill=hst.sampled_from(["open", "close"]))
def test_through_the_framework_every_view_a_strategy_gets_ends_at_its_decision(entry, fill):
    """Property over decision points chosen by the framework (plan_decisions, not a hand-built view): for random entry
    offsets and fills, every view a strategy receives has no close after its decision, only events public by its
    fill, signal rows available by its session, and the event decided on is one of them (with its release's
    headline only once released)."""
    from strategies.view import LookAheadError as LAE

    seen = []

    class Recorder:
        params = {"exit_offset": 3}
        entry_offset = entry if entry < 0 else "earliest"  # before day 0 on scheduled releases; else each event's first fill

        def decide(self, view, event):
            seen.append((view.session, view.fill, view.last_close, view.returns.index.max() if len(view.returns) else None,
                         view.events, view.signals["available"].max() if len(view.signals) else None, event))
            return Decision(1)

    events = {"earnings": True, "clusters": "keep", **({"categories": ["earnings"], "tickers": ["AMZN"]} if entry < 0 else {})}
    cfg = {"dates": {"start": "2023-06-01", "end": "2025-06-30"}, "placebo": {"enabled": False}, "study": {"enabled": False},
           "events": events, "portfolio": {"fill": fill}, "output": {"tearsheet": False}}
    run(cfg, strategy=Recorder, engine="fast")
    assert seen
    for session, f, last, ret_max, events, sig_max, event in seen:
        assert last is not None and (last < session if f == "open" else last == session) and ret_max == last
        assert sig_max is None or sig_max <= session
        assert event["event_id"] in set(events["event_id"])
        released = event["day0"] < session or (event["day0"] == session and (f == "close" or event["time"] in ("bmo", "amc")))
        if not released:
            with pytest.raises(LAE):
                event["headline"]
