"""``ray.tune.experiment.experiment``: re-exported from where tunesmith keeps the code."""

from tunesmith.experiment._experiment import Experiment

__all__ = ["Experiment"]
