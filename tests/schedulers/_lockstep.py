"""The lockstep runs of the ``*_vs_ray`` tests: Ray Tune's scheduler and ours, given the same
trials, starts and results side by side; every choice of the next trial must match."""

from __future__ import annotations

import abc
from typing import Any

from tunesmith.experiment import TrialStatus


class Lockstep(abc.ABC):
    """A subclass sets ``case`` (with ``slots``), ``ray``, ``ours``, ``controller``,
    ``ray_trials``, ``our_trials`` (ids ``t0, t1, ...``), ``running`` and ``log``, calls
    :meth:`_add_trials`, and writes :meth:`_start` and :meth:`step` (one result of trial ``i``)."""

    max_rounds = 1000
    case: Any
    ray: Any
    ours: Any
    controller: Any
    ray_trials: list[Any]
    our_trials: list[Any]
    running: list[int]
    log: list[tuple[Any, ...]]

    def _add_trials(self) -> None:
        for ray_trial, our_trial in zip(self.ray_trials, self.our_trials):
            self.ray.on_trial_add(self.controller, ray_trial)
            self.ours.on_trial_add(our_trial)

    @abc.abstractmethod
    def _start(self, i: int) -> None:
        """Start trial ``i`` in both schedulers' runs."""

    @abc.abstractmethod
    def step(self, i: int) -> None:
        """Feed one result of trial ``i`` to both schedulers and compare their decisions."""

    def _stalled(self, ray_choice: Any, our_choice: Any) -> bool:
        """Whether Ray Tune stalls where we go on (a documented difference); ends the filling."""
        return False

    def fill_slots(self) -> None:
        while len(self.running) < self.case.slots:
            ray_choice = self.ray.choose_trial_to_run(self.controller)
            waiting = [t for t in self.our_trials if t.status in (TrialStatus.PENDING, TrialStatus.PAUSED)]
            our_choice = self.ours.choose_trial_to_run(waiting)
            if self._stalled(ray_choice, our_choice):
                return
            assert (our_choice and our_choice.trial_id) == (ray_choice and ray_choice.trial_id), self.log
            if ray_choice is None:
                return
            self._start(int(ray_choice.trial_id[1:]))

    def run(self) -> Lockstep:
        self.fill_slots()
        for _ in range(self.max_rounds):
            if not self.running:
                break
            for i in list(self.running):
                if i in self.running:
                    self.step(i)
                    self.fill_slots()
        assert not self.running
        return self
