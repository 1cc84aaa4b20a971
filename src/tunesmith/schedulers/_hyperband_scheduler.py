"""``HyperBandScheduler``: synchronous HyperBand with Ray Tune's bracket arithmetic and decisions.

A band holds ``s_max + 1`` brackets, ``s_max + 1 = round(log_eta(max_t)) + 1``, filled in the
order trials are added: bracket ``s = 0, 1, ...`` takes ``n_0 = ceil((s_max + 1) / (s + 1) *
eta**s)`` trials that first train to ``r_0 = int(max_t * eta**-s)`` (a bracket whose ``r_0``
would be 0 is skipped). A trial that reaches its bracket's milestone is PAUSED until every
live trial of the bracket is there; then the best ``ceil(n / eta)`` (``n`` the bracket's
planned size, not its live count) go on to ``min(r * eta, max_t)`` and the others are
stopped. At the last milestone the bracket waits for all its trials again, then stops them.
These are the decisions Ray Tune 2.60 takes, one for one (``tests/schedulers`` replays the
same trial adds and results through both).
"""

from __future__ import annotations

import abc
import dataclasses
import math
from typing import TYPE_CHECKING, Any, Sequence

from tunesmith.experiment._trial import TrialStatus
from tunesmith.schedulers._scheduler_base import _SchedulerBase
from tunesmith.schedulers._trial_scheduler import Decision

if TYPE_CHECKING:
    from tunesmith.experiment._trial import Trial

__all__ = ["HyperBandScheduler"]


@dataclasses.dataclass
class _Bracket:
    """One bracket. ``live`` maps each live trial id to the time and signed score of its last
    result (None before its first); ``halvings_left`` counts down to the last stage."""

    size: int
    milestone: int
    max_t: float
    eta: float
    halvings_left: int
    stop_last_trials: bool
    total_work: float
    done_work: float = 0.0
    processed: bool = False
    members: list[str] = dataclasses.field(default_factory=list)
    live: dict[str, tuple[float, float] | None] = dataclasses.field(default_factory=dict)
    to_resume: set[str] = dataclasses.field(default_factory=set)

    def add(self, trial_id: str) -> None:
        self.members.append(trial_id)
        self.live[trial_id] = None

    def resumable(self, trial: Trial) -> bool:
        """Whether a waiting live ``trial`` may run: it is PAUSED and won its halving."""
        return trial.status == TrialStatus.PAUSED and trial.trial_id in self.to_resume

    def time_of(self, trial_id: str) -> float:
        entry = self.live[trial_id]
        return 0 if entry is None else entry[0]

    def filled(self) -> bool:
        return len(self.live) == self.size

    def all_at_milestone(self) -> bool:
        return all(self.time_of(trial_id) >= self.milestone for trial_id in self.live)

    def finished(self) -> bool:
        return self.stop_last_trials and self.halvings_left == 0 and self.all_at_milestone()

    def keeps_going(self, trial_id: str) -> bool:
        """Whether ``trial_id`` continues without waiting for the bracket."""
        if self.halvings_left == 0 and not self.stop_last_trials:
            return True
        return self.time_of(trial_id) < self.milestone

    def record(self, trial_id: str, t: float, score: float) -> None:
        self.done_work += t - self.time_of(trial_id)
        self.live[trial_id] = (t, score)
        self.to_resume.discard(trial_id)

    def halve(self) -> tuple[list[str], list[str]]:
        """Advance one stage: the winners (best last) and the losers."""
        if self.halvings_left == 0:
            return list(self.live), []
        self.halvings_left -= 1
        self.size = math.ceil(self.size / self.eta)
        self.milestone = int(min(self.milestone * self.eta, self.max_t))
        ranked = sorted(self.live, key=lambda trial_id: self.live[trial_id][1])  # stable: ties keep add order
        return ranked[-self.size :], ranked[: -self.size]

    def completion(self) -> float:
        if self.finished():
            return 1.0
        return min(self.done_work / self.total_work, 1.0) if self.total_work else 1.0


def _total_work(n: int, r: int, s: int, eta: float, max_t: float) -> float:
    """The bracket's planned work, computed as Ray Tune does (it orders brackets by completion)."""
    work, first_r = 0, r
    for _ in range(s + 1):
        work += int(n) * int(r)
        n = math.ceil(n / eta)
        r = int(min(r * eta, max_t - first_r))
    return work


