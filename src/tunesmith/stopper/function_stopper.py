"""``ray.tune.stopper.function_stopper``: re-exported from where tunesmith keeps the code."""

from tunesmith.stopper._stopper import FunctionStopper

__all__ = ["FunctionStopper"]
