"""``TrialServer``: the data plane. Every trial attempt talks to the driver through it.

The frames are those of :mod:`tunesmith._protocol`. A connection first proves itself:
with AUTH (the experiment's token, which local trial processes get through a pipe) or
with a HELLO that carries its attempt's one-time ticket (cluster executors, see
:func:`tunesmith._protocol.attempt_ticket`). Until then the connection may send one frame
of at most ``MAX_AUTH_FRAME`` bytes and must do so within ``AUTH_DEADLINE_S``; whatever
goes wrong on it (bad bytes, a bad token, a crash in decoding) closes that connection
and nothing else. At most ``MAX_UNAUTHENTICATED`` such connections are kept (the oldest
goes first, preferring one that has sent nothing), and an ``accept`` that fails (out of
file descriptors) pauses accepting briefly instead of ending the experiment.

After authentication a frame may be up to ``MAX_TRIAL_FRAME`` bytes. A frame that breaks
the schema, or a result value the driver cannot decode, fails that attempt only (an
ERROR event naming the problem) and closes its connection.

A HELLO for an attempt the controller no longer expects (a stale or duplicate attempt)
is rejected, so an old process can never report into a newer attempt; the connection of
an attempt that is fenced while connected is closed, so it sees EOF and ends.

Writes are queued per connection and flushed by the same selector loop, so a large
assignment (``with_parameters`` data) streams out without blocking the driver.

With ``tls=True`` (a Dask cluster at ``tls://``) the server speaks TLS with a certificate
made for this experiment (:mod:`tunesmith.execution._tls`), which trials pin. The handshake
runs in the same non-blocking loop and counts against the same ``AUTH_DEADLINE_S``; a
client that does not speak TLS, or does not trust the certificate, is closed like any
stranger.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import errno
import hmac
import logging
import secrets
import select
import selectors
import socket
import time
from typing import Any

from tunesmith import _protocol
from tunesmith.execution import _wire

__all__ = ["EventKind", "TrialEvent", "TrialServer"]

_log = logging.getLogger("tunesmith")

AUTH_DEADLINE_S = 5.0
MAX_UNAUTHENTICATED = 64
_ACCEPT_PAUSE_S = 0.1
_TLS_READ_MAX = 1 << 18  # read a TLS socket on to this many bytes per wake-up (one record is 16 KiB)
_JOIN_BELOW = 1 << 16  # frames up to this size go out in one piece; larger ones are not copied
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class EventKind(str, enum.Enum):
    """What a :class:`TrialEvent` reports; one per trial frame, plus ``LOST``."""

    STARTED = "started"  # payload: the HELLO's info dict
    RESULT = "result"  # payload: (seq, result, checkpoint_dir_name, final)
    CHECKPOINT = "checkpoint"  # payload: the checkpoint's folder name
    HEARTBEAT = "heartbeat"  # payload: None
    DONE = "done"  # payload: the DoneReason
    ERROR = "error"  # payload: a tunesmith._protocol.Error
    LOST = "lost"  # payload: why the connection ended


@dataclasses.dataclass
class TrialEvent:
    """Something a trial attempt said, or the loss of its connection."""

    kind: EventKind
    trial_id: str
    attempt: int
    payload: Any = None


@dataclasses.dataclass
class TrafficStats:
    """What the server has sent, for tests and benchmarks."""

    bytes_sent: int = 0
    assignments: int = 0
    trainables_sent: int = 0
    trainable_bytes: int = 0
    decisions: int = 0


@dataclasses.dataclass(eq=False)
class _Connection:
    sock: socket.socket
    opened: float
    buffer: _wire.FrameBuffer = dataclasses.field(default_factory=lambda: _wire.FrameBuffer(_protocol.MAX_AUTH_FRAME))
    out: _wire.OutBuffer = dataclasses.field(default_factory=_wire.OutBuffer)
    authenticated: bool = False
    has_token: bool = False  # AUTH with the experiment's token: any expected attempt may say HELLO
    trial_id: str | None = None
    attempt: int = -1
    writing: bool = False
    handshaking: bool = False  # a TLS connection whose handshake has not finished
    heard: bool = False  # it has sent something


def protocol_error(message: str) -> _protocol.Error:
    """An ERROR frame for a problem the driver found in what an attempt sent."""
    return _protocol.Error(module="tunesmith.error", qualname="TrialError", args=[message], traceback="",
                           summary=f"TrialError: {message}")


class TrialServer:
    """Listens for trial attempts on ``host`` and turns their frames into :class:`TrialEvent` s.

    Args:
        host: The address to listen on.
        tls: Speak TLS with a fresh self-signed certificate (``certificate``, which trials
            pin); the key stays in this process.
    """

    def __init__(self, host: str = "127.0.0.1", *, tls: bool = False) -> None:
        self.token = secrets.token_hex(16)
        self.certificate: str | None = None  # PEM, with tls
        self._tls_context: Any = None
        self._would_block: tuple[type[BaseException], ...] = (BlockingIOError, InterruptedError)
        if tls:
            from tunesmith.execution import _tls

            identity = _tls.new_identity()
            self.certificate, self._tls_context = identity.certificate, _tls.server_context(identity)
            self._would_block = _tls.WOULD_BLOCK
        self.stats = TrafficStats()
        self._listener = socket.create_server((host, 0))
        self._listener.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._accept_paused_until = 0.0
        self._expected: dict[str, tuple[int, _protocol.Assignment]] = {}
        self._blobs: dict[str, bytes] = {}
        self._by_trial: dict[str, _Connection] = {}
        self._unauthenticated: collections.OrderedDict[_Connection, None] = collections.OrderedDict()

    @property
    def address(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"{host}:{port}"

    def ticket(self, trial_id: str, attempt: int) -> str:
        """The one-time ticket a cluster executor sends with attempt ``(trial_id, attempt)``."""
        return _protocol.attempt_ticket(self.token, trial_id, attempt)

    def add_trainable(self, key: str, blob: bytes) -> None:
        """Register the pickled trainable that assignments refer to by ``key``."""
        self._blobs[key] = blob

    def expect(self, trial_id: str, attempt: int, assignment: _protocol.Assignment) -> None:
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
        if conn is not None:
            self.stats.decisions += 1
            data = _wire.decision_frame(seq, decision, save)
            self.stats.bytes_sent += len(data)
            conn.out.push(data)
            self._flush(conn, None)

    def drain(self, trial_id: str) -> list[TrialEvent]:
        """The events of every frame ``trial_id``'s connection holds now, up to its end.

        For an attempt whose process has ended: all it sent is already here, and a trial
        that reports without waiting for decisions may have sent much since the last poll.
        """
        events: list[TrialEvent] = []
        conn = self._by_trial.get(trial_id)
        while conn is not None and conn.trial_id == trial_id and conn.sock.fileno() >= 0:
            if not _pending(conn.sock) and not select.select([conn.sock], [], [], 0)[0]:
                break
            self._read(conn, events)
        return events

    def poll(self, timeout: float | None) -> list[TrialEvent]:
        """Wait up to ``timeout`` seconds for frames; the events they make."""
        events: list[TrialEvent] = []
        self._resume_accepting()
        for key, mask in self._selector.select(self._select_timeout(timeout)):
            if key.data is None:
                self._accept()
                continue
            conn: _Connection = key.data
            if conn.handshaking:
                conn.heard = conn.heard or bool(mask & selectors.EVENT_READ)
                self._handshake(conn)
                if not conn.handshaking and conn.sock.fileno() >= 0:
                    self._read(conn, events)  # the first frame may have come with the handshake
                continue
            if mask & selectors.EVENT_WRITE:
                self._flush(conn, events)
            if mask & selectors.EVENT_READ and conn.sock.fileno() >= 0:
                self._read(conn, events)
        self._expire_unauthenticated()
        return events

    # -- connections -------------------------------------------------------------------------------
    def _select_timeout(self, timeout: float | None) -> float | None:
        if not self._unauthenticated:
            return timeout
        oldest = next(iter(self._unauthenticated))
        left = max(0.0, oldest.opened + AUTH_DEADLINE_S - time.monotonic())
        return left if timeout is None else min(timeout, left)

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # never ends the experiment
                if exc.errno in _OUT_OF_RESOURCES:
                    self._pause_accepting(exc)
                return  # ECONNABORTED and the like: that connection is gone; the next one may come
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setblocking(False)
                if self._tls_context is not None:
                    sock = self._tls_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            except OSError:
                sock.close()
                continue
            conn = _Connection(sock, time.monotonic(), handshaking=self._tls_context is not None)
            self._unauthenticated[conn] = None
            self._selector.register(sock, selectors.EVENT_READ, conn)
            if len(self._unauthenticated) > MAX_UNAUTHENTICATED:
                self._close(self._shed())

    def _handshake(self, conn: _Connection) -> None:
        """One non-blocking step of a TLS handshake; a failed one closes the connection."""
        import ssl  # noqa: PLC0415 - loaded already: this connection is a TLS one

        try:
            conn.sock.do_handshake()  # type: ignore[attr-defined]
        except ssl.SSLWantReadError:
            self._watch(conn, selectors.EVENT_READ)
            return
        except ssl.SSLWantWriteError:
            self._watch(conn, selectors.EVENT_READ | selectors.EVENT_WRITE)
            return
        except (OSError, ValueError) as exc:  # not TLS, an untrusted certificate, a reset
            _log.debug("closing a trial connection whose TLS handshake failed: %s", exc)
            self._close(conn)
            return
        conn.handshaking = False
        self._watch(conn, selectors.EVENT_READ)

    def _watch(self, conn: _Connection, events: int) -> None:
        if self._selector.get_key(conn.sock).events != events:
            self._selector.modify(conn.sock, events, conn)

    def _pause_accepting(self, exc: OSError) -> None:
        _log.warning("the trial server cannot accept a connection (%s); closing the oldest unauthenticated one",
                     errno.errorcode.get(exc.errno or 0, exc))
        if self._unauthenticated:
            self._close(self._shed())
        self._selector.unregister(self._listener)
        self._accept_paused_until = time.monotonic() + _ACCEPT_PAUSE_S

    def _shed(self) -> _Connection:
        """The unauthenticated connection to close for room: the oldest that has sent nothing
        (an idle flood), else the oldest. A trial's connection speaks at once, so a flood of
        idle connections never pushes out one in the middle of its TLS handshake."""
        for conn in self._unauthenticated:
            if not conn.heard and not select.select([conn.sock], [], [], 0)[0]:  # nothing waits unread either
                return conn
        return next(iter(self._unauthenticated))

    def _resume_accepting(self) -> None:
        if self._accept_paused_until and time.monotonic() >= self._accept_paused_until:
            self._accept_paused_until = 0.0
            self._selector.register(self._listener, selectors.EVENT_READ, None)

    def _expire_unauthenticated(self) -> None:
        now = time.monotonic()
        while self._unauthenticated:
            oldest = next(iter(self._unauthenticated))
            if now - oldest.opened < AUTH_DEADLINE_S:
                return
            self._close(oldest)

    # -- reading -----------------------------------------------------------------------------------
    def _read(self, conn: _Connection, events: list[TrialEvent]) -> None:
        try:
            data = self._receive(conn.sock, more=conn.authenticated)
        except self._would_block:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn, events, "connection closed")
            return
        if not conn.authenticated:
            conn.heard = True
            self._read_unauthenticated(conn, data, events)
            return
        try:
            for frame in conn.buffer.feed(data):
                self._handle(conn, _protocol.decode(frame, _protocol.TRIAL_FRAMES), events)
                if conn.sock.fileno() < 0:
                    return  # fenced or dropped while handling
        except (_protocol.ProtocolError, RecursionError) as exc:
            self._reject_attempt(conn, events, str(exc) or type(exc).__name__)

    def _receive(self, sock: socket.socket, more: bool) -> bytes:
        """What ``sock`` holds now (raises ``_would_block`` when nothing).

        A TLS socket's ``recv`` returns one record (16 KiB at most), and bytes that OpenSSL
        has decrypted but not handed out wake no selector: with ``more`` (an authenticated
        connection) read on until the socket would block, and always take those bytes too.
        """
        data = sock.recv(1 << 16)  # under malloc's mmap threshold: no mmap/munmap per call
        if self._tls_context is None or not data:
            return data
        chunks, size = [data], len(data)
        try:
            while more and size < _TLS_READ_MAX:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    break  # EOF: the next read sees it
                chunks.append(chunk)
                size += len(chunk)
        except OSError:
            pass  # would block; or a failure, which the next read reports
        while _pending(sock):
            chunks.append(sock.recv(_pending(sock)))
        return b"".join(chunks)

    def _read_unauthenticated(self, conn: _Connection, data: bytes, events: list[TrialEvent]) -> None:
        """Anything that goes wrong here closes this connection only."""
        try:
            frames = conn.buffer.feed(data)
            if not frames:
                return
            if not self._authenticate(conn, _protocol.decode(frames[0], _protocol.TRIAL_FRAMES), events):
                self._close(conn)
                return
            conn.buffer.take_limit(_protocol.MAX_TRIAL_FRAME)
        except Exception as exc:  # noqa: BLE001 - a stranger's bytes must not reach the controller
            _log.debug("closing an unauthenticated trial connection: %s: %s", type(exc).__name__, exc)
            self._close(conn)
            return
        if len(frames) > 1:
            self._read_more(conn, frames[1:], events)

    def _read_more(self, conn: _Connection, frames: list[bytes], events: list[TrialEvent]) -> None:
        try:
            for frame in frames:
                self._handle(conn, _protocol.decode(frame, _protocol.TRIAL_FRAMES), events)
        except (_protocol.ProtocolError, RecursionError) as exc:
            self._reject_attempt(conn, events, str(exc) or type(exc).__name__)

    def _authenticate(self, conn: _Connection, frame: Any, events: list[TrialEvent]) -> bool:
        if isinstance(frame, _protocol.Auth):
            conn.has_token = hmac.compare_digest(frame.token.encode(), self.token.encode())
            conn.authenticated = conn.has_token
        elif isinstance(frame, _protocol.Hello) and frame.ticket is not None:
            if not self._ticket_valid(frame):
                return False
            conn.authenticated = True
            self._hello(conn, frame, events)
        if conn.authenticated:
            self._unauthenticated.pop(conn, None)
        return conn.authenticated

    def _ticket_valid(self, hello: _protocol.Hello) -> bool:
        expected = self._expected.get(hello.trial_id)
        if expected is None or expected[0] != hello.attempt or hello.ticket is None:
            return False
        return hmac.compare_digest(hello.ticket.encode(), self.ticket(hello.trial_id, hello.attempt).encode())

    def _handle(self, conn: _Connection, frame: Any, events: list[TrialEvent]) -> None:
        if isinstance(frame, _protocol.Hello):
            if conn.has_token or self._ticket_valid(frame):
                self._hello(conn, frame, events)
            else:
                self._send(conn, _protocol.Reject(f"attempt {frame.attempt} of trial {frame.trial_id} is not expected"))
            return
        if conn.trial_id is None or isinstance(frame, _protocol.Auth):
            return  # a fenced attempt still talking; ignore it
        event = self._event(conn, frame)
        events.append(event)
        if event.kind in (EventKind.DONE, EventKind.ERROR):
            self._by_trial.pop(conn.trial_id, None)
            conn.trial_id = None

    def _event(self, conn: _Connection, frame: Any) -> TrialEvent:
        if isinstance(frame, _protocol.Result):
            payload: Any = (frame.seq, _protocol.decode_result(frame.result), frame.checkpoint, frame.final)
            return TrialEvent(EventKind.RESULT, conn.trial_id, conn.attempt, payload)
        if isinstance(frame, _protocol.Checkpoint):
            return TrialEvent(EventKind.CHECKPOINT, conn.trial_id, conn.attempt, frame.name)
        if isinstance(frame, _protocol.Done):
            return TrialEvent(EventKind.DONE, conn.trial_id, conn.attempt, frame.reason)
        if isinstance(frame, _protocol.Error):
            return TrialEvent(EventKind.ERROR, conn.trial_id, conn.attempt, frame)
        return TrialEvent(EventKind.HEARTBEAT, conn.trial_id, conn.attempt)

    def _hello(self, conn: _Connection, hello: _protocol.Hello, events: list[TrialEvent]) -> None:
        expected = self._expected.get(hello.trial_id)
        if expected is None or expected[0] != hello.attempt:
            self._send(conn, _protocol.Reject(f"attempt {hello.attempt} of trial {hello.trial_id} is not expected"))
            return
        del self._expected[hello.trial_id]
        assignment = expected[1]
        key = assignment.trainable_key
        cached = hello.info.get("cached", ())
        blob = None if isinstance(cached, list) and key in cached else self._blobs[key]
        if conn.trial_id is not None:  # a process that ran an attempt here before
            self._by_trial.pop(conn.trial_id, None)
        conn.trial_id, conn.attempt = hello.trial_id, hello.attempt
        self._by_trial[hello.trial_id] = conn
        self.stats.assignments += 1
        if blob is not None:
            self.stats.trainables_sent += 1
            self.stats.trainable_bytes += len(blob)
        self._send(conn, _protocol.Assign(assignment, blob))
        events.append(TrialEvent(EventKind.STARTED, hello.trial_id, hello.attempt, hello.info))

    def _reject_attempt(self, conn: _Connection, events: list[TrialEvent], problem: str) -> None:
        """An authenticated attempt broke the protocol: it fails; its connection closes."""
        trial_id, attempt = conn.trial_id, conn.attempt
        if trial_id is not None:
            self._by_trial.pop(trial_id, None)
            conn.trial_id = None
            events.append(TrialEvent(EventKind.ERROR, trial_id, attempt, protocol_error(problem)))
        self._close(conn)

    # -- writing -----------------------------------------------------------------------------------
    def _send(self, conn: _Connection, frame: Any) -> None:
        parts = _wire.frame_parts(frame)
        size = sum(len(part) for part in parts)
        self.stats.bytes_sent += size
        if size <= _JOIN_BELOW:  # a small frame: one send() instead of one per part
            parts = [b"".join(parts)]
        for part in parts:
            conn.out.push(part)
        self._flush(conn, None)

    def _flush(self, conn: _Connection, events: list[TrialEvent] | None) -> None:
        if conn.sock.fileno() < 0:
            return
        try:
            done = conn.out.flush(conn.sock, self._would_block)
        except OSError:
            return  # the loss shows up as EOF on the next read
        want = selectors.EVENT_READ if done else selectors.EVENT_READ | selectors.EVENT_WRITE
        if conn.writing != (not done):
            conn.writing = not done
            self._selector.modify(conn.sock, want, conn)

    # -- closing -----------------------------------------------------------------------------------
    def _close(self, conn: _Connection) -> None:
        self._unauthenticated.pop(conn, None)
        try:
            self._selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass  # already closed
        conn.sock.close()

    def _drop(self, conn: _Connection, events: list[TrialEvent], reason: str) -> None:
        self._close(conn)
        if conn.trial_id is not None:
            events.append(TrialEvent(EventKind.LOST, conn.trial_id, conn.attempt, reason))
            self._by_trial.pop(conn.trial_id, None)
            conn.trial_id = None

    def close(self) -> None:
        for key in list(self._selector.get_map().values()):
            key.fileobj.close()
        if self._accept_paused_until:
            self._listener.close()
        self._selector.close()


def _pending(sock: socket.socket) -> int:
    """Bytes a TLS socket has decrypted and not yet handed out (0 for a plain socket)."""
    pending = getattr(sock, "pending", None)
    return pending() if pending is not None else 0
