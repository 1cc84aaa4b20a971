"""Restoring an experiment from its journal: which trials to skip, resume or restart."""

from __future__ import annotations

import dataclasses
import os
import secrets
from typing import Any

import cloudpickle

from tunesmith.experiment._trial import Trial, TrialStatus
from tunesmith.storage import ExperimentRecord, ExperimentStorage, OpenedExperiment, open_experiment, rebuild_trial
from tunesmith.storage._checkpoints import CheckpointBook
from tunesmith.storage._storage import EXPERIMENT_FILE, split_url

__all__ = ["RestoreRequest", "can_restore", "load_experiment", "restored_trials", "saved_spec", "saved_trials"]


@dataclasses.dataclass
class RestoreRequest:
    """What ``Tuner.restore`` found and what the user asked to do with it."""

    experiment: OpenedExperiment
    resume_unfinished: bool
    resume_errored: bool
    restart_errored: bool
    changes: dict[str, Any]

    @property
    def storage(self) -> ExperimentStorage:
        return self.experiment.storage

    @property
    def record(self) -> ExperimentRecord:
        return self.experiment.record


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


def load_experiment(path: str | os.PathLike, storage_filesystem: Any = None) -> tuple[OpenedExperiment, dict[str, Any]]:
    """Open the experiment at ``path`` (a folder or URL) and read its spec and journal.

    A Tuner that was built but never fitted left only its spec: the journal is then empty.

    Raises:
        ValueError: ``path`` holds no tunesmith experiment; the message names what is missing.
        ExperimentLockedError: a driver is running the experiment now.
    """
    experiment = open_experiment(path, storage_filesystem, need=(EXPERIMENT_FILE,))
    experiment.storage.lock.probe()
    return experiment, experiment.spec()


def can_restore(path: str | os.PathLike, storage_filesystem: Any = None) -> bool:
    """True if ``path`` holds a Tuner's saved spec (written when the Tuner is built, as Ray Tune does)."""
    fs, stripped, is_local = split_url(os.fspath(path), storage_filesystem)
    if is_local:
        return os.path.exists(os.path.join(stripped, EXPERIMENT_FILE))
    fs.invalidate_cache()  # s3fs caches listings made before the experiment wrote its files
    return bool(fs.exists(f"{stripped.rstrip('/')}/{EXPERIMENT_FILE}"))


def _book(settings: Any) -> CheckpointBook:
    return CheckpointBook(settings.num_to_keep, settings.checkpoint_score_attribute, settings.checkpoint_score_order)


def restored_trials(request: RestoreRequest, trainable: str, settings: Any) -> list[tuple[Trial, CheckpointBook, bool]]:
    """Trials to hand to the controller: ``(trial, checkpoints, is_new)``."""
    out = []
    storage, record = request.storage, request.record
    for trial_record in record.visible_trials():
        status = _status_after_restore(trial_record.status, request)
        rebuilt = rebuild_trial(storage, trial_record, trainable, status, _book(settings))
        if trial_record.status is TrialStatus.ERROR and request.restart_errored and not request.resume_errored:
            # A new trial with the same config; the errored one stays on disk and in the journal.
            out.append((_restarted(rebuilt.trial, trainable), _book(settings), True))
            continue
        out.append((rebuilt.trial, rebuilt.book, False))
    return out


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


def _restarted(old: Trial, trainable: str) -> Trial:
    trial = Trial(trainable, trial_id=secrets.token_hex(4), config=old.config, experiment_tag=old.experiment_tag,
                  evaluated_params=old.evaluated_params, resources=old.resources)
    trial.restarted_from = old.trial_id
    return trial
