"""``--out`` never loses a user's file (DESIGN.md, issue 9).

``aibt run --out DIR`` and ``aibt study --out DIR`` accept a new path, an
existing *empty* directory, or a previous aibt run directory (one holding the
``manifest.json`` aibt writes, which is then replaced whole). Anything else (a
folder holding other files, a file, a path under a file, a parent that cannot
be created or written) is refused with exit 2 before any work: the config is
not even read, nothing is created and nothing is deleted.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backtests.cli import main
from events.errors import InputError

CHEAP = "strategy: {kind: buy_and_hold}\nevents: {bundled: false, earnings: false}\ndates: {start: 2024-01-02}\nstudy: {enabled: false}\noutput: {tearsheet: false}\n"


@pytest.fixture
def cheap_config(tmp_path):
    p = tmp_path / "cheap.yaml"
    p.write_text(CHEAP)
    return p


@pytest.fixture
def no_work(monkeypatch):
    """Make any real work fail loudly: reading the config, running, studying, loading prices."""

    def forbidden(*a, **k):
        raise AssertionError("aibt did work before refusing --out")

    monkeypatch.setattr("backtests.config.load_config", forbidden)
    monkeypatch.setattr("backtests.runner.run", forbidden)
    monkeypatch.setattr("backtests.stats.study.study_for_config", forbidden)
    monkeypatch.setattr("backtests.market.marketdata.load_prices", forbidden)


def snapshot(root: Path) -> dict:
    """Every path under root (hidden ones too) with its bytes, to prove nothing changed."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def user_folder(tmp_path) -> Path:
    d = tmp_path / "mine"
    d.mkdir()
    (d / "notes.txt").write_text("my notes, not a run\n")
    return d


@pytest.mark.parametrize("command", ["run", "study"])
def test_folder_with_user_files_is_refused_before_any_work(tmp_path, capsys, no_work, command):
    d = user_folder(tmp_path)
    before = snapshot(tmp_path)
    t0 = time.perf_counter()
    assert main([command, "--out", str(d)]) == 2
    assert time.perf_counter() - t0 < 5
    err = capsys.readouterr().err
    assert str(d) in err and "manifest.json" in err and "notes.txt" in err
    assert "Traceback" not in err
    assert snapshot(tmp_path) == before  # notes.txt untouched, no hidden temporary siblings


