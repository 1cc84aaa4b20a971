"""Bad input to searchers: each case is a clear error that says what, the rule, and what it got."""

import importlib.util

import pytest

import tunesmith as tune
from tunesmith.search import ConcurrencyLimiter, Repeater, Searcher
from tunesmith.search.sample import qrandint, sample_from, uniform


class Const(Searcher):
    def suggest(self, trial_id):
        return {"x": 1}

    def on_trial_complete(self, trial_id, result=None, error=False):
        pass


def _needs(module):
    return pytest.mark.skipif(importlib.util.find_spec(module) is None, reason=f"needs {module}")


def _optuna(**kwargs):
    from tunesmith.search.optuna import OptunaSearch

    return OptunaSearch(**kwargs)


def _hyperopt(**kwargs):
    from tunesmith.search.hyperopt import HyperOptSearch

    return HyperOptSearch(**kwargs)


def _bayesopt(**kwargs):
    from tunesmith.search.bayesopt import BayesOptSearch

    return BayesOptSearch(**kwargs)


def _with_space(searcher, space):
    return searcher.set_search_properties(None, None, space)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        pytest.param(
            lambda: _with_space(_optuna(metric="loss", mode="min"), {"m": {"k": sample_from(lambda spec: 3)}}),
            ValueError, r"OptunaSearch cannot search parameter 'm/k': .*got Function sample_from\(<lambda>\)",
            id="sample_from-to-optuna", marks=_needs("optuna"),
        ),
        pytest.param(
            lambda: _optuna(metric="loss", mode="min").convert_search_space({"f": sample_from(lambda: 1)}),
            ValueError, r"cannot search parameter 'f'.*sample_from\(<lambda>\).*no searcher can model",
            id="sample_from-to-optuna-conversion", marks=_needs("optuna"),
        ),
        pytest.param(
            lambda: _with_space(_bayesopt(metric="loss", mode="min"), {"n": qrandint(0, 10, 2)}),
            ValueError, r"BayesOptSearch cannot search parameter 'n': it supports Float/Uniform, Float/LogUniform; "
                        r"got Integer\(0, 10\) with a Uniform sampler quantized by 2",
            id="quantized-int-to-bayesopt", marks=_needs("bayes_opt"),
        ),
        pytest.param(lambda: _optuna(metric="loss", mode="maximize"), ValueError,
                     "mode must be one of 'min', 'max'; got 'maximize'", id="optuna-mode", marks=_needs("optuna")),
        pytest.param(lambda: _hyperopt(metric="loss", mode="minimum"), ValueError,
                     "mode must be one of 'min', 'max'; got 'minimum'", id="hyperopt-mode", marks=_needs("hyperopt")),
        pytest.param(lambda: Const(metric="loss", mode="best"), ValueError,
                     "mode must be one of 'min', 'max'; got 'best'", id="plug-in-mode"),
        pytest.param(lambda: _optuna(metric=["loss", "time"], mode=["min"]), ValueError,
                     r"metric and mode lists must have the same length; got 2 metrics \['loss', 'time'\] and 1 modes",
                     id="optuna-list-lengths", marks=_needs("optuna")),
        pytest.param(lambda: Const(metric=["a"], mode=["min", "max"]), ValueError,
                     "same length; got 1 metrics", id="plug-in-list-lengths"),
        pytest.param(lambda: ConcurrencyLimiter(ConcurrencyLimiter(Const(), 2), 4), ValueError,
                     r"one ConcurrencyLimiter only; got a searcher already limited: ConcurrencyLimiter\(Const\) "
                     "with max_concurrent=2", id="limiter-twice"),
        pytest.param(lambda: ConcurrencyLimiter(Repeater(ConcurrencyLimiter(Const(), 1), repeat=2), 2), ValueError,
                     r"already limited: Repeater\(ConcurrencyLimiter\(Const\)\) with max_concurrent=1",
                     id="limiter-inside-repeater"),
        pytest.param(lambda: Repeater(Const(), repeat=0), ValueError, "repeat must be an int >= 1; got 0",
                     id="repeat-0"),
        pytest.param(lambda: Repeater(Const(), repeat=-3), ValueError, "repeat must be an int >= 1; got -3",
                     id="repeat-negative"),
    ],
)
def test_bad_input_is_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def _fit(searcher, param_space, tmp_path, **tune_config):
    tuner = tune.Tuner(
        lambda config: {"loss": 1.0},
        param_space=param_space,
        tune_config=tune.TuneConfig(metric="loss", mode="min", search_alg=searcher, num_samples=2, **tune_config),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    )
    return tuner.fit()


@_needs("optuna")
@pytest.mark.parametrize("max_concurrent_trials", [None, 2])
def test_param_space_domains_next_to_the_searchers_own_space(max_concurrent_trials, tmp_path):
    searcher = _optuna(space={"x": uniform(0, 1)})
    with pytest.raises(ValueError, match="OptunaSearch already has its own search space, so the param_space must "
                                         "hold only constants; got a param_space with search domains"):
        _fit(searcher, {"y": uniform(0, 1)}, tmp_path, max_concurrent_trials=max_concurrent_trials)


@_needs("optuna")
def test_own_space_with_a_constant_param_space_runs(tmp_path):
    results = _fit(_optuna(space={"x": uniform(0, 1)}, seed=0), {"fixed": 3}, tmp_path)
    assert [r.config["fixed"] for r in results] == [3, 3]
    assert all(0 <= r.config["x"] <= 1 for r in results)


def test_a_limited_searcher_and_max_concurrent_trials_disagreeing(tmp_path):
    with pytest.raises(ValueError, match="one ConcurrencyLimiter only"):
        _fit(Repeater(ConcurrencyLimiter(Const(), 1), repeat=2), {}, tmp_path, max_concurrent_trials=3)
