"""Experiments and trials (``ray.tune.experiment``)."""

from typing import Any

from tunesmith.experiment._trial import Trial, TrialStatus

__all__ = ["Experiment", "Trial", "TrialStatus"]


def __getattr__(name: str) -> Any:
    if name == "Experiment":  # loaded on use: it pulls in the Tuner
        from tunesmith._legacy import Experiment

        return Experiment
    raise AttributeError(f"module 'tunesmith.experiment' has no attribute {name!r}")
