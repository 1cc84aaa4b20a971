"""Plateau stoppers: stop when a metric stops moving, per trial or across the experiment."""

from __future__ import annotations

import collections
import math
import numbers
from typing import Any

import numpy as np

from tunesmith.stopper._stopper import _MISSING, Stopper, _lookup

__all__ = ["ExperimentPlateauStopper", "TrialPlateauStopper"]


def _metric_value(result: dict[str, Any], metric: str) -> float | None:
    value = _lookup(result, metric)
    if value is _MISSING or isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value)


def _check_int(owner: str, name: str, value: Any, minimum: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{owner}: {name} must be an int >= {minimum}; got {value!r}")
    return int(value)


def _check_positive(owner: str, name: str, value: Any, allow_zero: bool) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        rule = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{owner}: {name} must be a number {rule}; got {value!r}")
    return float(value)


class TrialPlateauStopper(Stopper):
    """Stops a trial once its last ``num_results`` values of ``metric`` barely vary.

    A trial is checked from its ``grace_period``-th result on; it stops when the standard
    deviation of its last ``num_results`` values is below ``std`` and, if
    ``metric_threshold`` is set, its latest value is at or beyond it (below for
    ``mode="min"``, above for ``"max"``). Results without the metric are skipped.

    Example:
        >>> stopper = TrialPlateauStopper("loss")
        >>> [stopper("t1", {"loss": 1.0}) for _ in range(4)]
        [False, False, False, True]
    """

    def __init__(
        self,
        metric: str,
        std: float = 0.01,
        num_results: int = 4,
        grace_period: int = 4,
        metric_threshold: float | None = None,
        mode: str | None = None,
    ) -> None:
        owner = "TrialPlateauStopper"
        self._metric = metric
        self._std = _check_positive(owner, "std", std, allow_zero=True)
        self._num_results = _check_int(owner, "num_results", num_results, 1)
        self._grace_period = _check_int(owner, "grace_period", grace_period, 0)
        if mode not in (None, "min", "max"):
            raise ValueError(f"{owner}: mode must be 'min', 'max' or None; got {mode!r}")
        if metric_threshold is not None and mode is None:
            raise ValueError(
                f"{owner}: a metric_threshold needs mode='min' or mode='max' to say which side "
                f"of it counts; got metric_threshold={metric_threshold!r}, mode=None"
            )
        self._metric_threshold = metric_threshold
        self._mode = mode
        self._iter: dict[str, int] = {}
        self._values: dict[str, collections.deque] = {}

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        value = _metric_value(result, self._metric)
        if value is None:
            return False
        values = self._values.setdefault(trial_id, collections.deque(maxlen=self._num_results))
        values.append(value)
        self._iter[trial_id] = self._iter.get(trial_id, 0) + 1
        if self._iter[trial_id] < self._grace_period or len(values) < self._num_results:
            return False
        if not self._past_threshold(value):
            return False
        return bool(np.std(values) < self._std)

    def _past_threshold(self, value: float) -> bool:
        if self._metric_threshold is None:
            return True
        if self._mode == "min":
            return value <= self._metric_threshold
        return value >= self._metric_threshold

    def stop_all(self) -> bool:
        return False


class ExperimentPlateauStopper(Stopper):
    """Stops the experiment once the ``top`` best values of ``metric`` barely vary.

    After each result the best ``top`` values seen so far (lowest for ``mode="min"``) are
    kept. The experiment has *plateaued* when there are ``top`` of them and their standard
    deviation is at most ``std``; it stops once that has held for ``patience`` results in a
    row, counting the first (as in Ray, ``patience`` 0 and 1 both stop at the first).

    Example:
        >>> stopper = ExperimentPlateauStopper("loss", top=2)
        >>> stopper("t1", {"loss": 1.0}), stopper("t2", {"loss": 1.0})
        (False, True)
    """

    def __init__(
        self,
        metric: str,
        std: float = 0.001,
        top: int = 10,
        mode: str = "min",
        patience: int = 0,
    ) -> None:
        owner = "ExperimentPlateauStopper"
        if mode not in ("min", "max"):
            raise ValueError(f"{owner}: mode must be 'min' or 'max'; got {mode!r}")
        if not isinstance(top, numbers.Integral) or isinstance(top, bool) or top <= 1:
            raise ValueError(f"{owner}: top must be an int > 1 (a spread needs two values); got {top!r}")
        self._patience = _check_int(owner, "patience", patience, 0)
        self._std = _check_positive(owner, "std", std, allow_zero=False)
        self._metric = metric
        self._mode = mode
        self._top = int(top)
        self._top_values: list[float] = []
        self._iterations = 0

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        value = _metric_value(result, self._metric)
        if value is not None:
            self._keep_best(value)
            self._iterations = self._iterations + 1 if self.has_plateaued() else 0
        return self.stop_all()

    def _keep_best(self, value: float) -> None:
        values = sorted(self._top_values + [value], reverse=self._mode == "max")
        self._top_values = values[: self._top]

    def has_plateaued(self) -> bool:
        """True when ``top`` values are kept and their standard deviation is <= ``std``."""
        return len(self._top_values) == self._top and bool(np.std(self._top_values) <= self._std)

    def stop_all(self) -> bool:
        return self.has_plateaued() and self._iterations >= self._patience
