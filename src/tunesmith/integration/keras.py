"""Keras callbacks that report to Tune and checkpoint the model (``ray.tune.integration.keras``).

Pass :class:`TuneReportCheckpointCallback` to ``model.fit(..., callbacks=[...])``. By
default every epoch becomes one ``training_iteration`` with the epoch's logs (``loss``,
``val_loss``, ...) as metrics and the model saved as ``model.keras`` in a checkpoint. When
a scheduler or stopper stops the trial, ``tunesmith.report`` raises inside the callback and
``fit`` ends at that epoch. Load a checkpoint with::

    with result.checkpoint.as_directory() as folder:
        model = keras.models.load_model(os.path.join(folder, "model.keras"))

Works with Keras 3 on any backend (TensorFlow, JAX or PyTorch: set ``KERAS_BACKEND``
before Keras is first imported) and with ``tf.keras`` 2.12 and later. Importing this
module imports Keras; without it the import fails with ``pip install "tunesmith[keras]"``.

Difference from Ray Tune: ``TuneReportCallback`` raises a ``DeprecationWarning`` in Ray
Tune; here it keeps working (it reports and never checkpoints) and warns with a
``FutureWarning``.

Example:
    >>> import os
    >>> os.environ.setdefault("KERAS_BACKEND", "torch")  # doctest: +SKIP
    >>> from tunesmith.integration.keras import TuneReportCheckpointCallback
    >>> callback = TuneReportCheckpointCallback(metrics={"loss": "val_loss"})
"""

from __future__ import annotations

import os
import warnings
from types import ModuleType
from typing import Any

from tunesmith._imports import install_hint, try_import
from tunesmith.integration._report import (
    HooksArg,
    MetricsArg,
    check_hooks,
    normalize_metrics,
    pick_metrics,
    report,
    temporary_checkpoint,
)

__all__ = ["TuneReportCallback", "TuneReportCheckpointCallback"]

# Checkpoints hold the whole model in Keras's own format (``model.save``), as in Ray Tune.
MODEL_FILENAME = "model.keras"

HOOKS = (
    "epoch_begin", "epoch_end",
    "train_batch_begin", "train_batch_end",
    "test_batch_begin", "test_batch_end",
    "predict_batch_begin", "predict_batch_end",
    "train_begin", "train_end",
    "test_begin", "test_end",
    "predict_begin", "predict_end",
)


def _import_keras() -> ModuleType:
    """Import Keras, telling a missing Keras apart from a missing Keras backend."""
    needed_by = "tunesmith.integration.keras"
    try:
        return try_import("keras", extra="keras", needed_by=needed_by)
    except ImportError as exc:
        missing = getattr(exc.__cause__, "name", None) or ""
        if missing and missing.split(".")[0] != "keras":
            raise ImportError(
                f"{needed_by} imports keras, whose backend {missing!r} cannot be imported: install it, "
                f"or choose an installed backend with KERAS_BACKEND=torch (or jax) before keras is "
                f"first imported; keras itself comes with {install_hint('keras', 'keras')}"
            ) from exc.__cause__
        raise


keras = _import_keras()


def _hooks(value: HooksArg, *, argument: str) -> list[str]:
    """Validate a ``checkpoint_on``/``report_metrics_on``/``on`` argument; return a list."""
    return check_hooks(value, HOOKS, argument=argument, allow_empty=True)


class TuneReportCheckpointCallback(keras.callbacks.Callback):
    """Report Keras logs to Tune and save the model as a checkpoint.

    Args:
        checkpoint_on: The hook(s) at which to report *with* a checkpoint of the model
            (``model.keras``): ``"epoch_end"`` or any of ``HOOKS``, or a list; ``[]`` for
            no checkpoints.
        report_metrics_on: The hook(s) at which to report metrics without a checkpoint.
            A hook in both lists reports once, with the checkpoint.
        metrics: Which logs to report: None for all, a name such as ``"val_loss"``, a
            list of names, or ``{reported_name: keras_name}``.

    Raises:
        ValueError: A hook name is not one of ``HOOKS``.
        TypeError: ``metrics`` has an unaccepted shape.
    """

    def __init__(
        self,
        checkpoint_on: HooksArg = "epoch_end",
        report_metrics_on: HooksArg = "epoch_end",
        metrics: MetricsArg = None,
    ) -> None:
        super().__init__()
        self._checkpoint_on = _hooks(checkpoint_on, argument="checkpoint_on")
        self._report_on = _hooks(report_metrics_on, argument="report_metrics_on")
        self._metrics = normalize_metrics(metrics, owner=type(self).__name__)

    def _handle(self, hook: str, logs: dict[str, Any] | None) -> None:
        save = hook in self._checkpoint_on
        if not save and hook not in self._report_on:
            return
        metrics = pick_metrics(logs or {}, self._metrics, where=f"the Keras logs at {hook}")
        if not save:
            report(metrics)
            return
        with temporary_checkpoint() as (folder, checkpoint):
            self.model.save(os.path.join(folder, MODEL_FILENAME))
            report(metrics, checkpoint)

    # Keras calls these hooks by name; each one forwards to ``_handle``.
    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._handle("epoch_begin", logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._handle("epoch_end", logs)

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._handle("train_batch_begin", logs)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._handle("train_batch_end", logs)

    def on_test_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._handle("test_batch_begin", logs)

    def on_test_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._handle("test_batch_end", logs)

    def on_predict_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._handle("predict_batch_begin", logs)

    def on_predict_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._handle("predict_batch_end", logs)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._handle("train_begin", logs)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._handle("train_end", logs)

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._handle("test_begin", logs)

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        self._handle("test_end", logs)

    def on_predict_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._handle("predict_begin", logs)

    def on_predict_end(self, logs: dict[str, Any] | None = None) -> None:
        self._handle("predict_end", logs)


class TuneReportCallback(TuneReportCheckpointCallback):
    """Deprecated: report Keras logs to Tune without checkpoints.

    Use ``TuneReportCheckpointCallback(checkpoint_on=[], report_metrics_on=on, metrics=metrics)``.
    Ray Tune raises when this class is created; tunesmith keeps it working and warns.

    Args:
        metrics: As for :class:`TuneReportCheckpointCallback`.
        on: The hook(s) at which to report.
    """

    def __init__(self, metrics: MetricsArg = None, on: HooksArg = "epoch_end") -> None:
        warnings.warn(
            "tunesmith.integration.keras.TuneReportCallback is deprecated; use "
            "TuneReportCheckpointCallback(checkpoint_on=[], report_metrics_on=on, metrics=metrics)",
            FutureWarning,
            stacklevel=2,
        )
        super().__init__(checkpoint_on=[], report_metrics_on=on, metrics=metrics)
