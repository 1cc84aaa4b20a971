"""``ray.tune.tune_config``: re-exported from where tunesmith keeps the code."""

from tunesmith._config import TuneConfig

__all__ = ["TuneConfig"]
