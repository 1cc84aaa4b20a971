"""The log writer: a process that writes the default loggers' files for the driver.

The default loggers (``result.json``, ``progress.csv``, ``params.*`` and TensorBoard
events) are most of the driver's work when trials are short: encoding events and a dozen
system calls per trial. With a log writer, each logger sends its writes as small
operations, which the driver hands over once per controller step (one ``write()`` to a
pipe, before the step's journal records are written), and the writer process applies
them on another core.

Nothing is lost when the driver dies: what it wrote into the pipe stays there, and the
writer applies it all before it reads the end of the pipe and exits. While it drains, it
holds a lock on ``.log-writer.lock`` in the experiment folder, and
:func:`tunesmith.storage._lock.wait_for_writer` (called before the journal is read, so by
every restore) waits for it. A writer whose
driver is alive is serving a running experiment, and is not waited for.

The writer reports back on its stdout: warnings (logged by the driver as its own),
errors (raised by the driver at its next step, as the logger would have raised them),
and the answer to :meth:`LogWriter.sync`.

Operations are ``(target, method, args)`` with plain arguments (numbers, strings, bytes,
lists, dicts, numpy arrays), applied to the same objects the loggers use in process:
``"json"`` (:class:`tunesmith.logger._logger.JsonFiles`), ``"csv"``
(:class:`~tunesmith.logger._logger.CsvFiles`) and ``"tb"`` (the TensorBoard event writer).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import select
import struct
import subprocess
import sys
import time
from typing import Any

from tunesmith.error import StorageError, TuneError
from tunesmith.storage._files import write_all
from tunesmith.storage._lock import LOCK_FILE, hold_writer_lock

__all__ = ["LogWriter", "main"]

_COMMAND = "from tunesmith.logger._writer import main; main()"
_FRAME = struct.Struct("<I")
_SYNC_TIMEOUT_S = 120.0
_READ_PERIOD_S = 0.05
_HANDOVER_PERIOD_S = 0.02  # unforced hand-overs at most this often (see LogWriter.flush)
_CALLBACKS = {"json": "JsonLoggerCallback", "csv": "CSVLoggerCallback", "tb": "TBXLoggerCallback"}

logger = logging.getLogger("tunesmith")


class _Proxy:
    """Stands in for a target object: each method call becomes an operation."""

    def __init__(self, writer: LogWriter, target: str) -> None:
        self._writer = writer
        self._target = target

    def __getattr__(self, method: str) -> Any:
        def send(*args: Any) -> None:
            self._writer.send(self._target, method, args)

        return send


class LogWriter:
    """The driver's side: starts the writer process for the experiment in ``folder``.

    Args:
        folder: The experiment's local folder (the writer's lock lives there).
        fork_server: The local executor's fork server, to start the writer from (else a
            new interpreter starts).
    """

    def __init__(self, folder: str, fork_server: Any = None) -> None:
        self._folder = folder
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        self._process: Any
        if fork_server is not None:  # a fork of a warm process: milliseconds, not Python's start-up
            self._process = fork_server.spawn(env, os.getcwd(), main="log_writer", args=[folder, os.getpid()])
        else:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _COMMAND, folder, str(os.getpid())], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, env=env,
                start_new_session=True,  # a Ctrl-C in the terminal must not cut its draining short
            )
        self._out = self._process.stdin.fileno()
        self._in = self._process.stdout.fileno()
        os.set_blocking(self._in, False)
        self._ops: list[tuple[str | None, str, tuple]] = []
        self._inbox = bytearray()
        self._synced = 0
        self._error: Exception | None = None
        self._closed = False
        self._read_at = 0.0
        self._handed_at = 0.0
        self.handovers = 0  # writes to the pipe, for tests and benchmarks

    def proxy(self, target: str) -> Any:
        """An object whose method calls are applied to ``target`` in the writer process."""
        return _Proxy(self, target)

    def send(self, target: str | None, method: str, args: tuple) -> None:
        self._ops.append((target, method, args))

    def flush(self, force: bool = True) -> None:
        """Hand the operations over (one write); raise an error the writer reported.

        Args:
            force: Hand over now. Otherwise only if the last hand-over is
                ``_HANDOVER_PERIOD_S`` old: with 1,000 trials reporting, a write per
                controller step (and a wake-up of the writer per write) was most of the
                logging cost, and trial files may lag the results by a few tens of
                milliseconds (never the journal: it forces a hand-over before each write).
        """
        if self._closed:
            return
        now = time.monotonic()
        if self._ops and (force or now - self._handed_at >= _HANDOVER_PERIOD_S):
            self._handed_at = now
            self.handovers += 1
            ops, self._ops = self._ops, []
            data = pickle.dumps(ops, protocol=pickle.HIGHEST_PROTOCOL)
            try:
                write_all(self._out, _FRAME.pack(len(data)) + data)
            except OSError as exc:
                self._closed = True
                raise StorageError(self._gone(exc)) from exc
        if now - self._read_at > _READ_PERIOD_S:  # what the writer said, without a system call per step
            self._read_at = now
            self._read(0)
        self._raise_reported()

    def sync(self) -> None:
        """Return once everything sent so far is written (files flushed)."""
        if self._closed:
            return
        self.send(None, "sync", ())
        wanted = self._synced + 1
        self.flush()
        deadline = time.monotonic() + _SYNC_TIMEOUT_S
        while self._synced < wanted:
            if self._process.poll() is not None:
                self._read(0)
                if self._synced >= wanted:
                    break
                self._closed = True
                raise StorageError(self._gone(None))
            if time.monotonic() > deadline:
                raise StorageError(f"the log writer process {self._process.pid} did not answer in {_SYNC_TIMEOUT_S:g} s")
            self._read(0.5)
        self._raise_reported()

    def close(self) -> None:
        """Write everything, end the writer and wait for it (idempotent)."""
        if self._closed:
            return
        try:
            self.sync()
        finally:
            self._closed = True
            self._process.stdin.close()
            try:
                self._process.wait(_SYNC_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._read(0)
            self._process.stdout.close()
        if self._process.returncode == 0:
            with contextlib.suppress(OSError):  # nothing left to wait for
                os.remove(os.path.join(self._folder, LOCK_FILE))
        self._raise_reported()

    # -- messages from the writer -------------------------------------------------------------
    def _read(self, timeout: float) -> None:
        if timeout and not select.select([self._in], [], [], timeout)[0]:
            return
        while True:
            try:
                chunk = os.read(self._in, 1 << 16)
            except BlockingIOError:
                break
            if not chunk:
                break
            self._inbox += chunk
        while len(self._inbox) >= _FRAME.size:
            (size,) = _FRAME.unpack_from(self._inbox)
            if len(self._inbox) < _FRAME.size + size:
                break
            message = pickle.loads(bytes(self._inbox[_FRAME.size:_FRAME.size + size]))
            del self._inbox[:_FRAME.size + size]
            self._take(message)

    def _take(self, message: tuple) -> None:
        kind = message[0]
        if kind == "synced":
            self._synced += 1
        elif kind == "warning":
            logger.warning(message[1])
        elif kind == "error" and self._error is None:
            _, target, os_error, text = message
            callback = _CALLBACKS.get(target, target)
            if os_error:
                self._error = StorageError(f"{callback} cannot write: {text}. The experiment stopped; "
                                           "what was recorded so far can be restored with Tuner.restore")
            else:
                self._error = TuneError(f"callback {callback} raised {text}")

    def _raise_reported(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _gone(self, exc: OSError | None) -> str:
        code = self._process.poll()
        pid = "" if self._process.pid is None else f" {self._process.pid}"  # None: it ended before its pid came back
        return (f"the log writer process{pid} ended unexpectedly (exit code {code}"
                f"{f', {exc.strerror}' if exc is not None and exc.strerror else ''}); the experiment stopped. "
                "What was recorded so far can be restored with Tuner.restore")


# -- the writer process -----------------------------------------------------------------------
class _Forward(logging.Handler):
    """Sends the writer's warnings to the driver, which logs them as its own."""

    def emit(self, record: logging.LogRecord) -> None:
        _send(("warning", record.getMessage()))


