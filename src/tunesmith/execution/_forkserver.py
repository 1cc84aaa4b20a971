"""A warm template process that forks trial processes (Linux).

Starting a trial process costs Python's start-up and the worker's imports: about 0.13 s
of CPU on a small machine. Experiments with fractional-CPU trials start many processes at
once, and on two cores that delays the later trials by tenths of a second. The fork server
pays that cost once: it imports the worker's modules, then forks a child for each request,
which costs a few milliseconds. A child is an ordinary worker (it reads its attempts from
a pipe that the driver writes, as a ``Popen`` worker reads its stdin), with the
environment and working folder the request names; the experiment's log writer
(:mod:`tunesmith.logger._writer`) is started the same way.

The driver talks to the server over a Unix ``SOCK_SEQPACKET`` pair, one JSON message per
packet. Requests: ``{"op": "fork", "env", "cwd", "main", "args", "ack"}`` with the read end
of the child's stdin pipe attached (and, for the log writer, the write end of its stdout
pipe; for a worker of a cluster executor, ``"ack"``, its acknowledgement pipe), and
``{"op": "kill", "pid"}``. Replies: ``["forked", pid]`` (in the order of the requests)
and ``["exited", pid, code]`` (``code`` as ``Popen.returncode`` gives it, negative for a
signal). The server watches its children with pidfds, so an exit is
reported at once, and it alone reaps them, so a kill never reaches a reused pid.

The server dies with the driver, and its trial processes die with it
(``PR_SET_PDEATHSIG``); the log writer does not, so that it can write what the driver
sent before it died.

:func:`fork` is the one way a warm process makes another here: the server forks workers
and the log writer with it, and a worker forks each attempt's child with it
(:meth:`tunesmith.execution._worker._Connection.run_in_child`).
:class:`tunesmith.execution._pool.ProcessPool` owns the server and the warm workers.
"""

from __future__ import annotations

import collections
import ctypes
import enum
import functools
import gc
import json
import os
import select
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

__all__ = ["ForkServer", "ProcessKind", "available", "die_with_parent", "fork", "open_pidfd"]

_COMMAND = "from tunesmith.execution._forkserver import serve; serve({fd})"
_MAX_MESSAGE = 1 << 20
_PR_SET_PDEATHSIG = 1
# Longest wait for the server's next message before looking again: another thread (a Dask
# worker's) may have taken in the one this thread waits for.
_PUMP_S = 0.1


class ProcessKind(enum.Enum):
    """What a process forked from the template runs."""

    WORKER = "worker"  # runs trial attempts (tunesmith.execution._worker.main)
    LOG_WRITER = "log_writer"  # writes an experiment's files (tunesmith.logger._writer.main)


