"""``ray.tune.schedulers.async_hyperband``: re-exported from where tunesmith keeps the code."""

from tunesmith.schedulers._async_hyperband import ASHAScheduler, AsyncHyperBandScheduler

__all__ = ["ASHAScheduler", "AsyncHyperBandScheduler"]
