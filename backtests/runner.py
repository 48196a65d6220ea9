"""One run, end to end, as a Python API: ``result = run(config)``.

Steps: resolve the config; load prices (total return), the event calendar
and the signals; select and align events to the run's sessions; resolve
clusters; let the strategy plan its episodes; simulate on Backtrader; build
the frames a run directory holds. Nothing here writes files (see
:mod:`backtests.reports.rundir`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.config import live_start, live_start_problems, load_config, planning_portfolio, resolve
from backtests.inputs import memo_calendar, run_signal_names, select_events, target_signals
from backtests.stats.counts import event_counts
from backtests.engines.backtrader_engine import check_trades_agree, simulate
from backtests.market.marketdata import dates_problems, load_prices, unpriced_problems
from backtests.stats.performance import summary_metrics
from backtests.stats.traded_windows import held_baskets, traded_window_returns
from events.align import align
from events.clusters import apply_policy, find_clusters
from events.errors import InputError, Problem
from backtests.config import strategy_class
from strategies.context import StrategyContext
from strategies.schedule import target_weights


@dataclass
class RunResult:
    """Everything a run produced, as frames (see DESIGN.md for the file contracts)."""

    config: dict
    summary: dict
    returns: pd.DataFrame  # index date; strategy, amzn, peer_basket, benchmark
    trades: pd.DataFrame
    events: pd.DataFrame
    fills: pd.DataFrame
    exposure: pd.DataFrame
    fingerprints: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    context: StrategyContext | None = None
    signals: pd.DataFrame | None = None  # the target's signals as known at each session
    counts: dict = field(default_factory=dict)  # backtests.stats.counts.event_counts
    per_event: pd.DataFrame | None = None  # backtests.stats.traded_windows: entry fill to exit fill, overnight gap apart
    placebo: object | None = None  # backtests.stats.placebo.PlaceboResult (None for benchmarks and runs without trades)
    engine: str = "backtrader"  # the execution engine (ENGINES)
    final_value: float = float("nan")  # the broker's portfolio value at the last close (USD)
    planned: "Planned | None" = field(default=None, repr=False)  # the plan both engines executed (cost_sensitivity re-executes it)
    _cost_curve: pd.DataFrame | None = field(default=None, repr=False)

    def cost_sensitivity(self) -> pd.DataFrame:
        """cost_sensitivity.csv: the run's planned trades executed again on the fast engine at slippage 0, 1, ..., 20
        bps per side (and the configured level), all else as configured
        (:func:`backtests.engines.cost_curve.slippage_curve`). Computed on first use (a sweep never pays for it)."""
        if self._cost_curve is None:
            from backtests.engines.cost_curve import slippage_curve

            if self.planned is None:
                raise ValueError("this run result keeps no plan to execute again")
            self._cost_curve = slippage_curve(*kernel_inputs(self.planned), self.config)
        return self._cost_curve


def _config(config, strategy=None, events=None) -> dict:
    cfg = load_config(config, strategy) if config is None or isinstance(config, (str, Path)) else resolve(config, "<config dict>", strategy)
    return with_events(cfg, events, strategy) if events is not None else cfg


def with_events(cfg: dict, events, strategy=None) -> dict:
    """A copy of the resolved ``cfg`` with event tables built in a script added to ``events.inline`` (CSV text by
    name, so config.yaml keeps them): ``events`` is a DataFrame in the event-file schema (named ``script``) or a
    mapping of names to DataFrames. They are validated when the run loads its calendar, exactly as a file is, and
    their problems name the DataFrame and row."""
    import copy

    from events.loader import frame_to_csv

    frames = events if isinstance(events, dict) else {"script": events}
    out = copy.deepcopy(cfg)
    texts = {name: frame_to_csv(f) for name, f in frames.items()}
    return resolve({**out, "events": {**out["events"], "inline": {**out["events"].get("inline", {}), **texts}}}, "<config dict>", strategy)


_TR_MEMO: dict = {}


def _total_return(p) -> pd.DataFrame:
    """``p.total_return_ohlc()``, memoised per process by the file's sha256 (a sweep plans thousands of runs on
    the same prices); callers slice it and never change it in place."""
    key = (p.ticker, p.sha256)
    if key not in _TR_MEMO:
        _TR_MEMO[key] = p.total_return_ohlc()
    return _TR_MEMO[key]


def signals_by_session(sig: pd.DataFrame, sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """The target's run signals as known at each session, and ``release`` (1 on the reaction session of the
    target's own releases, not of later updates): signals.csv of a run directory."""
    from signals.history import to_sessions

    out = pd.DataFrame({c: to_sessions(sig, c, sessions) for c in run_signal_names() if c in sig})  # shipped, then users' signals
    releases = sig.loc[sig["kind"] == "release", "available"].dropna() if "kind" in sig else sig["available"].dropna()
    out["release"] = sessions.isin(pd.DatetimeIndex(releases)).astype(int)
    out.index.name = "date"
    return out


