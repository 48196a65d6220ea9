"""Does a signal explain the reaction? Cross-sectional regressions with robust errors.

For each release of the target, the dependent variable is its post-event
abnormal return against the peer basket (peer-adjusted CAR over a window,
a fraction); the regressors are the signals as known at day 0 (the
release's own quarter, usable from its reaction session). OLS with
heteroskedasticity-robust (HC3) standard errors, statsmodels.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

MIN_OBS = 8


def regress(frame: pd.DataFrame, y: str, xs: list[str], cov: str = "HC3") -> dict:
    """OLS ``y ~ 1 + xs`` on the rows where all are defined; robust errors.

    Returns ``n``, ``r2``, and per term ``coef``, ``se``, ``t``, ``p``; or
    ``n`` and ``note`` when there are fewer than :data:`MIN_OBS` rows.
    """
    d = frame[[y, *xs]].astype(float).dropna()
    out: dict = {"y": y, "x": xs, "n": int(len(d)), "cov": cov}
    if len(d) < MIN_OBS or any(d[x].std() == 0 for x in xs):
        out["note"] = f"too few observations with every variable defined ({len(d)} < {MIN_OBS})" if len(d) < MIN_OBS else "a regressor is constant"
        return out
    from statsmodels.regression.linear_model import OLS  # imported when used: statsmodels costs ~0.7 s to import
    from statsmodels.tools.tools import add_constant

    res = OLS(d[y].to_numpy(), add_constant(d[xs].to_numpy())).fit(cov_type=cov)
    out["r2"] = float(res.rsquared)
    out["terms"] = {
        name: {"coef": float(res.params[i]), "se": float(res.bse[i]), "t": float(res.tvalues[i]), "p": float(res.pvalues[i])}
        for i, name in enumerate(["const", *xs])
    }
    return out


def signals_at(events: pd.DataFrame, table: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """For each event, the newest signal row with ``available <= day0`` (point in time)."""
    t = table.dropna(subset=["available"]).sort_values("available")
    rows = []
    for _, ev in events.iterrows():
        known = t[t["available"] <= ev["day0"]]
        r = {"event_id": ev["event_id"], "day0": ev["day0"], "quarter": known["quarter"].iloc[-1] if len(known) else None}
        for n in names:
            r[n] = float(known[n].iloc[-1]) if len(known) else np.nan
        rows.append(r)
    return pd.DataFrame(rows)
