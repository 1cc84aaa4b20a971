"""``ray.tune.stopper.maximum_iteration``: re-exported from where tunesmith keeps the code."""

from tunesmith.stopper._stopper import MaximumIterationStopper

__all__ = ["MaximumIterationStopper"]
