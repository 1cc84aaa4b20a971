"""The dashboard's on-disk trial index: one sqlite file per experiment, in a cache folder.

:class:`ExperimentIndex` reads an experiment exactly as
:class:`~tunesmith.dashboard._source.ExperimentSource` does (the journal and each trial's
``result.json`` by byte offset, JSON only, nothing unpickled) but keeps each trial's
summary in sqlite instead of in memory, so the server holds what the current request
needs, not the experiment. Sorting, filtering, paging, counts, the best trial and the
search views are SQL queries; a filter is translated into a parameterized ``WHERE``
clause (column names and values travel as parameters, never pasted into the SQL).

The index lives in the dashboard's cache folder (``TUNESMITH_DASHBOARD_CACHE``), never in
the experiment folder, which may be read-only or on an object store. It is reused by the
next dashboard over the same experiment and read on from where it stopped; it is rebuilt
when it is stale (the journal shrank, or its first record changed: the folder was
reused for another run) or was written by another index version.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import sqlite3
import tempfile
from typing import Any, Iterable, Iterator

from tunesmith._flatten import flatten_dict
from tunesmith.dashboard._source import (
    _STATES, ExperimentSource, TrialEntry, TrialEvent, TrialState, _apply_trial, _lines,
)
from tunesmith.dashboard._table import TableFilter
from tunesmith.storage._storage import JOURNAL_FILE

__all__ = ["INDEX_VERSION", "ExperimentIndex", "index_path"]

INDEX_VERSION = 3  # 2: trials.stopped_by; 3: trials_done
JOURNAL_STEP = 1 << 20  # bytes of journal applied per transaction: about 2,000 trials
RESULT_STEP = 2000  # trials whose result files are read per transaction
_HEAD_BYTES = 1 << 16

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value);
CREATE TABLE trials (
    idx INTEGER PRIMARY KEY, trial_id TEXT NOT NULL UNIQUE, tag TEXT, config TEXT, dirname TEXT,
    status TEXT, num_failures INTEGER, started REAL, ended REAL, events TEXT, iterations INTEGER,
    time_total_s REAL, last REAL, best REAL, last_metrics TEXT, error TEXT, result_offset INTEGER,
    result_partial BLOB, settled INTEGER, stopped_by TEXT
);
CREATE INDEX trials_best ON trials (best);
CREATE INDEX trials_done ON trials (COALESCE(ended, started, 0), idx);  -- best so far, in the order trials ended
CREATE INDEX trials_unsettled ON trials (idx) WHERE settled = 0 AND dirname IS NOT NULL;
CREATE TABLE cells (name TEXT NOT NULL, trial INTEGER NOT NULL, num REAL, text TEXT, PRIMARY KEY (name, trial))
    WITHOUT ROWID;
CREATE INDEX cells_num ON cells (name, num);
"""
_TRIAL_COLUMNS = ("idx", "trial_id", "tag", "config", "dirname", "status", "num_failures", "started", "ended",
                  "events", "iterations", "time_total_s", "last", "best", "last_metrics", "error", "result_offset",
                  "result_partial", "settled", "stopped_by")
_SELECT = f"SELECT {', '.join(_TRIAL_COLUMNS)} FROM trials"
_INSERT = f"INSERT OR REPLACE INTO trials VALUES ({', '.join('?' * len(_TRIAL_COLUMNS))})"

# The table's fixed columns, as SQL over ``trials t``: (numeric value, text value). Only
# these identifiers are ever written into a query; every other column is a cell.
_FIXED = {
    "trial_id": ("NULL", "t.trial_id"),
    "status": ("NULL", "t.status"),
    "iter": ("t.iterations", "CAST(t.iterations AS TEXT)"),
    "total time (s)": ("ROUND(t.time_total_s, 3)", "CAST(ROUND(t.time_total_s, 3) AS TEXT)"),
    "num_failures": ("t.num_failures", "CAST(t.num_failures AS TEXT)"),
    "stopped_by": ("NULL", "t.stopped_by"),
}
_COMPARE = {"==": "=", "=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def index_path(cache_dir: str, url: str) -> str:
    """The index file of the experiment at ``url`` (a local folder's absolute path or a URL)."""
    name = url.rstrip("/").rsplit("/", 1)[-1] or "experiment"
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:24]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:60]
    return os.path.join(cache_dir, f"{safe}-{digest}.sqlite")


