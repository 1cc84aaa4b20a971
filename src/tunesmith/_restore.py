"""Restoring an experiment from its journal: which trials to skip, resume or restart."""

from __future__ import annotations

import dataclasses
import os
import secrets
from typing import Any

import cloudpickle

from tunesmith._checkpoint import Checkpoint
from tunesmith._flatten import flatten_dict
from tunesmith.experiment._trial import Trial, TrialStatus
from tunesmith.storage import ExperimentStorage, read_journal, replay
from tunesmith.storage._checkpoints import CheckpointBook
from tunesmith.storage._journal import ExperimentRecord, TrialRecord, encode_config, load_result_rows
from tunesmith.storage._storage import EXPERIMENT_FILE, JOURNAL_FILE, split_url

__all__ = ["RestoreRequest", "load_experiment", "restored_trials", "saved_spec"]


@dataclasses.dataclass
class RestoreRequest:
    """What ``Tuner.restore`` found and what the user asked to do with it."""

    storage: ExperimentStorage
    record: ExperimentRecord
    resume_unfinished: bool
    resume_errored: bool
    restart_errored: bool
    changes: dict[str, Any]
    original_num_samples: int = 1


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


def load_experiment(path: str, storage_filesystem: Any = None) -> tuple[ExperimentStorage, dict[str, Any], ExperimentRecord]:
    """Open the experiment at ``path`` (a folder or URL) and read its journal and spec.

    Raises:
        ValueError: ``path`` holds no tunesmith experiment; the message names what is missing.
    """
    url = os.fspath(path).rstrip("/")
    fs, stripped, is_local = split_url(url, storage_filesystem)
    parent, name = (os.path.dirname(stripped), os.path.basename(stripped))
    if not is_local and "://" in url:
        parent = url.rsplit("/", 1)[0]
    storage = ExperimentStorage(parent, name, filesystem=None if is_local else fs)
    storage.download()
    missing = [f for f in (JOURNAL_FILE, EXPERIMENT_FILE) if not os.path.exists(os.path.join(storage.local_path, f))]
    if missing:
        raise ValueError(
            f"{url!r} is not a tunesmith experiment folder: it has no {' or '.join(missing)}. "
            "Pass the folder printed as 'Results: ...' at the end of a run"
        )
    with open(os.path.join(storage.local_path, EXPERIMENT_FILE), "rb") as f:
        spec = cloudpickle.load(f)
    record = replay(read_journal(storage.journal_path))
    return storage, spec, record


def can_restore(path: str, storage_filesystem: Any = None) -> bool:
    fs, stripped, is_local = split_url(os.fspath(path), storage_filesystem)
    if is_local:
        return os.path.exists(os.path.join(stripped, JOURNAL_FILE)) and os.path.exists(os.path.join(stripped, EXPERIMENT_FILE))
    fs.invalidate_cache()  # s3fs caches listings made before the experiment wrote its files
    return bool(fs.exists(f"{stripped.rstrip('/')}/{JOURNAL_FILE}"))


def _book(storage: ExperimentStorage, record: TrialRecord, rows: list[dict[str, Any]], settings: Any) -> CheckpointBook:
    book = CheckpointBook(settings.num_to_keep, settings.checkpoint_score_attribute, settings.checkpoint_score_order)
    by_iteration = {row.get("training_iteration"): row for row in rows}
    for entry in record.checkpoints:
        url = f"{storage.trial_url(record.dirname)}/{entry['path']}"
        row = by_iteration.get(entry["iteration"], {})
        metrics = flatten_dict(row) if row else {}
        metrics.update(training_iteration=entry["iteration"], time_total_s=entry["time_total_s"])
        book.adopt(Checkpoint(url, filesystem=storage.remote_fs), metrics)
    book._count = max(book._count, record.next_checkpoint_index)
    if record.borrowed:  # PBT's exploit: the next attempt starts from the donor's checkpoint
        trial_dir, path = record.borrowed
        book.borrowed = Checkpoint(f"{storage.trial_url(trial_dir)}/{path}", filesystem=storage.remote_fs)
    return book


def _load_error(trial_dir: str | None) -> BaseException | None:
    path = os.path.join(trial_dir, "error.pkl") if trial_dir else ""
    if not path or not os.path.exists(path):
        return None
    try:
        with open(path, "rb") as f:
            return cloudpickle.load(f)
    except Exception as exc:  # an exception class that no longer imports
        return RuntimeError(f"could not load the trial's error ({exc}); see error.txt")


def restored_trials(request: RestoreRequest, trainable: str, settings: Any) -> list[tuple[Trial, CheckpointBook, bool]]:
    """Trials to hand to the controller: ``(trial, checkpoints, is_new)``."""
    out = []
    for record in request.record.trials.values():
        trial = Trial(trainable, trial_id=record.trial_id, config=record.config, experiment_tag=record.tag,
                      evaluated_params=record.params, resources=record.resources)
        trial.num_failures = record.num_failures
        trial.attempt = record.attempts - 1
        rows: list[dict[str, Any]] = []
        if record.dirname:
            trial.dirname = record.dirname
            trial.path = request.storage.trial_local_path(record.dirname)
            rows = load_result_rows(trial.path)
        trial.last_result = rows[-1] if rows else {}
        book = _book(request.storage, record, rows, settings)
        trial.checkpoint = book.latest
        trial.status = _status_after_restore(record.status, request)
        if record.status == "ERROR" and request.restart_errored and not request.resume_errored:
            # A new trial with the same config; the errored one stays on disk and in the journal.
            book = CheckpointBook(settings.num_to_keep, settings.checkpoint_score_attribute,
                                  settings.checkpoint_score_order)
            out.append((_restarted(trial, trainable), book, True))
            continue
        if trial.status is TrialStatus.ERROR:
            trial.error = _load_error(trial.path)
        out.append((trial, book, False))
    return out


def _status_after_restore(status: str | None, request: RestoreRequest) -> TrialStatus:
    if status == "TERMINATED":
        return TrialStatus.TERMINATED
    if status == "ERROR":
        return TrialStatus.PENDING if request.resume_errored else TrialStatus.ERROR
    return TrialStatus.PENDING if request.resume_unfinished else TrialStatus.TERMINATED


def _restarted(old: Trial, trainable: str) -> Trial:
    trial = Trial(trainable, trial_id=secrets.token_hex(4), config=old.config, experiment_tag=old.experiment_tag,
                  evaluated_params=old.evaluated_params, resources=old.resources)
    trial.restarted_from = old.trial_id
    return trial


def journal_new_trial(storage: ExperimentStorage, trial: Trial) -> None:
    storage.journal("trial_added", trial_id=trial.trial_id, tag=trial.experiment_tag, config=trial.config,
                    config_pkl=encode_config(trial.config), params=trial.evaluated_params,
                    resources=trial.resources, restarted_from=getattr(trial, "restarted_from", None))
