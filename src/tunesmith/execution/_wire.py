"""Framing for the trial connection: 4-byte length, then a payload.

The first frame a connection sends is JSON (``{"token": ...}``) and is checked before
anything is unpickled; every later frame is a pickle. Messages are tuples whose first
item names them (see :mod:`tunesmith.execution._server`).
"""

from __future__ import annotations

import json
import pickle
import socket
import struct
import threading
from typing import Any

__all__ = ["ConnectionClosed", "FrameBuffer", "recv_frame", "send_frame", "send_json"]

_HEADER = struct.Struct("!I")
MAX_FRAME = 1 << 31


class ConnectionClosed(ConnectionError):
    """The other side closed the connection."""


def encode(message: Any) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


# One lock per process: a trial process has one connection, written by its main thread and
# its heartbeat thread; whole frames must not interleave. The driver sends from one thread.
_send_lock = threading.Lock()


def send_frame(sock: socket.socket, message: Any) -> None:
    data = encode(message)
    with _send_lock:
        sock.sendall(data)


def send_json(sock: socket.socket, message: dict[str, Any]) -> None:
    payload = json.dumps(message).encode()
    sock.sendall(_HEADER.pack(len(payload)) + payload)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise ConnectionClosed("connection closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def recv_frame(sock: socket.socket, *, raw: bool = False) -> Any:
    """Block until one whole frame arrives; unpickle it unless ``raw``."""
    (length,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    payload = _recv_exact(sock, length)
    return payload if raw else pickle.loads(payload)


class FrameBuffer:
    """Collects bytes from a non-blocking socket and yields whole frames."""

    def __init__(self) -> None:
        self._data = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._data += data
        frames = []
        while len(self._data) >= _HEADER.size:
            (length,) = _HEADER.unpack_from(self._data)
            end = _HEADER.size + length
            if len(self._data) < end:
                break
            frames.append(bytes(self._data[_HEADER.size : end]))
            del self._data[:end]
        return frames
