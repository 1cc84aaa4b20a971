"""The user's side of a trial: report, checkpoints, context and the Trainable class."""

from tunesmith.trainable._registry import register_env, register_trainable
from tunesmith.trainable._resources import PlacementGroupFactory
from tunesmith.trainable._session import TuneContext, get_checkpoint, get_context, report
from tunesmith.trainable._trainable import Trainable
from tunesmith.trainable._wrap import with_parameters, with_resources

__all__ = [
    "PlacementGroupFactory",
    "Trainable",
    "TuneContext",
    "get_checkpoint",
    "get_context",
    "register_env",
    "register_trainable",
    "report",
    "with_parameters",
    "with_resources",
]
