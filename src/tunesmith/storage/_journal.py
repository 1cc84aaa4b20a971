"""The journal: the experiment's append-only event log, written and read in one place.

Each line of ``journal.jsonl`` is one JSON object with an ``event`` field (an
:class:`Event`) and the fields below. :class:`Journal` has one writer method per event,
taking domain objects; :func:`replay` folds the records back into what each trial was
when the log ends. Restore, ``ExperimentAnalysis`` and ``ResultGrid`` all read through it.

``experiment_started``  version, name, metric, mode, trainable, num_samples
``trial_added``         trial_id, tag, config (JSON view), config_pkl (base64 cloudpickle),
                        params, resources, restarted_from
``trial_started``       trial_id, attempt, path (the trial folder's name), restore
``checkpoint``          trial_id, path (checkpoint folder name), iteration, time_total_s
``checkpoint_dropped``  trial_id, path
``trial_exploited``     trial_id, tag, config, config_pkl, trial_dir, path (another trial's
                        checkpoint it starts from: PBT's exploit)
``trial_paused``        trial_id
``trial_failed``        trial_id, attempt, retry, error, counted (False: a failed restore that
                        ``TUNE_RESTORE_RETRY_NUM`` does not count)
``trial_finished``      trial_id, status ("TERMINATED" or "ERROR"), stopped_by (a
                        :class:`StoppedBy` value, only when a scheduler or a stopper ended
                        the trial early; absent in older journals), result (the trial's last
                        result, as ``result.json``'s last row but with ``done`` as the trial ended;
                        absent when it reported nothing, and in journals written before it was
                        added: read ``result.json`` then)
``experiment_restored`` version, changes (``num_samples`` the new total, ...)
``experiment_finished`` interrupted

Paths are relative to the experiment folder, so a moved or copied experiment restores.
A journal written before format versions existed (no ``version``) reads as version 1.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import logging
import os
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

import cloudpickle

from tunesmith.error import StorageError
from tunesmith.experiment import TrialStatus
from tunesmith.storage._lock import wait_for_writer

if TYPE_CHECKING:
    from tunesmith._checkpoint import Checkpoint
    from tunesmith.experiment import Trial

__all__ = [
    "JOURNAL_VERSION",
    "Event",
    "ExperimentRecord",
    "Journal",
    "JournalVersionError",
    "StoppedBy",
    "TrialRecord",
    "read_journal",
    "replay",
]

logger = logging.getLogger("tunesmith")

JOURNAL_VERSION = 2
"""The journal format this tunesmith writes (1: the format before versions were recorded)."""


class Event(enum.Enum):
    """What a journal record says happened; the value is the ``event`` field on disk."""

    EXPERIMENT_STARTED = "experiment_started"
    TRIAL_ADDED = "trial_added"
    TRIAL_STARTED = "trial_started"
    CHECKPOINT = "checkpoint"
    CHECKPOINT_DROPPED = "checkpoint_dropped"
    TRIAL_EXPLOITED = "trial_exploited"
    TRIAL_PAUSED = "trial_paused"
    TRIAL_FAILED = "trial_failed"
    TRIAL_FINISHED = "trial_finished"
    EXPERIMENT_RESTORED = "experiment_restored"
    EXPERIMENT_FINISHED = "experiment_finished"


class StoppedBy(enum.Enum):
    """Who ended a TERMINATED trial before it returned: the ``stopped_by`` field of ``trial_finished``."""

    SCHEDULER = "scheduler"  # the scheduler's STOP decision (ASHA, HyperBand, the median rule, ...)
    STOPPER = "stopper"  # RunConfig(stop=...) or a Stopper


class JournalVersionError(StorageError):
    """The journal was written by a newer tunesmith, in a format this one cannot read."""


def encode_config(config: dict[str, Any]) -> str:
    return base64.b64encode(cloudpickle.dumps(config)).decode()


class Journal:
    """Writes the journal's records: one method per :class:`Event`.

    Args:
        append: Takes one record (a dict) and writes it; the storage decides when it
            reaches the disk (see ``ExperimentStorage.deferred_journal``).
    """

    def __init__(self, append: Callable[[dict[str, Any]], None]) -> None:
        self._append = append

    def _write(self, event: Event, **fields: Any) -> None:
        self._append({"event": event.value, "time": round(time.time(), 3), **fields})

    def experiment_started(self, *, name: str, metric: Any, mode: Any, trainable: str, num_samples: int) -> None:
        self._write(Event.EXPERIMENT_STARTED, version=JOURNAL_VERSION, name=name, metric=metric, mode=mode,
                    trainable=trainable, num_samples=num_samples)

    def experiment_restored(self, changes: dict[str, Any]) -> None:
        self._write(Event.EXPERIMENT_RESTORED, version=JOURNAL_VERSION, changes=changes)

    def experiment_finished(self, interrupted: bool) -> None:
        self._write(Event.EXPERIMENT_FINISHED, interrupted=interrupted)

    def trial_added(self, trial: Trial) -> None:
        self._write(Event.TRIAL_ADDED, trial_id=trial.trial_id, tag=trial.experiment_tag, config=trial.config,
                    config_pkl=encode_config(trial.config), params=trial.evaluated_params,
                    resources=trial.resources, restarted_from=trial.restarted_from)

    def trial_started(self, trial: Trial, restore: Checkpoint | None) -> None:
        self._write(Event.TRIAL_STARTED, trial_id=trial.trial_id, attempt=trial.attempt, path=trial.dirname,
                    restore=restore.url if restore is not None else None)

    def trial_exploited(self, trial: Trial, donor_checkpoint: Checkpoint) -> None:
        """``trial`` starts from another trial's checkpoint, with its (explored) config."""
        parts = donor_checkpoint.path.rstrip("/").replace(os.sep, "/").split("/")
        self._write(Event.TRIAL_EXPLOITED, trial_id=trial.trial_id, tag=trial.experiment_tag, config=trial.config,
                    config_pkl=encode_config(trial.config), trial_dir=parts[-2], path=parts[-1])

    def checkpoint(self, trial: Trial, checkpoint: Checkpoint, iteration: Any, time_total_s: Any) -> None:
        self._write(Event.CHECKPOINT, trial_id=trial.trial_id, path=_folder_name(checkpoint),
                    iteration=iteration, time_total_s=time_total_s)

    def checkpoint_dropped(self, trial: Trial, checkpoint: Checkpoint) -> None:
        self._write(Event.CHECKPOINT_DROPPED, trial_id=trial.trial_id, path=_folder_name(checkpoint))

    def trial_paused(self, trial: Trial) -> None:
        self._write(Event.TRIAL_PAUSED, trial_id=trial.trial_id)

    def trial_failed(self, trial: Trial, error: BaseException, retry: bool, counted: bool = True) -> None:
        self._write(Event.TRIAL_FAILED, trial_id=trial.trial_id, attempt=trial.attempt, retry=retry,
                    error=f"{type(error).__name__}: {error}", counted=counted)

    def trial_finished(self, trial: Trial, stopped_by: StoppedBy | None = None) -> None:
        """``trial`` ended for good, as its status says (TERMINATED or ERROR); ``stopped_by``
        says who stopped it early, if someone did."""
        if not trial.status.is_finished():
            raise ValueError(f"trial_finished needs a TERMINATED or ERROR trial, got {trial.status}")
        extra: dict[str, Any] = {"stopped_by": stopped_by.value} if stopped_by is not None else {}
        if "training_iteration" in trial.last_result:  # it reported: what opening the experiment needs
            extra["result"] = trial.last_result
        self._write(Event.TRIAL_FINISHED, trial_id=trial.trial_id, status=trial.status.value, **extra)


