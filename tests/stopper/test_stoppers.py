"""Stoppers and build_stopper (RunConfig.stop)."""

from __future__ import annotations

import datetime
import pickle

import cloudpickle
import pytest

import tunesmith as tune
from tunesmith import stopper as stopper_pkg
from tunesmith.stopper import (
    CombinedStopper,
    CriteriaStopper,
    ExperimentPlateauStopper,
    FunctionStopper,
    MaximumIterationStopper,
    NoopStopper,
    Stopper,
    TimeoutStopper,
    TrialPlateauStopper,
    build_stopper,
)

RAY_NAMES = {
    "Stopper",
    "CombinedStopper",
    "ExperimentPlateauStopper",
    "FunctionStopper",
    "MaximumIterationStopper",
    "NoopStopper",
    "TimeoutStopper",
    "TrialPlateauStopper",
}


class FakeClock:
    """A picklable clock the test moves by hand."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_exports():
    assert RAY_NAMES <= set(stopper_pkg.__all__)
    assert stopper_pkg.__all__ == sorted(stopper_pkg.__all__)
    assert tune.Stopper is Stopper


def test_stopper_is_abstract():
    with pytest.raises(TypeError):
        Stopper()

    class OnlyCall(Stopper):
        def __call__(self, trial_id, result):
            return False

    with pytest.raises(TypeError):
        OnlyCall()


def test_noop():
    stopper = NoopStopper()
    assert not stopper("t", {"x": 1}) and not stopper.stop_all()


def test_maximum_iteration_counts_per_trial():
    stopper = MaximumIterationStopper(3)
    assert [stopper("a", {}) for _ in range(4)] == [False, False, True, True]
    assert [stopper("b", {}) for _ in range(3)] == [False, False, True]
    assert not stopper.stop_all()


def test_function_stopper():
    stopper = FunctionStopper(lambda trial_id, result: result["loss"] < 0.1)
    assert stopper("t", {"loss": 0.05}) is True and stopper("t", {"loss": 1}) is False
    assert stopper.stop_all() is False


def test_function_stopper_validation():
    class Lookalike:
        def __call__(self, trial_id, result):
            return False

        def stop_all(self):
            return False

    assert FunctionStopper.is_valid_function(lambda t, r: True)
    assert not FunctionStopper.is_valid_function(NoopStopper())
    assert not FunctionStopper.is_valid_function(3)
    with pytest.raises(ValueError, match="must subclass tunesmith.stopper.Stopper"):
        FunctionStopper.is_valid_function(Lookalike())
    with pytest.raises(ValueError, match="function must be callable"):
        FunctionStopper(3)


def test_combined_is_or_and_every_stopper_sees_every_result():
    counter = MaximumIterationStopper(2)
    combined = CombinedStopper(FunctionStopper(lambda t, r: True), counter)
    assert combined("t", {}) is True
    assert counter("t", {}) is True  # it counted the first result too
    assert CombinedStopper(NoopStopper(), NoopStopper())("t", {}) is False


def test_combined_stop_all_is_or():
    clock = FakeClock()
    combined = CombinedStopper(NoopStopper(), TimeoutStopper(5, clock=clock))
    assert not combined.stop_all()
    clock.now = 6
    assert combined.stop_all()


def test_combined_rejects_non_stoppers():
    with pytest.raises(ValueError, match="argument 1 is 3"):
        CombinedStopper(NoopStopper(), 3)


def test_combined_reports_missing_criteria_keys():
    combined = CombinedStopper(CriteriaStopper({"acc": 1}), TimeoutStopper(5))
    assert combined.missing_keys({"loss": 1}) == ["acc"]


@pytest.mark.parametrize("timeout", [10, 10.0, datetime.timedelta(seconds=10)])
def test_timeout_counts_from_first_check(timeout):
    clock = FakeClock(100.0)
    stopper = TimeoutStopper(timeout, clock=clock)
    clock.now = 500.0  # time before the first check does not count
    assert not stopper.stop_all()
    clock.now = 509.0
    assert not stopper.stop_all() and stopper.remaining_seconds == pytest.approx(1.0)
    clock.now = 510.0
    assert stopper.stop_all()
    assert not stopper("t", {})


def test_timeout_survives_pickling_with_remaining_budget():
    clock = FakeClock()
    stopper = TimeoutStopper(10, clock=clock)
    stopper.stop_all()
    clock.now = 6.0
    assert not stopper.stop_all()
    restored = pickle.loads(pickle.dumps(stopper))
    restored._clock.now = 1000.0  # time spent pickled does not count
    assert not restored.stop_all()
    restored._clock.now = 1003.0
    assert not restored.stop_all()
    restored._clock.now = 1004.0
    assert restored.stop_all()


def test_timeout_with_default_clock_pickles():
    stopper = TimeoutStopper(60)
    stopper.stop_all()
    restored = cloudpickle.loads(cloudpickle.dumps(stopper))
    assert not restored.stop_all()


def test_zero_timeout_stops_at_first_check():
    assert TimeoutStopper(0).stop_all()


@pytest.mark.parametrize(
    "timeout, match",
    [
        ("10", "number of seconds or a datetime.timedelta"),
        (True, "number of seconds"),
        (-1, "must be >= 0"),
        (float("nan"), "must be >= 0"),
    ],
)
def test_timeout_validation(timeout, match):
    with pytest.raises(ValueError, match=match):
        TimeoutStopper(timeout)


def test_trial_plateau_stops_on_fourth_equal_value():
    stopper = TrialPlateauStopper("loss")
    assert [stopper("t", {"loss": 1.0}) for _ in range(4)] == [False, False, False, True]
    assert not stopper.stop_all()


def test_trial_plateau_needs_low_spread():
    stopper = TrialPlateauStopper("loss", std=0.01, num_results=3, grace_period=0)
    assert not any(stopper("t", {"loss": v}) for v in [1.0, 2.0, 3.0, 4.0])
    assert [stopper("t", {"loss": v}) for v in [5.0, 5.0, 5.0]] == [False, False, True]


def test_trial_plateau_grace_period_and_per_trial_state():
    stopper = TrialPlateauStopper("m", num_results=2, grace_period=5)
    assert [stopper("a", {"m": 1}) for _ in range(5)] == [False] * 4 + [True]
    assert stopper("b", {"m": 1}) is False


@pytest.mark.parametrize(
    "mode, threshold, values, expected",
    [
        ("min", 0.5, [1.0] * 4, False),
        ("min", 0.5, [0.4] * 4, True),
        ("max", 0.5, [0.4] * 4, False),
        ("max", 0.5, [0.6] * 4, True),
        ("max", 0.0, [-0.1] * 4, False),  # a zero threshold still counts
    ],
)
def test_trial_plateau_threshold(mode, threshold, values, expected):
    stopper = TrialPlateauStopper("m", metric_threshold=threshold, mode=mode)
    assert [stopper("t", {"m": v}) for v in values][-1] is expected


def test_trial_plateau_nested_metric_and_missing_values():
    stopper = TrialPlateauStopper("eval/loss", num_results=2, grace_period=2)
    assert not stopper("t", {"other": 1})
    assert not stopper("t", {"eval": {"loss": 1.0}})
    assert stopper("t", {"eval/loss": 1.0})


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mode": "up"}, "mode must be 'min', 'max' or None"),
        ({"metric_threshold": 0.5}, "needs mode='min' or mode='max'"),
        ({"num_results": 0}, "num_results must be an int >= 1"),
        ({"grace_period": -1}, "grace_period must be an int >= 0"),
        ({"std": -0.1}, "std must be a number >= 0"),
    ],
)
def test_trial_plateau_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrialPlateauStopper("m", **kwargs)


def test_experiment_plateau_stops_when_top_values_agree():
    stopper = ExperimentPlateauStopper("loss", top=3, mode="min")
    assert stopper("a", {"loss": 5.0}) is False
    assert stopper("b", {"loss": 1.0}) is False
    assert stopper("c", {"loss": 1.0}) is False  # top 3 = 1, 1, 5
    assert stopper("d", {"loss": 1.0}) is True  # top 3 = 1, 1, 1
    assert stopper.stop_all()


def test_experiment_plateau_max_mode_keeps_highest():
    stopper = ExperimentPlateauStopper("acc", top=2, mode="max")
    results = [stopper("t", {"acc": v}) for v in [0.9, 0.1, 0.9]]
    assert results == [False, False, True]


@pytest.mark.parametrize(
    "patience, expected",
    [(0, [False, True, True]), (1, [False, True, True]), (2, [False, False, True])],
)
def test_experiment_plateau_patience_counts_plateaued_results(patience, expected):
    # As in Ray: plateaued results in a row, the first included, must reach ``patience``.
    stopper = ExperimentPlateauStopper("loss", top=2, patience=patience)
    assert [stopper("t", {"loss": 1.0}) for _ in range(3)] == expected


def test_experiment_plateau_patience_resets_when_values_move():
    stopper = ExperimentPlateauStopper("loss", top=2, patience=2)
    assert [stopper("t", {"loss": v}) for v in [1.0, 1.0, 0.5, 0.5, 0.5]] == [
        False,
        False,
        False,
        False,
        True,
    ]


def test_experiment_plateau_ignores_results_without_metric():
    stopper = ExperimentPlateauStopper("loss", top=2)
    assert stopper("t", {"acc": 1}) is False
    assert stopper.stop_all() is False


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mode": "avg"}, "mode must be 'min' or 'max'"),
        ({"top": 1}, "top must be an int > 1"),
        ({"top": 2.5}, "top must be an int > 1"),
        ({"patience": -1}, "patience must be an int >= 0"),
        ({"std": 0}, "std must be a number > 0"),
        ({"std": -1.0}, "std must be a number > 0"),
    ],
)
def test_experiment_plateau_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ExperimentPlateauStopper("m", **kwargs)


@pytest.mark.parametrize(
    "stopper",
    [
        MaximumIterationStopper(2),
        TrialPlateauStopper("m"),
        ExperimentPlateauStopper("m"),
        CombinedStopper(NoopStopper(), TimeoutStopper(5)),
        CriteriaStopper({"a": 1}),
    ],
)
def test_stoppers_pickle(stopper):
    stopper("t", {"m": 1.0})
    restored = pickle.loads(pickle.dumps(stopper))
    assert restored("t", {"m": 1.0}) == stopper("t", {"m": 1.0})


# -- build_stopper ------------------------------------------------------------------------


def test_build_from_dict_stops_at_or_above_value():
    stopper = build_stopper({"training_iteration": 3, "acc": 0.9})
    assert isinstance(stopper, CriteriaStopper)
    assert not stopper("t", {"training_iteration": 2, "acc": 0.5})
    assert stopper("t", {"training_iteration": 3, "acc": 0.5})
    assert stopper("t", {"training_iteration": 1, "acc": 0.95})
    assert not stopper.stop_all()


def test_dict_criteria_match_flat_and_nested_results():
    stopper = build_stopper({"eval/acc": 0.9})
    assert stopper("t", {"eval/acc": 0.9})
    assert stopper("t", {"eval": {"acc": 0.95}})
    assert not stopper("t", {"eval": {"acc": 0.5}})


def test_nested_criteria_are_flattened_with_a_slash_as_in_ray():
    stopper = build_stopper({"info": {"loss": 0.1, "deep": {"x": 3}}, "acc": 0.9})
    assert stopper.missing_keys({}) == ["info/loss", "info/deep/x", "acc"]
    assert stopper("t", {"info": {"loss": 0.2}})  # the criterion is result >= value, as for flat keys
    assert not stopper("t", {"info": {"loss": 0.05, "deep": {"x": 1}}})
    assert stopper("t", {"info/deep/x": 3})


@pytest.mark.parametrize(
    "function",
    [lambda result: True, lambda: True, lambda a, b, c: True],
    ids=["one argument", "none", "three"],
)
def test_a_stop_function_with_the_wrong_signature_fails_at_construction(function):
    expected = r"a stop function is called as fn\(trial_id, result\) -> bool \(two positional arguments\); got "
    with pytest.raises(TypeError, match=expected):
        build_stopper(function)
    with pytest.raises(TypeError, match=expected):
        tune.RunConfig(stop=function)


@pytest.mark.parametrize(
    "function",
    [lambda trial_id, result: False, lambda *args: False, lambda trial_id, result, extra=1: False, print],
    ids=["two", "varargs", "a default", "builtin"],
)
def test_stop_functions_that_take_two_arguments_are_accepted(function):
    assert isinstance(build_stopper(function), FunctionStopper)


def test_missing_keys_lists_unreported_criteria():
    stopper = build_stopper({"acc": 0.9, "eval/loss": 0.1, "training_iteration": 5})
    assert stopper.missing_keys({"training_iteration": 1, "eval": {"loss": 1}}) == ["acc"]
    assert not stopper("t", {"loss": 3})  # a missing key never stops


@pytest.mark.parametrize(
    "stop, match",
    [
        ({"a": {}}, r"'a' holds an empty dict; give it criteria or remove it"),
        ({"a": {"b": "x"}}, "value for 'a/b' must be a number"),
        ({"a": "high"}, "value for 'a' must be a number"),
        ({1: 3}, "keys must be strings"),
    ],
)
def test_bad_criteria(stop, match):
    with pytest.raises(ValueError, match=match):
        build_stopper(stop)


@pytest.mark.parametrize("value", ["high", None, [1, 2]])
def test_non_numeric_reported_value_names_the_key(value):
    stopper = build_stopper({"acc": 0.9})
    with pytest.raises(TypeError, match="stop criterion 'acc': the reported value must be a number"):
        stopper("t", {"acc": value})


def test_build_from_other_kinds():
    assert isinstance(build_stopper(None), NoopStopper)
    given = MaximumIterationStopper(1)
    assert build_stopper(given) is given
    function = build_stopper(lambda trial_id, result: result["x"] > 1)
    assert isinstance(function, FunctionStopper) and function("t", {"x": 2})
    combined = build_stopper([NoopStopper(), MaximumIterationStopper(1)])
    assert isinstance(combined, CombinedStopper) and combined("t", {})


@pytest.mark.parametrize("stop", [3, "acc", [NoopStopper(), "x"]])
def test_build_rejects_other_types(stop):
    with pytest.raises(ValueError, match="Stopper"):
        build_stopper(stop)
