import math
import statistics
import subprocess
import sys

import optuna
import pytest

from tunesmith.search import SearchGenerator
from tunesmith.search.optuna import OptunaSearch
from tunesmith.search.sample import (
    choice,
    grid_search,
    lograndint,
    loguniform,
    qlograndint,
    qloguniform,
    qrandint,
    quniform,
    randint,
    randn,
    uniform,
)
from tunesmith.testing import check_save_restore, check_searcher, check_suggestions_in_space, contract_space

dist = optuna.distributions
NUMERIC_SPACE = {"x": uniform(-5, 5), "lr": loguniform(1e-4, 1e-1), "units": randint(1, 10), "nested": {"q": quniform(0, 1, 0.25)}}


@pytest.fixture(autouse=True)
def _quiet_optuna():
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    yield
    optuna.logging.set_verbosity(verbosity)


def _storage_study(storage):
    return optuna.load_study(study_name="optuna", storage=storage)


def _loss(config):
    return (config["x"] - 3) ** 2


# -- the shared contract ---------------------------------------------------------------------


def test_contract_tpe_seeded(tmp_path):
    check_searcher(lambda **kw: OptunaSearch(seed=0, **kw), tmp_path, same_suggestions=True)


@pytest.mark.parametrize(
    "make_sampler",
    [
        lambda: optuna.samplers.CmaEsSampler(seed=0, n_startup_trials=2),
        lambda: optuna.samplers.NSGAIISampler(seed=0, population_size=4),
        lambda: optuna.samplers.RandomSampler(seed=0),
    ],
    ids=["cmaes", "nsga2", "random"],
)
def test_other_samplers_suggest_and_restore(make_sampler, tmp_path):
    factory = lambda **kw: OptunaSearch(sampler=make_sampler(), **kw)  # noqa: E731
    check_suggestions_in_space(factory, NUMERIC_SPACE, num_trials=6)
    check_save_restore(factory, tmp_path, NUMERIC_SPACE, num_trials=3, same_suggestions=True)


@pytest.mark.slow
def test_gp_sampler_models_after_startup():
    # The GP sampler imports torch (seconds) and each fit takes ~1 s: one fitted suggestion only.
    pytest.importorskip("torch", reason="optuna's GPSampler needs torch")
    factory = lambda **kw: OptunaSearch(sampler=optuna.samplers.GPSampler(seed=0, n_startup_trials=2), **kw)  # noqa: E731
    configs = check_suggestions_in_space(factory, {"x": uniform(0, 10)}, num_trials=3)
    assert len({c["x"] for c in configs}) == 3


# -- conversion ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "domain, expected",
    [
        (uniform(0, 2), dist.FloatDistribution(0, 2)),
        (loguniform(1e-3, 1), dist.FloatDistribution(1e-3, 1, log=True)),
        (quniform(0, 1, 0.25), dist.FloatDistribution(0, 1, step=0.25)),
        (randint(0, 3), dist.IntDistribution(0, 2)),
        (qrandint(0, 3), dist.IntDistribution(0, 2)),
        (qrandint(0, 10, 5), dist.IntDistribution(0, 10, step=5)),
        (qrandint(3, 19, 5), dist.IntDistribution(5, 15, step=5)),
        (lograndint(1, 100), dist.IntDistribution(1, 99, log=True)),
        (choice([None, 1, "a"]), dist.CategoricalDistribution([None, 1, "a"])),
    ],
)
def test_conversion_table(domain, expected):
    assert OptunaSearch.convert_search_space({"p": {"q": domain}, "c": 1}) == {"p/q": expected}


@pytest.mark.parametrize(
    "domain, expected",
    [
        (qloguniform(0.1, 10, 0.1), dist.FloatDistribution(0.1, 10, log=True)),
        (qlograndint(1, 100, 10), dist.IntDistribution(1, 100, log=True)),
    ],
)
def test_log_with_quantization_drops_step_with_a_warning(domain, expected):
    with pytest.warns(UserWarning, match="OptunaSearch ignores the quantization q=.* of parameter 'p'.*log=True"):
        assert OptunaSearch.convert_search_space({"p": domain}) == {"p": expected}


