"""Optional refresh of capex and RPO from SEC EDGAR ``companyfacts``.

Only company-wide XBRL facts are there; segment figures such as AWS operating
income are not, and stay curated in the bundled file.

* Tags: capex = ``PaymentsToAcquirePropertyPlantAndEquipment`` (cash-flow,
  a duration: 10-Qs report it year-to-date, so quarters are derived as
  YTD(q) - YTD(q-1) from facts of the same fiscal year); RPO =
  ``RevenueRemainingPerformanceObligation`` (an instant).
* Each value is keyed by its ``filed`` date: it becomes usable at the session
  after the filing date (the time of day is not in the data, so the later
  possibility is assumed). A later filing of the same period is a new vintage
  usable only from its own date: restatements never rewrite the past.
* Requests carry the User-Agent SEC requires (``$AIBT_SEC_USER_AGENT``, e.g.
  ``"Jane Doe jane@example.com"``) and are spaced to at most
  :data:`MAX_REQUESTS_PER_SECOND`.

Values are converted from USD to USD billions.
"""
from __future__ import annotations

import json
import os
import time
from typing import Callable

import pandas as pd

from events.calendar import reaction_session
from events.errors import InputError, Problem

COMPANYFACTS_URL = "https://data.sec.gov/api/xbrl/companyfacts/CIK{cik:010d}.json"
CIKS = {"AMZN": 1018724, "MSFT": 789019, "GOOGL": 1652044, "META": 1326801, "ORCL": 1341439}
TAGS = {"capex": "PaymentsToAcquirePropertyPlantAndEquipment", "rpo": "RevenueRemainingPerformanceObligation"}
MAX_REQUESTS_PER_SECOND = 10
UA_ENV = "AIBT_SEC_USER_AGENT"

_last_request = [0.0]


def _throttle(clock=time.monotonic, sleep=time.sleep) -> None:
    gap = 1.0 / MAX_REQUESTS_PER_SECOND
    wait = _last_request[0] + gap - clock()
    if wait > 0:
        sleep(wait)
    _last_request[0] = clock()


def fetch_companyfacts(ticker: str, *, user_agent: str | None = None, get: Callable | None = None) -> dict:
    """Download one company's companyfacts JSON (real HTTP via ``requests``)."""
    ua = user_agent or os.environ.get(UA_ENV)
    if not ua or "@" not in ua:
        raise InputError(Problem("SEC requires a User-Agent with a contact e-mail", field=UA_ENV, expected='e.g. AIBT_SEC_USER_AGENT="Jane Doe jane@example.com"'))
    if ticker not in CIKS:
        raise InputError(Problem(f"no CIK known for {ticker}", field="ticker", expected="one of " + ", ".join(CIKS)))
    if get is None:
        import requests

        get = requests.get
    _throttle()
    resp = get(COMPANYFACTS_URL.format(cik=CIKS[ticker]), headers={"User-Agent": ua, "Accept-Encoding": "gzip, deflate"}, timeout=30)
    if getattr(resp, "status_code", 200) != 200:
        raise RuntimeError(f"SEC answered {resp.status_code} for {ticker}")
    return resp.json()


def _facts(doc: dict, tag: str, source: str) -> pd.DataFrame:
    try:
        units = doc["facts"]["us-gaap"][tag]["units"]["USD"]
    except KeyError:
        return pd.DataFrame(columns=["start", "end", "val", "filed", "form"])
    f = pd.DataFrame(units)
    for c in ("start", "end", "filed"):
        if c in f:
            f[c] = pd.to_datetime(f[c], format="%Y-%m-%d", errors="coerce")
    bad = f["end"].isna() | f["filed"].isna() | pd.to_numeric(f["val"], errors="coerce").isna()
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(Problem(f"fact {i} of {tag} has a bad end, filed or val", path=source, field=tag, expected="ISO dates and a number"))
    return f