def basket_returns(returns: pd.DataFrame, peers: list[str]) -> pd.Series:
    """Equal-weight peer basket, rebalanced daily (daily simple returns)."""
    return returns[peers].mean(axis=1)


#: execution engines: Backtrader (the reference) and the compiled array engine (:mod:`backtests.engines.fast_engine`)
ENGINES = ("backtrader", "fast")


@dataclass
class Planned:
    """A run up to its planned episodes: the loaded inputs and the schedule both engines execute
    (:func:`plan_run`). A sweep on the fast engine plans once per distinct plan and executes it under
    many cost settings."""

    cfg: dict
    cls: type
    peers: list
    tickers: list
    prices: object  # backtests.market.prices.PriceSet
    tr: dict  # ticker -> total-return OHLC
    all_sessions: pd.DatetimeIndex
    sessions: pd.DatetimeIndex
    daily: pd.DataFrame  # daily total returns of every loaded ticker
    cal: object
    everything: pd.DataFrame
    why: pd.Series
    selected: pd.Series
    member_of: dict
    resolved: pd.DataFrame  # the event units after the cluster rule
    signals: pd.DataFrame
    fund_prints: dict
    ctx: StrategyContext
    episodes: list
    notes: dict
    plans: pd.DataFrame | None
    traded_tickers: list
    frames: dict  # traded ticker -> total-return OHLC on the run's sessions
    t_load: float
    t_plan: float

    def fingerprints(self) -> dict[str, str]:
        """sha256 of every data file the run read, named as in its manifest (``prices/T.csv``, ``events/...``,
        ``fundamentals/...``)."""
        out = {f"prices/{t}.csv": self.prices[t].sha256 for t in self.tickers}
        out.update({f"events/{Path(k).name}": v for k, v in self.cal.fingerprints.items()})
        out.update(self.fund_prints)
        return out


def kernel_inputs(pl: Planned) -> tuple:
    """What :func:`backtests.engines.fast_engine.run_costs` needs to execute a planned run under many cost settings:
    ``(schedule, price arrays, peer-basket daily returns with the first session's set to 0 as in returns.csv,
    Newey-West lags)``."""
    from backtests.engines.arrays import PriceArrays, holdings_from_episodes
    from backtests.engines.fast_engine import compile_schedule
    from backtests.stats.performance import newey_west_lags

    fill = pl.cfg["portfolio"]["fill"]
    tickers = list(pl.frames)
    prices = PriceArrays.from_frames(pl.frames, pl.sessions, tickers)
    sched = compile_schedule(holdings_from_episodes(pl.episodes, pl.sessions, fill), tickers, prices.n, fill)
    basket = basket_returns(pl.daily, pl.peers).reindex(pl.sessions).to_numpy(dtype=float).copy()
    basket[0] = 0.0
    return sched, prices, basket, newey_west_lags(len(pl.sessions))


