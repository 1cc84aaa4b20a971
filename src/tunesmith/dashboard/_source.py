"""Reading experiments for the ``tunesmith`` command and the dashboard: the one adapter.

Everything the CLI and the dashboard know about an experiment comes through this module,
so a change of the journal's format is a change here only. It reads JSON only: the
journal's records (their JSON ``config`` view, never ``config_pkl``), and each trial's
``result.json`` and ``error.txt``. Nothing is unpickled.

Files are read by byte offset: a second :meth:`ExperimentSource.refresh` reads only what
was appended since the first, on a local folder or any fsspec URL (where it polls).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import os
import time
from typing import Any, Iterator

from tunesmith._flatten import flatten_dict
from tunesmith.storage._lock import driver_alive
from tunesmith.storage._storage import JOURNAL_FILE, split_url

__all__ = ["ExperimentSource", "ExperimentState", "TrialEntry", "TrialEvent", "TrialState", "list_experiments"]

# Keys every result row has: not metrics a user reported.
AUTO_KEYS = frozenset({
    "timestamp", "checkpoint_dir_name", "done", "training_iteration", "trial_id", "date", "time_this_iter_s",
    "time_total_s", "pid", "hostname", "node_ip", "time_since_restore", "iterations_since_restore", "config",
    "should_checkpoint",
})


class ExperimentState(str, enum.Enum):
    """Whether an experiment's driver is still at work."""

    RUNNING = "running"
    FINISHED = "finished"
    INTERRUPTED = "interrupted"

    def __str__(self) -> str:
        return self.value


