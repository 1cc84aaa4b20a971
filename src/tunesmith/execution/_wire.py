"""Framing for the trial connection: a 4-byte length, then a payload of that length.

Payloads are frames of :mod:`tunesmith._protocol` (JSON, plus a cloudpickle attachment
on the driver's ASSIGN only). The driver reads with a :class:`FrameBuffer` whose size
limit is small until the connection has authenticated, and writes through an
:class:`OutBuffer` that the selector loop flushes, so a large assignment never blocks it.
A trial process reads and writes with the blocking :func:`recv_frame` / :func:`send_frame`.
"""

from __future__ import annotations

import mmap
import os
import socket
import struct
import threading
import time
from collections import deque
from typing import IO, Any

from tunesmith import _protocol

__all__ = ["Channel", "ConnectionClosed", "FrameBuffer", "FrameTooLarge", "OutBuffer", "decision_frame", "frame_bytes",
           "frame_parts", "recv_frame", "seconds_since_send", "send_frame", "send_frames"]

_HEADER = struct.Struct("!I")


class ConnectionClosed(ConnectionError):
    """The other side closed the connection."""


class FrameTooLarge(_protocol.ProtocolError):
    """A length header above the connection's limit."""


def frame_bytes(frame: Any) -> bytes:
    """``frame`` encoded, with its length header."""
    return b"".join(frame_parts(frame))


def frame_parts(frame: Any) -> list[bytes]:
    """``frame`` encoded, with its length header, in pieces (a large attachment is not copied)."""
    parts = _protocol.encode_parts(frame)
    return [_HEADER.pack(sum(len(p) for p in parts)), *parts]


_SEQ_MARK = 987654321  # a seq that appears nowhere else in a DECISION's JSON
_decision_templates: dict[tuple[str, bool], tuple[bytes, bytes]] = {}


def decision_frame(seq: int, decision: str, save: bool = False) -> bytes:
    """``frame_bytes(Decision(seq, decision, save))``, from a template per decision.

    The driver sends one DECISION per result it is asked about: the dataclass and the JSON
    encoder were a fifth of its cost per result. The template is made (and ``decision``
    checked) by the general encoder, once per kind of decision.
    """
    template = _decision_templates.get((decision, save))
    if template is None:
        text = _protocol.encode(_protocol.Decision(_SEQ_MARK, decision, save))[4:]
        before, after = text.split(str(_SEQ_MARK).encode())
        template = _decision_templates[(decision, save)] = (before, after)
    before, after = template
    text = b"%s%d%s" % (before, seq, after)
    return _HEADER.pack(len(text) + 4) + _HEADER.pack(len(text)) + text


# One lock per process: a trial process has one connection, written by its main thread and
# its heartbeat thread; whole frames must not interleave. A forked child gets a free one (the
# thread that may have held it at the fork does not exist there).
_send_lock = threading.Lock()


class _ProcessLock:
    """A file's POSIX lock, which is held per process (not per thread) and dropped when its
    holder dies: excludes this process's forked children, which share the file."""

    def __init__(self) -> None:
        import fcntl  # noqa: PLC0415 - POSIX only, and only a worker that forks needs it
        import tempfile  # noqa: PLC0415

        self._lockf = fcntl.lockf
        self._locked, self._unlocked = fcntl.LOCK_EX, fcntl.LOCK_UN
        self._file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process

    def __enter__(self) -> None:
        self._lockf(self._file, self._locked)

    def __exit__(self, *exc: object) -> None:
        self._lockf(self._file, self._unlocked)


# Set by share_sends_with_children.
_process_lock: _ProcessLock | None = None

# When this process last finished sending a frame (time.monotonic(), which is one clock for
# every process on the machine), so that a heartbeat need not follow a frame that just went
# out. Once sends are shared with children, the time lives in a shared page, where the
# children's frames show too.
_STAMP = struct.Struct("d")
_sent_at: list[float] = [0.0]
_shared_sent_at: mmap.mmap | None = None


def _new_send_lock() -> None:
    global _send_lock
    _send_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_send_lock)


def share_sends_with_children() -> None:
    """Keep frames whole between this process and the children it forks from now on, which
    inherit its connection (a worker's heartbeat thread beats on while its child sends)."""
    global _process_lock, _shared_sent_at
    if _process_lock is None:
        _process_lock = _ProcessLock()
    if _shared_sent_at is None:
        shared = mmap.mmap(-1, _STAMP.size)  # anonymous and MAP_SHARED: one page for this process and its children
        _STAMP.pack_into(shared, 0, _sent_at[0])
        _shared_sent_at = shared


