"""``ray.tune.search.search_generator``: re-exported from where tunesmith keeps the code."""

from tunesmith.search._search_generator import SearchGenerator

__all__ = ["SearchGenerator"]
