"""Asynchronous successive halving (ASHA, Li et al. 2020, "A System for Massively Parallel
Hyperparameter Tuning").

A bracket ``s`` has rungs at ``r * eta**(s + k)`` for every ``k >= 0`` whose value does not
pass ``R`` (``r`` = ``grace_period``, ``eta`` = ``reduction_factor``, ``R`` = ``max_t``). A
trial reaching a rung is compared with the scores recorded there before it: it goes on only
if it is in the top ``1/eta`` of them, i.e. not below their ``(1 - 1/eta)`` quantile. No
trial ever waits for another, which is what makes the scheme asynchronous.
"""

from __future__ import annotations

import bisect
import math
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from tunesmith.schedulers._scheduler_base import _SchedulerBase
from tunesmith.schedulers._trial_scheduler import Decision

if TYPE_CHECKING:
    from tunesmith.experiment._trial import Trial

__all__ = [
    "ASHAScheduler",
    "AsyncHyperBandScheduler",
    "asha_bracket_probabilities",
    "asha_continues",
    "asha_cutoff",
    "asha_milestones",
    "sorted_cutoff",
]

_TOLERANCE = 1e-9


def asha_milestones(grace_period: float, max_t: float, reduction_factor: float, bracket: int = 0) -> list[float]:
    """Rung milestones of one ASHA bracket, largest first.

    Args:
        grace_period: ``r``, the smallest resource (the lowest rung of bracket 0).
        max_t: ``R``, the largest resource; no rung lies above it.
        reduction_factor: ``eta``.
        bracket: ``s``, the bracket's index; bracket ``s`` starts at ``r * eta**s``.

    Returns:
        ``[r*eta**(s+K), ..., r*eta**(s+1), r*eta**s]`` with ``r*eta**(s+K) <= R``;
        empty when even the lowest rung passes ``R``.

    Example:
        >>> asha_milestones(1, 100, 4)
        [64, 16, 4, 1]
    """
    milestones = []
    k = bracket
    while grace_period * reduction_factor**k <= max_t * (1 + _TOLERANCE):
        milestones.append(grace_period * reduction_factor**k)
        k += 1
    return milestones[::-1]


def asha_cutoff(recorded: Sequence[float], reduction_factor: float) -> float | None:
    """The score a trial needs at a rung: the ``(1 - 1/eta)`` quantile of the scores there.

    Scores are signed so that higher is better. The quantile interpolates linearly between
    order statistics (numpy's default); NaN scores are ignored.

    Returns:
        None when nothing (or only NaN) is recorded: the first trial at a rung goes on.

    Example:
        >>> asha_cutoff([1.0, 2.0, 3.0, 4.0], 4)
        3.25
    """
    return sorted_cutoff(sorted(v for v in recorded if not math.isnan(v)), reduction_factor)


def sorted_cutoff(ranked: Sequence[float], reduction_factor: float) -> float | None:
    """:func:`asha_cutoff` of scores already sorted ascending, without NaN: O(1).

    The arithmetic is numpy's ``percentile`` (method ``"linear"``) step by step, so the
    result is the same float.

    Example:
        >>> sorted_cutoff([1.0, 2.0, 3.0, 4.0], 4)
        3.25
    """
    n = len(ranked)
    if not n:
        return None
    virtual = (n - 1) * (((1 - 1 / reduction_factor) * 100) / 100)
    if virtual >= n - 1:
        return float(ranked[-1])
    if virtual < 0:
        return float(ranked[0])
    below = math.floor(virtual)
    a, b, gamma = ranked[below], ranked[below + 1], virtual - below
    step = b - a
    return float(a + step * gamma if gamma < 0.5 else b - step * (1 - gamma))


def asha_continues(recorded: Sequence[float], score: float, reduction_factor: float) -> bool:
    """Whether a trial arriving at a rung with ``score`` goes on (it is not below the cutoff)."""
    cutoff = asha_cutoff(recorded, reduction_factor)
    return cutoff is None or not score < cutoff


def asha_bracket_probabilities(rung_counts: Sequence[int]) -> list[float]:
    """Probability of assigning a new trial to each bracket: a softmax of the rung counts.

    Brackets with more rungs (more chances to stop bad trials early) get more trials.

    Example:
        >>> [round(p, 3) for p in asha_bracket_probabilities([2, 1])]
        [0.731, 0.269]
    """
    top = max(rung_counts)
    weights = [math.exp(count - top) for count in rung_counts]
    total = sum(weights)
    return [w / total for w in weights]


