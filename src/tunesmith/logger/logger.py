"""``ray.tune.logger.logger``: re-exported from where tunesmith keeps the code."""

from tunesmith.logger._logger import LoggerCallback
from tunesmith.logger._pretty_print import pretty_print

__all__ = ["LoggerCallback", "pretty_print"]
