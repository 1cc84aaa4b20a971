"""``ray.tune.search.zoopt.zoopt_search``: re-exported from where tunesmith keeps the code."""

from tunesmith.search.zoopt._zoopt_search import ZOOptSearch

__all__ = ["ZOOptSearch"]
