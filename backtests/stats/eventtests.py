"""Test statistics for event studies: small pure functions on arrays.

Notation: N events; for event i, ``CAR_i`` is its cumulative abnormal return
over the test window (L2 sessions) and ``SCAR_i = CAR_i / sd(CAR_i)`` the
standardised CAR, where sd(CAR_i) comes from the event's estimation window
(T_i sessions, including the forecast-error correction for the market model).
Every function returns ``(statistic, two-sided p-value)``.

References:

* Brown, S. and Warner, J. (1985) "Using daily stock returns: the case of
  event studies", J. Financial Economics 14: the cross-sectional t test.
* Patell, J. (1976) "Corporate forecasts of earnings per share and stock
  price behavior", J. Accounting Research 14(2): standardised residual test.
* Boehmer, E., Musumeci, J. and Poulsen, A. (1991) "Event-study methodology
  under conditions of event-induced variance", J. Financial Economics 30: BMP.
* Kolari, J. and Pynnonen, S. (2010) "Event study testing with cross-sectional
  correlation of abnormal returns", Review of Financial Studies 23(11): the
  adjustment ``sqrt((1 - r) / (1 + (N - 1) r))`` for average correlation r.
* Corrado, C. (1989) "A nonparametric test for abnormal security-price
  performance in event studies", J. Financial Economics 23; multi-day form
  and the ``K / (1 + M)`` scaling as in Corrado and Zivney (1992), JFQA 27(3).
* Cowan, A. (1992) "Nonparametric event study tests", Review of Quantitative
  Finance and Accounting 2: the generalized sign test.
* Lyon, J., Barber, B. and Tsai, C.-L. (1999) "Improved methods for tests of
  long-run abnormal stock returns", J. Finance 54(1): the skewness-adjusted t
  for buy-and-hold abnormal returns and its bootstrap; Hall, P. (1992) "On the
  removal of skewness by transformation", JRSS B 54(1): the transformation.
* Benjamini, Y. and Hochberg, Y. (1995) "Controlling the false discovery rate",
  JRSS B 57(1): adjusted p-values (q), via statsmodels' ``multipletests``.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests


def _finite(x) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    return a[np.isfinite(a)]


def _two_sided_t(t: float, df: int) -> float:
    return float(2 * stats.t.sf(abs(t), df)) if np.isfinite(t) and df > 0 else float("nan")


def _two_sided_z(z: float) -> float:
    return float(2 * stats.norm.sf(abs(z))) if np.isfinite(z) else float("nan")


def cross_sectional_t(car) -> tuple[float, float]:
    """Brown-Warner: ``mean(CAR) / (sd(CAR) / sqrt(N))``, t with N-1 df."""
    c = _finite(car)
    n = len(c)
    if n < 2 or np.std(c, ddof=1) == 0:
        return float("nan"), float("nan")
    t = c.mean() / (c.std(ddof=1) / math.sqrt(n))
    return float(t), _two_sided_t(t, n - 1)


def patell_z(scar, t_est) -> tuple[float, float]:
    """Patell: ``sum(SCAR_i) / sqrt(sum((T_i - 2) / (T_i - 4)))``, standard normal.

    ``(T_i - 2) / (T_i - 4)`` is the variance of a standardised residual that
    follows a t distribution with T_i - 2 degrees of freedom.
    """
    s = np.asarray(scar, dtype=float)
    t = np.asarray(t_est, dtype=float)
    ok = np.isfinite(s) & np.isfinite(t) & (t > 4)
    if ok.sum() < 1:
        return float("nan"), float("nan")
    z = s[ok].sum() / math.sqrt(((t[ok] - 2) / (t[ok] - 4)).sum())
    return float(z), _two_sided_z(z)


def bmp_t(scar) -> tuple[float, float]:
    """BMP: cross-sectional t of the standardised CARs, ``mean(SCAR) / (sd(SCAR) / sqrt(N))``, N-1 df.

    Robust to event-induced variance (the cross-sectional sd replaces the
    estimation-period variance)."""
    return cross_sectional_t(scar)


def kolari_pynnonen_t(scar, rbar: float) -> tuple[float, float]:
    """BMP adjusted for cross-correlation of abnormal returns (Kolari-Pynnonen).

    ``t_KP = t_BMP * sqrt((1 - r) / (1 + (N - 1) r))`` with ``r`` the average
    pairwise correlation of the events' estimation-window abnormal returns.
    """
    t, _ = bmp_t(scar)
    n = len(_finite(scar))
    if not np.isfinite(t) or not np.isfinite(rbar):
        return float("nan"), float("nan")
    den = 1 + (n - 1) * rbar
    if den <= 0:
        return float("nan"), float("nan")
    tk = t * math.sqrt((1 - rbar) / den)
    return float(tk), _two_sided_t(tk, n - 1)


def rank_u(ar_all: np.ndarray) -> np.ndarray:
    """Corrado-Zivney scaled ranks of one event's ARs over estimation + event window.

    ``U_t = K_t / (1 + M) - 0.5`` with ``K_t`` the rank (1 = lowest, ties
    averaged) among the M non-missing values; missing stay NaN.
    """
    a = np.asarray(ar_all, dtype=float)
    out = np.full(a.shape, np.nan)
    ok = np.isfinite(a)
    m = ok.sum()
    if m:
        out[ok] = stats.rankdata(a[ok]) / (1 + m) - 0.5
    return out


def corrado_rank_z(u: np.ndarray, window: np.ndarray) -> tuple[float, float]:
    """Corrado rank test over a multi-day window.

    ``u``: events x event-time days matrix of :func:`rank_u` values (NaN where
    missing), covering estimation and event windows on a common event-time
    axis; ``window``: boolean mask of the test-window columns. With
    ``Ubar_t`` the cross-sectional mean on day t and ``S = sqrt(mean_t Ubar_t^2)``
    over all days, ``z = sum_{t in window} Ubar_t / (sqrt(L2) * S)``.
    """
    u = np.asarray(u, dtype=float)
    ubar = np.nanmean(np.where(np.isfinite(u), u, np.nan), axis=0) if u.size else np.array([])
    have = np.isfinite(ubar)
    w = np.asarray(window, dtype=bool) & have
    if w.sum() == 0 or have.sum() < 3:
        return float("nan"), float("nan")
    s = math.sqrt(np.mean(ubar[have] ** 2))
    if s == 0:
        return float("nan"), float("nan")
    z = ubar[w].sum() / (math.sqrt(w.sum()) * s)
    return float(z), _two_sided_z(z)


def generalized_sign_z(car, p_hat: float) -> tuple[float, float]:
    """Cowan's generalized sign test: ``(w - N p) / sqrt(N p (1 - p))``.

    ``w``: events with a positive CAR; ``p``: the share of positive abnormal
    returns in the estimation windows (what "positive" looks like without an event).
    """
    c = _finite(car)
    n = len(c)
    if n < 1 or not (0 < p_hat < 1):
        return float("nan"), float("nan")
    w = (c > 0).sum()
    z = (w - n * p_hat) / math.sqrt(n * p_hat * (1 - p_hat))
    return float(z), _two_sided_z(z)


def window_overlap_correlation(windows: list[tuple[int, int]]) -> float:
    """Average pairwise correlation of event CARs induced by shared sessions.

    ``windows``: each event's test window as (first, last) session positions.
    For one firm whose events are spread in time, two events' CARs are
    correlated only through the sessions their windows share: with i.i.d.
    daily abnormal returns, two L-session sums sharing k sessions have
    correlation ``k / L`` (``k / sqrt(L_i L_j)`` for unequal lengths). This is
    the ``r`` that :func:`kolari_pynnonen_t` needs in a single-firm study; the
    cross-firm estimate of Kolari and Pynnonen (correlation of
    estimation-window residuals on common dates) would be close to 1 here,
    because overlapping estimation windows hold the same days.
    """
    n = len(windows)
    if n < 2:
        return 0.0
    tot = 0.0
    for i in range(n):
        a0, a1 = windows[i]
        for j in range(i + 1, n):
            b0, b1 = windows[j]
            k = max(0, min(a1, b1) - max(a0, b0) + 1)
            tot += k / math.sqrt((a1 - a0 + 1) * (b1 - b0 + 1))
    return tot / (n * (n - 1) / 2)


def bh_qvalues(p) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q) of ``p`` as one family.

    NaN p-values stay NaN and are not counted in the family; the others go to
    ``statsmodels.stats.multitest.multipletests(method="fdr_bh")``:
    ``q_(i) = min_{j >= i} p_(j) m / j`` over the m sorted finite p-values.
    """
    a = np.asarray(p, dtype=float)
    q = np.full(a.shape, np.nan)
    ok = np.isfinite(a)
    if ok.any():
        q[ok] = multipletests(a[ok], method="fdr_bh")[1]
    return q


