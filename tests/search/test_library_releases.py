"""Each searcher integration against whatever release of its library is installed.

CI installs the newest release of every searcher library (no upper pins; see the README's
test line), so these tests are where a new release that breaks an integration shows up
first: each one saves and restores the searcher, then runs a short real ``fit()`` and a
``Tuner.restore`` of it. The installed version is part of every failure message.
"""

import importlib.metadata
import importlib.util

import pytest

import tunesmith as tune
from tunesmith.testing import check_save_restore

SPACE = {"x": tune.uniform(-2.0, 2.0), "n": tune.randint(1, 5), "c": tune.choice(["a", "b"]), "k": 3}
FLOAT_SPACE = {"x": tune.uniform(-2.0, 2.0), "y": tune.uniform(0.0, 1.0), "k": 3}  # BayesOpt: floats only


def _optuna(**kw):
    from tunesmith.search.optuna import OptunaSearch

    return OptunaSearch(seed=0, **kw)


def _hyperopt(**kw):
    from tunesmith.search.hyperopt import HyperOptSearch

    return HyperOptSearch(random_state_seed=0, n_initial_points=2, **kw)


def _bayesopt(**kw):
    from tunesmith.search.bayesopt import BayesOptSearch

    return BayesOptSearch(random_state=0, random_search_steps=2, **kw)


def _bohb(**kw):
    from tunesmith.search.bohb import TuneBOHB

    return TuneBOHB(seed=0, **kw)


def _nevergrad(**kw):
    from tunesmith.search.nevergrad import NevergradSearch

    return NevergradSearch("OnePlusOne", seed=0, **kw)


def _zoopt(**kw):
    from tunesmith.search.zoopt import ZOOptSearch

    return ZOOptSearch(budget=30, seed=0, **kw)


def _ax(**kw):
    from tunesmith.search.ax import AxSearch

    return AxSearch(random_seed=0, initialization_budget=5, **kw)


def _hebo(**kw):
    from tunesmith.search.hebo import HEBOSearch

    return HEBOSearch(random_state_seed=0, rand_sample=5, **kw)


def _integration(make, module, distribution, space=SPACE, slow=False):
    # Ax and HEBO take tens of seconds per fit on a loaded 2-core machine.
    marks = [pytest.mark.slow, pytest.mark.timeout(600)] if slow else []
    if importlib.util.find_spec(module) is None:
        marks.append(pytest.mark.skip(reason=f"{distribution} is not installed (pip install -e '.[test]')"))
    return pytest.param(make, distribution, space, id=distribution, marks=marks)


INTEGRATIONS = [
    _integration(_optuna, "optuna", "optuna"),
    _integration(_hyperopt, "hyperopt", "hyperopt"),
    _integration(_bayesopt, "bayes_opt", "bayesian-optimization", FLOAT_SPACE),
    _integration(_bohb, "ConfigSpace", "ConfigSpace"),
    _integration(_nevergrad, "nevergrad", "nevergrad"),
    _integration(_zoopt, "zoopt", "zoopt", FLOAT_SPACE),  # with few discrete values ZOOpt may say FINISHED
    _integration(_ax, "ax", "ax-platform", slow=True),
    _integration(_hebo, "hebo", "HEBO", slow=True),
]


def _loss(config):
    return {"loss": (config["x"] - 0.5) ** 2 + (config.get("n", 1) - 2) ** 2 + config.get("y", 0.0)}


@pytest.mark.parametrize(("make", "distribution", "space"), INTEGRATIONS)
def test_saves_restores_and_fits_with_the_installed_release(make, distribution, space, tmp_path):
    release = f"{distribution} {importlib.metadata.version(distribution)}"
    try:
        check_save_restore(make, tmp_path, space, num_trials=3)
        storage = str(tmp_path)
        tuner = tune.Tuner(
            _loss,
            param_space=space,
            tune_config=tune.TuneConfig(metric="loss", mode="min", search_alg=make(), num_samples=3, max_concurrent_trials=1),
            run_config=tune.RunConfig(storage_path=storage, name="exp", verbose=0),
        )
        results = tuner.fit()
        assert results.num_terminated == 3 and not results.errors, results.errors
        restored = tune.Tuner.restore(f"{storage}/exp", _loss, num_samples=4).fit()
        assert restored.num_terminated == 4 and not restored.errors, restored.errors
    except Exception as exc:
        raise AssertionError(f"the searcher integration fails with {release}: {type(exc).__name__}: {exc}") from exc
