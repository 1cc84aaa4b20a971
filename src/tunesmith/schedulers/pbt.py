"""``ray.tune.schedulers.pbt``: re-exported from where tunesmith keeps the code."""

from tunesmith.schedulers._pbt import PopulationBasedTraining
from tunesmith.schedulers._pbt_replay import PopulationBasedTrainingReplay

__all__ = ["PopulationBasedTraining", "PopulationBasedTrainingReplay"]