def test_folder_with_user_files_survives_the_real_command(tmp_path):
    """The console script itself, no monkeypatching: exit 2, one-line message, the notes are still there."""
    d = user_folder(tmp_path)
    before = snapshot(tmp_path)
    exe = Path(sys.executable).parent / "aibt"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "backtests.cli"]
    p = subprocess.run([*cmd, "run", "--out", str(d)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and str(d) in p.stderr
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("command", ["run", "study"])
def test_out_that_is_a_file_is_refused(tmp_path, capsys, no_work, command):
    f = tmp_path / "report.txt"
    f.write_text("keep me\n")
    before = snapshot(tmp_path)
    assert main([command, "--out", str(f)]) == 2
    err = capsys.readouterr().err
    assert str(f) in err and "Traceback" not in err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("command", ["run", "study"])
def test_out_under_a_file_is_refused(tmp_path, capsys, no_work, command):
    f = tmp_path / "report.txt"
    f.write_text("keep me\n")
    before = snapshot(tmp_path)
    out = f / "sub" / "run"
    assert main([command, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(out) in err and str(f) in err and "is a file" in err
    assert "Traceback" not in err
    assert snapshot(tmp_path) == before


def test_parent_that_cannot_be_created_is_refused_and_cleaned_up(tmp_path, capsys, no_work):
    """new/ can be created but the next level cannot (name too long): new/ is removed again."""
    from backtests.reports.rundir import check_out_dir
    from events.errors import InputError

    out = tmp_path / "new" / ("x" * 300) / "run"
    assert main(["run", "--out", str(out)]) == 2  # the CLI sees the overlong name before touching anything
    err = capsys.readouterr().err
    assert "a name of 300 bytes" in err and "Traceback" not in err
    assert not (tmp_path / "new").exists()
    with pytest.raises(InputError, match="cannot be written") as exc:  # the run directory's own check, from a script
        check_out_dir(out)
    assert str(out) in str(exc.value)
    assert not (tmp_path / "new").exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores directory permissions")
@pytest.mark.parametrize("command", ["run", "study"])
def test_unwritable_parent_is_refused(tmp_path, capsys, no_work, command):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        for out in (ro / "run", ro / "a" / "b" / "run"):
            assert main([command, "--out", str(out)]) == 2
            err = capsys.readouterr().err
            assert str(out) in err and "cannot be written" in err and "Traceback" not in err
            assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o700)


def test_unwritable_parent_is_refused_as_root_too(tmp_path, capsys, no_work):
    """Permissions do not stop root; /proc refuses new directories to everyone."""
    if not Path("/proc/self").exists():
        pytest.skip("needs Linux /proc")
    new = Path("/proc") / f"aibt-test-{os.getpid()}"
    for out in (new / "run", new):  # a parent that cannot be created; an existing parent that cannot be written
        assert main(["run", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert str(out) in err and "cannot be written" in err and "Traceback" not in err


def test_empty_directory_is_used(tmp_path, cheap_config):
    d = tmp_path / "empty"
    d.mkdir()
    assert main(["run", "--config", str(cheap_config), "--out", str(d)]) == 0
    assert (d / "manifest.json").exists() and (d / "summary.json").exists()
    assert not list(tmp_path.glob(".empty*"))


def test_previous_run_directory_is_replaced(tmp_path, cheap_config):
    d = tmp_path / "run"
    assert main(["run", "--config", str(cheap_config), "--out", str(d)]) == 0
    (d / "stale.txt").write_text("left over from the previous run\n")
    first = json.loads((d / "manifest.json").read_text())
    assert main(["run", "--config", str(cheap_config), "--out", str(d)]) == 0
    assert not (d / "stale.txt").exists() and (d / "summary.json").exists()
    assert json.loads((d / "manifest.json").read_text())["aibt_version"] == first["aibt_version"]
    assert not list(tmp_path.glob(".run*"))


def test_previous_study_directory_is_replaced(tmp_path, cheap_config, monkeypatch):
    """A study directory carries aibt's manifest too; replacing it is allowed (the study itself is stubbed)."""
    d = tmp_path / "study"
    d.mkdir()
    (d / "manifest.json").write_text(json.dumps({"aibt_version": "0"}))
    (d / "study.csv").write_text("old\n")
    from backtests.reports.rundir import write_study_dir
    import datetime as dt
    from types import SimpleNamespace

    monkeypatch.setattr("backtests.reports.rundir.write_study", lambda study, tmp: (tmp / "study.csv").write_text("new\n"))
    write_study_dir({"name": "x"}, SimpleNamespace(fingerprints={}), d, dt.datetime.now(dt.timezone.utc))
    assert (d / "study.csv").read_text() == "new\n"
    assert json.loads((d / "manifest.json").read_text())["aibt_version"] != "0"


def test_a_foreign_manifest_json_is_not_a_run_directory(tmp_path, capsys, no_work):
    """A web project's manifest.json does not make a folder an aibt run directory."""
    d = tmp_path / "webapp"
    d.mkdir()
    (d / "manifest.json").write_text(json.dumps({"name": "my app", "icons": []}))
    (d / "index.html").write_text("<html></html>")
    before = snapshot(tmp_path)
    assert main(["run", "--out", str(d)]) == 2
    assert str(d) in capsys.readouterr().err
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------ the Python API (defence in depth)
def test_atomic_directory_refuses_to_replace_a_user_folder(tmp_path):
    from backtests.reports.rundir import atomic_directory

    d = user_folder(tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(InputError, match="not an aibt run directory"):
        with atomic_directory(d) as tmp:
            (tmp / "summary.json").write_text("{}")
    assert snapshot(tmp_path) == before


def test_atomic_directory_refuses_a_folder_that_gains_files_during_the_run(tmp_path):
    """Checked again at the swap: a file dropped into the empty --out while the run worked is kept."""
    from backtests.reports.rundir import atomic_directory

    d = tmp_path / "out"
    d.mkdir()
    with pytest.raises(InputError, match="not an aibt run directory"):
        with atomic_directory(d) as tmp:
            (tmp / "summary.json").write_text("{}")
            (d / "notes.txt").write_text("written meanwhile\n")
    assert (d / "notes.txt").read_text() == "written meanwhile\n" and not (d / "summary.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == ["out"]


def test_atomic_directory_refuses_a_file(tmp_path):
    from backtests.reports.rundir import atomic_directory

    f = tmp_path / "report.txt"
    f.write_text("keep me\n")
    before = snapshot(tmp_path)
    with pytest.raises(InputError, match="is a file"):
        with atomic_directory(f) as tmp:
            (tmp / "summary.json").write_text("{}")
    assert snapshot(tmp_path) == before


def test_write_run_refuses_a_user_folder(tmp_path):
    import datetime as dt

    from backtests.reports.rundir import write_run
    from backtests.runner import run

    res = run({"strategy": {"kind": "buy_and_hold"}, "events": {"bundled": False, "earnings": False}, "dates": {"start": "2024-01-02"}})
    d = user_folder(tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(InputError, match="notes.txt"):
        write_run(res, d, dt.datetime.now(dt.timezone.utc))
    assert snapshot(tmp_path) == before
    # a failed write under a new parent leaves no empty parent behind
    out = tmp_path / "a" / "b" / "run"

    def boom(_):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_run(res, out, dt.datetime.now(dt.timezone.utc), extra_writers=[boom])
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("command", ["run", "study"])
def test_the_current_directory_as_out_is_refused_before_any_work(tmp_path, capsys, monkeypatch, no_work, command):
    """'--out .' from an empty folder: refused at once (a run directory is moved into place whole, which cannot be
    done to the folder the user is in), nothing written; a relative path through '..' works like its real path."""
    here = tmp_path / "e"
    here.mkdir()
    monkeypatch.chdir(here)
    assert main([command, "--out", "."]) == 2
    assert "is the current directory" in capsys.readouterr().err
    assert not any(here.iterdir()) and [p.name for p in tmp_path.iterdir()] == ["e"]


def test_a_path_through_dotdot_stages_beside_the_real_directory(tmp_path, monkeypatch):
    from backtests.reports.rundir import atomic_directory

    (tmp_path / "a").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    with atomic_directory("../new/../new") as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".new.tmp-")  # a sibling of the real directory
        (tmp / "manifest.json").write_text("{}")
    assert (tmp_path / "new" / "manifest.json").exists()
