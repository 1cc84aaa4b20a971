"""The scheduling core: the scheduler's side of the controller's contract, with no processes.

One :class:`SchedulingCore` holds the trials waiting to start (PENDING and PAUSED) and is
the only code that calls a :class:`~tunesmith.schedulers.TrialScheduler`'s hooks. The
:class:`~tunesmith.execution._controller.Controller` drives it with real trial processes;
:class:`tunesmith.testing.Simulator` drives it with fake training, so a scheduler tested on
the simulator meets the same contract as in an experiment:

- the waiting trials are given to ``choose_trial_to_run`` oldest first (in the order they
  were added; a paused trial goes back to its place, a failed trial being retried goes
  first);
- after every hook, the trials returned by ``pop_trials_to_stop()`` are taken out of the
  waiting list and handed to the owner's ``end_dropped`` callback, which ends them as
  TERMINATED (and calls :meth:`complete`);
- when the scheduler holds every waiting trial back while nothing runs and no new trial
  can come (the search has ended, or a PENDING trial waits first: the controller creates
  no trial while one does), the oldest waiting trial is started anyway (recorded in
  :attr:`forced`), so an experiment never waits forever;
- a PBT exploit (``trial.restore_checkpoint``) is used once, by the next attempt.
"""

from __future__ import annotations

import bisect
from typing import Any, Callable

from tunesmith.error import TuneError
from tunesmith.experiment._trial import Trial, TrialStatus
from tunesmith.schedulers import Decision, TrialScheduler

__all__ = ["SchedulingCore"]

_WAITING = (TrialStatus.PENDING, TrialStatus.PAUSED)


class SchedulingCore:
    """The waiting trials and every call into the scheduler, for one experiment.

    Args:
        scheduler: The experiment's scheduler.
        end_dropped: Called with each unfinished trial the scheduler stopped through
            ``pop_trials_to_stop()`` (already out of the waiting list); it must end the
            trial's attempt if one runs and call :meth:`complete`.
    """

    def __init__(self, scheduler: TrialScheduler, end_dropped: Callable[[Trial], None]) -> None:
        self.scheduler = scheduler
        self.waiting: list[Trial] = []  # PENDING and PAUSED, oldest first
        self.forced: list[Trial] = []  # started although the scheduler held them back
        self._end_dropped = end_dropped
        self._order: dict[str, int] = {}  # unfinished trial id -> when it was added
        self._added = 0

    # -- trials coming and going ----------------------------------------------------------------
    def add(self, trial: Trial) -> None:
        """A new (or restored) PENDING trial: it waits, and the scheduler is told."""
        if trial.trial_id not in self._order:
            self._order[trial.trial_id] = self._added
            self._added += 1
        self.waiting.append(trial)
        self.scheduler.on_trial_add(trial)
        self.drain_stops()

    def has_pending_first(self) -> bool:
        """Whether the oldest waiting trial is PENDING (one new trial is enough for now)."""
        return bool(self.waiting) and self.waiting[0].status is TrialStatus.PENDING

    def next_to_start(self, *, idle: bool, search_finished: bool) -> Trial | None:
        """The waiting trial the scheduler wants started next, or None.

        Args:
            idle: No trial is running.
            search_finished: The search will create no more trials.

        Raises:
            TuneError: ``choose_trial_to_run`` returned a trial that was not waiting.
        """
        while self.waiting:
            trial = self.scheduler.choose_trial_to_run(self.waiting)
            self.drain_stops()
            if trial is None:
                if idle and self.waiting and (search_finished or self.has_pending_first()):
                    # nothing runs and nothing new comes: never wait forever on a scheduler
                    self.forced.append(self.waiting[0])
                    return self.waiting[0]
                return None
            if trial.status.is_finished():
                continue  # stopped by pop_trials_to_stop just now
            if trial.status not in _WAITING or trial not in self.waiting:
                raise TuneError(
                    f"{type(self.scheduler).__name__}.choose_trial_to_run returned trial {trial}, which "
                    f"is not one of the PENDING/PAUSED trials it was given (it is {trial.status.value}); "
                    "return one of them or None"
                )
            return trial
        return None

    def started(self, trial: Trial) -> bool:
        """``trial`` starts an attempt (RUNNING); returns whether it was PAUSED."""
        was_paused = trial.status is TrialStatus.PAUSED
        self.waiting.remove(trial)
        trial.status = TrialStatus.RUNNING
        return was_paused

    @staticmethod
    def take_exploit(trial: Trial) -> Any:
        """The checkpoint of another trial that ``trial``'s next attempt starts from (PBT), once."""
        restore, trial.restore_checkpoint = trial.restore_checkpoint, None
        return restore

    def decide(self, trial: Trial, flat: dict[str, Any]) -> Decision:
        """The scheduler's decision on ``trial``'s flattened result."""
        decision = self.scheduler.on_trial_result(trial, flat)
        self.drain_stops()
        return Decision(decision.value if isinstance(decision, Decision) else str(decision).upper())

    def paused(self, trial: Trial) -> None:
        """``trial``'s attempt ended on a PAUSE: it waits again, in its place among the others."""
        trial.status = TrialStatus.PAUSED
        bisect.insort(self.waiting, trial, key=self._age)

    def retry(self, trial: Trial) -> None:
        """``trial`` failed and is tried again: PENDING, ahead of every other waiting trial."""
        trial.status = TrialStatus.PENDING
        self.waiting.insert(0, trial)

    def complete(self, trial: Trial, flat: dict[str, Any]) -> None:
        """``trial`` ended normally (TERMINATED); the scheduler is told."""
        trial.status = TrialStatus.TERMINATED
        self.scheduler.on_trial_complete(trial, flat)
        self.drain_stops()

    def errored(self, trial: Trial) -> None:
        """``trial`` failed for good (ERROR); the scheduler is told."""
        trial.status = TrialStatus.ERROR
        self.scheduler.on_trial_error(trial)
        self.drain_stops()

    def forget(self, trial: Trial) -> None:
        """``trial`` has ended for good and leaves the driver's memory: nothing of it is kept."""
        self._order.pop(trial.trial_id, None)

    def drain_stops(self) -> None:
        """End the unfinished trials the scheduler stopped while they were not reporting."""
        for trial in self.scheduler.pop_trials_to_stop():
            if trial.status.is_finished():
                continue
            if trial.status in _WAITING and trial in self.waiting:
                self.waiting.remove(trial)
            self._end_dropped(trial)

    def _age(self, trial: Trial) -> int:
        return self._order.get(trial.trial_id, self._added)