def plan_run(cfg: dict, strategy=None) -> Planned:
    """Load a resolved config's inputs and plan its episodes (no execution). ``strategy``: the strategy class a
    script gave (see :func:`run`); None: the registered ``strategy.kind``."""
    t0 = time.perf_counter()
    u, pf, ev_cfg = cfg["universe"], cfg["portfolio"], cfg["events"]
    kind, params = cfg["strategy"]["kind"], cfg["strategy"]["params"]
    cls = strategy_class(kind, strategy=strategy)
    peers = [p for p in u["peers"] if p != u["target"]]
    extra = []
    if kind == "buy_and_hold" and params["asset"] not in ("target", "basket"):
        extra = [params["asset"].upper()]
    tickers = list(dict.fromkeys([u["target"], *peers, u["benchmark"], u["market"], *extra]))
    named = {"universe.target": u["target"], **{f"universe.peers[{i}]": p for i, p in enumerate(u["peers"])},
             "universe.benchmark": u["benchmark"], "universe.market": u["market"], **({"strategy.params.asset": extra[0]} if extra else {})}
    missing = unpriced_problems(named)
    if missing:
        raise InputError(missing)
    prices = load_prices(tickers)
    tr = {t: _total_return(prices[t]) for t in tickers}
    all_sessions = tr[u["target"]].index
    for t in tickers:
        if not tr[t].index.equals(all_sessions):
            raise InputError(Problem(f"{t} prices are not on the same sessions as {u['target']}", path=prices[t].path, field="date", expected="identical session calendars"))
    start = pd.Timestamp(cfg["dates"]["start"])
    end = pd.Timestamp(cfg["dates"]["end"]) if cfg["dates"]["end"] else all_sessions[-1]
    # a run covers the dates its config.yaml says, or it is refused: never silently clipped to the data
    first, last = all_sessions[0], all_sessions[-1]
    problems = dates_problems(start, cfg["dates"]["end"], first, last)  # one rule for runs, studies and sweep specs
    if problems:
        raise InputError(problems)
    sessions = all_sessions[(all_sessions >= start) & (all_sessions <= end)]
    if len(sessions) < 30:
        raise InputError(Problem(f"only {len(sessions)} sessions between {start.date()} and {end.date()}", field="dates", expected="a range of at least 30 sessions inside the price data"))
    ls = live_start(cfg)
    if ls is not None and pd.Timestamp(ls) > sessions[-1]:  # with dates.end null, the run period ends with the data
        raise InputError(live_start_problems(ls, cfg["dates"]["start"], sessions[-1].date().isoformat()))
    closes = pd.DataFrame({t: tr[t]["close"] for t in tickers})
    daily = closes.pct_change()
    t_load = time.perf_counter() - t0

    cal, everything, sel, why = select_events(ev_cfg, all_sessions, sessions)
    aligned = align(sel, sessions, notice_sessions=ev_cfg["notice_sessions"])
    pre, post = cls.cluster_offsets(params)
    # an entry before day 0 is taken before a later unscheduled event is news, yet merging with it (or being dropped for
    # it) would change that entry: the cluster rule would use the future (as 'drop' would for any run). Said after the
    # strategy has planned, so its own, more specific refusals (a pre-event entry on unscheduled news) come first.
    cluster_uses_future = pre < 0 and ev_cfg["clusters"] in ("merge", "first") and len(aligned) and not aligned["scheduled"].astype(bool).all()
    clustered = find_clusters(aligned, pre, post)
    resolved = apply_policy(clustered, ev_cfg["clusters"])
    selected = why == ""  # passed the filters and dates, before the cluster rule
    member_of = {}
    for mid in resolved["event_id"]:
        for part in str(mid).split("+"):
            member_of[part] = mid
    for i, eid in everything["event_id"].items():
        if why[i] == "" and eid not in member_of:
            why[i] = f"removed by cluster policy '{ev_cfg['clusters']}'"

    sig, fund_prints = target_signals(u["target"])
    ctx = StrategyContext(sessions=sessions, events=resolved, returns=daily.loc[sessions], target=u["target"], peers=tuple(peers),
                          portfolio=planning_portfolio(pf), signals=sig, closes=closes.loc[sessions])
    episodes, notes, plans = cls.plan(ctx, params)
    if cluster_uses_future:
        raise InputError(Problem(
            f"cluster rule '{ev_cfg['clusters']}' with entries before day 0 (offset {pre}) and unscheduled events in the selection: "
            "whether an event is merged or dropped would depend on news that comes after its entry", field="events.clusters",
            expected="clusters: keep, or a selection of scheduled events only (e.g. categories: [earnings])"))
    traded_tickers = list(dict.fromkeys([u["target"], *peers, *[t for e in episodes for t in e.weights]]))
    missing = [t for t in traded_tickers if t not in tr]
    if missing:
        raise InputError(Problem(f"no prices loaded for {', '.join(missing)}", field="strategy.params.asset"))

    frames = {t: tr[t].loc[sessions] for t in traded_tickers}
    return Planned(cfg, cls, peers, tickers, prices, tr, all_sessions, sessions, daily, cal, everything, why, selected, member_of, resolved, sig,
                   fund_prints, ctx, episodes, notes, plans, traded_tickers, frames, t_load, time.perf_counter() - t0 - t_load)


