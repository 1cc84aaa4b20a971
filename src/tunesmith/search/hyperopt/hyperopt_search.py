"""``ray.tune.search.hyperopt.hyperopt_search``: re-exported from where tunesmith keeps the code."""

from tunesmith.search.hyperopt._hyperopt_search import HyperOptSearch

__all__ = ["HyperOptSearch"]
