import math
import os

import pytest

import tunesmith as tune


def objective(config):
    return {"score": config.get("a", 1)}


def test_unknown_mode():
    with pytest.raises(ValueError, match="mode must be 'min' or 'max', got 'maximize'"):
        tune.TuneConfig(metric="score", mode="maximize")


def test_metric_without_mode():
    with pytest.raises(ValueError, match="needs a mode"):
        tune.TuneConfig(metric="score")


def test_metric_never_reported_names_what_was(run):
    with pytest.raises(tune.TuneError, match=r"no metric 'acc'; it reported: score"):
        run(objective, metric="acc", mode="max")


@pytest.mark.parametrize("n", [0, -2])
def test_num_samples_zero(n):
    with pytest.raises(ValueError, match="num_samples must be >= 1, or -1"):
        tune.TuneConfig(num_samples=n)


def test_empty_grid(run):
    with pytest.raises(ValueError, match="empty"):
        run(objective, {"a": tune.grid_search([])})


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: tune.choice([]), "empty|at least one"),
        (lambda: tune.loguniform(0, 1), "> 0|positive"),
        (lambda: tune.loguniform(-1, 1), "> 0|positive"),
        (lambda: tune.uniform(5, 1), "lower|upper"),
        (lambda: tune.quniform(0, 1, 0), "q"),
        (lambda: tune.qrandint(0, 10, -1), "q"),
    ],
)
def test_bad_domains(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_non_numeric_metric_fails_the_trial_clearly(run):
    def train(config):
        return {"score": "high"}

    results = run(train, metric="score", mode="max")
    assert results.num_errors == 1
    assert "metric 'score' must be a number, got 'high'" in str(results.errors[0])


def test_nan_metric_is_recorded_and_skipped_by_get_best(run):
    def train(config):
        return {"score": math.nan if config["a"] == 1 else config["a"]}

    results = run(train, {"a": tune.grid_search([1, 2])}, metric="score", mode="max")
    assert results.num_errors == 0
    assert results.get_best_result().config["a"] == 2


def test_unwritable_storage_path(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    tuner = tune.Tuner(objective, run_config=tune.RunConfig(storage_path=str(blocked), verbose=0))
    with pytest.raises(tune.TuneError, match="cannot write to the storage path"):
        tuner.fit()


def test_param_space_must_be_a_dict():
    with pytest.raises(ValueError, match="param_space must be a dict"):
        tune.Tuner(objective, param_space=[1, 2])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"verbose": 7}, "verbose must be"),
        ({"name": "a/b"}, "name must be a folder name"),
        ({"stop": {"a": {"b": "x"}}}, "the value for 'a/b' must be a number"),
    ],
)
def test_run_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tune.RunConfig(**kwargs)


def test_checkpoint_config_validation():
    with pytest.raises(ValueError, match="num_to_keep"):
        tune.CheckpointConfig(num_to_keep=0)
    with pytest.raises(ValueError, match="checkpoint_score_order"):
        tune.CheckpointConfig(checkpoint_score_order="best")


def test_checkpoint_frequency_with_a_function_trainable(run):
    with pytest.raises(ValueError, match="only with class trainables"):
        run(objective, run_config={"checkpoint_config": tune.CheckpointConfig(checkpoint_frequency=2)})


def test_no_partial_state_after_a_config_error(storage):
    with pytest.raises(ValueError):
        tune.Tuner(objective, param_space=[1]).fit()
    assert not os.path.exists(storage)


class _NotATrainable:
    pass


@pytest.mark.parametrize(
    ("make", "ray_error", "match"),
    [
        (lambda: tune.Tuner(3), tune.TuneError, "trainable must be a function f\\(config\\) or a tunesmith.Trainable subclass, got int"),
        (lambda: tune.Tuner("never_registered_name"), tune.TuneError, "no trainable is registered as 'never_registered_name'"),
        (lambda: tune.Tuner(_NotATrainable), TypeError, "trainable class _NotATrainable must subclass tunesmith.Trainable"),
        (lambda: tune.CheckpointConfig(num_to_keep="2"), TypeError, "num_to_keep must be None or an int >= 1, got '2'"),
        (lambda: tune.CheckpointConfig(checkpoint_frequency="2"), TypeError, "checkpoint_frequency must be an int >= 0, got '2'"),
    ],
)
def test_errors_are_rays_type_and_still_value_errors(make, ray_error, match):
    # Ray Tune raises TuneError / TypeError here; tunesmith raised ValueError: the error is both
    with pytest.raises(ray_error, match=match) as caught:
        make()
    assert isinstance(caught.value, ValueError)
