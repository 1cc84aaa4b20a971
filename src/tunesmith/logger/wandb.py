"""``WandbLoggerCallback`` under Ray Tune's ``ray.tune.logger.wandb`` path."""

from tunesmith.integration.wandb import WandbLoggerCallback

__all__ = ["WandbLoggerCallback"]