def test_normal_domain_is_refused_naming_the_parameter():
    with pytest.raises(ValueError, match=r"OptunaSearch cannot search parameter 'model/noise': .*got Float\(-inf, inf\) with a Normal sampler"):
        OptunaSearch(metric="loss", mode="min").set_search_properties(None, None, {"model": {"noise": randn(0, 1)}})


def test_grid_search_is_refused():
    with pytest.raises(ValueError, match="grid_search.*BasicVariantGenerator"):
        OptunaSearch({"x": grid_search([1, 2])}, metric="loss", mode="min")


def test_values_respect_types_bounds_and_log_scale():
    searcher = OptunaSearch(metric="loss", mode="min", sampler=optuna.samplers.RandomSampler(seed=0))
    searcher.set_search_properties(None, None, {"lr": loguniform(1e-4, 1e-1), "n": randint(0, 3), "c": choice(["a", "b"])})
    configs = [searcher.suggest(str(i)) for i in range(60)]
    assert all(1e-4 <= c["lr"] <= 1e-1 for c in configs)
    assert {c["n"] for c in configs} == {0, 1, 2} and all(type(c["n"]) is int for c in configs)
    assert {c["c"] for c in configs} == {"a", "b"}
    # On a log scale a third of the draws fall below 1e-3; uniformly, about 1 %.
    assert sum(c["lr"] < 1e-3 for c in configs) >= 10


def test_native_distributions_nested_dict_and_constants():
    space = {"x": dist.FloatDistribution(0, 1), "model": {"units": dist.IntDistribution(1, 4)}, "const": 7}
    config = OptunaSearch(space, metric="loss", mode="min", seed=0).suggest("t")
    assert set(config) == {"x", "model", "const"} and config["const"] == 7
    assert 1 <= config["model"]["units"] <= 4


def test_search_generator_merges_constants_of_the_param_space():
    gen = SearchGenerator(OptunaSearch(seed=0), seed=0)
    space = {"x": uniform(0, 10), "fixed": {"a": 1}}
    assert gen.set_search_properties("loss", "min", space) is True
    gen.add_configurations(space, 2)
    trial = gen.next_trial()
    assert trial.config["fixed"] == {"a": 1} and 0 <= trial.config["x"] <= 10


def test_own_space_plus_param_space_domains_is_a_value_error():
    gen = SearchGenerator(OptunaSearch({"x": uniform(0, 1)}, metric="loss", mode="min"))
    with pytest.raises(ValueError, match="already has its own search space"):
        gen.set_search_properties(None, None, {"y": uniform(0, 1)})


def test_own_space_takes_metric_from_the_experiment():
    searcher = OptunaSearch({"x": uniform(0, 1)})
    assert searcher.set_search_properties("loss", "max", {"const": 1}) is False
    assert (searcher.metric, searcher.mode) == ("loss", "max")
    assert 0 <= searcher.suggest("t")["x"] <= 1


# -- define-by-run ---------------------------------------------------------------------------


def conditional_space(trial):
    kind = trial.suggest_categorical("kind", ["linear", "tree"])
    if kind == "tree":
        trial.suggest_int("depth", 1, 8)
    else:
        trial.suggest_float("model/alpha", 1e-3, 1.0, log=True)
    return {"const": 1}


def test_define_by_run_conditional_keys_and_constants():
    searcher = OptunaSearch(conditional_space, metric="loss", mode="min", seed=3)
    configs = [searcher.suggest(str(i)) for i in range(12)]
    for config in configs:
        assert config["const"] == 1
        if config["kind"] == "tree":
            assert set(config) == {"kind", "depth", "const"}
        else:
            assert set(config) == {"kind", "model", "const"} and 1e-3 <= config["model"]["alpha"] <= 1
    assert {c["kind"] for c in configs} == {"linear", "tree"}


