"""``ray.tune.search.concurrency_limiter``: re-exported from where tunesmith keeps the code."""

from tunesmith.search._concurrency_limiter import ConcurrencyLimiter

__all__ = ["ConcurrencyLimiter"]
