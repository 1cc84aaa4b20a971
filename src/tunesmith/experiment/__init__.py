"""Experiments and trials (``ray.tune.experiment``)."""

from tunesmith.experiment._trial import Trial, TrialStatus

__all__ = ["Trial", "TrialStatus"]