def test_define_by_run_checks():
    with pytest.raises(ValueError, match="define-by-run space must be a function taking one argument"):
        OptunaSearch(lambda a, b: None, metric="loss", mode="min")
    bad = OptunaSearch(lambda trial: [trial.suggest_float("x", 0, 1)], metric="loss", mode="min")
    with pytest.raises(TypeError, match="must return None or a dict of constants; got list"):
        bad.suggest("t")
    with pytest.raises(TypeError, match="evaluated_rewards needs a dict space"):
        OptunaSearch(conditional_space, points_to_evaluate=[{"kind": "tree"}], evaluated_rewards=[1.0])


# -- warm start ------------------------------------------------------------------------------


def test_points_to_evaluate_come_first_nested_and_partial():
    space = {"x": uniform(0, 10), "model": {"units": randint(1, 9)}}
    points = [{"x": 1.5, "model": {"units": 4}}, {"x": 2.5}, {"model/units": 8, "x": 9.0}]
    searcher = OptunaSearch(metric="loss", mode="min", points_to_evaluate=points, seed=0)
    searcher.set_search_properties(None, None, space)
    first, second, third = (searcher.suggest(t) for t in "abc")
    assert first == {"x": 1.5, "model": {"units": 4}}
    assert second["x"] == 2.5 and 1 <= second["model"]["units"] <= 8
    assert third == {"x": 9.0, "model": {"units": 8}}


def test_points_with_unknown_keys_are_refused():
    searcher = OptunaSearch({"x": uniform(0, 1)}, metric="loss", mode="min", points_to_evaluate=[{"y": 1}])
    with pytest.raises(ValueError, match=r"keys must be parameters of the space \['x'\]; got unknown keys \['y'\]"):
        searcher.suggest("t")


def test_evaluated_rewards_become_finished_trials():
    storage = optuna.storages.InMemoryStorage()
    searcher = OptunaSearch(
        {"x": uniform(0, 10)}, metric="loss", mode="min", storage=storage, seed=0,
        points_to_evaluate=[{"x": 1.0}, {"x": 3.0}], evaluated_rewards=[4.0, 0.0],
    )
    searcher.suggest("t")
    trials = _storage_study(storage).trials
    assert [(t.params, t.values, t.state.name) for t in trials[:2]] == [({"x": 1.0}, [4.0], "COMPLETE"), ({"x": 3.0}, [0.0], "COMPLETE")]
    assert trials[2].state.name == "RUNNING"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"evaluated_rewards": [1.0]}, "evaluated_rewards needs points_to_evaluate: one reward per point; got 1 rewards and no points"),
        ({"points_to_evaluate": [{"x": 1}], "evaluated_rewards": [1.0, 2.0]}, "got 1 points and 2 rewards"),
        ({"points_to_evaluate": [{"x": 1}], "evaluated_rewards": 1.0}, "evaluated_rewards must be a list"),
        ({"points_to_evaluate": {"x": 1}}, "points_to_evaluate must be a list of dicts"),
        ({"mode": "maximize", "metric": "loss"}, "mode must be one of 'min', 'max'; got 'maximize'"),
        ({"metric": ["a", "b"], "mode": ["min"]}, "same length; got 2 metrics"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        OptunaSearch({"x": uniform(0, 10)}, **kwargs)


def test_sampler_type_and_seed_warning():
    with pytest.raises(TypeError, match="sampler must be an optuna.samplers.BaseSampler; got str"):
        OptunaSearch(sampler="tpe")
    with pytest.warns(UserWarning, match="ignores seed when a sampler is given"):
        OptunaSearch(sampler=optuna.samplers.RandomSampler(), seed=1)


def test_add_evaluated_point_states():
    storage = optuna.storages.InMemoryStorage()
    searcher = OptunaSearch({"x": uniform(0, 10)}, metric="loss", mode="min", storage=storage)
    searcher.add_evaluated_point({"x": 1.0}, 4.0, intermediate_values=[9.0, 4.0])
    searcher.add_evaluated_point({"x": 2.0}, None, error=True)
    searcher.add_evaluated_point({"x": 3.0}, 0.5, pruned=True, intermediate_values=[0.5])
    trials = _storage_study(storage).trials
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "PRUNED"]
    assert trials[0].intermediate_values == {0: 9.0, 1: 4.0}


# -- ask and tell ----------------------------------------------------------------------------


