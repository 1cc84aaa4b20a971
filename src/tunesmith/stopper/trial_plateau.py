"""``ray.tune.stopper.trial_plateau``: re-exported from where tunesmith keeps the code."""

from tunesmith.stopper._plateau import TrialPlateauStopper

__all__ = ["TrialPlateauStopper"]
