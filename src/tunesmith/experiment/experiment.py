"""``ray.tune.experiment.experiment``: re-exported from where tunesmith keeps the code."""

from tunesmith._legacy import Experiment

__all__ = ["Experiment"]
