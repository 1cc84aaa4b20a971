"""Zeroth-order optimization with ZOOpt (``pip install "tunesmith[zoopt]"``).

Importing this package does not import the library; creating a :class:`ZOOptSearch` does.
"""

from tunesmith.search.zoopt._zoopt_search import ZOOptSearch

__all__ = ["ZOOptSearch"]
