"""``ray.tune.logger.csv``: re-exported from where tunesmith keeps the code."""

from tunesmith.logger._logger import CSVLoggerCallback

__all__ = ["CSVLoggerCallback"]