def seconds_since_send() -> float:
    """Seconds since a frame was last sent on this process's connection (by this process or,
    after :func:`share_sends_with_children`, by a child it forked)."""
    sent_at = _sent_at[0] if _shared_sent_at is None else _STAMP.unpack_from(_shared_sent_at)[0]
    return time.monotonic() - sent_at


def _mark_sent() -> None:
    if _shared_sent_at is None:
        _sent_at[0] = time.monotonic()
    else:
        _STAMP.pack_into(_shared_sent_at, 0, time.monotonic())


def send_frame(sock: socket.socket, frame: Any) -> None:
    """Send one frame on a blocking socket (the trial's side)."""
    send_frames(sock, [frame])


def send_frames(sock: socket.socket, frames: list[Any]) -> None:
    """Send ``frames`` on a blocking socket in one write (the trial's side)."""
    data = b"".join(part for frame in frames for part in frame_parts(frame))
    with _send_lock:
        if _process_lock is None:
            sock.sendall(data)
        else:
            with _process_lock:
                sock.sendall(data)
        _mark_sent()


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise ConnectionClosed("connection closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def recv_frame(sock: socket.socket, allowed: frozenset[type] = _protocol.DRIVER_FRAMES) -> Any:
    """Block until one whole frame arrives and decode it (by default, a frame from the driver)."""
    (length,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    return _protocol.decode(_recv_exact(sock, length), allowed)


class FrameBuffer:
    """Collects bytes from a non-blocking socket and yields whole payloads.

    Args:
        limit: The largest payload accepted; a header announcing more raises
            :class:`FrameTooLarge` before anything is buffered. Settable.
    """

    def __init__(self, limit: int = _protocol.MAX_TRIAL_FRAME) -> None:
        self.limit = limit
        self._data = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._data += data
        frames = []
        while len(self._data) >= _HEADER.size:
            (length,) = _HEADER.unpack_from(self._data)
            if length > self.limit:
                raise FrameTooLarge(f"a frame of {length} bytes; the limit here is {self.limit}")
            end = _HEADER.size + length
            if len(self._data) < end:
                break
            frames.append(bytes(self._data[_HEADER.size : end]))
            del self._data[:end]
        return frames

    def take_limit(self, limit: int) -> None:
        """Change the limit, checking a header already buffered against it."""
        self.limit = limit
        if len(self._data) >= _HEADER.size and _HEADER.unpack_from(self._data)[0] > limit:
            raise FrameTooLarge(f"a frame of {_HEADER.unpack_from(self._data)[0]} bytes; the limit here is {limit}")


class OutBuffer:
    """Frames queued for a non-blocking socket, written as far as the socket takes them."""

    _CHUNK = 1 << 20

    def __init__(self) -> None:
        self._chunks: deque[memoryview] = deque()
        self.sent = 0  # bytes written so far

    def __bool__(self) -> bool:
        return bool(self._chunks)

    def push(self, data: bytes) -> None:
        self._chunks.append(memoryview(data))

    def flush(self, sock: socket.socket,
              would_block: tuple[type[BaseException], ...] = (BlockingIOError, InterruptedError)) -> bool:
        """Write what the socket takes now; True when everything is written.

        Args:
            sock: A non-blocking socket.
            would_block: What ``send`` raises when the socket takes nothing now (a TLS
                socket adds ``ssl.SSLWantWriteError``; its retry sends the same bytes
                again, as OpenSSL requires).

        Raises:
            OSError: The connection failed.
        """
        while self._chunks:
            chunk = self._chunks[0]
            try:
                n = sock.send(chunk[: self._CHUNK])
            except would_block:
                return False
            self.sent += n
            if n == len(chunk):
                self._chunks.popleft()
            else:
                self._chunks[0] = chunk[n:]
        return True


class Channel:
    """A trial process's blocking connection to its driver: ``send`` and ``recv`` frames."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send(self, frame: Any) -> None:
        send_frame(self.sock, frame)

    def send_frames(self, frames: list[Any]) -> None:
        """Send ``frames`` in one write: the driver reads them with one wake-up."""
        send_frames(self.sock, frames)

    def recv(self) -> Any:
        return recv_frame(self.sock)
