"""``ray.tune.schedulers.trial_scheduler``: re-exported from where tunesmith keeps the code."""

from tunesmith.schedulers._trial_scheduler import FIFOScheduler, TrialScheduler

__all__ = ["FIFOScheduler", "TrialScheduler"]
