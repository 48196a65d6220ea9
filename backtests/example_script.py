"""A script to copy: run aibt from Python, change a parameter, compare.

    python -m backtests.example_script

It runs the bundled default config (AI-infrastructure events that affect
AMZN), then the same with a longer holding period and beta-hedged basket, and
prints the two side by side plus the five best and worst trades.
"""
from __future__ import annotations

import copy

import pandas as pd

from backtests.config import load_config
from backtests.runner import run


def main() -> None:
    base = load_config()  # the bundled default; pass a path for your own YAML
    variant = copy.deepcopy(base)
    variant["strategy"]["params"]["exit_offset"] = 5
    variant["portfolio"]["hedge"] = "beta"

    results = {"default (exit +2, equal)": run(base), "exit +5, beta hedge": run(variant)}
    table = pd.DataFrame({k: r.summary for k, r in results.items()})
    keys = ["total_return", "sharpe", "max_drawdown", "excess_total_return", "alpha_ann", "alpha_tstat_hac", "n_trades", "hit_rate"]
    print(table.loc[keys].to_string(float_format=lambda x: f"{x:.4f}"))

    trades = results["default (exit +2, equal)"].trades.sort_values("pnl_net")
    cols = ["event_ids", "entry", "exit", "pnl_net", "excess_return"]
    print("\nworst trades\n", trades[cols].head().to_string(index=False))
    print("\nbest trades\n", trades[cols].tail().to_string(index=False))


if __name__ == "__main__":
    main()