def run(config=None, *, feed: str = "array", engine: str = "backtrader", strategy=None, events=None) -> RunResult:
    """Run a config (path, dict or None for the bundled default) and return the frames.

    ``engine``: ``backtrader`` (the reference) or ``fast``; both execute the same planned episodes and give
    the same summary to the tolerance of :mod:`backtests.engines.fast_engine`.
    ``strategy``: a strategy class (:mod:`strategies.api`), registered or not: it replaces the config's
    ``strategy.kind`` (which becomes the class's name), and the config's ``strategy.params`` are checked against it.
    ``events``: event tables built in the script (a DataFrame, or names to DataFrames; see :func:`with_events`)."""
    t0 = time.perf_counter()
    if engine not in ENGINES:
        raise InputError(Problem(f"unknown engine {engine!r}", field="--engine", expected="one of " + ", ".join(ENGINES)))
    cfg = _config(config, strategy, events)
    pl = plan_run(cfg, strategy)
    u, pf, costs = cfg["universe"], cfg["portfolio"], cfg["costs"]
    kind, cls, peers, prices, tr = cfg["strategy"]["kind"], pl.cls, pl.peers, pl.prices, pl.tr
    sessions, all_sessions, daily, episodes, plans, frames = pl.sessions, pl.all_sessions, pl.daily, pl.episodes, pl.plans, pl.frames
    everything, why, ctx = pl.everything, pl.why, pl.ctx
    t_load = t0 + pl.t_load
    t_plan = t_load + pl.t_plan
    if engine == "fast":
        from backtests.engines.fast_engine import simulate_fast

        sim = simulate_fast(episodes, frames, sessions, cash=pf["cash"], commission_bps=costs["commission_bps"], slippage_bps=costs["slippage_bps"],
                            borrow_bps=costs["borrow_bps"], fill=pf["fill"], fractional=pf["fractional"], cash_buffer=pf["cash_buffer"])
    else:
        targets = target_weights(episodes, sessions, pl.traded_tickers, pf["cash_buffer"])
        sim = simulate(cls, targets, frames, cash=pf["cash"], commission_bps=costs["commission_bps"], slippage_bps=costs["slippage_bps"],
                       borrow_bps=costs["borrow_bps"], fill=pf["fill"], fractional=pf["fractional"], feed=feed)
    t_sim = time.perf_counter()

    returns = pd.DataFrame(
        {
            "strategy": sim.returns.reindex(sessions).fillna(0.0),
            "amzn": daily[u["target"]].reindex(sessions),
            "peer_basket": basket_returns(daily, peers).reindex(sessions),
            "benchmark": daily[u["benchmark"]].reindex(sessions),
        }
    )
    returns.iloc[0, 1:] = 0.0  # the first session has no previous close inside the run
    returns.index.name = "date"
    trades = trades_table(episodes, sim, tr, sessions, pf["fill"], u["target"], peers)
    if engine == "backtrader":
        check_trades_agree(trades, sim.fills, sim.trade_analysis)
    events_out = events_table(everything, why, pl.selected, pl.member_of, pl.notes, plans, episodes)
    exposure = sim.exposure.reindex(sessions).fillna({"exposure": 0.0, "net": 0.0, "episode": 0, "net_held": 0.0})
    exposure["episode"] = exposure["episode"].astype(int)
    exposure.index.name = "date"
    exposure = exposure.join(book_exposure(sim.fills, frames, returns["strategy"], float(pf["cash"]), daily, peers))
    traded_ids = {eid for e in episodes for eid in e.event_ids}
    counts = event_counts(events_out, pl.resolved, plans, traded_ids, trades)
    per_event = traded_window_returns(plans, tr, sessions, pf["fill"], u["target"], peers, traded_ids, held_baskets(episodes))
    summary = summary_metrics(returns, trades, exposure, counts)
    summary.update({f"n_events_{k}": float(counts[k]) for k in ("calendar", "selected", "tradable", "traded")})
    placebo = None
    summary["placebo_p"], summary["placebo_n"] = float("nan"), 0.0
    if cfg["placebo"]["enabled"] and kind != "buy_and_hold" and episodes:
        placebo = placebo_for_run(cfg, episodes, plans, everything, frames, sessions, all_sessions, summary["total_return"], ctx.returns)
        summary.update({k: float(v) for k, v in placebo.summary().items()})
    prints = pl.fingerprints()
    t_end = time.perf_counter()
    timings = {"load": t_load - t0, "plan": t_plan - t_load, "simulate": t_sim - t_plan, "results": t_end - t_sim, "bars": len(sessions) * len(frames)}
    return RunResult(cfg, summary, returns, trades, events_out, sim.fills, exposure, prints, [*prices.warnings, *pl.cal.notes], timings, ctx, signals_by_session(pl.signals, sessions), counts, per_event,
                     placebo, engine, float(sim.final_value), pl)


