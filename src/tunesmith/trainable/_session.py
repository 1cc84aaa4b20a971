"""The trial's side of the run: ``report``, ``get_checkpoint`` and ``get_context``.

Inside a trial process one ``_Session`` is active. ``report`` sends the result to the
driver (a RESULT frame of :mod:`tunesmith._protocol`, through the channel the trial
process gave the session) and, when the driver decides on results (``Assignment.decisions``),
blocks until the driver's decision comes back; STOP and PAUSE unwind the user's code with a
``BaseException`` that ``except Exception:`` does not catch. When nothing decides on results
(FIFO, no stopper), ``report`` returns as soon as the result is written to the connection.
"""

from __future__ import annotations

import datetime
import logging
import math
import os
import shutil
import socket
import time
import warnings
from typing import Any, Callable

from tunesmith import _protocol
from tunesmith._checkpoint import Checkpoint

__all__ = ["TuneContext", "get_checkpoint", "get_context", "report"]

_HOSTNAME = socket.gethostname()
try:
    _NODE_IP = socket.gethostbyname(_HOSTNAME)
except OSError:
    _NODE_IP = "127.0.0.1"


class TrialInterrupt(BaseException):
    """Raised inside ``report`` when the driver decided to stop or pause the trial."""

    def __init__(self, decision: str) -> None:
        super().__init__(decision)
        self.decision = decision


class _Session:
    """State of the attempt running in this process."""

    def __init__(self, channel: Any, assignment: _protocol.Assignment) -> None:
        self.channel = channel  # has send(frame) and recv() -> frame
        self.trial_id: str = assignment.trial_id
        self.trial_name: str = assignment.trial_name
        self.trial_dir: str = assignment.trial_dir
        self.filesystem: Any = assignment.storage_filesystem
        self.experiment_name: str = assignment.experiment_name
        self.resources: dict[str, float] = assignment.resources
        restore = assignment.restore_checkpoint
        self.checkpoint: Checkpoint | None = Checkpoint(restore, filesystem=self.filesystem) if restore else None
        self.iteration: int = assignment.iteration
        self.time_total: float = assignment.time_total_s
        self.checkpoint_index: int = assignment.checkpoint_index
        self.attempt: int = assignment.attempt
        self.decisions: bool = assignment.decisions
        self.held: list[Any] = []  # the final result, sent with the attempt's last frame
        self.seq = 0
        self.save_requested = False
        self.iterations_since_restore = 0
        self.restore_time = time.time()
        self.last_report_time = self.restore_time

    def auto_fill(self, metrics: dict[str, Any], now: float, checkpoint_dir_name: str | None) -> dict[str, Any]:
        """Add Ray Tune's auto-filled fields, in Ray's column order."""
        self.iteration += 1
        self.iterations_since_restore += 1
        time_this_iter = metrics.get("time_this_iter_s", now - self.last_report_time)
        self.last_report_time = now
        self.time_total += time_this_iter
        result = dict(metrics)
        result.update(
            timestamp=int(now),
            checkpoint_dir_name=checkpoint_dir_name,
            done=bool(metrics.get("done", False)),  # a reported done=True is kept, as in Ray
            training_iteration=self.iteration,
            trial_id=self.trial_id,
            date=datetime.datetime.fromtimestamp(now).strftime("%Y-%m-%d_%H-%M-%S"),
            time_this_iter_s=time_this_iter,
            time_total_s=self.time_total,
            pid=os.getpid(),
            hostname=_HOSTNAME,
            node_ip=_NODE_IP,
            time_since_restore=now - self.restore_time,
            iterations_since_restore=self.iterations_since_restore,
        )
        return result

    def persist_checkpoint(self, checkpoint: Checkpoint) -> str:
        """Copy ``checkpoint`` into the trial folder as ``checkpoint_NNNNNN``; return that name.

        Locally the files go to a temporary name that is renamed when complete; on an
        object store the checkpoint only counts once the driver has recorded it.

        Raises:
            StorageError: the checkpoint could not be written (e.g. the disk is full).
        """
        name = f"checkpoint_{self.checkpoint_index:06d}"
        self.checkpoint_index += 1
        target = f"{self.trial_dir.rstrip('/')}/{name}"
        try:
            with checkpoint.as_directory() as local:
                if self.filesystem is not None:
                    self.filesystem.put(local.rstrip("/") + "/", target.split("://", 1)[-1], recursive=True)
                elif os.path.abspath(local) != os.path.abspath(target):
                    _copy_atomically(local, target)
        except OSError as exc:
            from tunesmith.error import StorageError

            size = _folder_size(checkpoint.path) if checkpoint._is_local() else 0
            raise StorageError(
                f"could not save checkpoint {name} ({size / 1e6:.1f} MB) to {self.trial_dir}: "
                f"{exc.strerror or exc}. Free space there or save smaller checkpoints"
            ) from exc
        self.checkpoint = Checkpoint(target, filesystem=self.filesystem)
        return name

    def report(self, metrics: dict[str, Any], checkpoint: Checkpoint | None, final: bool = False) -> None:
        now = time.time()
        checkpoint_dir_name = self.persist_checkpoint(checkpoint) if checkpoint is not None else None
        result = self.auto_fill(metrics, now, checkpoint_dir_name)
        if checkpoint is not None:
            result["should_checkpoint"] = True
        self.send_result(result, checkpoint_dir_name, final)

    def send_result(self, result: dict[str, Any], checkpoint_dir_name: str | None, final: bool = False) -> None:
        """Send a result and wait for the driver's decision; a ``final`` one (the trial
        ends right after) is not answered, nor is any when the driver makes no decisions.

        A ``final`` result is held, and goes out with the attempt's DONE in one write
        (:meth:`take_held`): one wake-up of the driver per short trial, not two.
        """
        self.seq += 1
        encoded = _protocol.encode_result(result, _warned_keys)
        frame = _protocol.Result(self.seq, encoded, checkpoint_dir_name, final)
        if final:
            self.held.append(frame)
            return
        self.channel.send(frame)
        if not self.decisions:
            return
        while True:
            message = self.channel.recv()
            if isinstance(message, _protocol.Decision) and message.seq == self.seq:
                break
        self.save_requested = message.save
        if message.decision in ("STOP", "PAUSE"):
            raise TrialInterrupt(message.decision)

    def take_held(self) -> list[Any]:
        """The frames held back to go out with the next one (see :meth:`send_result`)."""
        held, self.held = self.held, []
        return held

    def send_checkpoint(self, name: str) -> None:
        """Tell the driver about checkpoint ``name``, saved outside a result."""
        self.channel.send(_protocol.Checkpoint(name))


