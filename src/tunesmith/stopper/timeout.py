"""``ray.tune.stopper.timeout``: re-exported from where tunesmith keeps the code."""

from tunesmith.stopper._timeout import TimeoutStopper

__all__ = ["TimeoutStopper"]
