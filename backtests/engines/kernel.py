"""The fast engine's compiled core: one schedule of holdings, executed session by session, for many cost settings at once.

This is the arithmetic of :class:`strategies.base.ScheduleStrategy` on Backtrader's broker (the reference),
written as a plain loop that Numba compiles (``cache=True``: a second process loads the machine code from
Numba's cache instead of compiling again). :mod:`backtests.engines.fast_engine` prepares the inputs and
turns the outputs into the frames a run reports; :mod:`backtests.engines.arrays` documents the conventions
in full. In short, for a fill whose first marking close is ``s`` (``s = f`` with open fills at session
``f``; ``s = f + 1`` with close fills, Backtrader's cheat-on-close executing on the next bar):

* the decision close is ``s - 1``: sizes are ``weight * V[s-1] / close[s-1]`` shares (truncated toward 0
  when not fractional), ``V[s-1]`` the value at that close;
* the fill price is ``open[s]`` (open fills) or ``close[s-1]`` (close fills), times ``1 + slip`` for a buy and
  ``1 - slip`` for a sell, in full; commission ``comm * |size| * price`` per order;
* borrow: at the start of session ``t`` the charge of close ``t-1`` on the book held then,
  ``rate * nights[t-1] * sum(short value at close t-1)``, leaves cash (Backtrader's ``add_cash`` shows at the
  next bar); ``rate`` is ``borrow_bps / 1e4 / 365`` per calendar night;
* a new episode (or a flat exit) closes every leg, then opens the new legs: two orders on a ticker kept; a
  rebalance (``continues``) trades only the legs whose weight changes, to their target sized as at an entry;
* ``V[t] = cash + sum(shares * close[t])`` and the daily return ``V[t] / V[t-1] - 1`` with ``V[-1]`` the cash.

Units: prices USD per share (total-return OHLC), values USD, rates fractions (not bps) per order or per
calendar night, returns fractions.

The metrics of :func:`metrics_row` are those of :func:`backtests.stats.performance.summary_metrics`, in the
order of :data:`METRICS`; the fast-engine parity tests hold them to that function.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

#: the per-row metrics of :func:`run_batch`, in column order (summary.json names)
METRICS = ("total_return", "cagr", "ann_vol", "sharpe", "sortino", "max_drawdown", "calmar", "excess_total_return",
           "information_ratio", "alpha_ann", "beta", "alpha_tstat_hac", "n_trades", "hit_rate", "exposure")
ANN = 252.0
#: a session counts as exposed when its gross book is more than this fraction of the portfolio value
EXPOSED = 1e-9


@njit(cache=True)
def simulate_row(ev_s, ev_h, ev_entry, weights, continues, ep_of, n_episodes, price, close, nights, is_open,
                 cash0, comm, slip, rate, fractional, cash_buffer, record,
                 ret, value, net_held, gross_x, net_x, pnl, traded, borrow_cost, borrow_ep,
                 f_sess, f_note, f_tick, f_size, f_price, f_comm, f_ep, fail):
    """Execute one schedule with one cost setting; fills the output arrays and returns the number of fills.

    Events (in time order) ``ev_s`` (first marking close), ``ev_h`` (holding), ``ev_entry`` (1 entry,
    0 exit); holdings ``weights`` (H, K) signed fractions before ``cash_buffer``, ``continues`` (H,),
    ``ep_of`` (H,) episode number (1..n_episodes). ``price`` (N, K) the fill reference per *marking*
    session (open[s], or close[s-1] for close fills), ``close`` (N, K), ``nights`` (N,).

    Outputs (N,): ``ret`` daily returns, ``value`` the portfolio value at each close (USD), ``net_held`` net weight held into each session (at the previous
    close over its value), ``gross_x``/``net_x`` the exposure rows Backtrader's strategy records
    (gross and net book after the session's fills over that session's value); (E+1,): ``pnl``
    net P&L per episode (USD; index 0 = flat), ``traded`` whether it had a fill. With ``record`` also the
    borrow charges by session (``borrow_cost``, ``borrow_ep``) and the fills (``f_*``).

    Cash: an order that opens or adds to a position and leaves the cash below zero is refused, as Backtrader's
    broker refuses it (order status ``Margin``); the run stops there: ``fail`` gets the fill session and the
    ticker's column and the function returns -1.
    """
    N, K = close.shape
    n_ev = ev_s.shape[0]
    q = np.zeros(K)
    wprev = np.zeros(K)
    target = np.zeros(K)
    cash = cash0
    v_prev = cash0
    ep_cur = 0
    e = 0
    nf = 0
    for i in range(n_episodes + 1):
        pnl[i] = 0.0
        traded[i] = False
    for t in range(N):
        if t > 0 and rate > 0.0:
            short = 0.0
            for k in range(K):
                if q[k] < 0.0:
                    short -= q[k] * close[t - 1, k]
            if short > 0.0:
                c = short * rate * nights[t - 1]
                cash -= c
                pnl[ep_cur] -= c
                if record:
                    borrow_cost[t] = c
                    borrow_ep[t] = ep_cur
        while e < n_ev and ev_s[e] == t:
            h = ev_h[e]
            d = t - 1
            vd = v_prev
            rebalance = ev_entry[e] == 1 and continues[h]
            new_ep = ep_of[h] if ev_entry[e] == 1 else 0
            longs = 0.0
            for k in range(K):
                target[k] = weights[h, k] if ev_entry[e] == 1 else 0.0
                if target[k] > 0.0:
                    longs += target[k]
            if longs > 1.0 - cash_buffer:
                scale = (1.0 - cash_buffer) / longs
                for k in range(K):
                    if target[k] > 0.0:
                        target[k] *= scale
            for phase in range(2):  # reset: 0 closes every leg, 1 opens; rebalance: phase 0 only
                if rebalance and phase == 1:
                    break
                for k in range(K):
                    if rebalance:
                        if target[k] == wprev[k]:
                            continue
                        if target[k] != 0.0:
                            size = target[k] * vd / close[d, k]
                            if not fractional:
                                size = np.trunc(size)
                            z = size - q[k]
                        else:
                            z = -q[k]
                        owner = ep_cur
                    elif phase == 0:
                        z = -q[k]
                        owner = ep_cur
                    else:
                        if target[k] == 0.0:
                            continue
                        z = target[k] * vd / close[d, k]
                        if not fractional:
                            z = np.trunc(z)
                        owner = new_ep
                    if z == 0.0:
                        continue
                    p = price[t, k] * (1.0 + slip) if z > 0.0 else price[t, k] * (1.0 - slip)
                    cm = abs(z) * p * comm
                    cash -= z * p + cm
                    # an order that opens, adds to or reverses a position is checked; one that only reduces it is not
                    if cash < 0.0 and (q[k] == 0.0 or (q[k] > 0.0) == (z > 0.0) or abs(z) > abs(q[k])):
                        fail[0] = t if is_open else t - 1
                        fail[1] = k
                        return -1
                    pnl[owner] -= z * p + cm
                    traded[owner] = True
                    q[k] += z
                    if record:
                        f_sess[nf] = t if is_open else t - 1
                        f_note[nf] = t
                        f_tick[nf] = k
                        f_size[nf] = z
                        f_price[nf] = p
                        f_comm[nf] = cm
                        f_ep[nf] = owner
                    nf += 1
            if not rebalance:
                ep_cur = new_ep
            for k in range(K):
                wprev[k] = target[k]
            e += 1
        v = cash
        held = 0.0
        for k in range(K):
            v += q[k] * close[t, k]
            if t > 0:
                held += q[k] * close[t - 1, k]
        ret[t] = v / v_prev - 1.0
        value[t] = v
        net_held[t] = held / v_prev if t > 0 else 0.0
        # exposure rows as the strategy records them: with open fills the book after today's fills at today's
        # close; with close fills the book after *yesterday's* close fills (executed today) at yesterday's close
        if is_open or t > 0:
            g = 0.0
            n = 0.0
            for k in range(K):
                x = q[k] * (close[t, k] if is_open else close[t - 1, k])
                g += abs(x)
                n += x
            s = t if is_open else t - 1
            den = v if is_open else v_prev
            gross_x[s] = g / den
            net_x[s] = n / den
        v_prev = v
    if not is_open:
        g = 0.0
        n = 0.0
        for k in range(K):
            x = q[k] * close[N - 1, k]
            g += abs(x)
            n += x
        gross_x[N - 1] = g / v_prev
        net_x[N - 1] = n / v_prev
    mark = 0.0
    for k in range(K):
        mark += q[k] * close[N - 1, k]
    pnl[ep_cur] += mark
    return nf


@njit(cache=True)
def metrics_row(r, net_held, gross_x, pnl, traded, basket, lags, out):
    """The summary metrics (:data:`METRICS` order) of one run's daily returns ``r``, written into ``out``.

    Definitions as :mod:`backtests.stats.performance` (empyrical's): 252 sessions a year, risk-free 0,
    sample standard deviations (ddof 1); excess ``r - net_held * basket``; alpha and beta by OLS of ``r`` on
    ``basket`` with Newey-West errors (Bartlett weights, ``lags`` lags, small-sample factor n / (n - 2)),
    as statsmodels' ``cov_type='HAC', use_correction=True``.
    """
    n = r.shape[0]
    nan = np.nan
    wealth = 1.0
    peak = 1.0
    mdd = 0.0
    s1 = 0.0
    dd2 = 0.0
    ex_w = 1.0
    se = 0.0
    for t in range(n):
        wealth *= 1.0 + r[t]
        if wealth > peak:
            peak = wealth
        dd = wealth / peak - 1.0
        if dd < mdd:
            mdd = dd
        s1 += r[t]
        if r[t] < 0.0:
            dd2 += r[t] * r[t]
        x = r[t] - net_held[t] * basket[t]
        ex_w *= 1.0 + x
        se += x
    mean = s1 / n
    var = 0.0
    mean_e = se / n
    var_e = 0.0
    for t in range(n):
        var += (r[t] - mean) ** 2
        x = r[t] - net_held[t] * basket[t] - mean_e
        var_e += x * x
    sd = math.sqrt(var / (n - 1)) if n > 1 else nan
    sd_e = math.sqrt(var_e / (n - 1)) if n > 1 else nan
    total = wealth - 1.0
    cagr = wealth ** (ANN / n) - 1.0 if wealth > 0.0 else -1.0
    out[0] = total
    out[1] = cagr
    out[2] = sd * math.sqrt(ANN)
    out[3] = mean / sd * math.sqrt(ANN) if sd > 0.0 else nan
    down = math.sqrt(dd2 / n) * math.sqrt(ANN)
    out[4] = mean * ANN / down if down > 0.0 else nan
    out[5] = mdd
    out[6] = cagr / abs(mdd) if mdd < 0.0 else nan
    out[7] = ex_w - 1.0
    out[8] = mean_e / sd_e * math.sqrt(ANN) if sd_e > 0.0 else nan
    # OLS r = a + b f with HAC errors
    sf = 0.0
    for t in range(n):
        sf += basket[t]
    mf = sf / n
    sxx = 0.0
    sxy = 0.0
    sff = 0.0
    for t in range(n):
        sxx += (basket[t] - mf) ** 2
        sxy += (basket[t] - mf) * (r[t] - mean)
        sff += basket[t] * basket[t]
    if n < 10 or sxx == 0.0 or var == 0.0:
        out[9] = nan
        out[10] = nan
        out[11] = nan
    else:
        b = sxy / sxx
        a = mean - b * mf
        det = n * sxx  # det(X'X) = n sum (f - mean f)^2
        h = np.empty(n)
        for t in range(n):
            u = r[t] - a - b * basket[t]
            h[t] = (sff - sf * basket[t]) / det * u  # first row of (X'X)^-1 times x_t, times the residual
        s = 0.0
        for t in range(n):
            s += h[t] * h[t]
        for lag in range(1, lags + 1):
            w = 1.0 - lag / (lags + 1.0)
            c = 0.0
            for t in range(lag, n):
                c += h[t] * h[t - lag]
            s += 2.0 * w * c
        var_a = s * n / (n - 2.0)
        out[9] = (1.0 + a) ** ANN - 1.0
        out[10] = b
        out[11] = a / math.sqrt(var_a) if var_a > 0.0 else nan
    n_tr = 0
    wins = 0
    for i in range(1, pnl.shape[0]):
        if traded[i]:
            n_tr += 1
            if pnl[i] > 0.0:
                wins += 1
    # a fill at the flat index 0 is impossible: closing orders belong to the episode they close
    out[12] = n_tr
    out[13] = wins / n_tr if n_tr > 0 else nan
    exposed = 0
    for t in range(n):
        if gross_x[t] > EXPOSED:
            exposed += 1
    out[14] = exposed / n


@njit(cache=True, parallel=True)
def run_batch(ev_s, ev_h, ev_entry, weights, continues, ep_of, n_episodes, price, close, nights, is_open, basket, lags,
              cash0, comm, slip, rate, fractional, cash_buffer, keep_returns, out_metrics, out_returns, out_fail):
    """One schedule (see :func:`simulate_row`) under R cost settings (arrays of shape (R,)), rows in parallel.

    Writes the :data:`METRICS` of row ``r`` into ``out_metrics[r]`` and, when ``keep_returns``, its daily
    returns into ``out_returns[r]`` (shape (R, N); else any (1, N) array). A row whose orders the cash could not
    pay for gets the fill session and ticker column in ``out_fail[r]`` (else -1, -1) and NaN metrics."""
    N = close.shape[0]
    R = cash0.shape[0]
    dummy_i = np.zeros(1, dtype=np.int64)
    dummy_f = np.zeros(1)
    for j in prange(R):
        ret = np.empty(N)
        val = np.empty(N)
        nh = np.empty(N)
        gx = np.zeros(N)
        nx = np.zeros(N)
        pnl = np.empty(n_episodes + 1)
        traded = np.zeros(n_episodes + 1, dtype=np.bool_)
        fail = np.full(2, -1, dtype=np.int64)
        nf = simulate_row(ev_s, ev_h, ev_entry, weights, continues, ep_of, n_episodes, price, close, nights, is_open,
                          cash0[j], comm[j], slip[j], rate[j], fractional[j], cash_buffer[j], False,
                          ret, val, nh, gx, nx, pnl, traded, dummy_f, dummy_i,
                          dummy_i, dummy_i, dummy_i, dummy_f, dummy_f, dummy_f, dummy_i, fail)
        out_fail[j, 0] = fail[0]
        out_fail[j, 1] = fail[1]
        if nf < 0:
            for m in range(out_metrics.shape[1]):
                out_metrics[j, m] = np.nan
        else:
            metrics_row(ret, nh, gx, pnl, traded, basket, lags, out_metrics[j])
        if keep_returns:
            for t in range(N):
                out_returns[j, t] = ret[t]
