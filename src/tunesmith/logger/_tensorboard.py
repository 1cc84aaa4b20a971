"""``TBXLoggerCallback``: each trial's results as TensorBoard event files, via tensorboardX.

The callback sorts values on the controller thread; a background thread writes the
files, so a slow disk never holds up the controller loop.

tensorboardX imports torch whenever torch is installed, only to name its tensor type in
annotations; that import takes seconds and would be paid by every experiment, since this
logger is on by default. When nothing has imported torch yet, it is hidden while
tensorboardX is imported (on the main thread, before any trial runs); tensorboardX still
converts torch tensors later, importing torch then.
"""

from __future__ import annotations

import atexit
import glob
import importlib.util
import logging
import numbers
import os
import queue
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from tunesmith._flatten import flatten_dict
from tunesmith._imports import install_hint, try_import
from tunesmith.logger._logger import LoggerCallback

if TYPE_CHECKING:
    from tunesmith.experiment import Trial

__all__ = ["TBXLoggerCallback", "result_step", "tensorboardx_available"]

logger = logging.getLogger("tunesmith")

# Keys Ray Tune leaves out of TensorBoard.
_SKIPPED_KEYS = frozenset(("config", "pid", "timestamp", "time_total_s", "training_iteration"))
# Auto-filled text fields: not plottable, and not worth a warning.
_QUIET_KEYS = frozenset(("date", "hostname", "node_ip", "trial_id", "experiment_tag", "checkpoint_dir_name"))
_TAG_PREFIX = "ray/tune/"
_FLUSH_PERIOD_S = 5.0
_JOIN_TIMEOUT_S = 120.0
_VIDEO_FPS = 20
_logged_missing = False


def tensorboardx_available() -> bool:
    """Whether tensorboardX can be imported; says so once (INFO) when it cannot."""
    global _logged_missing
    if importlib.util.find_spec("tensorboardX") is not None:
        return True
    if not _logged_missing:
        _logged_missing = True
        logger.info("TensorBoard logging is off: %s", install_hint("tensorboard", "tensorboardX"))
    return False


def _import_tensorboardx() -> Any:
    """tensorboardX, imported without pulling in torch when torch is not loaded yet (see above)."""
    if "tensorboardX" in sys.modules or "torch" in sys.modules:
        return try_import("tensorboardX", extra="tensorboard", needed_by="TBXLoggerCallback")
    sys.modules["torch"] = None  # type: ignore[assignment]  # makes tensorboardX's "import torch" fail fast
    try:
        return try_import("tensorboardX", extra="tensorboard", needed_by="TBXLoggerCallback")
    finally:
        if "torch" in sys.modules and sys.modules["torch"] is None:
            del sys.modules["torch"]


def _value_kind(value: Any) -> str | None:
    """``"scalar"``, ``"histogram"``, ``"image"``, ``"images"``, ``"video"``, None (skip), or ``"invalid"``."""
    if value is None:
        return None
    if isinstance(value, numbers.Real):
        return "scalar"
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "dtype"):
        if tuple(shape) == ():
            return "scalar"
        if 0 in tuple(shape):
            return None
        return {3: "image", 4: "images", 5: "video"}.get(len(shape), "histogram")
    if isinstance(value, (list, tuple)):
        return "histogram" if value else None
    if isinstance(value, dict) and not value:
        return None
    return "invalid"


def result_step(result: dict) -> int:
    """Ray Tune's step: ``timesteps_total`` if reported, else ``training_iteration`` (0 if neither is a number)."""
    for key in ("timesteps_total", "training_iteration"):
        try:
            step = int(result.get(key) or 0)
        except (TypeError, ValueError, OverflowError):
            continue
        if step:
            return step
    return 0


