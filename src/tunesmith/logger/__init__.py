"""Loggers: callbacks that write each trial's results to files."""

from tunesmith.logger._logger import CSVLoggerCallback, JsonLoggerCallback, LoggerCallback

__all__ = ["CSVLoggerCallback", "JsonLoggerCallback", "LoggerCallback"]
