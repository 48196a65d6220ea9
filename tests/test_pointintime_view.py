"""The point-in-time view a strategy decides on (issue 14): what it holds at a decision, worked out by hand on a
small calendar, the errors for anything later, and a property test over random decision sessions of the bundled
data: nothing a view returns, and nothing reachable from it, is dated after its decision."""
from __future__ import annotations

import dataclasses
import gc
import types

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.align import align
from events.errors import InputError
from strategies.context import StrategyContext
from strategies.view import HIDDEN_EVENT_COLUMNS, LookAheadError, Timeline, event_public_keys, fill_key

# ---------------------------------------------------------------- a calendar worked out by hand
# sessions 0..7: Tue 2 Jan .. Thu 11 Jan 2024 (Mon 1 Jan is a holiday)
S = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09", "2024-01-10", "2024-01-11"])


def _hand_ctx(fill: str = "open") -> StrategyContext:
    closes = pd.DataFrame({"A": [100.0, 101, 102, 103, 104, 105, 106, 107], "B": [50.0, 50, 51, 51, 52, 52, 53, 53]}, index=S)
    raw = pd.DataFrame({
        "event_id": ["bmo_news", "intraday_news", "sched_release", "later_news"],
        "time": ["bmo", "intraday", "amc", "amc"],
        "scheduled": [False, False, True, False],
        "company": ["A", "B", "A", "B"],
        "category": ["other", "other", "earnings", "other"],
        "amount_usd_bn": [1.0, 2.0, np.nan, 3.0],
        # day 0 (reaction session): bmo and intraday on Fri 5 Jan; the amc release of Mon 8 Jan reacts on Tue 9 Jan;
        # the amc news of Tue 9 Jan on Wed 10 Jan
        "day0": pd.to_datetime(["2024-01-05", "2024-01-05", "2024-01-09", "2024-01-10"]),
    })
    ev = align(raw, S, notice_sessions=2)  # the release's date is assumed public 2 sessions before day 0: Fri 5 Jan
    ev["cluster"], ev["cluster_size"], ev["same_session"] = [0, 0, 1, 1], [2, 2, 2, 2], [True, True, False, False]
    sig = pd.DataFrame({
        "quarter": ["2023Q3", "2023Q4", "2024Q1"],
        "period_end": pd.to_datetime(["2023-09-30", "2023-12-31", "2024-03-31"]),
        "available": pd.to_datetime(["2024-01-03", "2024-01-09", None]),  # 2024Q1 not released within the data
        "kind": ["release"] * 3,
        "capex_efficiency": [0.10, 0.20, 0.30],
    })
    return StrategyContext(sessions=S, events=ev, returns=closes.pct_change(), target="A", peers=("B",),
                           portfolio={"gross": 1.0, "fill": fill}, signals=sig, closes=closes)


def test_an_open_fill_knows_the_previous_close_and_the_news_public_by_that_open():
    """Fill at the open of Fri 5 Jan (position 3): closes up to Thu 4 Jan; the bmo news of the 5th (earliest entry:
    that open) and the release public 2 sessions before its day 0 (from the same open) are known; the intraday news
    of the 5th (earliest entry: its close) and the news of the 9th are not; the 2023Q3 signal (available 3 Jan) is,
    2023Q4's (available 9 Jan) is not."""
    v = Timeline(_hand_ctx("open")).view(3, 0)
    assert v.session == S[3] and v.last_close == S[2]
    assert list(v.closes.index) == list(S[:3]) and list(v.returns.index) == list(S[:3])
    assert v.close("A") == 102.0 and v.close("B", "2024-01-03") == 50.0
    assert list(v.events["event_id"]) == ["bmo_news", "sched_release"]
    assert not set(HIDDEN_EVENT_COLUMNS) & set(v.events.columns)
    assert list(v.signals["quarter"]) == ["2023Q3"] and v.signal("capex_efficiency") == pytest.approx(0.10)
    assert v.event("sched_release")["day0"] == pd.Timestamp("2024-01-09")  # a scheduled date is public before day 0


def test_a_close_fill_knows_that_close_and_the_intraday_news_of_that_session():
    v = Timeline(_hand_ctx("close")).view(3, 0)
    assert v.last_close == S[3] and v.close("A") == 103.0
    assert list(v.events["event_id"]) == ["bmo_news", "sched_release", "intraday_news"]  # in the order they became public
    assert v.when == "a decision at the close of 2024-01-05"


