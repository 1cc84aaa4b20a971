"""TensorBoard event files written with the standard library.

An events file is a sequence of TFRecords (length, masked CRC-32C of the length, data,
masked CRC-32C of the data) holding serialized ``Event`` protobuf messages. Scalars and
the HParams plugin's messages need only a handful of protobuf fields, encoded here by
hand, so the default TensorBoard logger costs no import of tensorboardX (which loads
boto3, and torch when installed: most of a second). Histograms, images and videos are
built by tensorboardX's summary functions and framed here.

Field numbers follow TensorBoard's ``event.proto``, ``summary.proto`` and the HParams
plugin's ``api.proto`` and ``plugin_data.proto``.
"""

from __future__ import annotations

import math
import os
import socket
import struct
import time
from typing import Any

from tunesmith.storage._files import write_all

__all__ = ["EventFile", "crc32c", "hparams_summaries", "scalar_values"]


def _crc32c_tables() -> tuple[list[int], ...]:
    """Four lookup tables for CRC-32C (Castagnoli), four bytes at a time."""
    first = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        first.append(crc)
    tables = [first]
    for _ in range(3):
        tables.append([(c >> 8) ^ first[c & 0xFF] for c in tables[-1]])
    return tuple(tables)


_T0, _T1, _T2, _T3 = _crc32c_tables()


