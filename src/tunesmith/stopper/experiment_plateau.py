"""``ray.tune.stopper.experiment_plateau``: re-exported from where tunesmith keeps the code."""

from tunesmith.stopper._plateau import ExperimentPlateauStopper

__all__ = ["ExperimentPlateauStopper"]
