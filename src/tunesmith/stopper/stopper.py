"""``ray.tune.stopper.stopper``: re-exported from where tunesmith keeps the code."""

from tunesmith.stopper._stopper import CombinedStopper, Stopper

__all__ = ["CombinedStopper", "Stopper"]
