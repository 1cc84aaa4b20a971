"""PyTorch Lightning callbacks that report to Tune (``ray.tune.integration.pytorch_lightning``).

Pass :class:`TuneReportCheckpointCallback` to ``Trainer(callbacks=[...])``. By default each
validation run (``on="validation_end"``) becomes one ``training_iteration`` whose metrics
are ``trainer.callback_metrics`` (what the module logged with ``self.log``), and the
trainer's state is saved with ``trainer.save_checkpoint`` as the file ``checkpoint`` in a
Tune checkpoint. The sanity-check validation before training is never reported. When a
scheduler or stopper stops the trial, ``tunesmith.report`` raises inside the callback;
Lightning runs its ``on_exception`` hooks and lets the exception through, so ``fit`` ends
there. Load a checkpoint with::

    with result.checkpoint.as_directory() as folder:
        model = MyModule.load_from_checkpoint(os.path.join(folder, "checkpoint"))

Works with the ``lightning`` package (``import lightning.pytorch as pl``) and with the
older ``pytorch_lightning``. When both are installed the callbacks subclass the one the
program already imported, else ``lightning.pytorch``; Lightning calls callback hooks by
name, so either works with either trainer. Without both the import fails with
``pip install "tunesmith[lightning]"``.

Differences from Ray Tune: ``on`` accepts the training-loop hooks (``HOOKS``) but not
``exception``, ``save_checkpoint`` and ``load_checkpoint``, where reporting makes no sense.
``TuneReportCallback`` warns with a ``FutureWarning`` (Ray Tune: a plain warning).

Example:
    >>> from tunesmith.integration.pytorch_lightning import TuneReportCheckpointCallback
    >>> callback = TuneReportCheckpointCallback({"loss": "val_loss"}, on="validation_end")
"""

from __future__ import annotations

import os
import sys
import warnings
from types import ModuleType
from typing import Any, Callable

from tunesmith._imports import try_import
from tunesmith.integration._report import (
    HooksArg,
    MetricsArg,
    check_hooks,
    normalize_metrics,
    pick_metrics,
    report,
    temporary_checkpoint,
)

__all__ = ["TuneCallback", "TuneReportCallback", "TuneReportCheckpointCallback"]

HOOKS = (
    "fit_start", "fit_end",
    "sanity_check_start", "sanity_check_end",
    "train_start", "train_end",
    "validation_start", "validation_end",
    "test_start", "test_end",
    "predict_start", "predict_end",
    "train_epoch_start", "train_epoch_end",
    "validation_epoch_start", "validation_epoch_end",
    "test_epoch_start", "test_epoch_end",
    "predict_epoch_start", "predict_epoch_end",
    "train_batch_start", "train_batch_end",
    "validation_batch_start", "validation_batch_end",
    "test_batch_start", "test_batch_end",
    "predict_batch_start", "predict_batch_end",
    "before_backward", "after_backward",
    "before_optimizer_step", "before_zero_grad",
)


def _import_lightning() -> ModuleType:
    """``lightning.pytorch`` or ``pytorch_lightning``, preferring the one already imported."""
    needed_by = "tunesmith.integration.pytorch_lightning"
    if "pytorch_lightning" in sys.modules and "lightning.pytorch" not in sys.modules:
        return sys.modules["pytorch_lightning"]
    try:
        return try_import("lightning.pytorch", extra="lightning", needed_by=needed_by)
    except ImportError as first:
        try:
            return try_import("pytorch_lightning", extra="lightning", needed_by=needed_by)
        except ImportError:
            raise first from first.__cause__


pl = _import_lightning()


def _hooks(on: HooksArg) -> list[str]:
    """Validate the ``on`` argument; return it as a list."""
    return check_hooks(on, HOOKS, argument="on", allow_empty=False)


def _forward(hook: str) -> Callable[..., None]:
    """The Lightning hook method ``on_<hook>``: it calls ``_handle`` when ``hook`` is selected."""

    def method(self: TuneCallback, trainer: Any, pl_module: Any, *args: Any, **kwargs: Any) -> None:
        if hook in self._on:
            self._handle(trainer, pl_module)

    method.__name__ = method.__qualname__ = f"on_{hook}"
    method.__doc__ = f"Lightning's ``on_{hook}`` hook; acts when ``{hook!r}`` is in ``on``."
    return method


class TuneCallback(pl.Callback):
    """Base class: a Lightning callback that calls ``_handle`` at the hooks named in ``on``.

    Args:
        on: A hook name from ``HOOKS`` (``"validation_end"``, ``"train_epoch_end"``, ...)
            or a list of them.

    Raises:
        ValueError: A name is not one of ``HOOKS``.
    """

    def __init__(self, on: HooksArg = "validation_end") -> None:
        super().__init__()
        self._on = _hooks(on)

    def _handle(self, trainer: Any, pl_module: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _handle(trainer, pl_module)")


for _hook in HOOKS:
    setattr(TuneCallback, f"on_{_hook}", _forward(_hook))


class TuneReportCheckpointCallback(TuneCallback):
    """Report ``trainer.callback_metrics`` to Tune, with a checkpoint of the trainer.

    Args:
        metrics: Which logged metrics to report: None for all, a name such as
            ``"val_loss"``, a list of names, or ``{reported_name: logged_name}``. A name
            that was not logged is skipped with a warning.
        filename: File name of the Lightning checkpoint inside each Tune checkpoint.
        save_checkpoints: False reports metrics only.
        on: The hook(s) at which to report (see :class:`TuneCallback`).

    Raises:
        ValueError: A hook name is unknown or ``filename`` is empty.
        TypeError: ``metrics`` has an unaccepted shape.
    """

    def __init__(
        self,
        metrics: MetricsArg = None,
        filename: str = "checkpoint",
        save_checkpoints: bool = True,
        on: HooksArg = "validation_end",
    ) -> None:
        super().__init__(on=on)
        if not isinstance(filename, str) or not filename:
            raise ValueError(f"{type(self).__name__}(filename=...) must be a non-empty file name; got {filename!r}")
        self._metrics = normalize_metrics(metrics, owner=type(self).__name__)
        self._filename = filename
        self._save_checkpoints = save_checkpoints

    def _handle(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        metrics = pick_metrics(trainer.callback_metrics, self._metrics,
                               where="trainer.callback_metrics", missing="warn")
        if not metrics:
            return
        if not self._save_checkpoints:
            report(metrics)
            return
        with temporary_checkpoint() as (folder, checkpoint):
            trainer.save_checkpoint(os.path.join(folder, self._filename))
            report(metrics, checkpoint)


class TuneReportCallback(TuneReportCheckpointCallback):
    """Deprecated: report metrics without checkpoints.

    Use ``TuneReportCheckpointCallback(metrics, save_checkpoints=False, on=on)``.

    Args:
        metrics: As for :class:`TuneReportCheckpointCallback`.
        on: The hook(s) at which to report.
    """

    def __init__(self, metrics: MetricsArg = None, on: HooksArg = "validation_end") -> None:
        warnings.warn(
            "tunesmith.integration.pytorch_lightning.TuneReportCallback is deprecated; use "
            "TuneReportCheckpointCallback(metrics, save_checkpoints=False, on=on)",
            FutureWarning,
            stacklevel=2,
        )
        super().__init__(metrics, save_checkpoints=False, on=on)
