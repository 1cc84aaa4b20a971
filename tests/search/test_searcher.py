import os
import random

import pytest

from tunesmith._imports import try_import
from tunesmith.experiment import Trial
from tunesmith.search import (
    UNDEFINED_METRIC_MODE,
    UNDEFINED_SEARCH_SPACE,
    UNRESOLVED_SEARCH_SPACE,
    Searcher,
)
from tunesmith.search._searcher import validate_metric_mode


class RandomX(Searcher):
    """A minimal plug-in: uniform x in [0, 1), remembers what it was told."""

    def __init__(self, metric=None, mode=None, seed=0):
        super().__init__(metric=metric, mode=mode)
        self.rng = random.Random(seed)
        self.completed = {}
        self.points = []

    def suggest(self, trial_id):
        return {"x": self.rng.random()}

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.completed[trial_id] = (result, error)

    def add_evaluated_point(self, parameters, value, error=False, pruned=False, intermediate_values=None):
        self.points.append((parameters, value, error, pruned))


@pytest.mark.parametrize(
    "metric, mode, expected",
    [
        ("loss", "min", ("loss", "min")),
        (None, "max", ("_metric", "max")),
        ("loss", None, ("loss", None)),
        (None, None, (None, None)),
        (["a", "b"], ["min", "obs"], (["a", "b"], ["min", "obs"])),
        (("a", "b"), ("max", "min"), (["a", "b"], ["max", "min"])),
    ],
)
def test_validate_metric_mode_accepts(metric, mode, expected):
    assert validate_metric_mode(metric, mode) == expected


@pytest.mark.parametrize(
    "metric, mode, match",
    [
        ("loss", "maximize", "'min', 'max'; got 'maximize'"),
        ("loss", "obs", "'min', 'max'; got 'obs'"),
        (["a", "b"], ["min"], "same length; got 2 metrics"),
        (["a"], ["min", "max"], "same length; got 1 metrics"),
        (["a"], ["minimize"], "'min', 'max', 'obs'"),
        ("a", ["min"], "both be strings or both be lists"),
        (["a"], "min", "both be strings or both be lists"),
        (None, ["min"], "both be strings or both be lists"),
        ("a", 3, "string or a list"),
    ],
)
def test_validate_metric_mode_rejects(metric, mode, match):
    with pytest.raises(ValueError, match=match):
        validate_metric_mode(metric, mode)


def test_searcher_constants_and_properties():
    searcher = RandomX(mode="min")
    assert (searcher.metric, searcher.mode) == ("_metric", "min")
    assert Searcher.FINISHED == "FINISHED"
    assert Searcher.CKPT_FILE_TMPL.format("x") == "searcher-state-x.pkl"
    assert searcher.set_max_concurrency(4) is False
    searcher.on_pause("t")
    searcher.on_unpause("t")
    searcher.on_trial_result("t", {"_metric": 1})


def test_base_hooks_that_must_be_written_say_so():
    plain = Searcher()
    with pytest.raises(NotImplementedError, match="suggest"):
        plain.suggest("t")
    with pytest.raises(NotImplementedError, match="on_trial_complete"):
        plain.on_trial_complete("t")
    with pytest.raises(NotImplementedError, match="add_evaluated_point"):
        plain.add_evaluated_point({"x": 1}, 1.0)


@pytest.mark.parametrize(
    "own, given, accepted, expected",
    [
        ((None, None), ("loss", "min"), True, ("loss", "min")),
        (("loss", None), (None, "max"), True, ("loss", "max")),
        ((None, "max"), ("score", None), True, ("score", "max")),
        (("loss", "min"), ("loss", "min"), True, ("loss", "min")),
        (("loss", "min"), (None, None), True, ("loss", "min")),
        (("a", "min"), ("b", "min"), False, ("a", "min")),
        (("a", "min"), ("a", "max"), False, ("a", "min")),
        ((["a", "b"], ["min", "max"]), (["a", "b"], ["min", "max"]), True, (["a", "b"], ["min", "max"])),
        ((["a", "b"], ["min", "max"]), (["a", "c"], None), False, (["a", "b"], ["min", "max"])),
    ],
)
def test_metric_mode_adoption(own, given, accepted, expected):
    searcher = RandomX(*own)
    assert searcher._set_metric_mode(*given) is accepted
    assert (searcher.metric, searcher.mode) == expected


def test_default_set_search_properties_adopts_but_does_not_take_the_space():
    searcher = RandomX()
    assert searcher.set_search_properties("loss", "min", {"a": 1}) is False
    assert (searcher.metric, searcher.mode) == ("loss", "min")


def test_adopting_an_invalid_combination_raises():
    searcher = RandomX(metric=["a", "b"])
    with pytest.raises(ValueError, match="same length"):
        searcher._set_metric_mode(None, ["min"])


