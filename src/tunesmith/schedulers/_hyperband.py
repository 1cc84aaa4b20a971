"""Synchronous HyperBand (Li et al. 2018, "Hyperband: A Novel Bandit-Based Approach to
Hyperparameter Optimization") and the variant BOHB pairs with.

HyperBand runs successive halving in brackets ``s = 0 .. s_max`` (``s_max = floor(log_eta R)``).
Bracket ``s`` starts ``n = ceil((s_max + 1) / (s + 1) * eta**s)`` trials with resource
``r = R * eta**-s``; at stage ``i`` its trials have trained to ``r_i = r * eta**i`` and the top
``floor(n_i / eta)`` go on. Here a trial that reaches its bracket's milestone is PAUSED; once
every live trial of the bracket is there, the best continue (the reporting one directly, the
paused ones through :meth:`choose_trial_to_run`) and the others are stopped (paused ones
through :meth:`pop_trials_to_stop`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, Sequence

from tunesmith.experiment._trial import TrialStatus
from tunesmith.schedulers._hyperband_scheduler import HyperBandScheduler, _HyperBandBase
from tunesmith.schedulers._trial_scheduler import Decision

if TYPE_CHECKING:
    from tunesmith.experiment._trial import Trial

__all__ = [
    "HyperBandForBOHB",
    "HyperBandScheduler",
    "hyperband_bracket",
    "hyperband_max_halvings",
    "hyperband_num_to_keep",
]

_TOLERANCE = 1e-9


def _exact_ints(*values: Any) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def hyperband_max_halvings(max_t: float, eta: float) -> int:
    """``s_max = floor(log_eta(max_t))``, at least 0.

    Example:
        >>> hyperband_max_halvings(81, 3)
        4
    """
    s = 0
    while eta ** (s + 1) <= max_t * (1 + _TOLERANCE):
        s += 1
    return s


def hyperband_bracket(max_t: float, eta: float, s: int, s_max: int | None = None) -> list[tuple[int, float]]:
    """The plan of bracket ``s``: ``(n_i, r_i)`` for each stage ``i = 0 .. s``.

    Following Algorithm 1 of the paper with ``B = (s_max + 1) R``:
    ``n = ceil(B / R * eta**s / (s + 1))``, ``r = R * eta**-s``, ``n_i = floor(n * eta**-i)``,
    ``r_i = r * eta**i``. With integer ``max_t`` and ``eta`` the ``r_i`` are floored to ints
    (exact when ``max_t`` is a power of ``eta``).

    Args:
        max_t: ``R``, the most resource one trial gets.
        eta: The reduction factor.
        s: The bracket (number of halvings).
        s_max: Defaults to :func:`hyperband_max_halvings`.

    Example:
        >>> hyperband_bracket(81, 3, 3)
        [(34, 3), (11, 9), (3, 27), (1, 81)]
    """
    if s_max is None:
        s_max = hyperband_max_halvings(max_t, eta)
    if _exact_ints(max_t, eta):
        n = -(-(s_max + 1) * eta**s // (s + 1))
        return [(n // eta**i, max_t // eta ** (s - i)) for i in range(s + 1)]
    n = math.ceil((s_max + 1) * eta**s / (s + 1) - _TOLERANCE)
    return [(math.floor(n / eta**i + _TOLERANCE), max_t / eta ** (s - i)) for i in range(s + 1)]


def hyperband_num_to_keep(num_trials: int, eta: float) -> int:
    """How many of ``num_trials`` trials at a milestone go on: ``floor(num_trials / eta)``, at least 1.

    Example:
        >>> hyperband_num_to_keep(34, 3), hyperband_num_to_keep(2, 3)
        (11, 1)
    """
    return max(1, math.floor(num_trials / eta + _TOLERANCE))


@dataclasses.dataclass
class _Bracket:
    """One bracket's progress. ``live`` maps each live trial to its score at the current
    milestone, None while it has not reached it."""

    s: int
    plan: list[tuple[int, float]]
    stage: int = 0
    members: list[str] = dataclasses.field(default_factory=list)
    live: dict[str, float | None] = dataclasses.field(default_factory=dict)
    promoted: set[str] = dataclasses.field(default_factory=set)
    progress: dict[str, float] = dataclasses.field(default_factory=dict)
    last_score: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def milestone(self) -> float:
        return self.plan[self.stage][1]

    def add(self, trial_id: str) -> None:
        self.members.append(trial_id)
        self.live[trial_id] = None
        self.progress[trial_id] = 0.0

    def resumable(self, trial: Trial) -> bool:
        """Whether a waiting live ``trial`` may run: it won its halving."""
        return trial.trial_id in self.promoted

    def accepting(self) -> bool:
        return self.stage == 0 and len(self.members) < self.plan[0][0]

    def full(self) -> bool:
        return len(self.members) >= self.plan[0][0]

    def final(self) -> bool:
        return self.stage == len(self.plan) - 1

    def all_arrived(self) -> bool:
        return bool(self.live) and all(v is not None for v in self.live.values())

    def completion(self) -> float:
        work, previous = 0.0, 0.0
        for n, r in self.plan:
            work += n * (r - previous)
            previous = r
        return min(1.0, sum(self.progress.values()) / work) if work else 1.0


class _PaperHyperBand(_HyperBandBase):
    """Synchronous HyperBand with the paper's bracket plans (the base of :class:`HyperBandForBOHB`).

    Trials are assigned to brackets as they are added, a band of ``s_max + 1`` brackets
    is then followed by a new band. Pausing needs trainables that checkpoint and restore.
    :class:`HyperBandScheduler` follows Ray Tune's bracket arithmetic instead; both share
    their options, trial hooks and choice of the next trial.

    Args:
        time_attr: The result key that measures progress (monotonically increasing).
        metric: The result key to optimise; None takes ``TuneConfig.metric``.
        mode: ``"min"`` or ``"max"``; None takes ``TuneConfig.mode``.
        max_t: ``R``: the most ``time_attr`` one trial trains for.
        reduction_factor: ``eta``.
        stop_last_trials: Stop trials of the last stage at ``max_t``; False lets them run
            until they end by themselves.

    Raises:
        ValueError: For ``max_t <= 0``, ``reduction_factor <= 1`` or a bad ``mode``.
        TuneError: At the first result, when it lacks ``time_attr`` or the metric.

    """

    def _init_bands(self) -> None:
        self._s_max = hyperband_max_halvings(self._max_t, self._eta)

    def bracket_plans(self) -> list[list[tuple[int, float]]]:
        """``(n_i, r_i)`` of each bracket of a band, in the order brackets are filled."""
        return [hyperband_bracket(self._max_t, self._eta, s, self._s_max) for s in self._bracket_order()]

    def _bracket_order(self) -> list[int]:
        return list(range(self._s_max + 1))

    # -- adding trials -------------------------------------------------------------------
    def _open_bracket(self) -> _Bracket:
        if self._bands and self._bands[-1] and self._bands[-1][-1].accepting():
            return self._bands[-1][-1]
        order = self._bracket_order()
        if not self._bands or len(self._bands[-1]) == len(order):
            self._bands.append([])
        s = order[len(self._bands[-1])]
        bracket = _Bracket(s=s, plan=hyperband_bracket(self._max_t, self._eta, s, self._s_max))
        self._bands[-1].append(bracket)
        return bracket

    # -- results -------------------------------------------------------------------------
    def _on_bracket_result(self, bracket: _Bracket, trial_id: str, result: dict[str, Any]) -> Decision:
        t = result[self._time_attr]
        bracket.progress[trial_id] = t
        bracket.last_score[trial_id] = self._score(result)
        if bracket.final():
            if self._stop_last_trials and t >= bracket.milestone:
                self._drop(bracket, trial_id)
                return Decision.STOP
            return Decision.CONTINUE
        if t < bracket.milestone:
            return Decision.CONTINUE
        self._arrive(bracket, trial_id, result)
        return self._settle(bracket, trial_id, force=False)

    def _arrive(self, bracket: _Bracket, trial_id: str, result: dict[str, Any] | None) -> None:
        bracket.live[trial_id] = bracket.last_score[trial_id]
        bracket.promoted.discard(trial_id)

    def _ready(self, bracket: _Bracket, force: bool) -> bool:
        return not bracket.final() and bracket.all_arrived()

    def _settle(self, bracket: _Bracket, current: str | None, force: bool) -> Decision:
        """Halve while every live trial is at the milestone; return the reporting trial's decision."""
        while self._ready(bracket, force):
            self._halve(bracket, current)
        if current is None:
            return Decision.CONTINUE
        if current not in bracket.live:
            return Decision.STOP
        if bracket.final() or bracket.live[current] is None:
            bracket.promoted.discard(current)
            return Decision.CONTINUE
        return Decision.PAUSE

    def _halve(self, bracket: _Bracket, current: str | None) -> None:
        arrived = list(bracket.live.items())
        keep = hyperband_num_to_keep(len(arrived), self._eta)
        ranked = sorted(arrived, key=lambda item: item[1], reverse=True)
        winners = {trial_id for trial_id, _ in ranked[:keep]}
        bracket.stage += 1
        for trial_id, _ in arrived:
            if trial_id not in winners:
                self._drop(bracket, trial_id)
                self._num_stopped += 1
                if trial_id != current:
                    self._request_stop(trial_id)
        for trial_id in winners:
            self._promote(bracket, trial_id, current)

    def _promote(self, bracket: _Bracket, trial_id: str, current: str | None) -> None:
        bracket.live[trial_id] = None
        if trial_id != current:
            bracket.promoted.add(trial_id)
        if bracket.progress[trial_id] < bracket.milestone:
            return
        if not bracket.final():
            self._arrive(bracket, trial_id, None)  # already past the next milestone too
        elif self._stop_last_trials:
            self._drop(bracket, trial_id)
            if trial_id != current:
                self._request_stop(trial_id)

    def _drop(self, bracket: _Bracket, trial_id: str) -> None:
        bracket.live.pop(trial_id, None)
        bracket.promoted.discard(trial_id)

    # -- trials that end -----------------------------------------------------------------
    def _forget(self, trial: Trial) -> None:
        bracket = self._bracket_of.get(trial.trial_id)
        if bracket is None:
            return
        bracket.live.pop(trial.trial_id, None)
        bracket.promoted.discard(trial.trial_id)
        self._settle(bracket, None, force=False)

    def debug_string(self) -> str:
        lines = [f"Using HyperBand: num_stopped={self._num_stopped} total_brackets={sum(map(len, self._bands))}"]
        for index, band in enumerate(self._bands):
            lines.append(f"Round #{index}:")
            for b in band:
                lines.append(
                    f"  Bracket(s={b.s}, stage={b.stage}, milestone={b.milestone}, "
                    f"live={len(b.live)}/{len(b.members)}, completion={b.completion():.0%})"
                )
        return "\n".join(lines)



