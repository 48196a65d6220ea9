"""The tree shows the architecture: backtests/ grouped by concern, imports one way only."""
from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
#: lower layers never import higher ones (DESIGN.md: data flows one way)
LAYERS = {
    "backtests": 0, "backtests.config": 0, "backtests.files": 0,
    "backtests.inputs": 1, "backtests.market": 1,
    "backtests.engines": 2,
    "backtests.stats": 3,
    "backtests.runner": 4,
    "backtests.reports": 5,
    "backtests.sweeps": 6,
    "backtests.cli": 7, "backtests.bench": 7, "backtests.bench_run": 7, "backtests.headline": 7, "backtests.example_script": 7, "backtests.examples": 7,
}


def _layer(module: str):
    hits = [(k, v) for k, v in LAYERS.items() if module == k or module.startswith(k + ".")]
    return max(hits, key=lambda kv: len(kv[0]))[1] if hits else None


def _imports(path: pathlib.Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names)


def test_backtests_imports_flow_one_way():
    bad = []
    for p in (ROOT / "backtests").rglob("*.py"):
        parts = p.relative_to(ROOT).with_suffix("").parts
        mod = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        here = _layer(mod)
        for m in _imports(p):
            there = _layer(m) if m.startswith("backtests") else None
            if here is not None and there is not None and there > here:
                bad.append(f"{mod} imports {m}")
    assert not bad, bad


def test_events_and_signals_know_nothing_of_backtrader_or_backtests():
    for pkg in ("events", "signals"):
        for p in (ROOT / pkg).rglob("*.py"):
            for m in _imports(p):
                assert not m.startswith(("backtests", "strategies", "backtrader")), (p, m)


def test_backtests_is_grouped_by_concern():
    top = sorted(p.stem for p in (ROOT / "backtests").glob("*.py"))
    assert len(top) <= 12, top
    for sub in ("market", "engines", "stats", "reports"):
        assert (ROOT / "backtests" / sub / "__init__.py").exists()
