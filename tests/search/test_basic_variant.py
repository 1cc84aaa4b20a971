"""BasicVariantGenerator: counts, order, ids and tags, points, seeds, laziness, state."""

from __future__ import annotations

import json
import logging
import os
import re
import time

import numpy as np
import pytest

from tunesmith.search import BasicVariantGenerator, SearchAlgorithm, TrialSuggestion
from tunesmith.search.sample import choice, grid_search, randint, sample_from, uniform

TRIAL_ID = re.compile(r"^[0-9a-f]{5}_\d{5}$")


def generator(space, num_samples=1, **kwargs):
    alg = BasicVariantGenerator(**kwargs)
    alg.add_configurations(space, num_samples)
    return alg


def drain(alg, limit=100_000):
    trials = []
    while len(trials) < limit:
        trial = alg.next_trial()
        if trial is None:
            break
        trials.append(trial)
        alg.on_trial_complete(trial.trial_id)
    return trials


def test_is_a_search_algorithm():
    assert isinstance(BasicVariantGenerator(), SearchAlgorithm)


def test_grid_times_samples_in_sample_major_order():
    alg = generator({"a": grid_search([1, 2]), "c": randint(0, 100)}, 3, random_state=0)
    assert alg.total_samples == 6
    trials = drain(alg)
    assert [t.config["a"] for t in trials] == [1, 2, 1, 2, 1, 2]
    assert [t.experiment_tag for t in trials] == [
        f"{i}_a={t.config['a']},c={t.config['c']}" for i, t in enumerate(trials)
    ]
    assert all(isinstance(t, TrialSuggestion) for t in trials)


def test_trial_ids_share_a_prefix_and_count_up():
    trials = drain(generator({"a": grid_search([1, 2, 3])}))
    assert all(TRIAL_ID.match(t.trial_id) for t in trials)
    assert len({t.trial_id[:5] for t in trials}) == 1
    assert [t.trial_id[6:] for t in trials] == ["00000", "00001", "00002"]


def test_evaluated_params_are_flat_sampled_keys_only():
    space = {"m": {"lr": uniform(0, 1), "fixed": 3}, "l": [grid_search([1, 2]), 5]}
    trial = generator(space, random_state=0).next_trial()
    assert trial.evaluated_params == {"m/lr": trial.config["m"]["lr"], "l/0": 1}
    assert trial.experiment_tag == f"0_0=1,lr={trial.config['m']['lr']:.4f}"


def test_configs_are_independent_objects():
    alg = generator({"d": {"x": grid_search([1, 2])}, "l": [1, 2]})
    first, second = drain(alg)
    first.config["l"].append(3)
    assert second.config == {"d": {"x": 2}, "l": [1, 2]}


def test_points_to_evaluate_come_first_and_use_samples():
    points = [{"a": 2, "c": 1}, {"c": 7}]
    space = {"a": grid_search([1, 2]), "c": randint(0, 100)}
    alg = generator(space, 3, points_to_evaluate=points, random_state=0)
    assert alg.total_samples == 5
    trials = drain(alg)
    assert [t.config for t in trials[:3]] == [{"a": 2, "c": 1}, {"a": 1, "c": 7}, {"a": 2, "c": 7}]
    assert [t.experiment_tag for t in trials[:3]] == ["0", "1_a=1", "2_a=2"]
    assert trials[0].evaluated_params == {}
    assert [t.config["a"] for t in trials[3:]] == [1, 2]


def test_more_points_than_samples_all_run():
    alg = generator({"x": uniform(0, 1)}, 1, points_to_evaluate=[{"x": 0.1}, {"x": 0.2}])
    assert [t.config["x"] for t in drain(alg)] == [0.1, 0.2]


def test_nested_point_keeps_unset_keys_sampled():
    space = {"m": {"lr": uniform(0, 1), "wd": uniform(0, 1)}}
    trial = generator(space, points_to_evaluate=[{"m": {"lr": 0.5}}]).next_trial()
    assert trial.config["m"]["lr"] == 0.5 and 0 <= trial.config["m"]["wd"] < 1
    assert list(trial.evaluated_params) == ["m/wd"]


def test_point_with_unknown_key_is_an_error():
    with pytest.raises(ValueError, match=r"points_to_evaluate\[0\]: key 'm/lrr' is not in"):
        generator({"m": {"lr": uniform(0, 1)}}, points_to_evaluate=[{"m": {"lrr": 1}}])


