"""Runs one trial attempt inside a trial process: the user's code between HELLO and DONE."""

from __future__ import annotations

import inspect
import os
import tempfile
import traceback
from typing import Any

from tunesmith import _protocol
from tunesmith._checkpoint import Checkpoint
from tunesmith.execution._capture import captured_output
from tunesmith.trainable import _session
from tunesmith.trainable._trainable import Trainable

__all__ = ["run_attempt"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _user_traceback(exc: BaseException) -> str:
    """The traceback without tunesmith's own frames above the user's code."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        if tb.tb_next is None:
            break
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _error_frame(exc: BaseException) -> _protocol.Error:
    """The exception as data: its type's name and its args (a driver never unpickles it)."""
    kind = type(exc)
    try:
        args = [_protocol.encode_value(arg, "the exception's args", {"the exception's args"}) for arg in exc.args]
    except Exception:
        args = [str(exc)]
    return _protocol.Error(module=kind.__module__, qualname=kind.__qualname__, args=args,
                           traceback=_user_traceback(exc), summary=f"{kind.__name__}: {exc}")


def _as_metrics(value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"_metric": value}
    raise ValueError(
        f"{where} must be a dict of metrics or a number (reported as '_metric'), got {type(value).__name__}"
    )


def _run_function(fn: Any, config: dict[str, Any]) -> None:
    output = fn(config)
    if inspect.isgenerator(output):
        for item in output:
            _session.report(_as_metrics(item, "a value yielded by the trainable"))
    elif output is not None:
        # The last result: the trial ends whatever the answer, so it does not wait for one.
        _session.report_final(_as_metrics(output, "the trainable's return value"))


def _save_class_checkpoint(trainable: Trainable) -> Checkpoint:
    folder = tempfile.mkdtemp(prefix="tunesmith_ckpt_")
    trainable.save(folder)
    return Checkpoint.from_directory(folder)


def _instance(cls: type[Trainable], config: dict[str, Any], assignment: _protocol.Assignment,
              kept: dict) -> Trainable:
    """A new instance, or with ``reuse_actors`` the one a finished trial left, reset to ``config``."""
    cached = kept.pop(assignment.trainable_key, None) if assignment.reuse_actors else None
    if cached is None:
        return cls(config)
    if not cached.reset(config):
        cached.stop()
        raise TypeError(
            f"reuse_actors=True needs {cls.__name__}.reset_config(new_config) to apply the new config "
            "and return True; implement it, or set TuneConfig(reuse_actors=False)"
        )
    return cached


def _run_class(cls: type[Trainable], config: dict[str, Any], assignment: _protocol.Assignment, kept: dict) -> None:
    frequency = assignment.checkpoint_frequency
    at_end = assignment.checkpoint_at_end
    trainable = _instance(cls, config, assignment, kept)
    session = _session._session
    finished = False
    try:
        if session.checkpoint is not None:
            trainable.restore(session.checkpoint)
            trainable._iteration = session.iteration
        while True:
            result = trainable.train()
            result.pop("training_iteration", None)
            done = bool(result.get("done", False))
            wanted = bool(result.pop("should_checkpoint", False))
            due = frequency and (session.iteration + 1) % frequency == 0
            checkpoint = None
            if wanted or due or (done and at_end):
                checkpoint = _save_class_checkpoint(trainable)
            try:
                _session.report(result, checkpoint=checkpoint)
            except _session.TrialInterrupt as interrupt:
                if interrupt.decision == "STOP" and at_end and checkpoint is None:
                    session.send_checkpoint(session.persist_checkpoint(_save_class_checkpoint(trainable)))
                elif interrupt.decision == "PAUSE" and checkpoint is None:
                    session.send_checkpoint(session.persist_checkpoint(_save_class_checkpoint(trainable)))
                raise
            if session.save_requested and checkpoint is None:  # a callback asked for one
                session.send_checkpoint(session.persist_checkpoint(_save_class_checkpoint(trainable)))
            if done:
                finished = True
                return
    finally:
        if finished and assignment.reuse_actors:
            kept[assignment.trainable_key] = trainable
        else:
            trainable.stop()


def run_attempt(channel: Any, assignment: _protocol.Assignment, trainable: Any, kept: dict | None = None) -> None:
    """Run the attempt described by ``assignment``; always ends with a DONE or ERROR frame.

    ``channel`` sends and receives frames (:class:`tunesmith.execution._wire.Channel`);
    ``kept`` holds class-trainable instances left for reuse (``reuse_actors``).
    """
    session = _session._Session(channel, assignment)
    _session._set_session(session)
    original_cwd = os.getcwd()
    local_dir = assignment.local_dir
    if assignment.chdir and local_dir and os.path.isdir(local_dir):
        os.chdir(local_dir)
        os.environ["TUNE_ORIG_WORKING_DIR"] = original_cwd
    message: Any = _protocol.Error("builtins", "RuntimeError", [], "", "the attempt did not finish")
    try:
        with captured_output(assignment.log_to_file, assignment.local_dir or assignment.trial_dir):
            if inspect.isclass(trainable):
                _run_class(trainable, assignment.config, assignment, {} if kept is None else kept)
            else:
                _run_function(trainable, assignment.config)
        message = _protocol.Done(_protocol.DoneReason.FINISHED)
    except _session.TrialInterrupt as interrupt:
        message = _protocol.Done(_protocol.DoneReason(interrupt.decision.lower()))
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        message = _error_frame(exc)
    finally:
        held = session.take_held()
        if held and _session.has_attempt_end_hooks():  # the driver hears of the result before they run
            channel.send_frames(held)
            held = []
        _session.run_attempt_end_hooks(failed=isinstance(message, _protocol.Error))  # in the trial's folder still
        _session._set_session(None)
        os.chdir(original_cwd)
    channel.send_frames([*held, message])  # a function's return value and DONE: one write