def parse_companyfacts(doc: dict, ticker: str, source: str = "companyfacts") -> pd.DataFrame:
    """Point-in-time rows ``ticker, quarter, period, metric, value, available`` (USD bn)."""
    rows = []
    cap = _facts(doc, TAGS["capex"], source)
    if len(cap):
        cap = cap.dropna(subset=["start"]).copy()
        cap["months"] = ((cap["end"] - cap["start"]).dt.days / 30.4).round().astype(int)
        for _, fct in cap.iterrows():
            if fct["months"] == 3:
                q = fct["val"]
            elif fct["months"] in (6, 9, 12):
                # the YTD fact ending one quarter earlier, same start, known by this filing
                prev = cap[(cap["start"] == fct["start"]) & (cap["months"] == fct["months"] - 3) & (cap["filed"] <= fct["filed"])]
                if prev.empty:
                    continue
                q = fct["val"] - prev.sort_values("filed")["val"].iloc[-1]
            else:
                continue
            rows.append(("capex", fct["end"], q, fct["filed"]))
    rpo = _facts(doc, TAGS["rpo"], source)
    for _, fct in rpo.iterrows():
        rows.append(("rpo", fct["end"], fct["val"], fct["filed"]))
    if not rows:
        return pd.DataFrame(columns=["ticker", "quarter", "period", "metric", "value", "available"])
    out = pd.DataFrame(rows, columns=["metric", "end", "val", "filed"])
    out = out.sort_values("filed").drop_duplicates(["metric", "end", "val"], keep="first")  # same value re-filed: first vintage
    out["period"] = pd.PeriodIndex(out["end"], freq="Q")
    out["quarter"] = out["period"].astype(str)
    out["value"] = out["val"] / 1e9
    out["available"] = [reaction_session(d, "amc") for d in out["filed"]]
    out["ticker"] = ticker
    return out[["ticker", "quarter", "period", "metric", "value", "available"]].reset_index(drop=True)


def load_companyfacts_file(path, ticker: str) -> pd.DataFrame:
    """Parse a companyfacts JSON file saved on disk."""
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except json.JSONDecodeError as exc:
        raise InputError(Problem(f"not valid JSON: {exc.msg}", path=str(path), line=exc.lineno, expected="an SEC companyfacts document"))
    return parse_companyfacts(doc, ticker, str(path))


def filing_dates(doc: dict, ticker: str) -> pd.DataFrame:
    """Each 10-Q/10-K of a companyfacts document: ``ticker, form, period_end, filed``.

    A filing is known by its accession number (or, where a fact has none, its
    form and filed date); its period end is the latest ``end`` among its
    financial-statement (``us-gaap``) facts (cover-page ``dei`` facts such as
    shares outstanding are dated after the period and are left out), its date
    the earliest ``filed``. Where several filings report the same
    period (amendments are other forms and are left out), the first is kept:
    that is when the period's filing became public. For
    :func:`signals.fundamentals.load_fundamentals` (``filings=``), which then
    dates 10-Q/10-K-only figures by these dates instead of the deadline lag.
    """
    rows = []
    for tag in doc.get("facts", {}).get("us-gaap", {}).values():
        for unit in tag.get("units", {}).values():
            for f in unit:
                if f.get("form") in ("10-Q", "10-K") and f.get("end") and f.get("filed"):
                    rows.append((f["form"], f.get("accn") or f"{f['form']} {f['filed']}", f["end"], f["filed"]))
    if not rows:
        return pd.DataFrame(columns=["ticker", "form", "period_end", "filed"])
    f = pd.DataFrame(rows, columns=["form", "accn", "end", "filed"])
    f["end"] = pd.to_datetime(f["end"], format="%Y-%m-%d", errors="coerce")
    f["filed"] = pd.to_datetime(f["filed"], format="%Y-%m-%d", errors="coerce")
    f = f.dropna(subset=["end", "filed"])
    g = f.groupby(["form", "accn"]).agg(period_end=("end", "max"), filed=("filed", "min")).reset_index()
    g = g.sort_values("filed").drop_duplicates(["form", "period_end"], keep="first")
    g["ticker"] = ticker
    return g[["ticker", "form", "period_end", "filed"]].sort_values("period_end").reset_index(drop=True)
