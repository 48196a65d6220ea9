"""Writing a run directory (DESIGN.md contract), atomically.

Everything is written into a hidden sibling directory first and renamed into
place at the end; on any failure the temporary directory is removed, so a
half-written run directory never exists. Re-running into an existing
``--out`` replaces it only once the new one is complete.

What may be replaced (DESIGN.md: ``--out`` never deletes or overwrites anything
that is not a previous aibt run directory): a new path, an existing *empty*
directory, or a previous aibt run or study directory, recognised by the
``manifest.json`` aibt writes (a JSON object with ``aibt_version``; a web
project's manifest.json does not count). Anything else is refused with an
:class:`~events.errors.InputError` (exit 2 in the CLI): a folder holding other
files, a file, a path under a file, a symbolic link, or a parent directory that
cannot be created or written. :func:`check_out_dir` checks this up front
(the CLI calls it before any work); :func:`atomic_directory` checks it again
when it starts and once more at the final swap, so Python callers of
:func:`write_run` are protected too and a file dropped into an empty ``--out``
while the run worked is never removed.

``summary.json``, ``returns.csv`` and ``trades.csv`` hold no timestamps or
paths: the same inputs give byte-identical files.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import errno
import os
import platform
import shutil
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

import pandas as pd

from backtests import __version__
from backtests.config import config_hash, dump_yaml
from backtests.files import json_ready, write_csv
from events.errors import InputError, Problem

SUMMARY_KEYS = [
    "start", "end", "total_return", "cagr", "ann_vol", "sharpe", "sortino", "max_drawdown", "calmar",
    "excess_total_return", "information_ratio", "alpha_ann", "beta", "alpha_tstat_hac", "n_trades",
    "n_events", "hit_rate", "exposure", "placebo_p", "placebo_n",
    # beyond DESIGN's list: the event counts of backtests.stats.counts (n_events above is the units after the cluster rule)
    "n_events_calendar", "n_events_selected", "n_events_tradable", "n_events_traded",
]
KEY_PACKAGES = ["backtrader", "pandas", "numpy", "statsmodels", "matplotlib", "exchange_calendars", "yfinance", "scipy"]


def summary_json(summary: dict) -> str:
    """summary.json text: DESIGN's keys in order; NaN/inf written as null."""
    return json.dumps({k: json_ready(summary[k]) for k in SUMMARY_KEYS}, indent=2) + "\n"


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
        "engine": getattr(result, "engine", "backtrader"),
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


def write_study(out, directory: Path) -> None:
    """study.json, study.csv and abnormal_returns.csv (DESIGN.md columns) of a
    :class:`backtests.stats.study.StudyOutput`.

    study.csv adds ``q_`` columns (Benjamini-Hochberg, method and number of
    tests in study.json's ``multiple_testing``) and, on BHAR windows,
    ``mean_bhar, t_skew, p_skew, q_skew``. abnormal_returns.csv adds, per
    event, ``needs_day1``, ``category`` and ``scheduled`` (the counting rule
    of :mod:`backtests.stats.study`). event_car.csv: each event's CAR, SCAR and
    its p per model and test window (``EventStudyResults.event_car``)."""
    from backtests.stats.eventstudy import AR_COLUMNS, TABLE_COLUMNS

    doc = out.results.to_dict()
    doc["clusters_rule"] = out.results.settings.clusters
    doc["performance"] = out.performance
    doc["signal_regressions"] = out.signals
    (directory / "study.json").write_text(json.dumps(json_ready(doc), indent=2) + "\n")
    write_csv(out.results.table[TABLE_COLUMNS], directory / "study.csv")
    write_csv(out.results.ar[AR_COLUMNS], directory / "abnormal_returns.csv")
    write_csv(out.results.event_car(), directory / "event_car.csv")


OUT_EXPECTED = "a new path, an empty directory, or a previous aibt run directory with its manifest.json"
WRITABLE = "a path whose parent directory exists or can be created, and can be written"


