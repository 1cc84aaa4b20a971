"""Optuna integration: ``OptunaSearch`` (as ``ray.tune.search.optuna``).

Importing this package does not import Optuna; creating an ``OptunaSearch`` does, and says
``pip install "tunesmith[optuna]"`` when it is missing.
"""

from tunesmith.search.optuna._optuna_search import OptunaSearch

__all__ = ["OptunaSearch"]