def _skew_t(x: np.ndarray, center: np.ndarray | float, axis: int = -1) -> np.ndarray:
    """Hall's transformation of the t statistic, along ``axis``:
    ``sqrt(n) (S + gamma S^2 / 3 + gamma / (6 n))`` with ``S = (mean - center) / sd``
    and ``gamma = sum((x - mean)^3) / (n sd^3)`` (sd with n - 1)."""
    n = x.shape[axis]
    mean = x.mean(axis=axis, keepdims=True)
    sd = x.std(axis=axis, ddof=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (mean - center) / sd
        g = ((x - mean) ** 3).sum(axis=axis, keepdims=True) / (n * sd ** 3)
        t = math.sqrt(n) * (s + g * s * s / 3 + g / (6 * n))
    t = np.where(sd > 0, t, np.nan)
    return np.squeeze(t, axis=axis)


def skewness_adjusted_t(x) -> tuple[float, float]:
    """Skewness-adjusted t of Lyon, Barber and Tsai (1999) for mean zero:

    ``t_sa = sqrt(N) (S + gamma S^2 / 3 + gamma / (6 N))``, ``S = mean(x) / sd(x)``,
    ``gamma = sum((x - mean)^3) / (N sd(x)^3)`` (sd with N - 1). With gamma = 0
    it is the ordinary t. The p-value here is from Student's t with N - 1 df;
    :func:`bootstrap_skewness_adjusted_t` gives the bootstrapped one that Lyon,
    Barber and Tsai recommend. Needs N >= 3.
    """
    c = _finite(x)
    n = len(c)
    if n < 3:
        return float("nan"), float("nan")
    t = float(_skew_t(c, 0.0))
    return t, _two_sided_t(t, n - 1)


def bootstrap_skewness_adjusted_t(x, draws: int = 9999, seed: int = 20240607) -> tuple[float, float]:
    """The skewness-adjusted t (:func:`skewness_adjusted_t`) with a bootstrapped p-value.

    ``draws`` resamples of size N with replacement are drawn by
    ``numpy.random.default_rng(seed).integers(0, N, size=(draws, N))``; each
    gives ``t*`` computed like ``t_sa`` but centred on the sample mean (the null
    imposed on the resampling distribution, as in Lyon, Barber and Tsai 1999,
    who resample N/4; full-size resamples as in Hall 1992). Resamples with zero
    spread are dropped. The two-sided p is equal-tailed:
    ``min(1, 2 min((1 + #{t* <= t}) / (B + 1), (1 + #{t* >= t}) / (B + 1)))``.
    """
    c = _finite(x)
    t, _ = skewness_adjusted_t(c)
    if not np.isfinite(t):
        return float("nan"), float("nan")
    n = len(c)
    idx = np.random.default_rng(seed).integers(0, n, size=(draws, n))
    stars = _skew_t(c[idx], c.mean(), axis=1)
    stars = stars[np.isfinite(stars)]
    b = len(stars)
    if b == 0:
        return t, float("nan")
    lo = (1 + (stars <= t).sum()) / (b + 1)
    hi = (1 + (stars >= t).sum()) / (b + 1)
    return t, float(min(1.0, 2 * min(lo, hi)))


BHAR_MIN_EVENTS = 10  # fewer BHARs give no test: the skewness adjustment and the overlap factor need a sample


def overlap_adjusted_skewness_t(x, rbar: float, min_n: int = BHAR_MIN_EVENTS) -> tuple[float, float]:
    """The test of the BHAR rows: the skewness-adjusted t (:func:`skewness_adjusted_t`)
    times the Kolari-Pynnonen factor ``sqrt((1 - r) / (1 + (N - 1) r))`` for the
    average correlation ``r`` that overlapping windows induce
    (:func:`window_overlap_correlation`; long BHAR windows of one firm overlap),
    with a two-sided p from Student's t with N - 1 df.

    NaN (no test, and so no place in the multiple-testing family) for fewer
    than ``min_n`` events. The bootstrap of :func:`bootstrap_skewness_adjusted_t`
    is not used here: it resamples events as if independent, and is oversized
    for small N.
    """
    c = _finite(x)
    n = len(c)
    if n < max(min_n, 3) or not np.isfinite(rbar):
        return float("nan"), float("nan")
    t, _ = skewness_adjusted_t(c)
    den = 1 + (n - 1) * rbar
    if not np.isfinite(t) or den <= 0:
        return float("nan"), float("nan")
    ta = t * math.sqrt((1 - rbar) / den)
    return float(ta), _two_sided_t(ta, n - 1)
