"""``ray.tune.schedulers.hyperband``: re-exported from where tunesmith keeps the code."""

from tunesmith.schedulers._hyperband import HyperBandScheduler

__all__ = ["HyperBandScheduler"]
