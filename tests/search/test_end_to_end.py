"""Every searcher through the real ``Tuner``: a 2-D quadratic, points first, seeds, restore.

Trials run in worker processes, so each ``fit`` costs about a second; the searchers whose
library is slow to import or to model (Ax, HEBO) run three trials and are marked slow.
"""

import importlib.util

import pytest

import tunesmith as tune

SPACE = {"x": tune.uniform(-5.0, 5.0), "y": tune.uniform(-5.0, 5.0), "const": 7}
POINTS = [{"x": 1.0, "y": -2.0}, {"x": -4.0, "y": 4.5}]


def quadratic(config):
    return {"loss": (config["x"] - 1.0) ** 2 + (config["y"] + 2.0) ** 2}


def _optuna(seed, points=None):
    from tunesmith.search.optuna import OptunaSearch

    return OptunaSearch(seed=seed, points_to_evaluate=points)


def _hyperopt(seed, points=None):
    from tunesmith.search.hyperopt import HyperOptSearch

    return HyperOptSearch(random_state_seed=seed, n_initial_points=3, points_to_evaluate=points)


def _bayesopt(seed, points=None):
    from tunesmith.search.bayesopt import BayesOptSearch

    return BayesOptSearch(random_state=seed, random_search_steps=3, points_to_evaluate=points)


def _bohb(seed, points=None):
    from tunesmith.search.bohb import TuneBOHB

    return TuneBOHB(seed=seed, points_to_evaluate=points)


def _nevergrad(seed, points=None):
    from tunesmith.search.nevergrad import NevergradSearch

    return NevergradSearch("OnePlusOne", seed=seed, points_to_evaluate=points)


def _zoopt(seed, points=None):
    from tunesmith.search.zoopt import ZOOptSearch

    return ZOOptSearch(budget=20, seed=seed, points_to_evaluate=points)


def _ax(seed, points=None):
    from tunesmith.search.ax import AxSearch

    return AxSearch(random_seed=seed, initialization_budget=5, points_to_evaluate=points)


def _hebo(seed, points=None):
    from tunesmith.search.hebo import HEBOSearch

    return HEBOSearch(random_state_seed=seed, rand_sample=5, points_to_evaluate=points)


def _needs(*modules):
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    return pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)}")


SLOW = pytest.mark.slow
SEARCHERS = [
    pytest.param(_optuna, 6, id="optuna", marks=_needs("optuna")),
    pytest.param(_hyperopt, 6, id="hyperopt", marks=_needs("hyperopt")),
    pytest.param(_bayesopt, 6, id="bayesopt", marks=_needs("bayes_opt")),
    pytest.param(_bohb, 6, id="bohb", marks=_needs("ConfigSpace")),
    pytest.param(_nevergrad, 6, id="nevergrad", marks=_needs("nevergrad")),
    pytest.param(_zoopt, 6, id="zoopt", marks=_needs("zoopt")),
    pytest.param(_ax, 3, id="ax", marks=[SLOW, _needs("ax")]),
    pytest.param(_hebo, 3, id="hebo", marks=[SLOW, _needs("hebo", "torch")]),
]
# Ax and HEBO are seeded too; their own test files check that, where they run faster.
SEEDED = [p for p in SEARCHERS if p.id not in ("ax", "hebo")]


def _tuner(searcher, num_samples, storage, name, trainable=quadratic, **tune_config):
    return tune.Tuner(
        trainable,
        param_space=SPACE,
        tune_config=tune.TuneConfig(metric="loss", mode="min", search_alg=searcher, num_samples=num_samples,
                                    max_concurrent_trials=1, **tune_config),
        run_config=tune.RunConfig(storage_path=storage, name=name, verbose=0),
    )


def _in_order(results):
    """Configs in the order the trials were created (the tag starts with that number)."""
    ordered = sorted(results, key=lambda r: int(r.metrics["experiment_tag"].split("_", 1)[0]))
    return [{k: r.config[k] for k in ("x", "y")} for r in ordered]


@pytest.mark.parametrize(("make_searcher", "num_samples"), SEARCHERS)
def test_runs_the_quadratic_points_to_evaluate_first(make_searcher, num_samples, tmp_path):
    results = _tuner(make_searcher(0, POINTS), num_samples, str(tmp_path), "exp").fit()
    assert len(results) == num_samples and results.num_terminated == num_samples and not results.errors
    configs = _in_order(results)
    assert configs[:2] == POINTS
    for result in results:
        assert -5 <= result.config["x"] <= 5 and -5 <= result.config["y"] <= 5 and result.config["const"] == 7
        assert result.metrics["loss"] == pytest.approx(quadratic(result.config)["loss"])
    assert results.get_best_result().metrics["loss"] == 0.0  # the first point is the minimum


