"""The Backtrader strategy that every aibt strategy is: it executes a schedule.

A concrete strategy subclasses :class:`ScheduleStrategy`, declares its
parameters in Backtrader's ``params`` tuple and implements :meth:`plan`, a pure
function of a :class:`~strategies.context.StrategyContext` that returns the
episodes to trade and a note for every event. Planning happens before the
simulation, from information that is point in time by construction (events
aligned to their earliest legal entry, signals as known at the entry session);
Backtrader then does the trading: orders, fills, slippage, commission, cash.

Execution conventions:

* ``fill='open'`` (default): in ``next()`` at the close of session s the
  strategy sizes orders for the weights in force at s+1, and Backtrader fills
  them at the open of s+1. ``fill='close'`` (only when a config says so): the
  broker fills at the close of the same session (cheat-on-close).
* Sizes are shares (fractional by default): target value / the close at
  decision time; portfolio value is the one at decision time.
* On a change of episode the old legs are closed before the new ones open.
  Within an episode, a change of weights (a rebalance, e.g. a later event's
  announcing peer leaving the basket) trades only the legs whose weight
  changes, to their new target sized as at an entry.
* Borrow cost: for every night a short leg is held, ``|short value| *
  borrow_bps / 1e4 * calendar days / 365`` is taken from cash (applied by the
  broker at the next bar).
"""
from __future__ import annotations

import math

import pandas as pd

from strategies.btcompat import bt
from strategies.schedule import Episode, cash_shortfall


