"""The median stopping rule (Golovin et al. 2017, "Google Vizier"): stop a trial whose best
score is worse than the median of the other trials' running means at the same point."""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING, Any, Sequence

from tunesmith.schedulers._scheduler_base import _SchedulerBase
from tunesmith.schedulers._trial_scheduler import Decision

if TYPE_CHECKING:
    from tunesmith.experiment import Trial

__all__ = ["MedianStoppingRule", "median_should_stop", "running_mean"]


def running_mean(history: Sequence[tuple[float, float]], start: float, end: float) -> float:
    """Mean of the scores reported at times ``start <= t <= end``; NaN when there are none.

    Args:
        history: ``(time, score)`` pairs in the order they were reported.
        start: The grace period (earlier scores are not counted).
        end: The time of the trial being judged.

    Example:
        >>> running_mean([(1, 1.0), (2, 3.0), (3, 8.0)], 2, 3)
        5.5
    """
    scoped = [score for t, score in history if start <= t <= end]
    return sum(scoped) / len(scoped) if scoped else math.nan


def median_should_stop(best: float, running_means: Sequence[float]) -> bool:
    """Whether a trial whose best score is ``best`` is worse than the median of ``running_means``.

    Scores are signed so that higher is better; NaN means are ignored. A tie continues.

    Example:
        >>> median_should_stop(2.0, [1.0, 3.0, 5.0]), median_should_stop(3.0, [1.0, 3.0, 5.0])
        (True, False)
    """
    means = [m for m in running_means if not math.isnan(m)]
    return bool(means) and statistics.median(means) > best


class MedianStoppingRule(_SchedulerBase):
    """Stop trials whose best result is worse than the median of the others' running means.

    After ``grace_period``, when a trial reports at time ``t``, the other trials that have
    reached ``t`` each contribute the mean of their scores between ``grace_period`` and
    ``t``; if the trial's best score so far is worse than the median of those means, it is
    stopped (or paused when ``hard_stop=False``; a paused trial that is resumed later runs
    to its end). With fewer than ``min_samples_required`` such trials it continues, or
    pauses to let waiting trials run once ``min_time_slice`` has passed since its last
    pause.

    Args:
        time_attr: The result key that measures progress.
        metric: The result key to optimise; None takes ``TuneConfig.metric``.
        mode: ``"min"`` or ``"max"``; None takes ``TuneConfig.mode``.
        grace_period: No trial is stopped before ``time_attr`` reaches it.
        min_samples_required: Fewest other trials needed to compute a median.
        min_time_slice: Least ``time_attr`` between two pauses of one trial.
        hard_stop: Stop (True) or pause (False) the trials that fall below the median.

    Raises:
        ValueError: For a negative ``grace_period`` or ``min_time_slice``,
            ``min_samples_required < 1``, or a bad ``mode``.

    Example:
        >>> from tunesmith.schedulers import MedianStoppingRule
        >>> MedianStoppingRule(metric="loss", mode="min", grace_period=10).debug_string()
        'Using MedianStoppingRule: num_stopped=0.'
    """

    def __init__(
        self,
        time_attr: str = "time_total_s",
        metric: str | None = None,
        mode: str | None = None,
        grace_period: float = 60.0,
        min_samples_required: int = 3,
        min_time_slice: float = 0,
        hard_stop: bool = True,
    ) -> None:
        name = type(self).__name__
        if grace_period < 0:
            raise ValueError(f"{name}: grace_period must be >= 0, got {grace_period!r}.")
        if min_samples_required < 1:
            raise ValueError(f"{name}: min_samples_required must be >= 1, got {min_samples_required!r}.")
        if min_time_slice < 0:
            raise ValueError(f"{name}: min_time_slice must be >= 0, got {min_time_slice!r}.")
        super().__init__(metric, mode)
        self._time_attr = time_attr
        self._grace_period = grace_period
        self._min_samples_required = min_samples_required
        self._min_time_slice = min_time_slice
        self._hard_stop = hard_stop
        self._histories: dict[str, list[tuple[float, float]]] = {}
        self._stopped: set[str] = set()
        self._last_pause: dict[str, float] = {}

    def on_trial_add(self, trial: Trial) -> None:
        self._require_metric_and_mode()
        self._bind(trial)

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        if self._time_attr not in result or self._metric not in result:
            return Decision.CONTINUE
        if trial.trial_id in self._stopped:
            return Decision.CONTINUE  # paused below the median, then resumed: runs to its end
        t = result[self._time_attr]
        history = self._histories.setdefault(trial.trial_id, [])
        history.append((t, self._score(result)))
        if t < self._grace_period:
            return Decision.CONTINUE
        others = [h for i, h in self._histories.items() if i != trial.trial_id and h[-1][0] >= t]
        if len(others) < self._min_samples_required:
            return self._on_insufficient_samples(trial, t)
        means = [running_mean(h, self._grace_period, t) for h in others]
        if median_should_stop(max(score for _, score in history), means):
            self._stopped.add(trial.trial_id)
            return Decision.STOP if self._hard_stop else Decision.PAUSE
        return Decision.CONTINUE

    def _on_insufficient_samples(self, trial: Trial, t: float) -> Decision:
        slice_over = t - self._last_pause.get(trial.trial_id, -math.inf) > self._min_time_slice
        if slice_over and self._others_waiting(trial):
            self._last_pause[trial.trial_id] = t
            return Decision.PAUSE
        return Decision.CONTINUE

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        if self._time_attr not in result or self._metric not in result:
            return
        history = self._histories.setdefault(trial.trial_id, [])
        entry = (result[self._time_attr], self._score(result))
        if not history or history[-1] != entry:  # the last result may already be recorded
            history.append(entry)

    def debug_string(self) -> str:
        return f"Using MedianStoppingRule: num_stopped={len(self._stopped)}."

    def _state(self) -> dict[str, Any]:
        return {
            **super()._state(),
            "histories": self._histories,
            "stopped": self._stopped,
            "last_pause": self._last_pause,
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        super()._set_state(state)
        self._histories = state["histories"]
        self._stopped = state["stopped"]
        self._last_pause = state["last_pause"]
