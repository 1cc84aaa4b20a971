"""The wire format between the driver and its trial processes, in one place.

A frame on the connection is a 4-byte big-endian length, then a payload of that length.
The payload is a 4-byte length, a JSON object of that length, and an optional binary
attachment (the rest of the payload). The JSON object is ``{"v": 1, "type": ..., ...}``:
the protocol version, the frame type and the frame's fields, one dataclass per type below
(its annotated fields are the JSON fields, checked by type on decoding).

Trust: the driver decodes frames from trials as data only (:func:`decode` with
:data:`TRIAL_FRAMES`); nothing from the network is unpickled in the driver, and a frame
from a trial may carry no attachment. Python objects that must stay objects (the
trainable, ``with_parameters`` data, a config holding functions, the storage filesystem)
travel only from the driver to the trial, as cloudpickle in the ASSIGN frame's attachment.

Result values are JSON plus tagged dicts (``{"__t__": ...}``) for tuples, bytes, dicts
with keys that are not strings, numpy scalars and arrays; any other value becomes its
``repr``, with one warning naming its key (:func:`encode_result`).

Example:
    >>> frame = Decision(seq=3, decision="CONTINUE", save=False)
    >>> decode(encode(frame), DRIVER_FRAMES) == frame
    True
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import hashlib
import hmac
import json
import struct
import types
import typing
import warnings
from typing import Any, ClassVar

__all__ = [
    "DRIVER_FRAMES", "MAX_AUTH_FRAME", "MAX_TRIAL_FRAME", "PROTOCOL_VERSION", "TRIAL_FRAMES", "Assign", "Assignment",
    "Auth", "Checkpoint", "Decision", "Done", "DoneReason", "Error", "Heartbeat", "Hello", "ProtocolError", "Reject",
    "Result", "attempt_ticket", "decode", "decode_result", "decode_value", "encode", "encode_parts", "encode_result",
    "encode_value",
]

PROTOCOL_VERSION = 1
# The first frame of a connection (AUTH or a HELLO with a ticket) fits in this, so an
# unauthenticated peer can make the driver buffer no more than this.
MAX_AUTH_FRAME = 1024
# Any later frame from a trial (a result with a few arrays in it fits many times over).
MAX_TRIAL_FRAME = 64 << 20

_JSON_LENGTH = struct.Struct("!I")
_JSON_DECODER = json.JSONDecoder()
_TAG = "__t__"


class ProtocolError(ValueError):
    """A frame that does not follow this schema: malformed, of the wrong type or version."""


class DoneReason(str, enum.Enum):
    """Why an attempt ended without an error."""

    FINISHED = "finished"
    STOP = "stop"
    PAUSE = "pause"


_DECISIONS = ["CONTINUE", "STOP", "PAUSE"]


def _check(value: Any, kind: Any, field: str) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProtocolError(f"field {field!r} must be {_kind_name(kind)}, got {type(value).__name__}")
    return value


def _kind_name(kind: Any) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join("null" if k is type(None) else k.__name__ for k in kinds)


def _frame(cls: type) -> Any:
    """``cls`` as a frozen dataclass and a frame: its fields are the frame's JSON fields.

    ``SCHEMA`` (field name -> the JSON type :func:`decode` checks) comes from the fields'
    annotations, so a frame states its fields once: ``str | None`` accepts null, and a
    string enum travels as its value (a ``str``).
    """
    frame = dataclasses.dataclass(frozen=True)(cls)
    hints = typing.get_type_hints(frame)
    frame.SCHEMA = {field.name: _json_kind(hints[field.name]) for field in dataclasses.fields(frame)}
    return frame


def _json_kind(hint: Any) -> Any:
    if isinstance(hint, types.UnionType):
        return typing.get_args(hint)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return str
    return hint


def _one_of(value: Any, allowed: list[str], field: str) -> None:
    if value not in allowed:
        raise ProtocolError(f"{field} must be one of {allowed}, got {value!r}")


# -- frames from a trial to the driver ---------------------------------------------------------------
@_frame
class Auth:
    """The first frame of a connection that holds the experiment's token (local trial processes)."""

    TYPE: ClassVar[str] = "auth"
    token: str


@_frame
class Hello:
    """Asks for the assignment of ``(trial_id, attempt)``.

    On a connection without AUTH, the HELLO is the first frame and ``ticket`` (see
    :func:`attempt_ticket`) proves the attempt was launched by this driver.
    """

    TYPE: ClassVar[str] = "hello"
    trial_id: str
    attempt: int
    info: dict
    ticket: str | None = None


@_frame
class Result:
    """One reported result; ``result`` holds encoded values (:func:`encode_result`).

    The trial waits for a DECISION unless ``final`` (a function's return value) or its
    assignment says no decisions are made (``Assignment.decisions``).
    """

    TYPE: ClassVar[str] = "result"
    seq: int
    result: dict
    checkpoint: str | None = None
    final: bool = False


