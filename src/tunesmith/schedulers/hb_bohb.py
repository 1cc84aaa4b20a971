"""``ray.tune.schedulers.hb_bohb``: re-exported from where tunesmith keeps the code."""

from tunesmith.schedulers._hyperband import HyperBandForBOHB

__all__ = ["HyperBandForBOHB"]