def test_trial_outcomes_are_told_as_complete_fail_and_pruned():
    storage = optuna.storages.InMemoryStorage()
    searcher = OptunaSearch({"x": uniform(0, 10)}, metric="loss", mode="min", storage=storage, seed=0)
    for trial_id in ("done", "failed", "stopped"):
        searcher.suggest(trial_id)
    searcher.on_trial_result("done", {"loss": 2.0, "training_iteration": 1})
    searcher.on_trial_result("done", {"loss": 2.0, "training_iteration": 1})  # same step: ignored
    searcher.on_trial_result("done", {"loss": 1.0, "training_iteration": 2})
    searcher.on_trial_complete("done", {"loss": 1.0})
    searcher.on_trial_complete("failed", {"loss": 5.0}, error=True)
    searcher.on_trial_complete("stopped", {"other": 1})
    searcher.on_trial_complete("done", {"loss": 1.0})  # twice: ignored
    trials = _storage_study(storage).trials
    assert [(t.state.name, t.values) for t in trials] == [("COMPLETE", [1.0]), ("FAIL", None), ("PRUNED", None)]
    assert trials[0].intermediate_values == {1: 2.0, 2: 1.0}


def test_multi_objective_tells_two_values_and_records_observed_metrics():
    storage = optuna.storages.InMemoryStorage()
    searcher = OptunaSearch(
        {"x": uniform(0, 10)}, metric=["loss", "speed", "memory"], mode=["min", "max", "obs"], storage=storage, seed=0
    )
    config = searcher.suggest("t")
    searcher.on_trial_result("t", {"loss": 1.0, "speed": 2.0, "training_iteration": 1})
    searcher.on_trial_complete("t", {"loss": _loss(config), "speed": config["x"], "memory": 12})
    study = _storage_study(storage)
    assert [d.name for d in study.directions] == ["MINIMIZE", "MAXIMIZE"]
    assert study.trials[0].values == [_loss(config), config["x"]]
    assert study.trials[0].user_attrs == {"memory": 12}


def test_concurrent_suggestions_are_running_trials_of_the_study():
    storage = optuna.storages.InMemoryStorage()
    searcher = OptunaSearch(metric="loss", mode="min", seed=0, storage=storage)
    searcher.set_search_properties(None, None, {"x": uniform(-5, 5), "y": uniform(-5, 5)})
    configs = [searcher.suggest(f"t{i}") for i in range(4)]  # four workers, nothing finished yet
    assert len({(c["x"], c["y"]) for c in configs}) == 4
    running = _storage_study(storage).get_trials(states=(optuna.trial.TrialState.RUNNING,))
    assert [t.params for t in running] == configs
    searcher.on_trial_complete("t2", {"loss": 1.0})
    assert len(_storage_study(storage).get_trials(states=(optuna.trial.TrialState.RUNNING,))) == 3


def _distinct_concurrent_choices(searcher):
    """After 10 finished trials, how many categories 4 trials asked for at once get."""
    losses = {"a": 0.0, "b": 1.0, "c": 2.0, "d": 3.0}
    searcher.set_search_properties(None, None, {"c": choice(list(losses))})
    for i in range(10):
        config = searcher.suggest(f"done{i}")
        searcher.on_trial_complete(f"done{i}", {"loss": losses[config["c"]]})
    return len({searcher.suggest(f"running{i}")["c"] for i in range(4)})


def test_default_tpe_counts_running_trials_so_parallel_trials_differ():
    # Measured over seeds 0-9 (Optuna 5.0): 4 trials asked for at once get 1 category each
    # time without the constant liar (10 in all), 2-3 with it (21 in all).
    default = sum(_distinct_concurrent_choices(OptunaSearch(metric="loss", mode="min", seed=seed)) for seed in range(10))
    no_liar = sum(
        _distinct_concurrent_choices(
            OptunaSearch(metric="loss", mode="min", sampler=optuna.samplers.TPESampler(seed=seed, constant_liar=False))
        )
        for seed in range(10)
    )
    assert no_liar <= 12 and default >= 1.5 * no_liar