@_frame
class Checkpoint:
    """A checkpoint saved outside a result (while stopping or pausing), by its folder name."""

    TYPE: ClassVar[str] = "checkpoint"
    name: str


@_frame
class Done:
    """The attempt ended."""

    TYPE: ClassVar[str] = "done"
    reason: DoneReason

    def __post_init__(self) -> None:
        _one_of(self.reason, [r.value for r in DoneReason], "reason")
        object.__setattr__(self, "reason", DoneReason(self.reason))


@_frame
class Error:
    """The attempt raised: the exception as data (its type's name, its args), never a pickle."""

    TYPE: ClassVar[str] = "error"
    module: str
    qualname: str
    args: list
    traceback: str
    summary: str


@_frame
class Heartbeat:
    """Still alive; sent every second or so from a thread."""

    TYPE: ClassVar[str] = "heartbeat"


# -- frames from the driver to a trial -----------------------------------------------------------------
@dataclasses.dataclass(frozen=True, kw_only=True)
class Assignment:
    """What one attempt runs: everything the trial process needs besides the trainable.

    ``config`` and ``storage_filesystem`` may be any picklable objects; they travel as
    cloudpickle in the ASSIGN frame's attachment, the other fields as JSON.

    ``decisions`` says whether the driver decides anything on this attempt's results (a
    scheduler, a stopper, a callback that may ask for a checkpoint). When False, a RESULT
    gets no DECISION: ``tune.report`` sends it and returns at once, and the driver ends the
    attempt, if it must, by closing its connection and ending its process.
    """

    trial_id: str
    trial_name: str
    trial_dir: str
    experiment_name: str
    resources: dict
    attempt: int
    trainable_key: str
    config: Any = dataclasses.field(default_factory=dict)
    storage_filesystem: Any = None
    local_dir: str | None = None
    restore_checkpoint: str | None = None
    iteration: int = 0
    time_total_s: float = 0.0
    checkpoint_index: int = 0
    checkpoint_frequency: int = 0
    checkpoint_at_end: bool = True
    chdir: bool = False
    reuse_actors: bool = False
    log_to_file: tuple | None = None
    decisions: bool = True

    OBJECT_FIELDS: ClassVar[tuple[str, ...]] = ("config", "storage_filesystem")


@dataclasses.dataclass(frozen=True)
class Assign:
    """The answer to an expected HELLO; ``trainable`` is None when the process has it cached."""

    TYPE: ClassVar[str] = "assign"
    assignment: Assignment
    trainable: bytes | None = None


@_frame
class Reject:
    """The answer to a HELLO the driver does not expect (a stale or duplicate attempt)."""

    TYPE: ClassVar[str] = "reject"
    reason: str


@_frame
class Decision:
    """The answer to result ``seq``; ``save`` asks a class trainable to save a checkpoint now."""

    TYPE: ClassVar[str] = "decision"
    seq: int
    decision: str
    save: bool = False

    def __post_init__(self) -> None:
        _one_of(self.decision, _DECISIONS, "decision")


TRIAL_FRAMES: frozenset[type] = frozenset({Auth, Hello, Result, Checkpoint, Done, Error, Heartbeat})
DRIVER_FRAMES: frozenset[type] = frozenset({Assign, Reject, Decision})
_BY_TYPE = {cls.TYPE: cls for cls in TRIAL_FRAMES | DRIVER_FRAMES}


# -- encoding and decoding frames ----------------------------------------------------------------------
def encode(frame: Any) -> bytes:
    """The payload of ``frame`` (without the connection's length header)."""
    return b"".join(encode_parts(frame))


def encode_parts(frame: Any) -> list[bytes]:
    """The payload of ``frame`` in pieces, so a large attachment is never copied."""
    fields: dict[str, Any] = {"v": PROTOCOL_VERSION, "type": frame.TYPE}
    attachment: list[bytes] = []
    if isinstance(frame, Assign):
        fields.update(_assignment_fields(frame.assignment))
        objects = _pickle_objects(frame.assignment)
        fields["objects_size"] = len(objects)
        fields["trainable_size"] = None if frame.trainable is None else len(frame.trainable)
        attachment = [objects] if frame.trainable is None else [objects, frame.trainable]
    else:
        fields.update({name: getattr(frame, name) for name in frame.SCHEMA})
    text = json.dumps(fields, separators=(",", ":")).encode()
    return [_JSON_LENGTH.pack(len(text)) + text, *attachment]