def _contains(text: Any, needle: Any) -> bool:
    """The filter language's ``~``: case-insensitive containment, as the in-memory table does it."""
    return text is not None and str(needle).lower() in str(text).lower()


class ExperimentIndex(ExperimentSource):
    """An experiment read into a sqlite index in ``cache_dir``; see the module docstring.

    It holds no list of trials: :attr:`trials` stays empty, and every question goes to
    the index (:meth:`count`, :meth:`counts`, :meth:`best_trial`, :meth:`select`, ...).
    Not thread-safe: the dashboard calls it under its lock.

    Args:
        path: The experiment folder or URL.
        cache_dir: Folder for the index file (created if missing).
        filesystem: An fsspec filesystem for a URL.
    """

    def __init__(self, path: str | os.PathLike, cache_dir: str, filesystem: Any = None) -> None:
        super().__init__(path, filesystem)
        os.makedirs(cache_dir, exist_ok=True)
        key = os.path.abspath(self.files.root) if self.files.local else self.path
        self.index_file = index_path(cache_dir, key)
        self._owner_fd = _try_lock(self.index_file + ".lock")
        if self._owner_fd is None:  # another dashboard keeps this index: a private one, deleted at close
            fd, self.index_file = tempfile.mkstemp(dir=cache_dir, suffix=".sqlite", prefix="private-")
            os.close(fd)
            os.unlink(self.index_file)
        self._private = self._owner_fd is None
        self._metrics: set[str] = set()
        self._count = 0
        self._touched: dict[str, TrialEntry] = {}
        self._head_saved = False
        self.db = self._open()

    # -- the index file ------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        db = _connect(self.index_file)
        if self._usable(db):
            self._load_meta(db)
            return db
        db.close()
        _remove(self.index_file)
        db = _connect(self.index_file)
        db.executescript(_SCHEMA)
        with db:
            db.execute("INSERT INTO meta VALUES ('version', ?)", (INDEX_VERSION,))
        return db

    def _usable(self, db: sqlite3.Connection) -> bool:
        """Whether ``db`` is an index of this version for this journal, as it is now."""
        try:
            meta = dict(db.execute("SELECT key, value FROM meta"))
        except sqlite3.DatabaseError:
            return False
        if meta.get("version") != INDEX_VERSION:
            return False
        size = self.files.size(self.files.join(JOURNAL_FILE))
        head, stored = self._head(), meta.get("head")
        return size >= int(meta.get("journal_offset") or 0) and (not stored or not head or stored == head)

    def _head(self) -> bytes:
        data = self.files.read_from(self.files.join(JOURNAL_FILE), 0, _HEAD_BYTES)
        cut = data.find(b"\n")
        return data[:cut] if cut >= 0 else b""

    def _load_meta(self, db: sqlite3.Connection) -> None:
        meta = dict(db.execute("SELECT key, value FROM meta"))
        self._journal_offset = int(meta.get("journal_offset") or 0)
        self._journal_partial = meta.get("journal_partial") or b""
        experiment = json.loads(meta.get("experiment") or "{}")
        self.metric, self.mode = experiment.get("metric"), experiment.get("mode")
        self.trainable = experiment.get("trainable") or "trainable"
        self.started, self.last_time = experiment.get("started"), experiment.get("last_time")
        self.finished, self.interrupted = bool(experiment.get("finished")), bool(experiment.get("interrupted"))
        self._metrics = set(experiment.get("metrics") or ())
        self._count = db.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
        self._head_saved = bool(meta.get("head"))

    def _save_meta(self) -> None:
        experiment = {"metric": self.metric, "mode": self.mode, "trainable": self.trainable, "started": self.started,
                      "last_time": self.last_time, "finished": self.finished, "interrupted": self.interrupted,
                      "metrics": sorted(self._metrics)}
        rows = [("journal_offset", self._journal_offset), ("journal_partial", self._journal_partial),
                ("experiment", json.dumps(experiment))]
        if self._journal_offset and not self._head_saved:  # once: on an object store, each read is a request
            rows.append(("head", self._head()))
            self._head_saved = True
        self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", rows)

    def close(self) -> None:
        """Close the index (a private one is deleted)."""
        self.db.close()
        if self._private:
            _remove(self.index_file)
        elif self._owner_fd is not None:
            os.close(self._owner_fd)
            self._owner_fd = None

    # -- reading the experiment into the index ---------------------------------------------------
    def refresh(self, results: bool = True, max_bytes: int | None = None) -> "ExperimentIndex":
        """Apply what was appended to the journal, at most ``max_bytes`` of it (default: all,
        a step at a time); with ``results``, then read the new rows of the result files."""
        while True:
            step = min(max_bytes, JOURNAL_STEP) if max_bytes is not None else JOURNAL_STEP
            new = self.files.read_from(self.files.join(JOURNAL_FILE), self._journal_offset, step)
            self.caught_up = len(new) < step
            records, partial = _lines(self._journal_partial + new)
            with self.db:
                self._touched = {}
                for record in records:
                    self._apply(record)
                self._write(self._touched.values())
                self._touched = {}
                self._journal_offset += len(new)
                self._journal_partial = partial
                self._save_meta()
            if records:
                self.version += 1
            if self.caught_up or max_bytes is not None:
                break
        self._check_driver()
        if results:
            self.refresh_results()
        return self

    def _apply(self, record: dict[str, Any]) -> None:
        event, now = record.get("event"), record.get("time") or 0.0
        if event == "experiment_started":
            self.db.execute("DELETE FROM trials")
            self.db.execute("DELETE FROM cells")
            self._touched, self._count, self._metrics = {}, 0, set()
            super()._apply(record)
        elif event == "trial_added":
            self.last_time = now or self.last_time
            entry = TrialEntry(self._count, record["trial_id"], record.get("tag", ""), record.get("config") or {})
            self._count += 1
            self._touched[entry.trial_id] = entry
        elif event in ("experiment_finished", "experiment_restored"):
            super()._apply(record)
        else:
            self.last_time = now or self.last_time
            entry = self._touched.get(record.get("trial_id", "")) or self.trial(record.get("trial_id", ""))
            if entry is not None:
                self._touched[entry.trial_id] = entry
                _apply_trial(entry, event, record, now)

    def _write(self, entries: Iterable[TrialEntry], params: bool = True) -> None:
        """Store ``entries`` and their cells (without ``params``: only the metrics', for a
        read of result files, which leaves the config as it was)."""
        entries = list(entries)
        self.db.executemany(_INSERT, [_trial_values(e) for e in entries])
        self.db.executemany("INSERT OR REPLACE INTO cells VALUES (?, ?, ?, ?)",
                            [cell for e in entries for cell in self._cells(e, params)])
        for entry in entries:
            self._metrics.update(entry.last_metrics)

    def _cells(self, entry: TrialEntry, params: bool) -> Iterator[tuple[str, int, float | None, str | None]]:
        for key, value in entry.params().items() if params else ():
            yield (f"config/{key}", entry.index, *_cell(value))
        for key, value in entry.last_metrics.items():
            yield (key, entry.index, value, str(value))

    def _running_to_pending(self) -> None:
        with self.db:
            if self.db.execute("UPDATE trials SET status = ? WHERE status = ?",
                               (TrialState.PENDING.value, TrialState.RUNNING.value)).rowcount:
                self.version += 1

    def refresh_results(self, trials: list[TrialEntry] | None = None) -> int:
        """Read the new rows of the result files of ``trials`` (default: every trial that
        may still grow, :data:`RESULT_STEP` at a time); the number of rows read."""
        if trials is not None:
            return self._read_some(trials)
        count, after = 0, -1
        while after is not None:
            read, after = self.refresh_results_step(after)
            count += read
        return count

    def refresh_results_step(self, after: int, limit: int = RESULT_STEP) -> tuple[int, int | None]:
        """Read the result files of the next ``limit`` trials that may still grow, past
        index ``after``: ``(rows read, where to go on from, or None at the end)``."""
        rows = self.db.execute(f"{_SELECT} WHERE settled = 0 AND dirname IS NOT NULL AND idx > ? ORDER BY idx LIMIT ?",
                               (after, limit)).fetchall()
        entries = [_entry(row) for row in rows]
        return self._read_some(entries), (entries[-1].index if len(entries) == limit else None)

    def _read_some(self, entries: list[TrialEntry]) -> int:
        count, changed = 0, []
        for entry in entries:
            if entry.dirname is None or entry.settled:
                continue
            finished, before = entry.status.is_finished(), entry.result_offset
            read = self._read_results(entry)
            entry.settled = finished
            count += read
            if read or finished or entry.result_offset != before:
                changed.append(entry)
        if changed:
            with self.db:
                self._write(changed, params=False)
                self._save_meta()
        if count:
            self.version += 1
        return count

    # -- questions ------------------------------------------------------------------------------
    def trial(self, trial_id: str) -> TrialEntry | None:
        row = self.db.execute(f"{_SELECT} WHERE trial_id = ?", (trial_id,)).fetchone()
        return _entry(row) if row else None

    def trials_at(self, indexes: list[int]) -> list[TrialEntry]:
        """The trials at these positions (in journal order), in the order asked."""
        found: dict[int, TrialEntry] = {}
        for start in range(0, len(indexes), 500):
            chunk = indexes[start:start + 500]
            query = f"{_SELECT} WHERE idx IN ({', '.join('?' * len(chunk))})"
            found.update((row[0], _entry(row)) for row in self.db.execute(query, chunk))
        return [found[i] for i in indexes if i in found]

    def count(self) -> int:
        return self._count

    def counts(self) -> dict[str, int]:
        counts = {state.value: 0 for state in TrialState}
        counts.update(self.db.execute("SELECT status, COUNT(*) FROM trials GROUP BY status"))
        return counts

    def summarised(self) -> int:
        """How many trials have had their result file read (or have none yet)."""
        return self.db.execute("SELECT COUNT(*) FROM trials WHERE result_offset > 0 OR dirname IS NULL").fetchone()[0]

    def metric_names(self) -> list[str]:
        first = [self.metric] if self.metric in self._metrics else []
        return first + sorted(self._metrics - set(first))

    def param_names(self, sample: int = 200) -> list[str]:
        names: dict[str, None] = {}
        for (config,) in self.db.execute("SELECT config FROM trials ORDER BY idx LIMIT ?", (sample,)):
            names.update(dict.fromkeys(_params(json.loads(config))))
        return list(names)

    def best_trial(self) -> TrialEntry | None:
        order = "DESC" if self.mode == "max" else "ASC"
        row = self.db.execute(f"{_SELECT} WHERE best IS NOT NULL ORDER BY best {order}, idx LIMIT 1").fetchone()
        return _entry(row) if row else None

    def select(self, filters: list[TableFilter], sort: str | None, descending: bool | None, offset: int,
               limit: int) -> tuple[int, list[TrialEntry]]:
        """``(number of matching trials, the trials of the asked page)``, as
        :func:`tunesmith.dashboard._table.select` orders them: missing values last, the
        best first when sorting by the experiment's metric."""
        query = _Query(self)
        where = [query.condition(f) for f in filters]
        where_sql = f" WHERE {' AND '.join(where)}" if where else ""
        total = (self.db.execute(f"SELECT COUNT(*) FROM trials t{query.joins()}{where_sql}", query.params).fetchone()[0]
                 if where else self._count)
        order = "t.idx"
        if sort:
            if descending is None:
                descending = sort in (self.metric, f"best {self.metric}") and self.mode == "max"
            num, text = query.column(sort)
            way = "DESC" if descending else "ASC"
            order = f"({num} IS NULL AND {text} IS NULL), {num} IS NULL, {num} {way}, {text} {way}, t.idx"
        sql = f"SELECT t.idx FROM trials t{query.joins()}{where_sql} ORDER BY {order} LIMIT ? OFFSET ?"
        indexes = [i for (i,) in self.db.execute(sql, [*query.params, limit, offset])]
        return total, self.trials_at(indexes)

    def completed_values(self, metric: str) -> Iterator[tuple[int, float, float | None]]:
        """``(index, value, when)`` of every trial with a value of ``metric`` (its best for
        the experiment's metric, else its last), in the order they ended; streamed."""
        value = "t.best" if metric == self.metric else "c.num"
        join = "" if metric == self.metric else " JOIN cells c ON c.name = ? AND c.trial = t.idx"
        params = [] if metric == self.metric else [metric]
        cursor = self.db.execute(
            f"SELECT t.idx, {value}, COALESCE(t.ended, t.started) FROM trials t{join} WHERE {value} IS NOT NULL "
            "ORDER BY COALESCE(t.ended, t.started, 0), t.idx", params)
        while rows := cursor.fetchmany(1000):
            yield from rows

    def sample(self, metric: str, size: int, top: int) -> list[tuple[int, float]]:
        """At most ``size`` trials with a value of ``metric``: the ``top`` best, the rest a
        seeded uniform sample of the others (reservoir: nothing proportional is held)."""
        value = "t.best" if metric == self.metric else "c.num"
        join = "" if metric == self.metric else " JOIN cells c ON c.name = ? AND c.trial = t.idx"
        params = [] if metric == self.metric else [metric]
        way = "DESC" if self.mode == "max" else "ASC"
        cursor = self.db.execute(f"SELECT t.idx, {value} FROM trials t{join} WHERE {value} IS NOT NULL "
                                 f"ORDER BY {value} {way}, t.idx", params)
        best = cursor.fetchmany(top)
        rest: list[tuple[int, float]] = []
        rng, seen = random.Random(0), 0
        for row in cursor:
            seen += 1
            if len(rest) < size - top:
                rest.append(row)
            else:
                slot = rng.randrange(seen)
                if slot < size - top:
                    rest[slot] = row
        return best + rest


