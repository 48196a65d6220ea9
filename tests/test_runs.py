"""Runs on the bundled data: every shipped config, legality of every entry,
independent recomputation of summary.json, determinism, and input errors."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from backtests.cli import main
from backtests.config import bundled_config, bundled_configs, load_config
from backtests.runner import run

SUMMARY_KEYS = ["start", "end", "total_return", "cagr", "ann_vol", "sharpe", "sortino", "max_drawdown", "calmar", "excess_total_return",
                "information_ratio", "alpha_ann", "beta", "alpha_tstat_hac", "n_trades", "n_events", "hit_rate", "exposure", "placebo_p", "placebo_n",
                "n_events_calendar", "n_events_selected", "n_events_tradable", "n_events_traded"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every shipped config, run once through the CLI into its own directory."""
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for name in bundled_configs():
        d = root / name
        assert main(["run", "--config", str(bundled_config(name)), "--out", str(d)]) == 0, name
        out[name] = d
    return out


def test_shipped_configs_include_the_required_ones():
    assert {"default", "earnings_only", "signal_earnings", "capex_guidance"} <= set(bundled_configs())


def test_every_config_writes_the_contracted_directory(runs):
    for name, d in runs.items():
        for f in ("config.yaml", "manifest.json", "summary.json", "returns.csv", "trades.csv", "events.csv"):
            assert (d / f).exists(), (name, f)
        s = json.loads((d / "summary.json").read_text())
        assert list(s) == SUMMARY_KEYS
        r = pd.read_csv(d / "returns.csv")
        assert list(r.columns) == ["date", "strategy", "amzn", "peer_basket", "benchmark"]
        m = json.loads((d / "manifest.json").read_text())
        assert m["config_hash"] and all(len(v) == 64 for v in m["data_sha256"].values())
        assert "prices/AMZN.csv" in m["data_sha256"]
        assert not list(d.parent.glob(".*tmp*"))


def _legal_first_entry(ev, notice=5):
    """Earliest open-fill session at which this event could be traded, worked out from events.csv alone."""
    from backtests.market.marketdata import load_prices

    sessions = load_prices(["AMZN"])["AMZN"].frame.index
    p = sessions.get_loc(pd.Timestamp(ev["reaction_session"]))
    if ev["scheduled"]:
        return sessions[p - notice]
    return sessions[p + (1 if ev["time"] in ("intraday", "unknown") else 0)]


def test_no_trade_enters_before_its_earliest_legal_entry(runs):
    checked = 0
    for name, d in runs.items():
        ev = pd.read_csv(d / "events.csv")
        for _, e in ev[ev["traded"]].iterrows():
            assert pd.Timestamp(e["entry_session"]) >= _legal_first_entry(e), (name, e["event_id"])
            checked += 1
        trades = pd.read_csv(d / "trades.csv")
        # an episode never enters before the earliest of its own events
        for _, t in trades.iterrows():
            ids = [i for i in str(t["event_ids"]).split("+") if i and i != "nan"]
            if ids:
                own = ev[ev["event_id"].isin(ids)]
                assert pd.Timestamp(t["entry"]) >= min(_legal_first_entry(e) for _, e in own.iterrows())
    assert checked > 100