@pytest.mark.parametrize(("make_searcher", "num_samples"), SEEDED)
def test_one_seed_reproduces_the_search_and_restore_continues_it(make_searcher, num_samples, tmp_path):
    storage = str(tmp_path)
    first = _in_order(_tuner(make_searcher(3), num_samples, storage, "first").fit())
    second = _in_order(_tuner(make_searcher(3), num_samples, storage, "second").fit())
    assert first == second
    assert _in_order(_tuner(make_searcher(4), num_samples, storage, "other-seed").fit()) != first

    _tuner(make_searcher(3), 3, storage, "interrupted").fit()
    restored = tune.Tuner.restore(f"{storage}/interrupted", quadratic, num_samples=num_samples).fit()
    # A fresh searcher with the same seed would repeat the first three configs; the restored
    # one continues the search exactly where the uninterrupted run went on.
    assert _in_order(restored) == first


def test_restored_optuna_search_keeps_its_study(tmp_path):
    pytest.importorskip("optuna")
    storage = str(tmp_path)
    _tuner(_optuna(seed=5), 3, storage, "exp").fit()
    tuner = tune.Tuner.restore(f"{storage}/exp", quadratic, num_samples=6)
    results = tuner.fit()
    assert len(results) == 6
    configs = _in_order(results)
    assert len({(c["x"], c["y"]) for c in configs}) == 6
    study = tuner.tune_config.search_alg.get_state()["_study"]  # the restored searcher's own study
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 6
    assert [t.params for t in study.trials] == configs


@pytest.mark.skipif(importlib.util.find_spec("ConfigSpace") is None, reason="needs ConfigSpace")
def test_bohb_with_hyperband_for_bohb(tmp_path):
    from tunesmith.schedulers import HyperBandForBOHB
    from tunesmith.search.bohb import TuneBOHB

    def iterative(config):
        for step in range(1, 10):
            tune.report({"loss": quadratic(config)["loss"] + 10.0 / step})

    scheduler = HyperBandForBOHB(time_attr="training_iteration", max_t=9, reduction_factor=3)
    tuner = tune.Tuner(
        iterative,
        param_space=SPACE,
        tune_config=tune.TuneConfig(metric="loss", mode="min", search_alg=TuneBOHB(seed=0), scheduler=scheduler,
                                    num_samples=8),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    )
    results = tuner.fit()
    assert len(results) == 8 and not results.errors
    iterations = sorted(r.metrics["training_iteration"] for r in results)
    assert iterations[0] < 9 and iterations[-1] == 9  # some trials stopped early, the best went on


class _PausesEachTrialOnce(tune.schedulers.FIFOScheduler):
    def __init__(self):
        super().__init__()
        self.paused = set()

    def on_trial_result(self, trial, result):
        if trial.trial_id not in self.paused:
            self.paused.add(trial.trial_id)
            return self.PAUSE
        return self.CONTINUE


class _RecordsPauses(tune.search.Searcher):
    def __init__(self):
        super().__init__(metric="loss", mode="min")
        self.events = []
        self.count = 0

    def suggest(self, trial_id):
        self.count += 1
        return {"x": float(self.count)}

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.events.append(("complete", trial_id))

    def on_pause(self, trial_id):
        self.events.append(("pause", trial_id))

    def on_unpause(self, trial_id):
        self.events.append(("unpause", trial_id))


def test_the_searcher_hears_of_each_pause_and_resume_as_in_ray_tune(tmp_path):
    """Ray Tune tells the searcher when a scheduler pauses a trial and when it runs again
    (TuneBOHB stops counting a paused trial against max_concurrent)."""
    def two_steps(config):
        for _ in range(2):
            tune.report({"loss": config["x"]})

    searcher = _RecordsPauses()
    tuner = tune.Tuner(
        two_steps,
        tune_config=tune.TuneConfig(search_alg=searcher, scheduler=_PausesEachTrialOnce(), num_samples=2),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    )
    results = tuner.fit()
    assert not results.errors
    for trial_id in {trial_id for _, trial_id in searcher.events}:
        assert [kind for kind, t in searcher.events if t == trial_id] == ["pause", "unpause", "complete"]
    assert len(searcher.events) == 6
