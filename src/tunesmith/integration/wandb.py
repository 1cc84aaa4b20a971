"""Weights & Biases integration, at Ray's ``ray.air.integrations.wandb`` path with ``tunesmith`` in front.

Needs ``pip install "tunesmith[wandb]"``.
"""

from tunesmith.integration._wandb import WandbLoggerCallback, setup_wandb

__all__ = ["WandbLoggerCallback", "setup_wandb"]