class AsyncHyperBandScheduler(_SchedulerBase):
    """Asynchronous HyperBand (ASHA): stop trials that are not in the top ``1/rf`` at a rung.

    Args:
        time_attr: The result key that measures progress (monotonically increasing).
        metric: The result key to optimise; None takes ``TuneConfig.metric``.
        mode: ``"min"`` or ``"max"``; None takes ``TuneConfig.mode``.
        max_t: Trials stop when ``time_attr`` reaches it (if ``stop_last_trials``).
        grace_period: No trial is stopped before ``time_attr`` reaches it.
        reduction_factor: ``eta``: rungs are ``eta`` apart and the top ``1/eta`` go on.
        brackets: How many brackets (bracket ``s`` starts at ``grace_period * eta**s``).
        stop_last_trials: Stop trials at ``max_t``; False lets them run until they end.
        seed: Seed of the generator that assigns trials to brackets (tunesmith addition).

    Raises:
        ValueError: For ``max_t <= 0``, ``grace_period <= 0``, ``max_t < grace_period``,
            ``reduction_factor <= 1``, ``brackets <= 0`` or a bad ``mode``.
        TuneError: At the first result, when it lacks ``time_attr`` or the metric (Ray
            Tune skips such results silently, for ever).

    Example:
        >>> from tunesmith.schedulers import ASHAScheduler
        >>> scheduler = ASHAScheduler(metric="loss", mode="min", max_t=100, grace_period=1)
        >>> scheduler.milestones()
        [[64, 16, 4, 1]]
    """

    def __init__(
        self,
        time_attr: str = "training_iteration",
        metric: str | None = None,
        mode: str | None = None,
        max_t: float = 100,
        grace_period: float = 1,
        reduction_factor: float = 4,
        brackets: int = 1,
        stop_last_trials: bool = True,
        *,
        seed: int | None = None,
    ) -> None:
        name = type(self).__name__
        _check(max_t > 0, f"{name}: max_t must be > 0, got {max_t!r}.")
        _check(grace_period > 0, f"{name}: grace_period must be > 0, got {grace_period!r}.")
        _check(max_t >= grace_period, f"{name}: max_t must be >= grace_period, got max_t={max_t!r}, grace_period={grace_period!r}.")
        _check(reduction_factor > 1, f"{name}: reduction_factor must be > 1, got {reduction_factor!r}.")
        _check(brackets > 0, f"{name}: brackets must be > 0, got {brackets!r}.")
        super().__init__(metric, mode)
        self._time_attr = time_attr
        self._max_t = max_t
        self._reduction_factor = reduction_factor
        self._stop_last_trials = stop_last_trials
        # per bracket: milestone -> {trial_id: score}, milestones largest first
        self._rungs: list[dict[float, dict[str, float]]] = [
            {m: {} for m in asha_milestones(grace_period, max_t, reduction_factor, s)} for s in range(brackets)
        ]
        self._ranked = _ranked_rungs(self._rungs)
        self._probabilities = asha_bracket_probabilities([len(r) for r in self._rungs])
        self._bracket_of: dict[str, int] = {}
        self._num_stopped = 0
        self._rng = np.random.default_rng(seed)

    def milestones(self) -> list[list[float]]:
        """The rung milestones of every bracket, largest first."""
        return [list(rungs) for rungs in self._rungs]

    def on_trial_add(self, trial: Trial) -> None:
        self._require_metric_and_mode()
        self._bind(trial)
        if trial.trial_id in self._bracket_of:
            return  # added again after a restore
        if len(self._rungs) == 1:
            self._bracket_of[trial.trial_id] = 0  # nothing to draw
            return
        self._bracket_of[trial.trial_id] = int(self._rng.choice(len(self._rungs), p=self._probabilities))

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        if not self._has_keys(result, self._time_attr):
            return Decision.CONTINUE
        decision = self._record(trial, result)
        if self._stop_last_trials and result[self._time_attr] >= self._max_t:
            decision = Decision.STOP
        if decision is Decision.STOP:
            self._num_stopped += 1
        return decision

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        if self._time_attr in result and self._metric in result:
            self._record(trial, result)
        self._bracket_of.pop(trial.trial_id, None)

    def on_trial_remove(self, trial: Trial) -> None:
        self._bracket_of.pop(trial.trial_id, None)

    def on_trial_error(self, trial: Trial) -> None:
        self._bracket_of.pop(trial.trial_id, None)

    def _record(self, trial: Trial, result: dict[str, Any]) -> Decision:
        """Record the score at the highest rung reached, if not yet recorded there; decide."""
        bracket = self._bracket_of.get(trial.trial_id)
        if bracket is None:
            return Decision.CONTINUE
        t = result[self._time_attr]
        for milestone, recorded in self._rungs[bracket].items():
            if t < milestone:
                continue
            if trial.trial_id in recorded:
                return Decision.CONTINUE
            score = self._score(result)
            ranked = self._ranked[bracket][milestone]  # the recorded scores, sorted, without NaN
            cutoff = sorted_cutoff(ranked, self._reduction_factor)
            recorded[trial.trial_id] = score
            if not math.isnan(score):
                bisect.insort(ranked, score)
            return Decision.CONTINUE if cutoff is None or not score < cutoff else Decision.STOP
        return Decision.CONTINUE

    def debug_string(self) -> str:
        lines = [f"Using AsyncHyperBand: num_stopped={self._num_stopped}"]
        for rungs in self._rungs:
            parts = []
            for milestone, recorded in rungs.items():
                cutoff = asha_cutoff(list(recorded.values()), self._reduction_factor)
                parts.append(f"Iter {milestone:.3f}: {cutoff}")
            lines.append("Bracket: " + ", ".join(parts))
        return "\n".join(lines)

    def _state(self) -> dict[str, Any]:
        return {
            **super()._state(),
            "rungs": self._rungs,
            "bracket_of": self._bracket_of,
            "num_stopped": self._num_stopped,
            "rng": self._rng,
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        super()._set_state(state)
        self._rungs = state["rungs"]
        self._ranked = _ranked_rungs(self._rungs)
        self._bracket_of = state["bracket_of"]
        self._num_stopped = state["num_stopped"]
        self._rng = state["rng"]


ASHAScheduler = AsyncHyperBandScheduler


def _ranked_rungs(rungs: list[dict[float, dict[str, float]]]) -> list[dict[float, list[float]]]:
    """Each rung's recorded scores, sorted and without NaN (what the cutoff needs)."""
    return [{m: sorted(v for v in recorded.values() if not math.isnan(v)) for m, recorded in bracket.items()} for bracket in rungs]


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
