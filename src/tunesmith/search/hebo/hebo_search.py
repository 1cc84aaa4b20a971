"""``ray.tune.search.hebo.hebo_search``: re-exported from where tunesmith keeps the code."""

from tunesmith.search.hebo._hebo_search import HEBOSearch

__all__ = ["HEBOSearch"]
