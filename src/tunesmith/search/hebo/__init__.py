"""Bayesian optimization with HEBO (``pip install "tunesmith[hebo]"``).

Importing this package does not import the library; creating a :class:`HEBOSearch` does.
"""

from tunesmith.search.hebo._hebo_search import HEBOSearch

__all__ = ["HEBOSearch"]
