"""What every framework callback shares: choosing metrics, plain numbers, temporary checkpoints.

The framework callbacks (Keras, Lightning, XGBoost, LightGBM) all take the same
``metrics`` argument, as in Ray Tune:

- ``None``: report everything the framework logged;
- ``"val_loss"`` or ``["val_loss", "val_acc"]``: report these, under the same names;
- ``{"loss": "val_loss"}``: report the framework's ``val_loss`` as ``loss``.

Example:
    >>> from tunesmith.integration._report import normalize_metrics, pick_metrics
    >>> wanted = normalize_metrics({"loss": "val_loss"}, owner="Example")
    >>> pick_metrics({"val_loss": 0.25, "acc": 0.5}, wanted, where="logs")
    {'loss': 0.25}
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import warnings
from typing import Any, Callable, Iterator, Mapping, Sequence, Union

from tunesmith._checkpoint import Checkpoint

__all__ = [
    "BoostingReporter",
    "HooksArg",
    "MetricsArg",
    "PostprocessFn",
    "check_boosting_args",
    "check_hooks",
    "normalize_metrics",
    "pick_metrics",
    "report",
    "temporary_checkpoint",
    "to_number",
    "warn_report_callback_deprecated",
]

logger = logging.getLogger("tunesmith.integration")

MetricsArg = Union[str, Sequence[str], Mapping[str, str], None]
PostprocessFn = Callable[[dict[str, Any]], dict[str, Any]]
HooksArg = Union[str, Sequence[str]]


def check_hooks(value: HooksArg, known: Sequence[str], *, argument: str, allow_empty: bool) -> list[str]:
    """A hook-name argument (``on``, ``checkpoint_on``, ...) of the Keras and Lightning callbacks, as a list.

    Raises:
        ValueError: A name is not in ``known``, or there is none and ``allow_empty`` is False.

    Example:
        >>> check_hooks("epoch_end", ("epoch_end", "train_end"), argument="on", allow_empty=False)
        ['epoch_end']
    """
    hooks = [value] if isinstance(value, str) else list(value)
    if (not hooks and not allow_empty) or not all(isinstance(h, str) and h in known for h in hooks):
        raise ValueError(f"{argument} must be one or more of {list(known)}; got {value!r}")
    return hooks


def normalize_metrics(metrics: MetricsArg, *, owner: str) -> dict[str, str] | None:
    """Turn the ``metrics`` argument into ``{reported name: framework name}``, or None for all.

    Args:
        metrics: None, a name, a list of names, or a dict renaming framework metrics.
        owner: The class taking the argument, for the error message.

    Returns:
        The mapping, or None when every logged metric is to be reported.

    Raises:
        TypeError: ``metrics`` is none of the accepted shapes.
    """
    if metrics is None:
        return None
    if isinstance(metrics, str):
        return {metrics: metrics}
    if isinstance(metrics, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in metrics.items()):
        return dict(metrics)
    if isinstance(metrics, Sequence) and all(isinstance(m, str) for m in metrics):
        return {m: m for m in metrics}
    raise TypeError(
        f"{owner}(metrics=...) takes None, a metric name, a list of names or a dict "
        f"{{reported_name: framework_name}}; got {metrics!r}"
    )


def check_boosting_args(owner: str, frequency: Any, filename: Any) -> None:
    """Validate the ``frequency`` and ``filename`` of the XGBoost and LightGBM callbacks.

    Raises:
        ValueError: ``frequency`` is not an int >= 0, or ``filename`` is not a non-empty string.
    """
    if not isinstance(frequency, int) or isinstance(frequency, bool) or frequency < 0:
        raise ValueError(f"{owner}(frequency=...) must be an int >= 0 (0: no periodic checkpoints); got {frequency!r}")
    if not isinstance(filename, str) or not filename:
        raise ValueError(f"{owner}(filename=...) must be a non-empty file name; got {filename!r}")


def to_number(value: Any) -> Any:
    """A plain Python value for numpy scalars and one-element tensors; other values as they are."""
    if value is None or type(value) in (bool, int, float, str):  # not isinstance: np.float64 is a float
        return value
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return item()
        except (ValueError, RuntimeError):  # numpy or torch with more than one element
            return value
    return value


def pick_metrics(
    available: Mapping[str, Any], wanted: dict[str, str] | None, *, where: str, missing: str = "raise"
) -> dict[str, Any]:
    """Select (and rename) the metrics to report from what the framework logged.

    Args:
        available: The framework's metrics, e.g. Keras ``logs``.
        wanted: The output of :func:`normalize_metrics`.
        where: Names ``available`` in the error message (``"the Keras logs"``).
        missing: ``"raise"`` (KeyError) or ``"warn"`` (log a warning and skip the metric).

    Returns:
        ``{reported name: plain value}``.

    Raises:
        KeyError: A wanted metric is not in ``available`` and ``missing`` is ``"raise"``.
    """
    if wanted is None:
        return {str(k): to_number(v) for k, v in available.items()}
    picked: dict[str, Any] = {}
    for reported, name in wanted.items():
        if name in available:
            picked[reported] = to_number(available[name])
        elif missing == "warn":
            logger.warning("metric %r is not in %s (%s); not reported", name, where, sorted(available))
        else:
            raise KeyError(
                f"metric {name!r} must be one of the metrics in {where}; got only {sorted(available)}"
            )
    return picked


@contextlib.contextmanager
def temporary_checkpoint() -> Iterator[tuple[str, Checkpoint]]:
    """Yield ``(folder, checkpoint)`` for a new temporary folder, removed afterwards.

    ``tunesmith.report`` copies a checkpoint into the trial folder before it returns, so
    the temporary folder can go as soon as the report is done.
    """
    folder = tempfile.mkdtemp(prefix="tunesmith_checkpoint_")
    try:
        yield folder, Checkpoint.from_directory(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def report(metrics: dict[str, Any], checkpoint: Checkpoint | None = None) -> None:
    """``tunesmith.report``; a STOP decision unwinds the framework's loop with ``TrialInterrupt``."""
    from tunesmith.trainable import report as tune_report

    tune_report(metrics, checkpoint=checkpoint)


