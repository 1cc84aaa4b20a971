"""The scheduler interface: after each result, continue, pause or stop the trial."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from tunesmith.experiment._trial import Trial

__all__ = ["Decision", "FIFOScheduler", "TrialScheduler"]


class Decision(str, enum.Enum):
    """What the controller does with a trial after one of its results."""

    CONTINUE = "CONTINUE"
    PAUSE = "PAUSE"
    STOP = "STOP"
    NOOP = "NOOP"

    def ends_attempt(self) -> bool:
        return self in (Decision.PAUSE, Decision.STOP)


class TrialScheduler:
    """Base class for trial schedulers.

    Schedulers see trials and results only, never the controller or the executor. Every
    hook has a default, so a subclass overrides what it needs. Results arrive flattened
    (``{"a/b": 1}`` for ``{"a": {"b": 1}}``).

    Example:
        >>> class StopAtTen(TrialScheduler):
        ...     def on_trial_result(self, trial, result):
        ...         if result["training_iteration"] >= 10:
        ...             return Decision.STOP
        ...         return Decision.CONTINUE
    """

    CONTINUE = Decision.CONTINUE
    PAUSE = Decision.PAUSE
    STOP = Decision.STOP
    NOOP = Decision.NOOP

    _metric: str | None = None
    _mode: str | None = None
    _supports_buffered_results = True

    @property
    def metric(self) -> str | None:
        return self._metric

    @property
    def mode(self) -> str | None:
        """``"min"``, ``"max"`` or None (not known yet)."""
        return self._mode

    @mode.setter
    def mode(self, value: str | None) -> None:  # subclasses written for Ray may assign self.mode
        self._mode = value

    @property
    def supports_buffered_results(self) -> bool:
        return self._supports_buffered_results

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        """Take the experiment's metric and mode unless the scheduler has its own.

        Returns:
            False if the scheduler already has a different metric or mode (a conflict).
        """
        if self._metric and metric and self._metric != metric:
            return False
        if self._mode and mode and self._mode != mode:
            return False
        if metric and not self._metric:
            self._metric = metric
        if mode and not self._mode:
            self._mode = mode
        return True

    def set_total_resources(self, total_resources: Any) -> None:
        """The executor's resource totals, e.g. ``{"cpu": 8, "gpu": 2}``, before the first trial
        (the default ignores them)."""

    def on_trial_add(self, trial: Trial) -> None:
        """A new trial was created (it is PENDING)."""

    def on_trial_error(self, trial: Trial) -> None:
        """The trial failed for good."""

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        """A running trial reported ``result``; decide what happens next."""
        return Decision.CONTINUE

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        """The trial finished normally (its function returned or a stopper ended it)."""

    def on_trial_remove(self, trial: Trial) -> None:
        """The trial was stopped by this scheduler or ended for another reason."""

    def choose_trial_to_run(self, trials: Sequence[Trial]) -> Trial | None:
        """Pick the next trial to start from ``trials`` (PENDING and PAUSED ones, oldest first)."""
        for status in ("PENDING", "PAUSED"):
            for trial in trials:
                if trial.status == status:
                    return trial
        return None

    def pop_trials_to_stop(self) -> list[Trial]:
        """Trials other than the one reporting that the scheduler has decided to stop.

        The controller calls this after every hook and ends each returned trial as
        TERMINATED (a synchronous HyperBand stops the losers of a halving this way).
        """
        return []

    def debug_string(self) -> str:
        return type(self).__name__

    def save(self, checkpoint_path: str) -> None:
        """Save scheduler state to ``checkpoint_path`` (default: nothing to save)."""

    def restore(self, checkpoint_path: str) -> None:
        """Restore what :meth:`save` wrote."""


class FIFOScheduler(TrialScheduler):
    """Run trials in the order they were added; never pause or stop them early."""
