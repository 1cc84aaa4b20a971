"""Experiments and trials (``ray.tune.experiment``).

``Experiment`` loads on first use: schedulers and searchers import ``Trial`` from this package
and should not load the trainable machinery the legacy ``Experiment`` needs (which in turn
imports no Tuner).
"""

from typing import TYPE_CHECKING, Any

from tunesmith.experiment._trial import Trial, TrialStatus

if TYPE_CHECKING:
    from tunesmith.experiment._experiment import Experiment

__all__ = ["Experiment", "Trial", "TrialStatus"]


def __getattr__(name: str) -> Any:
    if name == "Experiment":
        from tunesmith.experiment._experiment import Experiment

        return Experiment
    raise AttributeError(f"module 'tunesmith.experiment' has no attribute {name!r}")