def _folder_name(checkpoint: Checkpoint) -> str:
    return os.path.basename(checkpoint.path.rstrip("/"))


# -- reading ---------------------------------------------------------------------------------

_NO_CHECKPOINTS: tuple = ()


@dataclasses.dataclass(slots=True)
class TrialRecord:
    """A trial as the journal remembers it.

    ``status`` is what the log says: PENDING (added, or failed and to be retried),
    RUNNING, PAUSED, TERMINATED or ERROR (finished). ``result`` is the last result the
    ``trial_finished`` record carried (None before, or in a journal from before it did).
    Slotted, with the config kept pickled until asked for: opening 100,000 trials keeps
    a few hundred bytes each.
    """

    trial_id: str
    tag: str
    encoded_config: Any  # the config, or (a str) the journal's base64 cloudpickle of it until .config is read
    packed_params: tuple[Any, ...]  # (keys, *values), the keys shared by the trials with the same ones
    resources: dict[str, float]
    dirname: str | None = None
    status: TrialStatus = TrialStatus.PENDING
    num_failures: int = 0
    attempts: int = 0
    checkpoints: Sequence[dict[str, Any]] = _NO_CHECKPOINTS  # shared until the first one: a list of its own then
    next_checkpoint_index: int = 0
    borrowed: tuple[str, str] | None = None  # (trial folder, checkpoint folder) of another trial, until its own
    restarted_from: str | None = None  # the errored trial this one restarted (restart_errored)
    result: dict[str, Any] | None = None

    @property
    def config(self) -> dict[str, Any]:
        if isinstance(self.encoded_config, str):
            self.encoded_config = _unpickle(self.encoded_config, self.trial_id)
        return self.encoded_config

    def read_config(self) -> dict[str, Any]:
        """The config, decoded afresh if still pickled (and left pickled here)."""
        config = self.encoded_config
        return _unpickle(config, self.trial_id) if isinstance(config, str) else config

    @property
    def params(self) -> dict[str, Any]:
        """The searched parameters (``evaluated_params``)."""
        return dict(zip(self.packed_params[0], self.packed_params[1:]))

    @config.setter
    def config(self, value: dict[str, Any]) -> None:
        self.encoded_config = value

    @property
    def finished(self) -> bool:
        return self.status.is_finished()


