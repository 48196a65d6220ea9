"""Writing a run directory (DESIGN.md contract), atomically.

Everything is written into a hidden sibling directory first and renamed into
place at the end; on any failure the temporary directory is removed, so a
half-written run directory never exists. Re-running into an existing
``--out`` replaces it only once the new one is complete.

``summary.json``, ``returns.csv`` and ``trades.csv`` hold no timestamps or
paths: the same inputs give byte-identical files.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import pandas as pd

from backtests import __version__
from backtests.config import config_hash, dump_yaml

SUMMARY_KEYS = [
    "start", "end", "total_return", "cagr", "ann_vol", "sharpe", "sortino", "max_drawdown", "calmar",
    "excess_total_return", "information_ratio", "alpha_ann", "beta", "alpha_tstat_hac", "n_trades",
    "n_events", "hit_rate", "exposure", "placebo_p", "placebo_n",
    # beyond DESIGN's list: the event counts of backtests.counts (n_events above is the units after the cluster rule)
    "n_events_calendar", "n_events_selected", "n_events_tradable", "n_events_traded",
]
KEY_PACKAGES = ["backtrader", "pandas", "numpy", "statsmodels", "matplotlib", "exchange_calendars", "yfinance", "scipy"]
FLOAT_FORMAT = "%.12g"


def _clean(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def summary_json(summary: dict) -> str:
    """summary.json text: DESIGN's keys in order; NaN/inf written as null."""
    return json.dumps({k: _clean(summary.get(k, float("nan"))) for k in SUMMARY_KEYS}, indent=2) + "\n"


def git_commit() -> str | None:
    """The commit of the aibt source tree, if it is a git checkout."""
    here = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def manifest(result, started: dt.datetime, finished: dt.datetime) -> dict:
    pk = {}
    for name in KEY_PACKAGES:
        try:
            pk[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pk[name] = None
    return {
        "aibt_version": __version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": pk,
        "data_sha256": dict(sorted(result.fingerprints.items())),
        "config_hash": config_hash(result.config),
        "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": finished.isoformat(timespec="seconds"),
        "warnings": result.warnings,
    }


def default_run_dir(name: str, root: str | Path = "reports", now: dt.datetime | None = None) -> Path:
    now = now or dt.datetime.now(dt.timezone.utc)
    base = Path(root) / f"{name}-{now.strftime('%Y%m%d-%H%M%S')}"
    out, k = base, 2
    while out.exists():
        out, k = Path(f"{base}-{k}"), k + 1
    return out


def write_csv(frame: pd.DataFrame, path: Path, index: bool = False) -> None:
    frame.to_csv(path, index=index, float_format=FLOAT_FORMAT, lineterminator="\n", date_format="%Y-%m-%d")


@contextlib.contextmanager
def atomic_directory(out: str | Path):
    """Yield a hidden temporary sibling of ``out``; on success it replaces
    ``out`` (an existing one only once the new one is complete), on any error
    it is removed and ``out`` is left as it was."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_run(result, out: str | Path, started: dt.datetime, extra_writers=(), post_writers=()) -> Path:
    """Write the run directory ``out`` atomically; returns its path.

    ``extra_writers`` are callables ``f(tmp_dir)`` that add files (statistics)
    before ``manifest.json`` is written; ``post_writers`` (the tear sheet,
    which reads the manifest) run after it, inside the same atomic step.
    """
    with atomic_directory(out) as tmp:
        (tmp / "config.yaml").write_text(dump_yaml(result.config))
        (tmp / "summary.json").write_text(summary_json(result.summary))
        write_csv(result.returns.reset_index().assign(date=lambda f: f["date"].dt.strftime("%Y-%m-%d")), tmp / "returns.csv")
        write_csv(result.trades, tmp / "trades.csv")
        write_csv(result.events, tmp / "events.csv")
        write_csv(result.exposure.reset_index().assign(date=lambda f: pd.to_datetime(f["date"]).dt.strftime("%Y-%m-%d")), tmp / "exposure.csv")
        if result.signals is not None:
            write_csv(result.signals.reset_index().assign(date=lambda f: f["date"].dt.strftime("%Y-%m-%d")), tmp / "signals.csv")
        for w in extra_writers:
            w(tmp)
        finished = dt.datetime.now(dt.timezone.utc)
        (tmp / "manifest.json").write_text(json.dumps(manifest(result, started, finished), indent=2) + "\n")
        for w in post_writers:
            w(tmp)
    return Path(out)


def write_study_dir(cfg: dict, study, out: str | Path, started: dt.datetime) -> Path:
    """Write a study-only directory (config.yaml, manifest.json, study files) atomically."""
    from types import SimpleNamespace

    from backtests.study import write_study

    holder = SimpleNamespace(config=cfg, fingerprints=study.fingerprints, warnings=[])
    with atomic_directory(out) as tmp:
        (tmp / "config.yaml").write_text(dump_yaml(cfg))
        write_study(study, tmp)
        (tmp / "manifest.json").write_text(json.dumps(manifest(holder, started, dt.datetime.now(dt.timezone.utc)), indent=2) + "\n")
    return Path(out)
