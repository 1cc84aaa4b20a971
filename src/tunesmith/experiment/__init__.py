"""Experiments and trials (``ray.tune.experiment``)."""

from typing import TYPE_CHECKING, Any

from tunesmith.experiment._trial import Trial, TrialStatus

if TYPE_CHECKING:  # for type checkers and the API reference; loaded on use below
    from tunesmith._legacy import Experiment

__all__ = ["Experiment", "Trial", "TrialStatus"]


def __getattr__(name: str) -> Any:
    if name == "Experiment":  # loaded on use: it pulls in the Tuner
        from tunesmith._legacy import Experiment

        return Experiment
    raise AttributeError(f"module 'tunesmith.experiment' has no attribute {name!r}")