class TrialState(str, enum.Enum):
    """A trial's status as the journal tells it (Ray Tune's status strings)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    TERMINATED = "TERMINATED"
    ERROR = "ERROR"

    def is_finished(self) -> bool:
        return self in _FINISHED

    def __str__(self) -> str:
        return self.value


_PENDING, _RUNNING, _PAUSED, _TERMINATED, _ERROR = (TrialState.PENDING, TrialState.RUNNING, TrialState.PAUSED,
                                                    TrialState.TERMINATED, TrialState.ERROR)
_STATES = {state.value: state for state in TrialState}
_FINISHED = frozenset({_TERMINATED, _ERROR})


@dataclasses.dataclass
class TrialEvent:
    """A scheduler's or the controller's decision about a trial, for the curves."""

    time: float
    kind: str  # started, paused, exploited, failed, finished
    text: str


@dataclasses.dataclass(eq=False, slots=True)
class TrialEntry:
    """One trial: what the journal says, and a summary of its ``result.json``.

    Only the summary is kept (iterations, last and best value of the experiment's metric,
    the metric names seen); the rows themselves are read when a curve is asked for.
    """

    index: int
    trial_id: str
    tag: str
    config: dict[str, Any]
    dirname: str | None = None
    status: TrialState = _PENDING
    num_failures: int = 0
    started: float | None = None
    ended: float | None = None
    events: list[TrialEvent] | None = None  # decisions only (paused, exploited, failed, restored); None: none yet
    iterations: int = 0
    time_total_s: float = 0.0
    last: float | None = None
    best: float | None = None
    last_metrics: dict[str, float] = dataclasses.field(default_factory=dict)  # the last row's numeric metrics
    error: str | None = None
    result_offset: int = 0
    result_partial: bytes = b""
    settled: bool = False  # finished, and its result file read to the end since
    stopped_by: str | None = None  # "scheduler" or "stopper": who ended it early (the journal's stopped_by)

    def params(self) -> dict[str, Any]:
        """The flattened config: ``{"model/lr": 0.1}`` (the config itself when it is flat already)."""
        if not any(isinstance(value, dict) for value in self.config.values()):
            return self.config
        return flatten_dict(self.config, delimiter="/")

    def add_event(self, event: TrialEvent) -> None:
        if self.events is None:
            self.events = []
        self.events.append(event)

    def timeline(self) -> list[TrialEvent]:
        """Started, the decisions, finished: in order."""
        first = [TrialEvent(self.started, "started", "started")] if self.started is not None else []
        last = []
        if self.ended is not None and self.stopped_by:
            last = [TrialEvent(self.ended, "stopped", f"stopped by the {self.stopped_by}: {self.status}")]
        elif self.ended is not None:
            last = [TrialEvent(self.ended, "finished", f"finished: {self.status}")]
        return first + list(self.events or ()) + last


class _Files:
    """Byte-level reads on a local folder or an fsspec filesystem."""

    def __init__(self, path: str | os.PathLike, filesystem: Any = None) -> None:
        self.fs, self.root, self.local = split_url(path, filesystem)
        if self.local:
            self.fs = None
        self.url = os.fspath(path)

    def join(self, *parts: str) -> str:
        return os.path.join(self.root, *parts) if self.local else "/".join([self.root.rstrip("/"), *parts])

    def read_from(self, path: str, offset: int, size: int = -1) -> bytes:
        """The bytes of ``path`` from ``offset`` on, at most ``size`` of them when it is
        not negative (empty if the file does not exist)."""
        try:
            if self.local:
                with open(path, "rb") as f:
                    f.seek(offset)
                    return f.read(size)
            self.fs.invalidate_cache(path)  # an object store: the file may have been uploaded again since
            with self.fs.open(path, "rb") as f:
                f.seek(offset)
                return f.read(size)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return b""

    def size(self, path: str) -> int:
        try:
            if self.local:
                return os.stat(path).st_size
            self.fs.invalidate_cache(path)
            return int(self.fs.size(path))
        except (FileNotFoundError, OSError):
            return -1

    def listdir(self, path: str) -> list[str]:
        try:
            if self.local:
                return sorted(e.name for e in os.scandir(path) if e.is_dir())
            self.fs.invalidate_cache(path)
            return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(path, detail=False)
                          if self.fs.isdir(p))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def invalidate(self) -> None:
        if self.fs is not None:
            self.fs.invalidate_cache()


def _lines(data: bytes) -> tuple[list[dict[str, Any]], bytes]:
    """The complete JSON lines of ``data`` and the unfinished tail (kept for the next read)."""
    if not data:
        return [], b""
    cut = data.rfind(b"\n") + 1
    lines = [line for line in data[:cut].decode("utf-8", errors="replace").splitlines() if line.strip()]
    try:  # one parse for the whole chunk: several times faster than a call per line
        records = _loads("[" + ",".join(lines) + "]")
        if all(isinstance(record, dict) for record in records):
            return [record for record in records if _readable(record)], data[cut:]
    except ValueError:
        pass  # a torn or corrupt line somewhere: line by line, skipping it
    records = []
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            continue  # a torn line (a crash mid-write): skipped, as the journal reader does
        if isinstance(value, dict) and _readable(value):
            records.append(value)
    return records, data[cut:]


def _readable(record: dict[str, Any]) -> bool:
    """Whether a journal record can be applied: a trial's record names its trial by a string
    (a corrupt one is skipped, as a torn line is, instead of failing every refresh)."""
    trial_id = record.get("trial_id")
    if record.get("event") == "trial_added":
        return isinstance(trial_id, str)
    return trial_id is None or isinstance(trial_id, str)


def _loads(text: str) -> Any:
    """``json.loads``, by orjson when it is installed (the dashboard extra brings it: a
    100,000-trial journal parses several times faster)."""
    try:
        import orjson
    except ImportError:
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:  # NaN/Infinity, which json accepts and orjson does not
        try:
            return json.loads(text)
        except ValueError:
            raise ValueError(str(exc)) from None


DRIVER_CHECK_S = 2.0  # how often an unfinished experiment's driver lock is probed


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


class ExperimentSource:
    """An experiment folder (local path or fsspec URL), read incrementally.

    Args:
        path: The experiment folder, e.g. ``~/tunesmith_results/my_exp`` or ``s3://bucket/exp``.
        filesystem: An fsspec filesystem for a URL; inferred when omitted.

    Raises:
        FileNotFoundError: ``path`` has no ``journal.jsonl``.

    Example:
        >>> source = ExperimentSource("/tmp/tunesmith_doctest/ea")  # doctest: +SKIP
        >>> [t.status for t in source.refresh().trials]  # doctest: +SKIP
        [TERMINATED, TERMINATED]
    """

    def __init__(self, path: str | os.PathLike, filesystem: Any = None) -> None:
        self.files = _Files(path, filesystem)
        self.path = self.files.url
        self.name = self.files.root.rstrip("/").rsplit("/", 1)[-1]
        if self.files.size(self.files.join(JOURNAL_FILE)) < 0:
            raise FileNotFoundError(f"{self.path!r} is not an experiment folder: it has no {JOURNAL_FILE}")
        self.metric: str | None = None
        self.trainable = "trainable"
        self.mode: str | None = None
        self.started: float | None = None
        self.last_time: float | None = None
        self.finished = False
        self.interrupted = False
        self.trials: list[TrialEntry] = []
        self._by_id: dict[str, TrialEntry] = {}
        self._journal_offset = 0
        self.caught_up = False
        self._journal_partial = b""
        self.version = 0  # grows whenever something new was read
        self.driver_gone = False  # unfinished, and no driver holds it: its RUNNING trials read PENDING
        self._driver_checked = -math.inf

    # -- journal --------------------------------------------------------------------------
    def refresh(self, results: bool = True, max_bytes: int | None = None) -> "ExperimentSource":
        """Read what was appended to the journal (and, with ``results``, to the result files).

        With ``max_bytes``, at most that much of the journal: a large experiment is read in
        steps, and :attr:`caught_up` says whether the journal was read to its end.
        """
        new = self.files.read_from(self.files.join(JOURNAL_FILE), self._journal_offset,
                                   -1 if max_bytes is None else max_bytes)
        self.caught_up = max_bytes is None or len(new) < max_bytes
        data = self._journal_partial + new
        self._journal_offset += len(new)
        records, self._journal_partial = _lines(data)
        for record in records:
            self._apply(record)
        if records:
            self.version += 1
        self._check_driver()
        if results:
            self.refresh_results()
        return self

    def _check_driver(self) -> None:
        """Once the journal is read to its end without ``experiment_finished``: has the driver
        died? (At most every :data:`DRIVER_CHECK_S`.) If so, the trials it was running read
        PENDING, as Ray Tune reads them after a crash; a restore's journal records move them on."""
        if self.finished or not self.caught_up:
            self.driver_gone = False
            return
        if time.monotonic() - self._driver_checked < DRIVER_CHECK_S:
            return
        self._driver_checked = time.monotonic()
        self.driver_gone = not driver_alive(self.files.root, self.files.fs)
        if self.driver_gone:
            self._running_to_pending()

    def _running_to_pending(self) -> None:
        for trial in self.trials:
            if trial.status is _RUNNING:
                trial.status = _PENDING
                self.version += 1

    def _apply(self, record: dict[str, Any]) -> None:
        event, now = record.get("event"), record.get("time") or 0.0
        self.last_time = now or self.last_time
        trial = self._by_id.get(record.get("trial_id", ""))
        if event == "experiment_started":
            self.metric, self.mode = record.get("metric"), record.get("mode")
            self.trainable = str(record.get("trainable") or "trainable")
            self.started, self.finished, self.interrupted = now, False, False
            self.trials, self._by_id = [], {}
        elif event == "trial_added":
            entry = TrialEntry(len(self.trials), record["trial_id"], record.get("tag", ""), record.get("config") or {})
            self.trials.append(entry)
            self._by_id[entry.trial_id] = entry
        elif event == "experiment_finished":
            self.finished, self.interrupted = True, bool(record.get("interrupted"))
        elif event == "experiment_restored":
            self.finished = self.interrupted = False
        elif trial is not None:
            _apply_trial(trial, event, record, now)

    # -- results ---------------------------------------------------------------------------
    def refresh_results(self, trials: list[TrialEntry] | None = None) -> int:
        """Read the new rows of the result files of ``trials`` (default: every trial that
        may still grow); the number of rows read."""
        count = 0
        for trial in self.trials if trials is None else trials:
            if trial.dirname is None or trial.settled:
                continue
            finished = trial.status in _FINISHED  # its last rows were written before the journal said so
            count += self._read_results(trial)
            trial.settled = finished
        if count:
            self.version += 1
        return count

    def _read_results(self, trial: TrialEntry) -> int:
        assert trial.dirname is not None
        path = self.files.join(trial.dirname, "result.json")
        data = trial.result_partial + self.files.read_from(path, trial.result_offset)
        trial.result_offset += len(data) - len(trial.result_partial)
        rows, trial.result_partial = _lines(data)
        for row in rows:
            self._summarise(trial, row)
        if trial.status is _ERROR and trial.error is None:
            trial.error = self.error_text(trial)
        return len(rows)

    def _summarise(self, trial: TrialEntry, row: dict[str, Any]) -> None:
        trial.iterations = int(row.get("training_iteration") or trial.iterations + 1)
        trial.time_total_s = _number(row.get("time_total_s")) or trial.time_total_s
        for key, raw in row.items():
            value = _number(raw) if key not in AUTO_KEYS else None
            if value is not None:
                trial.last_metrics[key] = value
        value = _number(row.get(self.metric)) if self.metric else None
        if value is not None:
            trial.last = value
            if trial.best is None or (value < trial.best if self.mode != "max" else value > trial.best):
                trial.best = value

    def rows(self, trial: TrialEntry) -> Iterator[dict[str, Any]]:
        """Every intact row of the trial's ``result.json`` (read now, not kept)."""
        if trial.dirname is None:
            return iter(())
        records, _ = _lines(self.files.read_from(self.files.join(trial.dirname, "result.json"), 0))
        return iter(records)

    def error_text(self, trial: TrialEntry) -> str | None:
        """The trial's ``error.txt`` (its traceback), or the journal's one-line error."""
        if trial.dirname is not None:
            text = self.files.read_from(self.files.join(trial.dirname, "error.txt"), 0)
            if text:
                return text.decode("utf-8", errors="replace")
        failed = [e.text for e in trial.events or () if e.kind == "failed"]
        return failed[-1] if failed else None

    def trial_name(self, trial: TrialEntry) -> str:
        """Ray Tune's trial name: ``<trainable>_<trial_id>``."""
        return f"{self.trainable}_{trial.trial_id}"

    def metric_names(self) -> list[str]:
        """Every metric some trial reported, the experiment's own first."""
        names = {name for trial in self.trials for name in trial.last_metrics}
        first = [self.metric] if self.metric in names else []
        return first + sorted(names - set(first))

    def trial(self, trial_id: str) -> TrialEntry | None:
        return self._by_id.get(trial_id)

    # -- the experiment as a whole ------------------------------------------------------------
    def state(self) -> ExperimentState:
        """Finished or interrupted as the journal's last record says; otherwise running while
        a live driver holds the experiment (its ``.driver.lock``, or on an object store its
        unexpired lease), else interrupted (the driver died without a word)."""
        if self.finished:
            return ExperimentState.INTERRUPTED if self.interrupted else ExperimentState.FINISHED
        return ExperimentState.RUNNING if driver_alive(self.files.root, self.files.fs) else ExperimentState.INTERRUPTED

    def counts(self) -> dict[str, int]:
        counts = {state.value: 0 for state in TrialState}
        for trial in self.trials:
            counts[trial.status.value] += 1
        return counts

    def best_trial(self) -> TrialEntry | None:
        scored = [t for t in self.trials if t.best is not None]
        if not scored:
            return None
        key = lambda t: t.best  # noqa: E731
        return max(scored, key=key) if self.mode == "max" else min(scored, key=key)

    def duration(self) -> float | None:
        if self.started is None or self.last_time is None:
            return None
        end = self.last_time if self.state() is not ExperimentState.RUNNING else max(time.time(), self.last_time)
        return end - self.started