def test_summary_agrees_with_independent_recomputation(runs):
    for name, d in runs.items():
        s = json.loads((d / "summary.json").read_text())
        r = pd.read_csv(d / "returns.csv", index_col="date")
        x, b = r["strategy"].to_numpy(), r["peer_basket"].to_numpy()
        n = len(x)
        tot = np.prod(1 + x) - 1
        assert s["total_return"] == pytest.approx(tot, rel=1e-9, abs=1e-12), name
        assert s["cagr"] == pytest.approx((1 + tot) ** (252 / n) - 1, rel=1e-9, abs=1e-12)
        assert s["ann_vol"] == pytest.approx(x.std(ddof=1) * math.sqrt(252), rel=1e-9)
        assert s["sharpe"] == pytest.approx(x.mean() / x.std(ddof=1) * math.sqrt(252), rel=1e-9)
        down = np.sqrt(np.mean(np.minimum(x, 0) ** 2)) * math.sqrt(252)
        assert s["sortino"] == pytest.approx(x.mean() * 252 / down, rel=1e-9)
        wealth = np.cumprod(1 + x)
        mdd = np.min(wealth / np.maximum.accumulate(np.maximum(wealth, 1.0)) - 1)
        assert s["max_drawdown"] == pytest.approx(mdd, rel=1e-9, abs=1e-12) and s["max_drawdown"] <= 0
        # excess over a basket position of the same net exposure, held over each session (DESIGN.md)
        held = pd.read_csv(d / "exposure.csv", index_col="date")["net_held"].to_numpy()  # checked against the fills in test_pointintime_runs
        a = x - held * b
        assert s["excess_total_return"] == pytest.approx(np.prod(1 + a) - 1, rel=1e-9, abs=1e-12), name
        assert s["information_ratio"] == pytest.approx(a.mean() / a.std(ddof=1) * math.sqrt(252), rel=1e-9, abs=1e-12), name
        beta = np.cov(x, b, ddof=1)[0, 1] / np.var(b, ddof=1)
        alpha = x.mean() - beta * b.mean()
        assert s["beta"] == pytest.approx(beta, rel=1e-7, abs=1e-10)
        assert s["alpha_ann"] == pytest.approx((1 + alpha) ** 252 - 1, rel=1e-6, abs=1e-10)
        trades = pd.read_csv(d / "trades.csv")
        assert s["n_trades"] == len(trades)
        if len(trades):
            assert s["hit_rate"] == pytest.approx((trades["pnl_net"] > 0).mean())
            # the trades' net P&L adds up to what the portfolio earned
            cash = load_config(d / "config.yaml")["portfolio"]["cash"]
            assert trades["pnl_net"].sum() == pytest.approx(cash * tot, rel=1e-6, abs=1e-3)


def test_real_numbers_default_run(runs):
    s = json.loads((runs["default"] / "summary.json").read_text())
    assert s["start"] == "2022-11-01" and s["end"] == "2026-10-06"
    assert s["n_events"] == 45 and s["n_trades"] == 39
    ev = pd.read_csv(runs["default"] / "events.csv").set_index("event_id")
    # the 2026-04-20 amc Anthropic deal: day 0 2026-04-21, entered at its open
    assert ev.loc["anthropic_amzn_5gw", "reaction_session"] == "2026-04-21"
    assert ev.loc["anthropic_amzn_5gw", "entry_session"] == "2026-04-21" and ev.loc["anthropic_amzn_5gw", "traded"]
    assert ev.loc["msft_capex_fy26q1", "reason"] == "not selected: affects none of AMZN"
    assert not ev.loc["msft_capex_fy26q1", "traded"]


def test_buy_and_hold_amzn_tracks_amzn(runs):
    r = pd.read_csv(runs["buy_and_hold_amzn"] / "returns.csv", index_col="date")
    from backtests.market.marketdata import load_prices

    tr = load_prices(["AMZN"])["AMZN"].total_return_ohlc()
    cash = 1_000_000.0
    shares = 0.98 * cash / tr.at[pd.Timestamp("2022-11-01"), "close"]  # sized at the decision close (2% cash buffer)
    fill = tr.at[pd.Timestamp("2022-11-02"), "open"] * (1 + 2e-4)  # 2 bps slippage
    pnl = shares * (tr["close"].iloc[-1] - fill) - shares * fill * 1e-4  # 1 bp commission, no exit
    assert (1 + r["strategy"]).prod() - 1 == pytest.approx(pnl / cash, rel=1e-9)