class _HyperBandBase(_SchedulerBase, abc.ABC):
    """What both synchronous HyperBands share: their options, brackets in bands, the trial
    hooks and who runs next. A subclass opens brackets (:meth:`_open_bracket`), decides on a
    live trial's result (:meth:`_on_bracket_result`) and forgets an ended trial
    (:meth:`_forget`); its brackets have ``members``, ``live`` (trial id to its state, in
    the order added), ``add(trial_id)``, ``resumable(trial)`` and ``completion()``.
    """

    _supports_buffered_results = False

    def __init__(
        self,
        time_attr: str = "training_iteration",
        metric: str | None = None,
        mode: str | None = None,
        max_t: float = 81,
        reduction_factor: float = 3,
        stop_last_trials: bool = True,
    ) -> None:
        name = type(self).__name__
        if not max_t > 0:
            raise ValueError(f"{name}: max_t must be > 0, got {max_t!r}.")
        if not reduction_factor > 1:
            raise ValueError(f"{name}: reduction_factor must be > 1, got {reduction_factor!r}.")
        super().__init__(metric, mode)
        self._time_attr = time_attr
        self._max_t = max_t
        self._eta = reduction_factor
        self._stop_last_trials = stop_last_trials
        self._bands: list[list[Any]] = []
        self._bracket_of: dict[str, Any] = {}
        self._num_stopped = 0
        self._init_bands()

    def _init_bands(self) -> None:
        """Set up the subclass's bracket arithmetic (the options are set by then)."""

    @abc.abstractmethod
    def _open_bracket(self) -> Any:
        """A new bracket of this HyperBand's arithmetic, added to the current band."""

    @abc.abstractmethod
    def _on_bracket_result(self, bracket: Any, trial_id: str, result: dict[str, Any]) -> Decision:
        """The decision on a live trial's ``result`` in its ``bracket``."""

    @abc.abstractmethod
    def _forget(self, trial: Trial) -> None:
        """Drop an ended ``trial`` from its bracket."""

    # -- adding trials -------------------------------------------------------------------
    def on_trial_add(self, trial: Trial) -> None:
        self._require_metric_and_mode()
        self._bind(trial)
        if trial.trial_id in self._bracket_of:
            return  # added again after a restore
        bracket = self._open_bracket()
        bracket.add(trial.trial_id)
        self._bracket_of[trial.trial_id] = bracket

    # -- results -------------------------------------------------------------------------
    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        if not self._has_keys(result, self._time_attr):
            return Decision.CONTINUE
        bracket = self._bracket_of.get(trial.trial_id)
        if bracket is None or trial.trial_id not in bracket.live:
            return Decision.CONTINUE
        return self._on_bracket_result(bracket, trial.trial_id, result)

    # -- trials that end -----------------------------------------------------------------
    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        self._forget(trial)

    def on_trial_remove(self, trial: Trial) -> None:
        self._forget(trial)

    def on_trial_error(self, trial: Trial) -> None:
        self._forget(trial)

    # -- who runs next -------------------------------------------------------------------
    def choose_trial_to_run(self, trials: Sequence[Trial]) -> Trial | None:
        """A PENDING trial, or a PAUSED one that won its halving; least complete bracket first."""
        waiting = {t.trial_id: t for t in trials}
        for band in self._bands:
            # brackets with no live trial left have nothing to run: skip them before sorting
            for bracket in sorted((b for b in band if b is not None and b.live), key=lambda b: b.completion()):
                for trial_id in bracket.live:  # the live members, in the order they were added
                    trial = waiting.get(trial_id)
                    if trial is not None and (trial.status == TrialStatus.PENDING or bracket.resumable(trial)):
                        return trial
        for trial in trials:
            if trial.trial_id not in self._bracket_of and trial.status == TrialStatus.PENDING:
                return trial
        return None

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "bands": self._bands, "bracket_of": self._bracket_of, "num_stopped": self._num_stopped}

    def _set_state(self, state: dict[str, Any]) -> None:
        super()._set_state(state)
        self._bands = state["bands"]
        self._bracket_of = state["bracket_of"]
        self._num_stopped = state["num_stopped"]


