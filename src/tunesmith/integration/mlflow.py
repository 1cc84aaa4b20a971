"""MLflow integration, at Ray's ``ray.air.integrations.mlflow`` path with ``tunesmith`` in front.

Needs ``pip install "tunesmith[mlflow]"``.
"""

from tunesmith.integration._mlflow import MLflowLoggerCallback, setup_mlflow

__all__ = ["MLflowLoggerCallback", "setup_mlflow"]
