"""What a strategy sees at a decision: a point-in-time view that holds only what was public then.

A decision is taken for a fill at session ``s`` (the run's ``portfolio.fill``):

* ``fill: open`` (default): the decision is taken before the open of ``s``. The view holds total-return closes
  and daily returns up to the close of ``s - 1``;
* ``fill: close`` (only when a config says so): the decision is taken at the close of ``s`` and filled there; the
  view holds prices up to the close of ``s``.

In both cases it holds the run's selected events whose earliest legal entry (DESIGN.md's rules, as
:func:`events.align.align` computes them: ``day0_pos``, ``earliest_entry_offset``, ``earliest_entry_fill``, the
notice sessions of scheduled events) is at or before that fill, and the target's signal rows whose ``available``
session (the reaction session of the release or filing that made them public) is at or before ``s``: the rule the
post-earnings strategy has always used.

The data are cut when the view is built (prefixes of the inputs ordered by the time each row became known: copies of
the known price rows, the known events' records, the known signal rows), never masked on access: a view holds no
later row, and nothing it holds leads to one. Asking for something later (a close after the last known one, an
event not public yet, a quarter whose figures are not released yet) raises :class:`LookAheadError`, naming what was
asked and the dates; the error is also recorded on the view, so a strategy that catches it still fails its run.
The frames a view returns are its own (built from those copies on first use): changing them changes nothing the
framework uses.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from events.errors import InputError, Problem

#: event columns a view leaves out: the cluster columns count events of the same cluster, some of which may be
#: announced after the decision
HIDDEN_EVENT_COLUMNS = ("cluster", "cluster_size", "same_session")

#: what an event's release says: hidden, before that release, in an event known only as scheduled (an earnings date,
#: a keynote announced in advance): reading one raises LookAheadError, and the events frame shows None
RESULT_FIELDS = ("headline", "amount_usd_bn", "source_url")

#: signal-table columns that are not signals (the others that are numeric are)
_NOT_SIGNALS = ("quarter", "period_end", "available", "kind", "new_values")


class LookAheadError(InputError):
    """A strategy asked for data that was not public at its decision (an :class:`InputError`: the CLI exits 2).

    ``asked``: the date of what was asked (None when it cannot be told without telling the future, e.g. an event
    id not yet public); ``decision``: the fill session of the decision."""

    def __init__(self, message: str, field: str | None = None, asked=None, decision=None, expected: str | None = None):
        super().__init__(Problem(message, field=field, expected=expected))
        self.message, self.field, self.asked, self.decision, self.expected = message, field, asked, decision, expected

    def within(self, context: str) -> "LookAheadError":
        """The same error with ``context`` (e.g. the strategy and the event) before its message."""
        return LookAheadError(f"{context}: {self.message}", self.field, self.asked, self.decision, self.expected)


def event_public_keys(events: pd.DataFrame, sessions: pd.DatetimeIndex) -> np.ndarray:
    """When each aligned event became public, as ``2 * session position + (0 open, 1 close)`` of its earliest
    legal entry fill (``day0_pos + earliest_entry_offset``, ``earliest_entry_fill``). An event whose day 0 lies
    before the sessions is public from before the first session; after them, never within them."""
    if not len(events):
        return np.zeros(0, dtype=np.int64)
    p0 = events["day0_pos"].to_numpy(dtype=np.int64)
    off = events["earliest_entry_offset"].to_numpy(dtype=np.int64)
    late = (events["earliest_entry_fill"].to_numpy() == "close").astype(np.int64)
    key = 2 * (p0 + off) + late
    outside = p0 < 0
    if outside.any():
        before = pd.DatetimeIndex(events["day0"]).to_numpy() < sessions[0].to_datetime64()
        key = np.where(outside & before, np.iinfo(np.int64).min // 4, np.where(outside, np.iinfo(np.int64).max // 4, key))
    return key


def event_release_keys(events: pd.DataFrame, sessions: pd.DatetimeIndex) -> np.ndarray:
    """When each aligned event's content (what was announced) became public, on the scale of
    :func:`event_public_keys`: the open of day 0 for news before the open or after the previous close (``bmo``,
    ``amc``), its close for ``intraday`` and ``unknown`` news. A scheduled event is public (its date) earlier."""
    if not len(events):
        return np.zeros(0, dtype=np.int64)
    p0 = events["day0_pos"].to_numpy(dtype=np.int64)
    late = np.isin(events["time"].to_numpy(), ["intraday", "unknown"]).astype(np.int64)
    key = 2 * p0 + late
    outside = p0 < 0
    if outside.any():  # day 0 before the run: released long before; after it: never within it
        before = pd.DatetimeIndex(events["day0"]).to_numpy() < sessions[0].to_datetime64()
        key = np.where(outside & before, np.iinfo(np.int64).min // 4, np.where(outside, np.iinfo(np.int64).max // 4, key))
    return key


def fill_key(pos: int, fill: str) -> int:
    """The time of a fill at session position ``pos`` on the scale of :func:`event_public_keys`."""
    return 2 * int(pos) + (1 if fill == "close" else 0)


class Timeline:
    """The run's inputs ordered by the time each row became known, so that the view at a decision is made of
    prefixes. Built once per plan from a :class:`~strategies.context.StrategyContext` by the framework; strategies
    only ever receive the :class:`PointInTimeView` objects of :meth:`view`, which hold no reference to it."""

    def __init__(self, ctx):
        self.sessions = ctx.sessions
        self.fill = ctx.portfolio.get("fill", "open")
        self.target, self.peers = ctx.target, tuple(ctx.peers)
        self.portfolio = dict(ctx.portfolio)
        self.returns = _Prices.of(ctx.returns)
        closes = getattr(ctx, "closes", None)
        self.closes = None if closes is None else _Prices.of(closes)
        ev = ctx.events
        if ev is None:
            ev = pd.DataFrame(columns=["event_id", "day0", "day0_pos", "earliest_entry_offset", "earliest_entry_fill"])
        ev = self.public_events(ev)
        keys = event_public_keys(ev, self.sessions)
        order = np.argsort(keys, kind="stable")
        self.event_columns = list(ev.columns)
        records = ev.iloc[order].to_dict("records")
        self.event_rows = tuple(EventRow(r) for r in records)
        self.event_keys = keys[order]
        released = event_release_keys(ev, self.sessions)[order] if "time" in ev else self.event_keys
        self.release_keys = np.maximum(released, self.event_keys)  # never before the event itself is public
        # the same events before their release: scheduled, so known to come, but not what they will say
        self.pending_rows = tuple(EventRow(r, hidden={f: r.get(f) for f in RESULT_FIELDS if f in r}, released_at=k)
                                  for r, k in zip(records, self.release_keys))
        self._by_id = {r["event_id"]: i for i, r in enumerate(self.event_rows)}
        sig = ctx.signals
        if sig is not None:  # the '<signal>_why' texts name when missing figures will be published: later dates
            sig = sig.drop(columns=[c for c in sig.columns if str(c).endswith("_why")])
        self.signals = sig
        self.signal_avail = None
        self.signals_sorted = False
        if sig is not None and len(sig):
            av = pd.DatetimeIndex(sig["available"]).as_unit("ns").asi8.copy()
            av[av == np.iinfo(np.int64).min] = np.iinfo(np.int64).max  # NaT: never available
            self.signal_avail = av
            self.signals_sorted = bool((np.diff(av) >= 0).all())  # then the rows known at a session are a prefix
        self._signal_cut: dict = {}  # rows known -> their copy, shared by the views that know the same rows
        self.signal_names = tuple(c for c in (sig.columns if sig is not None else ())
                                  if c not in _NOT_SIGNALS and not c.endswith("_why") and pd.api.types.is_numeric_dtype(sig[c]))

    @staticmethod
    def public_events(events: pd.DataFrame) -> pd.DataFrame:
        """Event rows as a strategy may read them: without the :data:`HIDDEN_EVENT_COLUMNS`."""
        return events.drop(columns=[c for c in HIDDEN_EVENT_COLUMNS if c in events.columns])

    def event_row(self, event_id: str, pos: int | None = None) -> "EventRow":
        """The event ``event_id`` as a strategy receives it (:class:`EventRow`) at a fill at session position ``pos``:
        with its :data:`RESULT_FIELDS` hidden when that fill comes before its release."""
        i = self._by_id[event_id]
        if pos is not None and fill_key(pos, self.fill) < self.release_keys[i]:
            return self.pending_rows[i]
        return self.event_rows[i]

    def _rows_at(self, pos: int) -> tuple:
        key = fill_key(pos, self.fill)
        m = int(np.searchsorted(self.event_keys, key, side="right"))
        return tuple(self.pending_rows[i] if key < self.release_keys[i] else self.event_rows[i] for i in range(m))

    def _signals_known(self, session: pd.Timestamp):
        if self.signals is None:
            return None
        if self.signal_avail is None:
            rows = 0
        else:
            t = session.as_unit("ns").value
            rows = int(np.searchsorted(self.signal_avail, t, side="right")) if self.signals_sorted else tuple(np.flatnonzero(self.signal_avail <= t))
        hit = self._signal_cut.get(rows)
        if hit is None:
            hit = (self.signals.iloc[:rows] if isinstance(rows, int) else self.signals.iloc[list(rows)]).copy()
            self._signal_cut[rows] = hit
        return hit

    def view(self, pos: int, offset: int | None = None) -> "PointInTimeView":
        """The view for a fill at session position ``pos`` (with the run's fill); ``offset``: that session's
        offset from the day 0 of the event decided on (None for a view not about one event)."""
        n = len(self.sessions)
        if not 0 <= pos < n:
            raise IndexError(f"session position {pos} outside the run's {n} sessions")
        known = pos + 1 if self.fill == "close" else pos  # number of closes known
        session = self.sessions[pos]
        return PointInTimeView(
            session=session, fill=self.fill, sessions=self.sessions[: pos + 1].copy(deep=True), returns=self.returns.head(known),
            closes=None if self.closes is None else self.closes.head(known), events=self._rows_at(pos),
            event_columns=self.event_columns, signals=self._signals_known(session), signal_names=self.signal_names,
            target=self.target, peers=self.peers, portfolio=self.portfolio, offset=offset)


class _Prices:
    """A numeric frame as an array, an index and columns; :meth:`head` copies the first rows (a copy has no
    reference to the rows after it, as a slice of the array would)."""

    __slots__ = ("values", "index", "columns")

    def __init__(self, values: np.ndarray, index: pd.Index, columns: pd.Index):
        self.values, self.index, self.columns = values, index, columns

    @classmethod
    def of(cls, frame: pd.DataFrame) -> "_Prices":
        return cls(frame.to_numpy(dtype=float), frame.index, frame.columns)

    def head(self, rows: int) -> "_Prices":
        return _Prices(self.values[:rows].copy(), self.index[:rows].copy(deep=True), self.columns)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.values, index=self.index, columns=self.columns, copy=True)


class EventRow(Mapping):
    """One event as a strategy reads it: ``event["category"]`` or ``event.category``, read-only. Fields: the
    columns of the run's aligned events (``event_id, date, time, scheduled, company, tickers, category, headline,
    amount_usd_bn, confidence, public_since, day0, day0_pos, earliest_entry_offset, earliest_entry_fill,
    earliest_entry, public_assumed, merged_from``...) without the :data:`HIDDEN_EVENT_COLUMNS`."""

    __slots__ = ("_d", "_hidden", "_released_at")

    def __init__(self, values: dict, hidden: dict | None = None, released_at: int | None = None):
        d = dict(values)
        for f in hidden or ():
            d[f] = None
        object.__setattr__(self, "_d", d)
        object.__setattr__(self, "_hidden", tuple(hidden or ()))
        object.__setattr__(self, "_released_at", released_at)

    def _get(self, name):
        if name in self._hidden:
            day0 = self._d.get("day0")
            raise LookAheadError(f"{name} of scheduled event {self._d.get('event_id')!r} asked before its release "
                                 f"({self._d.get('time')}, day 0 {pd.Timestamp(day0).date() if day0 is not None else '?'}): "
                                 "what it will say is not known yet", field=f"event {name}",
                                 expected="the fields known before a scheduled release: " + ", ".join(k for k in self._d if k not in self._hidden))
        return self._d[name]

    def __getattr__(self, name):
        if name not in self._d:
            raise AttributeError(f"events have no field {name!r} (fields: {', '.join(self._d)})")
        return self._get(name)

    def __setattr__(self, name, value):
        raise AttributeError("an event is read-only")

    def __getitem__(self, key):
        if key not in self._d:
            raise KeyError(f"events have no field {key!r} (fields: {', '.join(self._d)})")
        return self._get(key)

    def __iter__(self):
        return iter(self._d)

    def __len__(self):
        return len(self._d)

    def __repr__(self):
        return f"EventRow({self._d.get('event_id')!r}, {self._d.get('category')!r}, day 0 {self._d.get('day0')})"


class PointInTimeView:
    """What a strategy may read at one decision (see the module docstring for the cut-off rules).

    Attributes: ``session`` (the fill session), ``fill`` (``open``: decided before that open; ``close``: at that
    close), ``last_close`` (the last session whose close is known; None before any), ``offset`` (the fill
    session's offset from the decided event's day 0), ``target``, ``peers``, ``portfolio`` (gross, long_share,
    hedge, beta_window, fill). Frames (each access gives the view's own frame): ``sessions`` (the run's sessions
    up to the fill session), ``returns`` and ``closes`` (daily total returns as fractions, and total-return closes,
    of every loaded ticker, by session, up to ``last_close``), ``events`` (the public events, in the order they
    became public), ``signals`` (the target's signal rows available by ``session``, in the signal table's order).
    Lookups: :meth:`close`, :meth:`event`, :meth:`signal`.
    """

    __slots__ = ("session", "fill", "last_close", "offset", "target", "peers", "_portfolio", "_sessions", "_returns",
                 "_closes", "_events", "_event_columns", "_signals", "_signal_names", "_violations")

    def __init__(self, *, session, fill, sessions, returns: _Prices, closes: _Prices | None, events: tuple, event_columns,
                 signals, signal_names, target, peers, portfolio, offset=None):
        self.session, self.fill, self.offset = pd.Timestamp(session), fill, offset
        self.target, self.peers, self._portfolio = target, tuple(peers), dict(portfolio)
        self._sessions, self._returns, self._closes, self._signals = sessions, returns, closes, signals
        self._events, self._event_columns = tuple(events), list(event_columns)
        self._signal_names = tuple(signal_names)
        self.last_close = pd.Timestamp(returns.index[-1]) if len(returns.index) else None
        self._violations: list[LookAheadError] = []  # read by the framework after each decision

    # ------------------------------------------------------------ the frames
    @property
    def portfolio(self) -> dict:
        return dict(self._portfolio)

    @property
    def sessions(self) -> pd.DatetimeIndex:
        return self._sessions

    @property
    def returns(self) -> pd.DataFrame:
        return self._returns.frame()

    @property
    def closes(self) -> pd.DataFrame:
        if self._closes is None:
            raise InputError(Problem("this view has no closes (its context was built without them)", field="closes"))
        return self._closes.frame()

    @property
    def events(self) -> pd.DataFrame:
        return pd.DataFrame([dict(r._d) for r in self._events], columns=self._event_columns)  # pending releases: None

    @property
    def signals(self) -> pd.DataFrame:
        if self._signals is None:
            raise InputError(Problem("this run has no signals", field="signals"))
        return self._signals.copy()

    @property
    def signal_names(self) -> tuple[str, ...]:
        return self._signal_names

    # ------------------------------------------------------------ lookups
    @property
    def when(self) -> str:
        """The decision's time in words: 'a decision before the open of 2024-05-02' (or 'at the close of')."""
        return f"a decision {'before the open' if self.fill == 'open' else 'at the close'} of {self.session.date()}"

    def _refuse(self, message: str, field: str, asked=None) -> LookAheadError:
        err = LookAheadError(message, field=field, asked=asked, decision=self.session,
                             expected=f"data public by {self.when}: closes up to "
                                      f"{self.last_close.date() if self.last_close is not None else 'none'}, events public "
                                      f"by this fill, signals available by {self.session.date()}")
        self._violations.append(err)
        return err

    def close(self, ticker: str, date=None) -> float:
        """``ticker``'s total-return close of ``date`` (the last close on or before it; default the last known
        close). A date on or after a session whose close is not known yet raises :class:`LookAheadError`.

        Levels are total-return prices, split- and dividend-adjusted to the newest data (as the whole backtest trades
        them): a level embeds splits and dividends that came later, so compare closes as returns or ratios (both
        point in time), never against a fixed price."""
        d = self.last_close if date is None else pd.Timestamp(date)
        # later than the last known close only if a session lies between (a weekend after Friday's close is not)
        later = self.last_close is None or (d > self.last_close and (d >= self.session if self.fill == "open" else d > self.session))
        if later:
            raise self._refuse(f"{ticker} close of {d.date()} asked at {self.when}: not yet known", f"{ticker} close", d)
        if self._closes is None:
            raise InputError(Problem("this view has no closes (its context was built without them)", field="closes"))
        c = self._closes
        if ticker not in c.columns:
            raise InputError(Problem(f"no prices loaded for {ticker!r}", field="close", expected="one of " + ", ".join(c.columns)))
        row = int(c.index.searchsorted(d, side="right")) - 1
        if row < 0:
            raise InputError(Problem(f"{ticker} close of {d.date()}: before the run's first session {self._sessions[0].date()}", field="close"))
        return float(c.values[row, c.columns.get_loc(ticker)])

    def event(self, event_id: str) -> "EventRow":
        """The public event ``event_id`` (:class:`EventRow`). An id not public at this fill raises
        :class:`LookAheadError` (without saying whether or when it will be: that would tell the future)."""
        for r in self._events:
            if r["event_id"] == event_id:
                return r
        raise self._refuse(f"event {event_id!r} asked at {self.when}: not public at this fill (announced later, or not "
                           "among the run's selected events)", f"event {event_id}")

    def signal(self, name: str, quarter: str | None = None) -> float:
        """The target's signal ``name`` as known at the decision: the last available row's value (NaN when no row is
        available yet), or with ``quarter`` (e.g. ``'2024Q1'``) the last available row of that quarter. A quarter
        with no row available by the decision session raises :class:`LookAheadError`."""
        if name not in self._signal_names:
            raise InputError(Problem(f"unknown signal {name!r}", field="signal", expected="one of " + ", ".join(self._signal_names)))
        if self._signals is None:
            raise InputError(Problem("this run has no signals", field="signals"))
        sig = self._signals
        if quarter is None:
            return float(sig[name].iloc[-1]) if len(sig) else float("nan")
        if not isinstance(quarter, str) or not __import__("re").fullmatch(r"\d{4}Q[1-4]", quarter):
            raise InputError(Problem(f"quarter {quarter!r} is not a calendar quarter label", field="signal quarter",
                                     expected="a calendar quarter such as 2023Q4 (an earnings event's fiscal_quarter, e.g. FY2024Q2 "
                                              "for MSFT, is a fiscal label and can name another calendar quarter)"))
        rows = sig[sig["quarter"] == quarter]
        if not len(rows):
            try:
                end = f" (period ending {pd.Period(quarter, freq='Q').end_time.date()})"
            except (ValueError, TypeError):
                end = ""
            raise self._refuse(f"{self.target} {name} of {quarter}{end} asked at {self.when}: not released yet", f"{name} {quarter}")
        return float(rows[name].iloc[-1])

    def __repr__(self) -> str:
        return (f"PointInTimeView({self.when}; closes to {self.last_close.date() if self.last_close is not None else 'none'}, "
                f"{len(self._events)} public events, {0 if self._signals is None else len(self._signals)} signal rows)")
