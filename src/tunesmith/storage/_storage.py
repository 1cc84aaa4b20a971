"""Where an experiment's files live. The only code that knows paths.

The driver writes an experiment's files (journal, params, results) into a local folder.
When ``storage_path`` is a local folder that folder is the experiment folder itself; when
it is a URL (``s3://...``, ``gs://...``) the local folder is a staging copy that is
uploaded to the URL at every trial state change, and every few seconds while results
arrive. Trial processes upload checkpoints to the URL themselves.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import secrets
import shutil
import tempfile
import time
from typing import TYPE_CHECKING, Any, Iterator

from tunesmith import _settings
from tunesmith._flatten import to_json
from tunesmith.error import StorageError
from tunesmith.storage._files import write_all
from tunesmith.storage._journal import Journal
from tunesmith.storage._lock import DriverLock
from tunesmith.storage._trial_files import TrialFiles

if TYPE_CHECKING:
    from tunesmith.experiment._trial import Trial

__all__ = ["ExperimentStorage", "JOURNAL_FILE", "atomic_write", "date_str", "split_url", "unique_name"]

JOURNAL_FILE = "journal.jsonl"
EXPERIMENT_FILE = "experiment.pkl"
SCHEDULER_FILE = "scheduler-state.pkl"
_UNSAFE = re.compile(r'[/()<>:"\\|?*]')
_SYNC_PERIOD_S = 5.0
# fsspec filesystems that live inside one process: trial processes cannot reach them.
_PROCESS_LOCAL_PROTOCOLS = frozenset(("memory",))


_last_date: tuple[int, str] = (-1, "")


def _checked_dirname(name: Any) -> str:
    """``name`` if it is one folder inside the experiment's, else ValueError saying why."""
    separators = {"/", os.sep, os.altsep or "/"}
    if (not isinstance(name, str) or name in ("", ".", "..") or "\0" in name
            or any(sep in name for sep in separators)):
        raise ValueError(
            "trial_dirname_creator must return a folder name inside the experiment folder: a non-empty str "
            f"without path separators, not '.' or '..'; got {name!r}"
        )
    return name


def date_str() -> str:
    """The local time to the second, as in folder names: ``2026-11-29_11-08-26``."""
    global _last_date
    second = int(time.time())
    if second != _last_date[0]:  # formatted once a second, not once per trial
        _last_date = (second, datetime.datetime.fromtimestamp(second).strftime("%Y-%m-%d_%H-%M-%S"))
    return _last_date[1]


def split_url(path: str | os.PathLike, filesystem: Any = None) -> tuple[Any, str, bool]:
    """``(filesystem, path without protocol, is_local)`` for a local path or fsspec URL."""
    path = os.fspath(path)
    if filesystem is not None:
        stripped = path.split("://", 1)[1] if "://" in path else path
        return filesystem, stripped, _fs_is_local(filesystem)
    if "://" not in path:
        return None, os.path.abspath(os.path.expanduser(path)), True
    import fsspec.core  # only for URLs: importing it reads every installed package's entry points

    fs, stripped = fsspec.core.url_to_fs(path)
    return fs, stripped, _fs_is_local(fs)


def _fs_is_local(fs: Any) -> bool:
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    return bool({"file", "local"} & set(protocols))


def atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary name, so readers never see half a file."""
    tmp = f"{path}.tmp-{secrets.token_hex(4)}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class ExperimentStorage:
    """The experiment folder ``<storage_path>/<name>`` and the trial folders in it.

    Args:
        storage_path: A local folder (``~`` is expanded) or an fsspec URL.
        name: The experiment's folder name.
        filesystem: An fsspec filesystem for ``storage_path`` (e.g. an ``s3fs`` one with
            a custom endpoint); inferred from the URL when omitted.
    """

    def __init__(self, storage_path: str | os.PathLike, name: str, filesystem: Any = None) -> None:
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"the experiment name must be a plain folder name, got {name!r}")
        fs, root, is_local = split_url(storage_path, filesystem)
        self.name = name
        self._max_len_identifier = _settings.max_len_identifier()  # read once per experiment
        self.remote_fs = None if is_local else fs
        self.remote_path = None if is_local else f"{root.rstrip('/')}/{name}"
        if is_local:
            self.local_path = os.path.join(root, name)
            self.experiment_path = self.local_path
        else:
            self.local_path = os.path.join(tempfile.mkdtemp(prefix="tunesmith_staging_"), name)
            protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
            self.experiment_path = f"{protocol}://{self.remote_path}"
        self._journal: Any = None
        self.journal = Journal(self._append_record)
        self.lock = DriverLock(self.local_path, self.experiment_path, self.remote_fs, self.remote_path)
        self._journal_pending: list[bytes] = []
        self._defer_journal = False
        self._log_writer: Any = None
        self._dirty: set[str] = set()
        self._last_sync = time.monotonic()

    @property
    def is_remote(self) -> bool:
        return self.remote_fs is not None

    def prepare(self) -> None:
        """Create the experiment folder, check it can be written, and take it for this
        driver until :meth:`close`.

        Raises:
            ExperimentLockedError: another driver holds the folder (the message names it).
            StorageError: naming the folder and the reason, before any trial starts.
        """
        self.check_reachable()
        self.make_folders()
        self.lock.acquire()

    def check_reachable(self) -> None:
        """Raise ValueError if trial processes cannot reach the storage (an in-memory filesystem)."""
        _check_reachable(self.remote_fs, self.experiment_path)

    def make_folders(self) -> None:
        """Create the experiment folder (here and at the URL) and check it can be written.

        Raises:
            StorageError: naming the folder and the reason.
        """
        try:
            os.makedirs(self.local_path, exist_ok=True)
            atomic_write(os.path.join(self.local_path, ".write_test"), b"ok")
            os.remove(os.path.join(self.local_path, ".write_test"))
            if self.remote_fs is not None:
                self.remote_fs.makedirs(self.remote_path, exist_ok=True)
                self.remote_fs.pipe_file(f"{self.remote_path}/.write_test", b"ok")
        except Exception as exc:
            raise StorageError(
                f"cannot write to the storage path {self.experiment_path!r}: {getattr(exc, 'strerror', None) or exc}. "
                "Pass RunConfig(storage_path=...) a folder or URL you can write to."
            ) from exc

    def download(self) -> None:
        """Copy the experiment's files (not checkpoints) from the URL into the staging folder."""
        if self.remote_fs is None:
            return
        os.makedirs(self.local_path, exist_ok=True)
        self.remote_fs.invalidate_cache()
        for remote in self.remote_fs.find(self.remote_path):
            relative = remote[len(self.remote_path) :].lstrip("/")
            if "/checkpoint_" in f"/{relative}":
                # a trial whose process uploaded a checkpoint before the driver uploaded any of
                # its files (a kill -9 in between) still gets its folder: a restore writes there
                trial_folder = f"/{relative}".split("/checkpoint_", 1)[0].lstrip("/")
                os.makedirs(os.path.join(self.local_path, trial_folder), exist_ok=True)
                continue
            if relative.startswith(".write_test"):
                continue
            target = os.path.join(self.local_path, relative)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            self.remote_fs.get_file(remote, target)

    # -- journal -------------------------------------------------------------------------
    @property
    def journal_path(self) -> str:
        return os.path.join(self.local_path, JOURNAL_FILE)

    def _append_record(self, record: dict[str, Any]) -> None:
        """Append one record (from :attr:`journal`) and flush it; upload it when the storage is a URL.

        Inside :meth:`deferred_journal` the record is written when the block ends. A crash
        can only cut the last line short, and the reader skips such a line.

        Raises:
            StorageError: the journal cannot be written (the run cannot go on safely).
        """
        self._journal_pending.append((to_json(record) + "\n").encode())
        if not self._defer_journal:
            self.flush_journal()

    @contextlib.contextmanager
    def deferred_journal(self) -> Iterator[None]:
        """Write the records made inside the block together, in one ``write()``, when it ends.

        The controller wraps each step of its loop in one, so every record is on disk
        before the controller next waits for a trial.
        """
        self._defer_journal = True
        try:
            yield
        finally:
            self._defer_journal = False
            self.flush_journal()

    @property
    def journal_pending(self) -> bool:
        """Whether records wait for the end of a :meth:`deferred_journal` block (for tests)."""
        return bool(self._journal_pending)

    def attach_log_writer(self, writer: Any) -> None:
        """Hand ``writer`` (a :class:`tunesmith.logger._writer.LogWriter`) its operations
        before each journal write, so the trial files never lag behind the journal."""
        self._log_writer = writer

    def settle_logs(self) -> None:
        """Return once the log writer has written everything (before the driver reads trial files)."""
        if self._log_writer is not None:
            self._log_writer.sync()

    def flush_journal(self) -> None:
        """Write the records not written yet (see :meth:`journal`)."""
        if self._log_writer is not None:  # the trial files never lag behind the journal
            self._log_writer.flush(force=bool(self._journal_pending))
        if not self._journal_pending:
            return
        data = b"".join(self._journal_pending)
        self._journal_pending.clear()
        try:
            if self._journal is None:
                torn = _ends_torn(self.journal_path)
                self._journal = open(self.journal_path, "ab", buffering=0)
                if torn:  # a crash cut the last record short
                    data = b"\n" + data
            write_all(self._journal.fileno(), data)  # one write() for all the records
        except OSError as exc:
            raise self._write_failed(self.journal_path, exc) from exc
        self.sync(force=True)

    def close(self) -> None:
        """Write what is pending, close the journal and let the folder go."""
        try:
            self.flush_journal()
            if self._journal is not None:
                self.sync(force=True)
                self._journal.close()
                self._journal = None
        finally:
            self.lock.release()

    # -- uploads -------------------------------------------------------------------------
    def mark_dirty(self, trial_path: str) -> None:
        """The driver wrote into ``trial_path``; upload it at the next sync."""
        if self.remote_fs is not None:
            self._dirty.add(trial_path)

    def sync(self, force: bool = False) -> None:
        """Upload the journal and changed trial files to the URL (no-op for local storage)."""
        if self.remote_fs is None:
            return
        now = time.monotonic()
        if not force and now - self._last_sync < _SYNC_PERIOD_S:
            return
        self._last_sync = now
        try:
            for trial_path in sorted(self._dirty):
                self._upload_folder_files(trial_path)
            self._dirty.clear()
            if os.path.exists(self.journal_path):
                self.remote_fs.put_file(self.journal_path, f"{self.remote_path}/{JOURNAL_FILE}")
        except Exception as exc:
            raise StorageError(f"cannot upload to {self.experiment_path!r}: {exc}") from exc

    def _upload_folder_files(self, local_dir: str) -> None:
        relative = os.path.relpath(local_dir, self.local_path)
        for name in os.listdir(local_dir):
            source = os.path.join(local_dir, name)
            if os.path.isfile(source) and ".tmp-" not in name:
                self.remote_fs.put_file(source, f"{self.remote_path}/{relative}/{name}")

    def put_file(self, name: str, data: bytes) -> None:
        """Write a whole file at the experiment's top level (atomically), here and at the URL.

        Raises:
            StorageError: the file cannot be written (a full disk); names it.
        """
        try:
            atomic_write(os.path.join(self.local_path, name), data)
        except OSError as exc:
            raise self._write_failed(os.path.join(self.local_path, name), exc) from exc
        if self.remote_fs is not None:
            self.remote_fs.pipe_file(f"{self.remote_path}/{name}", data)

    def _write_failed(self, path: str, exc: OSError) -> StorageError:
        return StorageError(
            f"cannot write {path!r}: {exc.strerror or exc}. The experiment stopped; what was recorded so far can be "
            f"restored with Tuner.restore({self.experiment_path!r}, trainable=...)"
        )

    # -- searcher and scheduler state -----------------------------------------------------
    def save_search_state(self, search_alg: Any, scheduler: Any) -> None:
        """Save both through their own ``save`` methods, then upload the files.

        Raises:
            StorageError: the files cannot be written (a full disk); names the folder.
        """
        try:
            search_alg.save_to_dir(self.local_path, session_str="latest")
            scheduler.save(os.path.join(self.local_path, SCHEDULER_FILE))
        except OSError as exc:
            raise self._write_failed(self.local_path, exc) from exc
        if self.remote_fs is not None:
            for name in os.listdir(self.local_path):
                source = os.path.join(self.local_path, name)
                if os.path.isfile(source) and name.endswith((".pkl", ".json")) and ".tmp" not in name:
                    self.remote_fs.put_file(source, f"{self.remote_path}/{name}")

    def restore_search_state(self, search_alg: Any, scheduler: Any) -> bool:
        """Load what :meth:`save_search_state` wrote; False if the searcher saved nothing."""
        restored = False
        if search_alg.has_checkpoint(self.local_path):
            search_alg.restore_from_dir(self.local_path)
            restored = True
        path = os.path.join(self.local_path, SCHEDULER_FILE)
        if os.path.exists(path):
            scheduler.restore(path)
        return restored

    # -- trials --------------------------------------------------------------------------
    def trial_dirname(self, trial: Trial, dirname_creator: Any = None) -> str:
        if dirname_creator is not None:
            return _checked_dirname(dirname_creator(trial))
        base = f"{trial}_{trial.experiment_tag}" if trial.experiment_tag else str(trial)
        base = _UNSAFE.sub("_", base)[: self._max_len_identifier]
        return f"{base}_{date_str()}"

    def create_trial_dir(self, trial: Trial, dirname_creator: Any = None) -> str:
        """Create the trial's (local) folder, unique in the experiment; return its name.

        A name that is taken (a ``trial_dirname_creator`` that repeats itself, or a
        default name made twice in the same second) gets the trial id appended, then
        random hex digits, so trials never share a folder.

        Raises:
            StorageError: the folder cannot be created (a full disk); names it.
        """
        try:
            return self._create_trial_dir(trial, dirname_creator)
        except OSError as exc:
            raise self._write_failed(self.local_path, exc) from exc

    def _create_trial_dir(self, trial: Trial, dirname_creator: Any) -> str:
        name = self.trial_dirname(trial, dirname_creator)
        suffixes = iter([f"_{trial.trial_id}"])
        base = name
        while True:
            try:
                os.mkdir(os.path.join(self.local_path, name))  # one call; the experiment folder exists
                return name
            except FileExistsError:
                name = base + next(suffixes, f"_{secrets.token_hex(2)}")

    def trial_local_path(self, dirname: str) -> str:
        return os.path.join(self.local_path, dirname)

    def trial_files(self, dirname: str) -> TrialFiles:
        """The files of the trial folder ``dirname`` (its local copy)."""
        return TrialFiles(self.trial_local_path(dirname))

    def trial_url(self, dirname: str) -> str:
        """Where a trial process puts the trial's checkpoints."""
        if self.remote_fs is None:
            return os.path.join(self.local_path, dirname)
        return f"{self.experiment_path}/{dirname}"

    def delete_checkpoint(self, url: str) -> None:
        if self.remote_fs is None:
            shutil.rmtree(url, ignore_errors=True)
        else:
            path = url.split("://", 1)[1]
            if self.remote_fs.exists(path):
                self.remote_fs.rm(path, recursive=True)


