"""``ray.tune.context``: re-exported from where tunesmith keeps the code."""

from tunesmith.trainable import TuneContext, get_context

__all__ = ["TuneContext", "get_context"]
