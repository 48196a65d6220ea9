"""Event study of the target's abnormal returns, in the statsmodels style.

    res = EventStudy(returns, events, target="AMZN", peers=[...], settings=StudySettings()).fit()
    print(res.summary()); res.table; res.ar; res.car

Normal-return models (``model``):

* ``market_adjusted``: AR = R_target - R_market (market = SPY by default, QQQ selectable);
* ``market_model``: AR = R_target - (alpha + beta R_market), alpha and beta
  by OLS (statsmodels) on the event's estimation window;
* ``peer_adjusted``: AR = R_target - R_basket, the event's own equal-weight
  hedge basket: ``strategies.hedge.hedge_basket(peers, target, [company])``,
  i.e. the peers minus the event's announcing company (every company of a
  merged event), the basket a trade opened on that event holds. (A trade that
  an event only extends keeps the basket of the episode, which may also leave
  out earlier announcers; per_event.csv measures that basket.) The project's
  headline measure. The
  same basket gives the event window's ARs and the estimation window's
  residual sd.

Estimation window: the latest ``estimation`` clean sessions that end ``gap``
sessions before day 0, reaching back at most ``lookback`` sessions (default
twice ``estimation``). Not clean: every studied event's test-window span
``[day0 + lo, day0 + hi]`` (lo, hi: the earliest and latest offsets of the
test windows, not the BHAR windows), every session in ``exclude_sessions``
(:func:`backtests.stats.study.calendar_exclusions` passes the other calendar
events' spans, earnings included) and sessions with a missing return. An
event with fewer than ``min_estimation`` clean sessions is skipped. (Counting
clean sessions rather than a fixed span keeps the estimation precision when
the calendar is dense: AMZN's AI news plus five companies' earnings leave
out a third to a half of all sessions.)

Returns are daily total returns (fractions). For each test window ``a:b``
(session offsets from day 0) the study reports CAAR and the tests of
:mod:`backtests.stats.eventtests`. For the longer ``bhar_windows`` it reports the
CAAR and the mean buy-and-hold abnormal return (compounded target return
minus compounded normal return) tested with the skewness-adjusted t of Lyon,
Barber and Tsai (1999) times the Kolari-Pynnonen factor for overlapping
windows, p from Student's t, for groups of 10 events or more
(:func:`backtests.stats.eventtests.overlap_adjusted_skewness_t`); the CAR tests are
left empty there. Every p-value of the table, all models, groups, windows and tests
together, is adjusted by Benjamini-Hochberg (``q_`` columns).
Standardisation uses the estimation window: for the market model the CAR
variance includes the forecast error,
``s^2 (L + L^2/T + (sum_w Rm - L mean_est Rm)^2 / SSx)``; for the adjusted
models ``s^2 L``.

Which events count in a window (the same rule for the table, abnormal
returns and the CAAR figure): events with an AR on every day of the window,
and, by DESIGN's unknown-time rule, ``unknown``-time events only in windows
that reach day +1.

Groups: ``all``, ``scheduled``, ``unscheduled`` and each category (a merged
event counts in every category it holds).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from backtests.stats import eventtests as et
from events.align import Window, unknown_time_windows
from strategies.hedge import hedge_basket

MODELS = ("market_adjusted", "market_model", "peer_adjusted")
#: CAR tests (test windows) and the BHAR test (BHAR windows); ``p_`` + name and ``q_`` + name in the table.
CAR_TESTS = ("cs", "patell", "bmp", "kp", "rank", "sign")
BHAR_TESTS = ("skew",)
TESTS = CAR_TESTS + BHAR_TESTS
STAT = {"cs": "t_cs", "patell": "t_patell", "bmp": "t_bmp", "kp": "t_kp", "rank": "z_rank", "sign": "z_sign", "skew": "t_skew"}
P_COLUMNS = [f"p_{t}" for t in TESTS]
Q_COLUMNS = [f"q_{t}" for t in TESTS]
MULTIPLE_TESTING = "fdr_bh"  # statsmodels.stats.multitest.multipletests method
#: Columns of :attr:`EventStudyResults.table`, in the order study.csv holds them.
TABLE_COLUMNS = ["model", "group", "window", "n", "caar", "t_cs", "p_cs", "t_patell", "p_patell", "t_bmp", "p_bmp", "t_kp", "p_kp",
                 "z_rank", "p_rank", "z_sign", "p_sign", "q_cs", "q_patell", "q_bmp", "q_kp", "q_rank", "q_sign",
                 "mean_bhar", "t_skew", "p_skew", "q_skew", "rbar"]
#: Columns of :attr:`EventStudyResults.ar` (abnormal_returns.csv).
AR_COLUMNS = ["event_id", "model", "day", "ar", "needs_day1", "category", "scheduled"]
#: Columns of :meth:`EventStudyResults.event_car` (event_car.csv).
EVENT_CAR_COLUMNS = ["event_id", "model", "window", "day0", "days", "car", "sd_est", "sd_car", "scar", "p", "t_est", "counted"]


@dataclass(frozen=True)
class StudySettings:
    """Event-study settings (windows as ``'pre:post'`` session offsets)."""

    windows: tuple[str, ...] = ("-5:-1", "0:0", "0:1", "-1:1", "0:2", "0:5")
    bhar_windows: tuple[str, ...] = ("0:20", "0:60")
    estimation: int = 250  # clean sessions in the estimation window
    gap: int = 10
    min_estimation: int = 120
    lookback: int | None = None  # sessions the estimation window may reach back from day 0 - gap (None: 2 x estimation)
    models: tuple[str, ...] = MODELS
    market: str = "SPY"
    clusters: str = "merge"
    path_start: int = -10  # abnormal returns are kept from this offset (or the earliest window's, if earlier): CAAR paths show pre-event drift


@dataclass
class _EventFit:
    event_id: str
    p0: int
    t_est: int
    est: np.ndarray = field(default_factory=lambda: np.array([], dtype=int))  # estimation session positions
    basket: list = field(default_factory=list)  # peer_adjusted basket (the trade's hedge basket)
    s: dict = field(default_factory=dict)  # model -> residual sd
    ar: dict = field(default_factory=dict)  # model -> pd.Series over event-time offsets (est + event)
    var_parts: dict = field(default_factory=dict)  # market model: (xbar, ssx, x by offset)
    normal: dict = field(default_factory=dict)  # model -> normal returns over event offsets (for BHAR)


class EventStudy:
    """Abnormal returns of ``target`` around ``events`` (a frame with
    ``event_id, day0, category, scheduled`` and optionally ``time`` and
    ``company``; day 0 must be a session of ``returns``).

    ``exclude_sessions``: sessions never used for estimation (besides the
    studied events' own test windows), e.g. other calendar events' windows.
    """

    def __init__(self, returns: pd.DataFrame, events: pd.DataFrame, target: str = "AMZN", peers=("MSFT", "GOOGL", "META", "ORCL"),
                 settings: StudySettings = StudySettings(), exclude_sessions=None):
        self.returns = returns
        self.events = events.reset_index(drop=True)
        self.target = target
        self.peers = [p for p in peers if p != target]
        self.settings = settings
        self.windows = [Window.parse(w) for w in settings.windows]
        self.bhar_windows = [Window.parse(w) for w in settings.bhar_windows]
        self.exclude_sessions = pd.DatetimeIndex([] if exclude_sessions is None else exclude_sessions)

    def basket_for(self, company) -> list[str]:
        """The peer-adjusted model's basket for an event announced by ``company``: the trade's hedge basket."""
        companies = [] if company is None or (isinstance(company, float) and math.isnan(company)) else [company]
        return hedge_basket(self.peers, self.target, companies)

    def fit(self) -> "EventStudyResults":
        from statsmodels.regression.linear_model import OLS  # imported when used: statsmodels costs ~0.7 s to import
        from statsmodels.tools.tools import add_constant

        st = self.settings
        sessions = self.returns.index
        y_all = self.returns[self.target].to_numpy(float)
        m_all = self.returns[st.market].to_numpy(float)
        basket_returns: dict[tuple, np.ndarray] = {}

        def basket(names: list[str]) -> np.ndarray:
            key = tuple(names)
            if key not in basket_returns:
                basket_returns[key] = self.returns[list(names)].mean(axis=1).to_numpy(float)
            return basket_returns[key]

        lookback = st.lookback if st.lookback is not None else 2 * st.estimation
        lo = min(w.pre for w in self.windows)
        hi_test = max(w.post for w in self.windows)
        hi = max([hi_test] + [w.post for w in self.bhar_windows])
        # ARs are measured from path_start too (CAAR paths, pre-event drift); tests and estimation exclusions use the windows only.
        # The estimation window ends gap + 1 sessions before day 0, so path days never overlap it when path_start >= -gap.
        lo_out = min(lo, st.path_start)
        p0s = sessions.get_indexer(pd.DatetimeIndex(self.events["day0"]))
        excluded = np.zeros(len(sessions), dtype=bool)
        for p in p0s:
            if p >= 0:
                excluded[max(p + lo, 0): p + hi_test + 1] = True
        ex = sessions.get_indexer(self.exclude_sessions)
        excluded[ex[ex >= 0]] = True
        companies = self.events["company"] if "company" in self.events else pd.Series([None] * len(self.events))
        fits: list[_EventFit] = []
        skipped: dict[str, str] = {}
        for (_, ev), p0, company in zip(self.events.iterrows(), p0s, companies):
            if p0 < 0:
                skipped[ev["event_id"]] = "day 0 not in the return data"
                continue
            names = self.basket_for(company)
            b_all = basket(names)
            est = np.arange(max(p0 - st.gap - lookback, 1), max(p0 - st.gap, 1))
            est = est[~excluded[est]]
            est = est[np.isfinite(y_all[est]) & np.isfinite(m_all[est]) & np.isfinite(b_all[est])][-st.estimation:]
            if len(est) < st.min_estimation:
                skipped[ev["event_id"]] = f"only {len(est)} clean estimation sessions (need {st.min_estimation})"
                continue
            evt = np.arange(p0 + lo_out, min(p0 + hi, len(sessions) - 1) + 1)
            evt = evt[evt >= 1]
            f = _EventFit(ev["event_id"], int(p0), len(est), est=est, basket=names)
            idx = np.concatenate([est, evt])
            offsets = idx - p0
            for model in st.models:
                if model == "market_adjusted":
                    normal = m_all[idx]
                elif model == "peer_adjusted":
                    normal = b_all[idx]
                elif model == "market_model":
                    res = OLS(y_all[est], add_constant(m_all[est])).fit()
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
        return EventStudyResults(self, fits, skipped, sessions, lo_out, hi)


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

    * ``ar``: long frame ``event_id, model, day, ar`` (event window days only)
      plus, per event, ``needs_day1`` (an ``unknown``-time event: it counts
      only in windows that reach day +1), ``category`` and ``scheduled``, so
      that summing ``ar`` over a window's days for the events that count
      (every day of the window present, and ``needs_day1`` false or the window
      reaching day +1) gives the table's CAAR and n exactly;
    * ``car``: per event, model and window: ``car``, ``scar``, ``bhar``, ``days``, ``sd_est``, ``sd_car``
      (:meth:`event_car` gives the test windows' rows as event_car.csv);
    * ``table``: one row per (model, group, window) with ``n, caar``; on test
      windows every CAR test with its p-value (``t_cs, p_cs, t_patell,
      p_patell, t_bmp, p_bmp, t_kp, p_kp, z_rank, p_rank, z_sign, p_sign``)
      and ``rbar`` (the KP correlation used); on BHAR windows ``mean_bhar``
      and the overlap-adjusted skewness-adjusted t ``t_skew`` with ``p_skew``
      (CAR tests empty); ``q_`` + test: Benjamini-Hochberg adjusted p-values
      over every p-value of the table (see :attr:`multiple_testing`);
    * ``baskets``: event id -> the peer-adjusted model's basket.
    """

    def __init__(self, model: EventStudy, fits, skipped, sessions, lo, hi):
        self.model = model
        self.settings = model.settings
        self.fits = fits
        self.skipped = skipped
        self.sessions = sessions
        ids = {f.event_id for f in fits}
        self.events = model.events[model.events["event_id"].isin(ids)].reset_index(drop=True)
        self.baskets = {f.event_id: list(f.basket) for f in fits}
        self.needs_day1 = set(unknown_time_windows(self.events, Window(0, 0))) if "time" in self.events else set()
        self.ar = self._ar_long(lo, hi)
        self.car = self._car_table()
        self.table = self._test_table()

    def _ar_long(self, lo, hi) -> pd.DataFrame:
        ev = self.events.set_index("event_id")
        rows = []
        for f in self.fits:
            for model, ar in f.ar.items():
                w = ar[(ar.index >= lo) & (ar.index <= hi)]
                rows.append(pd.DataFrame({"event_id": f.event_id, "model": model, "day": w.index.astype(int), "ar": w.to_numpy(),
                                          "needs_day1": f.event_id in self.needs_day1, "category": str(ev.at[f.event_id, "category"]),
                                          "scheduled": bool(ev.at[f.event_id, "scheduled"])}))
        if not rows:
            return pd.DataFrame(columns=AR_COLUMNS)
        return pd.concat(rows, ignore_index=True)[AR_COLUMNS]

    def _car_table(self) -> pd.DataFrame:
        """CAR, SCAR and BHAR per event, model and window.

        DESIGN's time rule: a window for an ``unknown``-time event must include
        day +1 (the news may have come after day 0's close), so such events
        are left out of windows that end before it (recorded in
        :attr:`excluded_unknown_time`). An event without an AR on every day of
        a window (the data end) is left out of that window too.
        """
        windows = self.model.windows + self.model.bhar_windows
        has_time = "time" in self.events
        self.excluded_unknown_time = {str(w): (unknown_time_windows(self.events, w) if has_time else []) for w in windows}
        rows = []
        for f in self.fits:
            for model, ar in f.ar.items():
                event_ar = ar.iloc[f.t_est:]
                for w in windows:
                    days = list(range(w.pre, w.post + 1))
                    sd_car = np.nan
                    if f.event_id in self.excluded_unknown_time[str(w)] or not set(days) <= set(event_ar.index):
                        car = scar = bhar = np.nan
                    else:
                        seg = event_ar.loc[days].to_numpy()
                        car = float(seg.sum())
                        L = len(days)
                        s = f.s[model]
                        var = s * s * L
                        if model == "market_model":
                            xbar, ssx, x = f.var_parts[model]
                            var = s * s * (L + L * L / f.t_est + (x.loc[days].sum() - L * xbar) ** 2 / ssx)
                        sd_car = math.sqrt(var)
                        scar = car / sd_car if var > 0 else np.nan
                        normal = f.normal[model].loc[days].to_numpy()
                        bhar = float(np.prod(1 + seg + normal) - np.prod(1 + normal))
                    rows.append({"event_id": f.event_id, "model": model, "window": str(w), "car": car, "scar": scar, "bhar": bhar,
                                 "t_est": f.t_est, "first": f.p0 + w.pre, "last": f.p0 + w.post, "days": len(days), "sd_est": f.s[model],
                                 "sd_car": sd_car})
        return pd.DataFrame(rows, columns=["event_id", "model", "window", "car", "scar", "bhar", "t_est", "first", "last", "days", "sd_est",
                                           "sd_car"])

    def event_car(self) -> pd.DataFrame:
        """Per event, model and test window (study.windows; not the BHAR windows): the numbers each CAR test of
        the table is built from (event_car.csv, columns :data:`EVENT_CAR_COLUMNS`).

        ``days``: the window's length L in sessions; ``car``: the sum of the event's ARs over the window
        (abnormal_returns.csv's rows); ``sd_est``: the daily SD of the event's estimation-window abnormal
        returns (ddof 1; for the market model the regression's residual SD, ddof 2); ``sd_car``: the SD of the
        CAR under the null, ``sd_est * sqrt(L)``, and for the market model with the forecast-error correction
        ``sd_est * sqrt(L + L^2/T + (sum_w Rm - L mean_est Rm)^2 / SSx)`` (see the module docstring);
        ``scar = car / sd_car``: the event's own test statistic, the standardised CAR that Patell's, BMP's and
        Kolari-Pynnonen's tests sum; ``p``: its two-sided p-value against the standard normal; ``t_est``: the
        estimation sessions T. ``counted``: the event counts in that window of study.csv (car, sd_car, scar
        and p are NaN when not: an ``unknown``-time event in a window before day +1, or ARs missing at the data's
        end). ``day0``: the reaction session (ISO date). Fractions of price, daily returns."""
        from scipy import stats

        test = {str(w) for w in self.model.windows}
        c = self.car[self.car["window"].isin(test)].drop_duplicates(["event_id", "model", "window"])
        day0 = {f.event_id: self.sessions[f.p0].date().isoformat() for f in self.fits}
        scar = c["scar"].to_numpy(dtype=float)  # float even when no event was studied (an empty table)
        out = c.assign(day0=c["event_id"].map(day0), p=2 * stats.norm.sf(np.abs(scar)), counted=c["car"].notna())
        return out[EVENT_CAR_COLUMNS].reset_index(drop=True)

    def _test_table(self) -> pd.DataFrame:
        groups = _groups(self.events)
        fit_by = {f.event_id: f for f in self.fits}
        st = self.settings
        rows = []
        for model in st.models:
            sub = self.car[self.car["model"] == model]
            for gname, ids in groups.items():
                for w in self.model.windows + self.model.bhar_windows:
                    bhar_row = w in self.model.bhar_windows and w not in self.model.windows
                    c = sub[(sub["window"] == str(w)) & sub["event_id"].isin(ids)].dropna(subset=["car"])
                    n = len(c)
                    row = dict.fromkeys(TABLE_COLUMNS, np.nan)
                    row.update({"model": model, "group": gname, "window": str(w), "n": n, "caar": c["car"].mean() if n else np.nan})
                    if bhar_row:
                        # buy-and-hold abnormal returns: skewed, overlapping; the CAR tests are not theirs
                        row["mean_bhar"] = c["bhar"].mean() if n else np.nan
                        rbar = et.window_overlap_correlation(list(zip(c["first"], c["last"])))
                        row["rbar"] = rbar
                        row["t_skew"], row["p_skew"] = et.overlap_adjusted_skewness_t(c["bhar"], rbar)
                    else:
                        row["t_cs"], row["p_cs"] = et.cross_sectional_t(c["car"])
                        row["t_patell"], row["p_patell"] = et.patell_z(c["scar"], c["t_est"])
                        row["t_bmp"], row["p_bmp"] = et.bmp_t(c["scar"])
                        rbar = et.window_overlap_correlation(list(zip(c["first"], c["last"])))
                        row["t_kp"], row["p_kp"] = et.kolari_pynnonen_t(c["scar"], rbar)
                        row["rbar"] = rbar
                        row["z_rank"], row["p_rank"] = self._rank(model, list(c["event_id"]), w, fit_by)
                        row["z_sign"], row["p_sign"] = et.generalized_sign_z(c["car"], self._p_hat(model, list(c["event_id"]), fit_by))
                    rows.append(row)
        table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
        # one Benjamini-Hochberg family: every p-value of the table (all models, groups, windows, tests)
        p = table[P_COLUMNS].to_numpy(float)
        q = et.bh_qvalues(p.ravel()).reshape(p.shape)
        table[Q_COLUMNS] = q
        finite = np.isfinite(p)
        self.multiple_testing = {
            "method": MULTIPLE_TESTING,
            "description": "Benjamini-Hochberg false discovery rate (statsmodels.stats.multitest.multipletests, method 'fdr_bh'); "
                           "one family: every finite p-value of study.csv, all models, groups, windows and tests together",
            "p_columns": list(P_COLUMNS),
            "q_columns": list(Q_COLUMNS),
            "n_tests": int(finite.sum()),
            "n_p_below_0.05": int((p[finite] < 0.05).sum()),
            "n_q_below_0.05": int((q[finite] < 0.05).sum()),
        }
        return table

    def _rank(self, model, ids, w, fit_by):
        """Corrado rank test of window ``w``: each event's ARs are ranked over its
        estimation window plus the days of ``w`` only (Corrado 1989)."""
        if not ids:
            return float("nan"), float("nan")
        offsets, ranks = [], []
        for i in ids:
            f = fit_by[i]
            ar = f.ar[model]
            days = ar.index.to_numpy()
            keep = np.arange(len(days)) < f.t_est
            keep |= (days >= w.pre) & (days <= w.post) & ~keep
            offsets.append(days[keep])
            ranks.append(et.rank_u(ar.to_numpy(float)[keep]))
        axis = np.unique(np.concatenate(offsets))  # the common event-time axis (sorted day offsets)
        mat = np.full((len(ids), len(axis)), np.nan)
        for r, (d, u) in enumerate(zip(offsets, ranks)):
            mat[r, np.searchsorted(axis, d)] = u
        window = (axis >= w.pre) & (axis <= w.post)
        return et.corrado_rank_z(mat, window)

    def _p_hat(self, model, ids, fit_by) -> float:
        """Mean over ``ids`` of each event's share of positive ARs in its estimation window (the generalized
        sign test's expected share; a missing AR counts as not positive)."""
        vals = [np.mean(fit_by[i].ar[model].to_numpy(float)[: fit_by[i].t_est] > 0) for i in ids]
        return float(np.mean(vals)) if vals else float("nan")

    # ------------------------------------------------------------ presentation
    def headline(self, model: str = "peer_adjusted", group: str = "all") -> pd.DataFrame:
        t = self.table
        return t[(t["model"] == model) & (t["group"] == group)]

    def summary(self, model: str | None = None, groups=("all", "scheduled", "unscheduled"), wide: bool = False) -> str:
        """A text table of CAAR and tests by model, group and window (stars by BH q).

        ``wide``: each test also shows its two-sided p and BH q (about 200 columns); otherwise the statistic and its
        stars only, and the text fits 100 columns (p and q are in study.csv)."""
        st = self.settings
        mt = self.multiple_testing
        lines = [
            "Event study: abnormal returns of " + self.model.target,
            f"  models: {', '.join(st.models)}; market {st.market}; peer-adjusted basket: {'/'.join(self.model.peers)} "
            "minus the event's announcing company (the trade's hedge basket)",
            f"  estimation: the latest {st.estimation} clean sessions ending {st.gap} before day 0 (min {st.min_estimation}, looking back at most "
            f"{st.lookback if st.lookback is not None else 2 * st.estimation}), leaving out the studied events' windows and "
            f"{len(self.model.exclude_sessions)} sessions of other calendar events' windows",
            f"  clustered reaction sessions: '{st.clusters}'; events studied {len(self.fits)}, skipped {len(self.skipped)}",
            *[f"  window {w}: {len(ids)} unknown-time events left out (a window for them must include day +1)"
              for w, ids in self.excluded_unknown_time.items() if ids],
            "  CAAR in %; each test: statistic, stars by Benjamini-Hochberg q (** q<0.01, * q<0.05)"
            + (", [two-sided p, q]" if wide else "; p and q per test: --wide, or study.csv"),
            f"  q: BH over all {mt['n_tests']} tests of the table (every model, group, window and test); "
            f"{mt['n_p_below_0.05']} have p < 0.05, {mt['n_q_below_0.05']} have q < 0.05",
            f"  BHAR windows: mean BHAR and the skewness-adjusted t (Lyon-Barber-Tsai 1999) times the Kolari-Pynnonen factor "
            f"for overlapping windows, p from t(n-1), only for n >= {et.BHAR_MIN_EVENTS}; CAR tests are for the other windows",
            "",
        ]
        t = self.table
        models = [model] if model else list(st.models)
        names = (("t_cs", "p_cs", "q_cs"), ("t_patell", "p_patell", "q_patell"), ("t_bmp", "p_bmp", "q_bmp"), ("t_kp", "p_kp", "q_kp"),
                 ("z_rank", "p_rank", "q_rank"), ("z_sign", "p_sign", "q_sign"), ("t_skew", "p_skew", "q_skew"))
        width = 22 if wide else 8
        gw = 14 if wide else max([5] + [len(g) for g in groups])
        ww, cw = 6, 7 if wide else 6  # window and CAAR/BHAR widths: narrow, CAARs up to +-99.99%

        def cell(stat, p, q):
            if not np.isfinite(stat):
                return f"{'-':>{width}s}"
            star = "**" if q < 0.01 else "*" if q < 0.05 else ""
            pq = f" [{p:.3f},{q:.3f}]" if wide and np.isfinite(p) else ""
            return f"{stat:6.2f}{star:2s}{pq}".rjust(width)

        for m in models:
            lines.append(f"[{m}]")
            heads = ("t_cs", "patell", "bmp", "kp", "rank", "sign", "skew-t (BHAR)" if wide else "skew-t")
            hdr = f"{'group':{gw}s} {'window':>{ww}s} {'n':>3s} {'CAAR%':>{cw}s} {'BHAR%':>{cw}s} " + " ".join(f"{h:>{width}s}" for h in heads)
            lines.append(hdr.rstrip())
            for g in groups:
                sub = t[(t["model"] == m) & (t["group"] == g)]
                for _, r in sub.iterrows():
                    caar = r["caar"] * 100 if np.isfinite(r["caar"]) else float("nan")
                    bhar = f"{r['mean_bhar'] * 100:{cw}.2f}" if np.isfinite(r["mean_bhar"]) else f"{'-':>{cw}s}"
                    row = f"{g:{gw}s} {r['window']:>{ww}s} {int(r['n']):3d} {caar:{cw}.2f} {bhar} " + " ".join(cell(r[a], r[b], r[c]) for a, b, c in names)
                    lines.append(row.rstrip())
            lines.append("")
        if not wide:  # the notes wrapped to the table's width
            import textwrap

            lines = [textwrap.fill(x, 100, subsequent_indent="    ", break_long_words=False) if len(x) > 100 and x.startswith("  ") else x
                     for x in lines]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        def clean(v):
            if isinstance(v, (float, np.floating)):
                return float(v) if np.isfinite(v) else None
            if isinstance(v, (np.integer,)):
                return int(v)
            if isinstance(v, np.bool_):
                return bool(v)
            return v

        fit_by = {f.event_id: f for f in self.fits}
        events = []
        for _, e in self.events.iterrows():
            f = fit_by[e["event_id"]]
            events.append({"event_id": e["event_id"], "day0": str(pd.Timestamp(e["day0"]).date()), "time": clean(e.get("time")),
                           "category": str(e["category"]), "scheduled": bool(e["scheduled"]), "company": clean(e.get("company")),
                           "basket": list(f.basket), "t_est": int(f.t_est), "needs_day1": e["event_id"] in self.needs_day1})
        return {
            "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.settings).items()},
            "target": self.model.target,
            "peers": self.model.peers,
            "peer_adjusted_basket": "strategies.hedge.hedge_basket(peers, target, [event company]): the trade's hedge basket, per event",
            "n_events": len(self.fits),
            "skipped": self.skipped,
            "estimation_excluded_sessions": len(self.model.exclude_sessions),
            "excluded_unknown_time": {w: ids for w, ids in self.excluded_unknown_time.items() if ids},
            "multiple_testing": self.multiple_testing,
            "events": events,
            "results": [{k: clean(v) for k, v in r.items()} for r in self.table.to_dict("records")],
        }
