"""The statistics of a run: event study, performance regressions, signal regressions.

:func:`study_for_config` runs the event study on the config's event selection
(with the study's own cluster rule) over the full price history (estimation
windows may reach before the run's start), plus:

* performance: the strategy's daily returns regressed on the peer basket and
  on the market with Newey-West (HAC) errors (when a run result is given);
* signals: for the target's earnings releases, the peer-adjusted CAR regressed
  on the capex-efficiency change and backlog growth known at day 0 (HC3).

:func:`write_study` writes ``study.json``, ``study.csv`` and
``abnormal_returns.csv`` into a directory.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.eventstudy import TABLE_COLUMNS, EventStudy, EventStudyResults, StudySettings
from backtests.marketdata import load_prices
from backtests.performance import alpha_beta_hac
from backtests.signalreg import regress, signals_at
from events.align import Window, align
from events.clusters import apply_policy, find_clusters
from events.loader import load_calendar

SIGNALS = ["capex_efficiency_chg", "backlog_growth_qoq", "backlog_growth_yoy"]  # a subset of runner.RUN_SIGNALS


@dataclass
class StudyOutput:
    results: EventStudyResults
    performance: dict
    signals: dict
    fingerprints: dict


def _returns(tickers) -> tuple[pd.DataFrame, dict]:
    prices = load_prices(tickers)
    closes = pd.DataFrame({t: d.total_return_ohlc()["close"] for t, d in prices.data.items()})
    return closes.pct_change(), {f"prices/{t}.csv": d.sha256 for t, d in prices.data.items()}


def settings_from(cfg: dict) -> StudySettings:
    s = cfg["study"]
    return StudySettings(windows=tuple(s["windows"]), bhar_windows=tuple(s["bhar_windows"]), estimation=s["estimation"], gap=s["gap"],
                         min_estimation=s["min_estimation"], models=tuple(s["models"]), market=s["market"], clusters=s["clusters"])


def study_for_config(cfg: dict, run_result=None) -> StudyOutput:
    from backtests.runner import select_events

    u = cfg["universe"]
    st = settings_from(cfg)
    peers = [p for p in u["peers"] if p != u["target"]]
    rets, prints = _returns(list(dict.fromkeys([u["target"], *peers, st.market, u["market"]])))
    sessions = rets.index
    start = pd.Timestamp(cfg["dates"]["start"])
    end = pd.Timestamp(cfg["dates"]["end"]) if cfg["dates"]["end"] else sessions[-1]
    run_sessions = sessions[(sessions >= start) & (sessions <= end)]
    cal, _, sel, _ = select_events(cfg["events"], sessions, run_sessions)
    prints.update({f"events/{Path(k).name}": v for k, v in cal.fingerprints.items()})
    a = align(sel, sessions)
    windows = [Window.parse(w) for w in st.windows]
    events = apply_policy(find_clusters(a, min(w.pre for w in windows), max(w.post for w in windows)), st.clusters)
    res = EventStudy(rets, events, u["target"], peers, st).fit()

    perf = {}
    if run_result is not None:
        r = run_result.returns
        perf["vs_peer_basket"] = alpha_beta_hac(r["strategy"], r["peer_basket"])
        mkt = rets[u["market"]].reindex(r.index)
        perf["vs_market"] = alpha_beta_hac(r["strategy"], mkt)
        perf["market"] = u["market"]
    sig, sprints = signal_regressions(cfg, rets, sessions, peers)
    prints.update(sprints)
    return StudyOutput(res, perf, sig, prints)


def signal_regressions(cfg, rets, sessions, peers) -> tuple[dict, dict]:
    """Peer-adjusted CAR of the target's releases on its signals known at day 0."""
    from backtests.runner import target_signals  # the same memoised table a run uses

    u = cfg["universe"]
    table, fund_prints = target_signals(u["target"])
    cal = load_calendar(bundled=False, earnings=True)
    earn = cal.frame[(cal.frame["category"] == "earnings") & (cal.frame["company"] == u["target"])]
    earn = earn[earn["day0"].isin(sessions)]
    st = settings_from(cfg)
    st = StudySettings(windows=tuple(cfg["study"]["signal_windows"]), bhar_windows=(), estimation=st.estimation, gap=st.gap,
                       min_estimation=st.min_estimation, models=("peer_adjusted",), market=st.market, clusters="keep")
    res = EventStudy(rets, align(earn, sessions), u["target"], peers, st).fit()
    sig = signals_at(res.events, table, SIGNALS)
    out = {"events": int(len(res.events)), "dependent": "peer-adjusted CAR (fraction)", "cov": "HC3", "regressions": []}
    for w in st.windows:
        car = res.car[(res.car["window"] == w)].set_index("event_id")["car"].rename("car")
        frame = sig.set_index("event_id").join(car)
        for xs in (["capex_efficiency_chg"], ["backlog_growth_qoq"], ["capex_efficiency_chg", "backlog_growth_yoy"]):
            r = regress(frame, "car", xs)
            r["window"] = w
            out["regressions"].append(r)
        out.setdefault("data", {})[w] = [
            {"event_id": i, "quarter": row["quarter"], "car": _f(row["car"]), **{n: _f(row[n]) for n in SIGNALS}} for i, row in frame.iterrows()
        ]
    return out, fund_prints


def _f(v):
    return float(v) if v is not None and np.isfinite(v) else None


def _clean(o):
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, (float, np.floating)):
        return float(o) if np.isfinite(o) else None
    if isinstance(o, np.integer):
        return int(o)
    return o


def write_study(out: StudyOutput, directory: Path) -> None:
    """study.json, study.csv and abnormal_returns.csv (DESIGN.md columns)."""
    from backtests.rundir import write_csv

    doc = out.results.to_dict()
    doc["clusters_rule"] = out.results.settings.clusters
    doc["performance"] = out.performance
    doc["signal_regressions"] = out.signals
    (directory / "study.json").write_text(json.dumps(_clean(doc), indent=2) + "\n")
    write_csv(out.results.table[TABLE_COLUMNS], directory / "study.csv")
    write_csv(out.results.ar[["event_id", "model", "day", "ar"]], directory / "abnormal_returns.csv")