def is_run_directory(path: str | Path) -> bool:
    """Whether ``path`` is a directory written by aibt: its manifest.json is a JSON object with ``aibt_version``."""
    m = Path(path) / "manifest.json"
    try:
        data = json.loads(m.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "aibt_version" in data


def _refuse(out: Path, message: str, expected: str = OUT_EXPECTED) -> InputError:
    return InputError(Problem(message, path=str(out), field="--out", expected=expected))


def _check_existing(out: Path) -> None:
    """Refuse an existing ``out`` that aibt may not replace (see the module docstring)."""
    here = Path.cwd().resolve()
    if out.exists() and (out.resolve() == here or out.resolve() in here.parents):
        raise _refuse(out, "is the current directory (or holds it); aibt writes a run directory whole and then moves it into "
                           "place, which it cannot do to the folder you are in", "a new path such as ./run1")
    if out.is_symlink():
        raise _refuse(out, "is a symbolic link; aibt does not replace links", "the real directory's path, or a new path")
    if not out.exists():
        return
    if not out.is_dir():
        raise _refuse(out, "is a file, not a directory; aibt never overwrites it")
    if is_run_directory(out):
        return
    try:
        names = sorted(p.name for p in out.iterdir())
    except OSError as exc:
        raise _refuse(out, f"cannot be read ({exc.strerror or exc})") from None
    if names:
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        raise _refuse(out, f"exists and is not an aibt run directory (no aibt manifest.json); it holds {shown}, "
                           "which aibt never deletes")


def _make_parents(out: Path) -> list[Path]:
    """Create ``out``'s missing parent directories; return those created, deepest last.

    Raises :class:`InputError` when an existing ancestor is a file or a parent
    cannot be created (having removed any it created first).
    """
    missing = []
    p = out.parent
    while not p.exists() and not p.is_symlink() and p != p.parent:
        missing.append(p)
        p = p.parent
    if p.exists() and not p.is_dir():
        raise _refuse(out, f"lies under {p}, which is a file, not a directory", WRITABLE)
    created: list[Path] = []
    try:
        for d in reversed(missing):
            d.mkdir()
            created.append(d)
    except OSError as exc:
        _remove_created(created)
        raise _refuse(out, f"cannot be written: its parent {exc.filename or d} cannot be created ({exc.strerror or exc})", WRITABLE) from None
    return created


def _remove_created(created: list[Path]) -> None:
    """Remove directories this process created (deepest first), as long as they are still empty."""
    for d in reversed(created):
        try:
            d.rmdir()
        except OSError:
            break


def check_out_dir(out: str | Path) -> Path:
    """Refuse, before any work, an ``out`` aibt may not write (DESIGN.md's ``--out`` contract).

    Raises :class:`InputError` naming the path and what was expected when
    ``out`` is a file, a folder that is neither empty nor an aibt run
    directory, a symbolic link, lies under a file, or its parent cannot be
    created or written (a probe directory is created in the parent and
    removed). Leaves nothing behind: parents it created for the probe are
    removed again. Returns ``Path(out)``.
    """
    out = Path(os.path.abspath(out))
    _check_existing(out)
    created = _make_parents(out)
    try:
        probe = Path(tempfile.mkdtemp(prefix=f".{out.name}.probe-", dir=out.parent))
        probe.rmdir()
    except OSError as exc:
        raise _refuse(out, f"cannot be written: no new directory can be made in {out.parent} ({exc.strerror or exc})", WRITABLE) from None
    finally:
        _remove_created(created)
    return out


_WRITE_FAULTS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO, errno.EFBIG}


@contextlib.contextmanager
def atomic_directory(out: str | Path, what: str = "the run"):
    """Yield a hidden temporary sibling of ``out``; on success it replaces
    ``out`` (an existing one only once the new one is complete), on any error
    it is removed and ``out`` is left as it was.

    Only a new path, an empty directory or a previous aibt run directory is
    replaced; anything else raises :class:`InputError`, checked before the
    temporary directory is made and again at the swap. Parent directories
    created here are removed again if the write fails.
    """
    out = Path(os.path.abspath(out))  # '.', 'a/..': the staging folder is a sibling of the real directory
    _check_existing(out)
    created = _make_parents(out)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
    except OSError as exc:
        _remove_created(created)
        raise _refuse(out, f"cannot be written: no new directory can be made in {out.parent} ({exc.strerror or exc})", WRITABLE) from None
    try:
        yield tmp
        _check_existing(out)  # again: the folder may have changed while the run worked
        if out.exists() and is_run_directory(out):
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            # a new path, or an empty directory: rename(2) replaces an empty
            # directory and fails (ENOTEMPTY) if a file appeared meanwhile
            try:
                tmp.rename(out)
            except OSError as exc:
                if out.is_dir() and any(out.iterdir()):
                    _check_existing(out)
                raise _refuse(out, f"cannot be written ({exc.strerror or exc})", WRITABLE) from None
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_created(created)
        if exc.errno in _WRITE_FAULTS:  # disk full, read-only, no permission: the folder cannot take the run, say so plainly
            raise _refuse(out, f"cannot be written: {exc.strerror or exc} (while writing {Path(exc.filename).name if exc.filename else what}); "
                               "nothing was written", WRITABLE) from None
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_created(created)
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
        if result.per_event is not None:
            write_csv(result.per_event, tmp / "per_event.csv")
        if getattr(result, "placebo", None) is not None:
            pl = result.placebo
            write_csv(pd.DataFrame({"run": range(1, len(pl.totals) + 1), "total_return": pl.totals}), tmp / "placebo.csv")
            (tmp / "placebo.json").write_text(json.dumps(json_ready(pl.to_dict()), indent=2) + "\n")
        write_csv(result.exposure.reset_index().assign(date=lambda f: pd.to_datetime(f["date"]).dt.strftime("%Y-%m-%d")), tmp / "exposure.csv")
        if getattr(result, "planned", None) is not None:
            write_csv(result.cost_sensitivity(), tmp / "cost_sensitivity.csv")
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

    holder = SimpleNamespace(config=cfg, fingerprints=study.fingerprints, warnings=[])
    with atomic_directory(out) as tmp:
        (tmp / "config.yaml").write_text(dump_yaml(cfg))
        write_study(study, tmp)
        (tmp / "manifest.json").write_text(json.dumps(manifest(holder, started, dt.datetime.now(dt.timezone.utc)), indent=2) + "\n")
    return Path(out)
