"""``ray.tune.trainable.util``: re-exported from where tunesmith keeps the code."""

from tunesmith.trainable._wrap import with_parameters, with_resources

__all__ = ["with_parameters", "with_resources"]
