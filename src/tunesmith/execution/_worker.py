"""A trial process: runs the attempts it is given, talking to the driver's TrialServer.

Started by an executor as ``python -c "from tunesmith.execution._worker import main; main()"``.
Attempts arrive as JSON lines on stdin: ``{"trial_id", "attempt"}`` plus, from the local
executor, ``"driver"`` (``host:port``), ``"token"`` and ``"python_path"``; without them
``TUNESMITH_DRIVER`` (and ``TUNESMITH_TOKEN`` if set) from the environment are used.
Cluster executors send no token: each attempt carries a one-time ``"ticket"`` that its
HELLO presents instead (see :mod:`tunesmith.execution._server`). The connection opens at
the first attempt, so a process can be started
before the experiment's server exists, and is replaced when an attempt names another
driver; ``{"disconnect": true}`` closes it between experiments. The process exits when
stdin closes, when a connected driver goes away, or when its parent dies. With
``TUNESMITH_ACK_FD`` set (cluster executors), the process writes one byte to that file
descriptor as each attempt ends, so its parent knows it is free again. A heartbeat thread
(:mod:`tunesmith.execution._heartbeat`) runs while the process is connected.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import sys
from typing import Any

import cloudpickle

from tunesmith import _protocol, _settings
from tunesmith.execution import _wire
from tunesmith.execution._heartbeat import Heartbeat
from tunesmith.execution._runner import run_attempt

__all__ = ["main"]

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (no orphans)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def connect(address: str, token: str | None) -> socket.socket:
    host, port = address.rsplit(":", 1)
    try:
        sock = socket.create_connection((host, int(port)), timeout=30)
    except OSError as exc:
        raise SystemExit(
            f"tunesmith trial process on {socket.gethostname()} cannot reach the driver at {address} ({exc}); "
            "set TUNESMITH_DRIVER_HOST on the driver to an address of its machine that this host can reach"
        ) from exc
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if token:
        _wire.send_frame(sock, _protocol.Auth(token))
    return sock


class _Attempts:
    """Runs attempts on one connection, keeping unpickled trainables for reuse."""

    def __init__(self, sock: socket.socket) -> None:
        self.channel = _wire.Channel(sock)
        self.trainables: dict[str, Any] = {}
        self.kept_instances: dict[str, Any] = {}
        self.after_hello: Any = None  # called once, after the first HELLO is sent

    def run(self, trial_id: str, attempt: int, ticket: str | None = None) -> None:
        info = {"pid": os.getpid(), "ppid": os.getppid(), "host": socket.gethostname(),
                "cached": list(self.trainables), "cuda": os.environ.get("CUDA_VISIBLE_DEVICES")}
        self.channel.send(_protocol.Hello(trial_id, attempt, info, ticket))
        if self.after_hello is not None:
            self.after_hello, start = None, self.after_hello
            start()
        reply = self.channel.recv()
        if not isinstance(reply, _protocol.Assign):
            return
        key = reply.assignment.trainable_key
        if key not in self.trainables:
            self.trainables[key] = cloudpickle.loads(reply.trainable)
        run_attempt(self.channel, reply.assignment, self.trainables[key], self.kept_instances)

    def close(self) -> None:
        for instance in self.kept_instances.values():
            instance.stop()
        self.kept_instances.clear()


class _Connection:
    """The connection to one driver, with its heartbeat and its attempts."""

    def __init__(self, address: str, token: str | None) -> None:
        self.address = address
        self.sock = connect(address, token)
        self.heartbeat = Heartbeat(self.sock, _settings.heartbeat_interval_s())
        self.attempts = _Attempts(self.sock)
        if token:
            self.heartbeat.start()
        else:  # the first frame must be the HELLO with its ticket
            self.attempts.after_hello = self.heartbeat.start

    def close(self) -> None:
        try:
            self.attempts.close()
        finally:
            self.heartbeat.stop()
            self.sock.close()


def _add_python_path(entries: list[str] | None) -> None:
    """Make the driver's import path (which may have grown since this process started) ours too."""
    for entry in entries or ():
        if entry not in sys.path:
            sys.path.append(entry)


def main() -> None:
    _die_with_parent()
    ack_fd = int(os.environ.get("TUNESMITH_ACK_FD") or -1)
    connection: _Connection | None = None
    try:
        while True:
            line = sys.stdin.readline()
            if not line:
                return
            spec = json.loads(line)
            if spec.get("disconnect"):
                if connection is not None:
                    connection.close()
                    connection = None
                continue
            address = spec.get("driver") or os.environ["TUNESMITH_DRIVER"]
            if connection is None or connection.address != address:
                if connection is not None:
                    connection.close()
                connection = _Connection(address, spec.get("token") or os.environ.get("TUNESMITH_TOKEN"))
            _add_python_path(spec.get("python_path"))
            connection.attempts.run(spec["trial_id"], spec["attempt"], spec.get("ticket"))
            if ack_fd >= 0:
                os.write(ack_fd, b"\n")
    except _wire.ConnectionClosed:
        return
    finally:
        if connection is not None:
            connection.close()
