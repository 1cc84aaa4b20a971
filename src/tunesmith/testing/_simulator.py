"""A simulated experiment: drive a scheduler with fake training, deterministically, in milliseconds.

The :class:`Simulator` drives a :class:`~tunesmith.schedulers.TrialScheduler` through the
same scheduling core as the experiment's controller (in the spirit of Syne Tune's simulator
backend), with fake training instead of trial processes. Trials are real
:class:`~tunesmith.experiment.Trial` objects; "training" one iteration calls the
learning-curve function ``curve(config, iteration) -> metric``. Each tick, every running
trial trains one iteration, in the order the trials were started. The contract is the
controller's:

- the scheduler sees the flattened result (with ``training_iteration``, ``time_total_s``,
  ``time_this_iter_s``, the metric, ``trial_id`` and ``config/...``) before the result's
  checkpoint is stored in ``trial.checkpoint`` (a :class:`SimulatedCheckpoint`, every
  ``checkpoint_frequency`` iterations);
- CONTINUE goes on; PAUSE ends the attempt (PAUSED); STOP ends the trial (TERMINATED) and
  calls ``on_trial_complete``; a trial that reaches ``max_iterations`` completes (one
  resumed after its last iteration completes at its next tick, reporting nothing);
- free slots are filled with ``choose_trial_to_run(PENDING and PAUSED trials, oldest
  first)``; a new attempt starts from ``trial.restore_checkpoint`` (then cleared) or
  ``trial.checkpoint``, at that checkpoint's iteration, with the trial's current config and
  resources (resources reserved at start are released at the end of the attempt);
- when the scheduler holds every waiting trial back while none runs, the oldest waiting
  trial is started anyway, as the controller does (such trials are listed by
  :meth:`Simulator.stranded`: a scheduler should not rely on this);
- after every hook, trials returned by the scheduler's ``pop_trials_to_stop()`` are ended
  as TERMINATED with ``on_trial_complete``.

Example:
    >>> from tunesmith.schedulers import ASHAScheduler
    >>> sim = Simulator(
    ...     ASHAScheduler(max_t=9, grace_period=1, reduction_factor=3),
    ...     curve=lambda config, t: config["q"] * t,
    ...     configs=[{"q": q} for q in (2, 0, 5, 1, 4.5, 3)],
    ...     metric="score", mode="max", num_slots=6, max_iterations=9)
    >>> [sim.run().iterations()[t.trial_id] for t in sim.trials]
    [9, 1, 9, 1, 9, 1]
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Callable, Mapping, Sequence

from tunesmith._flatten import flatten_dict
from tunesmith.execution._scheduling import SchedulingCore
from tunesmith.experiment._trial import Trial, TrialStatus
from tunesmith.schedulers import Decision, TrialScheduler

__all__ = ["SimulatedCheckpoint", "SimulationEvent", "SimulationLaunch", "Simulator"]

Curve = Callable[[dict[str, Any], int], float]
_WAITING = (TrialStatus.PENDING, TrialStatus.PAUSED)


@dataclasses.dataclass(frozen=True)
class SimulatedCheckpoint:
    """What a simulated trial saved: whose it is, at which iteration, trained with which config."""

    trial_id: str
    iteration: int
    config: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class SimulationEvent:
    """One reported result and the scheduler's decision about it."""

    tick: int
    trial_id: str
    iteration: int
    value: float
    decision: Decision


@dataclasses.dataclass(frozen=True)
class SimulationLaunch:
    """One attempt started: when, which trial, from which iteration, with which resources.

    ``forced`` is True when the scheduler held every waiting trial back while none ran, and
    the oldest was started anyway (as the controller does).
    """

    tick: int
    trial_id: str
    iteration: int
    resources: dict[str, float]
    forced: bool = False


@dataclasses.dataclass
class _Attempt:
    iteration: int
    resources: dict[str, float]
    config: Any = None  # the trial's config object when last copied, and the copy
    config_copy: Any = None


