"""Runs one trial attempt inside a trial process: the user's code between HELLO and DONE."""

from __future__ import annotations

import inspect
import os
import tempfile
import traceback
from typing import Any

import cloudpickle

from tunesmith._checkpoint import Checkpoint
from tunesmith.execution import _wire
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


def _pickled_error(exc: BaseException) -> bytes | None:
    try:
        data = cloudpickle.dumps(exc)
        cloudpickle.loads(data)
        return data
    except Exception:
        return None


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


def _instance(cls: type[Trainable], config: dict[str, Any], assignment: dict[str, Any], kept: dict) -> Trainable:
    """A new instance, or with ``reuse_actors`` the one a finished trial left, reset to ``config``."""
    cached = kept.pop(assignment["trainable_key"], None) if assignment.get("reuse_actors") else None
    if cached is None:
        return cls(config)
    if not cached.reset(config):
        cached.stop()
        raise TypeError(
            f"reuse_actors=True needs {cls.__name__}.reset_config(new_config) to apply the new config "
            "and return True; implement it, or set TuneConfig(reuse_actors=False)"
        )
    return cached


def _run_class(cls: type[Trainable], config: dict[str, Any], assignment: dict[str, Any], kept: dict) -> None:
    frequency = assignment.get("checkpoint_frequency", 0)
    at_end = assignment.get("checkpoint_at_end", True)
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
                    name = session.persist_checkpoint(_save_class_checkpoint(trainable))
                    _wire.send_frame(session.conn, ("checkpoint", name))
                elif interrupt.decision == "PAUSE" and checkpoint is None:
                    name = session.persist_checkpoint(_save_class_checkpoint(trainable))
                    _wire.send_frame(session.conn, ("checkpoint", name))
                raise
            if session.save_requested and checkpoint is None:  # a callback asked for one
                name = session.persist_checkpoint(_save_class_checkpoint(trainable))
                _wire.send_frame(session.conn, ("checkpoint", name))
            if done:
                finished = True
                return
    finally:
        if finished and assignment.get("reuse_actors"):
            kept[assignment["trainable_key"]] = trainable
        else:
            trainable.stop()


def run_attempt(conn: Any, assignment: dict[str, Any], trainable: Any, kept: dict | None = None) -> None:
    """Run the attempt described by ``assignment``; always ends with a DONE or ERROR frame.

    ``kept`` holds class-trainable instances left for reuse (``reuse_actors``).
    """
    session = _session._Session(conn, assignment)
    _session._set_session(session)
    original_cwd = os.getcwd()
    local_dir = assignment.get("local_dir")
    if assignment.get("chdir") and local_dir and os.path.isdir(local_dir):
        os.chdir(local_dir)
        os.environ["TUNE_ORIG_WORKING_DIR"] = original_cwd
    message: tuple = ("error", None, "", "the attempt did not finish")  # replaced below on every path
    try:
        config = assignment["config"]
        with captured_output(assignment.get("log_to_file"), assignment.get("local_dir") or assignment["trial_dir"]):
            if inspect.isclass(trainable):
                _run_class(trainable, config, assignment, {} if kept is None else kept)
            else:
                _run_function(trainable, config)
        message = ("done", "finished")
    except _session.TrialInterrupt as interrupt:
        message = ("done", interrupt.decision.lower())
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        message = ("error", _pickled_error(exc), _user_traceback(exc), f"{type(exc).__name__}: {exc}")
    finally:
        _session.run_attempt_end_hooks(failed=message[0] == "error")  # in the trial's folder still
        _session._set_session(None)
        os.chdir(original_cwd)
    _wire.send_frame(conn, message)
