"""Trial schedulers: decide after each result whether a trial continues, pauses or stops.

Each scheduler loads on first use, so importing the Tuner (which needs only
``FIFOScheduler``) loads no other.
"""

from typing import TYPE_CHECKING

from tunesmith._imports import lazy_exports

if TYPE_CHECKING:
    from tunesmith.schedulers._async_hyperband import ASHAScheduler, AsyncHyperBandScheduler
    from tunesmith.schedulers._create import create_scheduler
    from tunesmith.schedulers._hyperband import HyperBandForBOHB, HyperBandScheduler
    from tunesmith.schedulers._median_stopping_rule import MedianStoppingRule
    from tunesmith.schedulers._pbt import PopulationBasedTraining
    from tunesmith.schedulers._pbt_replay import PopulationBasedTrainingReplay
    from tunesmith.schedulers._trial_scheduler import Decision, FIFOScheduler, TrialScheduler
    from tunesmith.schedulers.resource_changing_scheduler import ResourceChangingScheduler

_LAZY = {
    "ASHAScheduler": "tunesmith.schedulers._async_hyperband",
    "AsyncHyperBandScheduler": "tunesmith.schedulers._async_hyperband",
    "Decision": "tunesmith.schedulers._trial_scheduler",
    "FIFOScheduler": "tunesmith.schedulers._trial_scheduler",
    "HyperBandForBOHB": "tunesmith.schedulers._hyperband",
    "HyperBandScheduler": "tunesmith.schedulers._hyperband",
    "MedianStoppingRule": "tunesmith.schedulers._median_stopping_rule",
    "PopulationBasedTraining": "tunesmith.schedulers._pbt",
    "PopulationBasedTrainingReplay": "tunesmith.schedulers._pbt_replay",
    "ResourceChangingScheduler": "tunesmith.schedulers.resource_changing_scheduler",
    "TrialScheduler": "tunesmith.schedulers._trial_scheduler",
    "create_scheduler": "tunesmith.schedulers._create",
}

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

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)