def test_asking_for_a_later_close_raises_naming_the_field_and_both_dates():
    v = Timeline(_hand_ctx("open")).view(3, 0)
    with pytest.raises(LookAheadError) as exc:
        v.close("A", "2024-01-05")
    assert isinstance(exc.value, InputError)
    assert exc.value.message == "A close of 2024-01-05 asked at a decision before the open of 2024-01-05: not yet known"
    assert exc.value.field == "A close" and exc.value.asked == S[3] and exc.value.decision == S[3]
    with pytest.raises(LookAheadError):
        Timeline(_hand_ctx("close")).view(3, 0).close("A", "2024-01-08")


def test_an_event_not_public_yet_and_an_unreleased_quarter_raise():
    v = Timeline(_hand_ctx("open")).view(3, 0)
    with pytest.raises(LookAheadError, match="event 'intraday_news' asked at a decision before the open of 2024-01-05: not public"):
        v.event("intraday_news")
    with pytest.raises(LookAheadError, match=r"A capex_efficiency of 2023Q4 \(period ending 2023-12-31\) asked at a decision "
                                             r"before the open of 2024-01-05: not released yet"):
        v.signal("capex_efficiency", "2023Q4")
    assert v.signal("capex_efficiency", "2023Q3") == pytest.approx(0.10)
    # from the reaction session of its release the quarter is known; a row never available (NaT) never is
    later = Timeline(_hand_ctx("open")).view(5, 0)
    assert later.signal("capex_efficiency", "2023Q4") == pytest.approx(0.20)
    assert list(later.signals["quarter"]) == ["2023Q3", "2023Q4"]
    with pytest.raises(LookAheadError):
        Timeline(_hand_ctx("open")).view(7, 0).signal("capex_efficiency", "2024Q1")


def test_a_caught_error_is_still_recorded_on_the_view():
    v = Timeline(_hand_ctx("open")).view(3, 0)
    try:
        v.close("A", "2024-01-11")
    except LookAheadError:
        pass
    assert [e.field for e in v._violations] == ["A close"]


def test_frames_a_view_returns_are_its_own():
    ctx = _hand_ctx("open")
    v = Timeline(ctx).view(4, 0)
    r = v.closes
    r.iloc[0, 0] = -1.0
    assert ctx.closes.iloc[0, 0] == 100.0 and v.closes.iloc[0, 0] == 100.0
    e = v.event("bmo_news")
    with pytest.raises(AttributeError):
        e.category = "earnings"


def test_public_keys_follow_the_earliest_legal_entry():
    ev = _hand_ctx().events
    # bmo: open of 3; intraday: close of 3; release: open of 5 - 2 = 3 (notice); later news (amc 9 Jan): open of 6
    assert list(event_public_keys(ev, S)) == [6, 7, 6, 12]
    assert fill_key(3, "open") == 6 and fill_key(3, "close") == 7


# ---------------------------------------------------------------- the bundled data, random decisions
@pytest.fixture(scope="module")
def real_ctx():
    from backtests.config import load_config
    from backtests.runner import plan_run

    return plan_run(load_config(None)).ctx


def _reachable(root, limit: int = 20000):
    """Arrays and strings reachable from ``root`` through containers and data objects (not through classes,
    modules or functions, which reach everything)."""
    skip = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.CodeType)
    seen, stack, arrays, strings = set(), [root], [], set()
    while stack and len(seen) < limit:
        o = stack.pop()
        if id(o) in seen or isinstance(o, skip):
            continue
        seen.add(id(o))
        if isinstance(o, np.ndarray):
            arrays.append(o)
            if o.base is not None:
                stack.append(o.base)
            if o.dtype != object:
                continue
        if isinstance(o, str):
            strings.add(o)
            continue
        stack.extend(gc.get_referents(o))
    return arrays, strings