def _send(message: tuple) -> None:
    data = pickle.dumps(message)
    try:
        write_all(1, _FRAME.pack(len(data)) + data)
    except OSError:
        pass  # the driver is gone; the files are what matter


def _read_exactly(size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(0, left)
        if not chunk:
            return b""
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def main(folder: str | None = None, driver_pid: int | None = None) -> None:
    """The writer process: ``folder`` and ``driver_pid`` default to its command's arguments."""
    from tunesmith.logger._logger import CsvFiles, JsonFiles
    from tunesmith.logger._tensorboard import _EventWriter

    hold_writer_lock(folder or sys.argv[1], driver_pid or int(sys.argv[2]))
    logger.addHandler(_Forward())
    logger.propagate = False
    events = _EventWriter()
    targets: dict[str, Any] = {"json": JsonFiles(), "csv": CsvFiles(), "tb": events}
    try:
        while True:
            header = _read_exactly(_FRAME.size)
            if not header:
                return  # the driver closed the pipe or died: everything it sent is written
            ops = pickle.loads(_read_exactly(_FRAME.unpack(header)[0]))
            for target, method, args in ops:
                if target is None:  # sync
                    events.flush_all()
                    _send(("synced",))
                    continue
                try:
                    getattr(targets[target], method)(*args)
                except Exception as exc:
                    os_error = isinstance(exc, OSError)  # worded as CallbackList words it in the driver
                    _send(("error", target, os_error, str(exc) if os_error else f"{type(exc).__name__}: {exc}"))
    finally:
        events.finish()