class BoostingReporter:
    """What the LightGBM and XGBoost callbacks share: their options, the metrics they pick
    and post-process, and reporting a round with the booster saved as a checkpoint."""

    def _configure(
        self,
        metrics: MetricsArg,
        filename: str,
        frequency: int,
        checkpoint_at_end: bool,
        results_postprocessing_fn: PostprocessFn | None,
    ) -> None:
        """Check and keep the options (``TypeError``/``ValueError`` as :func:`check_boosting_args`)."""
        owner = type(self).__name__
        check_boosting_args(owner, frequency, filename)
        self._metrics = normalize_metrics(metrics, owner=owner)
        self._filename = filename
        self._frequency = frequency
        self._checkpoint_at_end = checkpoint_at_end
        self._postprocess = results_postprocessing_fn

    def _picked(self, flat: dict[str, Any], where: str) -> dict[str, Any]:
        picked = pick_metrics(flat, self._metrics, where=where)
        return self._postprocess(picked) if self._postprocess else picked

    def _report(self, model: Any, metrics: dict[str, Any], *, save: bool) -> None:
        """Report ``metrics``; with ``save``, along with ``model.save_model`` into a checkpoint."""
        if not save:
            report(metrics)
            return
        with temporary_checkpoint() as (folder, checkpoint):
            model.save_model(os.path.join(folder, self._filename))
            report(metrics, checkpoint)


def warn_report_callback_deprecated(module: str) -> None:
    """The ``FutureWarning`` of a deprecated ``<module>.TuneReportCallback`` (Ray Tune raises instead)."""
    warnings.warn(
        f"{module}.TuneReportCallback is deprecated; use "
        "TuneReportCheckpointCallback(metrics, frequency=0, checkpoint_at_end=False)",
        FutureWarning,
        stacklevel=3,
    )
