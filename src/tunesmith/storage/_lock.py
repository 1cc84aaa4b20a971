"""Locks on an experiment folder: the driver's own, and the log writer's.

The driver holds the folder for its whole life (:class:`DriverLock`), so a second driver
fails at once instead of mixing its files with the first's.

A restore waits for a log writer still draining what a dead driver sent.

The log writer process (:mod:`tunesmith.logger._writer`) holds an exclusive ``flock`` on
``.log-writer.lock`` in the experiment folder while it runs, with its driver's pid, the
host, and its own pid written inside. A reader of the experiment (a restore, ``ExperimentAnalysis``)
calls :func:`wait_for_writer` first: if a writer holds the lock and its driver has died,
the writer is still writing the driver's last operations, and the reader waits for it.
A writer whose driver is alive serves a running experiment, and is not waited for.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from typing import Any

from tunesmith.error import StorageError

__all__ = ["DRIVER_LOCK_FILE", "LEASE_FILE", "LOCK_FILE", "DriverLock", "ExperimentLockedError", "driver_alive",
           "hold_writer_lock", "wait_for_writer"]

logger = logging.getLogger("tunesmith")

LOCK_FILE = ".log-writer.lock"

try:
    import fcntl
except ImportError:  # no flock (Windows): no log writer there either
    fcntl = None  # type: ignore[assignment]


def hold_writer_lock(folder: str, driver_pid: int) -> int | None:
    """Take the lock for this process (waiting for an earlier writer), naming the driver it
    serves; the lock's fd, or None without flock."""
    if fcntl is None:
        return None
    fd = os.open(os.path.join(folder, LOCK_FILE), os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:  # a file system without locks: readers will not wait, nothing else changes
        return fd
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{driver_pid} {socket.gethostname()} {os.getpid()}".encode(), 0)
    return fd


def wait_for_writer(folder: str, timeout: float = 120.0) -> None:
    """Return once no log writer whose driver has died is writing into ``folder``."""
    if fcntl is None:
        return
    try:
        fd = os.open(os.path.join(folder, LOCK_FILE), os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return  # never had a writer
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return  # no writer holds it (closing the fd below lets it go)
            except BlockingIOError:
                pass
            except OSError:
                return  # a file system without locks
            if _driver_alive(os.pread(fd, 256, 0)) or time.monotonic() > deadline:
                return
            time.sleep(0.01)
    finally:
        os.close(fd)


def _driver_alive(owner: bytes) -> bool:
    try:
        pid, host = owner.decode().split()[:2]
        if host != socket.gethostname():
            return True  # another machine's driver: take it as running
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (ValueError, OSError):
        return True  # unreadable (being written), or not ours to signal: alive
    return not _zombie(int(pid))


def _zombie(pid: int) -> bool:
    """Killed but not yet reaped by its parent (Linux; elsewhere False)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


# -- the experiment folder's driver lock --------------------------------------------------------

DRIVER_LOCK_FILE = ".driver.lock"
LEASE_FILE = ".driver-lease.json"
LEASE_S = 60.0
"""How long a driver's lease on an object-store experiment lasts; it renews it every third of that."""

_held_fds: set[int] = set()


def _close_held_in_child() -> None:
    # A forked child (trial template, log writer) must not keep the driver's flock alive
    # after the driver dies: the lock belongs to the driver process only.
    for fd in list(_held_fds):
        try:
            os.close(fd)
        except OSError:
            pass
    _held_fds.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_held_in_child)


class ExperimentLockedError(StorageError):
    """Another driver holds the experiment folder."""


class DriverLock:
    """One driver per experiment folder, for the driver's whole life.

    A local folder (or a shared mount: Linux maps ``flock`` to NFS locks) is locked with an
    exclusive ``flock`` on ``.driver.lock``; the holder writes its host, pid and start time
    into it. An experiment on an object store (``s3://...``) has no locks, so the driver
    writes a lease object ``.driver-lease.json`` that expires after :data:`LEASE_S`
    seconds unless renewed; a thread renews it. A second driver finds a live lease and
    stops. The log writer's lock (``.log-writer.lock``) is a different file, taken in
    another process, so the two never wait for each other.

    Args:
        folder: The local experiment folder (or staging folder).
        where: The experiment's path or URL, for messages.
        remote_fs: The fsspec filesystem of a remote experiment, else None.
        remote_path: The remote experiment folder (without protocol), else None.
    """

    def __init__(self, folder: str, where: str, remote_fs: Any = None, remote_path: str | None = None) -> None:
        self.folder = folder
        self.where = where
        self.remote_fs = remote_fs
        self.remote_path = remote_path
        self._fd: int | None = None
        self._token = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(8)}"
        self._since = time.time()
        self._renewer: threading.Thread | None = None
        self._stop = threading.Event()

    def __getstate__(self) -> dict[str, Any]:
        # A copy (an ExperimentAnalysis sent elsewhere) holds nothing.
        state = {**self.__dict__, "_fd": None, "_renewer": None}
        del state["_stop"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _stop=threading.Event())

    @property
    def held(self) -> bool:
        return self._fd is not None or self._renewer is not None

    def acquire(self) -> None:
        """Take the folder for this driver.

        Raises:
            ExperimentLockedError: another live driver holds it; the message names the holder.
        """
        if self.held:
            return
        if self.remote_fs is not None:
            self._take_lease()
        else:
            self._take_flock()

    def release(self) -> None:
        if self._fd is not None:
            _held_fds.discard(self._fd)
            os.close(self._fd)  # closing drops the flock
            self._fd = None
        if self._renewer is not None:
            self._stop.set()
            self._renewer.join(timeout=5)
            self._renewer = None
            try:
                if self._read_lease().get("token") == self._token:
                    self.remote_fs.rm(self._lease_path)
            except Exception:
                pass  # it expires on its own

    def probe(self) -> None:
        """Raise :class:`ExperimentLockedError` if another driver holds the folder now."""
        self.acquire()
        self.release()

    # -- local ---------------------------------------------------------------------------------
    def _take_flock(self) -> None:
        if fcntl is None:
            return
        os.makedirs(self.folder, exist_ok=True)
        fd = os.open(os.path.join(self.folder, DRIVER_LOCK_FILE), os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0),
                     0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0)
            os.close(fd)
            raise self._locked(_parse_holder(holder)) from None
        except OSError:  # a file system without locks: nothing to hold
            os.close(fd)
            return
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(self._holder()).encode(), 0)
        self._fd = fd
        _held_fds.add(fd)

    # -- object stores ---------------------------------------------------------------------------
    @property
    def _lease_path(self) -> str:
        return f"{self.remote_path}/{LEASE_FILE}"

    def _read_lease(self) -> dict[str, Any]:
        try:
            self.remote_fs.invalidate_cache()
            return _parse_holder(self.remote_fs.cat_file(self._lease_path))
        except FileNotFoundError:
            return {}

    def _write_lease(self) -> None:
        lease = {**self._holder(), "token": self._token, "expires": time.time() + LEASE_S}
        self.remote_fs.pipe_file(self._lease_path, json.dumps(lease).encode())

    def _take_lease(self) -> None:
        current = self._read_lease()
        if current.get("token") not in (None, self._token) and _lease_live(current):
            raise self._locked(current)
        self._write_lease()
        if self._read_lease().get("token") != self._token:  # another driver wrote at the same moment
            raise self._locked(self._read_lease())
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew, name="tunesmith-lease", daemon=True)
        self._renewer.start()

    def _renew(self) -> None:
        while not self._stop.wait(LEASE_S / 3):
            try:
                self._write_lease()
            except Exception as exc:  # the next renewal tries again; the lease outlives two misses
                logger.warning("could not renew the lease on %s: %s", self.where, exc)

    # -- messages --------------------------------------------------------------------------------
    def _holder(self) -> dict[str, Any]:
        return {"host": socket.gethostname(), "pid": os.getpid(),
                "since": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(self._since))}

    def _locked(self, holder: dict[str, Any]) -> ExperimentLockedError:
        who = (f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')}, running since "
               f"{holder.get('since', '?')}") if holder else "a driver that has not written its name yet"
        lease = (f" (its lease on the folder lapses {LEASE_S:g} s after that driver stops renewing it)"
                 if self.remote_fs is not None else "")
        return ExperimentLockedError(
            f"the experiment folder {self.where!r} is in use by another tunesmith driver: {who}{lease}. "
            "Only one driver may run an experiment at a time. Wait for it to end (or stop it) and then "
            "Tuner.restore(...) it, or pass another RunConfig(name=...); ExperimentAnalysis can read the "
            "folder while it runs"
        )