class _Query:
    """The joins and parameters of one ``select``: a table column becomes SQL from a fixed
    list, or a join to ``cells`` whose name is a parameter."""

    def __init__(self, index: ExperimentIndex) -> None:
        self.index = index
        self._joins: dict[str, str] = {}  # column name -> its alias
        self._where: list[Any] = []

    @property
    def params(self) -> list[Any]:
        """The joins' parameters (the cell names), then the conditions': their order in the SQL."""
        return [*self._joins, *self._where]

    def joins(self) -> str:
        return "".join(f" LEFT JOIN cells {alias} ON {alias}.name = ? AND {alias}.trial = t.idx"
                       for alias in self._joins.values())

    def column(self, name: str) -> tuple[str, str]:
        """``(numeric SQL, text SQL)`` of the table column ``name``."""
        if name in _FIXED:
            return _FIXED[name]
        if name == "trial_name":
            return "NULL", "t.trial_id"  # the trainable's prefix is the same for every trial
        if self.index.metric and name == f"best {self.index.metric}":
            return "t.best", "CAST(t.best AS TEXT)"
        alias = self._joins.setdefault(name, f"c{len(self._joins)}")
        return f"{alias}.num", f"{alias}.text"

    def condition(self, table_filter: TableFilter) -> str:
        """SQL for ``column OP value`` with :class:`TableFilter`'s meaning (see its ``__call__``)."""
        name, want = table_filter.column, table_filter.value
        if name == "trial_name":
            return self._text_condition("t.trial_id", table_filter.op, str(want), f"{self.index.trainable}_")
        num, text = self.column(name)
        if table_filter.op == "~":
            return self._add(f"tunesmith_contains({text}, ?)", str(want))
        op = _COMPARE[table_filter.op]
        if isinstance(want, float):
            return self._add(f"(CASE WHEN {num} IS NOT NULL THEN {num} {op} ? ELSE {text} {op} ? END)", want, str(want))
        if op == "=":
            return self._add(f"({num} IS NULL AND {text} = ?)", want)
        if op == "!=":
            return self._add(f"({text} IS NOT NULL AND ({num} IS NOT NULL OR {text} != ?))", want)
        return self._add(f"{text} {op} ?", want)

    def _text_condition(self, column: str, op: str, want: str, prefix: str) -> str:
        if op == "~":
            return self._add(f"tunesmith_contains(? || {column}, ?)", prefix, want)
        return self._add(f"(? || {column}) {_COMPARE[op]} ?", prefix, want)

    def _add(self, sql: str, *params: Any) -> str:
        self._where.extend(params)
        return sql


