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
_CALENDAR_MEMO: dict = {}


def file_stamps(paths) -> tuple:
    """(path, size, mtime) of each file (None for a missing one): a memo key that changes when a file does,
    as for the price files (:func:`backtests.market.marketdata.load_price_file`)."""
    out = []
    for p in paths:
        p = Path(p)
        try:
            st = p.stat()
            out.append((str(p.resolve()), st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((str(p), None, None))
    return tuple(out)


def fundamentals_files() -> list[Path]:
    """Every file :func:`signals.fundamentals.load_fundamentals` reads by default (the earnings calendar dates the releases)."""
    from events.loader import BUNDLED_EARNINGS, bundled_path as events_path
    from signals.availability import bundled_path as availability_path
    from signals.fundamentals import bundled_path

    return [bundled_path("amzn_quarterly.csv"), bundled_path("peers_quarterly.csv"), availability_path(), events_path(BUNDLED_EARNINGS)]


def run_signal_names() -> tuple[str, ...]:
    """The signals a run computes: :data:`RUN_SIGNALS` and every registered user signal
    (:mod:`signals.registry`), in that order."""
    from signals.registry import user_signals

    return tuple(dict.fromkeys([*RUN_SIGNALS, *user_signals()]))


def target_signals(target: str) -> tuple[pd.DataFrame, dict]:
    """The target's point-in-time signal table (the signals a run uses) and the
    fundamentals' fingerprints; memoised per process by the files' size and
    modification time, so a sweep loads and dates the fundamentals once per
    worker process, not once per run."""
    import signals.fundamentals as fundamentals
    from signals.history import signal_table

    from signals.history import SIGNALS

    names = run_signal_names()
    key = (target, file_stamps(fundamentals_files()), names, tuple(id(SIGNALS[n][0]) for n in names))  # a redefined signal is new
    if key not in _SIGNAL_MEMO:
        fund = fundamentals.load_fundamentals()
        prints = {f"fundamentals/{Path(k).name}": v for k, v in fund.fingerprints.items()}
        _SIGNAL_MEMO[key] = (signal_table(fund, target, list(names)), prints)
    table, prints = _SIGNAL_MEMO[key]
    return table.copy(), dict(prints)


def memo_calendar(files=(), *, bundled: bool = True, earnings: bool = True, price_range=None, inline: dict | None = None):
    """:func:`events.loader.load_calendar`, memoised per process by the files' size and modification time
    (a calendar that fails validation is not memoised); callers get their own copy of the frame."""
    from events.loader import BUNDLED_EARNINGS, BUNDLED_EVENTS, EventCalendar, bundled_path

    files = [str(f) for f in files]
    read = ([bundled_path(BUNDLED_EVENTS)] if bundled else []) + ([bundled_path(BUNDLED_EARNINGS)] if earnings else []) + [Path(f) for f in files]
    rng = None if price_range is None else tuple(pd.Timestamp(x) for x in price_range)
    inline = dict(inline or {})
    key = (tuple(files), bundled, earnings, rng, file_stamps(read), tuple(sorted(inline.items())))
    if key not in _CALENDAR_MEMO:
        _CALENDAR_MEMO[key] = load_calendar(files, bundled=bundled, earnings=earnings, price_range=price_range, inline=inline)
    hit = _CALENDAR_MEMO[key]
    return EventCalendar(hit.frame.copy(), dict(hit.fingerprints), list(hit.notes))


def select_events(ev_cfg: dict, all_sessions: pd.DatetimeIndex, sessions: pd.DatetimeIndex):
    """Load the calendar and apply the config's event filters.

    Returns ``(calendar, everything, selected, why)``: ``why`` holds, for
    every event of ``everything``, the reason it was not selected ('' if it was).
    """
    cal = memo_calendar(ev_cfg["files"], bundled=ev_cfg["bundled"], earnings=ev_cfg["earnings"], price_range=(all_sessions[0], all_sessions[-1]),
                        inline=ev_cfg.get("inline"))
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
