"""``ray.tune.logger.tensorboardx``: re-exported from where tunesmith keeps the code."""

from tunesmith.logger._tensorboard import TBXLoggerCallback

__all__ = ["TBXLoggerCallback"]
