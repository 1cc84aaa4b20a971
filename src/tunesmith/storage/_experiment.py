"""Opening an experiment folder to read it, and rebuilding its trials from the journal.

Restore, ``ExperimentAnalysis`` and a restored Tuner's ``get_results()`` all open an
experiment with :func:`open_experiment` and rebuild each trial with :func:`rebuild_trial`,
so they agree on every trial's status, results, checkpoints and error.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable

import cloudpickle

from tunesmith._checkpoint import Checkpoint
from tunesmith._flatten import flatten_dict
from tunesmith.experiment import Trial, TrialStatus
from tunesmith.storage._checkpoints import CheckpointBook
from tunesmith.storage._journal import ExperimentRecord, TrialRecord, iter_journal, replay
from tunesmith.storage._last_results import LastResults
from tunesmith.storage._lock import driver_alive
from tunesmith.storage._storage import EXPERIMENT_FILE, JOURNAL_FILE, ExperimentStorage, split_url

__all__ = [
    "OpenedExperiment",
    "RebuiltTrial",
    "fill_book",
    "last_results",
    "last_values",
    "open_experiment",
    "rebuild_trial",
]


@dataclasses.dataclass
class OpenedExperiment:
    """An experiment folder (a remote one copied to a local staging folder) and its journal, replayed."""

    storage: ExperimentStorage
    record: ExperimentRecord

    @property
    def has_journal(self) -> bool:
        return os.path.exists(self.storage.journal_path)

    def spec(self) -> dict[str, Any]:
        """The Tuner's configs as ``experiment.pkl`` saved them (see ``_restore.saved_spec``)."""
        with open(os.path.join(self.storage.local_path, EXPERIMENT_FILE), "rb") as f:
            return cloudpickle.load(f)

    def reread(self, on_result: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        """Read the journal again (after the driver lock was taken: nothing changes it now);
        ``on_result`` as for :func:`open_experiment`."""
        self.storage.download()
        self.read(on_result)

    def read(self, on_result: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        """Replay the journal as it is in the (local copy of the) folder now."""
        self.record = _replayed(self.storage, on_result)

    def journal_stamp(self) -> tuple[int, int] | None:
        """The local journal's size and modification time (None without one): unchanged, the
        journal has not been written since."""
        try:
            stat = os.stat(self.storage.journal_path)
        except OSError:
            return None
        return stat.st_size, stat.st_mtime_ns


@dataclasses.dataclass
class RebuiltTrial:
    """A trial rebuilt from the journal: the trial, its checkpoint book and its result rows."""

    trial: Trial
    book: CheckpointBook
    rows: list[dict[str, Any]]


def open_experiment(path: str | os.PathLike, filesystem: Any = None, *, need: tuple[str, ...] = (JOURNAL_FILE,),
                    on_result: Callable[[str, dict[str, Any]], None] | None = None,
                    read: bool = True) -> OpenedExperiment:
    """Open the experiment at ``path``: a folder, its ``journal.jsonl``, or an fsspec URL.

    Args:
        path: The experiment folder, as printed after ``Results:``.
        filesystem: An fsspec filesystem for the URL; inferred when omitted.
        need: The files the folder must have.
        on_result: Takes each finished trial's last result from the journal (see :func:`replay`).
        read: False: the journal is not read yet (``record`` is empty until :meth:`OpenedExperiment.read`).

    Raises:
        ValueError: ``path`` is not a tunesmith experiment folder; names what is missing.
        JournalVersionError: the journal was written by a newer tunesmith.
    """
    url = os.fspath(path).rstrip("/")
    if url.endswith(f"/{JOURNAL_FILE}") or url == JOURNAL_FILE:
        url = url[: -len(JOURNAL_FILE)].rstrip("/") or "."
    fs, stripped, is_local = split_url(url, filesystem)
    if is_local and not os.path.isdir(stripped):
        raise ValueError(f"{url!r} is not an experiment folder: it does not exist")
    # The parent as the filesystem spells it (no protocol), so its listings line up with it.
    parent, name = os.path.dirname(stripped.rstrip("/")), os.path.basename(stripped.rstrip("/"))
    storage = ExperimentStorage(parent, name, filesystem=None if is_local else fs)
    storage.download()
    missing = [f for f in need if not os.path.exists(os.path.join(storage.local_path, f))]
    if missing:
        raise ValueError(
            f"{url!r} is not a tunesmith experiment folder: it has no {' or '.join(missing)}. "
            "Pass the folder printed as 'Results: ...' at the end of a run"
        )
    record = _replayed(storage, on_result) if read else ExperimentRecord({}, {}, False, False)
    return OpenedExperiment(storage, record)


def _replayed(storage: ExperimentStorage, on_result: Any = None) -> ExperimentRecord:
    if not os.path.exists(storage.journal_path):
        return ExperimentRecord({}, {}, False, False)
    record = replay(iter_journal(storage.journal_path), on_result)
    if not record.finished and not storage.lock.held:  # our own lock (a restore) is a live driver
        folder = storage.remote_path if storage.remote_fs is not None else storage.local_path
        record.driver_gone = not driver_alive(folder, storage.remote_fs)
    return record


def last_values(storage: ExperimentStorage, metric: str) -> dict[str, Any]:
    """``{trial id: its value of metric}`` (``a/b`` for nested) in the last result of each
    finished trial whose ``trial_finished`` record carries one: one pass of the journal."""
    values: dict[str, Any] = {}

    def keep(trial_id: str, result: dict[str, Any]) -> None:
        values[trial_id] = flatten_dict(result).get(metric)

    if os.path.exists(storage.journal_path):
        replay(iter_journal(storage.journal_path), keep)
    return values


def last_results(storage: ExperimentStorage) -> LastResults:
    """The last result of each finished trial whose ``trial_finished`` record carries one,
    as columns: one pass of the journal."""
    results = LastResults()
    if os.path.exists(storage.journal_path):
        replay(iter_journal(storage.journal_path), results.add)
    return results


def rebuild_trial(storage: ExperimentStorage, record: TrialRecord, trainable: str, status: TrialStatus,
                  book: CheckpointBook | None = None) -> RebuiltTrial:
    """The trial ``record`` describes, with ``status``: its config, folder, results, kept
    checkpoints (into ``book``, a fresh unlimited one by default) and, if it errored, its error."""
    trial = Trial(trainable, trial_id=record.trial_id, config=record.config, experiment_tag=record.tag,
                  evaluated_params=record.params, resources=record.resources)
    trial.status = status
    trial.num_failures = record.num_failures
    trial.attempt = record.attempts - 1
    rows: list[dict[str, Any]] = []
    if record.dirname:
        trial.dirname = record.dirname
        trial.path = storage.trial_local_path(record.dirname)
        files = storage.trial_files(record.dirname)
        rows = files.rows()
        if status is TrialStatus.ERROR:
            trial.error = files.read_error()
    trial.last_result = rows[-1] if rows else {}
    for row in rows:
        trial.update_metric_analysis(flatten_dict(row))
    book = book if book is not None else CheckpointBook()
    fill_book(book, storage, record, rows)
    trial.checkpoint = book.latest
    return RebuiltTrial(trial, book, rows)


def fill_book(book: CheckpointBook, storage: ExperimentStorage, record: TrialRecord,
              rows: list[dict[str, Any]] | None = None) -> None:
    """The checkpoints the journal says are kept, oldest first, with the metrics reported with
    each (from ``rows``, the trial's results; read from its folder when not given)."""
    if rows is None:
        rows = storage.trial_files(record.dirname).rows() if record.dirname and record.checkpoints else []
    by_iteration = {row.get("training_iteration"): row for row in rows}
    for entry in record.checkpoints:
        url = f"{storage.trial_url(record.dirname)}/{entry['path']}"
        metrics = flatten_dict(by_iteration.get(entry["iteration"], {}))
        metrics.update(training_iteration=entry["iteration"], time_total_s=entry["time_total_s"])
        book.adopt(Checkpoint(url, filesystem=storage.remote_fs), metrics)
    book.skip_to_index(record.next_checkpoint_index)
    if record.borrowed:  # PBT's exploit: the next attempt starts from the donor's checkpoint
        trial_dir, path = record.borrowed
        book.borrowed = Checkpoint(f"{storage.trial_url(trial_dir)}/{path}", filesystem=storage.remote_fs)
