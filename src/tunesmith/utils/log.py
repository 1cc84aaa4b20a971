"""``ray.tune.utils.log``: re-exported from where tunesmith keeps the code."""

from tunesmith._utils import Verbosity

__all__ = ["Verbosity"]