def _unpickle(blob: str, trial_id: str) -> dict[str, Any]:
    """A config as the journal holds it (base64 cloudpickle), decoded."""
    try:
        return cloudpickle.loads(base64.b64decode(blob))
    except Exception:
        logger.warning("could not unpickle the config of trial %s; it reads as {}", trial_id)
        return {}


@dataclasses.dataclass
class ExperimentRecord:
    """The whole journal, replayed: the latest run under the folder's name."""

    started: dict[str, Any]
    trials: dict[str, TrialRecord]
    finished: bool
    interrupted: bool
    num_samples: int | None = None  # the current total (a restore may have raised it)
    version: int = 1
    driver_gone: bool = False  # unfinished, and no driver holds the folder: it died without a word
    resources: dict[tuple, dict[str, float]] = dataclasses.field(default_factory=dict, repr=False, compare=False)
    param_keys: dict[tuple, tuple] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    def status_of(self, trial: TrialRecord) -> TrialStatus:
        """The status to show for ``trial``: once the driver has ended, a trial it was
        running shows TERMINATED (cut short, as Ray Tune shows it); if the driver died
        without ending the experiment (:attr:`driver_gone`), PENDING (as Ray Tune reads a
        trial that was running when its driver crashed); everything else as the journal says."""
        if trial.status is TrialStatus.RUNNING and self.finished:
            return TrialStatus.TERMINATED
        if trial.status is TrialStatus.RUNNING and self.driver_gone:
            return TrialStatus.PENDING
        return trial.status

    def visible_trials(self) -> list[TrialRecord]:
        """The trials to show: those that another trial did not replace (``restart_errored``)."""
        replaced = {t.restarted_from for t in self.trials.values() if t.restarted_from}
        return [t for t in self.trials.values() if t.trial_id not in replaced]


def read_journal(path: str) -> list[dict[str, Any]]:
    """Every intact record of the journal at ``path`` (see :func:`iter_journal`)."""
    return list(iter_journal(path))


