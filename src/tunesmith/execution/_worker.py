"""A trial process: runs the attempts it is given, talking to the driver's TrialServer.

Started by an executor as ``python -c "from tunesmith.execution._worker import main; main()"``.
Attempts arrive as JSON lines on stdin: ``{"trial_id", "attempt"}`` plus ``"fresh"``
(run it in a forked child: see :meth:`_Connection.run_in_child`) and, from the local
executor, ``"driver"`` (``host:port``), ``"token"`` and ``"python_path"``; without them
``TUNESMITH_DRIVER`` (and ``TUNESMITH_TOKEN`` if set) from the environment are used.
Cluster executors send no token: each attempt carries a one-time ``"ticket"`` that its
HELLO presents instead (see :mod:`tunesmith.execution._server`). The connection opens at
the first attempt, so a process can be started
before the experiment's server exists, and is replaced when an attempt names another
driver; ``{"disconnect": true}`` closes it between experiments. The process exits when
stdin closes, when a connected driver goes away, or when its parent dies, at once (a thread
a trial left running does not keep it alive). The trial's own stdin is ``/dev/null``. With
``TUNESMITH_ACK_FD`` set (cluster executors), the process writes one byte to that file
descriptor as each attempt ends, so its parent knows it is free again. Heartbeats
(:mod:`tunesmith.execution._heartbeat`) come from a thread while the process runs an
attempt itself, and from its wait loop while a child it forked runs one.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import select
import signal
import socket
import struct
import sys
import traceback
from typing import IO, Any, NoReturn

import cloudpickle

from tunesmith import _protocol, _settings
from tunesmith.execution import _wire
from tunesmith.execution._forkserver import die_with_parent, fork, open_pidfd
from tunesmith.execution._heartbeat import Heartbeat
from tunesmith.execution._runner import run_attempt

__all__ = ["main"]

# Whether this process ran a trial itself (reuse_actors), in any experiment: then its
# children are forked with Python's after-fork work (see _forkserver.fork).
_ran_trial_code = [False]


def connect(address: str, token: str | None, certificate: str | None = None) -> socket.socket:
    """A blocking connection to the driver; over TLS, trusting only ``certificate``, when given."""
    host, port = address.rsplit(":", 1)
    try:
        if certificate:
            from tunesmith.execution import _tls

            sock = _tls.connect((host, int(port)), certificate, timeout=30)
        else:
            sock = socket.create_connection((host, int(port)), timeout=30)
    except OSError as exc:
        if certificate and _handshake_failed(exc):
            raise SystemExit(f"tunesmith trial process on {socket.gethostname()}: the TLS handshake with the "
                             f"driver at {address} failed ({exc})") from exc
        raise SystemExit(
            f"tunesmith trial process on {socket.gethostname()} cannot reach the driver at {address} ({exc}); "
            "set TUNESMITH_DRIVER_HOST on the driver to an address of its machine that this host can reach"
        ) from exc
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if token:
        _wire.send_frame(sock, _protocol.Auth(token))
    return sock


def _handshake_failed(exc: OSError) -> bool:
    from tunesmith.execution._tls import HandshakeError

    return isinstance(exc, HandshakeError)


class _Pickles:
    """Pickled trainables a worker keeps for the children it forks, in memory files (Linux).

    A child that receives a trainable from the driver leaves its bytes in a file the worker
    made before the fork (:meth:`lend`); the worker keeps the file once the child has ended
    (:meth:`take_back`) and lists the trainable as cached in later HELLOs, so the driver
    sends it once per worker, not once per trial. Each child still unpickles it itself: the
    trainable's modules are imported anew for each trial, as in a fresh process.
    """

    _HEADER = struct.Struct("!I")  # the key's length; the key; the pickle

    def __init__(self) -> None:
        self.kept: dict[str, int] = {}  # trainable key -> its file
        self.spare: int | None = None  # the file the next child leaves a new trainable in
        self.out: int | None = None  # in a child: that file

    def lend(self) -> None:
        """Before a fork: a file for the child (none where there are no memory files)."""
        if self.spare is None and hasattr(os, "memfd_create"):
            self.spare = os.memfd_create("tunesmith-trainable", os.MFD_CLOEXEC)

    def leave(self, key: str, pickled: bytes) -> None:
        """In a child: leave a trainable the driver sent for the worker's later children."""
        if self.out is not None:
            head = key.encode()
            head = self._HEADER.pack(len(head)) + head
            _pwrite_all(self.out, head, 0)
            _pwrite_all(self.out, pickled, len(head))  # not joined to the head: that would copy it

    def take_back(self) -> None:
        """After a child ended as attempts end: keep the trainable it left, if any."""
        if self.spare is None or os.fstat(self.spare).st_size == 0:
            return
        (size,) = self._HEADER.unpack(os.pread(self.spare, self._HEADER.size, 0))
        self.kept[os.pread(self.spare, size, self._HEADER.size).decode()] = self.spare
        self.spare = None

    def read(self, key: str) -> memoryview:
        """A kept trainable's pickle, mapped (not copied: the pages stay the worker's file's)."""
        fd = self.kept[key]
        (size,) = self._HEADER.unpack(os.pread(fd, self._HEADER.size, 0))
        return memoryview(mmap.mmap(fd, 0, prot=mmap.PROT_READ))[self._HEADER.size + size:]

    def close(self) -> None:
        for fd in [*self.kept.values(), self.spare]:
            if fd is not None:
                os.close(fd)
        self.kept.clear()
        self.spare = None