def _hparam(value: Any) -> Any:
    """A value TensorBoard's hparams plugin accepts: number, bool, str or None."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        return value.item()
    return str(value)


class TBXLoggerCallback(LoggerCallback):
    """Writes each trial's results to TensorBoard event files in the trial folder.

    Numbers go out as scalars named ``ray/tune/<key>`` (nested keys flattened with ``/``),
    with the step ``timesteps_total`` if reported, else ``training_iteration``. 3-, 4- and
    5-dimensional arrays go out as an image, a batch of images and a video; other arrays
    and lists as histograms. ``config``, ``pid``, ``timestamp``, ``time_total_s`` and
    ``training_iteration`` are left out, as in Ray Tune. When the trial ends its
    hyperparameters and last metrics are written for TensorBoard's HParams view. Each
    start or restart of a trial begins a new events file.

    A value TensorBoard cannot take (a string, an object) is skipped with one warning per
    key; NaN and infinity are written as they are. Added to every experiment when
    tensorboardX is installed (``pip install "tunesmith[tensorboard]"``), unless
    ``TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1``.

    Raises:
        ImportError: tensorboardX is not installed.

    Example:
        >>> from tunesmith.logger import TBXLoggerCallback
        >>> callbacks = [TBXLoggerCallback()]  # doctest: +SKIP
    """

    def __init__(self) -> None:
        if importlib.util.find_spec("tensorboardX") is None:
            raise ImportError(f"TBXLoggerCallback needs tensorboardX: {install_hint('tensorboard', 'tensorboardX')}")
        self._writer: _EventWriter | None = None
        self._broken = False
        self._open: set[str] = set()
        self._last_scalars: dict[str, dict[str, float]] = {}
        self._warned: set[str] = set()

    # -- LoggerCallback hooks ----------------------------------------------------------------
    def setup(self, *args: Any, **info: Any) -> None:
        self._start_writer()

    def log_trial_start(self, trial: Trial) -> None:
        self._send("open", trial.trial_id, trial.path)
        self._open.add(trial.trial_id)
        self._last_scalars[trial.trial_id] = {}

    def log_trial_result(self, iteration: int, trial: Trial, result: dict) -> None:
        if trial.trial_id not in self._open:
            self.log_trial_start(trial)
        step = result_step(result)
        values = self._sorted_values(result)
        self._last_scalars[trial.trial_id].update({tag: v for tag, kind, v in values if kind == "scalar"})
        self._send("values", trial.trial_id, step, time.time(), values)

    def log_trial_end(self, trial: Trial, failed: bool = False) -> None:
        if trial.trial_id not in self._open:
            return
        params = {k: _hparam(v) for k, v in flatten_dict(trial.evaluated_params or {}).items()}
        self._send("hparams", trial.trial_id, params, self._last_scalars.pop(trial.trial_id, {}))
        self._send("close", trial.trial_id)
        self._open.discard(trial.trial_id)

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        if self._writer is not None:
            self._writer.finish()
            self._writer = None
        self._open.clear()

    # -- helpers -------------------------------------------------------------------------------
    def _sorted_values(self, result: dict) -> list[tuple[str, str, Any]]:
        flat = flatten_dict({k: v for k, v in result.items() if k not in _SKIPPED_KEYS})
        values = []
        for key, value in flat.items():
            kind = _value_kind(value)
            if kind == "scalar":
                try:
                    value = float(value)
                except (TypeError, ValueError, OverflowError):
                    kind = "invalid"
            if kind == "invalid":
                if key not in _QUIET_KEYS:
                    self._warn_once(key, f"a {type(value).__name__}")
                continue
            if kind is not None:
                values.append((_TAG_PREFIX + key, kind, value))
        return values

    def _warn_once(self, key: str, what: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning("TBXLoggerCallback: result key %r is %s, which TensorBoard cannot plot; "
                           "it is left out of the event files (warned once per key)", key, what)

    def _send(self, *op: Any) -> None:
        if self._start_writer():
            self._writer.put(op)

    def _start_writer(self) -> bool:
        if self._writer is None and not self._broken:
            try:
                self._writer = _EventWriter(_import_tensorboardx())
            except ImportError as exc:
                self._broken = True
                logger.warning("TensorBoard logging is off: %s", exc)
        return self._writer is not None


class _EventFile:
    """One ``events.out.tfevents.<time>.<host>`` file; a restart gets a numbered suffix."""

    def __init__(self, tbx: Any, logdir: str) -> None:
        from tensorboardX.proto import event_pb2

        os.makedirs(logdir, exist_ok=True)
        earlier = len(glob.glob(os.path.join(glob.escape(logdir), "events.out.tfevents.*")))
        suffix = f".{earlier}" if earlier else ""
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}{suffix}"
        self.path = os.path.join(logdir, name)
        self._event_pb2 = event_pb2
        self._records = tbx.RecordWriter(self.path)
        self._records.write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString())
        self._dirty = True
        self._flushed_at = time.monotonic()

    def add(self, summary: Any, step: int, wall_time: float) -> None:
        event = self._event_pb2.Event(wall_time=wall_time, step=step, summary=summary)
        self._records.write(event.SerializeToString())
        self._dirty = True
        if time.monotonic() - self._flushed_at > _FLUSH_PERIOD_S:
            self.flush()

    def flush(self) -> None:
        if self._dirty:
            self._records.flush()
            self._dirty = False
        self._flushed_at = time.monotonic()

    def close(self) -> None:
        self._records.close()


class _EventWriter:
    """A daemon thread that writes the queued operations with tensorboardX."""

    def __init__(self, tbx: Any) -> None:
        from tensorboardX.proto import summary_pb2

        self._queue: queue.Queue = queue.Queue()
        self._files: dict[str, _EventFile] = {}
        self._warned: set[str] = set()
        self._tbx = tbx
        self._summary_pb2 = summary_pb2
        self._thread = threading.Thread(target=self._run, name="tunesmith-tensorboard", daemon=True)
        self._thread.start()
        atexit.register(self.finish)

    def put(self, op: tuple) -> None:
        self._queue.put(op)

    def finish(self) -> None:
        """Write what is queued, close every file and stop the thread."""
        atexit.unregister(self.finish)
        if not self._thread.is_alive():
            return
        self._queue.put(("stop",))
        self._thread.join(_JOIN_TIMEOUT_S)
        if self._thread.is_alive():
            logger.warning("TBXLoggerCallback: event files were still being written after %.0f s; "
                           "some TensorBoard data may be missing", _JOIN_TIMEOUT_S)

    def _run(self) -> None:
        while True:
            try:
                op = self._queue.get(timeout=_FLUSH_PERIOD_S)
            except queue.Empty:
                self._flush_all()
                continue
            if op[0] == "stop":
                self._close_all()
                return
            self._apply(op)

    def _apply(self, op: tuple) -> None:
        try:
            getattr(self, f"_op_{op[0]}")(*op[1:])
        except Exception as exc:  # a logger must never stop the experiment
            self._warn_once(f"{op[0]}:{type(exc).__name__}",
                            f"TBXLoggerCallback could not write ({op[0]}): {type(exc).__name__}: {exc}")

    def _op_open(self, trial_id: str, logdir: str) -> None:
        self._op_close(trial_id)
        self._files[trial_id] = _EventFile(self._tbx, logdir)

    def _op_values(self, trial_id: str, step: int, wall_time: float, values: list) -> None:
        file = self._files.get(trial_id)
        if file is None:
            return
        for tag, kind, value in values:
            try:
                summary = self._summary(tag, kind, value)
            except Exception as exc:
                key = tag[len(_TAG_PREFIX):]
                self._warn_once(key, f"TBXLoggerCallback: result key {key!r} could not be written as a {kind} "
                                     f"({type(exc).__name__}: {exc}); it is left out (warned once per key)")
                continue
            file.add(summary, step, wall_time)

    def _summary(self, tag: str, kind: str, value: Any) -> Any:
        import numpy as np

        summary = self._tbx.summary
        if kind == "scalar":  # built directly: tensorboardX's scalar() logs a line for every NaN
            return self._summary_pb2.Summary(value=[self._summary_pb2.Summary.Value(tag=tag, simple_value=value)])
        array = np.asarray(value)
        if kind == "image":
            return summary.image(tag, array, dataformats="CHW")
        if kind == "images":
            return summary.image(tag, array, dataformats="NCHW")
        if kind == "video":
            return summary.video(tag, array, fps=_VIDEO_FPS)
        return summary.histogram(tag, array.astype(float), bins="auto")

    def _op_hparams(self, trial_id: str, params: dict, metrics: dict) -> None:
        file = self._files.get(trial_id)
        if file is None:
            return
        for summary in self._tbx.summary.hparams(hparam_dict=params, metric_dict=metrics):
            file.add(summary, 0, time.time())

    def _op_close(self, trial_id: str) -> None:
        file = self._files.pop(trial_id, None)
        if file is not None:
            file.close()

    def _flush_all(self) -> None:
        for file in self._files.values():
            try:
                file.flush()
            except OSError as exc:
                self._warn_once(f"flush:{file.path}", f"TBXLoggerCallback could not flush {file.path}: {exc}")

    def _close_all(self) -> None:
        for trial_id in list(self._files):
            try:
                self._op_close(trial_id)
            except OSError as exc:
                self._warn_once(f"close:{trial_id}", f"TBXLoggerCallback could not close an event file: {exc}")

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message)
