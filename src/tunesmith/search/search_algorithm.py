"""``ray.tune.search.search_algorithm``: re-exported from where tunesmith keeps the code."""

from tunesmith.search._search_algorithm import SearchAlgorithm

__all__ = ["SearchAlgorithm"]
