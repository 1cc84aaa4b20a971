"""``ray.tune.search.optuna.optuna_search``: re-exported from where tunesmith keeps the code."""

from tunesmith.search.optuna._optuna_search import OptunaSearch

__all__ = ["OptunaSearch"]
