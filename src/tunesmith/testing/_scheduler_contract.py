"""Conformance checks every ``TrialScheduler`` should pass; usable from any pytest suite.

Each ``check_*`` function takes a *scheduler factory*: a callable with no arguments that
returns a new scheduler **without** a metric or mode of its own (the checks pass
``metric="score"``, ``mode="max"`` through ``set_search_properties``, as the Tuner does).
A factory should seed the scheduler's random generator, so that two schedulers it builds
decide alike. The checks run the scheduler on a :class:`~tunesmith.testing.Simulator`; a
failed check raises AssertionError saying what the contract expected.

Example (in a plug-in's test file)::

    from tunesmith.testing import check_scheduler

    def test_my_scheduler_contract(tmp_path):
        check_scheduler(lambda: MyScheduler(seed=0), tmp_path)
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable

from tunesmith.schedulers import Decision, TrialScheduler
from tunesmith.testing._simulator import Simulator

__all__ = [
    "SchedulerFactory",
    "check_scheduler",
    "check_scheduler_debug_string",
    "check_scheduler_errors",
    "check_scheduler_metric_mode",
    "check_scheduler_runs_to_end",
    "check_scheduler_save_restore",
    "contract_configs",
    "contract_curve",
]

#: ``factory() -> TrialScheduler`` with no metric or mode of its own.
SchedulerFactory = Callable[[], TrialScheduler]

_METRIC, _MODE = "score", "max"


def contract_configs(n: int = 8) -> list[dict[str, Any]]:
    """``n`` configs with a ``quality`` (how good the trial can get) and an ``lr``."""
    return [{"quality": 1.0 + ((i * 7) % n) / n, "lr": 0.05 + 0.05 * ((i * 3) % 5)} for i in range(n)]


def contract_curve(config: dict[str, Any], iteration: int) -> float:
    """A rising learning curve whose height depends on ``quality`` and speed on ``lr``."""
    return config.get("quality", 1.0) * (1.0 - math.exp(-config.get("lr", 0.1) * iteration))


def _simulator(scheduler: TrialScheduler, **overrides: Any) -> Simulator:
    options: dict[str, Any] = {
        "metric": _METRIC,
        "mode": _MODE,
        "max_iterations": 12,
        "num_slots": 3,
        "total_resources": {"cpu": 3.0},
    }
    options.update(overrides)
    return Simulator(scheduler, contract_curve, contract_configs(), **options)


def check_scheduler_metric_mode(factory: SchedulerFactory) -> None:
    """``set_search_properties`` takes the experiment's metric/mode and refuses another metric later."""
    scheduler = factory()
    accepted = scheduler.set_search_properties(_METRIC, _MODE, experiment_dir=None, total_resources={"cpu": 2})
    assert accepted is True, f"set_search_properties({_METRIC!r}, {_MODE!r}) must return True, got {accepted!r}"
    assert scheduler.metric == _METRIC, f"scheduler.metric must be {_METRIC!r} after set_search_properties, got {scheduler.metric!r}"
    refused = scheduler.set_search_properties("another_metric", _MODE)
    assert refused is False, f"a second, different metric must make set_search_properties return False, got {refused!r}"


def check_scheduler_runs_to_end(factory: SchedulerFactory) -> None:
    """A simulated experiment ends with every trial finished and every decision a ``Decision``."""
    sim = _simulator(factory()).run()
    assert sim.tick < sim.max_ticks, "the simulated experiment did not end: a trial is paused and resumed forever"
    stranded = [t.trial_id for t in sim.stranded()]
    assert not stranded, (
        f"trials {stranded} were left PENDING/PAUSED: choose_trial_to_run must eventually return every "
        "waiting trial, or the scheduler must stop it (pop_trials_to_stop)"
    )
    bad = [e for e in sim.events if not isinstance(e.decision, Decision) or e.decision is Decision.NOOP]
    assert not bad, f"on_trial_result must return CONTINUE, PAUSE or STOP; got {bad[:3]}"


def check_scheduler_errors(factory: SchedulerFactory) -> None:
    """A trial that fails (``on_trial_error``) does not leave the others waiting forever."""
    sim = _simulator(factory(), fail_at={0: 1, 3: 3}).run()
    stranded = [t.trial_id for t in sim.stranded()]
    assert not stranded, f"after trials failed, trials {stranded} were left PENDING/PAUSED"
    failed = {t.trial_id for t in sim.trials if t.status == "ERROR"}
    may_fail = {sim.trials[0].trial_id, sim.trials[3].trial_id}
    assert sim.trials[0].trial_id in failed and failed <= may_fail, f"expected trial 0 (and maybe 3) in ERROR, got {sorted(failed)}"


def check_scheduler_save_restore(factory: SchedulerFactory, tmp_path: Any) -> None:
    """Saving mid-run and continuing with a restored scheduler gives the same experiment."""
    reference = _simulator(factory()).run()
    halted = _simulator(factory()).run(until_tick=max(1, reference.tick // 2))
    halted.save_and_restore(factory(), os.path.join(str(tmp_path), "scheduler_state"))
    halted.run()
    assert halted.outcome() == reference.outcome(), (
        "a scheduler restored from save() halfway must decide as the original would have: "
        f"expected {reference.outcome()}, got {halted.outcome()}"
    )


def check_scheduler_debug_string(factory: SchedulerFactory) -> None:
    """``debug_string()`` returns text, before and after a run."""
    scheduler = factory()
    assert isinstance(scheduler.debug_string(), str), "debug_string() must return a str"
    _simulator(scheduler).run()
    assert isinstance(scheduler.debug_string(), str), "debug_string() must return a str after a run"


def check_scheduler(factory: SchedulerFactory, tmp_path: Any) -> None:
    """Run every scheduler check."""
    check_scheduler_metric_mode(factory)
    check_scheduler_runs_to_end(factory)
    check_scheduler_errors(factory)
    check_scheduler_save_restore(factory, tmp_path)
    check_scheduler_debug_string(factory)
