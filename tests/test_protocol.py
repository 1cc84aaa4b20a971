"""The wire schema without a socket: round trips, versions, malformed frames, result values."""

import json
import struct
import warnings

import numpy as np
import pytest

from tunesmith import _protocol as P

TRIAL_FRAMES = [
    P.Auth("0" * 32),
    P.Hello("t1", 2, {"pid": 7, "cached": ["k"]}, "a" * 32),
    P.Hello("t1", 0, {}),
    P.Result(3, {"loss": 0.5, "nested": {"a": [1, 2]}}, "checkpoint_000001", False),
    P.Result(4, {}, None, True),
    P.Checkpoint("checkpoint_000002"),
    P.Done(P.DoneReason.PAUSE),
    P.Error("builtins", "KeyError", ["x"], "Traceback...", "KeyError: 'x'"),
    P.Heartbeat(),
]
DRIVER_FRAMES = [P.Reject("attempt 2 of trial t1 is not expected"), P.Decision(3, "STOP", True)]


def _payload(fields, attachment=b""):
    text = json.dumps(fields).encode()
    return struct.pack("!I", len(text)) + text + attachment


@pytest.mark.parametrize("frame", TRIAL_FRAMES, ids=lambda f: f.TYPE)
def test_trial_frames_round_trip(frame):
    assert P.decode(P.encode(frame), P.TRIAL_FRAMES) == frame


@pytest.mark.parametrize("frame", DRIVER_FRAMES, ids=lambda f: f.TYPE)
def test_driver_frames_round_trip(frame):
    assert P.decode(P.encode(frame), P.DRIVER_FRAMES) == frame


@pytest.mark.parametrize(("frame", "schema"), [
    (P.Hello, {"trial_id": str, "attempt": int, "info": dict, "ticket": (str, type(None))}),
    (P.Result, {"seq": int, "result": dict, "checkpoint": (str, type(None)), "final": bool}),
    (P.Done, {"reason": str}),  # a string enum travels as its value
    (P.Decision, {"seq": int, "decision": str, "save": bool}),
    (P.Heartbeat, {}),
], ids=lambda f: getattr(f, "TYPE", ""))
def test_a_frames_json_schema_is_its_annotated_fields(frame, schema):
    assert frame.SCHEMA == schema


def test_an_assignment_carries_objects_by_cloudpickle_to_the_trial_only():
    assignment = P.Assignment(trial_id="t", trial_name="t", trial_dir="/d", experiment_name="e", resources={"cpu": 1},
                              attempt=1, trainable_key="k", config={"f": lambda x: x + 1}, log_to_file=("o", None))
    frame = P.decode(P.encode(P.Assign(assignment, b"blob")), P.DRIVER_FRAMES)
    assert frame.trainable == b"blob" and frame.assignment.config["f"](1) == 2
    assert frame.assignment.log_to_file == ("o", None) and frame.assignment.attempt == 1
    with pytest.raises(P.ProtocolError, match="unexpected frame type 'assign'"):
        P.decode(P.encode(P.Assign(assignment, None)), P.TRIAL_FRAMES)  # the driver never unpickles


@pytest.mark.parametrize(("payload", "message"), [
    (b"", "at least 4 bytes"),
    (b"\x00\x00\x00\x10{}", "only 2 came"),
    (_payload({"v": 2, "type": "heartbeat"}), "protocol version 2, this side speaks 1"),
    (_payload({"type": "heartbeat"}), "protocol version None"),
    (_payload({"v": 1, "type": "shell"}), "unexpected frame type 'shell'"),
    (_payload({"v": 1, "type": "decision", "seq": 1, "decision": "STOP", "save": False}), "unexpected frame type"),
    (_payload({"v": 1, "type": "heartbeat"}, b"\x80\x04"), "carries no attachment"),
    (_payload({"v": 1, "type": "checkpoint"}), r"has the fields \['name'\], got \[\]"),
    (_payload({"v": 1, "type": "checkpoint", "name": "c", "x": 1}), "got \\['name', 'x'\\]"),
    (_payload({"v": 1, "type": "result", "seq": "1", "result": {}, "checkpoint": None, "final": False}),
     "field 'seq' must be int, got str"),
    (_payload({"v": 1, "type": "result", "seq": True, "result": {}, "checkpoint": None, "final": False}),
     "field 'seq' must be int, got bool"),
    (_payload({"v": 1, "type": "done", "reason": "exploded"}), "reason must be one of"),
    (_payload([1, 2]), "a frame is a JSON object, got list"),
    (b"\x00\x00\x00\x03\xff\xfe\xfd", "not JSON"),
    (struct.pack("!I", 200_000) + b"[" * 200_000, "not JSON: RecursionError"),
], ids=range(15))
def test_malformed_frames_raise_protocol_error(payload, message):
    with pytest.raises(P.ProtocolError, match=message):
        P.decode(payload, P.TRIAL_FRAMES)


class _Opaque:
    def __repr__(self):
        return "<opaque>"


@pytest.mark.parametrize(("value", "expected"), [
    (1, 1), (2.5, 2.5), ("s", "s"), (None, None), (True, True), ([1, [2]], [1, [2]]),
    ((1, "a"), (1, "a")), ({1: "x", (2, 3): "y"}, {1: "x", (2, 3): "y"}), ({"__t__": 1}, {"__t__": 1}),
    (b"\x00\xff", b"\x00\xff"), (np.float32(1.5), np.float32(1.5)), (np.int64(7), np.int64(7)),
])
def test_result_values_round_trip_as_data(value, expected):
    decoded = P.decode_result(P.encode_result({"k": value}))["k"]
    assert decoded == expected and type(decoded) is type(expected)


def test_arrays_round_trip_with_dtype_and_shape():
    array = np.arange(12, dtype=np.float32).reshape(3, 4).T  # not contiguous
    decoded = P.decode_result(P.encode_result({"a": array}))["a"]
    assert decoded.dtype == np.float32 and decoded.shape == (4, 3) and (decoded == array).all()


def test_a_value_that_is_not_data_becomes_its_repr_with_one_warning_naming_the_key():
    warned: set[str] = set()
    with pytest.warns(UserWarning, match="result key 'model' holds a _Opaque"):
        assert P.encode_result({"model": _Opaque()}, warned) == {"model": "<opaque>"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        P.encode_result({"model": _Opaque()}, warned)  # once per key


@pytest.mark.parametrize(("value", "message"), [
    ({"__t__": "pickle", "v": "gASV"}, "unknown value tag 'pickle'"),
    ({"__t__": "ndarray", "dtype": "O", "shape": [1], "v": "AAAAAAAAAAA="}, "holds objects"),
    ({"__t__": "ndarray", "dtype": "<f8", "shape": [3], "v": "AAAAAAAAAAA="}, "does not fit 8 bytes"),
    ({"__t__": "ndarray", "dtype": "<f8", "shape": [-1], "v": ""}, "does not fit"),
    ({"__t__": "bytes", "v": "***"}, "cannot decode"),
    ({"__t__": "dict", "v": [[[1], 2]]}, "cannot be a list"),
])
def test_undecodable_result_values_name_their_key(value, message):
    with pytest.raises(P.ProtocolError, match=f"result key 'bad'.*{message}|{message}"):
        P.decode_result({"ok": 1, "bad": value})


def test_tickets_are_per_secret_trial_and_attempt():
    ticket = P.attempt_ticket("secret", "t1", 0)
    assert len(ticket) == 32
    assert ticket not in {P.attempt_ticket("other", "t1", 0), P.attempt_ticket("secret", "t1", 1),
                          P.attempt_ticket("secret", "t2", 0)}