def crc32c(data: bytes, value: int = 0) -> int:
    """CRC-32C of ``data``, continuing from ``value`` (the CRC of what came before), like
    ``zlib.crc32``: ``crc32c(b, crc32c(a)) == crc32c(a + b)``; ``crc32c(b"123456789") == 0xE3069283``."""
    crc = value ^ 0xFFFFFFFF
    words = len(data) // 4
    for word in struct.unpack_from(f"<{words}I", data):
        crc ^= word
        crc = _T3[crc & 0xFF] ^ _T2[(crc >> 8) & 0xFF] ^ _T1[(crc >> 16) & 0xFF] ^ _T0[crc >> 24]
    for byte in data[4 * words:]:
        crc = _T0[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


_prefix_crcs: dict[bytes, int] = {}


def _prefix_crc(prefix: bytes) -> int:
    """CRC-32C of an event's leading bytes, remembered: most events of an experiment start
    with the same summary (the HParams experiment, the end of a session, the file version),
    and only their step and time differ, which go last."""
    crc = _prefix_crcs.get(prefix)
    if crc is None:
        if len(_prefix_crcs) >= 256:
            _prefix_crcs.clear()
        crc = _prefix_crcs[prefix] = crc32c(prefix)
    return crc


# -- protobuf wire format, only what the messages below use --------------------------------
_ONE_BYTE = [bytes((n,)) for n in range(128)]


def _varint(value: int) -> bytes:
    if 0 <= value < 128:
        return _ONE_BYTE[value]  # field keys and most lengths
    value &= (1 << 64) - 1  # negative int64 values take ten bytes, as protobuf encodes them
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _bytes_field(field: int, data: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _string_field(field: int, text: str) -> bytes:
    return _bytes_field(field, text.encode())


def _double_field(field: int, value: float) -> bytes:
    return _varint(field << 3 | 1) + struct.pack("<d", value)


def _int_field(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


_FLOAT = struct.Struct("<f")
_scalar_heads: dict[str, bytes] = {}


def _scalar_head(tag: str) -> bytes:
    """A scalar entry's bytes before its value: the tags repeat from result to result."""
    head = _scalar_heads.get(tag)
    if head is None:
        if len(_scalar_heads) >= 4096:
            _scalar_heads.clear()
        tag_field = _string_field(1, tag)
        # Summary.value {tag, simple_value}: the simple value is a 5-byte float field.
        head = _scalar_heads[tag] = _varint(1 << 3 | 2) + _varint(len(tag_field) + 5) + tag_field + _varint(2 << 3 | 5)
    return head


def scalar_values(scalars: list[tuple[str, float]]) -> bytes:
    """``Summary.value`` entries (field 1) for ``(tag, number)`` pairs, as simple values."""
    out = []
    for tag, value in scalars:
        try:
            packed = _FLOAT.pack(value)
        except OverflowError:  # beyond float32: TensorBoard shows it as infinity anyway
            packed = _FLOAT.pack(math.copysign(math.inf, value))
        out.append(_scalar_head(tag) + packed)
    return b"".join(out)


# -- the HParams plugin --------------------------------------------------------------------
_STATUS_SUCCESS, _STATUS_FAILURE = 1, 2
_DATA_TYPE = {str: 1, bool: 2, int: 3, float: 3}  # DATA_TYPE_STRING, _BOOL, _FLOAT64


def _protobuf_value(value: Any) -> bytes:
    """A ``google.protobuf.Value``: null, number, string or bool."""
    if value is None:
        return _int_field(1, 0)
    if isinstance(value, bool):
        return _int_field(4, int(value))
    if isinstance(value, (int, float)):
        return _double_field(2, float(value))
    return _string_field(3, str(value))


def _plugin_value(tag: str, content: bytes) -> bytes:
    """A ``Summary.value`` entry carrying HParams plugin data under ``tag``."""
    plugin_data = _string_field(1, "hparams") + _bytes_field(2, content)
    return _bytes_field(1, _string_field(1, tag) + _bytes_field(9, _bytes_field(1, plugin_data)))


def hparams_summaries(hparams: dict[str, Any], metric_tags: list[str], *, success: bool = True) -> list[bytes]:
    """The three summaries TensorBoard's HParams view reads: experiment, session start, session end.

    Args:
        hparams: Name to value (number, bool, string or None).
        metric_tags: Scalar tags to show as metric columns.
        success: Whether the trial ended well (``STATUS_SUCCESS``, else ``STATUS_FAILURE``).
    """
    entries = b"".join(
        _bytes_field(1, _string_field(1, name) + _bytes_field(2, _protobuf_value(value)))
        for name, value in hparams.items()
    )
    return [
        _experiment_summary(tuple((name, type(v)) for name, v in hparams.items()), tuple(metric_tags)),
        _plugin_value("_hparams_/session_start_info", _int_field(1, 0) + _bytes_field(3, entries)),
        _SESSION_END[success],
    ]


_experiments: dict[tuple, bytes] = {}


def _experiment_summary(hparam_types: tuple[tuple[str, type], ...], metric_tags: tuple[str, ...]) -> bytes:
    """The experiment summary: the same for the trials of an experiment, so built once."""
    key = (hparam_types, metric_tags)
    summary = _experiments.get(key)
    if summary is None:
        if len(_experiments) >= 64:
            _experiments.clear()
        infos = b"".join(
            _bytes_field(4, _string_field(1, name) + (_int_field(4, _DATA_TYPE[kind]) if kind in _DATA_TYPE else b""))
            for name, kind in hparam_types
        )
        metrics = b"".join(_bytes_field(5, _bytes_field(1, _string_field(2, tag))) for tag in metric_tags)
        summary = _experiments[key] = _plugin_value("_hparams_/experiment",
                                                    _int_field(1, 0) + _bytes_field(2, infos + metrics))
    return summary


_SESSION_END = {
    success: _plugin_value("_hparams_/session_end_info",
                           _int_field(1, 0) + _bytes_field(4, _int_field(1, _STATUS_SUCCESS if success else _STATUS_FAILURE)))
    for success in (True, False)
}


# -- files ---------------------------------------------------------------------------------
_VERSION = _string_field(3, "brain.Event:2")
_HOSTNAME = socket.gethostname()
_MAX_PENDING_BYTES = 1 << 16  # written sooner than the flush period when a trial reports fast


class EventFile:
    """One ``events.out.tfevents.<time>.<host>`` file in ``folder``; an existing name gets a suffix.

    Args:
        folder: The trial's folder (created if needed).

    Example:
        >>> import tempfile
        >>> events = EventFile(tempfile.mkdtemp())
        >>> events.add(scalar_values([("loss", 0.5)]), step=1)
        >>> events.close()
    """

    def __init__(self, folder: str) -> None:
        base = os.path.join(folder, f"events.out.tfevents.{int(time.time()):010d}.{_HOSTNAME}")
        self.path, n = base, 0
        while True:
            try:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
                break
            except FileExistsError:  # a restart within the same second
                n += 1
                self.path = f"{base}.{n}"
            except FileNotFoundError:
                os.makedirs(folder, exist_ok=True)
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._write(_VERSION, _double_field(1, time.time()), cache=True)

    def add(self, summary: bytes, step: int, wall_time: float | None = None, *, repeated: bool = False) -> None:
        """Append an ``Event`` holding ``summary`` (serialized ``Summary.value`` entries) at ``step``.

        ``repeated``: the same summary is written for many trials; its CRC is remembered.
        """
        tail = _int_field(2, step) + _double_field(1, time.time() if wall_time is None else wall_time)
        self._write(_bytes_field(5, summary), tail, cache=repeated)

    def purge(self, step: int, wall_time: float | None = None) -> None:
        """Tell TensorBoard to drop the events at ``step`` and later from the trial's earlier
        files: an ``Event`` with ``SessionLog(status=START)`` at ``step``, as tensorboardX's
        ``purge_step`` writes. A trial resumed from a checkpoint reports those steps again."""
        session_start = _bytes_field(7, _int_field(1, 1))  # Event.session_log = SessionLog(status=START)
        self._write(session_start, _int_field(2, step) + _double_field(1, time.time() if wall_time is None else wall_time))

    def _write(self, head: bytes, tail: bytes, cache: bool = False) -> None:
        # Protobuf fields may come in any order: the summary goes first so that its CRC can
        # be remembered, and the step and time, which always differ, last.
        header = struct.pack("<Q", len(head) + len(tail))
        crc = crc32c(tail, _prefix_crc(head) if cache else crc32c(head))
        record = header + struct.pack("<I", _masked(crc32c(header))) + head + tail + struct.pack("<I", _masked(crc))
        self._pending.append(record)
        self._pending_bytes += len(record)
        if self._pending_bytes > _MAX_PENDING_BYTES:
            self.flush()

    def flush(self) -> None:
        """Write what was added since the last flush."""
        data = b"".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        write_all(self._fd, data)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            os.close(self._fd)