def _pwrite_all(fd: int, data: bytes, at: int) -> None:
    view, done = memoryview(data), 0
    while done < len(view):
        done += os.pwrite(fd, view[done:], at + done)


class _Attempts:
    """Runs attempts on one connection, keeping unpickled trainables for reuse."""

    def __init__(self, sock: socket.socket | None) -> None:
        self.channel = _wire.Channel(sock)  # type: ignore[arg-type] - set when the connection opens
        self.trainables: dict[str, Any] = {}
        self.pickles = _Pickles()
        self.kept_instances: dict[str, Any] = {}
        self.after_hello: Any = None  # called once, after the first HELLO is sent

    def run(self, trial_id: str, attempt: int, ticket: str | None = None) -> None:
        info = {"pid": os.getpid(), "ppid": os.getppid(), "host": socket.gethostname(),
                "cached": [*self.trainables, *self.pickles.kept], "cuda": _settings.cuda_visible_devices_raw()}
        self.channel.send(_protocol.Hello(trial_id, attempt, info, ticket))
        if self.after_hello is not None:
            self.after_hello, start = None, self.after_hello
            start()
        reply = self.channel.recv()
        if not isinstance(reply, _protocol.Assign):
            return
        key = reply.assignment.trainable_key
        if key not in self.trainables:
            self.trainables[key] = cloudpickle.loads(self._pickled(key, reply.trainable))
        run_attempt(self.channel, reply.assignment, self.trainables[key], self.kept_instances)

    def _pickled(self, key: str, sent: bytes | None) -> bytes | memoryview:
        if sent is None:  # the worker keeps it
            return self.pickles.read(key)
        self.pickles.leave(key, sent)
        return sent

    def close(self) -> None:
        try:
            for instance in self.kept_instances.values():
                instance.stop()
            self.kept_instances.clear()
        finally:
            self.pickles.close()


