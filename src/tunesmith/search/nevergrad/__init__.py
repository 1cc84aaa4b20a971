"""Gradient-free optimization with Nevergrad (``pip install "tunesmith[nevergrad]"``).

Importing this package does not import the library; creating a :class:`NevergradSearch` does.
"""

from tunesmith.search.nevergrad._nevergrad_search import NevergradSearch

__all__ = ["NevergradSearch"]
