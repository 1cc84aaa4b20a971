"""``ray.tune.search.bayesopt.bayesopt_search``: re-exported from where tunesmith keeps the code."""

from tunesmith.search.bayesopt._bayesopt_search import BayesOptSearch

__all__ = ["BayesOptSearch"]