def test_point_outside_the_space_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="tunesmith.search._basic_variant"):
        generator({"x": uniform(0, 1), "g": grid_search([1])}, points_to_evaluate=[{"x": 5, "g": 3}])
    assert "value 5 for 'x' is outside" in caplog.text
    assert "value 3 for 'g' is outside" in caplog.text


@pytest.mark.parametrize(
    "make_state", [lambda: 3, lambda: np.random.default_rng(3), lambda: np.random.RandomState(3)]
)
def test_seed_makes_configs_reproducible(make_state):
    space = {"a": grid_search([1, 2]), "x": uniform(0, 1), "c": choice(["p", "q", "r"])}
    first = drain(generator(space, 5, random_state=make_state()))
    second = drain(generator(space, 5, random_state=make_state()))
    assert [t.config for t in first] == [t.config for t in second]


def test_constant_grid_search_shares_a_samples_draws():
    space = {"a": grid_search([1, 2, 3]), "x": uniform(0, 1)}
    trials = drain(generator(space, 2, constant_grid_search=True, random_state=0))
    xs = [t.config["x"] for t in trials]
    assert len(set(xs[:3])) == 1 and len(set(xs[3:])) == 1 and xs[0] != xs[3]


def test_sample_from_gets_the_spec():
    space = {"a": grid_search([1, 2]), "b": sample_from(lambda spec: spec.config.a * 10)}
    assert [t.config["b"] for t in drain(generator(space))] == [10, 20]


def test_unlimited_samples_are_generated_lazily():
    alg = generator({"x": uniform(0, 1)}, -1, random_state=0)
    assert alg.total_samples is None
    trials = drain(alg, limit=10_000)
    assert len(trials) == 10_000 and not alg.is_finished()


def test_huge_grids_cost_nothing_up_front():
    space = {k: grid_search(list(range(100))) for k in "abcd"}  # 1e8 grid points
    started = time.perf_counter()
    alg = generator(space, 10_000)
    assert alg.total_samples == 10**12
    trial = alg.next_trial()
    assert time.perf_counter() - started < 0.5
    assert trial.config == {"a": 0, "b": 0, "c": 0, "d": 0}


def test_ten_thousand_trials_are_quick():
    space = {"a": grid_search([1, 2]), "m": {"lr": uniform(0, 1), "n": randint(0, 9)}, "k": 3}
    alg = generator(space, 5_000, random_state=0)
    started = time.perf_counter()
    trials = drain(alg)
    assert len(trials) == 10_000
    assert time.perf_counter() - started < 30.0  # a generous sanity bound: it takes well under a second when the machine is idle


def test_finished_after_the_last_trial():
    alg = generator({"a": grid_search([1, 2])})
    alg.next_trial()
    assert not alg.is_finished()
    alg.next_trial()
    assert alg.is_finished() and alg.next_trial() is None


def test_no_configuration_means_finished():
    alg = BasicVariantGenerator()
    assert alg.next_trial() is None and alg.is_finished()


def test_several_configurations_run_in_turn():
    alg = BasicVariantGenerator()
    alg.add_configurations({"a": 1}, 2)
    alg.add_configurations({"b": grid_search([1, 2])}, 1)
    assert alg.total_samples == 4
    trials = drain(alg)
    assert [t.config for t in trials] == [{"a": 1}, {"a": 1}, {"b": 1}, {"b": 2}]
    assert [t.trial_id[6:] for t in trials] == ["00000", "00001", "00002", "00003"]


def test_max_concurrent_limits_live_trials():
    alg = generator({"x": uniform(0, 1)}, 5, max_concurrent=2)
    first, second = alg.next_trial(), alg.next_trial()
    assert alg.next_trial() is None
    alg.on_trial_complete(first.trial_id)
    third = alg.next_trial()
    assert third is not None and alg.next_trial() is None
    alg.on_trial_complete(second.trial_id, error=True)
    assert alg.next_trial() is not None


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_concurrent": -1}, "max_concurrent must be an int >= 0"),
        ({"max_concurrent": 1.5}, "max_concurrent must be an int >= 0"),
        ({"points_to_evaluate": {"a": 1}}, "points_to_evaluate must be a list of dicts"),
        ({"points_to_evaluate": [1]}, "points_to_evaluate must be a list of dicts"),
        ({"random_state": "x"}, "random_state must be"),
    ],
)
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BasicVariantGenerator(**kwargs)


