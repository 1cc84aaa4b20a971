"""Bayesian optimization with Ax (``pip install "tunesmith[ax]"``).

Importing this package does not import Ax; creating an :class:`AxSearch` does.
"""

from tunesmith.search.ax._ax_search import AxSearch

__all__ = ["AxSearch"]
