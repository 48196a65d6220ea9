"""The inputs a run and its statistics share: the config's event selection and the target's signals.

Both :mod:`backtests.runner` and :mod:`backtests.stats.study` take their
events and signals from here, so the study describes exactly what the run
selected. Nothing here writes files.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from events.loader import load_calendar

RUN_SIGNALS = ("capex_efficiency", "capex_efficiency_chg", "backlog_growth_qoq", "backlog_growth_yoy")
_SIGNAL_MEMO: dict = {}


def target_signals(target: str) -> tuple[pd.DataFrame, dict]:
    """The target's point-in-time signal table (the signals a run uses) and the
    fundamentals' fingerprints; memoised per process by those fingerprints."""
    from signals.fundamentals import load_fundamentals
    from signals.history import signal_table

    fund = load_fundamentals()
    prints = {f"fundamentals/{Path(k).name}": v for k, v in fund.fingerprints.items()}
    key = (target, tuple(sorted(prints.items())))
    if key not in _SIGNAL_MEMO:
        _SIGNAL_MEMO[key] = signal_table(fund, target, list(RUN_SIGNALS))
    return _SIGNAL_MEMO[key].copy(), prints


def select_events(ev_cfg: dict, all_sessions: pd.DatetimeIndex, sessions: pd.DatetimeIndex):
    """Load the calendar and apply the config's event filters.

    Returns ``(calendar, everything, selected, why)``: ``why`` holds, for
    every event of ``everything``, the reason it was not selected ('' if it was).
    """
    cal = load_calendar(ev_cfg["files"], bundled=ev_cfg["bundled"], earnings=ev_cfg["earnings"], price_range=(all_sessions[0], all_sessions[-1]))
    everything = cal.frame.copy()
    why = pd.Series("", index=everything.index, dtype=object)
    sel = everything
    if ev_cfg["categories"]:
        m = sel["category"].isin(ev_cfg["categories"])
        why[sel.index[~m]] = "not selected: category " + sel.loc[~m, "category"]
        sel = sel[m]
    if ev_cfg["tickers"]:
        want = set(ev_cfg["tickers"])
        m = sel["tickers"].map(lambda ts: bool(want & set(ts))).astype(bool)
        why[sel.index[~m]] = "not selected: affects none of " + ",".join(ev_cfg["tickers"])
        sel = sel[m]
    if ev_cfg["companies"]:
        m = sel["company"].isin(ev_cfg["companies"])
        why[sel.index[~m]] = "not selected: company " + sel.loc[~m, "company"]
        sel = sel[m]
    order = {"low": 0, "medium": 1, "high": 2}
    m = (sel["confidence"].map(order) >= order[ev_cfg["min_confidence"]]).astype(bool)
    why[sel.index[~m]] = "not selected: confidence " + sel.loc[~m, "confidence"]
    sel = sel[m]
    m = (sel["day0"] >= sessions[0]) & (sel["day0"] <= sessions[-1])
    why[sel.index[~m]] = "outside the run dates"
    sel = sel[m]
    return cal, everything, sel, why
