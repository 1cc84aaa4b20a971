"""What an attempt sends its driver, write by write (``run_attempt`` over a real socket)."""

import socket

import pytest

from tunesmith import _protocol
from tunesmith.execution import _wire
from tunesmith.execution._runner import run_attempt
from tunesmith.trainable import _session


def _writes(function, hook_log=None):
    """Run ``function`` as an attempt; each write it made to the driver, as its decoded frames.

    A SEQPACKET socket keeps each write a record of its own, so the writes can be counted.
    With ``hook_log``, an attempt-end hook notes there whether the driver could read a write then.
    """
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    assignment = _protocol.Assignment(trial_id="t_00000", trial_name="t_00000", trial_dir="/nowhere",
                                      experiment_name="exp", resources={"CPU": 1}, attempt=1, trainable_key="k",
                                      config={"a": 2}, decisions=False)
    def hook(failed):
        try:
            hook_log.append(len(theirs.recv(1 << 16, socket.MSG_PEEK | socket.MSG_DONTWAIT)) > 0)
        except BlockingIOError:
            hook_log.append(False)

    def trainable(config):
        if hook_log is not None:
            _session.at_attempt_end(hook)
        return function(config)

    try:
        run_attempt(_wire.Channel(ours), assignment, trainable)
        ours.close()
        writes = []
        while record := theirs.recv(1 << 16):
            writes.append([_protocol.decode(p, _protocol.TRIAL_FRAMES) for p in _wire.FrameBuffer().feed(record)])
        return writes
    finally:
        theirs.close()


def _kinds(writes):
    return [[type(frame).__name__ for frame in frames] for frames in writes]


def test_a_functions_return_value_and_its_done_go_out_in_one_write():
    writes = _writes(lambda config: {"x": config["a"]})
    assert _kinds(writes) == [["Result", "Done"]]
    result, done = writes[0]
    assert result.final and done.reason is _protocol.DoneReason.FINISHED


@pytest.mark.parametrize(("function", "expected"), [
    (lambda config: None, [["Done"]]),  # nothing returned: nothing held
    (lambda config: 1 / 0, [["Error"]]),
])
def test_an_attempt_without_a_return_value_sends_only_its_end(function, expected):
    assert _kinds(_writes(function)) == expected


def test_with_attempt_end_hooks_the_result_goes_out_before_they_run():
    """A hook may take long (an integration uploading its run): the driver has the result first."""
    hook_log = []
    writes = _writes(lambda config: {"x": 1}, hook_log)
    assert hook_log == [True]  # the result was there to read when the hook ran
    assert _kinds(writes) == [["Result"], ["Done"]]
