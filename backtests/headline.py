"""Print the README's "what the bundled data says" table: every shipped config, measured now.

    .venv/bin/python -m backtests.headline [--configs default,earnings_only]

One row per config: period, total return, Sharpe, excess over a basket
position of the same net exposure, the HAC t of alpha against the basket, the
placebo p (share of 1,000 seeded placebo runs at least as good; blank for
benchmarks), trades and hit rate. Nothing is written to disk.
"""
from __future__ import annotations

import argparse

from backtests.config import bundled_config, bundled_configs
from backtests.runner import run


def _pct(v):
    return "" if v != v else f"{v * 100:+.1f}%"


def _num(v, d=2):
    return "" if v != v else f"{v:.{d}f}"


def rows(names: list[str]) -> list[dict]:
    out = []
    for name in names:
        s = run(str(bundled_config(name))).summary
        out.append({"config": name, "period": f"{s['start'][:7]}..{s['end'][:7]}", "total": _pct(s["total_return"]), "sharpe": _num(s["sharpe"]),
                    "excess": _pct(s["excess_total_return"]), "alpha_t": _num(s["alpha_tstat_hac"]),
                    "placebo_p": _num(s["placebo_p"], 3), "trades": str(int(s["n_trades"])), "hit": _pct(s["hit_rate"]).lstrip("+")})
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default=None, help="comma-separated shipped config names (default: all)")
    a = ap.parse_args(argv)
    names = a.configs.split(",") if a.configs else bundled_configs()
    table = rows(names)
    cols = ["config", "period", "total", "sharpe", "excess", "alpha_t", "placebo_p", "trades", "hit"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in table:
        print("| " + " | ".join(r[c] for c in cols) + " |")


if __name__ == "__main__":
    main()
