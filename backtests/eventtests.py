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
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats


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
