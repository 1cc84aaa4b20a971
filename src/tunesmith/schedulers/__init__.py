"""Trial schedulers: decide after each result whether a trial continues, pauses or stops."""

from tunesmith.schedulers._async_hyperband import ASHAScheduler, AsyncHyperBandScheduler
from tunesmith.schedulers._create import create_scheduler
from tunesmith.schedulers._hyperband import HyperBandForBOHB, HyperBandScheduler
from tunesmith.schedulers._median_stopping_rule import MedianStoppingRule
from tunesmith.schedulers._pbt import PopulationBasedTraining
from tunesmith.schedulers._pbt_replay import PopulationBasedTrainingReplay
from tunesmith.schedulers._trial_scheduler import Decision, FIFOScheduler, TrialScheduler
from tunesmith.schedulers.resource_changing_scheduler import ResourceChangingScheduler

__all__ = [
    "ASHAScheduler",
    "AsyncHyperBandScheduler",
    "Decision",
    "FIFOScheduler",
    "HyperBandForBOHB",
    "HyperBandScheduler",
    "MedianStoppingRule",
    "PopulationBasedTraining",
    "PopulationBasedTrainingReplay",
    "ResourceChangingScheduler",
    "TrialScheduler",
    "create_scheduler",
]
