"""HyperBandScheduler takes Ray Tune 2.60's decisions, one for one.

The same trial adds, results, errors and slot refills are replayed through Ray's
``HyperBandScheduler`` (driven by a minimal stand-in for its controller) and through ours, in
lockstep: every decision, every trial stopped on the side and every trial chosen to run next
must be the same.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tunesmith.experiment import Trial, TrialStatus
from tunesmith.schedulers import HyperBandScheduler

from ._lockstep import Lockstep

ray_hyperband = pytest.importorskip("ray.tune.schedulers.hyperband")


@dataclasses.dataclass(eq=False)
class _RayTrial:
    trial_id: str
    status: str = "PENDING"
    is_saving: bool = False
    last_result: dict[str, Any] = dataclasses.field(default_factory=dict)


class _RayController:
    """What Ray's scheduler calls back: ``stop_trial``, which ends the trial and tells the scheduler."""

    def __init__(self) -> None:
        self.scheduler: Any = None
        self.stopped: list[str] = []

    def stop_trial(self, trial: _RayTrial) -> None:
        if trial.status in ("PENDING", "PAUSED"):
            self.scheduler.on_trial_remove(self, trial)
        elif trial.status == "RUNNING":
            self.scheduler.on_trial_complete(self, trial, trial.last_result)
        trial.status = "TERMINATED"
        self.stopped.append(trial.trial_id)


@dataclasses.dataclass
class _Case:
    qualities: list[float]
    slots: int
    max_t: int = 4
    eta: float = 2
    mode: str = "max"
    stop_last_trials: bool = True
    max_iterations: int = 100  # a trial's function returns after this many results
    errors_at: dict[int, int] = dataclasses.field(default_factory=dict)  # trial index -> iteration it fails at


def _score(quality: float, t: int) -> float:
    return quality * t + (t % 3) * 0.01


class _Lockstep(Lockstep):
    def __init__(self, case: _Case) -> None:
        self.case = case
        kwargs = {"metric": "score", "mode": case.mode, "max_t": case.max_t, "reduction_factor": case.eta,
                  "stop_last_trials": case.stop_last_trials}
        self.ray = ray_hyperband.HyperBandScheduler(**kwargs)
        self.ours = HyperBandScheduler(**kwargs)
        self.controller = _RayController()
        self.controller.scheduler = self.ray
        n = len(case.qualities)
        self.ray_trials = [_RayTrial(f"t{i}") for i in range(n)]
        self.our_trials = [Trial("f", trial_id=f"t{i}", config={}) for i in range(n)]
        self.iteration = [0] * n
        self.running: list[int] = []
        self.log: list[tuple[Any, ...]] = []
        self._add_trials()

    def _start(self, i: int) -> None:
        self.log.append(("start", i))
        self.ray_trials[i].status = "RUNNING"
        self.our_trials[i].status = TrialStatus.RUNNING
        self.running.append(i)

    def _end(self, i: int, status: str, *, error: bool = False) -> None:
        self.running.remove(i)
        ray_trial, our_trial = self.ray_trials[i], self.our_trials[i]
        ray_trial.status = status
        our_trial.status = TrialStatus(status)
        if error:
            self.ray.on_trial_error(self.controller, ray_trial)
            self.ours.on_trial_error(our_trial)

    def _stop_ours(self) -> list[str]:
        stopped = []
        for trial in self.ours.pop_trials_to_stop():
            trial.status = TrialStatus.TERMINATED
            stopped.append(trial.trial_id)
            self.ours.on_trial_complete(trial, {})
        return stopped

    def step(self, i: int) -> None:
        if i in self.case.errors_at and self.iteration[i] + 1 == self.case.errors_at[i]:
            self.log.append(("error", i))
            self._end(i, "ERROR", error=True)
            assert self._stop_ours() == self.controller.stopped, self.log
            self.controller.stopped.clear()
            return
        self.iteration[i] += 1
        t = self.iteration[i]
        result = {"training_iteration": t, "score": _score(self.case.qualities[i], t)}
        ray_trial, our_trial = self.ray_trials[i], self.our_trials[i]
        ray_trial.last_result = dict(result)
        ray_decision = self.ray.on_trial_result(self.controller, ray_trial, dict(result))
        our_decision = self.ours.on_trial_result(our_trial, dict(result))
        ray_stopped, self.controller.stopped = self.controller.stopped, []
        our_stopped = self._stop_ours()
        self.log.append(("result", i, t, ray_decision, ray_stopped))
        assert (our_decision.value, our_stopped) == (ray_decision, ray_stopped), self.log
        if ray_decision == "STOP":
            self.running.remove(i)
            ray_trial.status = "RUNNING"
            self.controller.stop_trial(ray_trial)  # Ray ends a trial it stops through stop_trial
            self.controller.stopped.clear()
            our_trial.status = TrialStatus.TERMINATED
            self.ours.on_trial_complete(our_trial, result)
            assert self._stop_ours() == [], self.log
        elif ray_decision == "PAUSE":
            self.running.remove(i)
            ray_trial.status = "PAUSED"
            our_trial.status = TrialStatus.PAUSED
        elif t >= self.case.max_iterations:  # the function returned
            self._end(i, "TERMINATED")
            self.ray.on_trial_complete(self.controller, ray_trial, result)
            self.ours.on_trial_complete(our_trial, result)
            assert self._stop_ours() == self.controller.stopped, self.log
            self.controller.stopped.clear()