@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_nothing_a_view_returns_is_dated_after_its_decision(real_ctx, data):
    ctx = real_ctx
    fill = data.draw(st.sampled_from(["open", "close"]))
    pos = data.draw(st.integers(min_value=1 if fill == "open" else 0, max_value=len(ctx.sessions) - 1))
    if fill != ctx.portfolio["fill"]:
        ctx = dataclasses.replace(ctx, portfolio={**ctx.portfolio, "fill": fill})
    v = Timeline(ctx).view(pos)
    s = ctx.sessions[pos]
    last = ctx.sessions[pos] if fill == "close" else ctx.sessions[pos - 1]
    # prices: up to the last close known, every one of them
    assert v.last_close == last and v.returns.index.max() == last and v.closes.index.max() == last
    assert len(v.returns) == len(ctx.returns.loc[:last]) and v.sessions.max() == s
    with pytest.raises(LookAheadError):
        v.close(ctx.target, ctx.sessions[pos + 1] if pos + 1 < len(ctx.sessions) else s + pd.Timedelta(days=1))
    # events: public (earliest legal entry) at or before this fill, and every such event
    keys = event_public_keys(ctx.events, ctx.sessions)
    public = set(ctx.events["event_id"][keys <= fill_key(pos, fill)])
    assert set(v.events["event_id"]) == public
    if len(v.events):
        assert (event_public_keys(v.events, ctx.sessions) <= fill_key(pos, fill)).all()
        assert (v.events["earliest_entry"].dropna() <= s).all()
    # signals: available by the decision session, and every such row
    assert (v.signals["available"] <= s).all()
    assert len(v.signals) == int((ctx.signals["available"] <= s).sum())
    # nothing reachable from the view leads to a later row: no date after the decision in any array, no price array
    # longer than the closes known, no id of an event not public yet
    arrays, strings = _reachable(Timeline(ctx).view(pos))  # a fresh view: the errors raised above are recorded on v
    dates = [a for a in arrays if a.dtype.kind == "M" and a.size and not np.isnat(a).all()]
    assert dates and max(a[~np.isnat(a)].max() for a in dates) <= s.to_datetime64()
    biggest = max((pos + 1) * ctx.closes.shape[1], len(v.signals) * v.signals.select_dtypes("float").shape[1])
    assert max(a.size for a in arrays if a.dtype.kind == "f") <= biggest
    assert not (set(ctx.events["event_id"]) - public) & strings
    # no text of the signal rows names a later date (the signal table's '<signal>_why' texts say when missing figures
    # come); event texts may (a headline announcing a plan, a URL with its article's date), and are checked below
    import re

    texts = [t for c in v.signals.columns if v.signals[c].dtype == object or pd.api.types.is_string_dtype(v.signals[c])
             for t in v.signals[c].dropna().astype(str)]
    later = [t for t in texts for d in re.findall(r"\b(?:19|20)\d{2}-(?:0[1-9]|1[0-2])-[0-3]\d\b", t) if d > str(s.date())]
    assert not later, later[:3]
    # a scheduled event known before its release: what it will say (headline, amount) is not reachable, and reading
    # it raises; the same fields of released events are there
    from strategies.view import event_release_keys

    rel = event_release_keys(ctx.events, ctx.sessions)
    pending = ctx.events[(keys <= fill_key(pos, fill)) & (rel > fill_key(pos, fill))]
    released_heads = set(ctx.events.loc[rel <= fill_key(pos, fill), "headline"])
    assert not (set(pending["headline"]) - released_heads) & strings
    for eid in pending["event_id"]:
        with pytest.raises(LookAheadError, match="before its release"):
            v.event(eid)["headline"]
        assert v.events.set_index("event_id").loc[eid, ["headline", "amount_usd_bn"]].isna().all()


def test_a_signal_quarter_must_be_a_calendar_label_not_a_fiscal_one():
    """'FY2023Q4' (an earnings event's fiscal_quarter) is not a signal quarter: a plain input error, not a false claim
    that the quarter is unreleased."""
    v = Timeline(_hand_ctx("open")).view(6, 0)
    assert v.signal("capex_efficiency", "2023Q4") == 0.20
    with pytest.raises(InputError, match="not a calendar quarter label") as exc:
        v.signal("capex_efficiency", "FY2023Q4")
    assert not isinstance(exc.value, LookAheadError)


def test_a_weekend_date_gives_the_friday_close_known_at_monday_open():
    """At the open of Mon 8 Jan the last close is Fri 5 Jan: asking for Sat 6 Jan is asking for Friday's close, not
    for the future; asking for Mon 8 Jan itself is."""
    v = Timeline(_hand_ctx("open")).view(4, 0)
    assert v.last_close == S[3] and v.close("A", "2024-01-06") == 103.0 == v.close("A", "2024-01-07")
    with pytest.raises(LookAheadError):
        v.close("A", "2024-01-08")