class HyperBandForBOHB(_PaperHyperBand):
    """HyperBand as BOHB (``TuneBOHB``) needs it: largest bracket first, and full brackets.

    Differences from :class:`HyperBandScheduler` (which follows Ray Tune's bracket arithmetic; this
    one uses the paper's plans, :func:`hyperband_bracket`):

    - brackets are filled from ``s = s_max`` (most trials, most halvings) down to 0;
    - a trial at a milestone is paused until the bracket is full *and* all its trials are
      there; when nothing runs any more and no new trial arrives, :meth:`choose_trial_to_run`
      halves a bracket that is not full so the experiment never stalls;
    - each result that reaches a milestone gets ``"hyperband_info/budget"`` (the milestone),
      which BOHB's searcher reads.

    Raises:
        ValueError: At :meth:`on_trial_add` when no metric or mode is known.
    """

    def _bracket_order(self) -> list[int]:
        return list(range(self._s_max, -1, -1))

    def _arrive(self, bracket: _Bracket, trial_id: str, result: dict[str, Any] | None) -> None:
        super()._arrive(bracket, trial_id, result)
        if result is not None:
            result["hyperband_info/budget"] = bracket.milestone

    def _ready(self, bracket: _Bracket, force: bool) -> bool:
        return super()._ready(bracket, force) and (force or bracket.full())

    def choose_trial_to_run(self, trials: Sequence[Trial]) -> Trial | None:
        trial = super().choose_trial_to_run(trials)
        if trial is not None or any(t.status == TrialStatus.RUNNING for t in self._live.values()):
            return trial
        for band in self._bands:
            for bracket in band:
                if self._ready(bracket, force=True):
                    self._settle(bracket, None, force=True)
                    return super().choose_trial_to_run(trials)
        return None
