"""From aligned events to a trading schedule (pure pandas; no Backtrader).

Vocabulary:

* a **plan** is one event's intended trade: side, entry session, exit session;
* an **episode** is one continuous position, made of one or more plans;
* the **targets** frame gives, for each session, the portfolio weights that
  must be in place after that session's fill (the open, or with ``fill:
  close`` the close).

A position is held from the fill at its entry session to the fill at its
exit session. Overlapping plans are resolved by an explicit rule
(:data:`OVERLAP_RULES`), never by silently doubling the size:

* ``extend``: a plan that starts while an episode on the same side is open
  extends that episode to the later exit; on the opposite side the newer plan
  wins (the old episode ends at the new entry);
* ``skip``: a plan that starts while an episode is open is not traded.

Every event keeps a reason for what happened to it (``traded``, or why not).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from events.align import FILLS, first_legal_entry, is_legal_entry
from events.errors import InputError, Problem

OVERLAP_RULES = ("extend", "skip")


@dataclass
class Episode:
    """One continuous position.

    ``joined`` lists ``(session, event_id)`` for every event of the episode:
    the session of that event's own entry fill, i.e. the first fill at which
    the event was public. ``weights`` are the weights from ``entry``;
    ``rebalances`` holds ``(session, weights, why)`` for every later fill at
    which news that was not public at the entry changed the book (e.g. a
    later event's announcing peer leaving the hedge basket). ``size``
    multiplies the configured gross of the episode's weights: the size of the
    plan that opened it (1.0 unless a strategy's decision sized it; a plan
    that later extends the episode does not resize it).
    """

    episode: int
    event_ids: list[str]
    side: int
    entry: pd.Timestamp
    exit: pd.Timestamp | None  # None: held to the end of the run
    weights: dict[str, float] = field(default_factory=dict)
    joined: list[tuple[pd.Timestamp, str]] = field(default_factory=list)
    rebalances: list[tuple[pd.Timestamp, dict[str, float], str]] = field(default_factory=list)
    size: float = 1.0

    def known_at(self, session: pd.Timestamp) -> list[str]:
        """Ids of the episode's events public at the fill of ``session``."""
        return [eid for when, eid in self.joined if when <= session]

    def hedge_legs(self, weights: dict[str, float]) -> list[str]:
        """Tickers of ``weights`` on the side opposite the episode's (the hedge basket), in their order."""
        return [t for t, x in weights.items() if x * self.side < 0]

    def held_legs(self, weights: dict[str, float]) -> list[str]:
        """Tickers of ``weights`` on the episode's own side."""
        return [t for t, x in weights.items() if x * self.side > 0]

    def segments(self) -> list[tuple[pd.Timestamp, dict[str, float]]]:
        """``(from_session, weights)`` in force from the entry and after each rebalance."""
        return [(self.entry, self.weights)] + [(when, w) for when, w, _ in self.rebalances]


def _entry_of(ev, entry_offset, fill: str) -> tuple[int, str, bool]:
    """An event's entry offset from day 0 under ``entry_offset`` (``"earliest"`` or sessions from day 0), and why
    it cannot be entered there: ``(offset, reason, illegal)``; ``reason`` is '' when the offset is legal,
    ``illegal`` is true for a pre-event entry on an unscheduled event (a configuration error)."""
    eo, ef = int(ev["earliest_entry_offset"]), ev["earliest_entry_fill"]
    if entry_offset == "earliest":
        news_fill = "close" if ev["time"] in ("intraday", "unknown") else "open"
        return first_legal_entry(0, news_fill, fill), "", False
    off = int(entry_offset)
    if is_legal_entry(off, fill, eo, ef):
        return off, "", False
    if not ev["scheduled"]:
        return off, "illegal entry", True
    return off, f"entry at offset {off} is before the date was public (earliest {first_legal_entry(eo, ef, fill)})", False


def _illegal_entries(illegal: list, entry_offsets: list, fill: str, config_key: str) -> InputError:
    """The configuration error for pre-event entries on unscheduled events (``illegal``: their rows)."""
    ids = ", ".join(f"{e['event_id']} ({e['time']}, day 0 {e['day0'].date()})" for e in illegal[:8])
    more = f" and {len(illegal) - 8} more" if len(illegal) > 8 else ""
    shown = list(dict.fromkeys(entry_offsets))
    at = f"offset {shown[0]}" if len(shown) == 1 else "offsets " + ", ".join(map(str, shown))
    return InputError(
        Problem(
            f"pre-event entry at {at} with fill '{fill}' on unscheduled event(s) {ids}{more}: "
            "unscheduled news cannot be traded before it is public",
            field=config_key,
            expected="'earliest' or an offset at or after each event's earliest legal entry (day 0 open for bmo/amc, day 0 close for intraday/unknown), or select scheduled events only",
        )
    )


def _per_row(value, n: int) -> list:
    """``value`` for each of ``n`` rows: a scalar repeated, or a sequence of ``n`` values."""
    if isinstance(value, (str, int, np.integer)) and not isinstance(value, bool):
        return [value] * n
    out = list(value)
    if len(out) != n:
        raise ValueError(f"expected one value per event ({n}), got {len(out)}")
    return out


def plan_event_trades(
    aligned: pd.DataFrame,
    sessions: pd.DatetimeIndex,
    entry_offset,
    exit_offset,
    fill: str = "open",
    config_key: str = "strategy.params.entry_offset",
) -> pd.DataFrame:
    """Entry and exit sessions of each aligned event, or why it cannot be traded.

    ``entry_offset``: sessions from day 0, or ``"earliest"``: the first fill
    after the news is out, whether or not the event was scheduled (the open of
    day 0 for ``bmo``/``amc``, the close of day 0 for ``intraday``/``unknown``,
    i.e. the open of day +1 with open fills). Pre-event entries on scheduled
    events happen only when a negative offset is asked for. ``exit_offset``: sessions from
    day 0 of the exit fill. Each may also be a sequence with one value per row of
    ``aligned`` (a strategy's per-event decisions). A numeric entry before the earliest legal entry of
    an **unscheduled** event is a configuration error (:class:`InputError`
    listing the events, naming ``config_key``); for a scheduled event entered before its date was
    public the event is not traded and says so.

    With open fills, an entry planned on the run's first session is filled at
    the next open (no decision can be taken before the first session), and
    ``entry_offset_used`` says so.

    Returns the aligned frame plus ``entry``, ``exit`` (sessions, NaT if not
    tradable), ``entry_offset_used`` and ``reason`` ('' when tradable).
    """
    if fill not in FILLS:
        raise InputError(Problem(f"unknown fill '{fill}'", field="portfolio.fill", expected="open or close"))
    f = aligned.copy()
    n = len(sessions)
    entry_offsets, exit_offsets = _per_row(entry_offset, len(f)), _per_row(exit_offset, len(f))
    entries, exits, used, reasons, illegal, illegal_at = [], [], [], [], [], []
    for (_, ev), entry_off, exit_off in zip(f.iterrows(), entry_offsets, exit_offsets):
        p0 = int(ev["day0_pos"])
        off, why, bad = _entry_of(ev, entry_off, fill)
        if bad:
            illegal.append(ev), illegal_at.append(entry_off)
        if why:
            entries.append(pd.NaT), exits.append(pd.NaT), used.append(off), reasons.append(why)
            continue
        exit_off = int(exit_off)
        reason = ""
        # with open fills nothing can be decided before the run's first session: its first fill is the next open
        first_fill = 1 if fill == "open" else 0
        at = max(p0 + off, first_fill) if p0 >= 0 and p0 + off >= 0 else p0 + off
        if p0 < 0:
            reason = "day 0 outside the run's sessions"
        elif off >= exit_off:
            reason = f"exit offset {exit_off} is not after the entry offset {off}"
        elif p0 + off < 0:
            reason = "entry before the start of the run"
        elif p0 + exit_off >= n:
            reason = "exit after the end of the run"
        elif at >= p0 + exit_off:
            reason = "the run's first fill is not before the exit"
        if reason:
            entries.append(pd.NaT), exits.append(pd.NaT), used.append(off), reasons.append(reason)
            continue
        entries.append(sessions[at]), exits.append(sessions[p0 + exit_off]), used.append(at - p0), reasons.append("")
    if illegal:
        raise _illegal_entries(illegal, illegal_at, fill, config_key)
    f["entry"] = pd.to_datetime(pd.Series(entries, index=f.index))
    f["exit"] = pd.to_datetime(pd.Series(exits, index=f.index))
    f["entry_offset_used"] = used
    f["reason"] = reasons
    return f


def decision_points(aligned: pd.DataFrame, sessions: pd.DatetimeIndex, entry_offset, fill: str = "open",
                    config_key: str = "strategy.params.entry_offset") -> pd.DataFrame:
    """Where a strategy decides on each aligned event: the fill of its entry under ``entry_offset`` (as
    :func:`plan_event_trades` places it, whatever the exit), or why there is none.

    Same legality rules and errors as :func:`plan_event_trades` (a pre-event entry on an unscheduled event is an
    :class:`InputError`; on a scheduled event before its date was public the event gets a reason). Returns a frame
    on ``aligned``'s index: ``pos`` (position in ``sessions`` of the fill session, -1 when none), ``offset`` (that
    session's offset from day 0), ``reason`` ('' when there is a decision point: ``day 0 outside the run's
    sessions``, ``entry before the start of the run``, ``entry after the end of the run``, or the legality reason).
    """
    if fill not in FILLS:
        raise InputError(Problem(f"unknown fill '{fill}'", field="portfolio.fill", expected="open or close"))
    n = len(sessions)
    first_fill = 1 if fill == "open" else 0
    offs = _per_row(entry_offset, len(aligned))
    pos, used, reasons, illegal, illegal_at = [], [], [], [], []
    cols = ["event_id", "time", "day0", "scheduled", "day0_pos", "earliest_entry_offset", "earliest_entry_fill"]
    for ev, entry_off in zip(aligned[cols].to_dict("records"), offs):
        p0 = int(ev["day0_pos"])
        off, why, bad = _entry_of(ev, entry_off, fill)
        if bad:
            illegal.append(ev), illegal_at.append(entry_off)
        at = max(p0 + off, first_fill) if p0 >= 0 and p0 + off >= 0 else p0 + off
        if not why:
            why = ("day 0 outside the run's sessions" if p0 < 0 else "entry before the start of the run" if p0 + off < 0
                   else "entry after the end of the run" if at >= n else "")
        pos.append(-1 if why else at), used.append(off if why else at - p0), reasons.append(why)
    if illegal:
        raise _illegal_entries(illegal, illegal_at, fill, config_key)
    return pd.DataFrame({"pos": pos, "offset": used, "reason": reasons}, index=aligned.index)


def build_episodes(plans: pd.DataFrame, overlap: str = "extend") -> tuple[list[Episode], dict[str, str]]:
    """Merge tradable plans (columns ``event_id, side, entry, exit``, optional
    ``size``; rows with NaT entry or side 0 are ignored) into episodes by the ``overlap`` rule.

    Returns the episodes and, per event id, what happened (``traded in
    episode N``, ``extended episode N``, ``skipped: ...``, ``ended episode N``).
    """
    if overlap not in OVERLAP_RULES:
        raise InputError(Problem(f"unknown overlap rule '{overlap}'", field="strategy.params.overlap", expected="one of " + ", ".join(OVERLAP_RULES)))
    p = plans[plans["entry"].notna() & (plans["side"] != 0)].sort_values(["entry", "event_id"], kind="stable")
    episodes: list[Episode] = []
    notes: dict[str, str] = {}
    cur: Episode | None = None
    for _, r in p.iterrows():
        side = int(r["side"])
        if cur is not None and r["entry"] <= cur.exit:
            if overlap == "skip":
                notes[r["event_id"]] = f"skipped: position from episode {cur.episode} still open (overlap rule 'skip')"
                continue
            if side == cur.side:
                if r["exit"] > cur.exit:
                    cur.exit = r["exit"]
                cur.event_ids.append(r["event_id"])
                cur.joined.append((r["entry"], r["event_id"]))
                notes[r["event_id"]] = f"extended episode {cur.episode} (overlap rule 'extend')"
                continue
            # opposite side: the newer plan wins from its entry on
            cur.exit = r["entry"]
            for eid in cur.event_ids:
                notes[eid] = notes.get(eid, "") + f"; cut short at {r['entry'].date()} by {r['event_id']}"
        cur = Episode(len(episodes) + 1, [r["event_id"]], side, r["entry"], r["exit"], joined=[(r["entry"], r["event_id"])],
                      size=float(r["size"]) if "size" in r.index else 1.0)
        episodes.append(cur)
        notes[r["event_id"]] = f"traded: episode {cur.episode}"
    return episodes, notes


def cash_shortfall(session: pd.Timestamp, ticker: str, fill: str) -> InputError:
    """The error of a run whose broker could not pay for an order (Backtrader's ``Margin``; the fast engine
    checks the same): a long fill after an overnight gap, plus slippage and commission, cost more than the cash."""
    return InputError(Problem(
        f"the cash could not pay for the {ticker} order at the {fill} of {pd.Timestamp(session).date()} (the broker refuses an order "
        "that would leave the cash below zero: the long legs, sized at the decision close, cost more once "
        + ("the overnight gap, " if fill == "open" else "") + "slippage and commission are paid)",
        field="portfolio.cash_buffer", expected="a larger cash_buffer, or a smaller gross or long_share, so long fills fit in the cash"))


def target_weights(episodes: list[Episode], sessions: pd.DatetimeIndex, tickers: list[str], cash_buffer: float = 0.0) -> pd.DataFrame:
    """Sessions x tickers weights in force after each session's fill, plus an
    ``episode`` column (0 when flat). An episode is in force on sessions
    ``entry <= s < exit`` (to the end when ``exit`` is None); within it, the
    weights of each segment (:meth:`Episode.segments`) from its first session.

    ``cash_buffer``: orders are sized at the decision-time close and filled at
    the next open, so a fully invested long book could cost more than the
    cash after a gap and costs. When an episode's long weights sum to more
    than ``1 - cash_buffer`` they are scaled down to that (shorts unchanged).
    """
    w = pd.DataFrame(0.0, index=sessions, columns=tickers)
    ep = pd.Series(0, index=sessions, dtype=int)
    for e in episodes:
        in_episode = (sessions >= e.entry) & ((sessions < e.exit) if e.exit is not None else True)
        ep[in_episode] = e.episode
        segs = e.segments()
        for k_seg, (start, weights) in enumerate(segs):
            until = segs[k_seg + 1][0] if k_seg + 1 < len(segs) else None
            mask = in_episode & (sessions >= start) & ((sessions < until) if until is not None else True)
            longs = sum(v for v in weights.values() if v > 0)
            k = (1 - cash_buffer) / longs if longs > 1 - cash_buffer else 1.0
            w.loc[mask, tickers] = 0.0
            for t, v in weights.items():
                w.loc[mask, t] = v * k if v > 0 else v
    w["episode"] = ep
    return w
