"""``ray.tune.search.searcher``: re-exported from where tunesmith keeps the code."""

from tunesmith.search._concurrency_limiter import ConcurrencyLimiter
from tunesmith.search._searcher import Searcher

__all__ = ["ConcurrencyLimiter", "Searcher"]
