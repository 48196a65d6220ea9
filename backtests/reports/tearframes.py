"""The frames behind a tear sheet: pure functions of a run directory's tables.

Nothing here draws or writes. Returns are daily simple returns (fractions).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from backtests.stats import performance as pf

SERIES = ["strategy", "amzn", "peer_basket", "benchmark"]


def cumulative(returns: pd.DataFrame) -> pd.DataFrame:
    """Growth of 1 for each column: cumprod(1 + r) (first session = 1 + r_0)."""
    return (1 + returns[SERIES].fillna(0.0)).cumprod()


def drawdowns(returns: pd.DataFrame) -> pd.DataFrame:
    """Underwater curve (<= 0) of each column."""
    return pd.DataFrame({c: pf.drawdown(returns[c]) for c in SERIES})


def rolling(returns: pd.DataFrame, window: int = 126) -> pd.DataFrame:
    """Rolling Sharpe of the strategy and of AMZN, and the strategy's rolling beta to the peer basket."""
    return pd.DataFrame({
        "sharpe_strategy": pf.rolling_sharpe(returns["strategy"], window),
        "sharpe_amzn": pf.rolling_sharpe(returns["amzn"], window),
        "beta_strategy_to_basket": pf.rolling_beta(returns["strategy"], returns["peer_basket"], window),
    })


def monthly_table(r: pd.Series) -> pd.DataFrame:
    """Compounded monthly returns: years x months (1..12); NaN outside the data."""
    m = (1 + r.fillna(0.0)).groupby([r.index.year, r.index.month]).prod() - 1
    t = m.unstack()
    t.index.name, t.columns.name = "year", "month"
    return t.reindex(columns=range(1, 13))


def yearly_table(returns: pd.DataFrame) -> pd.DataFrame:
    """Compounded calendar-year returns of each column."""
    y = (1 + returns[SERIES].fillna(0.0)).groupby(returns.index.year).prod() - 1
    y.index.name = "year"
    return y


def metrics_table(returns: pd.DataFrame, summary: dict) -> pd.DataFrame:
    """Key metrics side by side: strategy (from summary.json) and AMZN, basket, benchmark (recomputed the same way)."""
    rows = {}
    for c in SERIES:
        r = returns[c]
        ab = pf.alpha_beta_hac(r, returns["peer_basket"]) if c != "peer_basket" else {"alpha_ann": np.nan, "beta": 1.0, "alpha_tstat_hac": np.nan}
        rows[c] = {
            "total_return": pf.total_return(r), "cagr": pf.cagr(r), "ann_vol": pf.ann_vol(r), "sharpe": pf.sharpe(r),
            "sortino": pf.sortino(r), "max_drawdown": pf.max_drawdown(r), "calmar": pf.calmar(r),
            # buy-and-hold series are fully long (net exposure 1): their excess is the series minus the basket
            "excess_total_return": pf.excess_total_return(r, returns["peer_basket"], 1.0),
            "information_ratio": pf.information_ratio(r, returns["peer_basket"], 1.0) if c != "peer_basket" else np.nan,
            "alpha_ann": ab["alpha_ann"], "beta": ab["beta"], "alpha_tstat_hac": ab["alpha_tstat_hac"],
        }
    t = pd.DataFrame(rows)
    for k in ("n_trades", "n_events", "hit_rate", "exposure", "placebo_p"):
        t.loc[k] = [summary.get(k), np.nan, np.nan, np.nan]
    return t


def worst_drawdowns(r: pd.Series, top: int = 5) -> pd.DataFrame:
    """The ``top`` deepest drawdown episodes: peak, trough, recovery (NaT if not yet), depth, sessions."""
    dd = pf.drawdown(r)
    rows = []
    in_dd, peak = False, None
    prev = r.index[0] if len(r) else None  # a fall on the first session counts from the start
    for d, v in dd.items():
        if v < 0 and not in_dd:
            in_dd, peak = True, prev
        if v == 0 and in_dd:
            seg = dd.loc[peak:d]
            rows.append((peak, seg.idxmin(), d, seg.min()))
            in_dd = False
        prev = d
    if in_dd:
        seg = dd.loc[peak:]
        rows.append((peak, seg.idxmin(), pd.NaT, seg.min()))
    out = pd.DataFrame(rows, columns=["peak", "trough", "recovery", "depth"])
    if out.empty:
        return out.assign(sessions=pd.Series(dtype=int))
    idx = r.index
    out["sessions"] = [int(idx.get_loc(tr) - idx.get_loc(pk)) for pk, tr in zip(out["peak"], out["trough"])]
    return out.sort_values("depth").head(top).reset_index(drop=True)