@pytest.mark.parametrize("num_samples", [0, -2, 1.5, True, "3"])
def test_bad_num_samples(num_samples):
    with pytest.raises(ValueError, match="num_samples must be an int >= 1, or -1"):
        BasicVariantGenerator().add_configurations({}, num_samples)


def test_bad_param_space():
    with pytest.raises(ValueError, match="param_space must be a dict"):
        BasicVariantGenerator().add_configurations([1], 1)


def _resume_matches(tmp_path, space, num_samples, stop_after, **kwargs):
    alg = generator(space, num_samples, random_state=11, **kwargs)
    head = [alg.next_trial() for _ in range(stop_after)]
    alg.save_to_dir(str(tmp_path), session_str="2026-01-01_00-00-00")
    rest = drain(alg)
    restored = BasicVariantGenerator()
    assert restored.has_checkpoint(str(tmp_path))
    restored.restore_from_dir(str(tmp_path))
    for trial in head:
        restored.on_trial_complete(trial.trial_id)
    again = drain(restored)
    assert [(t.trial_id, t.config, t.experiment_tag) for t in again] == [
        (t.trial_id, t.config, t.experiment_tag) for t in rest
    ]
    return rest


@pytest.mark.parametrize("stop_after", [0, 1, 4, 7])
def test_restore_continues_the_sequence(tmp_path, stop_after):
    space = {"a": grid_search([1, 2, 3]), "x": uniform(0, 1), "f": sample_from(lambda s: s.config.a)}
    rest = _resume_matches(tmp_path, space, 3, stop_after)
    assert len(rest) == 9 - stop_after


def test_restore_mid_sample_with_constant_grid(tmp_path):
    space = {"a": grid_search([1, 2, 3]), "x": uniform(0, 1)}
    rest = _resume_matches(tmp_path, space, 2, 2, constant_grid_search=True)
    assert rest[0].config["x"] != rest[1].config["x"]  # sample 0 ends, sample 1 begins


def test_restore_with_points(tmp_path):
    points = [{"a": 2, "x": 0.5}, {"x": 0.25}]
    _resume_matches(tmp_path, {"a": grid_search([1, 2]), "x": uniform(0, 1)}, 3, 2, points_to_evaluate=points)


def test_restore_keeps_live_trials_for_max_concurrent(tmp_path):
    alg = generator({"x": uniform(0, 1)}, 5, max_concurrent=1)
    live = alg.next_trial()
    alg.save_to_dir(str(tmp_path))
    restored = BasicVariantGenerator()
    restored.restore_from_dir(str(tmp_path))
    assert restored.next_trial() is None
    restored.on_trial_complete(live.trial_id)
    assert restored.next_trial() is not None


def test_state_file_is_json(tmp_path):
    generator({"x": uniform(0, 1)}, 2).save_to_dir(str(tmp_path), session_str="s1")
    (name,) = os.listdir(tmp_path)
    assert name == "basic-variant-state-s1.json"
    with open(tmp_path / name) as file:
        assert json.load(file)["counter"] == 0


def test_restore_reads_the_newest_state(tmp_path):
    alg = generator({"x": uniform(0, 1)}, 5)
    alg.save_to_dir(str(tmp_path), session_str="old")
    alg.next_trial()
    alg.save_to_dir(str(tmp_path), session_str="new")
    old = tmp_path / "basic-variant-state-old.json"
    os.utime(old, (1, 1))
    restored = BasicVariantGenerator()
    restored.restore_from_dir(str(tmp_path))
    assert restored.next_trial().trial_id.endswith("_00001")


def test_restore_without_state(tmp_path):
    alg = BasicVariantGenerator()
    assert not alg.has_checkpoint(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="no basic-variant-state-"):
        alg.restore_from_dir(str(tmp_path))


def test_unpicklable_space_cannot_be_saved(tmp_path):
    import threading

    alg = generator({"lock": threading.Lock()})
    with pytest.raises(ValueError, match="must be picklable"):
        alg.save_to_dir(str(tmp_path))


def test_a_large_grid_costs_linear_time():
    alg = generator({"i": grid_search(list(range(20_000)))}, 1, random_state=0)
    started = time.perf_counter()
    assert len(drain(alg)) == 20_000
    assert time.perf_counter() - started < 30.0  # quadratic copying took minutes


# -- no seed: NumPy's global generator decides, as in Ray Tune --------------------------------


