"""Benchmark: the whole main job (`aibt run`) against a plain Backtrader script of the same strategy.

    python -m backtests.bench_run [--repeat 3]

The plain script (:data:`PLAIN_SCRIPT`, written to a temporary folder and run as its own process) is what a user
would write by hand with pandas and Backtrader: read the five price files, adjust them for dividends, feed them
to Cerebro, and hold the default run's episodes (their entry and exit sessions and leg weights, handed over as
JSON) with the same commission and slippage; it prints the final value. `aibt run` does that and everything else:
validates the event calendar and the fundamentals, plans point in time, runs the placebo (1,000 runs), the event
study (1,116 tests) and writes the run directory with its tear sheet. Both are timed from process start to exit
(median of ``--repeat``), after one untimed run of each (warm file cache, compiled bytecode). A benchmark, not a
test: it asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PLAIN_SCRIPT = '''
import json, sys
import pandas as pd
import backtrader as bt

spec = json.load(open(sys.argv[1]))


class Episodes(bt.Strategy):
    """At each close, set the weights planned for the next session's open."""

    def __init__(self):
        self.sessions = [pd.Timestamp(s) for s in spec["sessions"]]
        self.target = {}
        for ep in spec["episodes"]:
            self.target[pd.Timestamp(ep["entry"])] = ep["weights"]
            if ep["exit"]:
                self.target.setdefault(pd.Timestamp(ep["exit"]), {})

    def next(self):
        i = len(self) - 1
        if i + 1 >= len(self.sessions) or self.sessions[i + 1] not in self.target:
            return
        value = self.broker.getvalue()
        want = self.target[self.sessions[i + 1]]
        for d in self.datas:
            size = self.getposition(d).size
            if size:
                self.close(data=d)
            w = want.get(d._name, 0.0)
            if w:
                self.buy(data=d, size=w * value / d.close[0]) if w > 0 else self.sell(data=d, size=-w * value / d.close[0])


cerebro = bt.Cerebro(stdstats=False)
for ticker, path in spec["files"].items():
    df = pd.read_csv(path, parse_dates=["date"], index_col="date")
    factor = df["adj_close"] / df["close"]
    for c in ("open", "high", "low", "close"):
        df[c] = df[c] * factor
    df = df.loc[spec["start"]:]
    cerebro.adddata(bt.feeds.PandasData(dataname=df, openinterest=None), name=ticker)
cerebro.broker.setcash(spec["cash"])
cerebro.broker.set_shortcash(True)
cerebro.broker.set_checksubmit(False)
cerebro.broker.setcommission(commission=spec["commission"])
cerebro.broker.set_slippage_perc(spec["slippage"], slip_open=True, slip_out=True)
cerebro.addstrategy(Episodes)
cerebro.addanalyzer(bt.analyzers.TimeReturn, _name="returns")
strategy = cerebro.run()[0]
print(f"final value {cerebro.broker.getvalue():,.2f}")
'''


def plain_inputs(folder: Path) -> Path:
    """The default run's episodes, sessions and price files as JSON for the plain script."""
    from backtests.config import load_config
    from backtests.market.marketdata import load_prices
    from backtests.runner import plan_run

    cfg = load_config(None)
    pl = plan_run(cfg)
    prices = load_prices(list(pl.frames))
    spec = {"start": str(pl.sessions[0].date()), "sessions": [str(s.date()) for s in pl.sessions],
            "files": {t: str(prices[t].path) for t in pl.frames},
            "episodes": [{"entry": str(e.entry.date()), "exit": str(e.exit.date()) if e.exit is not None else None, "weights": e.weights}
                         for e in pl.episodes],
            "cash": cfg["portfolio"]["cash"], "commission": cfg["costs"]["commission_bps"] / 1e4, "slippage": cfg["costs"]["slippage_bps"] / 1e4}
    p = folder / "plain_inputs.json"
    p.write_text(json.dumps(spec))
    return p


def timed(cmd: list[str], repeat: int) -> float:
    subprocess.run(cmd, check=True, capture_output=True)  # warm
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    aibt = str(Path(sys.executable).with_name("aibt"))
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        script = d / "plain_backtrader.py"
        script.write_text(PLAIN_SCRIPT)
        inputs = plain_inputs(d)
        plain = timed([sys.executable, str(script), str(inputs)], a.repeat)
        imports = timed([sys.executable, "-c", "import backtrader, pandas"], a.repeat)
        full = timed([aibt, "run", "--out", str(d / "run")], a.repeat)
        fast = timed([aibt, "run", "--engine", "fast", "--out", str(d / "run_fast")], a.repeat)
    print(f"median of {a.repeat} runs, each a new process (seconds)")
    print(f"  python -c 'import backtrader, pandas'       {imports:6.2f}")
    print(f"  plain Backtrader script, default strategy   {plain:6.2f}")
    print(f"  aibt run (Backtrader; placebo, study, tear sheet)   {full:6.2f}   {full / plain:4.2f}x the plain script")
    print(f"  aibt run --engine fast                      {fast:6.2f}   {fast / plain:4.2f}x the plain script")


if __name__ == "__main__":
    main()