def iter_journal(path: str) -> Iterator[dict[str, Any]]:
    """Every intact record of the journal at ``path``, one at a time.

    A line cut short by a crash (normally only the last), or a line that is not a JSON
    object, is skipped; one warning names how many. If the driver that wrote it died and
    its log writer is still writing the trial files, this waits for the writer first.

    Raises:
        JournalVersionError: the journal was written in a newer format than this tunesmith reads.
    """
    wait_for_writer(os.path.dirname(path))
    skipped: list[int] = []
    decode = json.JSONDecoder().raw_decode  # 100,000 trials are 300,000 lines: no per-line wrapper
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            try:
                record, end = decode(line)
            except json.JSONDecodeError:
                if not line.strip():
                    continue
                record, end = None, 0
            if type(record) is not dict or not isinstance(record.get("event"), str) or line[end:].strip():
                skipped.append(number)
                continue
            if "version" in record:
                _check_version(record, path)
            yield record
    if skipped:
        logger.warning("journal %s: skipped %d incomplete or corrupt line(s) (line %s)", path, len(skipped),
                       ", ".join(map(str, skipped[:5])) + (", ..." if len(skipped) > 5 else ""))


def _check_version(record: dict[str, Any], path: str) -> None:
    version = record.get("version", 1)
    if isinstance(version, int) and version > JOURNAL_VERSION:
        raise JournalVersionError(
            f"the journal {path!r} is in format version {version}, written by a newer tunesmith; this one reads "
            f"versions up to {JOURNAL_VERSION}. Upgrade tunesmith to restore or analyse this experiment"
        )


def replay(records: Iterable[dict[str, Any]],
           on_result: Callable[[str, dict[str, Any]], None] | None = None) -> ExperimentRecord:
    """Fold the journal's records into the state each trial was in.

    A new run under the same name (another ``experiment_started``) starts over: only the
    latest run counts. Records of events this version does not know are ignored.

    Args:
        records: The journal's records, oldest first (an iterator is read once).
        on_result: Given, each ``trial_finished`` record's result goes to it as
            ``(trial_id, result)`` instead of staying in ``TrialRecord.result`` (an index
            over 100,000 trials keeps them as columns).
    """
    experiment = ExperimentRecord({}, {}, False, False)
    for record in records:
        known = _DISPATCH.get(record.get("event"))
        if known is None:
            continue
        event, handle = known
        if event is Event.EXPERIMENT_STARTED:
            experiment = ExperimentRecord(record, {}, False, False, record.get("num_samples"),
                                          record.get("version", 1))
        else:
            handle(experiment, event, record)
            if on_result is not None and event is Event.TRIAL_FINISHED:
                _hand_over(experiment, record, on_result)
    return experiment


_STATUSES = {status.value: status for status in TrialStatus}


def _hand_over(experiment: ExperimentRecord, record: dict[str, Any],
               on_result: Callable[[str, dict[str, Any]], None]) -> None:
    trial = experiment.trials.get(record.get("trial_id", ""))
    if trial is not None and trial.result is not None:
        on_result(trial.trial_id, trial.result)
        trial.result = None


def _trial_added(experiment: ExperimentRecord, event: Event, record: dict[str, Any]) -> None:
    resources = record.get("resources") or {"cpu": 1.0}
    shared = experiment.resources
    if resources == shared.get(()):  # as the trial before (nearly always)
        resources = shared[()]
    else:
        try:  # one dict per distinct resource request
            resources = shared[()] = shared.setdefault(tuple(sorted(resources.items())), resources)
        except TypeError:  # a value that does not hash: kept as it is
            pass
    params = record.get("params") or {}
    keys = tuple(params)
    keys = experiment.param_keys.setdefault(keys, keys)
    experiment.trials[record["trial_id"]] = TrialRecord(
        record["trial_id"], record.get("tag", ""), _encoded_config(record),
        (keys, *params.values()), resources, restarted_from=record.get("restarted_from"),
    )


def _experiment_restored(experiment: ExperimentRecord, event: Event, record: dict[str, Any]) -> None:
    experiment.finished = experiment.interrupted = False
    changes = record.get("changes") or {}
    if isinstance(changes.get("num_samples"), int):
        experiment.num_samples = changes["num_samples"]


def _experiment_finished(experiment: ExperimentRecord, event: Event, record: dict[str, Any]) -> None:
    experiment.finished, experiment.interrupted = True, bool(record.get("interrupted"))


def _apply_to_trial(experiment: ExperimentRecord, event: Event, record: dict[str, Any]) -> None:
    trial = experiment.trials.get(record.get("trial_id", ""))
    if trial is not None:
        _TRIAL_EVENTS[event](trial, record)


