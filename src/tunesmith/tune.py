"""``ray.tune.tune``: re-exported from where tunesmith keeps the code."""

from tunesmith._legacy import run, run_experiments

__all__ = ["run", "run_experiments"]
