"""Reports that wait for the driver only when something decides on them (Assignment.decisions)."""

import json
import os

import pytest

import tunesmith as tune
from tunesmith.callback import Callback, CallbackList
from tunesmith.execution import _controller
from tunesmith.logger import CSVLoggerCallback, JsonLoggerCallback
from tunesmith.schedulers import ASHAScheduler, FIFOScheduler
from tunesmith.stopper import (
    CombinedStopper,
    FunctionStopper,
    MaximumIterationStopper,
    NoopStopper,
    TimeoutStopper,
)

REPORTS = 200


def reports(config):
    for i in range(REPORTS):
        tune.report({"i": i, "loss": 1.0 / (i + 1)})


def _rows(result):
    with open(os.path.join(result.path, "result.json")) as f:
        return [json.loads(line) for line in f]


def test_with_fifo_and_no_stopper_reports_get_no_decision_and_none_is_lost(run, servers):
    results = run(reports, {"t": tune.grid_search([0, 1])})
    assert servers[0].stats.decisions == 0
    for result in results:
        assert result.error is None
        assert result.metrics["training_iteration"] == REPORTS
        assert [row["i"] for row in _rows(result)] == list(range(REPORTS))  # all, in order


@pytest.mark.parametrize("stop", [
    {"training_iteration": 3},
    FunctionStopper(lambda trial_id, result: result["i"] == 2),
    MaximumIterationStopper(3),
])
def test_with_a_stopper_the_decision_applies_at_the_report_it_concerns(run, servers, stop):
    results = run(reports, {"t": tune.grid_search([0, 1])}, run_config={"stop": stop})
    assert servers[0].stats.decisions == 2 * 3  # one per result
    for result in results:
        assert result.error is None
        assert [row["i"] for row in _rows(result)] == [0, 1, 2]


def test_a_scheduler_still_gets_a_decision_per_result(run, servers):
    scheduler = ASHAScheduler(max_t=4, grace_period=4)
    results = run(reports, {"t": tune.grid_search([0, 1])}, metric="loss", mode="min", scheduler=scheduler)
    assert servers[0].stats.decisions == 2 * 4
    assert [r.metrics["training_iteration"] for r in results] == [4, 4]


class _SeesResults(Callback):
    def on_trial_result(self, iteration, trials, trial, result, **info):
        pass


class _SubclassedFIFO(FIFOScheduler):
    pass


@pytest.mark.parametrize(("scheduler", "stopper", "callbacks", "is_class", "expected"), [
    (FIFOScheduler(), NoopStopper(), [], False, False),
    (FIFOScheduler(), CombinedStopper(NoopStopper(), TimeoutStopper(10)), [], False, False),
    (FIFOScheduler(), NoopStopper(), [JsonLoggerCallback(), CSVLoggerCallback()], True, False),
    (FIFOScheduler(), NoopStopper(), [_SeesResults()], False, False),  # a function trainable takes no save request
    (FIFOScheduler(), NoopStopper(), [_SeesResults()], True, True),  # it may set should_checkpoint
    (FIFOScheduler(), MaximumIterationStopper(3), [], False, True),
    (FIFOScheduler(), CombinedStopper(NoopStopper(), MaximumIterationStopper(3)), [], False, True),
    (FIFOScheduler(), FunctionStopper(lambda trial_id, result: False), [], False, True),
    (_SubclassedFIFO(), NoopStopper(), [], False, True),
    (ASHAScheduler(), NoopStopper(), [], False, True),
])
def test_needs_decisions(scheduler, stopper, callbacks, is_class, expected):
    assert _controller.needs_decisions(scheduler, stopper, CallbackList(callbacks), is_class) is expected


def stopped_early(config):
    for i in range(REPORTS):
        if i == 5:
            tune.report({"loss": "not a number"})
        tune.report({"loss": float(i)})


def test_an_attempt_that_reads_no_decisions_is_ended_at_once_when_it_fails_on_the_driver(run, servers):
    results = run(stopped_early, {"t": tune.grid_search([0])}, metric="loss", mode="min")
    assert servers[0].stats.decisions == 0
    assert "must be a number" in str(results[0].error)