def book_exposure(fills: pd.DataFrame, frames: dict, strategy_returns: pd.Series, cash: float, daily: pd.DataFrame, peers: list[str]) -> pd.DataFrame:
    """exposure.csv's ``long``, ``short`` and ``beta_net`` columns (:mod:`backtests.stats.book`): the book rebuilt from
    the fills, weighted by the total-return closes of ``frames`` over the portfolio value (``cash`` compounded by the
    daily strategy returns), betas to the equal-weight ``peers`` basket from ``daily`` (every session of the data)."""
    from backtests.stats.book import book_weights, exposure_legs, trailing_betas

    sessions = strategy_returns.index
    closes = pd.DataFrame({t: f["close"] for t, f in frames.items()}).reindex(sessions)
    value = cash * (1.0 + strategy_returns).cumprod()
    weights = book_weights(fills, closes, value)
    betas = trailing_betas(daily, list(frames), peers).reindex(sessions)
    return exposure_legs(weights, betas)


def placebo_for_run(cfg, episodes, plans, calendar, frames, sessions, all_sessions, actual_total, returns):
    """The placebo null of a run (:mod:`backtests.stats.placebo`): the run's holdings
    placed ``placebo.n`` times at seeded random sessions away from events, and
    executed with the run's costs by the array executor that reproduces the
    Backtrader run.

    "Away from events": no placebo holding touches a session within
    ``[day0 - before, day0 + after]`` of any event that concerns the target or
    a peer (in ``tickers`` or the announcing company), taken from the bundled
    AI-infrastructure calendar, every bundled earnings release (the peers'
    included) and the run's own event files, whatever the config's filters;
    ``before`` is the earliest entry offset used (0 for entries at or after
    day 0) and ``after`` the latest exit offset of the run's plans (0 when it
    is negative; one offset for every plan of the shipped strategies). With ``hedge: beta`` each placebo holding's beta is
    estimated like the strategy's: on the ``beta_window`` sessions up to the
    one before its own (placebo) entry fill.
    """
    from backtests.engines.arrays import ExecConfig, PriceArrays, holdings_from_episodes
    from backtests.stats.placebo import near_event_mask, placebo_test

    u, pf = cfg["universe"], cfg["portfolio"]
    target, peers = u["target"], [p for p in u["peers"] if p != u["target"]]
    names = {target, *peers}
    bundled = memo_calendar(bundled=True, earnings=True).frame
    cal = pd.concat([calendar, bundled], ignore_index=True).drop_duplicates("event_id")
    concerns = cal["tickers"].map(lambda ts: bool(names & set(ts))).astype(bool) | cal["company"].astype(str).str.split("+").map(lambda cs: bool(names & set(cs)))
    day0 = pd.DatetimeIndex(cal.loc[concerns, "day0"].drop_duplicates())
    # position of each day 0 on the run's axis: negative before the run's first session, past its end after it
    pos = all_sessions.searchsorted(day0) - all_sessions.get_loc(sessions[0])
    tradable = plans[plans["entry"].notna()] if plans is not None and len(plans) else None
    before = max(0, -int(tradable["entry_offset_used"].min())) if tradable is not None and len(tradable) else 0
    after = 0
    if tradable is not None and len(tradable):  # the latest exit offset of a plan (a strategy's decisions may differ by event)
        after = max(0, int((sessions.get_indexer(pd.DatetimeIndex(tradable["exit"])) - tradable["day0_pos"].to_numpy()).max()))
    mask = near_event_mask(len(sessions), pos, before=before, after=after)
    tickers = list(frames)
    prices = PriceArrays.from_frames(frames, sessions, tickers)
    holdings = holdings_from_episodes(episodes, sessions, pf["fill"])
    reweigh = _beta_reweigh(returns, target, tickers, pf) if pf["hedge"] == "beta" else None
    pc = cfg["placebo"]
    res = placebo_test(holdings, prices, ExecConfig.from_config(cfg), mask, n=pc["n"], seed=pc["seed"], actual_total=actual_total, reweigh=reweigh)
    res.settings.update({"before": before, "after": after, "events_avoided": int(len(day0)),
                         "avoided": f"every bundled or loaded event concerning {'/'.join(sorted(names))}, earnings releases included"})
    return res


