"""``ray.tune.experiment.trial``: re-exported from where tunesmith keeps the code."""

from tunesmith.experiment._trial import Trial

__all__ = ["Trial"]
