"""A trial's folder: every file name in it, and every read and write of it, in one place.

The loggers append ``result.json`` and ``progress.csv`` (possibly from the log writer
process); the driver writes ``error.txt`` and ``error.pkl`` when an attempt fails, and
rewinds the logs when a trial resumes from a checkpoint. Everything that reads these
files (restore, ``ExperimentAnalysis``, ``Result``, ``ResultGrid``) reads through
:class:`TrialFiles`, so a torn last line is skipped the same way everywhere.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from typing import TYPE_CHECKING, Any

import cloudpickle

from tunesmith.error import StorageError, TrialError
from tunesmith.storage._files import append_file

if TYPE_CHECKING:
    from tunesmith._checkpoint import Checkpoint

__all__ = ["ERROR_FILE", "ERROR_TEXT_FILE", "PROGRESS_FILE", "RESULT_FILE", "TrialFiles", "checkpoint_exists"]

RESULT_FILE = "result.json"
PROGRESS_FILE = "progress.csv"
ERROR_FILE = "error.pkl"
PARAMS_PICKLE_FILE = "params.pkl"
ERROR_TEXT_FILE = "error.txt"
_RESTORE_HINT = "The experiment stopped; what was recorded so far can be restored with Tuner.restore(...)"


class TrialFiles:
    """The files of the trial folder ``path`` (a local folder).

    Example:
        >>> import tempfile
        >>> files = TrialFiles(tempfile.mkdtemp())
        >>> files.rows()
        []
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def _file(self, name: str) -> str:
        return os.path.join(self.path, name)

    # -- results ------------------------------------------------------------------------------
    def rows(self) -> list[dict[str, Any]]:
        """The intact rows of ``result.json``, oldest first; a torn line (a crash cut it
        short) or a line that is not a JSON object is skipped."""
        return [row for _, row in self._result_lines()]

    def _result_lines(self) -> list[tuple[str, dict[str, Any]]]:
        try:
            with open(self._file(RESULT_FILE), encoding="utf-8", errors="replace") as f:
                lines = f.readlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                out.append((line if line.endswith("\n") else line + "\n", row))
        return out

    def last_row(self) -> dict[str, Any]:
        rows = self.rows()
        return rows[-1] if rows else {}

    def rewind(self, last_iteration: int) -> list[dict[str, Any]]:
        """Cut ``result.json`` and ``progress.csv`` back to the rows up to ``last_iteration``;
        return the rows kept.

        A trial that resumes from the checkpoint of iteration ``last_iteration`` reports the
        later iterations again; without this they would appear twice.

        Raises:
            StorageError: the files cannot be rewritten (a full disk); names the file.
        """
        kept = [(line, row) for line, row in self._result_lines()
                if _number(row.get("training_iteration")) <= last_iteration]
        if os.path.exists(self._file(RESULT_FILE)):
            self._replace(RESULT_FILE, "".join(line for line, _ in kept).encode())
        self._rewind_progress(last_iteration)
        return [row for _, row in kept]

    def _rewind_progress(self, last_iteration: int) -> None:
        path = self._file(PROGRESS_FILE)
        if not os.path.exists(path):
            return
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            rows = [r for r in reader if _number(r.get("training_iteration")) <= last_iteration]
        buffer = io.StringIO()
        if header:
            writer = csv.DictWriter(buffer, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
        self._replace(PROGRESS_FILE, buffer.getvalue().encode())

    def read_config(self) -> dict[str, Any] | None:
        """The trial's config as ``params.pkl`` holds it, or None when there is none (or it no
        longer unpickles)."""
        try:
            with open(self._file(PARAMS_PICKLE_FILE), "rb") as f:
                return cloudpickle.load(f)
        except FileNotFoundError:
            return None
        except Exception:  # a class the config held no longer imports, or a torn file
            return None

    # -- errors -------------------------------------------------------------------------------
    def write_error(self, error: BaseException, traceback_text: str, failure_number: int) -> None:
        """Append the failure to ``error.txt`` and keep the exception in ``error.pkl``.

        Raises:
            StorageError: the files cannot be written; names the file.
        """
        stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
        text = f"Failure # {failure_number} (occurred at {stamp})\n{traceback_text}\n"
        try:
            data = cloudpickle.dumps(error)
        except Exception:
            data = cloudpickle.dumps(TrialError(f"{type(error).__name__}: {error}"))
        try:
            append_file(self._file(ERROR_TEXT_FILE), text.encode())
        except OSError as exc:
            raise _write_failed(self._file(ERROR_TEXT_FILE), exc) from exc
        self._replace(ERROR_FILE, data)

    def read_error(self) -> BaseException | None:
        """The trial's last error, or None; an error that no longer unpickles comes back as
        a ``RuntimeError`` that says so."""
        try:
            with open(self._file(ERROR_FILE), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        try:
            return cloudpickle.loads(data)
        except Exception as exc:  # an exception class that no longer imports, or a torn file
            return RuntimeError(f"could not load the trial's error ({exc}); see {self._file(ERROR_TEXT_FILE)}")

    # -- checkpoints --------------------------------------------------------------------------
    def checkpoint_folders(self) -> list[str]:
        """The names of the ``checkpoint_*`` folders present, in order."""
        try:
            return sorted(d for d in os.listdir(self.path) if d.startswith("checkpoint_"))
        except FileNotFoundError:
            return []

    def _replace(self, name: str, data: bytes) -> None:
        path = self._file(name)
        tmp = f"{path}.tmp-{os.getpid()}"
        try:
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except OSError as exc:
            try:
                os.remove(tmp)
            except OSError:
                pass
            raise _write_failed(path, exc) from exc


def checkpoint_exists(checkpoint: Checkpoint) -> bool:
    """Whether ``checkpoint``'s folder is still there (local or on its filesystem)."""
    try:
        return bool(checkpoint.filesystem.exists(checkpoint.path))
    except Exception:
        return False


def _write_failed(path: str, exc: OSError) -> StorageError:
    return StorageError(f"cannot write {path!r}: {exc.strerror or exc}. {_RESTORE_HINT}")


def _number(value: Any) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0
