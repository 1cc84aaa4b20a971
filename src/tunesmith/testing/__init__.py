"""Test helpers shipped with tunesmith: conformance checks for plug-in authors.

``check_searcher(factory, tmp_path)`` runs every searcher check; the single checks
(``check_suggestions_in_space``, ``check_trial_lifecycle``, ``check_save_restore``,
``check_metric_mode``, ``check_bad_spaces``) can be called on their own.
``check_scheduler(factory, tmp_path)`` does the same for trial schedulers, on the
deterministic :class:`Simulator`, which also serves scheduler tests on its own.
``check_executor(factory, tmp_path)`` runs every executor check (real trial processes,
driven through :class:`ExecutorHarness`).
"""

from tunesmith.testing._executor_contract import (
    ExecutorFactory,
    ExecutorHarness,
    check_executor,
    check_executor_exit_codes,
    check_executor_gpu_ids,
    check_executor_infeasible,
    check_executor_kill,
    check_executor_no_overcommit,
    check_executor_runs_attempt,
)
from tunesmith.testing._scheduler_contract import (
    SchedulerFactory,
    check_scheduler,
    check_scheduler_debug_string,
    check_scheduler_errors,
    check_scheduler_metric_mode,
    check_scheduler_runs_to_end,
    check_scheduler_save_restore,
    contract_configs,
    contract_curve,
)
from tunesmith.testing._searcher_contract import (
    SearcherFactory,
    assert_in_space,
    check_bad_spaces,
    check_metric_mode,
    check_save_restore,
    check_searcher,
    check_suggestions_in_space,
    check_trial_lifecycle,
    contract_space,
    toy_loss,
)
from tunesmith.testing._simulator import SimulatedCheckpoint, SimulationEvent, SimulationLaunch, Simulator

__all__ = [
    "ExecutorFactory",
    "ExecutorHarness",
    "SchedulerFactory",
    "SearcherFactory",
    "SimulatedCheckpoint",
    "SimulationEvent",
    "SimulationLaunch",
    "Simulator",
    "assert_in_space",
    "check_bad_spaces",
    "check_executor",
    "check_executor_exit_codes",
    "check_executor_gpu_ids",
    "check_executor_infeasible",
    "check_executor_kill",
    "check_executor_no_overcommit",
    "check_executor_runs_attempt",
    "check_metric_mode",
    "check_save_restore",
    "check_scheduler",
    "check_scheduler_debug_string",
    "check_scheduler_errors",
    "check_scheduler_metric_mode",
    "check_scheduler_runs_to_end",
    "check_scheduler_save_restore",
    "check_searcher",
    "check_suggestions_in_space",
    "check_trial_lifecycle",
    "contract_configs",
    "contract_curve",
    "contract_space",
    "toy_loss",
]
