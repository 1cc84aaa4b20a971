"""``ray.tune.trainable.trainable_fn_utils``: re-exported from where tunesmith keeps the code."""

from tunesmith._checkpoint import Checkpoint
from tunesmith.trainable import get_checkpoint, report

__all__ = ["Checkpoint", "get_checkpoint", "report"]