class HyperBandScheduler(_HyperBandBase):
    """Synchronous HyperBand: pause trials at each milestone and continue the best ``1/eta``.

    Brackets are filled in the order trials are added (``s = 0``, no early stopping, first),
    and every continue/pause/stop decision is Ray Tune 2.60's (see the module docstring).
    Pausing needs trainables that checkpoint and restore.

    Args:
        time_attr: The result key that measures progress (monotonically increasing).
        metric: The result key to optimise; None takes ``TuneConfig.metric``.
        mode: ``"min"`` or ``"max"``; None takes ``TuneConfig.mode``.
        max_t: The most ``time_attr`` one trial trains for.
        reduction_factor: ``eta``.
        stop_last_trials: Stop the trials of a bracket's last stage once all are at its
            milestone; False lets them run until they end by themselves.

    Raises:
        ValueError: For ``max_t <= 0``, ``reduction_factor <= 1`` or a bad ``mode``.
        TuneError: At the first result, when it lacks ``time_attr`` or the metric.

    Example:
        >>> from tunesmith.schedulers import HyperBandScheduler
        >>> HyperBandScheduler(metric="acc", mode="max", max_t=9, reduction_factor=3).bracket_plans()
        [[(3, 9)], [(5, 3), (2, 9)], [(9, 1), (3, 3), (1, 9)]]
    """

    def _init_bands(self) -> None:
        self._band_size = int(round(math.log(self._max_t) / math.log(self._eta))) + 1
        self._bands: list[list[_Bracket | None]] = [[]]
        self._current: _Bracket | None = None

    # -- bracket arithmetic ------------------------------------------------------------------
    def _first_size(self, s: int) -> int:
        return math.ceil(self._band_size / (s + 1) * self._eta**s)

    def _first_milestone(self, s: int) -> int:
        return int(self._max_t * self._eta ** (-s))

    def bracket_plans(self) -> list[list[tuple[int, int]]]:
        """``(n_i, r_i)`` of each stage of each bracket of a band, in the order they are filled."""
        plans = []
        for s in range(self._band_size):
            n, r = self._first_size(s), self._first_milestone(s)
            if r == 0:
                continue
            plan = [(n, r)]
            for _ in range(s):
                n, r = math.ceil(n / self._eta), int(min(r * self._eta, self._max_t))
                plan.append((n, r))
            plans.append(plan)
        return plans

    def _new_bracket(self, s: int) -> _Bracket:
        n, r = self._first_size(s), self._first_milestone(s)
        return _Bracket(
            size=n,
            milestone=r,
            max_t=self._max_t,
            eta=self._eta,
            halvings_left=s,
            stop_last_trials=self._stop_last_trials,
            total_work=_total_work(n, r, s, self._eta, self._max_t),
        )

    # -- adding trials -------------------------------------------------------------------
    def _open_bracket(self) -> _Bracket:
        if self._current is not None and not self._current.filled():
            return self._current
        while True:
            if len(self._bands[-1]) == self._band_size:
                self._bands.append([])
            band = self._bands[-1]
            s = len(band)
            bracket = self._new_bracket(s) if self._first_milestone(s) > 0 else None
            band.append(bracket)  # a bracket too small to run keeps its place as None
            if bracket is not None:
                self._current = bracket
                return bracket

    # -- results -------------------------------------------------------------------------
    def _on_bracket_result(self, bracket: _Bracket, trial_id: str, result: dict[str, Any]) -> Decision:
        bracket.record(trial_id, result[self._time_attr], self._score(result))
        if bracket.keeps_going(trial_id):
            return Decision.CONTINUE
        return self._process(bracket, trial_id)

    def _process(self, bracket: _Bracket, current: str | None) -> Decision:
        """Halve the bracket if all its live trials are at the milestone; the decision for ``current``."""
        decision = Decision.PAUSE
        if not bracket.all_at_milestone():
            return decision
        if bracket.finished():
            for trial_id in list(bracket.live):
                if trial_id != current:
                    self._stop_other(bracket, trial_id)
            return Decision.STOP
        bracket.processed = True
        winners, losers = bracket.halve()
        self._num_stopped += len(losers)
        for trial_id in losers:
            decision = self._stop(bracket, trial_id, current, decision)
        for trial_id in winners:
            if bracket.keeps_going(trial_id):
                if trial_id == current:
                    decision = Decision.CONTINUE
                elif self._trials[trial_id].status != TrialStatus.PENDING:
                    bracket.to_resume.add(trial_id)
            elif bracket.finished():
                decision = self._stop(bracket, trial_id, current, decision)
        return decision

    def _stop(self, bracket: _Bracket, trial_id: str, current: str | None, decision: Decision) -> Decision:
        if trial_id == current:
            bracket.live.pop(trial_id, None)
            return Decision.STOP
        self._stop_other(bracket, trial_id)
        return decision

    def _stop_other(self, bracket: _Bracket, trial_id: str) -> None:
        bracket.live.pop(trial_id, None)
        bracket.to_resume.discard(trial_id)
        self._request_stop(trial_id)

    # -- trials that end -----------------------------------------------------------------
    def _forget(self, trial: Trial) -> None:
        """Drop an ended trial; the rest of its bracket may now be complete (Ray Tune only
        re-checks before the bracket's first halving and can then leave paused trials waiting
        for ever: here the bracket is re-checked after every stage)."""
        bracket = self._bracket_of.get(trial.trial_id)
        if bracket is None or trial.trial_id not in bracket.live:
            return
        bracket.live.pop(trial.trial_id)
        bracket.to_resume.discard(trial.trial_id)
        if bracket.live and not bracket.finished():
            self._process(bracket, None)

    def debug_string(self) -> str:
        total = sum(1 for band in self._bands for b in band if b is not None)
        lines = [f"Using HyperBand: num_stopped={self._num_stopped} total_brackets={total}"]
        for index, band in enumerate(self._bands):
            lines.append(f"Round #{index}:")
            for b in band:
                if b is None:
                    continue
                counts: dict[str, int] = {}
                for trial_id in b.members:
                    status = str(getattr(self._trials[trial_id].status, "value", self._trials[trial_id].status))
                    counts[status] = counts.get(status, 0) + 1
                statuses = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
                lines.append(
                    f"  Bracket(Max Size (n)={b.size}, Milestone (r)={b.milestone}, "
                    f"completed={b.completion():.1%}): {{{statuses}}}"
                )
        return "\n".join(lines)

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "current": self._current}

    def _set_state(self, state: dict[str, Any]) -> None:
        super()._set_state(state)
        self._current = state["current"]
