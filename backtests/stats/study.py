"""The statistics of a run: event study, performance regressions, signal regressions.

:func:`study_for_config` runs the event study on the config's event selection
(with the study's own cluster rule) over the full price history (estimation
windows may reach before the run's start). Estimation windows leave out the
whole calendar around the target, not only the selected events (see
:func:`calendar_exclusions`). Plus:

* performance: the strategy's daily returns regressed on the peer basket and
  on the market with Newey-West (HAC) errors (when a run result is given);
* signals: for the target's earnings releases, the peer-adjusted CAR regressed
  on the capex-efficiency change and backlog growth known at day 0 (HC3).

:func:`backtests.reports.rundir.write_study` writes ``study.json``, ``study.csv`` and
``abnormal_returns.csv`` into a directory.

Counting rule shared by ``study.csv`` and ``abnormal_returns.csv``: an event
counts in window ``a:b`` of a model when abnormal_returns.csv has its AR for
every day ``a..b`` and, if its ``needs_day1`` is true (an ``unknown``-time
event, DESIGN's rule), only when ``b >= 1``. Summing ``ar`` over ``a..b`` for
the events that count in a group (``category`` split on ``+``, ``scheduled``)
and averaging gives that row's ``caar``; their number is its ``n``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.stats.eventstudy import EventStudy, EventStudyResults, StudySettings
from backtests.market.marketdata import check_dates_in_data, load_prices, unpriced_problems
from backtests.stats.performance import alpha_beta_hac
from backtests.stats.signalreg import regress, signals_at
from events.align import Window, align
from events.clusters import apply_policy, find_clusters
from events.errors import InputError
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
                         min_estimation=s["min_estimation"], models=tuple(s["models"]), market=s["market"], clusters=s["clusters"],
                         path_start=s["path_start"])


def calendar_exclusions(calendar: pd.DataFrame, target: str, peers, sessions: pd.DatetimeIndex, lo: int, hi: int) -> pd.DatetimeIndex:
    """Sessions that no estimation window may use: the span ``[day0 + lo, day0 + hi]``
    of every calendar event that concerns the target or its peers.

    An event concerns them when its ``tickers`` include the target or a peer,
    or its ``company`` (``+``-joined for merged events) is the target or a
    peer: the target's own earnings and AI-infrastructure news, the peers'
    earnings and announcements (which move the peer basket), and third
    parties' news that names the target or a peer (e.g. a chip maker's deal
    with a peer). ``lo``/``hi``: the earliest and latest offsets of the
    study's test windows. Events whose day 0 is not in ``sessions`` are ignored.
    """
    who = {target, *peers}
    if calendar is None or not len(calendar):
        return pd.DatetimeIndex([])
    concerns = [bool(who & set(ts if isinstance(ts, (tuple, list, set)) else str(ts).split(","))) or bool(who & set(str(c).split("+")))
                for ts, c in zip(calendar["tickers"], calendar["company"])]
    day0 = pd.DatetimeIndex(calendar.loc[concerns, "day0"])
    pos = sessions.get_indexer(day0)
    keep = np.zeros(len(sessions), dtype=bool)
    for p in pos[pos >= 0]:
        keep[max(p + lo, 0): p + hi + 1] = True
    return sessions[keep]


def _whole_calendar(cfg: dict, sessions: pd.DatetimeIndex):
    """The bundled AI-infrastructure events and earnings plus the config's own event files."""
    return load_calendar(cfg["events"]["files"], bundled=True, earnings=True, price_range=(sessions[0], sessions[-1]),
                         inline=cfg["events"].get("inline"))


