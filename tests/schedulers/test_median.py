import math

import pytest

from tunesmith.error import TuneError
from tunesmith.experiment import Trial
from tunesmith.schedulers import Decision, MedianStoppingRule
from tunesmith.schedulers._median_stopping_rule import median_should_stop, running_mean
from tunesmith.testing import Simulator, check_scheduler


@pytest.mark.parametrize(
    ("history", "start", "end", "expected"),
    [
        ([], 0, 5, math.nan),
        ([(1, 1.0), (2, 3.0), (3, 8.0)], 2, 3, 5.5),
        ([(1, 1.0), (2, 3.0), (3, 8.0)], 0, 2, 2.0),
        ([(1, 1.0), (2, 3.0)], 0, 1, 1.0),
        ([(5, 2.0)], 0, 4, math.nan),
    ],
)
def test_running_mean(history, start, end, expected):
    value = running_mean(history, start, end)
    assert (math.isnan(value) and math.isnan(expected)) or value == expected


@pytest.mark.parametrize(
    ("best", "means", "stop"),
    [
        (2.0, [1.0, 3.0, 5.0], True),
        (3.0, [1.0, 3.0, 5.0], False),  # a tie continues
        (1.0, [1.0, 2.0], True),  # median 1.5
        (0.0, [], False),
        (0.0, [math.nan, 1.0], True),
        (0.0, [math.nan], False),
    ],
)
def test_median_should_stop(best, means, stop):
    assert median_should_stop(best, means) is stop


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"grace_period": -1}, "grace_period must be >= 0, got -1"),
        ({"min_samples_required": 0}, "min_samples_required must be >= 1, got 0"),
        ({"min_time_slice": -1}, "min_time_slice must be >= 0, got -1"),
        ({"mode": "best"}, "mode must be 'min' or 'max', got 'best'"),
    ],
)
def test_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MedianStoppingRule(**kwargs)


def test_needs_metric_and_mode():
    with pytest.raises(ValueError, match="needs a metric and a mode"):
        MedianStoppingRule(metric="m").on_trial_add(Trial("f", trial_id="t", config={}))


def test_results_without_keys_continue_once_both_were_seen():
    scheduler = MedianStoppingRule(metric="m", mode="max", grace_period=0, min_samples_required=1)
    trial = Trial("f", trial_id="t", config={})
    scheduler.on_trial_add(trial)
    assert scheduler.on_trial_result(trial, {"time_total_s": 1, "m": 1.0}) is Decision.CONTINUE
    assert scheduler.on_trial_result(trial, {"m": 1.0}) is Decision.CONTINUE
    assert scheduler.on_trial_result(trial, {"time_total_s": 100}) is Decision.CONTINUE
    with pytest.raises(TuneError, match="MedianStoppingRule needs metric 'm' in the results"):
        MedianStoppingRule(metric="m", mode="max").on_trial_result(trial, {"time_total_s": 1})


def _run(qualities, *, mode="max", slots=None, **kwargs):
    options = {"time_attr": "training_iteration", "grace_period": 2, "min_samples_required": 2, **kwargs}
    sim = Simulator(
        MedianStoppingRule(**options),
        lambda config, t: config["q"],
        [{"q": q} for q in qualities],
        mode=mode,
        num_slots=slots or len(qualities),
        max_iterations=6,
    )
    return sim.run()


def test_trials_below_the_median_are_stopped_after_the_grace_period():
    sim = _run([3, 4, 1, 2])
    assert [sim.iterations()[t.trial_id] for t in sim.trials] == [6, 6, 2, 2]
    assert sim.decisions(sim.trials[2].trial_id) == [Decision.CONTINUE, Decision.STOP]


def test_mode_min():
    sim = _run([-3, -4, -1, -2], mode="min")  # the same ranking as [3, 4, 1, 2] with max
    assert [sim.iterations()[t.trial_id] for t in sim.trials] == [6, 6, 2, 2]


def test_soft_stop_pauses_and_a_resumed_trial_runs_to_its_end():
    sim = _run([3, 4, 1, 2], hard_stop=False)
    assert sim.decisions(sim.trials[2].trial_id)[:2] == [Decision.CONTINUE, Decision.PAUSE]
    assert [sim.iterations()[t.trial_id] for t in sim.trials] == [6, 6, 6, 6]


def test_too_few_samples_pause_to_let_waiting_trials_run():
    sim = _run([3, 4, 1, 2], slots=2, grace_period=1, min_samples_required=3, min_time_slice=2)
    first = sim.decisions(sim.trials[0].trial_id)
    assert first[0] is Decision.PAUSE  # trials 2 and 3 were waiting
    assert not sim.stranded()


def test_debug_string():
    assert _run([3, 4, 1, 2]).scheduler.debug_string() == "Using MedianStoppingRule: num_stopped=2."


@pytest.mark.parametrize("hard_stop", [True, False])
def test_contract(hard_stop, tmp_path):
    check_scheduler(
        lambda: MedianStoppingRule(time_attr="training_iteration", grace_period=2, min_samples_required=2, hard_stop=hard_stop),
        tmp_path,
    )