def test_seed_makes_suggestions_repeatable():
    first = OptunaSearch({"x": uniform(0, 10)}, metric="loss", mode="min", seed=11)
    second = OptunaSearch({"x": uniform(0, 10)}, metric="loss", mode="min", seed=11)
    assert [first.suggest(str(i)) for i in range(3)] == [second.suggest(str(i)) for i in range(3)]


def test_missing_space_or_metric():
    with pytest.raises(RuntimeError, match="no search space has been defined"):
        OptunaSearch(metric="loss", mode="min").suggest("t")
    with pytest.raises(RuntimeError, match=r"`metric` \(None\) or `mode` \(None\)"):
        OptunaSearch({"x": uniform(0, 1)}).suggest("t")


def test_tpe_beats_random_search_on_a_quadratic():
    def last_losses(sampler):
        searcher = OptunaSearch(metric="loss", mode="min", sampler=sampler)
        searcher.set_search_properties(None, None, {"x": uniform(-10, 10), "y": uniform(-10, 10)})
        losses = []
        for i in range(40):
            config = searcher.suggest(str(i))
            losses.append((config["x"] - 3) ** 2 + (config["y"] + 1) ** 2)
            searcher.on_trial_complete(str(i), {"loss": losses[-1]})
        return statistics.mean(losses[-15:])

    tpe = last_losses(optuna.samplers.TPESampler(seed=0, n_startup_trials=10))
    random_search = last_losses(optuna.samplers.RandomSampler(seed=0))
    assert tpe < 0.8 * random_search


def test_contract_space_round_trip_through_search_generator(tmp_path):
    space = contract_space()
    gen = SearchGenerator(OptunaSearch(seed=0), seed=0)
    gen.set_search_properties("loss", "min", space)
    gen.add_configurations(space, 3)
    trial = gen.next_trial()
    gen.save_to_dir(str(tmp_path))
    restored = SearchGenerator(OptunaSearch(seed=0), seed=0)
    restored.set_search_properties("loss", "min", space)
    restored.add_configurations(space, 3)
    restored.restore_from_dir(str(tmp_path))
    restored.on_trial_complete(trial.trial_id, {"loss": 1.0})
    assert restored.next_trial().experiment_tag.startswith("2_")
    assert not math.isnan(restored.next_trial().config["x"]) and restored.is_finished()


def test_importing_the_module_does_not_import_optuna():
    code = "import sys, tunesmith.search.optuna, tunesmith.search.hyperopt; print('optuna' in sys.modules, 'hyperopt' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False False", out.stderr


def test_observed_only_metrics_are_refused():
    searcher = OptunaSearch({"x": uniform(0, 1)}, metric=["a"], mode=["obs"])
    with pytest.raises(ValueError, match="at least one metric with mode 'min' or 'max'; got modes \\['obs'\\]"):
        searcher.suggest("t")


# -- every built-in sampler is saved and restored inside a real fit ---------------------------

_FIT_SPACE = {"x": quniform(-5, 5, 0.5), "n": randint(-5, 6)}  # discrete, for BruteForceSampler


def _sum_of_squares(config):
    return {"loss": config["x"] ** 2 + config["n"] ** 2}


def _builtin_samplers():
    samplers = optuna.samplers
    makers = {
        "tpe": lambda: samplers.TPESampler(seed=0),
        "random": lambda: samplers.RandomSampler(seed=0),
        "cmaes": lambda: samplers.CmaEsSampler(seed=0, n_startup_trials=2),
        "nsga2": lambda: samplers.NSGAIISampler(seed=0, population_size=2),
        "nsga3": lambda: samplers.NSGAIIISampler(seed=0, population_size=2),
        "qmc": lambda: samplers.QMCSampler(seed=0),
        "gp": lambda: samplers.GPSampler(seed=0, n_startup_trials=2),
        "bruteforce": lambda: samplers.BruteForceSampler(seed=0),
    }
    params = []
    for name, make in makers.items():
        marks = []
        if name == "gp" and not _gp_sampler_runs():
            marks.append(pytest.mark.skip(reason="GPSampler needs torch and scipy"))
        params.append(pytest.param(make, id=name, marks=marks))
    return params


