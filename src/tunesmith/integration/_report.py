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
import shutil
import tempfile
from typing import Any, Iterator, Mapping, Sequence, Union

from tunesmith._checkpoint import Checkpoint

__all__ = [
    "MetricsArg",
    "check_boosting_args",
    "normalize_metrics",
    "pick_metrics",
    "report",
    "temporary_checkpoint",
    "to_number",
]

logger = logging.getLogger("tunesmith.integration")

MetricsArg = Union[str, Sequence[str], Mapping[str, str], None]


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
