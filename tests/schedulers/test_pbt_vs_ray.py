"""Synchronous PopulationBasedTraining takes Ray Tune 2.60's decisions.

A deterministic population (``value`` grows by ``lr`` each step, checkpointed every step; the
explore function is deterministic and the quantiles hold one trial, so no random draw
decides anything) is replayed through Ray's ``PopulationBasedTraining(synch=True)`` (driven
by minimal stand-ins for its controller and trials) and through ours, in lockstep: every
decision, every exploit (which trial copies which, with what config) and every choice of
the trial to run next must be the same.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any

import pytest

from tunesmith.experiment import Trial, TrialStatus
from tunesmith.schedulers import PopulationBasedTraining

from ._lockstep import Lockstep

ray_pbt = pytest.importorskip("ray.tune.schedulers.pbt")


def _explore(config):
    return {**config, "lr": round(config["lr"] * 0.9 + 0.05, 6)}


class _RayTrial:
    def __init__(self, trial_id: str, config: dict[str, Any]) -> None:
        self.trial_id = trial_id
        self.config = dict(config)
        self.status = "PENDING"
        self.experiment_tag = trial_id
        self.evaluated_params: dict[str, Any] = {}
        self.checkpoint: Any = None
        self.last_result: dict[str, Any] = {}
        self.temporary_state = types.SimpleNamespace(saving_to=None, restoring_from=None)
        manager = types.SimpleNamespace(checkpoint_config=types.SimpleNamespace(num_to_keep=None),
                                        _latest_checkpoint_result=None)
        self.run_metadata = types.SimpleNamespace(checkpoint_manager=manager)

    def is_finished(self) -> bool:
        return self.status in ("TERMINATED", "ERROR")

    def set_config(self, config: dict[str, Any]) -> None:
        self.config = config

    def set_experiment_tag(self, tag: str) -> None:
        self.experiment_tag = tag


class _RayController:
    search_alg = None

    def __init__(self, trials: list[_RayTrial]) -> None:
        self.trials = trials

    def get_trials(self) -> list[_RayTrial]:
        return list(self.trials)

    def get_live_trials(self) -> list[_RayTrial]:
        return [t for t in self.trials if not t.is_finished()]

    def pause_trial(self, trial: _RayTrial, should_checkpoint: bool = True) -> None:
        trial.status = "PAUSED"

    def _schedule_trial_save(self, trial: _RayTrial, result: dict[str, Any] | None = None) -> Any:
        return trial.checkpoint  # the sim checkpoints every step: the save is the latest one


@dataclasses.dataclass
class _State:
    step: int = 0
    value: float = 0.0
    t: float = 0.0


@dataclasses.dataclass
class _Case:
    lrs: list[float]
    speeds: list[float]  # time_attr "t" advances this much per step
    slots: int
    end_t: float = 12.0
    interval: float = 4.0
    quantile_fraction: float = 0.25


class _Lockstep(Lockstep):
    max_rounds = 2000

    def __init__(self, case: _Case) -> None:
        self.case = case
        kwargs = {"time_attr": "t", "metric": "value", "mode": "max", "perturbation_interval": case.interval,
                  "quantile_fraction": case.quantile_fraction, "custom_explore_fn": _explore, "log_config": False,
                  "synch": True}
        self.ray = ray_pbt.PopulationBasedTraining(**kwargs)
        self.ours = PopulationBasedTraining(**kwargs, seed=0)
        n = len(case.lrs)
        self.ray_trials = [_RayTrial(f"t{i}", {"lr": lr}) for i, lr in enumerate(case.lrs)]
        self.our_trials = [Trial("f", trial_id=f"t{i}", config={"lr": lr}) for i, lr in enumerate(case.lrs)]
        self.controller = _RayController(self.ray_trials)
        self.states = [_State() for _ in range(n)]
        self.restart_from: dict[int, tuple] = {}
        self.running: list[int] = []
        self.log: list[tuple[Any, ...]] = []
        self.exploits: list[tuple[str, str, dict[str, Any]]] = []
        self.ray_stalled_on: str | None = None
        self._add_trials()

    def _stalled(self, ray_choice: Any, our_choice: Any) -> bool:
        if ray_choice is None and our_choice is not None and not self.running:
            # Ray Tune stalls: a trial waits at the meeting for trials that have ended (it
            # re-checks only when a result comes). tunesmith meets without them (documented).
            self.ray_stalled_on = our_choice.trial_id
            return True
        return False

    def _start(self, i: int) -> None:
        self.log.append(("start", i))
        if i in self.restart_from:  # exploited: the donor's checkpointed state
            _, _, step, value, t = self.restart_from.pop(i)
            self.states[i] = _State(step, value, t)
            self.our_trials[i].restore_checkpoint = None  # the controller takes it at the launch
        if self.states[i].t >= self.case.end_t:  # nothing left to run: the function returns at once
            self._complete(i)
            return
        self.ray_trials[i].status = "RUNNING"
        self.our_trials[i].status = TrialStatus.RUNNING
        self.running.append(i)

    def _complete(self, i: int) -> None:
        self.log.append(("complete", i))
        if i in self.running:
            self.running.remove(i)
        self.ray_trials[i].status = "TERMINATED"
        self.our_trials[i].status = TrialStatus.TERMINATED
        self.ray.on_trial_complete(self.controller, self.ray_trials[i], self.ray_trials[i].last_result)
        self.ours.on_trial_complete(self.our_trials[i], self.ray_trials[i].last_result)

    def step(self, i: int) -> None:
        state = self.states[i]
        state.step += 1
        state.value = round(state.value + self.ray_trials[i].config["lr"], 9)
        state.t = round(state.t + self.case.speeds[i], 9)
        result = {"training_iteration": state.step, "t": state.t, "value": state.value}
        checkpoint = ("checkpoint", f"t{i}", state.step, state.value, state.t)
        ray_trial, our_trial = self.ray_trials[i], self.our_trials[i]
        ray_trial.last_result = dict(result)
        ray_trial.checkpoint = checkpoint  # Ray saves it (PBT's forced save) before deciding
        ray_configs = [t.config for t in self.ray_trials]
        our_restores = [t.restore_checkpoint for t in self.our_trials]
        ray_decision = self.ray.on_trial_result(self.controller, ray_trial, dict(result))
        our_decision = self.ours.on_trial_result(our_trial, dict(result))
        our_trial.checkpoint = checkpoint  # the controller registers it after the decision
        ray_exploits = []
        for j, (before, t) in enumerate(zip(ray_configs, self.ray_trials)):
            if t.config is not before:
                donor = t.run_metadata.checkpoint_manager._latest_checkpoint_result.checkpoint
                ray_exploits.append((t.trial_id, donor[1], t.config))
                self.restart_from[j] = donor
                if t.status == "RUNNING" and j != i:
                    pytest.fail(f"Ray exploited running trial {t.trial_id}")
        our_exploits = [(t.trial_id, t.restore_checkpoint[1], t.config) for t, before in zip(self.our_trials, our_restores)
                        if t.restore_checkpoint is not before]
        ray_value = "PAUSE" if ray_decision == "NOOP" else ray_decision  # NOOP: paused by the exploit
        self.log.append(("result", i, state.t, ray_value, ray_exploits))
        assert (our_decision.value, sorted(our_exploits)) == (ray_value, sorted(ray_exploits)), self.log
        self.exploits.extend(ray_exploits)
        if ray_value == "PAUSE":
            self.running.remove(i)
            ray_trial.status = "PAUSED"
            our_trial.status = TrialStatus.PAUSED
        elif state.t >= self.case.end_t:
            self._complete(i)


CASES = {
    "4 trials, same speed, all at once": _Case([0.1, 1.0, 2.0, 3.0], [1, 1, 1, 1], slots=4),
    "4 trials, same speed, 2 slots": _Case([0.1, 1.0, 2.0, 3.0], [1, 1, 1, 1], slots=2),
    "4 trials, different speeds (overshoot)": _Case([3.0, 0.1, 2.0, 1.0], [1.5, 1, 0.75, 2], slots=4),
    "4 trials, different speeds, 1 slot": _Case([3.0, 0.1, 2.0, 1.0], [1.5, 1, 0.75, 2], slots=1),
    "6 trials, quantiles of 1 (fraction 0.15)": _Case([0.5, 2.5, 1.0, 0.2, 3.0, 1.5], [1, 1.25, 1, 0.5, 1, 2], slots=3,
                                                      quantile_fraction=0.15, end_t=16.0),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_every_synch_decision_is_rays(case):
    run = _Lockstep(case).run()
    assert run.exploits  # the population did exploit
    if run.ray_stalled_on is None:
        assert [t.config for t in run.our_trials] == [t.config for t in run.ray_trials]
        assert [t.status for t in run.our_trials] == [TrialStatus(t.status) for t in run.ray_trials]
    else:  # the trials left at the meeting run on here
        waiting = [t.trial_id for t in run.our_trials if t.status is TrialStatus.PAUSED]
        assert run.ray_stalled_on in waiting
        assert all(t.status is TrialStatus.TERMINATED for t in run.our_trials if t.trial_id not in waiting)


def test_ray_stalls_where_tunesmith_meets_without_the_ended_trials():
    # with these speeds, one trial overshoots past the last meeting while the others end
    assert _Lockstep(CASES["4 trials, different speeds (overshoot)"]).run().ray_stalled_on == "t3"
