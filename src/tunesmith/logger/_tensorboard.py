"""``TBXLoggerCallback``: each trial's results as TensorBoard event files.

Scalars and hyperparameters are encoded by ``_tfevents`` with the standard library;
tensorboardX is imported only for the first histogram, image or video.

tensorboardX imports torch whenever torch is installed, only to name its tensor type in
annotations; that import takes seconds. When nothing has imported torch yet, it is hidden
while tensorboardX is imported; tensorboardX still converts torch tensors later,
importing torch then.
"""

from __future__ import annotations

import atexit
import logging
import numbers
import sys
import time
from typing import TYPE_CHECKING, Any

from tunesmith._flatten import flatten_dict
from tunesmith._imports import install_hint, try_import
from tunesmith.logger._logger import LoggerCallback
from tunesmith.logger._tfevents import EventFile, hparams_summaries, scalar_values

if TYPE_CHECKING:
    from tunesmith.experiment._trial import Trial

__all__ = ["TBXLoggerCallback", "result_step"]

logger = logging.getLogger("tunesmith")

# Keys Ray Tune leaves out of TensorBoard.
_SKIPPED_KEYS = frozenset(("config", "pid", "timestamp", "time_total_s", "training_iteration"))
# Auto-filled text fields: not plottable, and not worth a warning.
_QUIET_KEYS = frozenset(("date", "hostname", "node_ip", "trial_id", "experiment_tag", "checkpoint_dir_name"))
_TAG_PREFIX = "ray/tune/"
_FLUSH_PERIOD_S = 5.0
_VIDEO_FPS = 20
_warned_missing = False


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


