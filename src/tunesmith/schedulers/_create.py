"""``create_scheduler``: build a trial scheduler from its short name."""

from __future__ import annotations

import importlib
from typing import Any, Callable

from tunesmith._kwargs import accepted_kwargs

__all__ = ["SCHEDULER_IMPORT", "create_scheduler"]


def _importer(module: str, name: str) -> Callable[[], type]:
    def load() -> type:
        return getattr(importlib.import_module(f"tunesmith.schedulers.{module}"), name)

    load.__name__ = f"_import_{name}"
    return load


#: Short name -> function returning the class (imported only when called). The keys are
#: Ray Tune's, plus ``"asha"`` (Ray has no such key; tunesmith accepts it as an alias).
SCHEDULER_IMPORT: dict[str, Callable[[], type]] = {
    "fifo": _importer("_trial_scheduler", "FIFOScheduler"),
    "async_hyperband": _importer("_async_hyperband", "AsyncHyperBandScheduler"),
    "asynchyperband": _importer("_async_hyperband", "AsyncHyperBandScheduler"),
    "asha": _importer("_async_hyperband", "AsyncHyperBandScheduler"),
    "median_stopping_rule": _importer("_median_stopping_rule", "MedianStoppingRule"),
    "medianstopping": _importer("_median_stopping_rule", "MedianStoppingRule"),
    "hyperband": _importer("_hyperband", "HyperBandScheduler"),
    "hb_bohb": _importer("_hyperband", "HyperBandForBOHB"),
    "pbt": _importer("_pbt", "PopulationBasedTraining"),
    "pbt_replay": _importer("_pbt_replay", "PopulationBasedTrainingReplay"),
    "pb2": _importer("pb2", "PB2"),
    "resource_changing": _importer("resource_changing_scheduler", "ResourceChangingScheduler"),
}


def create_scheduler(scheduler: str, **kwargs: Any) -> Any:
    """Create a trial scheduler from its name, as ``TuneConfig(scheduler="hyperband")`` does.

    A keyword argument the scheduler does not take is an error (Ray Tune drops it
    silently, which hides typos). ``metric`` and ``mode`` are the exception: every name
    accepts them, and a scheduler without them (``fifo``) ignores them.

    Args:
        scheduler: One of the keys of :data:`SCHEDULER_IMPORT` (case-insensitive):
            ``fifo``, ``async_hyperband``, ``asynchyperband``, ``asha``,
            ``median_stopping_rule``, ``medianstopping``, ``hyperband``, ``hb_bohb``,
            ``pbt``, ``pbt_replay``, ``pb2``, ``resource_changing``.
        **kwargs: Constructor arguments.

    Returns:
        The scheduler.

    Raises:
        ValueError: Unknown name (the message lists the valid ones), or a constructor
            argument the scheduler rejects.
        TypeError: A keyword argument the scheduler does not take (the message lists
            those it takes).
        ImportError: ``pb2`` without scikit-learn (with the pip line).

    Example:
        >>> from tunesmith.schedulers import create_scheduler
        >>> create_scheduler("asha", metric="loss", mode="min", max_t=9).metric
        'loss'
    """
    key = scheduler.lower() if isinstance(scheduler, str) else scheduler
    if key not in SCHEDULER_IMPORT:
        raise ValueError(f"scheduler must be one of {sorted(SCHEDULER_IMPORT)}; got {scheduler!r}")
    cls = SCHEDULER_IMPORT[key]()
    return cls(**accepted_kwargs(cls, kwargs, f"create_scheduler({scheduler!r})"))
