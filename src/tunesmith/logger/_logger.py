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
    from tunesmith.experiment._trial import Trial

__all__ = ["CSVLoggerCallback", "CsvFiles", "JsonFiles", "JsonLoggerCallback", "LoggerCallback"]

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

    # -- set by the Tuner before the experiment starts (a logger written for Ray needs neither) --
    def attach_log_writer(self, log_writer: Any) -> None:
        """Write through ``log_writer`` (a :class:`tunesmith.logger._writer.LogWriter`) instead
        of in the driver; the default loggers take it when the trial files are local."""

    def attach_log_settler(self, settle: Any) -> None:
        """``settle()`` returns once every logger's files are written: a logger that reads
        them (MLflow's ``save_artifact``) calls it first."""


class JsonFiles:
    """The JSON logger's writes; in the driver, or in the log writer process (see ``_writer``)."""

    def params(self, folder: str, attempt: int, pickled: bytes, text: bytes) -> None:
        """Write ``params.pkl`` and ``params.json``, unless a later attempt finds them written."""
        params = os.path.join(folder, EXPR_PARAM_FILE)
        if attempt != 0 and os.path.exists(params):  # a first attempt's folder is new
            return
        write_file(os.path.join(folder, EXPR_PARAM_PICKLE_FILE), pickled)
        write_file(params, text)

    def append(self, path: str, data: bytes) -> None:
        append_file(path, data)


class JsonLoggerCallback(LoggerCallback):
    """Writes ``params.json``, ``params.pkl`` and ``result.json`` (one JSON line per result).

    Each line is appended with one ``write`` and no file stays open between results, so a
    crash can cut at most the last line short, and a restore can rewrite the file.
    """

    _files: Any = None  # JsonFiles, or the log writer's stand-in for one

    def attach_log_writer(self, log_writer: Any) -> None:
        self._files = log_writer.proxy("json")

    def log_trial_start(self, trial: Trial) -> None:
        pickled = pickle.dumps(trial.config) if _is_plain(trial.config) else cloudpickle.dumps(trial.config)
        text = json.dumps(trial.config, indent=2, sort_keys=True, default=json_default).encode()
        self._sink().params(trial.path, trial.attempt, pickled, text)

    def log_trial_result(self, iteration: int, trial: Trial, result: dict) -> None:
        self._sink().append(os.path.join(trial.path, EXPR_RESULT_FILE), (to_json(result) + "\n").encode())

    def _sink(self) -> Any:
        if self._files is None:
            self._files = JsonFiles()
        return self._files


class CsvFiles:
    """The CSV logger's writes and the header of each trial's file; in the driver, or in
    the log writer process (see ``_writer``)."""

    def __init__(self) -> None:
        self._headers: dict[str, list[str]] = {}
        self._columns: dict[str, set[str]] = {}  # each header as a set: a row's new keys in linear time

    def row(self, trial_id: str, folder: str, attempt: int, row: dict[str, Any]) -> None:
        """Append ``row`` (flat) under the file's header, widening the header for new keys."""
        header = self._header(trial_id, folder, attempt)
        columns = self._columns[trial_id]
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        if not header:  # the first row: header and row in one write
            header.extend(row)
            columns.update(row)
            writer.writerow(header)
        new_keys = [k for k in row if k not in columns]
        if new_keys:
            self._widen(folder, header, new_keys)
            columns.update(new_keys)
        writer.writerow([row.get(key, "") for key in header])
        append_file(os.path.join(folder, EXPR_PROGRESS_FILE), buffer.getvalue().encode())

    def forget(self, trial_id: str) -> None:
        """The trial ended, or its file may have been cut back: read the header again next time."""
        self._headers.pop(trial_id, None)
        self._columns.pop(trial_id, None)

    def _header(self, trial_id: str, folder: str, attempt: int) -> list[str]:
        header = self._headers.get(trial_id)
        if header is None:
            path = os.path.join(folder, EXPR_PROGRESS_FILE)
            header = []
            # A first attempt's folder is new; a later one may go on with an earlier file.
            if attempt != 0 and os.path.exists(path) and os.path.getsize(path):
                with open(path, newline="") as f:
                    header = next(csv.reader(f), [])
            self._headers[trial_id] = header
            self._columns[trial_id] = set(header)
        return header

    def _widen(self, folder: str, header: list[str], new_keys: list[str]) -> None:
        path = os.path.join(folder, EXPR_PROGRESS_FILE)
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


_CSV_PLAIN = (str, int, float, bool, type(None))


class CSVLoggerCallback(LoggerCallback):
    """Writes ``progress.csv``: one row per result, nested keys flattened with ``/``.

    Unlike Ray Tune, a key that first appears in a later result gets its own column: the
    file is rewritten once with the wider header, so no value is dropped.
    """

    _files: Any = None  # CsvFiles, or the log writer's stand-in for one

    def attach_log_writer(self, log_writer: Any) -> None:
        self._files = log_writer.proxy("csv")

    def log_trial_result(self, iteration: int, trial: Trial, result: dict) -> None:
        row = flatten_dict({k: v for k, v in result.items() if k != "config"})
        # Other values become the text the csv module would write for them, so that the
        # row can go to the log writer process whatever it holds.
        row = {k: v if type(v) in _CSV_PLAIN else str(v) for k, v in row.items()}
        self._sink().row(trial.trial_id, trial.path, trial.attempt, row)

    def on_trial_restore(self, iteration: int, trials: list, trial: Trial, **info: Any) -> None:
        self._sink().forget(trial.trial_id)  # the file may have been cut back to a checkpoint

    def log_trial_end(self, trial: Trial, failed: bool = False) -> None:
        self._sink().forget(trial.trial_id)

    def _sink(self) -> Any:
        if self._files is None:
            self._files = CsvFiles()
        return self._files
