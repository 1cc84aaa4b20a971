"""``Repeater``: run each suggested config several times and report the mean.

Public module, as ``ray.tune.search.repeater``.
"""

from __future__ import annotations

import copy
import logging
import math
import warnings
from typing import Any

from tunesmith.search._searcher import Searcher
from tunesmith.search._wrapper import SearcherWrapper

__all__ = ["TRIAL_INDEX", "Repeater"]

logger = logging.getLogger("tunesmith.search")

#: Config key holding a trial's position (0..repeat-1) within its group of repeats.
TRIAL_INDEX = "__trial_index__"


class _TrialGroup:
    """The trials that share one suggestion, and their scores."""

    def __init__(self, primary_trial_id: str, config: dict[str, Any], size: int) -> None:
        self.primary_trial_id = primary_trial_id
        self.config = config
        self.size = size
        self.trial_ids = [primary_trial_id]
        self.scores: dict[str, Any] = {}
        self.errors: dict[str, bool] = {}

    def full(self) -> bool:
        return len(self.trial_ids) >= self.size

    def done(self) -> bool:
        return len(self.scores) >= self.size


class Repeater(SearcherWrapper):
    """Give every suggestion of ``searcher`` to ``repeat`` trials (e.g. to average over seeds).

    The inner searcher sees only the first trial of each group; when all ``repeat`` trials
    have ended it receives that trial's completion with the NaN-ignoring mean of the metric
    over the group (a mean per metric for multi-objective searchers). If no trial of the
    group produced the metric, it receives ``error=True`` and no result. With
    ``set_index=True`` each config gets ``"__trial_index__"`` (0..repeat-1). Use
    ``num_samples`` as a multiple of ``repeat``; otherwise the last group stays incomplete
    and a UserWarning says so.

    Args:
        searcher: The searcher whose suggestions are repeated.
        repeat: Trials per suggestion; an int >= 1.
        set_index: Add ``"__trial_index__"`` to each config.

    Raises:
        ValueError: ``repeat`` is not an int >= 1.
        TypeError: ``searcher`` is not a :class:`Searcher`.

    Example:
        >>> from tunesmith.search import Repeater, Searcher
        >>> class Const(Searcher):
        ...     def suggest(self, trial_id):
        ...         return {"x": 1}
        ...     def on_trial_complete(self, trial_id, result=None, error=False):
        ...         print(trial_id, result)
        >>> rep = Repeater(Const(metric="m", mode="max"), repeat=2)
        >>> rep.suggest("a"), rep.suggest("b")
        ({'x': 1, '__trial_index__': 0}, {'x': 1, '__trial_index__': 1})
        >>> rep.on_trial_complete("a", {"m": 1.0})
        >>> rep.on_trial_complete("b", {"m": 3.0})
        a {'m': 2.0}
    """

    def __init__(self, searcher: Searcher, repeat: int = 1, set_index: bool = True) -> None:
        if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
            raise ValueError(f"repeat must be an int >= 1; got {repeat!r}")
        super().__init__(searcher)
        self.repeat = repeat
        self._set_index = set_index
        self._groups: list[_TrialGroup] = []
        self._trial_id_to_group: dict[str, _TrialGroup] = {}
        self._current_group: _TrialGroup | None = None

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        """The current group's config, or a new suggestion once the group is full."""
        group = self._current_group
        if group is None or group.full():
            config = self.searcher.suggest(trial_id)
            if config is None or config == Searcher.FINISHED:
                return config
            group = self._current_group = _TrialGroup(trial_id, copy.deepcopy(config), self.repeat)
            self._groups.append(group)
        else:
            group.trial_ids.append(trial_id)
        self._trial_id_to_group[trial_id] = group
        config = copy.deepcopy(group.config)
        if self._set_index:
            config[TRIAL_INDEX] = len(group.trial_ids) - 1
        return config

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        """Intermediate results are not forwarded (the inner searcher sees group means only)."""

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        """Record the trial's score; tell the inner searcher once the group is complete."""
        group = self._trial_id_to_group.get(trial_id)
        if group is None:
            logger.warning("Repeater: trial %s was not suggested by this Repeater; ignored", trial_id)
            return
        group.scores[trial_id] = self._score(result)
        group.errors[trial_id] = error
        if group.done():
            self._report_group(group)

    def _score(self, result: dict[str, Any] | None) -> Any:
        metric = self.searcher.metric
        result = result or {}
        if isinstance(metric, list):
            return [_as_float(result.get(m)) for m in metric]
        return _as_float(result.get(metric))

    def _report_group(self, group: _TrialGroup) -> None:
        metric = self.searcher.metric
        scores = [group.scores[t] for t in group.trial_ids]
        if isinstance(metric, list):
            means = [_nanmean([s[i] for s in scores]) for i in range(len(metric))]
            result = dict(zip(metric, means))
        else:
            result = {metric: _nanmean(scores)}
        if all(math.isnan(v) for v in result.values()):
            self.searcher.on_trial_complete(group.primary_trial_id, result=None, error=True)
        else:
            self.searcher.on_trial_complete(group.primary_trial_id, result=result, error=False)


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


def _warn_on_repeater(searcher: Searcher, num_samples: int) -> None:
    """Warn when a Repeater in ``searcher``'s wrapper chain cannot fill its last group."""
    while isinstance(searcher, Searcher):
        if isinstance(searcher, Repeater) and num_samples > 0 and num_samples % searcher.repeat:
            warnings.warn(
                f"num_samples should be a multiple of Repeater's repeat so that every group of "
                f"repeats completes; got num_samples={num_samples}, repeat={searcher.repeat}",
                UserWarning,
                stacklevel=3,
            )
        searcher = getattr(searcher, "searcher", None)