def _copy_atomically(source: str, target: str) -> None:
    partial = f"{target}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        shutil.copytree(source, partial)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if os.path.exists(target):
        shutil.rmtree(target)
    os.rename(partial, target)


def _folder_size(folder: str) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


_session: _Session | None = None
_warned_keys: set[str] = set()  # result keys whose values went to the driver as their repr
_attempt_end_hooks: list[Callable[[bool], None]] = []


def at_attempt_end(hook: Callable[[bool], None]) -> None:
    """Call ``hook(failed)`` when the attempt running in this process ends, before the
    driver hears of it. Integrations end their runs here: trial processes outlive trials
    (and experiments), so "at exit" would be too late. Outside a trial, does nothing."""
    if _session is not None:
        _attempt_end_hooks.append(hook)


def has_attempt_end_hooks() -> bool:
    """Whether hooks wait for the end of the attempt (see :func:`at_attempt_end`)."""
    return bool(_attempt_end_hooks)


def run_attempt_end_hooks(failed: bool) -> None:
    """Run and forget the hooks of the attempt that just ended; a failing hook is logged."""
    while _attempt_end_hooks:
        hook = _attempt_end_hooks.pop(0)
        try:
            hook(failed)
        except Exception as exc:  # cleanup must not turn a finished trial into an error
            logging.getLogger("tunesmith").warning("cleanup at the end of a trial failed: %s: %s",
                                                   type(exc).__name__, exc)


def _set_session(session: _Session | None) -> None:
    global _session
    _session = session


def _check_metrics(metrics: Any) -> None:
    if not isinstance(metrics, dict):
        raise TypeError(
            f"tune.report takes a dict of metrics, e.g. tune.report({{'loss': 0.1}}); got {type(metrics).__name__}"
        )
    for key, value in metrics.items():
        if not isinstance(key, str):
            raise TypeError(f"metric names must be strings, got {key!r}")
        if type(value).__module__.startswith("torch") and hasattr(value, "item"):
            raise ValueError(
                f"metric {key!r} is a torch tensor; report a plain number instead, e.g. {key}.item()"
            )


def report_final(metrics: dict[str, Any]) -> None:
    """Report the value a function trainable returned: its last result, not answered."""
    _check_metrics(metrics)
    _session.report(metrics, None, final=True)


def report(metrics: dict[str, Any], *, checkpoint: Checkpoint | None = None) -> None:
    """Report one iteration's metrics (and optionally a checkpoint) to the driver.

    Each call is one ``training_iteration``. A given checkpoint is copied into the trial's
    folder before ``report`` returns. Outside a trial this does nothing and warns once.

    Args:
        metrics: A dict of metric names to values, e.g. ``{"loss": 0.1}``.
        checkpoint: A :class:`tunesmith.Checkpoint` to persist with this result.

    Example:
        >>> from tunesmith import report
        >>> def trainable(config):
        ...     for step in range(3):
        ...         report({"loss": 1.0 / (step + 1)})
    """
    _check_metrics(metrics)
    if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
        raise TypeError(
            "checkpoint must be a tunesmith.Checkpoint, e.g. Checkpoint.from_directory(folder); "
            f"got {type(checkpoint).__name__}"
        )
    if _session is None:
        # The warnings module shows it once per calling line by default.
        warnings.warn("tune.report() was called outside a trial; the metrics are not recorded", stacklevel=2)
        return
    _session.report(metrics, checkpoint)


def get_checkpoint() -> Checkpoint | None:
    """The checkpoint to resume from (after a retry, a restore or a pause), else None."""
    return _session.checkpoint if _session is not None else None


class TuneContext:
    """Facts about the running trial. Outside a trial every getter returns None."""

    def get_trial_id(self) -> str | None:
        return _session.trial_id if _session else None

    def get_trial_name(self) -> str | None:
        return _session.trial_name if _session else None

    def get_trial_dir(self) -> str | None:
        """The trial's folder in storage (where ``params.json`` and checkpoints live)."""
        return _session.trial_dir if _session else None

    def get_experiment_name(self) -> str | None:
        return _session.experiment_name if _session else None

    def get_trial_resources(self) -> Any:
        """The trial's resources as a ``PlacementGroupFactory``."""
        if _session is None:
            return None
        from tunesmith.trainable._resources import PlacementGroupFactory

        bundle = {k.upper() if k in ("cpu", "gpu") else k: v for k, v in _session.resources.items() if v}
        return PlacementGroupFactory([bundle])

    def get_attempt(self) -> int | None:
        """0 for the first attempt, then 1, 2, ... after retries, pauses and restores."""
        return _session.attempt if _session else None


_CONTEXT = TuneContext()


def get_context() -> TuneContext:
    """The :class:`TuneContext` of the running trial."""
    return _CONTEXT


def is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