def study_for_config(cfg: dict, run_result=None) -> StudyOutput:
    """The event study of ``cfg``'s events (and performance and signal regressions).

    Estimation windows leave out, besides the selected events' own test
    windows, every session in :func:`calendar_exclusions` of the whole
    calendar (bundled AI-infrastructure events, every company's earnings and
    the config's event files, whatever the config selects): each event whose
    tickers include the target or whose company is the target or a peer, from
    ``day0 + lo`` to ``day0 + hi`` (the test windows' extreme offsets).
    """
    from backtests.inputs import select_events

    u = cfg["universe"]
    st = settings_from(cfg)
    peers = [p for p in u["peers"] if p != u["target"]]
    missing = unpriced_problems({"universe.target": u["target"], **{f"universe.peers[{i}]": p for i, p in enumerate(u["peers"])},
                                 "study.market": st.market, "universe.market": u["market"]})
    if missing:
        raise InputError(missing)
    rets, prints = _returns(list(dict.fromkeys([u["target"], *peers, st.market, u["market"]])))
    sessions = rets.index
    start = pd.Timestamp(cfg["dates"]["start"])
    end = pd.Timestamp(cfg["dates"]["end"]) if cfg["dates"]["end"] else sessions[-1]
    check_dates_in_data(cfg)  # as a run: dates outside the target's price data are refused, never silently clipped
    run_sessions = sessions[(sessions >= start) & (sessions <= end)]
    cal, _, sel, _ = select_events(cfg["events"], sessions, run_sessions)
    prints.update({f"events/{Path(k).name}": v for k, v in cal.fingerprints.items()})
    a = align(sel, sessions)
    windows = [Window.parse(w) for w in st.windows]
    lo, hi = min(w.pre for w in windows), max(w.post for w in windows)
    events = apply_policy(find_clusters(a, lo, hi), st.clusters)
    whole = _whole_calendar(cfg, sessions)
    prints.update({f"events/{Path(k).name}": v for k, v in whole.fingerprints.items()})
    exclude = calendar_exclusions(whole.frame, u["target"], peers, sessions, lo, hi)
    res = EventStudy(rets, events, u["target"], peers, st, exclude_sessions=exclude).fit()

    perf = {}
    if run_result is not None:
        r = run_result.returns
        perf["vs_peer_basket"] = alpha_beta_hac(r["strategy"], r["peer_basket"])
        mkt = rets[u["market"]].reindex(r.index)
        perf["vs_market"] = alpha_beta_hac(r["strategy"], mkt)
        perf["market"] = u["market"]
    sig, sprints = signal_regressions(cfg, rets, sessions, peers, whole.frame)
    prints.update(sprints)
    return StudyOutput(res, perf, sig, prints)


def signal_regressions(cfg, rets, sessions, peers, calendar: pd.DataFrame | None = None) -> tuple[dict, dict]:
    """Peer-adjusted CAR of the target's releases on its signals known at day 0.

    The basket of each release is the trade's hedge basket (the peers: the
    target announced it); estimation windows leave out ``calendar``'s events
    as in :func:`calendar_exclusions`."""
    from backtests.inputs import target_signals  # the same memoised table a run uses

    u = cfg["universe"]
    table, fund_prints = target_signals(u["target"])
    cal = load_calendar(bundled=False, earnings=True)
    earn = cal.frame[(cal.frame["category"] == "earnings") & (cal.frame["company"] == u["target"])]
    earn = earn[earn["day0"].isin(sessions)]
    st = settings_from(cfg)
    st = StudySettings(windows=tuple(cfg["study"]["signal_windows"]), bhar_windows=(), estimation=st.estimation, gap=st.gap,
                       min_estimation=st.min_estimation, models=("peer_adjusted",), market=st.market, clusters="keep")
    sw = [Window.parse(w) for w in st.windows]
    exclude = calendar_exclusions(calendar, u["target"], peers, sessions, min(w.pre for w in sw), max(w.post for w in sw)) if calendar is not None else None
    res = EventStudy(rets, align(earn, sessions), u["target"], peers, st, exclude_sessions=exclude).fit()
    from signals.registry import user_signals

    extra = [n for n in user_signals() if n in table and n not in SIGNALS]  # registered user signals: each regressed on its own
    names = SIGNALS + extra
    sig = signals_at(res.events, table, names)
    out = {"events": int(len(res.events)), "dependent": "peer-adjusted CAR (fraction)", "cov": "HC3", "regressions": []}
    for w in st.windows:
        car = res.car[(res.car["window"] == w)].set_index("event_id")["car"].rename("car")
        frame = sig.set_index("event_id").join(car)
        for xs in (["capex_efficiency_chg"], ["backlog_growth_qoq"], ["capex_efficiency_chg", "backlog_growth_yoy"], *[[n] for n in extra]):
            r = regress(frame, "car", xs)
            r["window"] = w
            out["regressions"].append(r)
        out.setdefault("data", {})[w] = [
            {"event_id": i, "quarter": row["quarter"], "car": _f(row["car"]), **{n: _f(row[n]) for n in names}} for i, row in frame.iterrows()
        ]
    return out, fund_prints


def _f(v):
    return float(v) if v is not None and np.isfinite(v) else None