def _apply_trial(trial: TrialEntry, event: str, record: dict[str, Any], now: float) -> None:
    if event == "trial_started":
        trial.dirname = record.get("path") or trial.dirname
        trial.status, trial.started, trial.settled = _RUNNING, trial.started or now, False
        if record.get("restore"):
            trial.add_event(TrialEvent(now, "restored", "started again from a checkpoint"))
    elif event == "trial_paused":
        trial.status = _PAUSED
        trial.add_event(TrialEvent(now, "paused", "paused by the scheduler"))
    elif event == "trial_exploited":
        _exploited(trial, record, now)
    elif event == "trial_failed":
        trial.num_failures += 1
        trial.add_event(TrialEvent(now, "failed", f"failed: {record.get('error') or 'no error text'}"))
    elif event == "trial_finished":
        trial.status = _STATES.get(record.get("status") or "TERMINATED", _TERMINATED)
        trial.ended = now
        stopped_by = record.get("stopped_by")  # absent in journals written before it was recorded
        trial.stopped_by = stopped_by if isinstance(stopped_by, str) else None
    elif event == "trial_reset":
        trial.status = _PENDING


def _exploited(trial: TrialEntry, record: dict[str, Any], now: float) -> None:
    """PBT's exploit: which trial it copied, and what the new config changed."""
    new = flatten_dict(record.get("config") or {}, delimiter="/")
    old = trial.params()
    changes = ", ".join(f"{k}: {old.get(k)!r} -> {v!r}" for k, v in new.items() if old.get(k) != v)
    donor = str(record.get("trial_dir") or "?")
    trial.config = record.get("config") or trial.config
    trial.tag = record.get("tag", trial.tag)
    trial.add_event(TrialEvent(now, "exploited", f"exploited {donor}; {changes or 'same config'}"))


def list_experiments(storage: str | os.PathLike, filesystem: Any = None) -> list[str]:
    """The names of the experiment folders (those with a journal) under ``storage``."""
    files = _Files(storage, filesystem)
    return [name for name in files.listdir(files.root) if files.size(files.join(name, JOURNAL_FILE)) >= 0]


def open_experiment(storage: str | os.PathLike, name: str, filesystem: Any = None) -> ExperimentSource:
    files = _Files(storage, filesystem)
    return ExperimentSource(files.join(name) if files.local else _url(storage, name), filesystem)


def _url(storage: str | os.PathLike, name: str) -> str:
    return f"{os.fspath(storage).rstrip('/')}/{name}"