def _ends_torn(path: str) -> bool:
    """Whether the file at ``path`` ends in a line without its newline."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() == 0:
                return False
            f.seek(-1, os.SEEK_END)
            return f.read(1) != b"\n"
    except FileNotFoundError:
        return False


def _check_reachable(fs: Any, storage_path: Any) -> None:
    if fs is None:
        return
    protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
    if protocols & _PROCESS_LOCAL_PROTOCOLS:
        raise ValueError(
            f"the storage path {os.fspath(storage_path)!r} is a filesystem kept in this process's memory, which trial "
            "processes cannot reach, so their checkpoints would be lost. Pass a local folder, a shared mount, or "
            "an object store URL such as s3://bucket/experiments: RunConfig(storage_path=...)"
        )


def unique_name(storage_path: str | os.PathLike, base: str, filesystem: Any = None) -> str:
    """``base``, or ``base_2``, ``base_3``... : the first experiment folder name no other run has taken.

    A local folder is created here, atomically, so two drivers started in the same second
    never share it.
    """
    fs, root, is_local = split_url(storage_path, filesystem)
    try:
        for index in range(1, 10_000):
            name = base if index == 1 else f"{base}_{index}"
            if is_local:
                if index == 1:
                    os.makedirs(root, exist_ok=True)
                try:
                    os.mkdir(os.path.join(root, name))
                    return name
                except FileExistsError:
                    continue
            elif not fs.exists(f"{root.rstrip('/')}/{name}"):
                return name
    except OSError as exc:
        raise StorageError(
            f"cannot write to the storage path {os.fspath(storage_path)!r}: {getattr(exc, 'strerror', None) or exc}. "
            "Pass RunConfig(storage_path=...) a folder or URL you can write to."
        ) from exc
    raise StorageError(f"no free experiment name like {base!r} under {os.fspath(storage_path)!r}")
