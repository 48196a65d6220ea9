"""Event study of the target's abnormal returns, in the statsmodels style.

    res = EventStudy(returns, events, target="AMZN", peers=[...], settings=StudySettings()).fit()
    print(res.summary()); res.table; res.ar; res.car

Normal-return models (``model``):

* ``market_adjusted``: AR = R_target - R_market (market = SPY by default, QQQ selectable);
* ``market_model``: AR = R_target - (alpha + beta R_market), alpha and beta
  by OLS (statsmodels) on an estimation window of ``estimation`` sessions that
  ends ``gap`` sessions before day 0 and leaves out every other event's test
  window;
* ``peer_adjusted``: AR = R_target - R_basket, the equal-weight peer basket:
  the project's headline measure.

Returns are daily total returns (fractions). For each test window ``a:b``
(session offsets from day 0) the study reports CAAR and the tests of
:mod:`backtests.eventtests`; for the longer ``bhar_windows`` also the mean
buy-and-hold abnormal return (compounded target return minus compounded
normal return). Standardisation uses the estimation window: for the market
model the CAR variance includes the forecast error,
``s^2 (L + L^2/T + (sum_w Rm - L mean_est Rm)^2 / SSx)``; for the adjusted
models ``s^2 L``.

Groups: ``all``, ``scheduled``, ``unscheduled`` and each category (a merged
event counts in every category it holds).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm

from backtests import eventtests as et
from events.align import Window, unknown_time_windows

MODELS = ("market_adjusted", "market_model", "peer_adjusted")
TESTS = ("cs", "patell", "bmp", "kp", "rank", "sign")
#: Columns of :attr:`EventStudyResults.table`, in the order study.csv holds them.
TABLE_COLUMNS = ["model", "group", "window", "n", "caar", "t_cs", "p_cs", "t_patell", "p_patell", "t_bmp", "p_bmp", "t_kp", "p_kp",
                 "z_rank", "p_rank", "z_sign", "p_sign", "mean_bhar", "rbar"]


@dataclass(frozen=True)
class StudySettings:
    """Event-study settings (windows as ``'pre:post'`` session offsets)."""

    windows: tuple[str, ...] = ("0:0", "0:1", "-1:1", "0:2", "0:5")
    bhar_windows: tuple[str, ...] = ("0:20", "0:60")
    estimation: int = 250
    gap: int = 10
    min_estimation: int = 120
    models: tuple[str, ...] = MODELS
    market: str = "SPY"
    clusters: str = "merge"


@dataclass
class _EventFit:
    event_id: str
    p0: int
    t_est: int
    s: dict = field(default_factory=dict)  # model -> residual sd
    ar: dict = field(default_factory=dict)  # model -> pd.Series over event-time offsets (est + event)
    var_parts: dict = field(default_factory=dict)  # market model: (xbar, ssx, x by offset)
    normal: dict = field(default_factory=dict)  # model -> normal returns over event offsets (for BHAR)


class EventStudy:
    """Abnormal returns of ``target`` around ``events`` (a frame with
    ``event_id, day0, category, scheduled``; day 0 must be a session of ``returns``)."""

    def __init__(self, returns: pd.DataFrame, events: pd.DataFrame, target: str = "AMZN", peers=("MSFT", "GOOGL", "META", "ORCL"),
                 settings: StudySettings = StudySettings()):
        self.returns = returns
        self.events = events.reset_index(drop=True)
        self.target = target
        self.peers = [p for p in peers if p != target]
        self.settings = settings
        self.windows = [Window.parse(w) for w in settings.windows]
        self.bhar_windows = [Window.parse(w) for w in settings.bhar_windows]

    def fit(self) -> "EventStudyResults":
        st = self.settings
        sessions = self.returns.index
        y_all = self.returns[self.target].to_numpy(float)
        m_all = self.returns[st.market].to_numpy(float)
        b_all = self.returns[self.peers].mean(axis=1).to_numpy(float)
        lo = min(w.pre for w in self.windows)
        hi_test = max(w.post for w in self.windows)
        hi = max([hi_test] + [w.post for w in self.bhar_windows])
        p0s = sessions.get_indexer(pd.DatetimeIndex(self.events["day0"]))
        excluded = np.zeros(len(sessions), dtype=bool)
        for p in p0s:
            if p >= 0:
                excluded[max(p + lo, 0): p + hi_test + 1] = True
        fits: list[_EventFit] = []
        skipped: dict[str, str] = {}
        for (_, ev), p0 in zip(self.events.iterrows(), p0s):
            if p0 < 0:
                skipped[ev["event_id"]] = "day 0 not in the return data"
                continue
            est = np.arange(max(p0 - st.gap - st.estimation, 1), max(p0 - st.gap, 1))
            est = est[~excluded[est]]
            est = est[np.isfinite(y_all[est]) & np.isfinite(m_all[est]) & np.isfinite(b_all[est])]
            if len(est) < st.min_estimation:
                skipped[ev["event_id"]] = f"only {len(est)} clean estimation sessions (need {st.min_estimation})"
                continue
            evt = np.arange(p0 + lo, min(p0 + hi, len(sessions) - 1) + 1)
            evt = evt[evt >= 1]
            f = _EventFit(ev["event_id"], int(p0), len(est))
            idx = np.concatenate([est, evt])
            offsets = idx - p0
            for model in st.models:
                if model == "market_adjusted":
                    normal = m_all[idx]
                elif model == "peer_adjusted":
                    normal = b_all[idx]
                elif model == "market_model":
                    res = sm.OLS(y_all[est], sm.add_constant(m_all[est])).fit()
                    a, b = res.params
                    normal = a + b * m_all[idx]
                    x = m_all[est]
                    f.var_parts[model] = (x.mean(), ((x - x.mean()) ** 2).sum(), pd.Series(m_all[evt], index=evt - p0))
                else:
                    raise ValueError(f"unknown model {model}")
                ar = pd.Series(y_all[idx] - normal, index=offsets)
                n_est = len(est)
                dof = n_est - 2 if model == "market_model" else n_est - 1
                resid = ar.iloc[:n_est].to_numpy()
                f.s[model] = math.sqrt((resid ** 2).sum() / dof) if model == "market_model" else float(np.std(resid, ddof=1))
                f.ar[model] = ar
                f.normal[model] = pd.Series(normal[n_est:], index=offsets[n_est:])
            fits.append(f)
        return EventStudyResults(self, fits, skipped, sessions, lo, hi)


def _groups(events: pd.DataFrame) -> dict[str, list[str]]:
    g = {"all": list(events["event_id"])}
    g["scheduled"] = list(events.loc[events["scheduled"].astype(bool), "event_id"])
    g["unscheduled"] = list(events.loc[~events["scheduled"].astype(bool), "event_id"])
    cats = sorted({c for cs in events["category"] for c in str(cs).split("+")})
    for c in cats:
        g[c] = [e for e, cs in zip(events["event_id"], events["category"]) if c in str(cs).split("+")]
    return {k: v for k, v in g.items() if v}


class EventStudyResults:
    """Results of :meth:`EventStudy.fit`.

    * ``ar``: long frame ``event_id, model, day, ar`` (event window days only);
    * ``car``: per event, model and window: ``car``, ``scar``, ``bhar``;
    * ``table``: one row per (model, group, window) with ``n, caar`` and every
      test statistic with its p-value (``t_cs, p_cs, t_patell, p_patell,
      t_bmp, p_bmp, t_kp, p_kp, z_rank, p_rank, z_sign, p_sign``), plus
      ``mean_bhar`` (BHAR windows) and ``rbar`` (the KP correlation used).
    """

    def __init__(self, model: EventStudy, fits, skipped, sessions, lo, hi):
        self.model = model
        self.settings = model.settings
        self.fits = fits
        self.skipped = skipped
        self.sessions = sessions
        ids = {f.event_id for f in fits}
        self.events = model.events[model.events["event_id"].isin(ids)].reset_index(drop=True)
        self.ar = self._ar_long(lo, hi)
        self.car = self._car_table()
        self.table = self._test_table()

    def _ar_long(self, lo, hi) -> pd.DataFrame:
        rows = []
        for f in self.fits:
            for model, ar in f.ar.items():
                w = ar[(ar.index >= lo) & (ar.index <= hi)]
                rows.append(pd.DataFrame({"event_id": f.event_id, "model": model, "day": w.index.astype(int), "ar": w.to_numpy()}))
        if not rows:
            return pd.DataFrame(columns=["event_id", "model", "day", "ar"])
        return pd.concat(rows, ignore_index=True)

    def _car_table(self) -> pd.DataFrame:
        """CAR, SCAR and BHAR per event, model and window.

        DESIGN's time rule: a window for an ``unknown``-time event must include
        day +1 (the news may have come after day 0's close), so such events
        are left out of windows that end before it (recorded in
        :attr:`excluded_unknown_time`).
        """
        windows = self.model.windows + self.model.bhar_windows
        has_time = "time" in self.events
        self.excluded_unknown_time = {str(w): (unknown_time_windows(self.events, w) if has_time else []) for w in windows}
        rows = []
        for f in self.fits:
            for model, ar in f.ar.items():
                for w in windows:
                    days = list(range(w.pre, w.post + 1))
                    if f.event_id in self.excluded_unknown_time[str(w)] or not set(days) <= set(ar.index):
                        car = scar = bhar = np.nan
                    else:
                        seg = ar.loc[days].to_numpy()
                        car = float(seg.sum())
                        L = len(days)
                        s = f.s[model]
                        var = s * s * L
                        if model == "market_model":
                            xbar, ssx, x = f.var_parts[model]
                            var = s * s * (L + L * L / f.t_est + (x.loc[days].sum() - L * xbar) ** 2 / ssx)
                        scar = car / math.sqrt(var) if var > 0 else np.nan
                        normal = f.normal[model].loc[days].to_numpy()
                        bhar = float(np.prod(1 + seg + normal) - np.prod(1 + normal))
                    rows.append({"event_id": f.event_id, "model": model, "window": str(w), "car": car, "scar": scar, "bhar": bhar,
                                 "t_est": f.t_est, "first": f.p0 + w.pre, "last": f.p0 + w.post})
        return pd.DataFrame(rows, columns=["event_id", "model", "window", "car", "scar", "bhar", "t_est", "first", "last"])

    def _test_table(self) -> pd.DataFrame:
        groups = _groups(self.events)
        fit_by = {f.event_id: f for f in self.fits}
        rows = []
        for model in self.settings.models:
            sub = self.car[self.car["model"] == model]
            for gname, ids in groups.items():
                for w in self.model.windows + self.model.bhar_windows:
                    c = sub[(sub["window"] == str(w)) & sub["event_id"].isin(ids)].dropna(subset=["car"])
                    n = len(c)
                    row = {"model": model, "group": gname, "window": str(w), "n": n, "caar": c["car"].mean() if n else np.nan}
                    row["t_cs"], row["p_cs"] = et.cross_sectional_t(c["car"])
                    row["t_patell"], row["p_patell"] = et.patell_z(c["scar"], c["t_est"])
                    row["t_bmp"], row["p_bmp"] = et.bmp_t(c["scar"])
                    rbar = et.window_overlap_correlation(list(zip(c["first"], c["last"])))
                    row["t_kp"], row["p_kp"] = et.kolari_pynnonen_t(c["scar"], rbar)
                    row["rbar"] = rbar
                    row["z_rank"], row["p_rank"] = self._rank(model, list(c["event_id"]), w, fit_by)
                    row["z_sign"], row["p_sign"] = et.generalized_sign_z(c["car"], self._p_hat(model, list(c["event_id"]), fit_by))
                    row["mean_bhar"] = c["bhar"].mean() if n else np.nan
                    rows.append(row)
        return pd.DataFrame(rows, columns=TABLE_COLUMNS)

    def _rank(self, model, ids, w, fit_by):
        if not ids:
            return float("nan"), float("nan")
        series = [pd.Series(et.rank_u(fit_by[i].ar[model].to_numpy()), index=fit_by[i].ar[model].index) for i in ids]
        mat = pd.concat(series, axis=1).sort_index()
        # the rank test uses the estimation window plus the test window only
        keep = (mat.index < -self.settings.gap + 1) | ((mat.index >= w.pre) & (mat.index <= w.post))
        mat = mat[keep]
        window = (mat.index >= w.pre) & (mat.index <= w.post)
        return et.corrado_rank_z(mat.to_numpy().T, window)

    def _p_hat(self, model, ids, fit_by) -> float:
        vals = []
        for i in ids:
            f = fit_by[i]
            est = f.ar[model].iloc[: f.t_est]
            vals.append((est > 0).mean())
        return float(np.mean(vals)) if vals else float("nan")

    # ------------------------------------------------------------ presentation
    def headline(self, model: str = "peer_adjusted", group: str = "all") -> pd.DataFrame:
        t = self.table
        return t[(t["model"] == model) & (t["group"] == group)]

    def summary(self, model: str | None = None, groups=("all", "scheduled", "unscheduled")) -> str:
        """A text table of CAAR and tests by model, group and window."""
        st = self.settings
        lines = [
            "Event study: abnormal returns of " + self.model.target,
            f"  models: {', '.join(st.models)}; market {st.market}; peer basket {'/'.join(self.model.peers)}",
            f"  estimation: {st.estimation} sessions ending {st.gap} before day 0, other events' windows excluded (min {st.min_estimation})",
            f"  clustered reaction sessions: '{st.clusters}'; events studied {len(self.fits)}, skipped {len(self.skipped)}",
            *[f"  window {w}: {len(ids)} unknown-time events left out (a window for them must include day +1)"
              for w, ids in self.excluded_unknown_time.items() if ids],
            "  CAAR in %; t/z statistics with two-sided p in brackets; ** p<0.01, * p<0.05",
            "",
        ]
        t = self.table
        models = [model] if model else list(st.models)
        for m in models:
            lines.append(f"[{m}]")
            hdr = f"{'group':14s} {'window':>6s} {'n':>3s} {'CAAR%':>7s}  " + " ".join(f"{h:>15s}" for h in ("t_cs", "patell", "bmp", "kp", "rank", "sign"))
            lines.append(hdr)
            for g in groups:
                sub = t[(t["model"] == m) & (t["group"] == g)]
                for _, r in sub.iterrows():
                    def cell(stat, p):
                        if not np.isfinite(stat):
                            return f"{'-':>15s}"
                        star = "**" if p < 0.01 else "*" if p < 0.05 else ""
                        return f"{stat:6.2f}{star:2s} [{p:.3f}]".rjust(15)
                    caar = r["caar"] * 100 if np.isfinite(r["caar"]) else float("nan")
                    lines.append(f"{g:14s} {r['window']:>6s} {int(r['n']):3d} {caar:7.2f}  " + " ".join(
                        cell(r[a], r[b]) for a, b in (("t_cs", "p_cs"), ("t_patell", "p_patell"), ("t_bmp", "p_bmp"), ("t_kp", "p_kp"), ("z_rank", "p_rank"), ("z_sign", "p_sign"))))
            lines.append("")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        def clean(v):
            if isinstance(v, (float, np.floating)):
                return float(v) if np.isfinite(v) else None
            if isinstance(v, (np.integer,)):
                return int(v)
            return v

        return {
            "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.settings).items()},
            "target": self.model.target,
            "peers": self.model.peers,
            "n_events": len(self.fits),
            "skipped": self.skipped,
            "excluded_unknown_time": {w: ids for w, ids in self.excluded_unknown_time.items() if ids},
            "results": [{k: clean(v) for k, v in r.items()} for r in self.table.to_dict("records")],
        }
