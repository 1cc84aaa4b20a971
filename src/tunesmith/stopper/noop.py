"""``ray.tune.stopper.noop``: re-exported from where tunesmith keeps the code."""

from tunesmith.stopper._stopper import NoopStopper

__all__ = ["NoopStopper"]
