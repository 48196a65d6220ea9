"""Exposure over time, turnover, time in the market, and the hedge basket
actually held per trade.

Pure functions of exposure.csv, returns.csv, trades.csv and events.csv.
Nothing here draws or writes files. Exposures are fractions of portfolio value
at each session's close (1.0 = 100%); money is USD; a year is 252 sessions.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

ANN = 252

DERIVED_LONG_SHORT = ("exposure.csv has no long/short columns (a run written before they existed): long and short are derived "
                      "as (gross + net) / 2 and (gross - net) / 2, exact only when no ticker is held both long and short")
NO_BETA_NET = "exposure.csv has no beta_net column (a run written before it existed): the beta-adjusted net exposure is not shown"


def exposure_notes(exposure: pd.DataFrame) -> list[str]:
    """What :func:`exposure_over_time` had to derive or leave out for this exposure.csv."""
    notes = []
    if not {"long", "short"} <= set(exposure.columns):
        notes.append(DERIVED_LONG_SHORT)
    if "beta_net" not in exposure.columns:
        notes.append(NO_BETA_NET)
    return notes


def exposure_over_time(exposure: pd.DataFrame) -> pd.DataFrame:
    """Per session (exposure.csv's index): ``long``, ``short`` (positive),
    ``net`` (long minus short), ``gross`` (long plus short) and ``beta_net``
    (the beta-adjusted net exposure to the peer basket), fractions of
    portfolio value at the close.

    ``long``/``short``/``beta_net`` come from exposure.csv when it has them;
    otherwise long and short are derived from ``exposure`` (gross) and ``net``
    and ``beta_net`` is NaN (:func:`exposure_notes` says which).
    """
    def col(c):
        return pd.to_numeric(exposure[c], errors="coerce").astype(float)

    gross, net = col("exposure"), col("net")
    if {"long", "short"} <= set(exposure.columns):
        long, short = col("long"), col("short")
    else:
        long, short = (gross + net) / 2, (gross - net) / 2
    beta_net = col("beta_net") if "beta_net" in exposure.columns else pd.Series(np.nan, index=exposure.index)
    return pd.DataFrame({"long": long, "short": short, "net": net, "gross": gross, "beta_net": beta_net}, index=exposure.index)


def in_market(exposure: pd.DataFrame) -> pd.DataFrame:
    """Per session: ``at_close`` (gross exposure above 1e-9 at the close, the
    definition of summary.json's ``exposure``) and ``any`` (a position at the
    previous close or at this close: the session's return moved with a
    position, including the overnight gap of a position closed at its open)."""
    g = pd.to_numeric(exposure["exposure"], errors="coerce").fillna(0.0).abs() > 1e-9
    return pd.DataFrame({"at_close": g, "any": g | g.shift(1, fill_value=False)}, index=exposure.index)


def exposure_summary(exposure: pd.DataFrame) -> dict:
    """Averages of :func:`exposure_over_time` over every session (``mean_*``)
    and over the sessions with a position at the close (``mean_*_in_market``),
    the largest gross (``max_gross``) and the largest absolute net and
    beta-adjusted net (``max_abs_net``, ``max_abs_beta_net``; NaN when absent).
    Also the share of sessions in the market (:func:`in_market`):
    ``share_in_market_close`` and ``share_in_market_any``."""
    e = exposure_over_time(exposure)
    m = in_market(exposure)
    out: dict = {}
    for c in ("long", "short", "net", "gross", "beta_net"):
        out[f"mean_{c}"] = float(e[c].mean()) if e[c].notna().any() else float("nan")
        sub = e.loc[m["at_close"].to_numpy(), c]
        out[f"mean_{c}_in_market"] = float(sub.mean()) if sub.notna().any() else float("nan")
    out["max_gross"] = float(e["gross"].max()) if len(e) else float("nan")
    out["max_abs_net"] = float(e["net"].abs().max()) if len(e) else float("nan")
    out["max_abs_beta_net"] = float(e["beta_net"].abs().max()) if e["beta_net"].notna().any() else float("nan")
    n = len(m)
    out["share_in_market_close"] = float(m["at_close"].mean()) if n else float("nan")
    out["share_in_market_any"] = float(m["any"].mean()) if n else float("nan")
    return out


def equity_curve(returns: pd.DataFrame, cash: float) -> pd.Series:
    """Portfolio value (USD) at each close: ``cash * cumprod(1 + strategy)``."""
    return float(cash) * (1 + pd.to_numeric(returns["strategy"], errors="coerce").fillna(0.0)).cumprod()


def turnover(trades: pd.DataFrame, returns: pd.DataFrame, cash: float, annualization: int = ANN) -> dict:
    """Annualised turnover: traded notional per year over average equity.

    ``traded_notional`` is the sum of trades.csv's ``traded_notional`` (USD,
    every fill of every trade, both legs); ``years`` = sessions in returns.csv /
    ``annualization``; ``avg_equity`` = mean of :func:`equity_curve` (``cash``
    is the config's starting cash); ``turnover_ann`` = ``traded_notional /
    years / avg_equity`` (1.0 = the portfolio's value traded once a year,
    counting both the buys and the sells). NaN, with a ``note``, when trades.csv
    has no ``traded_notional``; 0 when nothing traded.
    """
    n = len(returns)
    years = n / annualization if n else float("nan")
    avg_eq = float(equity_curve(returns, cash).mean()) if n else float("nan")
    note = ""
    if trades is None or not len(trades):
        tn = 0.0
    elif "traded_notional" in trades.columns and pd.to_numeric(trades["traded_notional"], errors="coerce").notna().all():
        tn = float(pd.to_numeric(trades["traded_notional"]).sum())
    else:
        tn = float("nan")
        note = "trades.csv has no traded_notional column (a run written before it existed): turnover is not computed"
    to = tn / years / avg_eq if n and avg_eq > 0 and np.isfinite(tn) else float("nan")
    return {"traded_notional": tn, "years": years, "avg_equity": avg_eq, "turnover_ann": to, "note": note}


def _split(s) -> list[str]:
    if s is None or (isinstance(s, float) and np.isnan(s)):
        return []
    return [p for p in str(s).replace("+", ";").split(";") if p.strip()]


def basket_held(trades: pd.DataFrame, peers: list[str], events: pd.DataFrame | None = None) -> pd.DataFrame:
    """The hedge basket each trade actually held at its entry fill, against the configured peers.

    Per trade: ``episode, event_ids, entry, basket`` (trades.csv's, at the
    entry fill), ``n_basket``, ``left_out`` (configured peers not in it,
    ``;``-joined), ``why`` and ``rebalances`` (trades.csv's: later fills that
    changed the basket, and why). ``why``: ``"announcing company: <peer> (<event
    ids>)"`` for a left-out peer that announced one of the trade's events
    (events.csv's ``company``; the strategies leave an event's own company out
    of the hedge), ``"not an announcing company of these events"`` otherwise,
    ``"announcing company unknown (no events.csv)"`` without ``events``, and
    ``"no hedge basket"`` for a trade without one (a buy-and-hold); empty when
    no peer was left out.
    """
    cols = ["episode", "event_ids", "entry", "basket", "n_basket", "left_out", "why", "rebalances"]
    if trades is None or not len(trades):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    company = {}
    if events is not None and len(events):
        company = dict(zip(events["event_id"].astype(str), events["company"].fillna("").astype(str)))
    rows = []
    for _, t in trades.iterrows():
        basket = _split(t.get("basket"))
        ids = _split(t.get("event_ids"))
        left = [p for p in peers if p not in basket]
        if not basket:
            why = "no hedge basket"
            left = []
        elif not left:
            why = ""
        elif events is None:
            why = "announcing company unknown (no events.csv)"
        else:
            parts = []
            for p in left:
                by = [i for i in ids if p in _split(company.get(i, ""))]
                parts.append(f"announcing company: {p} ({', '.join(by)})" if by else f"{p}: not an announcing company of these events")
            why = "; ".join(parts)
        reb = t.get("rebalances")
        rows.append({"episode": t["episode"], "event_ids": "+".join(ids), "entry": str(t["entry"]), "basket": ";".join(basket),
                     "n_basket": len(basket), "left_out": ";".join(left), "why": why,
                     "rebalances": "" if reb is None or (isinstance(reb, float) and np.isnan(reb)) else str(reb)})
    return pd.DataFrame(rows, columns=cols)


def peers_left_out(held: pd.DataFrame, peers: list[str]) -> pd.DataFrame:
    """Per configured peer: ``n_trades_left_out`` (trades of :func:`basket_held`
    whose entry basket lacked it) and ``episodes`` (their episode numbers,
    ``;``-joined)."""
    rows = []
    for p in peers:
        hit = held[held["left_out"].fillna("").map(lambda s: p in _split(s))] if len(held) else held
        rows.append({"peer": p, "n_trades_left_out": int(len(hit)), "episodes": ";".join(str(e) for e in hit["episode"])})
    return pd.DataFrame(rows).set_index("peer")
