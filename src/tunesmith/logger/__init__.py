"""Loggers: callbacks that write each trial's results to files and tracking services.

``tunesmith.logger.mlflow`` and ``tunesmith.logger.wandb`` re-export the MLflow and
Weights & Biases callbacks from ``tunesmith.integration``, as ``ray.tune.logger`` does.
"""

from tunesmith.logger._logger import CSVLoggerCallback, JsonLoggerCallback, LoggerCallback
from tunesmith.logger._pretty_print import pretty_print
from tunesmith.logger._tensorboard import TBXLoggerCallback

__all__ = ["CSVLoggerCallback", "JsonLoggerCallback", "LoggerCallback", "TBXLoggerCallback", "pretty_print"]