def caar_paths(ar: pd.DataFrame, events: pd.DataFrame, model: str = "peer_adjusted", lo: int = -5, hi: int = 20, min_events: int = 3) -> pd.DataFrame:
    """Mean cumulative abnormal return by event day for each category (and ``all``),
    cumulated from ``lo``, with a 95% band from the cross-sectional standard error.

    The point at day ``d`` is the CAAR of window ``lo:d`` over the events the
    study table would count in that window (see :mod:`backtests.stats.study`): those
    with an AR on every day ``lo..d``, and an event whose ``needs_day1`` is
    true (unknown time, DESIGN's rule) only from ``d >= 1``. So the point at
    ``d`` equals study.csv's ``caar`` and ``n`` of window ``lo:d`` when the
    table has that window.

    ``ar``: abnormal_returns.csv; its ``category`` and ``needs_day1`` columns
    (the study's own, possibly merged, events) are used when present, else
    ``events`` gives id -> ``category`` (``+``-joined for merged events, which
    count in each category) and ``time`` (``unknown`` -> needs day +1).
    Returns long: ``group, day, caar, lo95, hi95, n``.
    """
    a = ar[(ar["model"] == model) & ar["day"].between(lo, hi)]
    wide = a.pivot_table(index="event_id", columns="day", values="ar").sort_index(axis=1)
    if len(wide.columns):  # contiguous days, so a missing day ends an event's path
        wide = wide.reindex(columns=range(int(wide.columns.min()), int(wide.columns.max()) + 1))
    complete = wide.notna().cumprod(axis=1).astype(bool)  # every day from lo present
    cum = wide.fillna(0.0).cumsum(axis=1).where(complete)
    per_event = ar.drop_duplicates("event_id").set_index("event_id")
    if "category" in ar:
        cat = per_event["category"].astype(str)
    else:
        cat = events.set_index("event_id")["category"].astype(str) if len(events) else pd.Series(dtype=str)
    if "needs_day1" in ar:
        needs = per_event["needs_day1"].astype(bool)
    elif "time" in events:
        needs = events.set_index("event_id")["time"].eq("unknown")
    else:
        needs = pd.Series(dtype=bool)
    late = [e for e in cum.index if bool(needs.get(e, False))]
    early_days = [d for d in cum.columns if d < 1]
    if late and early_days:
        cum.loc[late, early_days] = np.nan
    groups = {"all": list(cum.index)}
    for eid in cum.index:
        for c in str(cat.get(eid, "")).split("+"):
            if c:
                groups.setdefault(c, []).append(eid)
    rows = []
    for g, ids in groups.items():
        sub = cum.loc[ids]
        if len(sub) < min_events:
            continue
        n = sub.notna().sum()
        mean = sub.mean()
        se = sub.std(ddof=1) / np.sqrt(n)
        for d in sub.columns:
            if n[d]:
                rows.append((g, int(d), mean[d], mean[d] - 1.96 * se[d], mean[d] + 1.96 * se[d], int(n[d])))
    return pd.DataFrame(rows, columns=["group", "day", "caar", "lo95", "hi95", "n"])


def per_event_returns(events: pd.DataFrame, returns: pd.DataFrame, first: int = 0, last: int = 1) -> pd.DataFrame:
    """For each event in the run period: compounded AMZN and peer-basket returns
    over sessions ``day0+first .. day0+last`` (close to close), their difference,
    and whether it was traded or why not."""
    idx = returns.index
    rows = []
    for _, e in events.iterrows():
        d0 = pd.Timestamp(e["reaction_session"])
        if d0 not in idx:
            continue
        p = idx.get_loc(d0)
        if p + first < 1 or p + last >= len(idx):
            continue
        seg = returns.iloc[p + first: p + last + 1]
        a = float(np.prod(1 + seg["amzn"]) - 1)
        b = float(np.prod(1 + seg["peer_basket"]) - 1)
        rows.append({"event_id": e["event_id"], "category": e["category"], "reaction_session": e["reaction_session"], "amzn": a, "peer_basket": b,
                     "excess": a - b, "traded": bool(e["traded"]), "reason": e["reason"]})
    return pd.DataFrame(rows, columns=["event_id", "category", "reaction_session", "amzn", "peer_basket", "excess", "traded", "reason"])


def per_event_table(events: pd.DataFrame, per_event: pd.DataFrame) -> pd.DataFrame:
    """One row per selected event unit (after the cluster rule): its traded
    window returns from per_event.csv (:mod:`backtests.stats.traded_windows`; NaN
    where it had no legal entry and exit), and whether it was traded or why not
    (from events.csv). Columns: ``event_id, category, reaction_session, entry,
    exit, excess_gap, amzn_traded, basket_traded, excess_traded, traded,
    reason, headline``.
    """
    sel = events[events["selected"].astype(bool) & events["unit"].astype("string").fillna("").ne("")]
    first = sel.drop_duplicates("unit").set_index("unit")
    heads = sel.groupby("unit")["headline"].agg(lambda h: " | ".join(map(str, h)))
    cats = sel.groupby("unit")["category"].agg(lambda c: "+".join(sorted(set(map(str, c)))))
    pe = per_event.set_index("event_id") if len(per_event) else pd.DataFrame()
    rows = []
    for unit, e in first.iterrows():
        p = pe.loc[unit] if unit in pe.index else None
        get = (lambda c: p[c]) if p is not None else (lambda c: np.nan)
        rows.append({"event_id": unit, "category": cats[unit], "reaction_session": e["reaction_session"],
                     "entry": get("entry_session") if p is not None else "", "exit": get("exit_session") if p is not None else "",
                     "excess_gap": get("excess_gap"), "amzn_traded": get("amzn_traded"), "basket_traded": get("basket_traded"),
                     "excess_traded": get("excess_traded"), "traded": bool(e["traded"]),
                     "reason": str(e["reason"]).replace(f"as part of {unit}: ", ""), "headline": heads[unit]})
    cols = ["event_id", "category", "reaction_session", "entry", "exit", "excess_gap", "amzn_traded", "basket_traded", "excess_traded", "traded",
            "reason", "headline"]
    return pd.DataFrame(rows, columns=cols)