class Simulator:
    """Run a scheduler over fake trials whose metric follows ``curve``.

    Args:
        scheduler: The scheduler under test.
        curve: ``curve(config, iteration) -> metric value``.
        configs: One config per trial; trials are added in this order.
        metric: The metric's result key (given to ``set_search_properties``).
        mode: ``"min"`` or ``"max"``.
        max_iterations: A trial's function ends after this many iterations.
        num_slots: At most this many trials run at once.
        total_resources: When given, a trial only starts if its resources fit into what is
            left (and the scheduler gets ``total_resources`` in its spec).
        resources: Each trial's initial resources (default ``{"cpu": 1}``).
        checkpoint_frequency: Save a checkpoint every this many iterations (0: never).
        seconds_per_iteration: ``time_this_iter_s``: a number, or ``fn(config)``.
        fail_at: ``{trial_index: iteration}``: that trial raises at that iteration and ends
            in ERROR (``on_trial_error``).
        experiment_dir: Passed as ``experiment_dir`` in the spec of ``set_search_properties``.
        max_ticks: Safety limit on :meth:`run`.

    Raises:
        ValueError: The scheduler refuses ``metric``/``mode`` (``set_search_properties``
            returned False).
    """

    def __init__(
        self,
        scheduler: TrialScheduler,
        curve: Curve,
        configs: Sequence[Mapping[str, Any]],
        *,
        metric: str = "score",
        mode: str = "max",
        max_iterations: int = 20,
        num_slots: int = 4,
        total_resources: Mapping[str, float] | None = None,
        resources: Mapping[str, float] | None = None,
        checkpoint_frequency: int = 1,
        seconds_per_iteration: float | Callable[[dict[str, Any]], float] = 1.0,
        fail_at: Mapping[int, int] | None = None,
        experiment_dir: str | None = None,
        max_ticks: int = 100_000,
    ) -> None:
        self.curve = curve
        self.metric = metric
        self.mode = mode
        self.max_iterations = max_iterations
        self.num_slots = num_slots
        self.total_resources = dict(total_resources) if total_resources else None
        self.checkpoint_frequency = checkpoint_frequency
        self.seconds_per_iteration = seconds_per_iteration
        self.max_ticks = max_ticks
        self.trials = [
            Trial(
                "simulated",
                trial_id=f"sim_{index:05d}",
                config=copy.deepcopy(dict(config)),
                experiment_tag=str(index),
                resources=dict(resources or {"cpu": 1.0}),
            )
            for index, config in enumerate(configs)
        ]
        self._fail_at = {self.trials[i].trial_id: it for i, it in (fail_at or {}).items()}
        self._by_id = {t.trial_id: t for t in self.trials}
        self._core = SchedulingCore(scheduler, self._end_dropped)
        self.tick = 0
        self.events: list[SimulationEvent] = []
        self.launches: list[SimulationLaunch] = []
        self._running: dict[str, _Attempt] = {}
        self._added = False
        spec: dict[str, Any] = {}
        if experiment_dir is not None:
            spec["experiment_dir"] = experiment_dir
        if self.total_resources is not None:
            spec["total_resources"] = dict(self.total_resources)
        if not scheduler.set_search_properties(metric, mode, **spec):
            raise ValueError(
                f"the scheduler refused metric={metric!r}, mode={mode!r}: it has metric="
                f"{scheduler.metric!r} of its own"
            )

    # -- running ---------------------------------------------------------------------------
    def run(self, until_tick: int | None = None) -> Simulator:
        """Run until every trial has ended, nothing can start, or ``until_tick`` is reached."""
        if not self._added:
            self._added = True
            for trial in self.trials:
                self._core.add(trial)
        while self.tick < (until_tick if until_tick is not None else self.max_ticks):
            self._start_trials()
            if not self._running:
                break
            self.tick += 1
            for trial_id in list(self._running):
                if trial_id in self._running:  # an earlier hook may have ended it this tick
                    self._step(self._trial(trial_id))
        return self

    def replace_scheduler(self, scheduler: TrialScheduler) -> None:
        """Continue with another scheduler (e.g. one restored from a saved state).

        Calls ``set_search_properties`` on it, then ``on_trial_add`` for every unfinished
        trial, as a controller resuming an experiment does; call ``restore`` in between
        yourself (or use :meth:`save_and_restore`).
        """
        self._core.scheduler = scheduler
        for trial in self.trials:
            if not trial.status.is_finished():
                scheduler.on_trial_add(trial)

    def save_and_restore(self, fresh: TrialScheduler, path: str) -> None:
        """Save the current scheduler to ``path``, restore ``fresh`` from it and continue with ``fresh``."""
        self.scheduler.save(path)
        spec: dict[str, Any] = {}
        if self.total_resources is not None:
            spec["total_resources"] = dict(self.total_resources)
        fresh.set_search_properties(self.metric, self.mode, **spec)
        fresh.restore(path)
        self.replace_scheduler(fresh)

    @property
    def scheduler(self) -> TrialScheduler:
        """The scheduler under test."""
        return self._core.scheduler

    def _trial(self, trial_id: str) -> Trial:
        return self._by_id[trial_id]

    def _start_trials(self) -> None:
        while len(self._running) < self.num_slots and self._core.waiting:
            held_back = len(self._core.forced)
            chosen = self._core.next_to_start(idle=not self._running, search_finished=True)
            if chosen is None or not self._fits(chosen.resources):
                return
            self._launch(chosen, forced=len(self._core.forced) > held_back)

    def _fits(self, request: Mapping[str, float]) -> bool:
        if self.total_resources is None:
            return True
        for key, amount in request.items():
            used = sum(a.resources.get(key, 0.0) for a in self._running.values())
            if used + amount > self.total_resources.get(key, 0.0) + 1e-9:
                return False
        return True

    def _launch(self, trial: Trial, forced: bool = False) -> None:
        checkpoint = self._core.take_exploit(trial) or trial.checkpoint
        self._core.started(trial)
        start = checkpoint.iteration if isinstance(checkpoint, SimulatedCheckpoint) else 0
        trial.attempt += 1
        self._running[trial.trial_id] = _Attempt(iteration=start, resources=dict(trial.resources))
        self.launches.append(SimulationLaunch(self.tick, trial.trial_id, start, dict(trial.resources), forced))

    def _step(self, trial: Trial) -> None:
        attempt = self._running[trial.trial_id]
        if attempt.iteration >= self.max_iterations:  # resumed after its last result: the function returns
            self._end(trial, flatten_dict(trial.last_result))
            return
        attempt.iteration += 1
        if self._fail_at.get(trial.trial_id) == attempt.iteration:
            del self._running[trial.trial_id]
            self._core.errored(trial)
            return
        if attempt.config is not trial.config or not _equal(attempt.config_copy, trial.config):
            # copied when the config changed (replaced or edited in place), not for every result
            attempt.config, attempt.config_copy = trial.config, copy.deepcopy(trial.config)
        trained_with = attempt.config_copy
        result = self._result(trial, attempt.iteration, trained_with)
        trial.last_result = result
        flat = flatten_dict(result)
        decision = self._core.decide(trial, flat)
        self.events.append(SimulationEvent(self.tick, trial.trial_id, attempt.iteration, result[self.metric], decision))
        if self.checkpoint_frequency and attempt.iteration % self.checkpoint_frequency == 0:
            trial.checkpoint = SimulatedCheckpoint(trial.trial_id, attempt.iteration, trained_with)
        if decision is Decision.PAUSE:
            del self._running[trial.trial_id]
            self._core.paused(trial)
        elif decision is Decision.STOP or attempt.iteration >= self.max_iterations:
            self._end(trial, flat)

    def _result(self, trial: Trial, iteration: int, config: dict[str, Any]) -> dict[str, Any]:
        per_iteration = self.seconds_per_iteration
        if callable(per_iteration):
            per_iteration = per_iteration(trial.config)
        return {
            self.metric: self.curve(trial.config, iteration),
            "training_iteration": iteration,
            "time_this_iter_s": per_iteration,
            "time_total_s": iteration * per_iteration,
            "trial_id": trial.trial_id,
            "done": False,
            "config": config,
        }

    def _end(self, trial: Trial, flat: dict[str, Any]) -> None:
        self._running.pop(trial.trial_id, None)
        self._core.complete(trial, flat)

    def _end_dropped(self, trial: Trial) -> None:
        self._end(trial, flatten_dict(trial.last_result) if trial.last_result else {})

    # -- looking at what happened ------------------------------------------------------------
    def iterations(self) -> dict[str, int]:
        """The highest iteration each trial reported (0 if none)."""
        reached = {t.trial_id: 0 for t in self.trials}
        for event in self.events:
            reached[event.trial_id] = max(reached[event.trial_id], event.iteration)
        return reached

    def decisions(self, trial_id: str) -> list[Decision]:
        """The scheduler's decisions about one trial's results, in order."""
        return [e.decision for e in self.events if e.trial_id == trial_id]

    def statuses(self) -> dict[str, TrialStatus]:
        return {t.trial_id: t.status for t in self.trials}

    def stranded(self) -> list[Trial]:
        """Trials the scheduler forgot: left PENDING or PAUSED when the run ended, or
        started only because it held every waiting trial back while none ran (the
        controller's last resort, see :attr:`SimulationLaunch.forced`)."""
        forced = {t.trial_id for t in self._core.forced}
        return [t for t in self.trials if t.status in _WAITING or t.trial_id in forced]

    def outcome(self) -> dict[str, tuple[str, int, Any]]:
        """Per trial: final status, highest iteration and config (compare two runs with it)."""
        reached = self.iterations()
        return {t.trial_id: (t.status.value, reached[t.trial_id], t.config) for t in self.trials}


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # e.g. arrays in the config, which compare element-wise
        return False
