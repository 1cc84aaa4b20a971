import numpy as np
import pytest

import tunesmith as tune
from tunesmith import visualization as vis
from tunesmith.visualization._importance import encode_params, param_importances


@pytest.fixture
def results(run):
    def train(config):
        for step in range(1, 4):
            tune.report({"loss": (config["x"] - 0.3) ** 2 * 10 + config["noise"] * 0.01 / step})

    return run(train, {"x": tune.uniform(0, 1), "noise": tune.uniform(0, 1), "opt": tune.choice(["adam", "sgd"])},
               metric="loss", mode="min", num_samples=24, search_alg=tune.search.BasicVariantGenerator(random_state=1))


def test_optimization_history_has_every_trial_and_a_monotone_best(results):
    fig = vis.plot_optimization_history(results)
    values, best = np.asarray(fig.data[0].y), np.asarray(fig.data[1].y)
    assert len(values) == 24 and np.all(np.diff(best) <= 0)
    assert best[-1] == pytest.approx(results.get_best_result().metrics["loss"])


def test_intermediate_values_one_curve_per_trial(results):
    fig = vis.plot_intermediate_values(results.experiment_path)
    assert len(fig.data) == 24 and all(list(trace.x) == [1, 2, 3] for trace in fig.data)


def test_parallel_coordinate_and_slice_take_an_experiment_analysis(results):
    analysis = tune.ExperimentAnalysis(results.experiment_path)
    fig = vis.plot_parallel_coordinate(analysis)
    labels = [d["label"] for d in fig.data[0].dimensions]
    assert labels == ["x", "noise", "opt", "loss"]
    assert list(fig.data[0].dimensions[2]["ticktext"]) == ["adam", "sgd"]
    assert [a.text for a in vis.plot_slice(analysis, params=["x", "opt"]).layout.annotations] == ["x", "opt"]


def test_param_importances_find_the_parameter_that_matters(results):
    fig = vis.plot_param_importances(results)
    shares = dict(zip(fig.data[0].y, fig.data[0].x))
    assert max(shares, key=shares.get) == "x" and shares["x"] > 0.8
    assert sum(shares.values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("coefficients", "expected"),
    [((1, 1, 0), (0.5, 0.5, 0.0)), ((2, 1, 0), (0.8, 0.2, 0.0)), ((0, 0, 1), (0.0, 0.0, 1.0))],
)
def test_fanova_shares_match_the_variance_of_an_additive_function(coefficients, expected):
    x = np.random.default_rng(0).uniform(size=(300, 3))
    shares = param_importances(x, x @ np.asarray(coefficients, dtype=float))
    assert shares == pytest.approx(expected, abs=0.05)


def test_categorical_params_are_coded_by_sorted_value():
    assert encode_params([{"a": "sgd"}, {"a": "adam"}], ["a"]).ravel().tolist() == [1.0, 0.0]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda r: vis.plot_slice(r, params=["nope"]), ValueError, r"params must be names from the config .*\['nope'\]"),
        (lambda r: vis.plot_optimization_history(r, mode="best"), ValueError, "mode must be 'min' or 'max', got 'best'"),
        (lambda r: vis.plot_optimization_history(42), TypeError, "got int"),
        (lambda r: param_importances(np.zeros((3, 1)), np.ones(3)), ValueError, "at least 2 trials with different"),
    ],
)
def test_bad_input_says_what_to_pass(results, call, error, match):
    with pytest.raises(error, match=match):
        call(results)


@pytest.mark.parametrize("name", ["tunesmith.visualization", "tunesmith.dashboard", "tunesmith.cli"])
def test_view_packages_export_sorted_existing_names(name):
    import importlib

    module = importlib.import_module(name)
    assert module.__all__ == sorted(module.__all__) and all(hasattr(module, member) for member in module.__all__)