def decode(payload: bytes, allowed: frozenset[type]) -> Any:
    """The frame in ``payload``, which must be one of the ``allowed`` types.

    Raises:
        ProtocolError: The payload is malformed, of another version, of a type not
            allowed here, or has fields missing, extra or of the wrong type.
    """
    fields, attachment = _split(payload)
    version = fields.pop("v", None)
    if version != PROTOCOL_VERSION:
        raise ProtocolError(f"protocol version {version!r}, this side speaks {PROTOCOL_VERSION}")
    kind = fields.pop("type", None)
    cls = _BY_TYPE.get(kind) if isinstance(kind, str) else None
    if cls is None or cls not in allowed:
        raise ProtocolError(f"unexpected frame type {repr(kind)[:40]}")
    if cls is Assign:
        return _decode_assign(fields, attachment)
    if attachment:
        raise ProtocolError(f"a {cls.TYPE} frame carries no attachment, got {len(attachment)} bytes")
    if fields.keys() != cls.SCHEMA.keys():
        raise ProtocolError(f"a {cls.TYPE} frame has the fields {sorted(cls.SCHEMA)}, got {sorted(fields)}")
    for name, kind in cls.SCHEMA.items():
        value = fields[name]
        if type(value) is not kind:
            fields[name] = _check(value, kind, name)
    return cls(**fields)


def _split(payload: bytes) -> tuple[dict[str, Any], memoryview]:
    if len(payload) < _JSON_LENGTH.size:
        raise ProtocolError(f"a frame is at least {_JSON_LENGTH.size} bytes, got {len(payload)}")
    (size,) = _JSON_LENGTH.unpack_from(payload)
    end = _JSON_LENGTH.size + size
    if end > len(payload):
        raise ProtocolError(f"the frame's JSON is {size} bytes, but only {len(payload) - _JSON_LENGTH.size} came")
    try:
        text = bytes(payload[_JSON_LENGTH.size:end]).decode()
        fields, parsed = _JSON_DECODER.raw_decode(text)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ProtocolError(f"the frame is not JSON: {type(exc).__name__}") from None
    if parsed != len(text):
        raise ProtocolError("the frame is not JSON: extra data after the object")
    if not isinstance(fields, dict):
        raise ProtocolError(f"a frame is a JSON object, got {type(fields).__name__}")
    return fields, memoryview(payload)[end:]


_PLAIN_ASSIGNMENT = tuple(f.name for f in dataclasses.fields(Assignment) if f.name not in Assignment.OBJECT_FIELDS)


def _assignment_fields(assignment: Assignment) -> dict[str, Any]:
    return {name: getattr(assignment, name) for name in _PLAIN_ASSIGNMENT}


def _pickle_objects(assignment: Assignment) -> bytes:
    import cloudpickle

    return cloudpickle.dumps({name: getattr(assignment, name) for name in Assignment.OBJECT_FIELDS})


def _decode_assign(fields: dict[str, Any], attachment: memoryview) -> Assign:
    """Only a trial decodes this (it trusts its driver): the attachment is unpickled."""
    import cloudpickle

    objects_size, trainable_size = fields.pop("objects_size", None), fields.pop("trainable_size", None)
    if not isinstance(objects_size, int) or not isinstance(trainable_size, (int, type(None))):
        raise ProtocolError("an assign frame gives the sizes of its attachment's parts")
    if objects_size + (trainable_size or 0) != len(attachment):
        raise ProtocolError(f"the assignment's attachment is {len(attachment)} bytes, "
                            f"expected {objects_size} + {trainable_size or 0}")
    objects = cloudpickle.loads(attachment[:objects_size])
    if fields.get("log_to_file") is not None:
        fields["log_to_file"] = tuple(fields["log_to_file"])
    try:
        assignment = Assignment(**fields, **objects)
    except TypeError as exc:
        raise ProtocolError(f"the assignment does not fit this version's schema: {exc}") from None
    trainable = None if trainable_size is None else bytes(attachment[objects_size:])
    return Assign(assignment, trainable)


# -- tickets -----------------------------------------------------------------------------------------------
def attempt_ticket(secret: str, trial_id: str, attempt: int) -> str:
    """The one-time proof that ``(trial_id, attempt)`` was launched by the driver holding ``secret``.

    Cluster executors send the ticket with the attempt instead of the secret, so whoever
    reads a task's arguments on the cluster learns only a ticket for one attempt, spent
    when that attempt's process says HELLO.

    Example:
        >>> attempt_ticket("s3cret", "t1", 0) == attempt_ticket("s3cret", "t1", 0) != attempt_ticket("s3cret", "t1", 1)
        True
    """
    message = f"{trial_id}\x00{attempt}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


