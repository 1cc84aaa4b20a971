"""Stoppers: when a trial, or the whole experiment, is done."""

from tunesmith.stopper._build import CriteriaStopper, build_stopper
from tunesmith.stopper._plateau import ExperimentPlateauStopper, TrialPlateauStopper
from tunesmith.stopper._stopper import (
    CombinedStopper,
    FunctionStopper,
    MaximumIterationStopper,
    NoopStopper,
    Stopper,
)
from tunesmith.stopper._timeout import TimeoutStopper

__all__ = [
    "CombinedStopper",
    "CriteriaStopper",
    "ExperimentPlateauStopper",
    "FunctionStopper",
    "MaximumIterationStopper",
    "NoopStopper",
    "Stopper",
    "TimeoutStopper",
    "TrialPlateauStopper",
    "build_stopper",
]
