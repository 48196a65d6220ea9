"""A sweep's results in one SQLite file: one row per combination, written by one process, read by anyone.

The file (WAL journal, so readers never block the writer and a killed writer leaves a consistent file):

``meta(name, value)``
    ``app`` = ``aibt-sweep``, ``schema`` version, the latest call's ``spec_sha``, ``engine``, ``search``,
    ``metric``, ``direction``, ``param_keys`` (JSON), ``call_started`` (epoch seconds), ``call_total``.
``specs(id, sha256, path, text, first_used, last_used)``
    every spec text a call used, verbatim; :func:`load_spec_text` returns the latest.
``lease(id = 1, pid, host, token, since, heartbeat, command)``
    the one process allowed to write (:meth:`SweepStore.acquire`). A second sweep refuses while the holder
    is alive; a holder whose pid is gone on this host, or whose heartbeat is older than
    :data:`LEASE_STALE_S` seconds, is taken over.
``session_index(id, sha256, n, first, last, days)``
    a session calendar stored once: ``days`` is the sessions as little-endian int64 days since 1970-01-01.
``combinations``
    ``key`` (primary key: sha256 of the canonical JSON of ``{"config", "data", "engine"}``, see
    :func:`combination_key`, so changed data means new rows), ``ordinal``, ``current`` (1 when the row
    belongs to the latest call's spec and data; older rows are kept but not shown), ``status``
    (``pending | running | done | failed``), ``params`` (JSON by dotted key), ``config`` (the resolved run
    config, JSON), ``data`` (the data fingerprints, JSON), ``engine``, ``attempts`` (finished attempts),
    ``error``, ``duration`` (seconds of the run in its worker), ``worker`` (host:pid), ``started`` and
    ``finished`` (epoch seconds), one column per summary.json key (:data:`backtests.reports.rundir.SUMMARY_KEYS`,
    named ``m_<key>`` in SQL; ``start``/``end`` as text, the rest REAL, NaN stored as NULL), ``returns`` (the daily strategy returns as
    little-endian float64 bytes, ``numpy.ndarray.tobytes``; never a pickle) and ``returns_index`` (the
    ``session_index`` row they are on).

``plan_groups(sha256, config, data)``
    a sweep on the fast engine (:mod:`backtests.sweeps.batch`) plans once per distinct plan (the combination's
    parameters other than costs and sizing): the plan's resolved config (with the swept cost fields as in its
    first combination) and data fingerprints are stored once here, and each of its combinations stores
    ``config = ''`` and ``data = {"plan_group": sha256}`` (its full config is the spec's base with its params).
``verifications(key, engine, status, problems, summary, duration, finished)``
    the best combinations of a fast sweep re-run on Backtrader: ``agree`` / ``disagree`` (``problems``, a JSON
    list, says where, see :mod:`backtests.engines.parity`) / ``failed``, and the reference run's summary.json
    (JSON, its placebo included).

Every result is committed in its own short transaction, so killing the writer at any moment loses at most
the combinations in flight (left ``running``; the next call sets them back to ``pending``).

A sweep with ``search: optuna`` keeps its optuna study (optuna's RDB storage) in a sibling SQLite file,
:func:`optuna_storage_path` (``<db>.optuna.sqlite``), so optuna's own tables and migrations never touch
this file; every finished trial carries its combination ``key`` as a user attribute.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import socket
import sqlite3
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.reports.rundir import SUMMARY_KEYS
from events.errors import InputError, Problem

APP = "aibt-sweep"
SCHEMA_VERSION = 1
LEASE_STALE_S = 300.0  # a holder silent this long is taken over
HEARTBEAT_S = 15.0
BOOKKEEPING = ["key", "ordinal", "status", "error", "attempts", "duration", "worker", "engine"]
TEXT_METRICS = ("start", "end")
MAX_ATTEMPTS = 2  # a failed combination is run at most twice: the first try and one retry
_PAGE = 200
#: the datetime unit pandas gives dates parsed from text (as a run's sessions are): ns in pandas 2, us in pandas 3
_DATE_UNIT = str(pd.to_datetime(["2000-01-03"]).dtype)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_METRIC_COLS = ", ".join(f"{_q('m_' + k)} {'TEXT' if k in TEXT_METRICS else 'REAL'}" for k in SUMMARY_KEYS)
DDL = f"""
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS specs (id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, path TEXT, text TEXT NOT NULL,
                                  first_used TEXT NOT NULL, last_used TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lease (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL, host TEXT NOT NULL, token TEXT NOT NULL,
                                  since TEXT NOT NULL, heartbeat REAL NOT NULL, command TEXT);
CREATE TABLE IF NOT EXISTS session_index (id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, n INTEGER NOT NULL, first TEXT, last TEXT,
                                          days BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS combinations (
    key TEXT PRIMARY KEY, ordinal INTEGER NOT NULL, current INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed')),
    params TEXT NOT NULL, config TEXT NOT NULL, data TEXT NOT NULL, engine TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, error TEXT, duration REAL, worker TEXT, started REAL, finished REAL,
    {_METRIC_COLS},
    returns BLOB, returns_index INTEGER REFERENCES session_index(id)
);
CREATE INDEX IF NOT EXISTS combinations_todo ON combinations (current, status, ordinal);
CREATE TABLE IF NOT EXISTS plan_groups (sha256 TEXT PRIMARY KEY, config TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS verifications (
    key TEXT NOT NULL, engine TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('agree', 'disagree', 'failed')),
    problems TEXT NOT NULL, summary TEXT, duration REAL, finished REAL NOT NULL, PRIMARY KEY (key, engine)
);
"""


def canonical_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _json_text(obj) -> str:
    """``obj`` as canonical JSON; a ``str`` is taken to be canonical JSON already (a caller that serialises many rows
    faster, as :mod:`backtests.sweeps.batch` does)."""
    return obj if isinstance(obj, str) else canonical_json(obj)


def combination_key(config: dict, data: dict, engine: str) -> str:
    """sha256 of the canonical JSON of ``{"config": resolved config, "data": data fingerprints, "engine": name}``."""
    return hashlib.sha256(canonical_json({"config": config, "data": data, "engine": engine}).encode()).hexdigest()


def optuna_storage_path(db: str | Path) -> Path:
    """Where a sweep database's optuna study lives: a sibling SQLite file, ``<db>.optuna.sqlite``."""
    db = Path(db)
    return db.with_name(db.name + ".optuna.sqlite")


def _now_iso(t: float | None = None) -> str:
    return dt.datetime.fromtimestamp(time.time() if t is None else t, dt.timezone.utc).isoformat(timespec="seconds")


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` on this host is running: it exists (``kill(pid, 0)``) and is not a zombie (a killed
    process its parent has not reaped yet, which is gone all the same)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")  # with WAL: a killed process never corrupts the file
    except sqlite3.DatabaseError as exc:
        con.close()
        raise InputError(Problem(f"not an SQLite database ({exc})", path=str(path), field="--db",
                                 expected="a new path or a database written by 'aibt sweep'"))
    return con


class SweepStore:
    """The writer: one per database at a time (:meth:`acquire`), all writes in short transactions."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.con = _connect(self.path)
        self.token = uuid.uuid4().hex
        self._index_ids: dict[str, int] = {}
        self._last_beat = 0.0
        self.lost = False  # set when another process took the lease over: this one then writes nothing more
        tables = {r[0] for r in self.con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "meta" not in tables:
            self.close()
            raise InputError(Problem("an SQLite database that aibt did not write", path=str(self.path), field="--db",
                                     expected="a new path or a database written by 'aibt sweep'"))
        if "meta" in tables:
            app = self.con.execute("SELECT value FROM meta WHERE name = 'app'").fetchone()
            if not app or app[0] != APP:
                self.close()
                raise InputError(Problem("an SQLite database that aibt did not write", path=str(self.path), field="--db",
                                         expected="a new path or a database written by 'aibt sweep'"))
        self.con.executescript("BEGIN IMMEDIATE;" + DDL + "COMMIT;")
        with self._tx():
            self.con.execute("INSERT OR IGNORE INTO meta VALUES ('app', ?), ('schema', ?)", (APP, str(SCHEMA_VERSION)))

    def close(self) -> None:
        self.con.close()

    def _tx(self):
        store = self

        class _T:
            def __enter__(self):
                store.con.execute("BEGIN IMMEDIATE")

            def __exit__(self, et, ev, tb):
                if et is None:
                    store.con.execute("COMMIT")
                elif store.con.in_transaction:  # SQLite already rolled back after some errors (a full disk: SQLITE_FULL)
                    store.con.execute("ROLLBACK")
                return False

        return _T()

    def set_meta(self, **values) -> None:
        with self._tx():
            for k, v in values.items():
                self.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (k, v if isinstance(v, str) else json.dumps(v)))

    # ------------------------------------------------------------ lease
    def acquire(self, command: str = "") -> dict | None:
        """Become the database's one writer. Raises :class:`InputError` naming the live holder (pid, host,
        since when); returns the stale holder it took over (None if there was none)."""
        host, now = socket.gethostname(), time.time()
        with self._tx():
            row = self.con.execute("SELECT pid, host, since, heartbeat, command FROM lease WHERE id = 1").fetchone()
            old = None
            if row:
                pid, h, since, beat, cmd = row
                age = now - beat
                if age > LEASE_STALE_S:
                    old = {"pid": pid, "host": h, "since": since, "why": f"no heartbeat for {age / 60:.0f} minutes"}
                elif h == host and not pid_alive(pid):
                    old = {"pid": pid, "host": h, "since": since, "why": f"process {pid} is no longer running"}
                else:
                    raise InputError(Problem(
                        f"another sweep holds this database: pid {pid} on {h}, since {since} (last heartbeat {age:.0f} s ago; {cmd or 'aibt sweep'})",
                        path=str(self.path), field="--db",
                        expected=f"one sweep per database: wait for it, stop it (kill {pid} on {h}; the next call resumes) or use another --db; "
                                 f"a holder whose process is gone, or silent for {LEASE_STALE_S / 60:.0f} minutes, is taken over"))
            self.con.execute("INSERT OR REPLACE INTO lease (id, pid, host, token, since, heartbeat, command) VALUES (1, ?, ?, ?, ?, ?, ?)",
                             (os.getpid(), host, self.token, _now_iso(now), now, command))
        self._last_beat = now
        return old

    def heartbeat(self, force: bool = False) -> None:
        """Refresh the lease (at most every :data:`HEARTBEAT_S` seconds unless ``force``); an :class:`InputError`
        if another process took it over meanwhile (this process then stops writing)."""
        now = time.time()
        if not force and now - self._last_beat < HEARTBEAT_S:
            return
        cur = self.con.execute("UPDATE lease SET heartbeat = ? WHERE id = 1 AND token = ?", (now, self.token))
        if cur.rowcount != 1:
            self.lost = True
            raise InputError(Problem("this sweep lost its lease on the database (another sweep took it over after a long silence); stopping",
                                     path=str(self.path), field="--db", expected="one sweep per database"))
        self._last_beat = now

    def release(self) -> None:
        if self.lost:
            return
        try:
            self.con.execute("DELETE FROM lease WHERE id = 1 AND token = ?", (self.token,))
        except sqlite3.Error:
            pass

    # ------------------------------------------------------------ a call
    def begin_call(self, spec, engine: str) -> None:
        """Record the spec text and the call's settings; rows a killed call left ``running`` go back to ``pending``."""
        now = _now_iso()
        with self._tx():
            self.con.execute("INSERT OR IGNORE INTO specs (sha256, path, text, first_used, last_used) VALUES (?, ?, ?, ?, ?)",
                             (spec.sha256, str(spec.path), spec.text, now, now))
            self.con.execute("UPDATE specs SET last_used = ?, path = ? WHERE sha256 = ?", (now, str(spec.path), spec.sha256))
            self.con.execute("UPDATE combinations SET status = 'pending', started = NULL WHERE status = 'running'")
        self.set_meta(spec_sha=spec.sha256, engine=engine, search=spec.search, metric=spec.metric, direction=spec.direction,
                      param_keys=list(spec.params), call_started=time.time())

    def plan(self, rows, *, beat=None) -> int:
        """Make ``rows`` -- ``(key, ordinal, params, config, data, engine)``, ``config`` None to mark an existing
        row only; ``params``, ``config`` and ``data`` as objects or as their canonical JSON text -- the current combinations: new keys are inserted ``pending``, known keys keep their status and
        results, every other row stops being current. Written in batches; the switch is one transaction.
        Returns the number of distinct current keys."""
        self.con.execute("CREATE TEMP TABLE IF NOT EXISTS plan_keys (key TEXT PRIMARY KEY, ordinal INTEGER, params TEXT)")
        self.con.execute("DELETE FROM temp.plan_keys")
        batch = []

        def flush():
            marks, inserts = [], []
            for key, ordinal, params, config, data, engine in batch:
                p = _json_text(params) if config is not None else None  # a mark-only row keeps its params
                if config is not None:
                    inserts.append((key, ordinal, p, _json_text(config), _json_text(data), engine))
                marks.append((key, ordinal, p))
            with self._tx():
                self.con.executemany("INSERT OR IGNORE INTO combinations (key, ordinal, current, status, params, config, data, engine) "
                                     "VALUES (?, ?, 0, 'pending', ?, ?, ?, ?)", inserts)
                self.con.executemany("INSERT OR IGNORE INTO temp.plan_keys VALUES (?, ?, ?)", marks)
            batch.clear()
            if beat:
                beat()

        for r in rows:
            batch.append(r)
            if len(batch) >= 5000:
                flush()
        if batch:
            flush()
        with self._tx():
            self.con.execute("UPDATE combinations SET current = 0 WHERE current = 1 AND key NOT IN (SELECT key FROM temp.plan_keys)")
            self.con.execute("UPDATE combinations SET current = 1, ordinal = p.ordinal, params = COALESCE(p.params, combinations.params) "
                             "FROM temp.plan_keys AS p WHERE p.key = combinations.key "
                             "AND (combinations.current = 0 OR combinations.ordinal != p.ordinal "
                             "OR (p.params IS NOT NULL AND combinations.params != p.params))")
        n = self.con.execute("SELECT COUNT(*) FROM combinations WHERE current = 1").fetchone()[0]
        self.con.execute("DELETE FROM temp.plan_keys")
        return n

    def add(self, key: str, ordinal: int, params: dict, config: dict, data: dict, engine: str) -> str:
        """Insert one current combination (optuna asks them one at a time); returns its status."""
        with self._tx():
            self.con.execute("INSERT OR IGNORE INTO combinations (key, ordinal, current, status, params, config, data, engine) "
                             "VALUES (?, ?, 1, 'pending', ?, ?, ?, ?)",
                             (key, ordinal, canonical_json(params), canonical_json(config), canonical_json(data), engine))
            self.con.execute("UPDATE combinations SET current = 1 WHERE key = ?", (key,))
            return self.con.execute("SELECT status FROM combinations WHERE key = ?", (key,)).fetchone()[0]

    def status_of(self, key: str) -> str | None:
        r = self.con.execute("SELECT status FROM combinations WHERE key = ?", (key,)).fetchone()
        return None if r is None else r[0]

    def metric(self, key: str, name: str) -> float | None:
        r = self.con.execute(f"SELECT {_q('m_' + name)} FROM combinations WHERE key = ?", (key,)).fetchone()
        return None if r is None or r[0] is None else float(r[0])

    def counts(self) -> dict:
        out = {s: 0 for s in ("done", "failed", "running", "pending")}
        for s, n in self.con.execute("SELECT status, COUNT(*) FROM combinations WHERE current = 1 GROUP BY status"):
            out[s] = n
        out["total"] = sum(out.values())
        return out

    def count_todo(self, retry_failed: bool) -> int:
        return self.con.execute("SELECT COUNT(*) FROM combinations WHERE current = 1 AND (status = 'pending' OR (status = 'failed' AND ?))",
                                (int(retry_failed),)).fetchone()[0]

    def todo(self, retry_failed: bool):
        """Current combinations still to run, in ordinal order, read a page at a time: ``(key, status, config, data)``.
        Each is yielded once, so a combination that fails in this call is not run again in it; with
        ``retry_failed`` a failed combination is retried once in all (while it has fewer than
        :data:`MAX_ATTEMPTS` attempts), not again at every call."""
        last = (-1, "")
        while True:
            page = self.con.execute(
                "SELECT key, ordinal, status, config, data FROM combinations WHERE current = 1 AND (status = 'pending' OR "
                "(status = 'failed' AND ? AND attempts < ?)) AND (ordinal, key) > (?, ?) ORDER BY ordinal, key LIMIT ?",
                (int(retry_failed), MAX_ATTEMPTS, last[0], last[1], _PAGE)).fetchall()
            if not page:
                return
            for key, ordinal, status, config, data in page:
                last = (ordinal, key)
                yield key, status, json.loads(config), json.loads(data)

    def mark_running(self, key: str) -> None:
        self.con.execute("UPDATE combinations SET status = 'running', started = ? WHERE key = ?", (time.time(), key))

    def reset_running(self, keys) -> None:
        if self.lost:
            return
        with self._tx():
            for k in keys:
                self.con.execute("UPDATE combinations SET status = 'pending', started = NULL WHERE key = ? AND status = 'running'", (k,))

    def add_plan_group(self, sha: str, config: dict, data: dict) -> None:
        with self._tx():
            self.con.execute("INSERT OR IGNORE INTO plan_groups VALUES (?, ?, ?)", (sha, canonical_json(config), canonical_json(data)))

    def statuses(self, keys) -> dict:
        """``key -> (status, attempts, has returns)`` of the given keys that have rows."""
        keys = list(keys)
        out = {}
        for i in range(0, len(keys), 900):
            chunk = keys[i:i + 900]
            q = f"SELECT key, status, attempts, returns IS NOT NULL FROM combinations WHERE key IN ({','.join('?' * len(chunk))})"
            for k, st, att, has in self.con.execute(q, chunk):
                out[k] = (st, att, bool(has))
        return out

    def record_many(self, rows, index: pd.DatetimeIndex | None) -> None:
        """Store the results of many combinations in one transaction (the lease checked in it, as :meth:`record`):
        ``rows`` of ``(key, summary values in SUMMARY_KEYS order (NaN or None for none) or None, daily returns as a
        float array or None, error or None, duration, worker)``, the returns on the session axis ``index``."""
        sets = ", ".join(f"{_q('m_' + k)} = ?" for k in SUMMARY_KEYS)
        nulls = (None,) * len(SUMMARY_KEYS)
        now = time.time()
        with self._tx():
            self._check_lease()
            index_id = self._index_id(index) if index is not None else None
            args = [("done" if error is None else "failed", error, duration, worker, now, *(nulls if values is None else values),
                     None if rets is None else np.ascontiguousarray(rets, dtype="<f8").tobytes(), None if rets is None else index_id, key)
                    for key, values, rets, error, duration, worker in rows]
            self.con.executemany(f"UPDATE combinations SET status = ?, attempts = attempts + 1, error = ?, duration = ?, worker = ?, "
                                 f"finished = ?, {sets}, returns = ?, returns_index = ? WHERE key = ?", args)

    def set_returns(self, items, index: pd.DatetimeIndex) -> None:
        """Attach daily returns (``key -> float array`` on ``index``) to finished combinations."""
        with self._tx():
            self._check_lease()
            ix = self._index_id(index)
            self.con.executemany("UPDATE combinations SET returns = ?, returns_index = ? WHERE key = ?",
                                 [(np.ascontiguousarray(r, dtype="<f8").tobytes(), ix, k) for k, r in items])

    def verified(self, engine: str) -> dict:
        """``key -> status`` of the combinations already re-run on ``engine``."""
        return dict(self.con.execute("SELECT key, status FROM verifications WHERE engine = ?", (engine,)).fetchall())

    def record_verification(self, key: str, engine: str, status: str, problems: list, summary: dict | None, duration: float) -> None:
        with self._tx():
            self._check_lease()
            self.con.execute("INSERT OR REPLACE INTO verifications VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (key, engine, status, json.dumps(problems), None if summary is None else json.dumps(summary, allow_nan=True, default=str),
                              duration, time.time()))

    def _check_lease(self, what: str = "its latest results were") -> None:
        """Inside a write transaction: raise (and mark the store lost) unless this process still holds the lease, so a
        sweep paused past the silence limit and taken over never writes over the new holder's rows."""
        holder = self.con.execute("SELECT token FROM lease WHERE id = 1").fetchone()
        if holder is None or holder[0] != self.token:
            self.lost = True
            raise InputError(Problem("this sweep lost its lease on the database (another sweep took it over after a long silence); "
                                     f"{what} not written; stopping", path=str(self.path), field="--db", expected="one sweep per database"))

    def _index_id(self, index: pd.DatetimeIndex) -> int:
        days = np.ascontiguousarray(index.values.astype("datetime64[D]").astype("<i8")).tobytes()
        sha = hashlib.sha256(days).hexdigest()
        if sha not in self._index_ids:
            self.con.execute("INSERT OR IGNORE INTO session_index (sha256, n, first, last, days) VALUES (?, ?, ?, ?, ?)",
                             (sha, len(index), index[0].date().isoformat() if len(index) else None,
                              index[-1].date().isoformat() if len(index) else None, days))
            self._index_ids[sha] = self.con.execute("SELECT id FROM session_index WHERE sha256 = ?", (sha,)).fetchone()[0]
        return self._index_ids[sha]

    def record(self, key: str, result) -> None:
        """Store one finished attempt (an :class:`backtests.sweeps.execute.TrialResult`) in its own transaction,
        only while this process still holds the lease (checked in that transaction): a sweep paused past the
        lease's silence limit and taken over by another never writes over the new holder's rows."""
        metrics = {k: None for k in SUMMARY_KEYS}
        blob = index_id = None
        with self._tx():
            self._check_lease("its result for this combination was")
            if result.error is None:
                for k in SUMMARY_KEYS:
                    v = result.summary.get(k)
                    if k in TEXT_METRICS:
                        metrics[k] = None if v is None else str(v)
                    else:
                        metrics[k] = None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
                r = result.returns
                blob = np.ascontiguousarray(r.to_numpy(dtype=float), dtype="<f8").tobytes()
                index_id = self._index_id(pd.DatetimeIndex(r.index))
            sets = ", ".join(f"{_q('m_' + k)} = ?" for k in SUMMARY_KEYS)
            self.con.execute(
                f"UPDATE combinations SET status = ?, attempts = attempts + 1, error = ?, duration = ?, worker = ?, finished = ?, {sets}, "
                "returns = ?, returns_index = ? WHERE key = ?",
                ("done" if result.error is None else "failed", result.error, result.duration, result.worker, time.time(),
                 *[metrics[k] for k in SUMMARY_KEYS], blob, index_id, key))


# ---------------------------------------------------------------- readers (anyone, any time)
def _reader(db: str | Path) -> sqlite3.Connection:
    db = Path(db)
    if not db.is_file():
        raise InputError(Problem("sweep database not found", path=str(db), expected="a database written by 'aibt sweep SPEC --db PATH'"))
    con = sqlite3.connect(str(db), timeout=30.0)
    try:
        ok = con.execute("SELECT value FROM meta WHERE name = 'app'").fetchone()
    except sqlite3.DatabaseError:
        ok = None
    if not ok or ok[0] != APP:
        con.close()
        raise InputError(Problem("not an aibt sweep database", path=str(db), expected="a database written by 'aibt sweep SPEC --db PATH'"))
    return con


def _meta(con, name, default=None):
    r = con.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
    return default if r is None else r[0]


def load_results(db: str | Path, *, include_stale: bool = False) -> pd.DataFrame:
    """One row per current combination: ``key, ordinal, status, error, attempts, duration, worker, engine``, one
    column per parameter (its dotted key; values as in the spec, lists included) and one column per summary.json
    key (floats; ``start``/``end`` as text). ``include_stale`` adds rows of earlier specs or earlier data.

    Read a page at a time, parameters extracted by SQLite (``json_extract``) and equal values shared, so a
    million-combination sweep loads in seconds and a few hundred megabytes."""
    con = _reader(db)
    where = "" if include_stale else "WHERE current = 1"
    try:
        order = json.loads(_meta(con, "param_keys", "[]"))
        found = [r[0] for r in con.execute(f"SELECT DISTINCT j.key FROM combinations, json_each(combinations.params) AS j {where}")]
        keys = list(order) + sorted(set(found) - set(order))
        paths = ['$."' + k.replace('"', '\\"') + '"' for k in keys]
        pcols = ", ".join("json_type(params, ?), json_extract(params, ?)" for _ in keys)
        mcols = ", ".join(_q("m_" + k) for k in SUMMARY_KEYS)
        sql = (f"SELECT key, ordinal, status, error, attempts, duration, worker, engine{', ' + pcols if keys else ''}, {mcols} "
               f"FROM combinations {where} ORDER BY ordinal, key")
        cur = con.execute(sql, [x for p in paths for x in (p, p)])
        book: dict = {c: [] for c in BOOKKEEPING}
        pvals: list = [[] for _ in keys]
        mvals: list = [[] for _ in SUMMARY_KEYS]
        shared: dict = {}  # equal strings and parameter values stored once

        def value(kind, v):
            if kind in ("array", "object"):
                if v not in shared:
                    shared[v] = json.loads(v)
                return shared[v]
            if kind in ("true", "false"):
                return kind == "true"
            if kind == "text":
                return shared.setdefault(v, v)
            return v  # integer, real, null (None)

        nb, npar = len(BOOKKEEPING), len(keys)
        while True:
            page = cur.fetchmany(20_000)
            if not page:
                break
            base = nb + 2 * npar
            for i, k in enumerate(SUMMARY_KEYS):  # numbers straight into arrays, a page at a time
                col = [r[base + i] for r in page]
                mvals[i].append(col if k in TEXT_METRICS else np.array(col, dtype=float))
            for r in page:
                for i, c in enumerate(BOOKKEEPING):
                    v = r[i]
                    book[c].append(shared.setdefault(v, v) if isinstance(v, str) and c != "key" else v)
                for i in range(npar):
                    pvals[i].append(value(r[nb + 2 * i], r[nb + 2 * i + 1]))

    finally:
        con.close()
    data = dict(book)
    for k, v in zip(keys, pvals):
        data[k] = v
    for k, v in zip(SUMMARY_KEYS, mvals):
        if k in TEXT_METRICS:
            data[k] = [shared.setdefault(x, x) for part in v for x in part]
        else:
            data[k] = np.concatenate(v) if v else np.zeros(0)
    out = pd.DataFrame(data, columns=BOOKKEEPING + keys + list(SUMMARY_KEYS))
    out["ordinal"] = out["ordinal"].astype("int64")
    out["attempts"] = out["attempts"].astype("int64")
    out["duration"] = out["duration"].astype("float64")
    for k in SUMMARY_KEYS:
        if k not in TEXT_METRICS:
            out[k] = out[k].astype("float64")
    return out


def load_returns(db: str | Path, keys=None) -> pd.DataFrame:
    """Daily strategy returns, sessions (DatetimeIndex ``date``) x combination keys, NaN outside a combination's
    sessions; the current finished combinations by default, else ``keys`` (those with stored returns)."""
    con = _reader(db)
    try:
        if keys is None:
            keys = [r[0] for r in con.execute("SELECT key FROM combinations WHERE current = 1 AND status = 'done' AND returns IS NOT NULL "
                                              "ORDER BY ordinal, key")]
        keys = list(dict.fromkeys(str(k) for k in keys))
        blobs: dict[str, tuple] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            q = f"SELECT key, returns, returns_index FROM combinations WHERE returns IS NOT NULL AND key IN ({','.join('?' * len(chunk))})"
            for k, b, ix in con.execute(q, chunk):
                blobs[k] = (b, ix)
        indexes = {}
        for ix in {ix for _, ix in blobs.values()}:
            days = con.execute("SELECT days FROM session_index WHERE id = ?", (ix,)).fetchone()[0]
            indexes[ix] = pd.DatetimeIndex(np.frombuffer(days, "<i8").astype("datetime64[D]").astype(_DATE_UNIT), name="date")
    finally:
        con.close()
    if not blobs:
        return pd.DataFrame(index=pd.DatetimeIndex([], name="date"))
    union = indexes[next(iter(indexes))]
    for ix in indexes.values():
        if not ix.equals(union):
            union = union.union(ix)
    union.name = "date"
    cols = {}
    for k in keys:
        if k in blobs:
            b, ix = blobs[k]
            s = pd.Series(np.frombuffer(b, "<f8").copy(), index=indexes[ix])
            cols[k] = s if indexes[ix].equals(union) else s.reindex(union)
    return pd.DataFrame(cols, index=union)


def load_spec_text(db: str | Path) -> str | None:
    """The text of the spec the latest call used, verbatim."""
    con = _reader(db)
    try:
        sha = _meta(con, "spec_sha")
        r = con.execute("SELECT text FROM specs WHERE sha256 = ?", (sha,)).fetchone() if sha else None
    finally:
        con.close()
    return None if r is None else r[0]


def count_done(db: str | Path) -> int:
    """Finished combinations, read without waiting on a running sweep (0 while the database cannot be read yet)."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("SELECT COUNT(*) FROM combinations WHERE status = 'done'").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def load_verifications(db: str | Path) -> pd.DataFrame:
    """The best combinations of a fast sweep re-run on another engine: ``key, engine, status, problems`` (list),
    ``summary`` (dict or None), ``duration``, ``finished`` (an empty frame for a database without any)."""
    con = _reader(db)
    try:
        try:
            rows = con.execute("SELECT key, engine, status, problems, summary, duration, finished FROM verifications ORDER BY finished").fetchall()
        except sqlite3.OperationalError:  # a database from before fast sweeps
            rows = []
    finally:
        con.close()
    out = pd.DataFrame(rows, columns=["key", "engine", "status", "problems", "summary", "duration", "finished"])
    out["problems"] = out["problems"].map(json.loads)
    out["summary"] = out["summary"].map(lambda s: None if s is None else json.loads(s))
    return out


def status(db: str | Path) -> dict:
    """Counts of the current combinations, the latest call's rate and ETA, and the lease holder."""
    con = _reader(db)
    try:
        counts = {s: 0 for s in ("done", "failed", "running", "pending")}
        for s, n in con.execute("SELECT status, COUNT(*) FROM combinations WHERE current = 1 GROUP BY status"):
            counts[s] = n
        started = float(_meta(con, "call_started", "0") or 0)
        n_call, last = con.execute("SELECT COUNT(*), MAX(finished) FROM combinations WHERE current = 1 AND finished >= ?", (started,)).fetchone()
        lease = con.execute("SELECT pid, host, since, heartbeat, command FROM lease WHERE id = 1").fetchone()
        spec_sha = _meta(con, "spec_sha")
        spec = con.execute("SELECT path FROM specs WHERE sha256 = ?", (spec_sha,)).fetchone() if spec_sha else None
        info = {k: _meta(con, k) for k in ("search", "metric", "direction", "engine")}
        call_total = _meta(con, "call_total")
    finally:
        con.close()
    now = time.time()
    holder = None
    if lease:
        pid, host, since, beat, cmd = lease
        alive = now - beat <= LEASE_STALE_S and (host != socket.gethostname() or pid_alive(pid))
        holder = {"pid": pid, "host": host, "since": since, "heartbeat_age": now - beat, "command": cmd, "alive": alive}
    running = holder is not None and holder["alive"]
    end = now if running else (last or now)
    rate = n_call / (end - started) if n_call and end > started else None
    counts["total"] = sum(counts.values())
    if info.get("search") == "optuna" and call_total:
        left = max(int(json.loads(call_total)) - counts["done"] - counts["failed"], 0)
    else:
        left = counts["pending"] + counts["running"]
    eta = left / rate if rate and running else None
    return {**counts, "finished_this_call": n_call, "rate": rate, "eta_s": eta, "left": left, "lease": holder, "running_now": running,
            "spec": spec[0] if spec else None, **info}