class _Connection:
    """The connection to one driver, with its heartbeat and its attempts.

    Over TLS (``certificate``) a forked child cannot share this process's connection: the
    TLS state (sequence numbers, keys) is memory that the fork copies, so the two would
    send records the driver cannot decrypt. Each child then opens its own connection, and
    this process opens one only for attempts it runs itself (``reuse_actors``).
    """

    def __init__(self, address: str, token: str | None, certificate: str | None = None) -> None:
        self.address, self.token, self.certificate = address, token, certificate
        self.sock: socket.socket | None = None
        self.heartbeat: Heartbeat | None = None
        self.attempts = _Attempts(None)
        if not certificate:
            self._open()

    def _open(self) -> None:
        self.sock = connect(self.address, self.token, self.certificate)
        self.heartbeat = Heartbeat(self.sock, _settings.heartbeat_interval_s())
        self.attempts.channel = _wire.Channel(self.sock)
        if not self.token:  # the first frame must be the HELLO with its ticket
            self.attempts.after_hello = self._start_heartbeat

    def _start_heartbeat(self) -> None:
        """Beat from a thread from now on: this process runs attempts itself."""
        if not self.heartbeat.started:
            self.heartbeat.start()

    def run_here(self, trial_id: str, attempt: int, ticket: str | None = None) -> None:
        """Run the attempt in this process (``reuse_actors``), so that it may leave state for the next."""
        if self.sock is None:
            self._open()
        if self.attempts.after_hello is None:  # else it starts once the HELLO is out
            self._start_heartbeat()
        _ran_trial_code[0] = True  # it may leave threads or at-fork hooks for this process's life
        self.attempts.run(trial_id, attempt, ticket)

    def run_in_child(self, trial_id: str, attempt: int, ticket: str | None = None) -> None:
        """Run the attempt in a forked child, so that nothing it leaves (module globals,
        ``os.environ``, threads) reaches a later attempt; this process stays as it was.

        The child inherits the connection. Once the connection carries heartbeats, this
        process beats for the child while it waits for it (:meth:`_wait_for_child`: no
        thread here, and none to start in each child), and not while the child is stopped;
        frames stay whole through :func:`_wire.share_sends_with_children`. Before that (the
        first frame must be the child's HELLO with its ticket) the child beats itself. A
        child that dies without ending as trials end takes this process with it, by the same
        exit code or signal, as if the attempt had run here; a driver that has gone away
        ends this process, and so the child.
        """
        child_beats = self.attempts.after_hello is not None or bool(self.certificate)
        if not child_beats:
            _wire.share_sends_with_children()
        self.attempts.pickles.lend()
        # The child's collections skip, and do not copy, what this process holds; a worker
        # that never ran a trial itself forks without Python's after-fork work (see fork).
        pid = fork(bare=not _ran_trial_code[0])
        if pid == 0:
            self.attempts.pickles.out = self.attempts.pickles.spare
            if self.certificate:
                self._open()
            elif child_beats:
                self.heartbeat = Heartbeat(self.sock, _settings.heartbeat_interval_s())
                self.attempts.after_hello = self.heartbeat.start  # the HELLO (with its ticket) goes first
            code = 0
            try:
                self.attempts.run(trial_id, attempt, ticket)
            except _wire.ConnectionClosed:
                pass
            except BaseException:
                traceback.print_exc()
                code = 1
            _exit(code)
        code = self._wait_for_child(pid, beats=not child_beats)
        if code < 0:  # killed by a signal: so is this process
            with contextlib.suppress(OSError, ValueError):  # SIGKILL and SIGSTOP keep their default
                signal.signal(-code, signal.SIG_DFL)
            os.kill(os.getpid(), -code)
            _exit(128 - code)  # a signal that does not end a process
        if code != 0:
            _exit(code)
        self.attempts.pickles.take_back()
        if child_beats and not self.certificate:  # the child sent the HELLO here: this process beats from now on
            self.attempts.after_hello = None

    def _wait_for_child(self, pid: int, beats: bool) -> int:
        """The child's exit code (negative: the signal that ended it), beating for it (when
        ``beats``) every heartbeat interval, but not while it is stopped, as if it beat itself.

        The child's pidfd wakes this process when the child ends; a stop or a continue
        shows at the next wake-up, before the heartbeat is due. Without pidfds (not Linux)
        the heartbeat thread beats instead, paused while the child is stopped.
        """
        pidfd = None
        if beats and not self.heartbeat.started:
            pidfd = open_pidfd(pid)
            if pidfd is None:
                self.heartbeat.start()
        try:
            while True:
                if pidfd is not None and not select.select([pidfd], [], [], self.heartbeat.interval_s)[0]:
                    code = self._child_status(pid, os.WNOHANG)
                    if code is None and not self.heartbeat.paused:
                        self.heartbeat.beat_if_due()
                else:
                    code = self._child_status(pid, 0)
                if code is not None:
                    return code
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def _child_status(self, pid: int, flags: int) -> int | None:
        """Take the child's status changes (``flags``: 0 waits for one); its exit code once
        it has ended, else None. The heartbeat pauses while the child is stopped."""
        flags |= os.WUNTRACED | os.WCONTINUED
        while True:
            taken, status = os.waitpid(pid, flags)
            if taken == 0:  # WNOHANG, and no change
                return None
            stopped = os.WIFSTOPPED(status)
            if self.heartbeat is not None:  # None over TLS: the child beats on its own connection
                self.heartbeat.paused = stopped
            if not stopped and not os.WIFCONTINUED(status):
                return os.waitstatus_to_exitcode(status)
            flags |= os.WNOHANG  # one change taken: take the rest without waiting

    def close(self) -> None:
        try:
            self.attempts.close()
        finally:
            if self.heartbeat is not None:
                self.heartbeat.stop()
            if self.sock is not None:
                self.sock.close()


def _add_python_path(entries: list[str] | None) -> None:
    """Make the driver's import path (which may have grown since this process started) ours too."""
    for entry in entries or ():
        if entry not in sys.path:
            sys.path.append(entry)


def _take_control_pipe() -> IO[bytes]:
    """The pipe attempts arrive on (stdin as started); the trial's stdin becomes /dev/null,
    so a trainable calling ``input()`` gets ``EOFError`` instead of reading the next attempt."""
    control = os.fdopen(os.dup(0), "rb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdin = open(0, "r", closefd=False)  # noqa: SIM115 - fd 0 lives as long as the process
    return control


def _exit(code: int) -> NoReturn:
    """End the process now: a thread the trial left running must not keep it alive."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def main() -> NoReturn:
    """Run attempts until the control pipe closes, then exit (threads the trials left die too)."""
    code = 0
    try:
        _serve()
    except SystemExit as exc:  # a driver that cannot be reached: say why, as an uncaught SystemExit would
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    _exit(code)


def _serve() -> None:
    die_with_parent()
    control = _take_control_pipe()
    ack_fd = _settings.worker_ack_fd()
    connection: _Connection | None = None
    try:
        while True:
            line = control.readline()
            if not line:
                return
            spec = json.loads(line)
            if spec.get("disconnect"):
                if connection is not None:
                    connection.close()
                    connection = None
                continue
            address = spec.get("driver") or _settings.worker_driver_address()
            certificate = spec.get("certificate")
            if connection is None or (connection.address, connection.certificate) != (address, certificate):
                if connection is not None:
                    connection.close()
                connection = _Connection(address, spec.get("token") or _settings.worker_token(), certificate)
            _add_python_path(spec.get("python_path"))
            if spec.get("fresh"):
                connection.run_in_child(spec["trial_id"], spec["attempt"], spec.get("ticket"))
            else:  # reuse_actors: the attempt may leave state for the next
                connection.run_here(spec["trial_id"], spec["attempt"], spec.get("ticket"))
            if ack_fd >= 0:
                os.write(ack_fd, b"\n")
    except _wire.ConnectionClosed:
        return
    finally:
        if connection is not None:
            connection.close()
