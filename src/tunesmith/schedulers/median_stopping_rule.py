"""``ray.tune.schedulers.median_stopping_rule``: re-exported from where tunesmith keeps the code."""

from tunesmith.schedulers._median_stopping_rule import MedianStoppingRule

__all__ = ["MedianStoppingRule"]
