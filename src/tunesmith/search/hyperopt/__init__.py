"""HyperOpt integration: ``HyperOptSearch`` (as ``ray.tune.search.hyperopt``).

Importing this package does not import HyperOpt; creating a ``HyperOptSearch`` does, and
says ``pip install "tunesmith[hyperopt]"`` when it is missing.
"""

from tunesmith.search.hyperopt._hyperopt_search import HyperOptSearch

__all__ = ["HyperOptSearch"]
