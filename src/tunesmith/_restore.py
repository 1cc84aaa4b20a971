"""Restoring an experiment from its journal: which trials to skip, resume or restart."""

from __future__ import annotations

import dataclasses
import os
import secrets
from typing import Any, Iterator

import cloudpickle

from tunesmith.execution._retired import RetiredTrials, metric_score
from tunesmith.experiment._trial import FinishedTrial, Trial, TrialStatus
from tunesmith.storage import ExperimentRecord, ExperimentStorage, OpenedExperiment, open_experiment, rebuild_trial
from tunesmith.storage._checkpoints import CheckpointBook
from tunesmith.storage._experiment import fill_book
from tunesmith.storage._journal import TrialRecord
from tunesmith.storage._storage import EXPERIMENT_FILE, split_url

__all__ = [
    "Endings",
    "RestoreRequest",
    "can_restore",
    "experiment_metric",
    "ignore_results",
    "load_experiment",
    "restored_trials",
    "saved_spec",
    "saved_trials",
]


@dataclasses.dataclass
class RestoreRequest:
    """What ``Tuner.restore`` found and what the user asked to do with it."""

    experiment: OpenedExperiment
    resume_unfinished: bool
    resume_errored: bool
    restart_errored: bool
    changes: dict[str, Any]
    endings: Endings | None = None  # what the journal said of each finished trial's last result
    stamp: tuple[int, int] | None = None  # the journal's size and time when it was read
    released: bool = False

    @property
    def storage(self) -> ExperimentStorage:
        return self.experiment.storage

    @property
    def record(self) -> ExperimentRecord:
        if self.released:  # read again, for get_results() after a fit() that failed
            self.experiment.reread(ignore_results)
            self.released = False
        return self.experiment.record

    def reread(self, metric: Any) -> None:
        """Read the journal again (the driver's lock is held: nothing changes it now), keeping of
        each finished trial's last result what its stand-in needs (:attr:`endings`). A local
        journal that has not changed since :func:`load_experiment` read it is not read again."""
        unchanged = (self.experiment.storage.remote_fs is None and not self.released and self.stamp is not None
                     and self.stamp == self.experiment.journal_stamp())
        if unchanged and self.endings is not None and self.endings.metric == metric:
            return
        self.endings = Endings(metric)
        self.experiment.reread(self.endings)
        self.released = False

    def release(self) -> None:
        """Drop what the journal said of each trial as the controller takes its trials: the
        stand-ins of 100,000 finished trials need none of it (it is read again if asked)."""
        self.endings = None
        self.experiment.record = dataclasses.replace(self.experiment.record, trials={})
        self.released = True


def saved_spec(tuner: Any) -> bytes:
    """The pickled configs ``Tuner.restore`` needs (never the controller or the trainable)."""
    tune_config = dataclasses.replace(tuner.tune_config, executor=None)
    spec = {"trainable_name": tuner.trainable_name, "param_space": tuner.param_space,
            "tune_config": tune_config, "run_config": tuner.run_config}
    try:
        return cloudpickle.dumps(spec)
    except Exception:
        spec["run_config"] = dataclasses.replace(tuner.run_config, callbacks=None)
        spec["callbacks_dropped"] = True
        return cloudpickle.dumps(spec)


def load_experiment(path: str | os.PathLike, storage_filesystem: Any = None
                    ) -> tuple[OpenedExperiment, dict[str, Any], Endings, tuple[int, int] | None]:
    """Open the experiment at ``path`` (a folder or URL) and read its spec and journal:
    ``(experiment, spec, endings, the journal's stamp when read)``.

    A Tuner that was built but never fitted left only its spec: the journal is then empty.

    Raises:
        ValueError: ``path`` holds no tunesmith experiment; the message names what is missing.
        ExperimentLockedError: a driver is running the experiment now.
    """
    experiment = open_experiment(path, storage_filesystem, need=(EXPERIMENT_FILE,), read=False)
    experiment.storage.lock.probe()
    spec = experiment.spec()
    endings = Endings(experiment_metric(spec["tune_config"]))
    stamp = experiment.journal_stamp()
    experiment.read(endings)  # what fit() needs of the results, so that it need not read the journal again
    return experiment, spec, endings, stamp


def experiment_metric(tune_config: Any) -> Any:
    """The metric the experiment schedules and searches on: ``_metric`` when only a mode is given."""
    if tune_config.mode is not None and tune_config.metric is None:
        return "_metric"
    return tune_config.metric


def can_restore(path: str | os.PathLike, storage_filesystem: Any = None) -> bool:
    """True if ``path`` holds a Tuner's saved spec (written when the Tuner is built, as Ray Tune does)."""
    fs, stripped, is_local = split_url(os.fspath(path), storage_filesystem)
    if is_local:
        return os.path.exists(os.path.join(stripped, EXPERIMENT_FILE))
    fs.invalidate_cache()  # s3fs caches listings made before the experiment wrote its files
    return bool(fs.exists(f"{stripped.rstrip('/')}/{EXPERIMENT_FILE}"))


