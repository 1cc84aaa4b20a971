"""``LoggerCallback`` and the default JSON and CSV loggers."""

from __future__ import annotations

import csv
import io
import json
import os
from typing import TYPE_CHECKING, Any

import cloudpickle

from tunesmith._flatten import flatten_dict, json_default
from tunesmith.callback import Callback

if TYPE_CHECKING:
    from tunesmith.experiment import Trial

__all__ = ["CSVLoggerCallback", "JsonLoggerCallback", "LoggerCallback"]

EXPR_PARAM_FILE = "params.json"
EXPR_PARAM_PICKLE_FILE = "params.pkl"
EXPR_PROGRESS_FILE = "progress.csv"
EXPR_RESULT_FILE = "result.json"


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
    """Writes ``params.json``, ``params.pkl`` and ``result.json`` (one JSON line per result)."""

    def __init__(self) -> None:
        self._files: dict[str, io.TextIOBase] = {}

    def log_trial_start(self, trial: Trial) -> None:
        if trial.trial_id in self._files:
            return
        params = os.path.join(trial.path, EXPR_PARAM_FILE)
        if not os.path.exists(params):
            with open(params, "w") as f:
                json.dump(trial.config, f, indent=2, sort_keys=True, default=json_default)
            with open(os.path.join(trial.path, EXPR_PARAM_PICKLE_FILE), "wb") as f:
                cloudpickle.dump(trial.config, f)
        self._files[trial.trial_id] = open(os.path.join(trial.path, EXPR_RESULT_FILE), "a")

    def log_trial_result(self, iteration: int, trial: Trial, result: dict) -> None:
        if trial.trial_id not in self._files:
            self.log_trial_start(trial)
        f = self._files[trial.trial_id]
        f.write(json.dumps(result, default=json_default) + "\n")
        f.flush()

    def log_trial_end(self, trial: Trial, failed: bool = False) -> None:
        f = self._files.pop(trial.trial_id, None)
        if f is not None:
            f.close()


class CSVLoggerCallback(LoggerCallback):
    """Writes ``progress.csv``: one row per result, nested keys flattened with ``/``.

    Unlike Ray Tune, a key that first appears in a later result gets its own column: the
    file is rewritten once with the wider header, so no value is dropped.
    """

    def __init__(self) -> None:
        self._files: dict[str, tuple[io.TextIOBase, list[str]]] = {}

    def _open(self, trial: Trial) -> tuple[io.TextIOBase, list[str]]:
        path = os.path.join(trial.path, EXPR_PROGRESS_FILE)
        header: list[str] = []
        if os.path.exists(path) and os.path.getsize(path):
            with open(path, newline="") as f:
                header = next(csv.reader(f), [])
        entry = (open(path, "a", newline=""), header)
        self._files[trial.trial_id] = entry
        return entry

    def log_trial_result(self, iteration: int, trial: Trial, result: dict) -> None:
        f, header = self._files.get(trial.trial_id) or self._open(trial)
        row = flatten_dict({k: v for k, v in result.items() if k != "config"})
        new_keys = [k for k in row if k not in header]
        if new_keys:
            f = self._widen(trial, f, header, new_keys)
        writer = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
        writer.writerow(row)
        f.flush()

    def _widen(self, trial: Trial, f: io.TextIOBase, header: list[str], new_keys: list[str]) -> io.TextIOBase:
        f.close()
        path = os.path.join(trial.path, EXPR_PROGRESS_FILE)
        with open(path, newline="") as old:
            rows = list(csv.DictReader(old)) if header else []
        header.extend(new_keys)
        tmp = path + ".tmp"
        with open(tmp, "w", newline="") as new:
            writer = csv.DictWriter(new, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
        f = open(path, "a", newline="")
        self._files[trial.trial_id] = (f, header)
        return f

    def log_trial_end(self, trial: Trial, failed: bool = False) -> None:
        entry = self._files.pop(trial.trial_id, None)
        if entry is not None:
            entry[0].close()
