"""Finished trials, out of the driver's memory: what the controller keeps of a trial once it
has ended for good, and how the rest is read back from storage when someone asks.

The controller replaces each finished trial by a :class:`FinishedTrial` (id, folder,
status, tag, name: a few hundred bytes) once no attempt of it runs. Its config, last
result, metric summary and error are in the trial's folder (``params.pkl``,
``result.json``, ``error.pkl``), written by the JSON logger; :class:`RetiredTrials` reads
them back on demand and keeps the few most recently asked for.
"""

from __future__ import annotations

import collections
import datetime
import time
from typing import Any, Callable

from tunesmith._flatten import flatten_dict, lookup, unflatten_dict
from tunesmith.experiment._trial import FinishedTrial, Trial, TrialStatus
from tunesmith.storage import ExperimentStorage
from tunesmith.trainable import _session

__all__ = ["RetiredTrials", "empty_final_result", "metric_score"]

_CACHED = 64  # full trials kept after a read: a callback looking at a few recent ones reads each once


class RetiredTrials:
    """The source of every :class:`FinishedTrial` of one experiment.

    Args:
        storage: The experiment's storage (trial folders).
        trainable_name: The trainable's name (part of each trial's default name).
        book_of: Returns a trial's checkpoint book, or None when it kept none.
        metric: The experiment's metric (``a/b`` for nested), kept in each stand-in so that
            progress reports find the best trial without reading folders.
    """

    def __init__(self, storage: ExperimentStorage, trainable_name: str, book_of: Callable[[str], Any],
                 metric: Any = None) -> None:
        self.trainable_name = trainable_name
        self._storage = storage
        self._book_of = book_of
        self._metric = metric if isinstance(metric, str) else None
        self._shared: dict[tuple, Any] = {}
        self._cache: collections.OrderedDict[str, Trial] = collections.OrderedDict()
        self._unsettled = False  # trials retired since the log writer was last waited for

    def retire(self, trial: Trial) -> FinishedTrial:
        """The small stand-in for the finished ``trial``."""
        self._unsettled = True
        return FinishedTrial(trial, self)

    def score(self, last_result: dict[str, Any]) -> Any:
        """The experiment's metric in ``last_result``, if it is a number (else None)."""
        return metric_score(last_result, self._metric)

    @staticmethod
    def kept(trial: Trial) -> dict[str, Any] | None:
        """What the stand-in of ``trial`` keeps in memory because its folder cannot give it back
        as it was: the error (``error.pkl`` would run the exception's ``__init__`` in the driver;
        the one the driver holds was rebuilt from data) and a last result that JSON does not
        keep exactly (tuples, numpy arrays, non-string keys). None for most trials."""
        kept = {}
        if trial.error is not None:
            kept["error"] = trial.error
        if trial.last_result and not _json_exact(trial.last_result):
            kept["last_result"] = trial.last_result
        return kept or None

    def summary(self, score: Any) -> dict[str, Any]:
        return {} if score is None else unflatten_dict({self._metric: score})

    def shared(self, value: Any) -> Any:
        """One object for each distinct resource request or tuple of parameter names (most
        experiments have one of each)."""
        key = tuple(sorted(value.items())) if isinstance(value, dict) else value
        return self._shared.setdefault(key, value)

    def trial_path(self, dirname: str) -> str:
        return self._storage.trial_local_path(dirname)

    def load(self, stub: FinishedTrial) -> Trial:
        """The full trial ``stub`` stands for, read from its folder."""
        trial = self._cache.get(stub.trial_id)
        if trial is not None:
            self._cache.move_to_end(stub.trial_id)
            return trial
        trial = self._read(stub)
        self._cache[stub.trial_id] = trial
        if len(self._cache) > _CACHED:
            self._cache.popitem(last=False)
        return trial

    def _read(self, stub: FinishedTrial) -> Trial:
        rows: list[dict[str, Any]] = []
        config: dict[str, Any] | None = None
        error = None
        if stub.dirname is not None:
            if self._unsettled:  # the log writer has written every retired trial's files
                self._storage.settle_logs()
                self._unsettled = False
            files = self._storage.trial_files(stub.dirname)
            rows, config = files.rows(), files.read_config()
            if stub.status is TrialStatus.ERROR and "error" not in (stub.kept or {}):
                error = files.read_error()
        last = dict(rows[-1]) if rows else {}
        if config is None:
            config = last.get("config", {})
        params = {name: lookup(config, name) for name in stub.param_names}
        trial = Trial(self.trainable_name, trial_id=stub.trial_id, config=config, experiment_tag=stub.experiment_tag,
                      evaluated_params=params, resources=stub.resources)
        for row in rows:
            trial.update_metric_analysis(flatten_dict(row))
        trial.status, trial.dirname, trial.path = stub.status, stub.dirname, stub.path
        trial.num_failures, trial.attempt, trial.error = stub.num_failures, stub.attempt, error
        trial.custom_trial_name = str(stub)
        trial.last_result = _final(last, stub, config)
        for name, value in (stub.kept or {}).items():
            setattr(trial, name, value)
        book = self._book_of(stub.trial_id)
        trial.checkpoint = book.latest if book is not None else None
        return trial


def metric_score(result: dict[str, Any] | None, metric: Any) -> Any:
    """``metric`` (``a/b`` for nested) in ``result``, if it is a number (else None)."""
    if not isinstance(metric, str) or not result:
        return None
    value = result.get(metric)
    if value is None and "/" in metric:
        value = flatten_dict(result).get(metric)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _json_exact(value: Any) -> bool:
    """Whether ``value`` reads back from a JSON file as it is."""
    if value is None or type(value) in (bool, int, float, str):
        return True
    if type(value) is dict:
        return all(type(key) is str and _json_exact(item) for key, item in value.items())
    if type(value) is list:
        return all(_json_exact(item) for item in value)
    return False


def _final(last: dict[str, Any], stub: FinishedTrial, config: dict[str, Any]) -> dict[str, Any]:
    """The trial's last result as the driver had it: ``done`` as it was (the file's row was
    written before the trial ended); for one that ended without reporting, the final result
    Ray Tune records (ids, time, host, config, ``done``), which has no row in the files."""
    if stub._done is None:  # it had no result when it ended (stopped before it reported)
        return {}
    if not last:
        return empty_final_result(stub.trial_id, config)
    last["done"] = stub._done
    return last


def empty_final_result(trial_id: str, config: dict[str, Any]) -> dict[str, Any]:
    """The final result of a trial that reported nothing: ids, time, host, config and
    ``done: True``, as Ray Tune records it (no ``training_iteration``, no row in the files)."""
    now = time.time()
    return {
        "trial_id": trial_id,
        "date": datetime.datetime.fromtimestamp(now).strftime("%Y-%m-%d_%H-%M-%S"),
        "timestamp": int(now),
        "hostname": _session._HOSTNAME,
        "node_ip": _session._NODE_IP,
        "config": config,
        "done": True,
    }
