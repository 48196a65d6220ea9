"""Overfitting guards for parameter sweeps: small pure functions on the stored daily returns.

Conventions (as :mod:`backtests.stats.performance` and empyrical):

* ``returns`` are **daily simple returns** as fractions (0.01 = 1 %), non-cumulative, 252 sessions a year
  (:data:`ANN`). A sweep's returns arrive as a sessions x trials DataFrame (``store.load_returns``), one column
  per trial, NaN outside a trial's sessions.
* **Sharpe ratios are per period (daily) unless a name says ``_ann``**: ``sr = mean(r) / std(r, ddof=1)``;
  the annualised figure is ``sr * sqrt(252)``, the same number as ``summary.json``'s ``sharpe``. The deflated
  and probabilistic Sharpe ratios are defined on the per-period ratio and the number of observations ``T``; feeding
  them annualised ratios is the classic mistake (it inflates every z-score by sqrt(252)).
* A column with zero variance has Sharpe 0 if its mean is 0 (a trial that never traded) and +/-inf otherwise.
* Missing values: trials with no finite return at all (failed, never ran) are dropped; then only the sessions
  where every remaining trial has a return are used (``nan="drop"``, the default: trials are compared on the same
  days), or a missing return is read as a flat day (``nan="zero"``). Each result reports what was dropped.
* Nothing here reads or writes files or draws; results are dicts of floats, strings, numpy arrays and pandas
  objects (the report turns them into JSON and figures).

References:
  Bailey, D. H. and M. Lopez de Prado (2012), "The Sharpe ratio efficient frontier", Journal of Risk 15(2) -- PSR.
  Bailey, D. H. and M. Lopez de Prado (2014), "The deflated Sharpe ratio: correcting for selection bias, backtest
  overfitting and non-normality", Journal of Portfolio Management 40(5), 94-107 -- DSR.
  Bailey, D. H., J. M. Borwein, M. Lopez de Prado and Q. J. Zhu (2017), "The probability of backtest overfitting",
  Journal of Computational Finance 20(4), 39-69 -- PBO by CSCV.
  Hansen, P. R. (2005), "A test for superior predictive ability", Journal of Business & Economic Statistics 23(4),
  365-380 -- SPA. White, H. (2000), "A reality check for data snooping", Econometrica 68(5), 1097-1126.
  Politis, D. N. and J. P. Romano (1994), "The stationary bootstrap", JASA 89(428), 1303-1313.
"""
from __future__ import annotations

import math
import warnings
from itertools import combinations
from typing import Callable, Literal

import numpy as np
import pandas as pd
from scipy import stats

ANN = 252
#: the Euler-Mascheroni constant
EULER_GAMMA = float(np.euler_gamma)

Metric = Literal["sharpe", "mean", "total_return"] | Callable[[np.ndarray], np.ndarray]


# ----------------------------------------------------------------------------------------------- helpers

def _finite(returns) -> np.ndarray:
    a = np.asarray(returns, dtype=float).ravel()
    return a[np.isfinite(a)]


def _panel(returns, nan: str = "drop", dedupe: bool = False) -> tuple[pd.DataFrame, dict]:
    """The sessions x trials frame the statistics run on, and what was dropped to get it.

    Trials (columns) with no finite value are dropped; then ``nan="drop"`` keeps only the sessions where every
    remaining trial is finite, ``nan="zero"`` reads a missing return as 0 (flat). ``dedupe`` drops trials whose
    return series is an exact copy of an earlier trial's (keeps the first)."""
    if nan not in ("drop", "zero"):
        raise ValueError(f"nan must be 'drop' or 'zero', not {nan!r}")
    df = pd.DataFrame(returns).astype(float)
    df = df.replace([np.inf, -np.inf], np.nan)
    empty = [c for c in df.columns if not df[c].notna().any()]
    df = df.drop(columns=empty)
    n0 = len(df)
    df = df.dropna(how="any") if nan == "drop" else df.fillna(0.0)
    dups: list = []
    if dedupe and df.shape[1] > 1:
        dup_mask = df.T.duplicated(keep="first").to_numpy()
        dups = list(df.columns[dup_mask])
        df = df.loc[:, ~dup_mask]
    info = {"trials_dropped_empty": empty, "trials_dropped_duplicate": dups, "n_sessions_dropped": int(n0 - len(df)),
            "nan_policy": nan}
    return df, info