def test_message_templates_format():
    assert "no search space" in UNDEFINED_SEARCH_SPACE.format(cls="S", space="space")
    text = UNDEFINED_METRIC_MODE.format(cls="S", metric=None, mode="min")
    assert "`metric` (None)" in text and "TuneConfig" in text
    assert "param_space" in UNRESOLVED_SEARCH_SPACE.format(cls="S", par="space")


def test_require_helpers_raise_runtime_errors():
    searcher = RandomX()
    with pytest.raises(RuntimeError, match="no search space has been defined.*`space`"):
        searcher._require_space(None)
    with pytest.raises(RuntimeError, match=r"RandomX, but the `metric` \(None\)"):
        searcher._require_metric_mode()
    searcher._require_space(lambda trial: None)


def test_save_restore_round_trip_continues_the_sequence(tmp_path):
    searcher = RandomX(metric="m", mode="max", seed=3)
    searcher.suggest("a")
    searcher.on_trial_complete("a", {"m": 1})
    path = str(tmp_path / "state.pkl")
    searcher.save(path)
    restored = RandomX(seed=99)
    restored.restore(path)
    assert restored.completed == {"a": ({"m": 1}, False)}
    assert (restored.metric, restored.mode) == ("m", "max")
    assert restored.suggest("b") == searcher.suggest("b")


def test_save_to_dir_and_restore_newest(tmp_path):
    searcher = RandomX(metric="m", mode="max")
    searcher.save_to_dir(str(tmp_path), session_str="one")
    searcher.on_trial_complete("late", {"m": 2})
    later = tmp_path / "searcher-state-two.pkl"
    searcher.save_to_dir(str(tmp_path), session_str="two")
    os.utime(later, (later.stat().st_atime, later.stat().st_mtime + 10))
    assert sorted(os.listdir(tmp_path)) == ["searcher-state-one.pkl", "searcher-state-two.pkl"]
    restored = RandomX()
    restored.restore_from_dir(str(tmp_path))
    assert "late" in restored.completed


def test_restore_from_empty_dir_raises(tmp_path):
    with pytest.raises(RuntimeError, match=r"no searcher-state-\*\.pkl file"):
        RandomX().restore_from_dir(str(tmp_path))


def test_save_to_dir_skips_searchers_without_save(tmp_path, caplog):
    class NoSave(RandomX):
        def save(self, checkpoint_path):
            raise NotImplementedError

    NoSave().save_to_dir(str(tmp_path))
    assert os.listdir(tmp_path) == []
    assert "does not support save" in caplog.text


def _trial(status, config, last_result):
    trial = Trial("f", trial_id=f"t{random.random()}", config=config)
    trial.status = status
    trial.last_result = last_result
    return trial


def test_add_evaluated_trials_maps_statuses():
    searcher = RandomX(metric="loss", mode="min")
    trials = [
        _trial(Trial.TERMINATED, {"x": 1}, {"loss": 0.5, "nested": {"a": 1}}),
        _trial(Trial.ERROR, {"x": 2}, {}),
        _trial(Trial.RUNNING, {"x": 3}, {"loss": 0.9}),
        _trial(Trial.PENDING, {"x": 4}, {}),
    ]
    searcher.add_evaluated_trials(trials, "loss")
    assert searcher.points == [({"x": 1}, 0.5, False, False), ({"x": 2}, None, True, False), ({"x": 3}, 0.9, False, True)]


def test_add_evaluated_trials_single_trial_and_multi_metric():
    searcher = RandomX(metric=["a", "b"], mode=["min", "max"])
    searcher.add_evaluated_trials(_trial(Trial.TERMINATED, {"x": 1}, {"a": 1, "b": 2}), ["a", "b"])
    assert searcher.points == [({"x": 1}, [1, 2], False, False)]


def test_add_evaluated_trials_warns_when_metric_missing_and_rejects_other_types():
    searcher = RandomX(metric="loss", mode="min")
    with pytest.warns(UserWarning, match="no evaluated trial reported the metric 'lost'"):
        searcher.add_evaluated_trials([_trial(Trial.TERMINATED, {"x": 1}, {"loss": 1})], "lost")
    with pytest.raises(TypeError, match="got int"):
        searcher.add_evaluated_trials(3, "loss")


def test_try_import_returns_module_or_explains_install():
    assert try_import("json").dumps([]) == "[]"
    with pytest.raises(ImportError, match=r'^OptunaSearch needs tunesmith_no_such_lib: pip install "tunesmith\[optuna\]"$'):
        try_import("tunesmith_no_such_lib.sub", extra="optuna", needed_by="OptunaSearch")
    with pytest.raises(ImportError, match="^This feature needs bayes_opt_missing: pip install bayesian-optimization$"):
        try_import("bayes_opt_missing", package="bayesian-optimization")
