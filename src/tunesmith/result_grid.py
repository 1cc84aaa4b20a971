"""``ray.tune.result_grid``: re-exported from where tunesmith keeps the code."""

from tunesmith._result import ResultGrid

__all__ = ["ResultGrid"]
