"""The log writer's lock: a restore waits for a writer still draining what a dead driver sent.

The log writer process (:mod:`tunesmith.logger._writer`) holds an exclusive ``flock`` on
``.log-writer.lock`` in the experiment folder while it runs, with its driver's pid, the
host, and its own pid written inside. A reader of the experiment (a restore, ``ExperimentAnalysis``)
calls :func:`wait_for_writer` first: if a writer holds the lock and its driver has died,
the writer is still writing the driver's last operations, and the reader waits for it.
A writer whose driver is alive serves a running experiment, and is not waited for.
"""

from __future__ import annotations

import os
import socket
import time

__all__ = ["LOCK_FILE", "hold_writer_lock", "wait_for_writer"]

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
