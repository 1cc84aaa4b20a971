"""``ray.tune.search.nevergrad.nevergrad_search``: re-exported from where tunesmith keeps the code."""

from tunesmith.search.nevergrad._nevergrad_search import NevergradSearch

__all__ = ["NevergradSearch"]