def _started(trial: TrialRecord, record: dict[str, Any]) -> None:
    trial.dirname = record.get("path") or trial.dirname
    trial.attempts = max(trial.attempts, record.get("attempt", 0) + 1)
    trial.status = TrialStatus.RUNNING


def _exploited(trial: TrialRecord, record: dict[str, Any]) -> None:
    trial.config = _encoded_config(record)
    trial.tag = record.get("tag", trial.tag)
    trial.borrowed = (record["trial_dir"], record["path"])


def _checkpoint(trial: TrialRecord, record: dict[str, Any]) -> None:
    trial.borrowed = None
    suffix = str(record["path"]).rsplit("_", 1)[-1]
    if suffix.isdigit():
        trial.next_checkpoint_index = max(trial.next_checkpoint_index, int(suffix) + 1)
    if trial.checkpoints is _NO_CHECKPOINTS:
        trial.checkpoints = []
    trial.checkpoints.append(
        {"path": record["path"], "iteration": record.get("iteration"), "time_total_s": record.get("time_total_s")}
    )


def _checkpoint_dropped(trial: TrialRecord, record: dict[str, Any]) -> None:
    trial.checkpoints = [c for c in trial.checkpoints if c["path"] != record["path"]]


def _paused(trial: TrialRecord, record: dict[str, Any]) -> None:
    trial.status = TrialStatus.PAUSED


def _failed(trial: TrialRecord, record: dict[str, Any]) -> None:
    if record.get("counted", True):
        trial.num_failures += 1
    if record.get("retry"):
        trial.status = TrialStatus.PENDING


def _finished(trial: TrialRecord, record: dict[str, Any]) -> None:
    status = record.get("status")  # a dict lookup, not an enum call per trial
    trial.status = _STATUSES.get(status, TrialStatus.TERMINATED) if type(status) is str else TrialStatus.TERMINATED
    result = record.get("result")
    trial.result = result if isinstance(result, dict) else None


_EXPERIMENT_EVENTS: dict[Event, Callable[[ExperimentRecord, Event, dict[str, Any]], None]] = {
    Event.TRIAL_ADDED: _trial_added,
    Event.EXPERIMENT_RESTORED: _experiment_restored,
    Event.EXPERIMENT_FINISHED: _experiment_finished,
}
_TRIAL_EVENTS: dict[Event, Callable[[TrialRecord, dict[str, Any]], None]] = {
    Event.TRIAL_STARTED: _started,
    Event.TRIAL_EXPLOITED: _exploited,
    Event.CHECKPOINT: _checkpoint,
    Event.CHECKPOINT_DROPPED: _checkpoint_dropped,
    Event.TRIAL_PAUSED: _paused,
    Event.TRIAL_FAILED: _failed,
    Event.TRIAL_FINISHED: _finished,
}


def _on_trial(apply: Callable[[TrialRecord, dict[str, Any]], None]) -> Callable[..., None]:
    def handle(experiment: ExperimentRecord, event: Event, record: dict[str, Any]) -> None:
        trial = experiment.trials.get(record.get("trial_id", ""))
        if trial is not None:
            apply(trial, record)
    return handle


# An event's name -> (the event, its handler), found by the name: an Enum member hashes in
# Python, and a 100,000-trial journal has 300,000 records to dispatch.
_DISPATCH: dict[str, tuple[Event, Callable[[ExperimentRecord, Event, dict[str, Any]], None]]] = {
    event.value: (event, _EXPERIMENT_EVENTS.get(event) or (
        _on_trial(_TRIAL_EVENTS[event]) if event in _TRIAL_EVENTS else _apply_to_trial))
    for event in Event
}


def _encoded_config(record: dict[str, Any]) -> Any:
    """The record's config, left pickled (decoded when the trial's ``config`` is read)."""
    blob = record.get("config_pkl")
    if blob and isinstance(blob, str):
        view = record.get("config")
        if type(view) is dict and isinstance(view.get("env"), str):  # part of the trial's name: read now
            return _unpickle(blob, record.get("trial_id", ""))
        return blob  # a str: a config itself is a dict
    config = record.get("config", {})
    return config if isinstance(config, dict) else {}