# -- result values ---------------------------------------------------------------------------------------
def encode_result(result: dict[str, Any], warned: set[str] | None = None) -> dict[str, Any]:
    """``result`` as JSON-able data; a value that is not data becomes its ``repr``.

    Each key whose value had to be turned into a ``repr`` is warned about once per
    ``warned`` set (the trial keeps one for its whole life).
    """
    return {key if type(key) is str else str(key):
            value if type(value) in _PLAIN else encode_value(value, str(key), warned)
            for key, value in result.items()}


def encode_value(value: Any, key: str = "value", warned: set[str] | None = None) -> Any:
    """One value as JSON-able data (see the module's docstring for the tags)."""
    if type(value) in _PLAIN:
        return value
    array = _numpy_array(value)
    if array is not None:
        return {_TAG: "ndarray", "dtype": array.dtype.str, "shape": list(array.shape),
                "scalar": not isinstance(value, _ndarray_type()), "v": base64.b64encode(array.tobytes()).decode()}
    if isinstance(value, (bool, int, float, str)):
        return _plain_scalar(value)
    if isinstance(value, list):
        return [encode_value(v, key, warned) for v in value]
    if isinstance(value, tuple):
        return {_TAG: "tuple", "v": [encode_value(v, key, warned) for v in value]}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and _TAG not in value:
            return {k: encode_value(v, f"{key}/{k}", warned) for k, v in value.items()}
        return {_TAG: "dict", "v": [[encode_value(k, key, warned), encode_value(v, f"{key}/{k}", warned)]
                                    for k, v in value.items()]}
    if isinstance(value, (bytes, bytearray)):
        return {_TAG: "bytes", "v": base64.b64encode(value).decode()}
    return _as_repr(value, key, warned)


_PLAIN = frozenset({bool, int, float, str, type(None)})


def _ndarray_type() -> type:
    import numpy as np

    return np.ndarray


def _plain_scalar(value: Any) -> Any:
    """A subclass of a plain type (an ``IntEnum``, numpy's float64): the plain value."""
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


def _numpy_array(value: Any) -> Any:
    if not type(value).__module__.startswith("numpy"):
        return None
    import numpy as np

    if not isinstance(value, (np.ndarray, np.generic)):
        return None
    array = np.asarray(value)
    if array.dtype.hasobject:
        return None
    return array if array.flags.c_contiguous else np.ascontiguousarray(array)


def _as_repr(value: Any, key: str, warned: set[str] | None) -> str:
    text = repr(value)
    if warned is None or key not in warned:
        if warned is not None:
            warned.add(key)
        warnings.warn(f"result key {key!r} holds a {type(value).__name__}, which is not data (numbers, strings, "
                      f"lists, dicts, numpy arrays); the driver gets its repr: {text[:80]}", stacklevel=3)
    return text


def decode_result(result: dict[str, Any]) -> dict[str, Any]:
    """The values of an encoded result.

    Raises:
        ProtocolError: A value cannot be decoded; the message names its key.
    """
    decoded = {}
    for key, value in result.items():
        if type(value) in _PLAIN:
            decoded[key] = value
            continue
        try:
            decoded[key] = decode_value(value)
        except (ProtocolError, ValueError, TypeError, KeyError, RecursionError) as exc:
            raise ProtocolError(f"the driver cannot decode result key {key!r}: {exc}") from None
    return decoded


def decode_value(value: Any) -> Any:
    """The inverse of :func:`encode_value`; raises ``ProtocolError`` on an unknown tag."""
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(_TAG)
    if tag is None:
        return {k: decode_value(v) for k, v in value.items()}
    if tag == "tuple":
        return tuple(decode_value(v) for v in value["v"])
    if tag == "dict":
        return {_hashable(decode_value(k)): decode_value(v) for k, v in value["v"]}
    if tag == "bytes":
        return base64.b64decode(value["v"], validate=True)
    if tag == "ndarray":
        return _decode_array(value)
    raise ProtocolError(f"unknown value tag {str(tag)[:40]!r}")


def _hashable(key: Any) -> Any:
    if isinstance(key, list):
        raise ProtocolError("a dict key cannot be a list")
    return key


def _decode_array(value: dict[str, Any]) -> Any:
    import numpy as np

    dtype = np.dtype(_check(value["dtype"], str, "dtype"))
    if dtype.hasobject:
        raise ProtocolError(f"an array of dtype {dtype} holds objects; only plain dtypes travel")
    shape = tuple(_check(n, int, "shape") for n in _check(value["shape"], list, "shape"))
    data = base64.b64decode(_check(value["v"], str, "v"), validate=True)
    if any(n < 0 for n in shape) or int(np.prod(shape, dtype=np.int64)) * dtype.itemsize != len(data):
        raise ProtocolError(f"an array of shape {shape} and dtype {dtype} does not fit {len(data)} bytes")
    array = np.frombuffer(data, dtype=dtype).reshape(shape).copy()
    return array[()] if value.get("scalar") else array
