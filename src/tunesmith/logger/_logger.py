"""``LoggerCallback`` and the default JSON and CSV loggers."""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
from typing import TYPE_CHECKING, Any

import cloudpickle

from tunesmith._flatten import flatten_dict, json_default, to_json
from tunesmith.callback import Callback
from tunesmith.storage._files import append_file, write_file

if TYPE_CHECKING:
    from tunesmith.experiment import Trial

__all__ = ["CSVLoggerCallback", "JsonLoggerCallback", "LoggerCallback"]

EXPR_PARAM_FILE = "params.json"
EXPR_PARAM_PICKLE_FILE = "params.pkl"
EXPR_PROGRESS_FILE = "progress.csv"
EXPR_RESULT_FILE = "result.json"


def _is_plain(value: Any) -> bool:
    """Whether ``value`` holds only built-in scalars and containers, which plain pickle
    writes faster than cloudpickle, and in the same format."""
    if value is None or type(value) in (bool, int, float, str, bytes):
        return True
    if type(value) in (list, tuple):
        return all(_is_plain(v) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _is_plain(v) for k, v in value.items())
    return False


class LoggerCallback(Callback):
    """A callback that logs per trial; override the ``log_trial_*`` methods."""

    def log_trial_start(self, trial: Trial) -> None:
        """The trial started (or restarted)."""

    def log_trial_restore(self, trial: Trial) -> None:
        """The trial restarted from a checkpoint."""

    def log_trial_save(self, trial: Trial) -> None:
        """The trial saved a checkpoint."""

    def log_trial_result(self, iteration: int, trial: Trial, result: dict) -> None:
        """The trial reported ``result``."""

    def log_trial_end(self, trial: Trial, failed: bool = False) -> None:
        """The trial ended; ``failed`` if it errored."""

    def on_trial_start(self, iteration: int, trials: list, trial: Trial, **info: Any) -> None:
        self.log_trial_start(trial)

    def on_trial_restore(self, iteration: int, trials: list, trial: Trial, **info: Any) -> None:
        self.log_trial_restore(trial)

    def on_trial_save(self, iteration: int, trials: list, trial: Trial, **info: Any) -> None:
        self.log_trial_save(trial)

    def on_trial_result(self, iteration: int, trials: list, trial: Trial, result: dict, **info: Any) -> None:
        self.log_trial_result(iteration, trial, result)

    def on_trial_complete(self, iteration: int, trials: list, trial: Trial, **info: Any) -> None:
        self.log_trial_end(trial, failed=False)

    def on_trial_error(self, iteration: int, trials: list, trial: Trial, **info: Any) -> None:
        self.log_trial_end(trial, failed=True)


class JsonLoggerCallback(LoggerCallback):
    """Writes ``params.json``, ``params.pkl`` and ``result.json`` (one JSON line per result).

    Each line is appended with one ``write`` and no file stays open between results, so a
    crash can cut at most the last line short, and a restore can rewrite the file.
    """

    def log_trial_start(self, trial: Trial) -> None:
        params = os.path.join(trial.path, EXPR_PARAM_FILE)
        if trial.attempt != 0 and os.path.exists(params):  # a first attempt's folder is new
            return
        pickled = pickle.dumps(trial.config) if _is_plain(trial.config) else cloudpickle.dumps(trial.config)
        write_file(os.path.join(trial.path, EXPR_PARAM_PICKLE_FILE), pickled)
        write_file(params, json.dumps(trial.config, indent=2, sort_keys=True, default=json_default).encode())

    def log_trial_result(self, iteration: int, trial: Trial, result: dict) -> None:
        append_file(os.path.join(trial.path, EXPR_RESULT_FILE), (to_json(result) + "\n").encode())


class CSVLoggerCallback(LoggerCallback):
    """Writes ``progress.csv``: one row per result, nested keys flattened with ``/``.

    Unlike Ray Tune, a key that first appears in a later result gets its own column: the
    file is rewritten once with the wider header, so no value is dropped.
    """

    def __init__(self) -> None:
        self._headers: dict[str, list[str]] = {}

    def _header(self, trial: Trial) -> list[str]:
        header = self._headers.get(trial.trial_id)
        if header is None:
            path = os.path.join(trial.path, EXPR_PROGRESS_FILE)
            header = []
            # A first attempt's folder is new; a later one may go on with an earlier file.
            if trial.attempt != 0 and os.path.exists(path) and os.path.getsize(path):
                with open(path, newline="") as f:
                    header = next(csv.reader(f), [])
            self._headers[trial.trial_id] = header
        return header

    def log_trial_result(self, iteration: int, trial: Trial, result: dict) -> None:
        header = self._header(trial)
        row = flatten_dict({k: v for k, v in result.items() if k != "config"})
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        if not header:  # the first row: header and row in one write
            header.extend(row)
            writer.writerow(header)
        new_keys = [k for k in row if k not in header]
        if new_keys:
            self._widen(trial, header, new_keys)
        writer.writerow([row.get(key, "") for key in header])
        append_file(os.path.join(trial.path, EXPR_PROGRESS_FILE), buffer.getvalue().encode())

    def _widen(self, trial: Trial, header: list[str], new_keys: list[str]) -> None:
        path = os.path.join(trial.path, EXPR_PROGRESS_FILE)
        rows = []
        if header and os.path.exists(path):
            with open(path, newline="") as old:
                rows = list(csv.DictReader(old))
        header.extend(new_keys)
        tmp = path + ".tmp"
        with open(tmp, "w", newline="") as new:
            writer = csv.DictWriter(new, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)

    def on_trial_restore(self, iteration: int, trials: list, trial: Trial, **info: Any) -> None:
        self._headers.pop(trial.trial_id, None)  # the file may have been cut back to a checkpoint

    def log_trial_end(self, trial: Trial, failed: bool = False) -> None:
        self._headers.pop(trial.trial_id, None)