def _warn_missing_tensorboardx(key: str, kind: str) -> None:
    global _warned_missing
    if not _warned_missing:  # once per process, not per experiment
        _warned_missing = True
        logger.warning("TBXLoggerCallback: result key %r is a %s, which needs tensorboardX: %s; "
                       "histograms, images and videos are left out (warned once)",
                       key, kind, install_hint("tensorboard", "tensorboardX"))


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
    start or restart of a trial begins a new events file; a restart (a retry, a restore)
    begins it with a purge marker at the step it resumes from, so TensorBoard drops the
    steps the trial reports again instead of drawing them twice.

    A value TensorBoard cannot take (a string, an object) is skipped with one warning per
    key; NaN and infinity are written as they are. Added to every experiment unless
    ``TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1``. Scalars and hyperparameters need no extra
    library; histograms, images and videos need tensorboardX (``pip install
    "tunesmith[tensorboard]"``), and are skipped with one warning saying so without it.

    Example:
        >>> from tunesmith.logger import TBXLoggerCallback
        >>> callbacks = [TBXLoggerCallback()]  # doctest: +SKIP
    """

    def __init__(self) -> None:
        self._writer: _EventWriter | None = None
        self._open: set[str] = set()
        self._last_scalars: dict[str, dict[str, float]] = {}
        self._warned: set[str] = set()
        self._tbx: Any = None  # tensorboardX once imported; False if it cannot be

    # -- LoggerCallback hooks ----------------------------------------------------------------
    def attach_log_writer(self, log_writer: Any) -> None:
        self._writer = log_writer.proxy("tb")

    def setup(self, *args: Any, **info: Any) -> None:
        self._start_writer()

    def log_trial_start(self, trial: Trial) -> None:
        writer = self._start_writer()
        writer.open(trial.trial_id, trial.path)
        if trial.attempt > 0:  # a restart: it resumes after its checkpoint's step (or from scratch)
            writer.purge(trial.trial_id, result_step(trial.last_result or {}) + 1, time.time())
        self._open.add(trial.trial_id)
        self._last_scalars[trial.trial_id] = {}

    def log_trial_result(self, iteration: int, trial: Trial, result: dict) -> None:
        if trial.trial_id not in self._open:
            self.log_trial_start(trial)
        step = result_step(result)
        values = self._sorted_values(result)
        scalars = [(tag, value) for tag, kind, value in values if kind == "scalar"]
        self._last_scalars[trial.trial_id].update(scalars)
        # Histograms, images and videos are built here, so that the log writer process
        # needs neither tensorboardX nor the library that made the array.
        extra = b"".join(self._tensorboardx_summary(tag, kind, value) for tag, kind, value in values if kind != "scalar")
        self._start_writer().values(trial.trial_id, step, time.time(), scalars, extra)

    def log_trial_end(self, trial: Trial, failed: bool = False) -> None:
        if trial.trial_id not in self._open:
            return
        params = {k: _hparam(v) for k, v in flatten_dict(trial.evaluated_params or {}).items()}
        writer = self._start_writer()
        writer.hparams(trial.trial_id, params, list(self._last_scalars.pop(trial.trial_id, {})), not failed)
        writer.close(trial.trial_id)
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
            if type(value) is float:  # most values: skip the checks below
                values.append((_TAG_PREFIX + key, "scalar", value))
                continue
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
        self._warn(key, f"TBXLoggerCallback: result key {key!r} is {what}, which TensorBoard cannot plot; "
                        "it is left out of the event files (warned once per key)")

    def _warn(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message)

    def _tensorboardx_summary(self, tag: str, kind: str, value: Any) -> bytes:
        """A histogram, image or video as serialized ``Summary.value`` entries (b"" if it cannot be)."""
        key = tag[len(_TAG_PREFIX):]
        if self._tbx is None:
            try:
                self._tbx = _import_tensorboardx()
            except ImportError:
                self._tbx = False  # not looked for again
        if self._tbx is False:
            _warn_missing_tensorboardx(key, kind)
            return b""
        import numpy as np

        try:
            array = np.asarray(value)
            summary = self._tbx.summary
            if kind == "image":
                built = summary.image(tag, array, dataformats="CHW")
            elif kind == "images":
                built = summary.image(tag, array, dataformats="NCHW")
            elif kind == "video":
                built = summary.video(tag, array, fps=_VIDEO_FPS)
            else:
                built = summary.histogram(tag, array.astype(float), bins="auto")
            return built.SerializeToString()  # a Summary is its repeated values: these bytes join ours
        except Exception as exc:
            self._warn(key, f"TBXLoggerCallback: result key {key!r} could not be written as a {kind} "
                            f"({type(exc).__name__}: {exc}); it is left out (warned once per key)")
            return b""

    def _start_writer(self) -> _EventWriter:
        if self._writer is None:
            self._writer = _EventWriter()
        return self._writer


class _EventWriter:
    """The open event files, one per running trial; buffered, and flushed every few seconds
    and when closed. An error is logged once, never raised: a logger must not stop the
    experiment.

    Written on the controller thread, like the JSON and CSV logs: encoding an event costs
    tens of microseconds, less than handing it to a thread that then competes for the GIL.
    """

    def __init__(self) -> None:
        self._files: dict[str, EventFile] = {}
        self._dirty: set[str] = set()
        self._warned: set[str] = set()
        self._flushed_at = time.monotonic()
        atexit.register(self.finish)

    def finish(self) -> None:
        """Close every file (idempotent)."""
        atexit.unregister(self.finish)
        self._close_all()

    def open(self, trial_id: str, logdir: str) -> None:
        """Start a new events file for the trial (closing its previous one)."""
        self._close_file(trial_id)
        try:
            self._files[trial_id] = EventFile(logdir)
        except Exception as exc:
            self._failed("open", exc)

    def values(self, trial_id: str, step: int, wall_time: float, scalars: list, extra: bytes = b"") -> None:
        """One event at ``step``: ``(tag, number)`` scalars, and ``extra`` serialized
        ``Summary.value`` entries (histograms, images, videos)."""
        file = self._files.get(trial_id)
        if file is None:
            return
        try:
            file.add(scalar_values(scalars) + extra, step, wall_time)
        except Exception as exc:
            self._failed("values", exc)
        self._dirty.add(trial_id)
        if time.monotonic() - self._flushed_at > _FLUSH_PERIOD_S:
            self.flush_all()
            self._flushed_at = time.monotonic()

    def purge(self, trial_id: str, step: int, wall_time: float) -> None:
        """Start the trial's file with a purge marker at ``step`` (see ``EventFile.purge``)."""
        file = self._files.get(trial_id)
        if file is None:
            return
        try:
            file.purge(step, wall_time)
        except Exception as exc:
            self._failed("purge", exc)
        self._dirty.add(trial_id)

    def hparams(self, trial_id: str, params: dict, metric_tags: list, success: bool) -> None:
        """The HParams view's three events: experiment, session start and session end."""
        file = self._files.get(trial_id)
        if file is None:
            return
        try:
            experiment, start, end = hparams_summaries(params, metric_tags, success=success)
            file.add(experiment, 0, repeated=True)
            file.add(start, 0)
            file.add(end, 0, repeated=True)
        except Exception as exc:
            self._failed("hparams", exc)

    def close(self, trial_id: str) -> None:
        try:
            self._close_file(trial_id)
        except Exception as exc:
            self._failed("close", exc)

    def _close_file(self, trial_id: str) -> None:
        file = self._files.pop(trial_id, None)
        self._dirty.discard(trial_id)
        if file is not None:
            file.close()

    def _failed(self, what: str, exc: Exception) -> None:
        self._warn_once(f"{what}:{type(exc).__name__}",
                        f"TBXLoggerCallback could not write ({what}): {type(exc).__name__}: {exc}")

    def flush_all(self) -> None:
        """Write what each open file holds."""
        for trial_id in list(self._dirty):
            file = self._files[trial_id]
            try:
                file.flush()
            except OSError as exc:
                self._warn_once(f"flush:{file.path}", f"TBXLoggerCallback could not flush {file.path}: {exc}")
        self._dirty.clear()

    def _close_all(self) -> None:
        for trial_id in list(self._files):
            try:
                self._close_file(trial_id)
            except OSError as exc:
                self._warn_once(f"close:{trial_id}", f"TBXLoggerCallback could not close an event file: {exc}")

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message)
