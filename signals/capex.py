"""Capex efficiency and capex intensity.

The analyst note behind aibt proposes AWS operating income per unit of Amazon
capex as the test of whether the build-out pays: if AWS operating income keeps
pace with capex the ratio holds; if capex runs ahead (and depreciation of
~5-year servers follows), it falls.

All functions take a quarterly panel (see :func:`signals.fundamentals.as_of_panel`)
and return a :class:`~signals.quarterly.Derived`.
"""
from __future__ import annotations

import pandas as pd

from signals.quarterly import Derived, break_at, diff, ratio, ttm

#: Microsoft re-segmented in its fiscal 2025: Intelligent Cloud operating
#: income before FY2025Q1 does not compare with what came after.
SEGMENT_BREAKS = {"MSFT": "FY2025Q1"}


def capex_ttm(panel) -> Derived:
    """Capex TTM, USD bn: gross purchases of property and equipment over four quarters
    (a TTM figure stated in a filing wins over the sum of quarters)."""
    return ttm(panel, "capex", stated="capex_ttm_stated")


def cloud_oi_ttm(panel, ticker: str = "AMZN") -> Derived:
    """Cloud-segment (AWS for AMZN) operating income TTM, USD bn.

    Undefined for windows that straddle a segment redefinition
    (:data:`SEGMENT_BREAKS`)."""
    d = ttm(panel, "cloud_operating_income")
    brk = SEGMENT_BREAKS.get(ticker)
    if brk and "quarter" in panel:
        pos = list(panel["quarter"]).index(brk) if brk in list(panel["quarter"]) else None
        if pos is not None:
            idx = pd.Series(range(len(panel)), index=panel.index)
            affected = (idx >= pos) & (idx < pos + 3)
            d = break_at(d, affected, f"segment redefined in {brk}: TTM would mix two definitions")
    return d


def capex_efficiency(panel, ticker: str = "AMZN") -> Derived:
    """Cloud operating income TTM / company capex TTM (a unitless ratio).

    For AMZN: AWS operating income TTM over Amazon's gross purchases of
    property and equipment TTM. For peers: their cloud segment's operating
    income (Microsoft Intelligent Cloud, Google Cloud) over total company capex;
    undefined where the peer does not report a cloud operating income (META, ORCL).
    """
    return ratio(cloud_oi_ttm(panel, ticker), capex_ttm(panel))


def capex_efficiency_change(panel, ticker: str = "AMZN") -> Derived:
    """Quarter-on-quarter change of :func:`capex_efficiency` (ratio points)."""
    return diff(capex_efficiency(panel, ticker))


def capex_intensity(panel) -> Derived:
    """Capex TTM / revenue TTM (a fraction of sales)."""
    return ratio(capex_ttm(panel), ttm(panel, "revenue"))


def capex_intensity_change(panel) -> Derived:
    """Quarter-on-quarter change of :func:`capex_intensity` (fraction points)."""
    return diff(capex_intensity(panel))
