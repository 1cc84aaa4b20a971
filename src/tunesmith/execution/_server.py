"""``TrialServer``: the data plane. Every trial attempt talks to the driver through it.

Messages on a connection, after the JSON token frame:

trial -> driver
    ``("hello", trial_id, attempt, info)``            asks for its assignment
    ``("result", seq, result, checkpoint_dir_name, final)``  waits for a decision, unless ``final``
                                                      (a function's return value: DONE follows)
    ``("checkpoint", checkpoint_dir_name)``            a checkpoint saved while stopping
    ``("done", reason)``                               "finished", "stop" or "pause"
    ``("error", pickled_exc, traceback_text, summary)``
    ``("heartbeat",)``                                 sent every second or so, from a thread
driver -> trial
    ``("assign", assignment, trainable_blob_or_None)`` or ``("reject", reason)``
    ``("decision", seq, "CONTINUE" | "STOP" | "PAUSE")``

A HELLO for an attempt the controller no longer expects (a stale or duplicate attempt)
is rejected, so an old process can never report into a newer attempt; the connection of
an attempt that is fenced while connected is closed, so it sees EOF and ends.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import pickle
import secrets
import selectors
import socket
from typing import Any

from tunesmith.execution import _wire

__all__ = ["TrialEvent", "TrialServer"]


@dataclasses.dataclass
class TrialEvent:
    """Something a trial attempt said, or the loss of its connection.

    ``kind`` is one of ``"started"``, ``"result"``, ``"checkpoint"``, ``"heartbeat"``,
    ``"done"``, ``"error"`` or ``"lost"``; ``payload`` depends on it.
    """

    kind: str
    trial_id: str
    attempt: int
    payload: Any = None


@dataclasses.dataclass
class _Connection:
    sock: socket.socket
    buffer: _wire.FrameBuffer
    authenticated: bool = False
    trial_id: str | None = None
    attempt: int = -1


class TrialServer:
    """Listens for trial attempts on ``host`` and turns their frames into :class:`TrialEvent` s."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.token = secrets.token_hex(16)
        self._listener = socket.create_server((host, 0))
        self._listener.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._expected: dict[str, tuple[int, dict[str, Any]]] = {}
        self._blobs: dict[str, bytes] = {}
        self._by_trial: dict[str, _Connection] = {}

    @property
    def address(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"{host}:{port}"

    def add_trainable(self, key: str, blob: bytes) -> None:
        """Register the pickled trainable that assignments refer to by ``key``."""
        self._blobs[key] = blob

    def expect(self, trial_id: str, attempt: int, assignment: dict[str, Any]) -> None:
        """Accept the HELLO of ``(trial_id, attempt)`` and answer it with ``assignment``."""
        self._expected[trial_id] = (attempt, assignment)

    def fence(self, trial_id: str) -> None:
        """Forget ``trial_id``'s expected attempt and close its connection.

        The attempt's process, if it still runs (a hung host that wakes up), sees EOF and
        ends; nothing it sends is read.
        """
        self._expected.pop(trial_id, None)
        conn = self._by_trial.pop(trial_id, None)
        if conn is not None:
            conn.trial_id = None
            self._close(conn)

    def send_decision(self, trial_id: str, seq: int, decision: str, save: bool = False) -> None:
        """Answer result ``seq``; ``save`` asks a class trainable to save a checkpoint now."""
        conn = self._by_trial.get(trial_id)
        if conn is None:
            return
        try:
            _wire.send_frame(conn.sock, ("decision", seq, decision, save))
        except OSError:
            pass  # the loss shows up as EOF on the next poll

    def poll(self, timeout: float | None) -> list[TrialEvent]:
        events: list[TrialEvent] = []
        for key, _ in self._selector.select(timeout):
            if key.data is None:
                self._accept()
            else:
                self._read(key.data, events)
        return events

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except BlockingIOError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            conn = _Connection(sock, _wire.FrameBuffer())
            self._selector.register(sock, selectors.EVENT_READ, conn)

    def _read(self, conn: _Connection, events: list[TrialEvent]) -> None:
        try:
            data = conn.sock.recv(1 << 16)  # under malloc's mmap threshold: no mmap/munmap per call
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn, events, "connection closed")
            return
        for frame in conn.buffer.feed(data):
            if not conn.authenticated:
                if not self._authenticate(conn, frame):
                    self._drop(conn, events, "bad token")
                    return
                continue
            self._handle(conn, pickle.loads(frame), events)

    def _authenticate(self, conn: _Connection, frame: bytes) -> bool:
        try:
            token = json.loads(frame.decode())["token"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return False
        conn.authenticated = isinstance(token, str) and hmac.compare_digest(token, self.token)
        return conn.authenticated

    def _handle(self, conn: _Connection, message: tuple, events: list[TrialEvent]) -> None:
        kind = message[0]
        if kind == "hello":
            self._hello(conn, message[1], message[2], message[3], events)
            return
        if conn.trial_id is None:
            return  # a fenced attempt still talking; ignore it
        if kind == "heartbeat":
            events.append(TrialEvent("heartbeat", conn.trial_id, conn.attempt))
        elif kind == "result":
            final = len(message) > 4 and message[4]
            events.append(TrialEvent("result", conn.trial_id, conn.attempt, (message[1], message[2], message[3], final)))
        elif kind == "checkpoint":
            events.append(TrialEvent("checkpoint", conn.trial_id, conn.attempt, message[1]))
        elif kind in ("done", "error"):
            events.append(TrialEvent(kind, conn.trial_id, conn.attempt, message[1:]))
            self._by_trial.pop(conn.trial_id, None)
            conn.trial_id = None

    def _hello(self, conn: _Connection, trial_id: str, attempt: int, info: dict, events: list[TrialEvent]) -> None:
        expected = self._expected.get(trial_id)
        if expected is None or expected[0] != attempt:
            _wire.send_frame(conn.sock, ("reject", f"attempt {attempt} of trial {trial_id} is not expected"))
            return
        del self._expected[trial_id]
        assignment = expected[1]
        key = assignment["trainable_key"]
        blob = None if key in info.get("cached", ()) else self._blobs[key]
        conn.trial_id, conn.attempt = trial_id, attempt
        self._by_trial[trial_id] = conn
        _wire.send_frame(conn.sock, ("assign", assignment, blob))
        events.append(TrialEvent("started", trial_id, attempt, info))

    def _close(self, conn: _Connection) -> None:
        try:
            self._selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass  # already closed
        conn.sock.close()

    def _drop(self, conn: _Connection, events: list[TrialEvent], reason: str) -> None:
        self._close(conn)
        if conn.trial_id is not None:
            events.append(TrialEvent("lost", conn.trial_id, conn.attempt, reason))
            self._by_trial.pop(conn.trial_id, None)
            conn.trial_id = None

    def close(self) -> None:
        for key in list(self._selector.get_map().values()):
            key.fileobj.close()
        self._selector.close()