def test_same_inputs_give_byte_identical_outputs(tmp_path):
    for k in ("a", "b"):
        assert main(["run", "--out", str(tmp_path / k)]) == 0
    for f in ("summary.json", "returns.csv", "trades.csv", "events.csv", "config.yaml"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_python_api_returns_frames():
    res = run({"strategy": {"kind": "event_window", "params": {"exit_offset": 3}}, "events": {"categories": ["custom_silicon"], "earnings": False}})
    assert res.config["strategy"]["params"]["exit_offset"] == 3
    assert set(res.returns.columns) == {"strategy", "amzn", "peer_basket", "benchmark"}
    assert res.summary["n_events"] == 6 and len(res.trades) >= 1


@pytest.mark.parametrize(
    "yaml_text, needle",
    [
        ("costs: {commision_bps: 1}\n", "field 'costs.commision_bps': unknown key 'commision_bps'"),
        ("costs: {commission_bps: cheap}\n", "field 'costs.commission_bps': expected a number"),
        ("strategy: {kind: event_window, params: {exit_ofset: 2}}\n", "field 'strategy.params.exit_ofset': unknown parameter"),
        ("strategy: {kind: moonshot}\n", "field 'strategy.kind': expected one of"),
        ("universe: {peers: [AMZN, MSFT]}\n", "field 'universe.peers': the target AMZN is in its own peer basket"),
        ("dates: {start: 2024-02-30}\n", "field 'dates.start'"),
        ("events: {categories: [rumours]}\n", "field 'events.categories'"),
        ("costs: [1, 2\n", "line 2: not valid YAML"),
    ],
)
def test_bad_config_exits_2_naming_file_and_key(tmp_path, capsys, yaml_text, needle):
    """Errors found in the config file itself: the message starts with the file, then its line or key path."""
    p = tmp_path / "bad.yaml"
    p.write_text(yaml_text)
    out = tmp_path / "out"
    assert main(["run", "--config", str(p), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"aibt: error: {p}, {needle}" in err, err
    assert "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob(".out*"))


RUN_LEVEL_ERRORS = [
    ("strategy: {kind: event_window, params: {entry_offset: -2}}\nevents: {earnings: false}\n",
     "field 'strategy.params.entry_offset': pre-event entry at offset -2 with fill 'open' on unscheduled event(s)"),
    ("strategy: {kind: pre_earnings_runup}\nevents: {earnings: false}\n", "field 'events.categories': pre_earnings_runup needs scheduled events"),
]


@pytest.mark.parametrize("yaml_text, needle", RUN_LEVEL_ERRORS)
def test_bad_config_found_by_the_run_exits_2_with_key_path(tmp_path, capsys, yaml_text, needle):
    """Errors found only when the config meets the events (raised by the strategies, not the config loader)."""
    p = tmp_path / "bad.yaml"
    p.write_text(yaml_text)
    out = tmp_path / "out"
    assert main(["run", "--config", str(p), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"aibt: error: {needle}" in err or f"aibt: error: {p}, {needle}" in err, err
    assert "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob(".out*"))


@pytest.mark.parametrize("yaml_text, needle", RUN_LEVEL_ERRORS)
def test_bad_config_found_by_the_run_names_the_config_file(tmp_path, capsys, yaml_text, needle):
    p = tmp_path / "bad.yaml"
    p.write_text(yaml_text)
    assert main(["run", "--config", str(p), "--out", str(tmp_path / "out")]) == 2
    assert f"aibt: error: {p}, {needle}" in capsys.readouterr().err


def test_failure_leaves_no_half_written_directory(tmp_path):
    from backtests.reports.rundir import write_run
    import datetime as dt

    res = run()
    out = tmp_path / "run"

    def boom(d):
        (d / "partial.txt").write_text("x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_run(res, out, dt.datetime.now(dt.timezone.utc), extra_writers=[boom])
    assert not out.exists() and list(tmp_path.iterdir()) == []
    # an existing good directory survives a failed re-run untouched
    write_run(res, out, dt.datetime.now(dt.timezone.utc))
    before = (out / "summary.json").read_bytes()
    with pytest.raises(RuntimeError):
        write_run(res, out, dt.datetime.now(dt.timezone.utc), extra_writers=[boom])
    assert (out / "summary.json").read_bytes() == before and not (out / "partial.txt").exists()


def test_event_company_is_never_in_its_own_basket(runs):
    t = pd.read_csv(runs["capex_guidance"] / "trades.csv").set_index("event_ids")
    # Meta's own capex raise: long AMZN against MSFT, GOOGL, ORCL only
    assert t.loc["meta_capex_raise_2024q1", "basket"] == "MSFT;GOOGL;ORCL"
    assert t.loc["googl_capex_2025_75b+amzn_q4_2024_capex", "basket"] == "MSFT;META;ORCL"
    # AMZN's own events keep the full basket (the target is never in it)
    assert t.loc["amzn_q3_2025_capex", "basket"] == "MSFT;GOOGL;META;ORCL"


def test_event_files_are_relative_to_the_config(tmp_path, monkeypatch):
    d = tmp_path / "project"
    d.mkdir()
    (d / "mine.csv").write_text(
        "event_id,date,time,scheduled,company,tickers_affected,category,headline,amount_usd_bn,source_url,confidence\n"
        "my_event,2024-06-03,bmo,false,AMZN,AMZN,custom_silicon,my own event,,,low\n"
    )
    (d / "cfg.yaml").write_text("events: {files: [mine.csv], bundled: false, earnings: false}\nstudy: {enabled: false}\noutput: {tearsheet: false}\n")
    monkeypatch.chdir(tmp_path)  # somewhere else
    assert main(["run", "--config", str(d / "cfg.yaml"), "--out", str(tmp_path / "out")]) == 0
    ev = pd.read_csv(tmp_path / "out" / "events.csv").set_index("event_id")
    assert ev.loc["my_event", "traded"] and ev.loc["my_event", "entry_session"] == "2024-06-03"