def _unseeded_configs(global_seed, space=None):
    np.random.seed(global_seed)
    alg = BasicVariantGenerator()
    np.random.seed(global_seed)  # what counts is the global state when the first variant is made
    alg.add_configurations(space or {"x": uniform(0, 1), "c": choice(list(range(100)))}, 4)
    return [t.config for t in drain(alg)]


def test_np_random_seed_makes_an_unseeded_generator_repeat():
    state = np.random.get_state()
    try:
        first, second = _unseeded_configs(0), _unseeded_configs(0)
        other = _unseeded_configs(1)
    finally:
        np.random.set_state(state)
    assert first == second
    assert other != first


def test_an_unseeded_generator_reads_the_global_generator_once_at_the_first_variant():
    state = np.random.get_state()
    try:
        np.random.seed(7)
        alg = BasicVariantGenerator()
        alg.add_configurations({"x": uniform(0, 1)}, 3)
        assert np.random.random() == np.random.RandomState(7).random_sample()  # nothing drawn before
        np.random.seed(7)
        alg.next_trial()
        after_first = np.random.get_state()[1].copy()
        drain(alg)
        assert (np.random.get_state()[1] == after_first).all()  # later variants use its own stream
    finally:
        np.random.set_state(state)


def test_a_seeded_generator_leaves_the_global_generator_alone():
    state = np.random.get_state()
    try:
        np.random.seed(3)
        drain(generator({"x": uniform(0, 1)}, 3, random_state=5))
        assert np.random.random() == np.random.RandomState(3).random_sample()
    finally:
        np.random.set_state(state)


def test_np_random_seed_repeats_a_random_search_fit(tmp_path):
    import tunesmith as tune

    def run(name, global_seed):
        np.random.seed(global_seed)
        results = tune.Tuner(
            lambda config: {"loss": config["x"]},
            param_space={"x": uniform(0, 1), "n": randint(0, 1000)},
            tune_config=tune.TuneConfig(num_samples=3),
            run_config=tune.RunConfig(storage_path=str(tmp_path), name=name, verbose=0),
        ).fit()
        ordered = sorted(results, key=lambda r: int(r.metrics["experiment_tag"].split("_", 1)[0]))
        return [r.config for r in ordered]

    state = np.random.get_state()
    try:
        first, second, other = run("a", 0), run("b", 0), run("c", 1)
    finally:
        np.random.set_state(state)
    assert first == second and other != first


def test_add_configurations_takes_experiments_as_in_ray():
    import tunesmith as tune

    def f(config):
        pass

    # Ray's signature: add_configurations(experiments), each bringing its config and num_samples
    alg = BasicVariantGenerator()
    alg.add_configurations(tune.Experiment("e", f, config={"a": grid_search([1, 2])}, num_samples=2))
    assert [s.config["a"] for s in _drain(alg)] == [1, 2, 1, 2]
    alg = BasicVariantGenerator()
    alg.add_configurations([tune.Experiment("e", f, config={"a": 1}), tune.Experiment("g", f, config={"a": 2})])
    assert [s.config["a"] for s in _drain(alg)] == [1, 2]
    alg = BasicVariantGenerator()
    alg.add_configurations({"exp": {"run": f, "config": {"a": 3}, "num_samples": 2}})
    assert [s.config["a"] for s in _drain(alg)] == [3, 3]
    alg = BasicVariantGenerator()
    alg.add_configurations({"run": 5, "a": 1}, 1)  # with num_samples, a dict is a param space
    assert [s.config for s in _drain(alg)] == [{"run": 5, "a": 1}]


def test_search_generator_add_configurations_takes_one_experiment():
    import tunesmith as tune
    from tunesmith.search import SearchGenerator
    from tunesmith.search._searcher import Searcher

    class Fixed(Searcher):
        def suggest(self, trial_id):
            return {"a": 1}

    def f(config):
        pass

    gen = SearchGenerator(Fixed())
    gen.add_configurations(tune.Experiment("e", f, config={"b": 2}, num_samples=3))
    assert gen.total_samples == 3
    with pytest.raises(ValueError, match="SearchGenerator runs one experiment; got 2"):
        SearchGenerator(Fixed()).add_configurations([tune.Experiment("e", f), tune.Experiment("g", f)])


def _drain(alg):
    out = []
    while (suggestion := alg.next_trial()) is not None:
        out.append(suggestion)
    return out