def _beta_reweigh(returns: pd.DataFrame, target: str, tickers: list[str], pf: dict):
    """``reweigh`` for :func:`backtests.stats.placebo.placebo_test` under ``hedge: beta``:
    each placed holding keeps its side, basket and gross (the configured gross times its decision's size), and gets
    the leg weights of :func:`strategies.hedge.leg_weights` with the trailing beta of
    :func:`strategies.hedge.trailing_beta` ending the session before its entry."""
    from strategies.hedge import BETA_BOUNDS, leg_weights

    window = pf["beta_window"]
    k_t = tickers.index(target)
    cache: dict = {}

    def beta_series(basket: tuple) -> np.ndarray:
        if basket not in cache:
            y, x = returns[target], returns[list(basket)].mean(axis=1)
            ok = y.notna() & x.notna()
            y, x = y.where(ok), x.where(ok)
            minp = max(window // 2, 10)
            b = (x.rolling(window, min_periods=minp).cov(y) / x.rolling(window, min_periods=minp).var()).clip(*BETA_BOUNDS)
            cache[basket] = b.to_numpy()
        return cache[basket]

    def reweigh(entry: np.ndarray, weights: np.ndarray) -> np.ndarray:
        out = weights.copy()
        R, H, K = weights.shape
        for r in range(R):
            for h in range(H):
                w = weights[r, h]
                side = int(np.sign(w[k_t]))
                if side == 0:
                    continue
                basket = tuple(tickers[k] for k in range(K) if w[k] * side < 0)
                if not basket:
                    continue
                e = int(entry[r, h])
                beta = beta_series(basket)[e - 1] if e >= 1 else np.nan
                gross = pf["gross"]
                held = float(np.abs(w).sum())  # a decision's size scales the gross (strategies.api.Decision.size)
                if gross and abs(held / gross - 1.0) > 1e-9:
                    gross = held
                new = leg_weights(side, target, list(basket), gross, pf["long_share"], "beta", beta)
                out[r, h] = [new.get(t, 0.0) for t in tickers]
        return out

    return reweigh


def trades_table(episodes, sim, tr, sessions, fill, target, peers) -> pd.DataFrame:
    """One row per episode (a round trip of all legs), with P&L and its costs, USD.

    ``entry`` is the session of the episode's first fill (a plan on the first
    session of a run with open fills is filled at the next open, and reported
    there). ``held`` lists the legs on the episode's side (the target for the
    event strategies; QQQ for a QQQ buy-and-hold); ``basket`` is the hedge
    basket at the entry fill (the legs on the other side; empty for a
    long-only benchmark); ``rebalances`` lists later fills that changed the
    book and why. ``amzn_return`` (the target's; NaN when the target is not
    held), ``basket_return`` (NaN without a hedge) and ``excess_return`` (their
    difference) run from the entry fill to the exit fill at the fill prices'
    reference (open, or close with close fills; the last close for a position
    still open), the basket return chained over the baskets actually held
    between rebalances. ``gross_notional``: the book's gross value at the entry
    fills (USD); ``traded_notional``: the sum of ``|shares x fill price|`` over
    every fill of the episode, both sides, entry, rebalances and exit (USD; what
    commission and slippage are charged on).
    """
    cols = ["episode", "event_ids", "side", "entry", "exit", "sessions_held", "held", "basket", "rebalances", "gross_notional", "traded_notional", "pnl_gross", "commission",
            "slippage", "borrow", "pnl_net", "return_on_gross", "amzn_return", "basket_return", "excess_return"]
    rows = []
    price_col = "open" if fill == "open" else "close"
    last = sessions[-1]
    for e in episodes:
        f = sim.fills[sim.fills["episode"] == e.episode]
        if f.empty:
            continue
        cash_flow = -(f["size"] * f["price"]).sum()
        held = f.groupby("ticker")["size"].sum()
        mark = sum(sz * tr[t].at[last, "close"] for t, sz in held.items() if abs(sz) > 1e-12)
        pnl_gross = float(cash_flow + mark)
        ref = pd.Series([tr[t].at[d, price_col] for t, d in zip(f["ticker"], f["date"])], index=f.index)
        slippage = float((f["size"].abs() * (f["price"] - ref).abs()).sum())
        comm = float(f["commission"].sum())
        borrow = float(sim.borrow.loc[sim.borrow["episode"] == e.episode, "cost"].sum()) if len(sim.borrow) else 0.0
        entry = f["date"].min()
        entry_fills = f[f["date"] == entry]
        notional = float(entry_fills["value"].abs().sum())
        exit_s = e.exit if e.exit is not None else last

        def px(t, d, start=False):
            return tr[t].at[d, "close" if (d == last and e.exit is None and not start) else price_col]

        amzn_r = px(target, exit_s) / px(target, entry, True) - 1 if target in e.weights else np.nan
        segs = [(max(when, entry), w) for when, w in e.segments()]
        bounds = [d for d, _ in segs[1:]] + [exit_s]
        basket_growth = 1.0
        for (start, w), end in zip(segs, bounds):
            b = e.hedge_legs(w)
            basket_growth *= 1 + float(np.mean([px(p, end) / px(p, start, True) - 1 for p in b])) if b else np.nan
        held, basket = e.held_legs(e.weights), e.hedge_legs(e.weights)
        basket_r = basket_growth - 1
        pnl_net = pnl_gross - comm - borrow
        rows.append([e.episode, "+".join(e.event_ids) if e.event_ids else "", e.side, entry.date().isoformat(), exit_s.date().isoformat(),
                     int(sessions.get_loc(exit_s) - sessions.get_loc(entry)), ";".join(held), ";".join(basket), "; ".join(why for _, _, why in e.rebalances),
                     notional, float(f["value"].abs().sum()), pnl_gross, comm, slippage, borrow, pnl_net,
                     pnl_net / notional if notional else np.nan, amzn_r, basket_r, amzn_r - basket_r])
    return pd.DataFrame(rows, columns=cols)


def events_table(everything, why, selected, member_of, notes, plans, episodes) -> pd.DataFrame:
    """Every event of the calendar: its sessions and whether it was traded, or why not.

    ``selected``: passed the config's filters and dates; ``unit``: the event
    unit it belongs to after the cluster rule (a ``+``-joined id for merged
    same-session events; empty when not selected or removed by the rule).
    ``entry_session``/``exit_session`` are the unit's *own* planned fills
    (an event that extended an open episode shows its own, not the episode's).
    """
    planned = plans.set_index("event_id") if plans is not None and len(plans) else None
    traded_ids = {eid for e in episodes for eid in e.event_ids}
    rows = []
    for i, ev in everything.iterrows():
        eid = ev["event_id"]
        mid = member_of.get(eid)
        reason = why[i]
        entry = exit_ = ""
        traded = False
        if not reason and mid is not None:
            note = notes.get(mid, "not traded: no plan")
            reason = note if mid == eid else f"as part of {mid}: {note}"
            traded = mid in traded_ids
            if planned is not None and mid in planned.index and pd.notna(planned.at[mid, "entry"]):
                entry = planned.at[mid, "entry"].date().isoformat()
                exit_ = planned.at[mid, "exit"].date().isoformat()
        rows.append({
            "event_id": eid, "date": ev["date"].date().isoformat(), "time": ev["time"], "scheduled": bool(ev["scheduled"]),
            "category": ev["category"], "company": ev["company"], "headline": ev["headline"], "reaction_session": ev["day0"].date().isoformat(),
            "selected": bool(selected[i]), "unit": mid if (not why[i] and mid is not None) else "",
            "entry_session": entry, "exit_session": exit_, "traded": traded, "reason": reason,
        })
    cols = ["event_id", "date", "time", "scheduled", "category", "company", "headline", "reaction_session", "selected", "unit", "entry_session",
            "exit_session", "traded", "reason"]
    return pd.DataFrame(rows, columns=cols)