CASES = {
    # the run from issue 14: 3 trials in bracket r=4, then 3 at r=2 of which the best 2 go on to 4
    "max_t=4 eta=2, 6 trials, 6 slots": _Case([3, 1, 2, 5, 9, 1], slots=6),
    "max_t=4 eta=2, 6 trials, 2 slots": _Case([3, 1, 2, 5, 9, 1], slots=2),
    "max_t=4 eta=2, 13 trials, 3 slots": _Case([3, 1, 2, 5, 9, 1, 7, 3, 4, 8, 2, 6, 5], slots=3),
    "max_t=9 eta=3, 17 trials, 17 slots": _Case([3, 1, 2, 5, 9, 1, 7, 3, 4, 8, 2, 6, 9.5, 1, 3, 5, 7], slots=17, max_t=9, eta=3),
    "max_t=9 eta=3, 17 trials, 4 slots": _Case([3, 1, 2, 5, 9, 1, 7, 3, 4, 8, 2, 6, 9.5, 1, 3, 5, 7], slots=4, max_t=9, eta=3),
    "max_t=9 eta=3, 20 trials, 1 slot, min": _Case([(i * 7) % 11 for i in range(20)], slots=1, max_t=9, eta=3, mode="min"),
    "max_t=10 eta=3 (not a power), 14 trials": _Case([(i * 5) % 9 for i in range(14)], slots=5, max_t=10, eta=3),
    "max_t=8 eta=3 (log rounds up)": _Case([(i * 5) % 9 for i in range(14)], slots=3, max_t=8, eta=3),
    "ties keep the order trials were added": _Case([1, 1, 1, 1, 1, 1, 1, 1], slots=8),
    "stop_last_trials=False": _Case([3, 1, 2, 5, 9, 1], slots=3, stop_last_trials=False, max_iterations=7),
    "trials that end before max_t": _Case([3, 1, 2, 5, 9, 1, 4, 4], slots=4, max_iterations=3),
    "a trial fails before the first halving": _Case([3, 1, 2, 5, 9, 1], slots=6, errors_at={4: 2}),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_every_decision_is_rays(case):
    run = _Lockstep(case).run()
    assert [t.status for t in run.our_trials] == [TrialStatus(t.status) for t in run.ray_trials]


def test_the_issue_run_keeps_the_best_two_of_the_r2_bracket():
    run = _Lockstep(CASES["max_t=4 eta=2, 6 trials, 6 slots"]).run()
    # trials 0-2 in the bracket at r=4; 3-5 at r=2, of which 3 (q=5) and 4 (q=9) go on to 4
    assert run.iteration == [4, 4, 4, 4, 4, 2]
    assert run.ours.bracket_plans() == [[(3, 4)], [(3, 2), (2, 4)], [(4, 1), (2, 2), (1, 4)]]
