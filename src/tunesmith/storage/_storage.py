"""Where an experiment's files live. The only code that knows paths."""

from __future__ import annotations

import datetime
import json
import os
import re
import secrets
import time
from typing import TYPE_CHECKING, Any

from tunesmith import _settings
from tunesmith._flatten import json_default
from tunesmith.error import StorageError

if TYPE_CHECKING:
    from tunesmith.experiment import Trial

__all__ = ["ExperimentStorage", "JOURNAL_FILE", "date_str"]

JOURNAL_FILE = "journal.jsonl"
_UNSAFE = re.compile(r'[/()<>:"\\|?*]')


def date_str() -> str:
    return datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")


class ExperimentStorage:
    """The experiment folder ``<storage_path>/<name>`` and the trial folders in it.

    Args:
        storage_path: A local folder (``~`` is expanded).
        name: The experiment's folder name.
    """

    def __init__(self, storage_path: str | os.PathLike, name: str) -> None:
        storage_path = os.fspath(storage_path)
        if storage_path.startswith("file://"):
            storage_path = storage_path[len("file://") :]
        if "://" in storage_path:
            raise StorageError(
                f"storage_path {storage_path!r} is a URL; this build writes experiments to a local "
                "folder or a shared mount. Pass a local path."
            )
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"the experiment name must be a plain folder name, got {name!r}")
        self.root = os.path.abspath(os.path.expanduser(storage_path))
        self.name = name
        self.experiment_path = os.path.join(self.root, name)
        self._journal: Any = None

    def prepare(self) -> None:
        """Create the experiment folder and check it can be written.

        Raises:
            StorageError: naming the folder and the reason, before any trial starts.
        """
        try:
            os.makedirs(self.experiment_path, exist_ok=True)
            probe = os.path.join(self.experiment_path, ".write_test")
            with open(probe, "w") as f:
                f.write("ok")
            os.remove(probe)
        except OSError as exc:
            raise StorageError(
                f"cannot write to the storage path {self.experiment_path!r}: {exc.strerror or exc}. "
                "Pass RunConfig(storage_path=...) a folder you can write to."
            ) from exc

    # -- journal -------------------------------------------------------------------------
    @property
    def journal_path(self) -> str:
        return os.path.join(self.experiment_path, JOURNAL_FILE)

    def journal(self, event: str, **fields: Any) -> None:
        """Append one record to the journal and flush it (it survives a ``kill -9``)."""
        if self._journal is None:
            self._journal = open(self.journal_path, "a", buffering=1 << 16)
        record = {"event": event, "time": round(time.time(), 3), **fields}
        self._journal.write(json.dumps(record, default=json_default) + "\n")
        self._journal.flush()

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    # -- trials --------------------------------------------------------------------------
    def trial_dirname(self, trial: Trial, dirname_creator: Any = None) -> str:
        if dirname_creator is not None:
            name = dirname_creator(trial)
            if not isinstance(name, str) or not name or os.sep in name:
                raise ValueError(
                    f"trial_dirname_creator must return a folder name without {os.sep!r}, got {name!r}"
                )
            return name
        base = f"{trial}_{trial.experiment_tag}" if trial.experiment_tag else str(trial)
        base = _UNSAFE.sub("_", base)[: _settings.max_len_identifier()]
        return f"{base}_{date_str()}"

    def create_trial_dir(self, trial: Trial, dirname_creator: Any = None) -> str:
        """Create the trial's folder (unique) and return its path."""
        name = self.trial_dirname(trial, dirname_creator)
        path = os.path.join(self.experiment_path, name)
        while os.path.exists(path) and dirname_creator is None:
            path = os.path.join(self.experiment_path, f"{name}_{secrets.token_hex(2)}")
        os.makedirs(path, exist_ok=True)
        return path
