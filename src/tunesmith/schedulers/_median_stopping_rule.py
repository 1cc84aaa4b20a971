"""The median stopping rule (Golovin et al. 2017, "Google Vizier"): stop a trial whose best
score is worse than the median of the other trials' running means at the same point."""

from __future__ import annotations

import bisect
import collections
import math
import statistics
from typing import TYPE_CHECKING, Any, Sequence

from tunesmith.schedulers._scheduler_base import _SchedulerBase
from tunesmith.schedulers._trial_scheduler import Decision

if TYPE_CHECKING:
    from tunesmith.experiment._trial import Trial

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
        TuneError: At the first result, when it lacks ``time_attr`` or the metric.

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
        self._histories: dict[str, _History] = {}
        self._stopped: set[str] = set()
        self._last_pause: dict[str, float] = {}
        self._means = _MeansAt(grace_period)

    def on_trial_add(self, trial: Trial) -> None:
        self._require_metric_and_mode()
        self._bind(trial)

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        if not self._has_keys(result, self._time_attr):
            return Decision.CONTINUE
        if trial.trial_id in self._stopped:
            return Decision.CONTINUE  # paused below the median, then resumed: runs to its end
        t = result[self._time_attr]
        history = self._record(trial.trial_id, t, self._score(result))
        if t < self._grace_period:
            return Decision.CONTINUE
        count, median = self._means.others(self._histories, trial.trial_id, t)
        if count < self._min_samples_required:
            return self._on_insufficient_samples(trial, t)
        if median is not None and median > history.best:
            self._stopped.add(trial.trial_id)
            return Decision.STOP if self._hard_stop else Decision.PAUSE
        return Decision.CONTINUE

    def _record(self, trial_id: str, t: float, score: float) -> _History:
        history = self._histories.setdefault(trial_id, _History())
        history.add(t, score)
        self._means.update(trial_id, history, t)
        return history

    def _on_insufficient_samples(self, trial: Trial, t: float) -> Decision:
        slice_over = t - self._last_pause.get(trial.trial_id, -math.inf) > self._min_time_slice
        if slice_over and self._others_waiting(trial):
            self._last_pause[trial.trial_id] = t
            return Decision.PAUSE
        return Decision.CONTINUE

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        if self._time_attr not in result or self._metric not in result:
            return
        history = self._histories.get(trial.trial_id)
        entry = (result[self._time_attr], self._score(result))
        if history is None or history.last() != entry:  # the last result may already be recorded
            self._record(trial.trial_id, *entry)

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
        self._means = _MeansAt(self._grace_period, disordered=not all(h.ordered for h in self._histories.values()))


class _History:
    """One trial's ``(time, score)`` results, in the order they came, and its best score."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.scores: list[float] = []
        self.best = math.nan
        self.ordered = True  # times never went down (a trial restored from an older checkpoint can)

    def add(self, t: float, score: float) -> None:
        if self.times and t < self.times[-1]:
            self.ordered = False
        if not self.scores or score > self.best:  # as max(): the first score, then strictly greater ones
            self.best = score
        self.times.append(t)
        self.scores.append(score)

    def last(self) -> tuple[float, float]:
        return self.times[-1], self.scores[-1]

    def mean(self, start: float, end: float) -> float:
        """:func:`running_mean` over this history; a slice instead of a scan when times are ordered."""
        if not self.ordered:
            return running_mean(list(zip(self.times, self.scores)), start, end)
        lo, hi = bisect.bisect_left(self.times, start), bisect.bisect_right(self.times, end)
        return sum(self.scores[lo:hi]) / (hi - lo) if hi > lo else math.nan


class _MeansAt:
    """The running means of every trial that has reached time ``t``, for recent ``t``s.

    Trials report at the same times over and over (``training_iteration`` 1, 2, ...), so the
    means at a ``t`` are computed once and then kept up to date as trials report, which
    makes each decision O(log n) instead of a pass over every trial's history. The
    numbers are those of :func:`running_mean` and :func:`median_should_stop` exactly.
    """

    _KEPT = 64  # most recent times kept; times that never repeat (time_total_s) just fall out

    def __init__(self, grace_period: float, disordered: bool = False) -> None:
        self._grace = grace_period
        self._disordered = disordered  # some history's times went down: no caching at all
        self._at: collections.OrderedDict[float, tuple[dict[str, float], list[float]]] = collections.OrderedDict()

    def update(self, trial_id: str, history: _History, t: float) -> None:
        """``trial_id`` reported at ``t``: its mean counts (or changes) wherever ``t`` reached."""
        if self._disordered or not history.ordered:
            self._disordered = True  # its past means changed; the plain computation takes over
            self._at.clear()
            return
        for at, (means, ranked) in self._at.items():
            if at > t or (trial_id in means and at != t):
                continue
            if trial_id in means and not math.isnan(means[trial_id]):
                ranked.pop(bisect.bisect_left(ranked, means[trial_id]))
            means[trial_id] = value = history.mean(self._grace, at)
            if not math.isnan(value):
                bisect.insort(ranked, value)

    def others(self, histories: dict[str, _History], trial_id: str, t: float) -> tuple[int, float | None]:
        """How many other trials reached ``t``, and the median of their running means (None: all NaN)."""
        if self._disordered:
            means = [running_mean(list(zip(h.times, h.scores)), self._grace, t)
                     for i, h in histories.items() if i != trial_id and h.times[-1] >= t]
            kept = sorted(m for m in means if not math.isnan(m))
            return len(means), statistics.median(kept) if kept else None
        means, ranked = self._entry(histories, t)
        own = means.get(trial_id)
        skip = bisect.bisect_left(ranked, own) if own is not None and not math.isnan(own) else None
        return len(means) - (trial_id in means), _median(ranked, skip)

    def _entry(self, histories: dict[str, _History], t: float) -> tuple[dict[str, float], list[float]]:
        entry = self._at.get(t)
        if entry is None:
            means = {i: h.mean(self._grace, t) for i, h in histories.items() if h.times[-1] >= t}
            entry = self._at[t] = (means, sorted(m for m in means.values() if not math.isnan(m)))
            if len(self._at) > self._KEPT:
                self._at.popitem(last=False)
        return entry


def _median(ranked: list[float], skip: int | None) -> float | None:
    """``statistics.median`` of the sorted ``ranked`` without the value at ``skip`` (None: all of them)."""
    n = len(ranked) - (skip is not None)
    if n <= 0:
        return None

    def at(rank: int) -> float:
        return ranked[rank + 1] if skip is not None and rank >= skip else ranked[rank]

    half = n // 2
    return at(half) if n % 2 else (at(half - 1) + at(half)) / 2