def _sharpe_from_moments(n, mean, var) -> np.ndarray:
    """Per-period Sharpe mean / sqrt(var) with the zero-variance convention of the module docstring."""
    n, mean, var = np.broadcast_arrays(np.asarray(n, float), np.asarray(mean, float), np.asarray(var, float))
    sd = np.sqrt(np.clip(var, 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        sr = mean / sd
    zero_var = ~(sd > 0)
    sr = np.where(zero_var, np.where(mean > 0, np.inf, np.where(mean < 0, -np.inf, 0.0)), sr)
    return np.where(n >= 2, sr, np.nan)


def sharpe_ratios(returns, annualization: int | None = None) -> pd.Series:
    """Sharpe ratio of every column of a sessions x trials frame of daily simple returns.

    Per period (daily) by default: ``mean / std(ddof=1)`` of each column's finite values; pass
    ``annualization=252`` for the annualised figure (``* sqrt(252)``, as ``summary.json``'s ``sharpe``).
    Zero-variance columns: 0 if the mean is 0, +/-inf otherwise."""
    df = pd.DataFrame(returns).astype(float)
    n = df.notna().sum().to_numpy()
    mean, var = df.mean().to_numpy(), df.var(ddof=1).to_numpy()
    var = np.where(var <= 1e-14 * (df * df).mean().to_numpy(), 0.0, var)  # rounding noise of a constant column
    sr = _sharpe_from_moments(n, mean, var)
    if annualization:
        sr = sr * math.sqrt(annualization)
    return pd.Series(sr, index=df.columns, dtype=float)


def _moments(r: np.ndarray) -> tuple[float, float, float, float]:
    """Per-period Sharpe (ddof=1), skewness and kurtosis (non-excess; population moments, as scipy's
    ``skew`` / ``kurtosis(fisher=False)`` with ``bias=True``), and T."""
    t = len(r)
    if t < 3:
        return float("nan"), float("nan"), float("nan"), float(t)
    sd = np.std(r, ddof=1)
    sr = float(_sharpe_from_moments(t, r.mean(), sd * sd))
    if sd > 0:
        skew = float(stats.skew(r, bias=True))
        kurt = float(stats.kurtosis(r, fisher=False, bias=True))
    else:
        skew, kurt = 0.0, 3.0
    return sr, skew, kurt, float(t)


def _psr_z(sr: float, sr_benchmark: float, t: float, skew: float, kurt: float) -> float:
    """z = (SR - SR_b) sqrt(T - 1) / sqrt(1 - skew SR + (kurt - 1) / 4 SR^2) (all per period)."""
    denom = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr
    if not (np.isfinite(sr) and denom > 0 and t > 1):
        return float("nan")
    return float((sr - sr_benchmark) * math.sqrt(t - 1.0) / math.sqrt(denom))


# ---------------------------------------------------------------------------------- PSR and DSR

def probabilistic_sharpe(returns, sr_benchmark: float = 0.0) -> float:
    """Probabilistic Sharpe ratio (Bailey and Lopez de Prado 2012, "The Sharpe ratio efficient frontier").

    The probability that the true Sharpe ratio of ``returns`` (daily simple returns, NaNs dropped) exceeds
    ``sr_benchmark``, allowing for the sample length and the returns' skewness and kurtosis:

        PSR = Phi((SR - SR_b) sqrt(T - 1) / sqrt(1 - skew SR + (kurt - 1) / 4 SR^2))

    with SR = mean / std(ddof=1) **per period (daily, not annualised)**, ``sr_benchmark`` per period too (divide
    an annual target by sqrt(252)), skew and kurt (non-excess, 3 for a normal) the population moments, T the number
    of finite returns. NaN with fewer than 3 returns or a non-positive variance term."""
    r = _finite(returns)
    sr, skew, kurt, t = _moments(r)
    z = _psr_z(sr, float(sr_benchmark), t, skew, kurt)
    return float(stats.norm.cdf(z)) if np.isfinite(z) else float("nan")


def expected_max_sharpe(n_trials: float, var_trials: float = 1.0) -> float:
    """Expected maximum of ``n_trials`` independent Sharpe ratio estimates whose true value is 0
    (Bailey and Lopez de Prado 2014, eq. for SR0, from the extreme value theory of the Gaussian maximum):

        SR0 = sqrt(V) ((1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e)))

    gamma the Euler-Mascheroni constant, V = ``var_trials`` the variance of the trials' Sharpe ratios (in the
    units of the ratios: per period if they are per period). With V = 1 it approximates E[max of N standard
    normals] (within about 2 % for N from 10 to 1000). N may be fractional (an effective number); N <= 1 gives 0."""
    n = float(n_trials)
    if not np.isfinite(n) or not np.isfinite(var_trials) or var_trials < 0:
        return float("nan")
    if n <= 1:
        return 0.0
    q1, q2 = stats.norm.ppf(1 - 1 / n), stats.norm.ppf(1 - 1 / (n * math.e))
    return float(math.sqrt(var_trials) * ((1 - EULER_GAMMA) * q1 + EULER_GAMMA * q2))


def deflated_sharpe(returns_best, trial_sharpes, n_trials: float | None = None, *,
                    trial_sharpes_annualised: bool = False, annualization: int = ANN) -> dict:
    """Deflated Sharpe ratio (Bailey and Lopez de Prado 2014, "The deflated Sharpe ratio", JPM 40(5)).

    The probabilistic Sharpe ratio of the best trial against the Sharpe ratio the best of N skill-less trials
    would be expected to show, SR0 (:func:`expected_max_sharpe`):

        SR0 = sqrt(V[SR_n]) ((1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e)))
        DSR = Phi((SR* - SR0) sqrt(T - 1) / sqrt(1 - skew SR* + (kurt - 1) / 4 SR*^2))

    ``returns_best``: the selected trial's daily simple returns (NaNs dropped; T = their count). SR*, skew and
    kurt (non-excess, population moments) are computed from them. ``trial_sharpes``: the Sharpe ratios of **all**
    trials of the search, the best included, **per period (daily)**; pass ``trial_sharpes_annualised=True`` if
    they are annualised (e.g. ``summary.json``'s ``sharpe`` column) and they are divided by sqrt(annualization).
    V[SR_n] is their sample variance (ddof=1). ``n_trials``: N, the number of **independent** trials; defaults to
    the number of finite ``trial_sharpes``. Correlated trials (neighbouring parameter values) make the effective
    N smaller than the count, duplicated trials should count once (see :func:`effective_n_trials`).

    Returns ``dsr`` (a probability; >= 0.95 reads as "significant at 5 % after the search"), ``psr0`` (the
    undeflated PSR against 0, for contrast), ``sr_best`` (daily), ``sr_best_ann``, ``sr0`` (daily), ``sr0_ann``,
    ``var_trials`` (daily units squared), ``n_trials``, ``t``, ``skew``, ``kurt``, ``z`` and ``reading``."""
    r = _finite(returns_best)
    sr, skew, kurt, t = _moments(r)
    trials = _finite(trial_sharpes)
    if trial_sharpes_annualised:
        trials = trials / math.sqrt(annualization)
    elif len(trials) and np.isfinite(sr) and abs(sr) > 1e-4:
        top = float(np.max(trials))
        if abs(top / (sr * math.sqrt(annualization)) - 1) < 0.05 and abs(top / sr - 1) > 0.5:
            warnings.warn("deflated_sharpe: trial_sharpes look annualised (their maximum is about the best trial's "
                          "daily Sharpe * sqrt(252)); pass trial_sharpes_annualised=True", stacklevel=2)
    n = float(len(trials)) if n_trials is None else float(n_trials)
    var = float(np.var(trials, ddof=1)) if len(trials) >= 2 else 0.0
    sr0 = expected_max_sharpe(n, var)
    z = _psr_z(sr, sr0, t, skew, kurt)
    dsr = float(stats.norm.cdf(z)) if np.isfinite(z) else float("nan")
    z0 = _psr_z(sr, 0.0, t, skew, kurt)
    psr0 = float(stats.norm.cdf(z0)) if np.isfinite(z0) else float("nan")
    root = math.sqrt(annualization)
    out = {"dsr": dsr, "psr0": psr0, "sr_best": sr, "sr_best_ann": sr * root, "sr0": sr0, "sr0_ann": sr0 * root,
           "var_trials": var, "n_trials": n, "t": int(t), "skew": skew, "kurt": kurt, "z": z}
    out["reading"] = _dsr_reading(out)
    return out


def _dsr_reading(d: dict) -> str:
    if not np.isfinite(d["dsr"]):
        return (f"The deflated Sharpe ratio could not be computed (T = {d['t']} returns, best Sharpe "
                f"{d['sr_best_ann']:.2f} annualised).")
    n = d["n_trials"]
    n_txt = f"{n:.0f}" if float(n).is_integer() else f"{n:.1f}"
    head = (f"The best of {n_txt} trials has an annualised Sharpe ratio of {d['sr_best_ann']:.2f} over {d['t']} "
            f"sessions; the best of {n_txt} skill-less trials with the same spread of Sharpe ratios would be expected "
            f"to show {d['sr0_ann']:.2f}. The deflated Sharpe ratio, the probability that the true Sharpe ratio exceeds "
            f"that bar (allowing for skewness {d['skew']:.2f} and kurtosis {d['kurt']:.1f}), is {d['dsr']:.2f}")
    if d["dsr"] >= 0.95:
        tail = " (>= 0.95): the best result is unlikely to be luck from the search alone."
    elif d["dsr"] >= 0.5:
        tail = (" (< 0.95): not significant at 5 %; the best result is compatible with the luck of picking the "
                "best of many.")
    else:
        tail = " (< 0.5): the best result is no better than the best of as many coin flips."
    return head + tail + f" Undeflated, against a Sharpe of 0, the probability would be {d['psr0']:.2f}."


def effective_n_trials(returns, nan: str = "drop") -> dict:
    """A rough number of independent trials: the participation ratio of the eigenvalues of the trials'
    return correlation matrix, ``(sum lambda)^2 / sum lambda^2`` (N for uncorrelated trials, 1 for perfectly
    correlated ones), after dropping exact duplicates.

    A heuristic, not part of Bailey and Lopez de Prado (2014), who cluster the trials instead; use it to show how
    sensitive the deflated Sharpe ratio is to N (report the DSR at both the raw count and this figure), not as
    *the* N. Sampling noise in the correlations lowers it even for independent trials (about 182 for 200
    independent trials of 2000 sessions), which errs towards a higher DSR. Zero-variance trials are left out. Returns ``n_trials`` (columns), ``n_distinct``, ``n_effective``."""
    df, info = _panel(returns, nan=nan, dedupe=True)
    n_raw = df.shape[1] + len(info["trials_dropped_duplicate"])
    x = df.loc[:, df.std(ddof=1) > 0].to_numpy()
    if x.shape[1] < 2 or x.shape[0] < 3:
        return {"n_trials": n_raw, "n_distinct": df.shape[1], "n_effective": float(x.shape[1])}
    lam = np.clip(np.linalg.eigvalsh(np.corrcoef(x, rowvar=False)), 0.0, None)
    return {"n_trials": n_raw, "n_distinct": df.shape[1], "n_effective": float(lam.sum() ** 2 / (lam * lam).sum())}


# ---------------------------------------------------------------------------------- PBO by CSCV

def _metric_from_sums(metric: str, n, s1, s2, slog, shift) -> np.ndarray:
    """Metric per (split, trial) from the sums over the split's rows of (r - shift), (r - shift)^2, log1p(r)."""
    if metric == "total_return":
        return np.expm1(slog)
    m = s1 / n
    if metric == "mean":
        return m + shift
    var = (s2 - n * m * m) / (n - 1)
    var = np.where(var <= 1e-14 * (s2 / n + (m + shift) ** 2), 0.0, var)  # rounding noise of a constant column
    return _sharpe_from_moments(n, m + shift, var)


def _rel_rank(values: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Relative rank w = rank / (N + 1) of values[i, chosen[i]] within row i (1 = worst, average rank for
    ties, NaN ranked worst), so w is in (0, 1)."""
    v = np.where(np.isnan(values), -np.inf, values)
    sel = v[np.arange(len(v)), chosen][:, None]
    less = (v < sel).sum(axis=1)
    equal = (v == sel).sum(axis=1)
    return (less + (equal + 1) / 2.0) / (v.shape[1] + 1.0)


def pbo_cscv(returns: pd.DataFrame, n_splits: int = 16, metric: Metric = "sharpe", *, nan: str = "drop",
             dedupe: bool = True, annualization: int = ANN, chunk: int = 2048) -> dict:
    """Probability of backtest overfitting by combinatorially symmetric cross-validation (Bailey, Borwein,
    Lopez de Prado and Zhu 2017, "The probability of backtest overfitting", J. Computational Finance 20(4)).

    ``returns``: sessions x trials of daily simple returns (one column per trial), in time order. Missing values
    per the module docstring (``nan``); with ``dedupe`` exact duplicate trials count once (identical return series
    are one strategy; copies would only add ties). The T rows are cut into ``n_splits`` = S contiguous blocks of
    equal length (the T mod S oldest rows are dropped so the blocks are equal, as the method requires). For each
    of the C(S, S/2) choices of S/2 blocks as in-sample (IS; the other half out-of-sample, OOS; 12,870 for S = 16):
    the trial with the best IS metric is selected (ties: the first column), its OOS metric is ranked among all
    trials' (1 = worst, ties share their average rank), w = rank / (N + 1) in (0, 1), and lambda = ln(w / (1 - w)).
    PBO is the share of combinations with lambda <= 0: the selected trial did no better than the OOS median.

    ``metric``: ``"sharpe"`` (mean / std(ddof=1) of the pooled rows; reported **annualised**, * sqrt(252)),
    ``"mean"`` (daily mean return, a fraction), ``"total_return"`` (compounded over the half, a fraction), or a
    callable ``f(rows x trials ndarray) -> trials ndarray`` (larger is better; evaluated per combination, slow).

    Returns ``pbo``; ``lambdas``, ``is_metric``, ``oos_metric`` (of the selected trial, in the units above),
    ``oos_rank`` (w) and ``selected`` (trial labels), numpy arrays over the combinations, for the logit histogram and
    the OOS-vs-IS scatter; ``degradation`` (``slope``, ``intercept``, ``r2`` of the least-squares line of OOS on IS
    metric of the selected trials; positive when in-sample results carry over, zero or negative under overfitting;
    when one trial is chosen in most splits the slope is near -1 by construction, its two halves summing to its
    whole-sample result, and says little);
    ``prob_oos_loss`` (share of combinations whose selected trial has an OOS metric < 0); ``selection_counts``
    (trial -> times selected); ``n_combinations``, ``n_splits``, ``block_length``, ``n_trials``, ``t`` (rows used),
    ``n_rows_dropped_for_blocks``, the ``_panel`` drop report, ``metric``, ``metric_units`` and ``reading``.

    Caveats: the blocks are contiguous, so serial dependence within a block is kept; IS and OOS halves are pooled
    from non-adjacent blocks. With few trials the ranks are coarse (w takes N values). PBO says whether *selection
    by this metric* carries over, not whether the best trial is profitable (see ``prob_oos_loss`` and DSR)."""
    df, info = _panel(returns, nan=nan, dedupe=dedupe)
    S = int(n_splits)
    if S < 2 or S % 2:
        raise ValueError(f"n_splits must be an even number >= 2, not {n_splits!r}")
    T, N = df.shape
    if N < 2:
        raise ValueError(f"PBO needs at least 2 distinct trials with returns; got {N}")
    if T < 2 * S:
        raise ValueError(f"PBO needs at least 2 sessions per block: {T} common sessions for {S} blocks")
    drop = T % S
    X = df.to_numpy()[drop:]
    L = (T - drop) // S
    labels = np.asarray(df.columns, dtype=object)
    combos = np.array(list(combinations(range(S), S // 2)), dtype=int)
    C = len(combos)
    mask = np.zeros((C, S), dtype=float)
    mask[np.arange(C)[:, None], combos] = 1.0
    half = (S // 2) * L

    is_m = np.empty((C,))
    oos_m = np.empty((C,))
    w = np.empty((C,))
    chosen = np.empty((C,), dtype=int)
    named = isinstance(metric, str)
    if named:
        if metric not in ("sharpe", "mean", "total_return"):
            raise ValueError(f"metric must be 'sharpe', 'mean', 'total_return' or a callable, not {metric!r}")
        shift = X.mean(axis=0)  # centre each column: sums of squares without cancellation
        Z = (X - shift).reshape(S, L, N)
        b1, b2 = Z.sum(axis=1), (Z * Z).sum(axis=1)
        bl = np.log1p(np.clip(X, -1.0, None)).reshape(S, L, N).sum(axis=1)
        t1, t2, tl = b1.sum(0), b2.sum(0), bl.sum(0)
        for lo in range(0, C, chunk):
            mk = mask[lo:lo + chunk]
            i1, i2, il = mk @ b1, mk @ b2, mk @ bl
            ism = _metric_from_sums(metric, half, i1, i2, il, shift)
            oom = _metric_from_sums(metric, half, t1 - i1, t2 - i2, tl - il, shift)
            pick = np.argmax(np.where(np.isnan(ism), -np.inf, ism), axis=1)
            rows = np.arange(len(mk))
            chosen[lo:lo + chunk] = pick
            is_m[lo:lo + chunk] = ism[rows, pick]
            oos_m[lo:lo + chunk] = oom[rows, pick]
            w[lo:lo + chunk] = _rel_rank(oom, pick)
    else:
        blocks = X.reshape(S, L, N)
        for c, combo in enumerate(combos):
            inside = np.zeros(S, bool)
            inside[combo] = True
            ism = np.asarray(metric(blocks[inside].reshape(-1, N)), dtype=float)
            oom = np.asarray(metric(blocks[~inside].reshape(-1, N)), dtype=float)
            pick = int(np.argmax(np.where(np.isnan(ism), -np.inf, ism)))
            chosen[c], is_m[c], oos_m[c] = pick, ism[pick], oom[pick]
            w[c] = _rel_rank(oom[None, :], np.array([pick]))[0]
    lambdas = np.log(w / (1.0 - w))
    units = {"sharpe": f"annualised Sharpe ratio (daily mean / std * sqrt({annualization}))",
             "mean": "mean daily return (fraction)", "total_return": "compounded return over the half (fraction)"}
    if named and metric == "sharpe":
        is_m, oos_m = is_m * math.sqrt(annualization), oos_m * math.sqrt(annualization)
    ok = np.isfinite(is_m) & np.isfinite(oos_m)
    if ok.sum() >= 2 and np.ptp(is_m[ok]) > 0:
        slope, intercept = np.polyfit(is_m[ok], oos_m[ok], 1)
        r2 = float(np.corrcoef(is_m[ok], oos_m[ok])[0, 1] ** 2) if np.ptp(oos_m[ok]) > 0 else float("nan")
    else:
        slope = intercept = r2 = float("nan")
    counts = pd.Series(labels[chosen]).value_counts()
    out = {
        "pbo": float(np.mean(lambdas <= 0)),
        "lambdas": lambdas, "is_metric": is_m, "oos_metric": oos_m, "oos_rank": w, "selected": labels[chosen],
        "degradation": {"slope": float(slope), "intercept": float(intercept), "r2": r2},
        "prob_oos_loss": float(np.mean(np.nan_to_num(oos_m, nan=-np.inf) < 0)),
        "selection_counts": {k: int(v) for k, v in counts.items()},
        "n_combinations": int(C), "n_splits": S, "block_length": int(L), "n_trials": int(N), "t": int(T - drop),
        "n_rows_dropped_for_blocks": int(drop), **info,
        "metric": metric if named else getattr(metric, "__name__", "callable"),
        "metric_units": units.get(metric, "as returned by the callable") if named else "as returned by the callable",
    }
    out["reading"] = _pbo_reading(out)
    return out


def _pbo_reading(d: dict) -> str:
    pbo = d["pbo"]
    s = (f"Over {d['n_combinations']:,} in-sample/out-of-sample splits of {d['t']} sessions into {d['n_splits']} "
         f"blocks, the trial that was best in-sample (of {d['n_trials']}) ranked at or below the out-of-sample median "
         f"in {pbo:.0%} of them (PBO = {pbo:.2f}). ")
    if pbo >= 0.5:
        s += "Selecting the best in-sample trial is no better than picking one at random: the search is overfitting. "
    elif pbo >= 0.2:
        s += "Selection carries over only partly; the chosen trial's ranking is fragile. "
    else:
        s += "The in-sample winner usually stays above the median out of sample. "
    slope = d["degradation"]["slope"]
    top = max(d["selection_counts"].values()) / d["n_combinations"] if d["selection_counts"] else 1.0
    if np.isfinite(slope) and top < 0.5:
        s += (f"Across splits, the chosen trial's out-of-sample {d['metric']} changes by {slope:+.2f} per unit of its "
              f"in-sample {d['metric']} (positive: in-sample results carry information; zero or negative: they do "
              f"not). ")
    elif np.isfinite(slope):
        s += (f"One trial was chosen in {top:.0%} of the splits, so the out-of-sample on in-sample slope "
              f"({slope:+.2f}) mostly reflects that its two halves add up to its whole-sample result. ")
    s += f"The chosen trial lost money out of sample in {d['prob_oos_loss']:.0%} of the splits."
    return s


# ---------------------------------------------------------------------------------- SPA / Reality Check

def stationary_bootstrap_variance(x, block: float) -> np.ndarray:
    """Long-run variance of each column of ``x`` (T x k) as Hansen (2005, eq. for omega^2) and arch's ``SPA``
    estimate it for the stationary bootstrap with mean block length ``block``:

        omega^2 = g_0 + 2 sum_{i=1}^{T-1} kappa(T, i) g_i,   kappa = (1 - i/T)(1 - q)^i + (i/T)(1 - q)^(T - i),

    q = 1 / block, g_i the sample autocovariance at lag i (divisor T). Units: those of x squared (per period)."""
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    T = x.shape[0]
    z = x - x.mean(axis=0)
    nfft = 1 << int(2 * T - 1).bit_length()
    f = np.fft.rfft(z, n=nfft, axis=0)
    g = np.fft.irfft(f * np.conj(f), n=nfft, axis=0)[:T] / T
    i = np.arange(1, T, dtype=float)
    q = 1.0 / float(block)
    kappa = (1 - i / T) * (1 - q) ** i + (i / T) * (1 - q) ** (T - i)
    return g[0] + 2.0 * (kappa[:, None] * g[1:]).sum(axis=0)


def _aligned(benchmark, candidates) -> tuple[pd.Series, pd.DataFrame, dict]:
    cand = pd.DataFrame(candidates).astype(float)
    if isinstance(benchmark, pd.Series) and not isinstance(candidates, pd.DataFrame):
        cand.index = benchmark.index
    bench = pd.Series(benchmark, dtype=float, index=cand.index if not isinstance(benchmark, pd.Series) else None)
    empty = [c for c in cand.columns if not cand[c].notna().any()]
    cand = cand.drop(columns=empty)
    both = pd.concat([bench.rename("__benchmark__"), cand], axis=1, join="inner")
    n0 = len(both)
    both = both.replace([np.inf, -np.inf], np.nan).dropna(how="any")
    info = {"trials_dropped_empty": empty, "n_sessions_dropped": int(n0 - len(both))}
    return both.pop("__benchmark__"), both, info


def _block_length(block, d: np.ndarray) -> int:
    T = d.shape[0]
    if block is None:
        return max(1, int(math.sqrt(T)))
    if block == "auto":
        from arch.bootstrap import optimal_block_length
        opt = optimal_block_length(d)["stationary"].to_numpy()
        opt = opt[np.isfinite(opt)]
        return max(1, int(math.ceil(np.median(opt)))) if len(opt) else max(1, int(math.sqrt(T)))
    b = int(block)
    if b < 1:
        raise ValueError(f"block must be >= 1, not {block!r}")
    return b


def spa_test(benchmark: pd.Series, candidates: pd.DataFrame, reps: int = 1000, block: int | str | None = None,
             seed: int = 20240607, *, studentize: bool = True, alpha: float = 0.05,
             bootstrap: str = "stationary", annualization: int = ANN) -> dict:
    """Hansen's (2005) test of superior predictive ability ("A test for superior predictive ability", JBES 23(4)):
    does any candidate beat the benchmark (the sweep's base config), allowing for the search over all of them?

    H0: no candidate has a higher expected daily return than the benchmark. The bootstrap is arch's
    (:class:`arch.bootstrap.SPA`, a ``bootstrap`` block bootstrap, stationary by default, of mean block length
    ``block`` sessions, ``reps`` replications, seeded with ``seed``). Sign convention: arch tests whether some model's
    **loss** is below the benchmark's; here loss = minus the daily simple return, so arch's loss differential
    ``L_bench - L_k`` is ``r_k - r_bench``, the candidate's daily excess return over the benchmark.

    ``benchmark``: daily simple returns of the benchmark; ``candidates``: sessions x candidates, daily simple
    returns. Only sessions where the benchmark and every candidate have a return are used; candidates with no
    return, or identical to the benchmark up to a constant (zero variance of the difference: the base config
    itself), are left out and listed.
    ``block``: None -> int(sqrt(T)) (arch's default, stated in the result); ``"auto"`` -> the median over candidates
    of Politis and White's (2004) optimal stationary-bootstrap block length of the excess returns
    (:func:`arch.bootstrap.optimal_block_length`); or an int.
    ``studentize``: Hansen's statistic is max_k of t-statistics sqrt(T) mean(d_k) / omega_k. arch 8 records its
    own ``studentize`` flag but compares raw mean differences, so the excess returns are divided here by
    omega_k (:func:`stationary_bootstrap_variance`, the estimator arch uses for its consistent p-value) before they
    go to arch; ``studentize=False`` passes them raw (then a volatile candidate weighs more). arch's statistic is
    max_k of the (scaled) mean differences without Hansen's max(0, .), so when no candidate beats the benchmark on
    average the lower and consistent p-values sit near 0.5 instead of 1; either way nothing is significant.

    Returns ``p_lower``, ``p_consistent`` (Hansen's recommended p-value), ``p_upper`` (recentres every candidate, a
    White-reality-check-like bound), ``better`` (labels of the candidates arch's ``better_models`` finds better
    than the benchmark: equal-or-worse rejected at ``alpha``, consistent critical value), ``best`` (the candidate with the
    largest t-statistic), ``candidates`` (DataFrame: ``mean_excess`` daily, ``mean_excess_ann`` (* 252, arithmetic), ``t_stat``),
    ``t``, ``block``, ``reps``, ``seed``, ``bootstrap``, ``studentize``, ``n_candidates``, drop lists and ``reading``."""
    from arch.bootstrap import SPA

    bench, cand, info = _aligned(benchmark, candidates)
    d_all = cand.to_numpy() - bench.to_numpy()[:, None]
    T = d_all.shape[0]
    if T < 10:
        raise ValueError(f"SPA needs at least 10 common sessions; got {T}")
    keep = np.var(d_all, axis=0) > 1e-14 * (np.mean(d_all * d_all, axis=0) + 1e-300)
    same = list(cand.columns[~keep])
    cand, d = cand.loc[:, keep], d_all[:, keep]
    b = _block_length(block, d) if d.shape[1] else max(1, int(math.sqrt(T)))
    omega = np.sqrt(np.clip(stationary_bootstrap_variance(d, b), 1e-300, None)) if d.shape[1] else np.empty(0)
    labels = list(cand.columns)
    tstat = math.sqrt(T) * d.mean(axis=0) / omega
    table = pd.DataFrame({"mean_excess": d.mean(axis=0), "mean_excess_ann": d.mean(axis=0) * annualization,
                          "t_stat": tstat}, index=cand.columns)
    base = {"t": int(T), "block": int(b), "reps": int(reps), "seed": seed, "bootstrap": bootstrap,
            "studentize": bool(studentize), "alpha": alpha, "n_candidates": len(labels),
            "trials_dropped_same_as_benchmark": same, **info, "candidates": table}
    if not labels:
        return {"p_lower": float("nan"), "p_consistent": float("nan"), "p_upper": float("nan"), "better": [],
                "best": None, **base, "reading": "No candidate differs from the benchmark; nothing to test."}
    scaled = d / omega if studentize else d
    # arch: loss differential = benchmark loss - model loss; benchmark 0 and model -x make it exactly x
    spa = SPA(np.zeros(T), -scaled, block_size=b, reps=int(reps), bootstrap=bootstrap, seed=seed)
    spa.compute()
    p = spa.pvalues
    better = [labels[i] for i in spa.better_models(pvalue=alpha, pvalue_type="consistent")]
    best = labels[int(np.argmax(tstat))]
    out = {"p_lower": float(p["lower"]), "p_consistent": float(p["consistent"]), "p_upper": float(p["upper"]),
           "better": better, "best": best, **base}
    out["reading"] = _spa_reading(out)
    return out


def _spa_reading(d: dict) -> str:
    row = d["candidates"].loc[d["best"]]
    s = (f"Hansen's SPA test of {d['n_candidates']} candidates against the benchmark over {d['t']} sessions "
         f"(stationary bootstrap, mean block {d['block']} sessions, {d['reps']} replications): the strongest candidate "
         f"({d['best']}) earns {row['mean_excess_ann']:+.1%} a year relative to the benchmark (mean daily excess x 252; "
         f"t = {row['t_stat']:.2f}); "
         f"p = {d['p_consistent']:.3f} (lower {d['p_lower']:.3f}, upper {d['p_upper']:.3f}). ")
    if row["mean_excess"] <= 0:
        s += "No candidate earned more than the benchmark on average, so none can be superior."
    elif d["p_consistent"] < d["alpha"]:
        s += (f"At {d['alpha']:.0%} some candidate is genuinely better than the benchmark even after allowing for the "
              f"search; {len(d['better'])} candidate(s) pass individually.")
    else:
        s += (f"Not significant at {d['alpha']:.0%}: the best candidate's edge over the benchmark is what searching "
              f"{d['n_candidates']} candidates would produce by chance.")
    return s


def reality_check(benchmark: pd.Series, candidates: pd.DataFrame, reps: int = 1000, block: int | str | None = None,
                  seed: int = 20240607, *, bootstrap: str = "stationary") -> dict:
    """White's (2000) reality check for data snooping ("A reality check for data snooping", Econometrica 68(5)),
    by :class:`arch.bootstrap.RealityCheck`: the bootstrap p-value of max_k mean(r_k - r_bench), every candidate
    recentred on its sample mean (arch's ``upper`` p-value), not studentized, as in White's paper. Same inputs,
    alignment, block rule and sign convention as :func:`spa_test`. More conservative than SPA when poor
    candidates are included. Returns ``p_value``, ``t``, ``block``, ``reps``, ``seed``, ``n_candidates``."""
    from arch.bootstrap import RealityCheck

    bench, cand, info = _aligned(benchmark, candidates)
    d = cand.to_numpy() - bench.to_numpy()[:, None]
    T = d.shape[0]
    if T < 10 or d.shape[1] == 0:
        raise ValueError(f"the reality check needs >= 10 common sessions and a candidate; got {T} x {d.shape[1]}")
    b = _block_length(block, d)
    rc = RealityCheck(np.zeros(T), -d, block_size=b, reps=int(reps), bootstrap=bootstrap, seed=seed)
    rc.compute()
    return {"p_value": float(rc.pvalues["upper"]), "t": int(T), "block": int(b), "reps": int(reps), "seed": seed,
            "n_candidates": int(d.shape[1]), **info}


# ---------------------------------------------------------------------------------- walk-forward

def _window_metric(X: np.ndarray, metric: Metric) -> np.ndarray:
    if callable(metric):
        return np.asarray(metric(X), dtype=float)
    if metric == "mean":
        return X.mean(axis=0)
    if metric == "total_return":
        return np.expm1(np.log1p(np.clip(X, -1.0, None)).sum(axis=0))
    if metric == "sharpe":
        m = X.mean(axis=0)
        var = X.var(axis=0, ddof=1) if len(X) > 1 else np.full(X.shape[1], np.nan)
        var = np.where(var <= 1e-14 * (X * X).mean(axis=0), 0.0, var)
        return _sharpe_from_moments(len(X), m, var)
    raise ValueError(f"metric must be 'sharpe', 'mean', 'total_return' or a callable, not {metric!r}")


def _sr_ann(r: np.ndarray, annualization: int) -> float:
    if len(r) < 2:
        return float("nan")
    sd = np.std(r, ddof=1)
    return float(r.mean() / sd * math.sqrt(annualization)) if sd > 0 else float("nan")


def walk_forward(returns: pd.DataFrame, metric: Metric = "sharpe", is_sessions: int = 252, oos_sessions: int = 63,
                 *, anchored: bool = False, nan: str = "drop", annualization: int = ANN) -> dict:
    """Walk-forward selection: every ``oos_sessions`` sessions, choose the trial with the best ``metric`` over the
    preceding ``is_sessions`` sessions (the in-sample window; from the first session if ``anchored``) and hold it for
    the next ``oos_sessions`` (the out-of-sample window; the last may be shorter). The chosen trials' OOS returns,
    stitched, are what a researcher re-optimising on a schedule would have earned (Pardo, "The evaluation and
    optimization of trading strategies", 2008; the rolling-origin evaluation of Bailey et al. 2017 section 2).

    No look-ahead: step k's choice uses only rows [s_k - is_sessions, s_k) and holds on [s_k, s_k + oos_sessions),
    s_k = is_sessions + k * oos_sessions (row positions in the common-session frame, see the module docstring for
    ``nan``). Ties go to the first column; a NaN metric never wins. ``metric``: ``"sharpe"`` (per-period ratio for
    the choice; the ``steps`` table shows it annualised), ``"mean"``, ``"total_return"`` or a callable
    ``f(rows x trials ndarray) -> trials ndarray``.

    Returns ``oos_returns`` (Series of daily returns of the held trial, stitched), ``held`` (Series: which trial was
    held each OOS session), ``is_returns`` (Series: each chosen trial's returns over the last
    min(oos_sessions, is_sessions) sessions of its own in-sample window, stitched, a non-overlapping in-sample
    counterpart of ``oos_returns``), ``oos_total_return``, ``oos_sharpe`` (annualised), ``is_total_return``,
    ``is_sharpe`` (annualised), ``average_trial_oos_sharpe`` (annualised Sharpe of the equal-weight mix of all trials
    over the same OOS sessions: the no-selection baseline), ``choices`` (list of (OOS window start label, trial)),
    ``steps`` (DataFrame: ``is_start, is_end, oos_start, oos_end`` labels, inclusive; ``chosen``; ``is_metric``,
    ``oos_metric``), ``n_steps``, ``n_switches``, the ``_panel`` drop report and ``reading``."""
    df, info = _panel(returns, nan=nan)
    if is_sessions < 2 or oos_sessions < 1:
        raise ValueError("is_sessions must be >= 2 and oos_sessions >= 1")
    X = df.to_numpy()
    T = len(X)
    idx, cols = df.index, list(df.columns)
    root = math.sqrt(annualization)
    rows, oos_rows, is_tail, held_k = [], [], [], []
    for s in range(is_sessions, T, oos_sessions):
        lo = 0 if anchored else s - is_sessions
        e = min(s + oos_sessions, T)
        m_is = _window_metric(X[lo:s], metric)
        k = int(np.argmax(np.where(np.isnan(m_is), -np.inf, m_is)))
        m_oos = _window_metric(X[s:e, [k]], metric)[0]
        scale = root if metric == "sharpe" else 1.0
        rows.append({"is_start": idx[lo], "is_end": idx[s - 1], "oos_start": idx[s], "oos_end": idx[e - 1],
                     "chosen": cols[k], "is_metric": float(m_is[k]) * scale, "oos_metric": float(m_oos) * scale})
        oos_rows.append(np.arange(s, e))
        held_k.extend([k] * (e - s))
        tail = min(oos_sessions, is_sessions, s - lo)
        is_tail.append((np.arange(s - tail, s), k))
    steps = pd.DataFrame(rows, columns=["is_start", "is_end", "oos_start", "oos_end", "chosen", "is_metric",
                                        "oos_metric"])
    if not rows:
        out = {"oos_returns": pd.Series(dtype=float), "held": pd.Series(dtype=object),
               "is_returns": pd.Series(dtype=float), "oos_total_return": float("nan"), "oos_sharpe": float("nan"),
               "is_total_return": float("nan"), "is_sharpe": float("nan"), "average_trial_oos_sharpe": float("nan"),
               "choices": [], "steps": steps, "n_steps": 0, "n_switches": 0, **info,
               "metric": metric if isinstance(metric, str) else "callable", "is_sessions": is_sessions,
               "oos_sessions": oos_sessions, "anchored": anchored,
               "reading": f"Walk-forward needs more than {is_sessions} common sessions; there are {T}."}
        return out
    pos = np.concatenate(oos_rows)
    chosen_k = np.asarray(held_k, dtype=int)
    held = [cols[k] for k in held_k]
    oos = pd.Series(X[pos, chosen_k], index=idx[pos], name="walk_forward_oos")
    is_pos = np.concatenate([p for p, _ in is_tail])
    is_k = np.concatenate([np.full(len(p), k) for p, k in is_tail])
    ins = pd.Series(X[is_pos, is_k], index=idx[is_pos], name="walk_forward_is")
    avg = X[pos].mean(axis=1)
    chosen_seq = list(steps["chosen"])
    out = {
        "oos_returns": oos, "held": pd.Series(held, index=idx[pos], name="held"), "is_returns": ins,
        "oos_total_return": float(np.prod(1 + oos.to_numpy()) - 1), "oos_sharpe": _sr_ann(oos.to_numpy(), annualization),
        "is_total_return": float(np.prod(1 + ins.to_numpy()) - 1), "is_sharpe": _sr_ann(ins.to_numpy(), annualization),
        "average_trial_oos_sharpe": _sr_ann(avg, annualization),
        "choices": list(zip(steps["oos_start"], steps["chosen"])), "steps": steps, "n_steps": len(steps),
        "n_switches": int(sum(a != b for a, b in zip(chosen_seq, chosen_seq[1:]))), **info,
        "metric": metric if isinstance(metric, str) else getattr(metric, "__name__", "callable"),
        "is_sessions": is_sessions, "oos_sessions": oos_sessions, "anchored": anchored,
    }
    out["reading"] = _wf_reading(out, df.shape[1])
    return out


def _wf_reading(d: dict, n: int) -> str:
    window = "all sessions so far" if d["anchored"] else f"the previous {d['is_sessions']} sessions"
    s = (f"Walk-forward: every {d['oos_sessions']} sessions the best of {n} trials by {d['metric']} over {window} was "
         f"chosen and held ({d['n_steps']} steps, {d['n_switches']} changes of trial). Out of sample this earned "
         f"{d['oos_total_return']:+.1%} (Sharpe {d['oos_sharpe']:.2f} annualised) against {d['is_total_return']:+.1%} "
         f"(Sharpe {d['is_sharpe']:.2f}) over the same number of in-sample sessions just before each choice; an "
         f"equal-weight mix of all trials had a Sharpe of {d['average_trial_oos_sharpe']:.2f} over the same sessions. ")
    if np.isfinite(d["oos_sharpe"]) and np.isfinite(d["is_sharpe"]) and d["is_sharpe"] > 0:
        kept = d["oos_sharpe"] / d["is_sharpe"]
        s += f"Out of sample kept {kept:.0%} of the in-sample Sharpe ratio."
    return s