def _lease_live(lease: dict[str, Any]) -> bool:
    """Not expired, and not held by a process of this host that has died (a kill -9)."""
    try:
        if float(lease.get("expires", 0)) <= time.time():
            return False
    except (TypeError, ValueError):
        return False
    if lease.get("host") == socket.gethostname():
        return _driver_alive(f"{lease.get('pid')} {lease.get('host')}".encode())
    return True


def _parse_holder(data: bytes) -> dict[str, Any]:
    try:
        holder = json.loads(data.decode() or "{}")
    except (ValueError, UnicodeDecodeError):
        return {}
    return holder if isinstance(holder, dict) else {}


# -- is a driver at work on this experiment? --------------------------------------------------------

_RECENT_S = 60.0


def driver_alive(folder: str, remote_fs: Any = None) -> bool:
    """Whether a live driver holds the experiment in ``folder`` now: the one check the
    dashboard, the ``tunesmith`` command and ``ExperimentAnalysis`` use to tell a running
    experiment from one whose driver died without a word (a ``kill -9``, a lost machine).

    On an object store (``remote_fs`` given, ``folder`` its path): while the driver's lease
    is unexpired (and, on this host, its process alive). Locally: while a driver holds
    ``.driver.lock``. An experiment written before that lock existed: while its log writer
    holds its lock, or the driver that lock file names is alive on this host; with neither
    file, while the journal was written in the last minute.
    """
    if remote_fs is not None:
        try:
            remote_fs.invalidate_cache()
            return _lease_live(_parse_holder(remote_fs.cat_file(f"{folder.rstrip('/')}/{LEASE_FILE}")))
        except FileNotFoundError:
            return False
    if os.path.exists(os.path.join(folder, DRIVER_LOCK_FILE)):
        return _flock_held(os.path.join(folder, DRIVER_LOCK_FILE))
    lock = os.path.join(folder, LOCK_FILE)
    if _flock_held(lock):
        return True
    try:
        with open(lock, "rb") as f:
            owner = f.read(256)
    except OSError:
        try:
            return time.time() - os.stat(os.path.join(folder, "journal.jsonl")).st_mtime < _RECENT_S
        except OSError:
            return False
    return bool(owner.strip()) and _driver_alive(owner)


def _flock_held(path: str) -> bool:
    """Whether another process holds a ``flock`` on ``path`` (probed with a shared, non-blocking one)."""
    if fcntl is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
