import functools
import subprocess
import sys

import pytest

bayes_opt = pytest.importorskip("bayes_opt", reason='needs bayesian-optimization: pip install "tunesmith[bayesopt]"')

from tunesmith.search import Searcher  # noqa: E402
from tunesmith.search.bayesopt import BayesOptSearch  # noqa: E402
from tunesmith.search.sample import choice, grid_search, loguniform, qloguniform, quniform, randint, randn, uniform  # noqa: E402
from tunesmith.testing import assert_in_space, check_searcher  # noqa: E402

from _searcher_runs import run_searcher  # noqa: E402

SPACE = {"x": uniform(-5.0, 5.0), "nested": {"y": uniform(0.0, 1.0)}, "const": 3}


def _loss(config):
    return (config["x"] - 1.0) ** 2 + config["nested"]["y"]


_run = functools.partial(run_searcher, loss=_loss)


def test_contract(tmp_path):
    # Random steps only (the Gaussian-process path is exercised below, where it is checked).
    check_searcher(lambda **kw: BayesOptSearch(random_search_steps=50, **kw), tmp_path, SPACE, same_suggestions=True)


def test_random_steps_then_the_gp_closes_in():
    searcher = BayesOptSearch({"x": (0.0, 1.0)}, metric="loss", mode="min", random_search_steps=3)
    xs = []
    for i in range(10):
        config = searcher.suggest(str(i))
        searcher.on_trial_complete(str(i), {"loss": (config["x"] - 0.3) ** 2})
        xs.append(config["x"])
    assert all(0.0 <= x <= 1.0 for x in xs)
    assert abs(xs[-1] - 0.3) < 0.05


def test_mode_max_maximizes():
    searcher = BayesOptSearch({"x": (0.0, 1.0)}, metric="score", mode="max", random_search_steps=3)
    for i in range(10):
        config = searcher.suggest(str(i))
        searcher.on_trial_complete(str(i), {"score": -((config["x"] - 0.7) ** 2)})
    assert abs(config["x"] - 0.7) < 0.05


def test_points_to_evaluate_come_first_and_seeded_runs_repeat():
    point = {"x": 2.0, "nested": {"y": 0.5}}
    first = BayesOptSearch(SPACE, metric="loss", mode="min", points_to_evaluate=[point], random_search_steps=2)
    second = BayesOptSearch(SPACE, metric="loss", mode="min", points_to_evaluate=[point], random_search_steps=2)
    configs = _run(first, 5)
    assert configs[0] == {**point, "const": 3}
    assert _run(second, 5) == configs
    for config in configs:
        assert_in_space(config, SPACE)


def test_save_restore_continues_the_same_sequence(tmp_path):
    original = BayesOptSearch(SPACE, metric="loss", mode="min", random_search_steps=2)
    _run(original, 4)
    original.save(str(tmp_path / "state.pkl"))
    restored = BayesOptSearch(metric="loss", mode="min")
    restored.restore(str(tmp_path / "state.pkl"))
    assert _run(restored, 2, "n") == _run(original, 2, "n")


def test_duplicates_are_skipped_and_patience_finishes():
    searcher = BayesOptSearch({"x": (0.0, 1.0)}, metric="loss", mode="min", points_to_evaluate=[{"x": 0.5}] * 3, patience=2)
    assert searcher.suggest("a") == {"x": 0.5}
    assert searcher.suggest("b") is None
    assert searcher.suggest("c") is Searcher.FINISHED


def test_analysis_warm_starts_the_optimizer():
    class Trial:
        def __init__(self, x):
            self.trial_id, self.status = f"old{x}", "TERMINATED"
            self.config, self.last_result = {"x": x}, {"loss": (x - 0.3) ** 2}

    class Analysis:
        trials = [Trial(x / 10) for x in range(11)]

    searcher = BayesOptSearch({"x": (0.0, 1.0)}, metric="loss", mode="min", random_search_steps=0, analysis=Analysis())
    assert abs(searcher.suggest("a")["x"] - 0.3) < 0.1


@pytest.mark.parametrize(
    "utility, acquisition",
    [("ucb", "UpperConfidenceBound"), ("ei", "ExpectedImprovement"), ("poi", "ProbabilityOfImprovement")],
)
def test_utility_kwargs_map_onto_acquisition_functions(utility, acquisition):
    searcher = BayesOptSearch({"x": (0.0, 1.0)}, metric="loss", mode="min", random_search_steps=2,
                              utility_kwargs={"kind": utility, "kappa": 1.0, "xi": 0.01})
    for i in range(4):
        config = searcher.suggest(str(i))
        searcher.on_trial_complete(str(i), {"loss": (config["x"] - 0.5) ** 2})
        assert 0 <= config["x"] <= 1
    if hasattr(bayes_opt, "acquisition"):
        assert type(searcher._optimizer.acquisition_function).__name__ == acquisition


