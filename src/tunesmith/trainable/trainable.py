"""``ray.tune.trainable.trainable``: re-exported from where tunesmith keeps the code."""

from tunesmith.trainable._trainable import Trainable

__all__ = ["Trainable"]
