"""Bayesian optimization with bayesian-optimization (``pip install "tunesmith[bayesopt]"``).

Importing this package does not import the library; creating a :class:`BayesOptSearch` does.
"""

from tunesmith.search.bayesopt._bayesopt_search import BayesOptSearch

__all__ = ["BayesOptSearch"]