class ScheduleStrategy(bt.Strategy):
    """Executes ``targets`` (sessions x tickers weights plus ``episode``)."""

    params = (
        ("targets", None),
        ("fill", "open"),
        ("borrow_bps", 0.0),
        ("fractional", True),
    )

    # ------------------------------------------------------------ planning
    @classmethod
    def plan(cls, ctx, params: dict) -> tuple[list[Episode], dict[str, str], pd.DataFrame | None]:  # pragma: no cover - abstract
        """Return ``(episodes, notes, plans)``: the positions to hold, a note per
        event id, and the per-event plans (``event_id, side, entry, exit``, see
        :func:`strategies.schedule.plan_event_trades`) or None."""
        raise NotImplementedError

    @classmethod
    def check_params(cls, params: dict, portfolio: dict) -> list[tuple[str, str, str]]:
        """Problems with a resolved parameter set, found before any data is
        loaded: ``(parameter, what is wrong, what is expected)``. None by default."""
        return []

    @classmethod
    def cluster_offsets(cls, params: dict) -> tuple[int, int]:
        """``(pre, post)`` session offsets around day 0 within which two events form a cluster for
        :func:`events.clusters.find_clusters`: the declared entry (when before day 0) and exit offsets."""
        eo = params.get("entry_offset", 0)
        return min(eo if isinstance(eo, int) else 0, 0), max(int(params.get("exit_offset", 0)), 0)

    @classmethod
    def param_names(cls) -> list[str]:
        base = set(ScheduleStrategy.params._getkeys())
        return [n for n in cls.params._getkeys() if n not in base]

    @classmethod
    def param_defaults(cls) -> dict:
        defaults = dict(zip(cls.params._getkeys(), cls.params._getdefaults()))
        return {n: defaults[n] for n in cls.param_names()}

    # ------------------------------------------------------------ execution
    def __init__(self):
        t = self.p.targets
        self._tickers = [c for c in t.columns if c != "episode"]
        self._w = t[self._tickers].to_numpy()
        self._ep = t["episode"].to_numpy()
        self._pos_of = {pd.Timestamp(d): i for i, d in enumerate(t.index)}
        self._datas = {d._name: d for d in self.datas}
        self._current = 0  # episode in force
        self.fills: list[dict] = []
        self.borrow: list[dict] = []
        self.exposure: list[tuple] = []
        self.net_held: list[tuple] = []  # (session, net weight of the book that earns that session)
        self._prev_value = 0.0
        self._last_value = None
        if self.p.fill == "close":
            self.broker.set_coc(True)

    def stop(self):
        if self.p.fill == "close" and len(self.data):
            # the last session's closing fills are never executed (no later bar): its book is what is held now
            g, _, net = self._book()
            v = self.broker.getvalue()
            self.exposure.append((self._session(), g / v if v else 0.0, net / v if v else 0.0, self._current))

    def _session(self, ago: int = 0) -> pd.Timestamp:
        return pd.Timestamp(bt.num2date(self.data.datetime[-ago] if ago else self.data.datetime[0]).date())

    def notify_order(self, order):
        if order.status != order.Completed:
            if order.status == order.Margin:
                when = self._session() if self.p.fill == "open" else self._session(1)
                raise cash_shortfall(when, order.data._name, self.p.fill)
            if order.status in (order.Rejected, order.Canceled):
                raise RuntimeError(f"order {order.ref} on {order.data._name} ended {order.getstatusname()}")
            return
        ex = order.executed
        self.fills.append(
            {
                "date": pd.Timestamp(bt.num2date(ex.dt).date()),  # the session whose open/close filled it
                "notified": self._session(),  # the bar on which the broker reported it
                "ticker": order.data._name,
                "size": ex.size,
                "price": ex.price,
                "value": ex.size * ex.price,
                "commission": ex.comm,
                "episode": order.info.get("episode", 0),
            }
        )

    def _book(self, ago: int = 0) -> tuple[float, float, float]:
        """Gross, short and net (long minus short) value of the current
        positions at the close ``ago`` bars back (USD)."""
        gross = short = net = 0.0
        for d in self._datas.values():
            v = self.getposition(d).size * d.close[-ago]
            gross += abs(v)
            net += v
            short += -v if v < 0 else 0.0
        return gross, short, net

    def next(self):
        today = self._session()
        i = self._pos_of[today]
        value = self.broker.getvalue()
        # the book that earns today's close (after today's open fills, or after yesterday's close fills),
        # valued at yesterday's close over yesterday's value: the net weight held into today
        if i > 0 and self._last_value:
            self.net_held.append((today, self._book(1)[2] / self._last_value))
        else:
            self.net_held.append((today, 0.0))
        self._last_value = value
        if self.p.fill == "close":
            # orders sent at yesterday's close were filled at that close: the book
            # now is yesterday's closing book, valued at yesterday's close
            if i > 0:
                g, _, net = self._book(1)
                pv = self._prev_value
                self.exposure.append((self._session(1), g / pv if pv else 0.0, net / pv if pv else 0.0, self._current))
            self._prev_value = value
        # borrow for the short position held into tonight
        gross, short, net = self._book()
        if self.p.fill == "open":
            self.exposure.append((today, gross / value if value else 0.0, net / value if value else 0.0, self._current))
        if short and self.p.borrow_bps and i + 1 < len(self._w):
            nxt = self.p.targets.index[i + 1]
            days = (nxt - today).days
            cost = short * self.p.borrow_bps / 1e4 * days / 365.0
            self.broker.add_cash(-cost)
            self.borrow.append({"date": nxt, "episode": self._current, "cost": cost})
        j = i + 1 if self.p.fill == "open" else i
        if j >= len(self._w):
            return
        want = int(self._ep[j])
        if want == self._current:
            if want and j > 0:
                self._rebalance(j, value)
            return
        # close the old legs, then open the new
        if self._current:
            for name, d in self._datas.items():
                size = self.getposition(d).size
                if size:
                    self._order(d, -size, self._current)
        if want:
            for k, name in enumerate(self._tickers):
                wt = self._w[j, k]
                if wt:
                    d = self._datas[name]
                    size = wt * value / d.close[0]
                    if not self.p.fractional:
                        size = math.trunc(size)
                    if size:
                        self._order(d, size, want)
        self._current = want

    def _rebalance(self, j: int, value: float) -> None:
        """Within an episode, trade each leg whose target weight changes at row
        ``j`` to its new target (sized like an entry); unchanged legs are left
        as held."""
        for k, name in enumerate(self._tickers):
            old, new = self._w[j - 1, k], self._w[j, k]
            if old == new:
                continue
            d = self._datas[name]
            have = self.getposition(d).size
            size = new * value / d.close[0] - have if new else -have
            if new and not self.p.fractional:
                size = math.trunc(new * value / d.close[0]) - have
            if size:
                self._order(d, size, self._current)

    def _order(self, data, size, episode):
        o = self.buy(data=data, size=size) if size > 0 else self.sell(data=data, size=-size)
        o.addinfo(episode=episode)
        return o
