"""Trial schedulers: decide after each result whether a trial continues, pauses or stops."""

from tunesmith.schedulers._trial_scheduler import Decision, FIFOScheduler, TrialScheduler

__all__ = ["Decision", "FIFOScheduler", "TrialScheduler"]
