"""``MLflowLoggerCallback`` under Ray Tune's ``ray.tune.logger.mlflow`` path."""

from tunesmith.integration.mlflow import MLflowLoggerCallback

__all__ = ["MLflowLoggerCallback"]