@functools.cache
def _prctl() -> Any:
    """libc's ``prctl`` (looked up once: a child forked per attempt calls it too), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (no orphans)."""
    prctl = _prctl()
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@functools.cache
def _libc_fork() -> Any:
    """libc's ``fork``, called with the GIL held (``PyDLL``), or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc_fork = ctypes.PyDLL(None, use_errno=True).fork
    except (OSError, AttributeError):
        return None
    libc_fork.restype, libc_fork.argtypes = ctypes.c_int, []
    return libc_fork


def _bare_fork() -> int:
    """Fork without Python's after-fork work in the child, for a process that has one thread
    and ran no code but tunesmith's; ``os.fork`` elsewhere.

    ``os.fork`` runs the interpreter's after-fork work and the ``os.register_at_fork``
    hooks in the child, which reset the locks and thread lists other threads may have
    left behind: about 220 copy-on-write page faults, 0.9 ms of CPU on a small VM, per
    trial. With one thread there is nothing to reset (no other thread held a lock or
    has a thread state to forget) and the hooks registered by then are the standard
    library's and tunesmith's, none needed in a single-threaded child but ``random``'s
    reseed, which the child does here: each trial draws its own numbers.
    """
    libc_fork = _libc_fork()
    if libc_fork is None or threading.active_count() != 1:
        return os.fork()
    pid = libc_fork()
    if pid < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    if pid == 0:
        generator = sys.modules.get("random")
        if generator is not None:
            generator.seed()
    return pid


def fork(*, with_parent: bool = True, freeze: bool = True, bare: bool = False) -> int:
    """Fork this warm process: 0 in the child, the child's pid in this process.

    Args:
        with_parent: The child dies with this process (the parent-death signal is not
            inherited across fork), and ends at once if this process is already gone.
        freeze: The child's garbage collections skip, and so do not copy, the objects
            this process held at the fork (``gc.freeze``: a collection that touched them
            would write a page for each); for a short-lived child (a trial attempt).
        bare: The caller ran no code but tunesmith's (no user code registered
            ``os.register_at_fork`` hooks or started threads): skip Python's after-fork
            work when this process has one thread (see :func:`_bare_fork`).
    """
    parent = os.getpid()
    if freeze:
        gc.freeze()
    try:
        pid = _bare_fork() if bare else os.fork()
    except OSError:
        if freeze:
            gc.unfreeze()
        raise
    if pid == 0:
        if with_parent:
            die_with_parent()
            if os.getppid() != parent:  # it died before that
                os._exit(1)
        return 0
    if freeze:
        gc.unfreeze()
    return pid


def open_pidfd(pid: int) -> int | None:
    """A file descriptor that becomes readable when process ``pid`` ends; None where there
    are no pidfds (not Linux 5.3+) or when the process is gone already."""
    if not hasattr(os, "pidfd_open"):
        return None
    try:
        return os.pidfd_open(pid)
    except OSError:
        return None


def available() -> bool:
    """Whether this platform can run a fork server (Linux 5.3+: pidfds and fd passing)."""
    return sys.platform.startswith("linux") and hasattr(os, "pidfd_open") and hasattr(socket, "send_fds")


class ForkedProcess:
    """A trial process forked by the server, with the parts of ``subprocess.Popen`` the
    local executor uses: ``pid``, ``stdin``, ``returncode``, ``poll``, ``wait`` and ``kill``."""

    def __init__(self, server: ForkServer, stdin_fd: int, stdout_fd: int | None = None) -> None:
        self._server = server
        self.stdin = os.fdopen(stdin_fd, "wb")
        self.stdout = os.fdopen(stdout_fd, "rb") if stdout_fd is not None else None
        self.pid: int | None = None  # known once the server replies
        self.returncode: int | None = None

    @property
    def server(self) -> ForkServer:
        """The server that forked this process (and tells its exit code)."""
        return self._server

    def poll(self) -> int | None:
        if self.returncode is None:
            self._server.pump(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            left = _PUMP_S if deadline is None else deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired(f"trial process {self.pid}", timeout or 0)
            self._server.pump(min(left, _PUMP_S))
        return self.returncode

    def kill(self) -> None:
        while self.pid is None and self.returncode is None:
            self._server.pump(_PUMP_S)  # it is being forked
        if self.returncode is None:
            self._server.request({"op": "kill", "pid": self.pid})


class ForkServer:
    """Starts the server process; :meth:`spawn` asks it for a child.

    Args:
        env: The server's environment (children get their own, per request).
    """

    def __init__(self, env: dict[str, str]) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _COMMAND.format(fd=theirs.fileno())], pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL, env=env, cwd=os.getcwd(), start_new_session=True,
            )
        self._sock = ours
        self._sock.setblocking(False)  # a full socket is waited out by _send, taking replies meanwhile
        self._lock = threading.RLock()
        self._unforked: collections.deque[ForkedProcess] = collections.deque()
        self._by_pid: dict[int, ForkedProcess] = {}
        self._closed = False

    @property
    def alive(self) -> bool:
        return not self._closed and self._process.poll() is None

    def spawn(self, env: dict[str, str], cwd: str, main: ProcessKind | str = ProcessKind.WORKER,
              args: list | None = None, ack_fd: int | None = None) -> ForkedProcess:
        """A new process; it starts reading its stdin once forked (a few ms, or when the
        server has finished its imports).

        Args:
            env: Its environment.
            cwd: Its working folder.
            main: What it runs: a :class:`ProcessKind` (or its value). A log writer (see
                :mod:`tunesmith.logger._writer`) gets a stdout pipe too, and ``args``.
            ack_fd: For a worker: a pipe's write end it acknowledges each attempt on (a
                copy is passed; ``TUNESMITH_ACK_FD`` names it in the child). The caller
                keeps and closes its own.
        """
        main = ProcessKind(main)
        stdin_read, stdin_write = os.pipe()
        given = [stdin_read]
        stdout_read = None
        if main is ProcessKind.LOG_WRITER:
            stdout_read, stdout_write = os.pipe()
            given.append(stdout_write)
        process = ForkedProcess(self, stdin_write, stdout_read)
        request = {"op": "fork", "env": env, "cwd": cwd, "main": main.value, "args": args or [],
                   "ack": ack_fd is not None}
        passed = given if ack_fd is None else [*given, ack_fd]
        with self._lock:
            try:
                self._send(lambda: socket.send_fds(self._sock, [json.dumps(request).encode()], passed))
            except OSError:
                process.returncode = -signal.SIGKILL  # the server is gone: so is the child it would have made
            else:
                self._unforked.append(process)
            finally:
                for fd in given:
                    os.close(fd)
        return process

    def request(self, message: dict) -> None:
        with self._lock:
            try:
                self._send(lambda: self._sock.send(json.dumps(message).encode()))
            except OSError:
                self._lost()

    def _send(self, send: Any) -> None:
        """Call ``send`` (with the lock held) until the socket takes the message.

        In a burst of spawns (a thousand trials starting at once) the server's queue fills
        while it forks; its replies then fill ours, so they are taken in while waiting, or
        each side would wait for the other.

        Raises:
            OSError: The server is gone.
        """
        while True:
            try:
                send()
                return
            except BlockingIOError:
                pass
            self._take_replies()
            select.select([self._sock], [self._sock], [], 0.1)

    def _take_replies(self) -> None:
        while True:
            try:
                data = self._sock.recv(_MAX_MESSAGE)
            except BlockingIOError:
                return
            if not data:
                raise ConnectionResetError("the fork server closed its socket")
            self._take(json.loads(data))

    def pump(self, timeout: float | None) -> None:
        """Take in what the server said, waiting up to ``timeout`` for the first message."""
        with self._lock:
            if self._closed:
                return
            waits = timeout != 0  # the socket is non-blocking between calls (see _send)
            if waits:
                self._sock.settimeout(timeout)
            try:
                while True:
                    data = self._sock.recv(_MAX_MESSAGE)
                    if not data:
                        self._lost()
                        return
                    self._take(json.loads(data))
                    if waits:
                        self._sock.settimeout(0)
                        waits = False
            except (BlockingIOError, TimeoutError):
                pass
            except OSError:
                self._lost()
            finally:
                if waits:
                    self._sock.settimeout(0)

    def _take(self, message: list) -> None:
        if message[0] == "forked":
            process = self._unforked.popleft()
            process.pid = message[1]
            self._by_pid[process.pid] = process
        elif message[0] == "exited":
            process = self._by_pid.pop(message[1], None)
            if process is not None:
                process.returncode = message[2]

    def _lost(self) -> None:
        """The server died: its children died with it (parent-death signal)."""
        self._closed = True
        for process in [*self._unforked, *self._by_pid.values()]:
            if process.returncode is None:
                process.returncode = -signal.SIGKILL
        self._unforked.clear()
        self._by_pid.clear()

    def close(self) -> None:
        """Stop the server; children still running die with it."""
        with self._lock:
            if not self._closed:
                self._lost()
            self._sock.close()
        try:
            self._process.wait(5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


# -- the server process ----------------------------------------------------------------------
def serve(fd: int) -> None:
    """The server's loop; it returns only in a forked child, once that has run its main."""
    from tunesmith.execution import _worker  # the imports every child would pay for
    from tunesmith.logger import _logger, _tensorboard, _writer  # and what the log writer needs

    die_with_parent()
    sock = socket.socket(fileno=fd)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    pidfds: dict[int, int] = {}  # pid -> pidfd
    while True:
        for key, _ in selector.select():
            if key.fileobj is not sock:
                pid = key.data
                selector.unregister(key.fileobj)
                os.close(pidfds.pop(pid))
                _, status = os.waitpid(pid, 0)
                _send(sock, ["exited", pid, os.waitstatus_to_exitcode(status)])
                continue
            try:
                data, fds, _, _ = socket.recv_fds(sock, _MAX_MESSAGE, 2)
            except OSError:
                data, fds = b"", []
            if not data:  # the driver closed or died: children die with this process
                os._exit(0)
            request = json.loads(data)
            if request["op"] == "kill":
                if request["pid"] in pidfds:  # not reaped yet, so the pid is still its
                    os.kill(request["pid"], signal.SIGKILL)
                continue
            log_writer = ProcessKind(request["main"]) is ProcessKind.LOG_WRITER
            # No parent-death signal for the log writer: it must outlive a dead driver to write what it sent.
            pid = fork(with_parent=not log_writer, freeze=False)  # they live long: they collect it all
            if pid == 0:
                selector.close()
                sock.close()
                for pidfd in pidfds.values():
                    os.close(pidfd)
                env = request["env"]
                if request.get("ack"):  # the last fd: kept as it is, named by the environment
                    env = dict(env, TUNESMITH_ACK_FD=str(fds.pop()))
                _become_child(fds, env, request["cwd"])
                if log_writer:
                    _writer.main(*request["args"])  # its files are closed when it returns
                    # No interpreter teardown of this copy of a warm process: it took 50-270 ms,
                    # which the driver waited for at the end of every experiment.
                    os._exit(0)
                _worker.main()
                return
            for fd in fds:
                os.close(fd)
            pidfd = os.pidfd_open(pid)
            pidfds[pid] = pidfd
            selector.register(pidfd, selectors.EVENT_READ, data=pid)
            _send(sock, ["forked", pid])


def _become_child(fds: list[int], env: dict[str, str], cwd: str) -> None:
    """Take the pipes as stdin (and stdout), the environment and the folder the request gave."""
    os.setsid()  # its own session, as a Popen'd child: a Ctrl-C reaches the driver only
    for target, fd in enumerate(fds):  # 0: stdin, 1: stdout
        os.dup2(fd, target)
        os.close(fd)
    os.environ.clear()
    os.environ.update(env)
    for entry in env.get("PYTHONPATH", "").split(os.pathsep):
        if entry and entry not in sys.path:
            sys.path.append(entry)
    os.chdir(cwd)


def _send(sock: socket.socket, message: list) -> None:
    try:
        sock.send(json.dumps(message).encode())
    except OSError:
        os._exit(0)  # the driver is gone