def test_quantization_is_dropped_with_a_warning():
    with pytest.warns(UserWarning, match="ignores the quantization q=0.25 of parameter 'q'"):
        searcher = BayesOptSearch({"q": quniform(0, 1, 0.25)}, metric="loss", mode="min")
    assert 0 <= searcher.suggest("a")["q"] <= 1


@pytest.mark.parametrize(
    "space, match",
    [
        ({"n": randint(1, 5)}, r"parameter 'n'.*Integer"),
        ({"c": choice(["a", "b"])}, r"parameter 'c'.*Categorical"),
        ({"r": randn(0, 1)}, r"parameter 'r'.*Normal"),
        ({"g": grid_search([1, 2])}, "grid_search"),
        ({"x": (1.0, 0.0)}, r"space\['x'\] must be a \(lower, upper\) pair"),
    ],
)
def test_unsupported_spaces(space, match):
    with pytest.raises(ValueError, match=match):
        BayesOptSearch(space, metric="loss", mode="min")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mode": "maximize"}, "mode must be one of 'min', 'max'"),
        ({"utility_kwargs": {"kind": "pi"}}, r"utility_kwargs\['kind'\] must be 'ucb', 'ei' or 'poi'; got 'pi'"),
        ({"utility_kwargs": {"kappa": -1}}, r"utility_kwargs\['kappa'\] must be a number >= 0"),
        ({"utility_kwargs": {"beta": 1}}, r"utility_kwargs keys must be among"),
        ({"random_search_steps": -1}, "random_search_steps must be an int >= 0"),
        ({"patience": 0}, "patience must be an int >= 1"),
        ({"metric": ["a", "b"], "mode": ["min", "max"]}, "optimizes one metric"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BayesOptSearch(**kwargs)


def test_package_import_does_not_import_bayes_opt_and_missing_library_names_the_extra():
    code = (
        "import sys; import tunesmith.search.bayesopt as m; assert 'bayes_opt' not in sys.modules; "
        "sys.modules['bayes_opt'] = None\n"
        "try:\n    m.BayesOptSearch()\nexcept ImportError as e:\n    print(e)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "tunesmith[bayesopt]"' in out.stdout


@pytest.mark.parametrize(
    "domain, match",
    [
        (loguniform(1e-3, 1.0), "searches parameter 'lr' uniformly between its bounds 0.001 and 1.0"),
        (qloguniform(1e-3, 1.0, 1e-3), "ignores the quantization q=0.001 of parameter 'lr'"),
    ],
    ids=["loguniform", "qloguniform"],
)
def test_log_and_quantized_floats_are_searched_between_their_bounds_as_in_ray(domain, match):
    with pytest.warns(UserWarning, match=match):
        searcher = BayesOptSearch({"lr": domain, "x": uniform(0, 1)}, metric="loss", mode="min", random_search_steps=2)
    for config in _run_lr(searcher, 5):
        assert 1e-3 <= config["lr"] <= 1.0


def _run_lr(searcher, n):
    configs = []
    for i in range(n):
        config = searcher.suggest(str(i))
        searcher.on_trial_complete(str(i), {"loss": (config["lr"] - 0.1) ** 2 + config["x"]})
        configs.append(config)
    return configs


def test_convert_search_space_gives_flat_bounds():
    spec = {"m": {"lr": loguniform(1e-3, 1), "drop": quniform(0, 0.5, 0.1)}, "x": uniform(-1, 1), "seed": 3}
    with pytest.warns(UserWarning):
        assert BayesOptSearch.convert_search_space(spec) == {"m/lr": (1e-3, 1.0), "m/drop": (0.0, 0.5), "x": (-1.0, 1.0)}
        joined = BayesOptSearch.convert_search_space(spec, join=True)
    assert joined == {"m/lr": (1e-3, 1.0), "m/drop": (0.0, 0.5), "x": (-1.0, 1.0), "seed": 3}


def test_converted_space_drives_the_searcher():
    bounds = BayesOptSearch.convert_search_space({"a": {"b": uniform(2, 3)}})
    searcher = BayesOptSearch(bounds, metric="loss", mode="min")
    assert 2 <= searcher.suggest("t")["a"]["b"] <= 3


@pytest.mark.parametrize(
    "spec, match",
    [({"g": grid_search([1, 2])}, "grid_search"), ({"n": randint(0, 3)}, r"parameter 'n'.*Integer")],
)
def test_convert_search_space_refuses(spec, match):
    with pytest.raises(ValueError, match=match):
        BayesOptSearch.convert_search_space(spec)
