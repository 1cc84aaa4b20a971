"""``ray.tune.logger.json``: re-exported from where tunesmith keeps the code."""

from tunesmith.logger._logger import JsonLoggerCallback

__all__ = ["JsonLoggerCallback"]