def _connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level="DEFERRED")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")  # a cache: a crash costs a re-index, never data
    db.execute("PRAGMA cache_size = -8000")  # 8 MB of pages at most: bounded, whatever the experiment
    db.execute("PRAGMA temp_store = FILE")
    db.create_function("tunesmith_contains", 2, _contains, deterministic=True)
    return db


def _remove(path: str) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path + suffix)


def _try_lock(path: str) -> int | None:
    """An exclusive lock on ``path`` held by this process, or None when another holds it."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): share the index and hope for one dashboard
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _params(config: dict[str, Any]) -> dict[str, Any]:
    if not any(isinstance(value, dict) for value in config.values()):
        return config
    return flatten_dict(config, delimiter="/")


def _cell(value: Any) -> tuple[float | None, str | None]:
    if value is None:
        return None, None
    if isinstance(value, (int, float)) and value == value:  # NaN: no number
        return float(value), str(value)
    return None, str(value)


def _trial_values(entry: TrialEntry) -> tuple:
    events = [[e.time, e.kind, e.text] for e in entry.events] if entry.events is not None else None
    return (entry.index, entry.trial_id, entry.tag, _dumps(entry.config), entry.dirname,
            entry.status.value, entry.num_failures, entry.started, entry.ended,
            _dumps(events) if events is not None else None, entry.iterations, entry.time_total_s, entry.last,
            entry.best, _dumps(entry.last_metrics), entry.error, entry.result_offset, entry.result_partial,
            int(entry.settled), entry.stopped_by)


def _dumps(value: Any) -> str:
    """JSON text, by orjson when it is installed (the dashboard extra brings it: indexing
    100,000 trials writes 300,000 of these)."""
    try:
        import orjson
    except ImportError:
        return json.dumps(value, default=str)
    try:
        return orjson.dumps(value, default=str).decode()
    except TypeError:  # an integer past 64 bits, a non-string key: the slow road
        return json.dumps(value, default=str)


def _entry(row: tuple) -> TrialEntry:
    (index, trial_id, tag, config, dirname, status, num_failures, started, ended, events, iterations, time_total_s,
     last, best, last_metrics, error, result_offset, result_partial, settled, stopped_by) = row
    return TrialEntry(
        index, trial_id, tag, json.loads(config), dirname, _STATES.get(status, TrialState.PENDING), num_failures,
        started, ended, [TrialEvent(*e) for e in json.loads(events)] if events else None, iterations, time_total_s,
        last, best, json.loads(last_metrics), error, result_offset, bytes(result_partial or b""), bool(settled),
        stopped_by)
