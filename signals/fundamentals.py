"""Quarterly fundamentals, indexed by when they became usable.

A figure is usable only from the session after the **document that first
published it** became public, never from its period end
(:mod:`signals.availability` has the rules and the bundled exceptions):

* a figure of the quarter's earnings release (or of its call) from the
  release's **reaction session** (release date + time, see
  :func:`events.calendar.reaction_session`);
* a figure only the quarter's 10-Q/10-K has (Amazon's RPO) from that filing's
  date: stated in the sources, else an EDGAR ``filed`` date, else the SEC
  deadline, as after the close;
* a figure read in a later document (a later filing's prior-year column, a
  later release's comparative table) from that later document's date: it is
  a later vintage, never the original release's.

Release dates come from the fundamentals file; where the file leaves them
empty, from the bundled earnings calendar for the same ticker and fiscal
quarter. A release whose time is still unknown is treated as after the close
(the later possibility). A quarter with no release date has no reaction
session: its release figures are never used, and the reason is kept.

The store is *point in time* and long: one row per (ticker, quarter, metric,
vintage) with the session the value became usable, the document and the rule.
A cell may have several vintages (the release's rounded figure, then the
exact one from a later filing; or a recast): each is usable from its own
session, so a restatement never rewrites what was known before it. EDGAR
refreshes (:mod:`signals.edgar`) add vintages the same way. All money is USD
billions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd

from events.calendar import reaction_session
from events.loader import BUNDLED_EARNINGS, bundled_path as events_path
from events.schema import EARNINGS_COLUMNS
from events.tabular import Column, read_table, sha256_file
from signals import availability as av

AMZN_METRICS = [
    "total_net_sales", "operating_income", "aws_net_sales", "aws_operating_income",
    "capex_purchases_of_pp_and_e", "capex_ttm", "pp_and_e_finance_leases", "aws_backlog",
    "aws_backlog_wavg_life_years", "total_rpo",
]
PEER_METRICS = [
    "total_revenue", "operating_income", "cloud_revenue", "cloud_operating_income", "capex",
    "capex_incl_finance_leases", "rpo",
]
_REL = {"report_date": Column("date", nonempty=False), "report_time": Column("choice", nonempty=False, choices=("bmo", "intraday", "amc", "unknown"))}
AMZN_COLUMNS = {"fiscal_quarter": Column("str"), "period_end": Column("date"), **_REL, **{m: Column("float", nonempty=False) for m in AMZN_METRICS}}
PEER_COLUMNS = {"ticker": Column("str"), "fiscal_quarter": Column("str"), "period_end": Column("date"), **_REL, **{m: Column("float", nonempty=False) for m in PEER_METRICS}, "capex_guidance_note": Column("str", nonempty=False)}

#: Canonical metric names across companies (AMZN's segment is AWS; peers' is their cloud segment).
CANONICAL = {
    "total_net_sales": "revenue", "total_revenue": "revenue",
    "operating_income": "operating_income",
    "aws_net_sales": "cloud_revenue", "cloud_revenue": "cloud_revenue",
    "aws_operating_income": "cloud_operating_income", "cloud_operating_income": "cloud_operating_income",
    "capex_purchases_of_pp_and_e": "capex", "capex": "capex",
    "capex_ttm": "capex_ttm_stated",
    "aws_backlog": "backlog", "rpo": "rpo", "total_rpo": "rpo",
    "aws_backlog_wavg_life_years": "backlog_life_years",
    "pp_and_e_finance_leases": "finance_lease_additions",
    "capex_incl_finance_leases": "capex_incl_finance_leases",
}


def bundled_path(name: str) -> Path:
    return Path(str(resources.files("signals") / "data" / name))


@dataclass
class Fundamentals:
    """Point-in-time fundamentals.

    ``releases``: one row per (ticker, quarter) with ``period_end``,
    ``release_date``, ``release_time``, ``release_from`` (``file`` or
    ``earnings calendar``), ``available`` (session, NaT if unknown) and
    ``note`` (why it is unavailable). ``pit``: long table ``ticker, quarter,
    period, metric, value, available`` (``period`` is the calendar quarter of
    the period end, used to test that quarters are consecutive) and, for each
    vintage, ``field`` (the file's column), ``document`` (e.g. ``AMZN 10-Q
    2022Q3``), ``published`` (the document's date: stated, EDGAR, deadline or
    release date), ``rule`` (how ``available`` was set), ``basis`` (why) and
    ``listed`` (dated by the availability file rather than the field's rule).
    """

    releases: pd.DataFrame
    pit: pd.DataFrame
    fingerprints: dict[str, str] = field(default_factory=dict)

    def tickers(self) -> list[str]:
        return sorted(self.releases["ticker"].unique())


def _quarter_key(label: str) -> str:
    """AMZN's file says ``2024Q3``; the earnings calendar says ``FY2024Q3``."""
    return label if label.startswith("FY") else f"FY{label}"


def _earnings_lookup() -> dict[tuple[str, str], tuple[pd.Timestamp, str]]:
    t = read_table(events_path(BUNDLED_EARNINGS), EARNINGS_COLUMNS)
    f = t.frame
    return {(tk.upper(), fq): (d, tm) for tk, fq, d, tm in zip(f["ticker"], f["fiscal_quarter"], f["date"], f["time"])}


def _releases(frame: pd.DataFrame, lookup) -> pd.DataFrame:
    rows = []
    for _, r in frame.iterrows():
        key = (r["ticker"], _quarter_key(r["fiscal_quarter"]))
        date, time, src, note = r["report_date"], r["report_time"], "file", ""
        cal = lookup.get(key)
        if pd.isna(date) and cal is not None:
            date, time, src = cal[0], cal[1], "earnings calendar"
        elif not isinstance(time, str) and cal is not None and cal[0] == date:
            time = cal[1]
        if not isinstance(time, str) and not pd.isna(date):
            time = "amc"  # conservative: the later of the possibilities
        avail = pd.NaT
        if pd.isna(date):
            src, note = "", "release date unknown: not in the file nor the earnings calendar"
        else:
            avail = reaction_session(date, time)
        rows.append({"ticker": r["ticker"], "quarter": r["fiscal_quarter"], "period_end": r["period_end"], "release_date": date,
                     "release_time": time, "release_from": src, "available": avail, "note": note})
    return pd.DataFrame(rows)


def _cells(frame: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """The non-empty figures of a fundamentals file: ``ticker, quarter, period_end, field, value``."""
    long = frame.melt(id_vars=["ticker", "fiscal_quarter", "period_end"], value_vars=metrics, var_name="field", value_name="value")
    long = long.dropna(subset=["value"]).rename(columns={"fiscal_quarter": "quarter"})
    return long.reset_index(drop=True)


PIT_COLUMNS = ["ticker", "quarter", "period", "metric", "value", "available", "field", "document", "published", "rule", "basis", "listed"]


def load_fundamentals(amzn_path=None, peers_path=None, availability_path=None, filings: pd.DataFrame | None = None) -> Fundamentals:
    """Load the AMZN and peer quarterly files (bundled by default) point in time.

    ``availability_path``: the exceptions to the per-field rules (see
    :mod:`signals.availability`); by default the bundled file when both
    fundamentals files are the bundled ones, and none (the per-field rules
    alone) for files of your own. ``filings``: optional EDGAR filing dates
    (``ticker, form, period_end, filed``, see :func:`signals.edgar.filing_dates`)
    used for 10-Q/10-K figures whose filing date the sources do not state.
    """
    a = read_table(amzn_path or bundled_path("amzn_quarterly.csv"), AMZN_COLUMNS)
    p = read_table(peers_path or bundled_path("peers_quarterly.csv"), PEER_COLUMNS)
    lookup = _earnings_lookup()
    af = a.frame.assign(ticker="AMZN")
    pf = p.frame.assign(ticker=p.frame["ticker"].str.upper())
    rel = pd.concat([_releases(af, lookup), _releases(pf, lookup)], ignore_index=True)
    cells = pd.concat([_cells(af, AMZN_METRICS), _cells(pf, PEER_METRICS)], ignore_index=True)
    prints = {a.path: a.sha256, p.path: p.sha256}
    if availability_path is None and amzn_path is None and peers_path is None:
        availability_path = av.bundled_path()
    table = None
    if availability_path is not None:
        quarters: dict[str, dict[str, pd.Timestamp]] = {}
        for t, q, e in zip(rel["ticker"], rel["quarter"], rel["period_end"]):
            quarters.setdefault(t, {})[q] = pd.Timestamp(e)
        table = av.read_availability(availability_path, quarters, set(zip(cells["ticker"], cells["quarter"], cells["field"])))
        prints[str(availability_path)] = sha256_file(availability_path)
    dated = av.date_cells(cells, rel, table, filings, path=str(availability_path or "availability"))
    dated["metric"] = dated["field"].map(CANONICAL)
    dated["period"] = pd.PeriodIndex(dated["period_end"], freq="Q")
    pit = dated[dated["available"].notna()][PIT_COLUMNS].reset_index(drop=True)
    return Fundamentals(rel, pit, prints)


def rules_table(fund: Fundamentals, ticker: str) -> pd.DataFrame:
    """Per field of ``ticker``: ``field``, ``canonical`` (the name signals use),
    ``rule`` (the default, in words) and ``exceptions``: the vintages dated
    otherwise (for fields from the 10-Q/10-K, every vintage, with the date
    used), as ``quarter [value]: document (usable from)``."""
    k = fund.pit[fund.pit["ticker"] == ticker].sort_values(["period", "available"])
    rows = []
    for fld, rule in av.rules_for(ticker).items():
        text = rule.text + (" -> usable from the filing date (deadline lag where the date is unknown)" if rule.source == "filing"
                            else " -> usable from the release's reaction session")
        f = k[k["field"] == fld] if rule.source == "filing" else k[(k["field"] == fld) & k["listed"].astype(bool)]
        many = k[k["field"] == fld].groupby("quarter")["value"].transform("size") > 1
        exc = "; ".join(f"{r.quarter}{f' [{r.value:g}]' if many.get(i, False) else ''}: {r.document} ({r.available.date().isoformat()})"
                        for i, r in f.iterrows())
        rows.append({"field": fld, "canonical": CANONICAL[fld], "rule": text, "exceptions": exc})
    return pd.DataFrame(rows)


def as_of_panel(pit: pd.DataFrame, ticker: str, as_of) -> pd.DataFrame:
    """Wide quarterly panel (index ``period``) of what was known at the close of ``as_of``.

    For each (quarter, metric) the newest vintage with ``available <= as_of``
    is used; quarters are reindexed to a consecutive calendar-quarter range so
    that gaps show as missing rows. Column ``quarter`` keeps the label.
    """
    k = pit[(pit["ticker"] == ticker) & (pit["available"] <= pd.Timestamp(as_of))]
    if k.empty:
        return pd.DataFrame()
    k = k.sort_values("available", kind="stable").groupby(["period", "metric"]).last().reset_index()
    wide = k.pivot(index="period", columns="metric", values="value")
    labels = k.groupby("period")["quarter"].last()
    full = pd.period_range(wide.index.min(), wide.index.max(), freq="Q")
    wide = wide.reindex(full)
    wide["quarter"] = labels.reindex(full)
    wide.index.name = "period"
    return wide