def _gp_sampler_runs():
    import importlib.util

    return hasattr(optuna.samplers, "GPSampler") and all(importlib.util.find_spec(m) for m in ("torch", "scipy"))


def _fit(make_sampler, storage, name, num_samples, restore=False):
    import tunesmith as tune

    if restore:
        return tune.Tuner.restore(f"{storage}/{name}", _sum_of_squares, num_samples=num_samples).fit()
    return tune.Tuner(
        _sum_of_squares,
        param_space=_FIT_SPACE,
        tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=num_samples, max_concurrent_trials=1,
                                    search_alg=OptunaSearch(sampler=make_sampler())),
        run_config=tune.RunConfig(storage_path=storage, name=name, verbose=0),
    ).fit()


def _ordered_configs(results):
    ordered = sorted(results, key=lambda r: int(r.metrics["experiment_tag"].split("_", 1)[0]))
    return [(r.config["x"], r.config["n"]) for r in ordered]


@pytest.mark.slow
@pytest.mark.parametrize("make_sampler", _builtin_samplers())
def test_every_builtin_sampler_is_saved_and_restored_in_a_real_fit(make_sampler, tmp_path):
    # The searcher state (study and sampler) is saved during fit(); Optuna 5.1's NSGA-II and
    # NSGA-III samplers hold a thread lock, which used to end the fit with "cannot pickle
    # '_thread.lock' object".
    storage = str(tmp_path)
    whole = _fit(make_sampler, storage, "whole", 5)
    assert whole.num_terminated == 5 and not whole.errors
    _fit(make_sampler, storage, "interrupted", 3)
    restored = _fit(make_sampler, storage, "interrupted", 5, restore=True)
    assert restored.num_terminated == 5 and not restored.errors
    # The restored searcher continues the same study with the same sampler state, so the
    # run repeats the uninterrupted one.
    assert _ordered_configs(restored) == _ordered_configs(whole)


# -- multi-objective with a storage -----------------------------------------------------------


def _two_objectives(config):
    return {"loss": (config["x"] - 3) ** 2, "speed": config["x"]}


@pytest.mark.parametrize("metric_in", ["searcher", "tune_config"])
def test_multi_objective_fit_with_a_sqlite_storage_makes_a_multi_objective_study(metric_in, tmp_path):
    import tunesmith as tune

    url = f"sqlite:///{tmp_path}/optuna.db"
    objectives = {"metric": ["loss", "speed"], "mode": ["min", "max"]}
    searcher = OptunaSearch(storage=url, seed=0, **(objectives if metric_in == "searcher" else {}))
    results = tune.Tuner(
        _two_objectives,
        param_space={"x": uniform(0, 10)},
        tune_config=tune.TuneConfig(search_alg=searcher, num_samples=4, **(objectives if metric_in == "tune_config" else {})),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="mo", verbose=0),
    ).fit()
    assert results.num_terminated == 4 and not results.errors
    study = _storage_study(url)
    assert study.directions == [optuna.study.StudyDirection.MINIMIZE, optuna.study.StudyDirection.MAXIMIZE]
    assert [len(t.values) for t in study.trials] == [2] * 4


def test_a_stored_study_with_other_objectives_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path}/optuna.db"
    single = OptunaSearch({"x": uniform(0, 10)}, metric="loss", mode="min", storage=url)
    single.suggest("a")
    single.on_trial_complete("a", {"loss": 1.0})
    multi = OptunaSearch({"x": uniform(0, 10)}, metric=["loss", "speed"], mode=["min", "max"], storage=url)
    with pytest.raises(ValueError, match=r"already holds a study named 'optuna' with directions \['minimize'\].*Pass another study_name"):
        multi.suggest("b")
    other = OptunaSearch({"x": uniform(0, 10)}, metric=["loss", "speed"], mode=["min", "max"], storage=url, study_name="mo")
    other.suggest("b")
    other.on_trial_complete("b", {"loss": 1.0, "speed": 2.0})
    assert optuna.load_study(study_name="mo", storage=url).trials[0].values == [1.0, 2.0]