def _book(settings: Any) -> CheckpointBook:
    return CheckpointBook(settings.num_to_keep, settings.checkpoint_score_attribute, settings.checkpoint_score_order)


class Endings:
    """What a restore keeps of each finished trial's last result, as the journal's
    ``trial_finished`` records carry it: its ``done`` and the experiment's metric (an
    ``on_result`` for :func:`~tunesmith.storage.replay`), instead of 100,000 result dicts.

    Example:
        >>> endings = Endings("loss")
        >>> endings("t1", {"loss": 0.5, "done": True, "training_iteration": 3})
        >>> endings.of["t1"]
        (True, 0.5)
    """

    def __init__(self, metric: Any) -> None:
        self.metric = metric
        self.of: dict[str, tuple[bool, Any]] = {}

    def __call__(self, trial_id: str, result: dict[str, Any]) -> None:
        self.of[trial_id] = (bool(result.get("done")), metric_score(result, self.metric))


def ignore_results(trial_id: str, result: dict[str, Any]) -> None:
    """An ``on_result`` that keeps nothing (an open that needs no results)."""


def restored_trials(request: RestoreRequest, trainable: str, settings: Any,
                    retired: RetiredTrials | None = None) -> Iterator[tuple[Trial, CheckpointBook, bool]]:
    """Trials to hand to the controller, one at a time: ``(trial, checkpoints, is_new)``.

    A trial that stays finished becomes a :class:`FinishedTrial` stand-in straight from the
    journal when ``retired`` is given and the journal carries its last result
    (``request.endings``): no :class:`Trial` is built and its folder is not read (but for its
    checkpoints' metrics, if it kept any). The others (to run again, or finished in a journal
    that does not say how) are rebuilt from their folders. The journal's records are let go
    as they are used (see :meth:`RestoreRequest.release`), so 100,000 of them and their
    stand-ins are not all in memory at once.
    """
    storage, visible = request.storage, request.record.visible_trials()
    endings = request.endings.of if retired is not None and request.endings is not None else {}
    request.release()
    for i in range(len(visible)):
        trial_record, visible[i] = visible[i], None
        status = _status_after_restore(trial_record.status, request)
        if trial_record.status is TrialStatus.ERROR and request.restart_errored and not request.resume_errored:
            # A new trial with the same config; the errored one stays on disk and in the journal.
            yield _restarted(trial_record, trainable), _book(settings), True
            continue
        ending = endings.pop(trial_record.trial_id, None) if status is trial_record.status else None
        if ending is not None and not _named_by_config(trial_record):
            yield _stand_in(retired, trial_record, status, ending), _kept_book(storage, trial_record, settings), False
            continue
        rebuilt = rebuild_trial(storage, trial_record, trainable, status, _book(settings))
        yield rebuilt.trial, rebuilt.book, False


def _stand_in(retired: RetiredTrials, record: TrialRecord, status: TrialStatus, ending: tuple[bool, Any]) -> Trial:
    done, score = ending
    return FinishedTrial.restored(retired, trial_id=record.trial_id, dirname=record.dirname, status=status,
                                  experiment_tag=record.tag, num_failures=record.num_failures,
                                  attempt=record.attempts - 1, resources=record.resources,
                                  param_names=record.packed_params[0], done=done, score=score)


def _named_by_config(record: TrialRecord) -> bool:
    """Whether the trial's name comes from its config (an ``env`` string, as Ray Tune names
    RLlib trials); the journal decodes such a config as it reads it (see ``_encoded_config``)."""
    config = record.encoded_config
    return isinstance(config, dict) and isinstance(config.get("env"), str)


def _kept_book(storage: ExperimentStorage, record: TrialRecord, settings: Any) -> CheckpointBook:
    """The finished trial's checkpoint book: empty (its folder unread) unless it kept checkpoints."""
    book = _book(settings)
    if record.checkpoints or record.borrowed:
        fill_book(book, storage, record)
    return book


def saved_trials(request: RestoreRequest, trainable: str, settings: Any) -> list[tuple[Trial, CheckpointBook]]:
    """The trials as the experiment's files show them, with the status the journal gives
    (as ``ExperimentAnalysis`` shows them), whatever the restore flags."""
    record = request.record
    return [(rebuilt.trial, rebuilt.book) for rebuilt in (
        rebuild_trial(request.storage, t, trainable, record.status_of(t), _book(settings)) for t in record.visible_trials()
    )]


def _status_after_restore(status: TrialStatus, request: RestoreRequest) -> TrialStatus:
    if status is TrialStatus.TERMINATED:
        return TrialStatus.TERMINATED
    if status is TrialStatus.ERROR:
        return TrialStatus.PENDING if request.resume_errored else TrialStatus.ERROR
    return TrialStatus.PENDING if request.resume_unfinished else TrialStatus.TERMINATED


def _restarted(old: TrialRecord, trainable: str) -> Trial:
    trial = Trial(trainable, trial_id=secrets.token_hex(4), config=old.config, experiment_tag=old.tag,
                  evaluated_params=old.params, resources=old.resources)
    trial.restarted_from = old.trial_id
    return trial
