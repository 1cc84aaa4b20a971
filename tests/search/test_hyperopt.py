import math

import pytest
from hyperopt import hp

from tunesmith.search import SearchGenerator
from tunesmith.search.hyperopt import HyperOptSearch
from tunesmith.search.sample import (
    choice,
    grid_search,
    lograndint,
    loguniform,
    qloguniform,
    qrandint,
    qrandn,
    quniform,
    randint,
    randn,
    sample_from,
    uniform,
)
from tunesmith.testing import assert_in_space, check_searcher


def _searcher(space=None, **kwargs):
    kwargs.setdefault("metric", "loss")
    kwargs.setdefault("mode", "min")
    kwargs.setdefault("random_state_seed", 0)
    searcher = HyperOptSearch(**kwargs)
    if space is not None:
        assert searcher.set_search_properties(None, None, space) is True
    return searcher


def test_contract(tmp_path):
    check_searcher(lambda **kw: HyperOptSearch(random_state_seed=0, n_initial_points=3, **kw), tmp_path, same_suggestions=True)


def test_every_domain_kind_is_converted():
    space = {
        "u": uniform(-1, 1),
        "lu": loguniform(1e-4, 1e-1),
        "qu": quniform(0, 1, 0.25),
        "qlu": qloguniform(0.1, 10, 0.1),
        "n": randn(3, 0.5),
        "qn": qrandn(0, 4, 2),
        "i": randint(0, 3),
        "li": lograndint(1, 100),
        "qi": qrandint(0, 10, 5),
        "c": choice([None, 1, "a"]),
    }
    searcher = _searcher(space, n_initial_points=30)
    configs = [searcher.suggest(str(i)) for i in range(30)]
    for config in configs:
        assert_in_space(config, space)
        assert type(config["n"]) is float and type(config["i"]) is int and type(config["li"]) is int
    assert {c["i"] for c in configs} == {0, 1, 2}
    assert {c["c"] for c in configs} == {None, 1, "a"}
    assert any(c["n"] < 3 for c in configs) and any(c["n"] > 3 for c in configs)
    assert sum(c["lu"] < 1e-3 for c in configs) >= 5  # a log scale, not uniform


def test_nested_choice_makes_a_conditional_space():
    space = {
        "model": choice([
            {"kind": "linear", "alpha": loguniform(1e-3, 1)},
            {"kind": "tree", "depth": randint(1, 9), "leaf": choice([1, 2])},
            "baseline",
        ]),
        "seed": 7,
    }
    searcher = _searcher(space)
    configs = [searcher.suggest(str(i)) for i in range(30)]
    kinds = set()
    for config in configs:
        model = config["model"]
        assert config["seed"] == 7
        if model == "baseline":
            kinds.add("baseline")
        elif model["kind"] == "linear":
            assert set(model) == {"kind", "alpha"} and 1e-3 <= model["alpha"] <= 1
            kinds.add("linear")
        else:
            assert set(model) == {"kind", "depth", "leaf"} and 1 <= model["depth"] <= 8
            kinds.add("tree")
    assert kinds == {"linear", "tree", "baseline"}


def test_native_hyperopt_space():
    searcher = HyperOptSearch({"x": hp.uniform("x", 0, 1), "m": {"c": hp.choice("c", ["a", "b"])}}, metric="loss", mode="min")
    config = searcher.suggest("t")
    assert 0 <= config["x"] <= 1 and config["m"]["c"] in ("a", "b")


def test_points_to_evaluate_come_first_in_order():
    space = {"x": uniform(0, 10), "c": choice(["a", "b"]), "m": choice([{"k": "t", "d": randint(1, 5)}, "none"])}
    points = [{"x": 1.0, "c": "b", "m": {"k": "t", "d": 3}}, {"x": 2.0, "c": "a", "m": "none"}]
    searcher = _searcher(space, points_to_evaluate=points)
    assert [searcher.suggest("a"), searcher.suggest("b")] == points
    assert_in_space(searcher.suggest("c"), space)


@pytest.mark.parametrize(
    "point, match",
    [
        ({"x": 1.0}, r"points_to_evaluate\[0\] must give every searched key of the space; got no value for 'c'"),
        ({"x": 1.0, "c": "z"}, r"gives parameter 'c' a value that is none of its categories \['a', 'b'\]; got 'z'"),
    ],
)
def test_bad_points(point, match):
    with pytest.raises(ValueError, match=match):
        _searcher({"x": uniform(0, 10), "c": choice(["a", "b"])}, points_to_evaluate=[point])


def test_max_mode_negates_the_loss_and_failures_are_not_modelled():
    searcher = _searcher({"x": uniform(0, 10)}, mode="max")
    for trial_id in "abcd":
        searcher.suggest(trial_id)
    searcher.on_trial_complete("a", {"loss": 5.0})
    searcher.on_trial_complete("b", error=True)
    searcher.on_trial_complete("c", {"other": 1})
    searcher.on_trial_complete("d", {"loss": math.nan})
    trials = searcher.get_state()["_trials"]
    assert trials.losses() == [-5.0, None, None]  # the errored trial is dropped by HyperOpt
    assert trials.statuses() == ["ok", "fail", "fail"]


def test_seed_repeats_and_restore_continues(tmp_path):
    def run(searcher, ids):
        configs = []
        for trial_id in ids:
            configs.append(searcher.suggest(trial_id))
            searcher.on_trial_complete(trial_id, {"loss": (configs[-1]["x"] - 3) ** 2})
        return configs

    space = {"x": uniform(0, 10)}
    first = _searcher(space, n_initial_points=2)
    assert run(first, "ab") == run(_searcher(space, n_initial_points=2), "ab")
    first.save(str(tmp_path / "h.pkl"))
    restored = _searcher(space, n_initial_points=2)
    restored.restore(str(tmp_path / "h.pkl"))
    assert run(restored, "cd") == run(first, "cd")


def test_search_generator_with_hyperopt():
    gen = SearchGenerator(HyperOptSearch(random_state_seed=0), seed=0)
    space = {"x": uniform(0, 1), "const": {"a": 1}}
    assert gen.set_search_properties("loss", "min", space)
    gen.add_configurations(space, 2)
    trial = gen.next_trial()
    assert trial.config["const"] == {"a": 1} and trial.experiment_tag.startswith("1_")


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"metric": ["a", "b"], "mode": ["min", "max"]}, ValueError, "HyperOptSearch optimizes one metric"),
        ({"mode": "maximize"}, ValueError, "'min', 'max'; got 'maximize'"),
        ({"points_to_evaluate": {"x": 1}}, ValueError, "points_to_evaluate must be a list of dicts"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        HyperOptSearch(**kwargs)


def test_bad_spaces():
    with pytest.raises(ValueError, match="grid_search"):
        HyperOptSearch({"x": grid_search([1, 2])}, metric="loss", mode="min")
    with pytest.raises(ValueError, match=r"cannot search parameter 'f': .*got Function"):
        _searcher({"f": sample_from(lambda: 1)})
    with pytest.raises(RuntimeError, match="no search space has been defined"):
        HyperOptSearch(metric="loss", mode="min").suggest("t")
    with pytest.raises(RuntimeError, match=r"`metric` \(None\)"):
        HyperOptSearch({"x": uniform(0, 1)}).suggest("t")


# -- domains nested inside choice categories (lists and dicts) --------------------------------

NESTED_CHOICE = {
    "x": choice([{"a": uniform(0, 1)}, {"b": randint(1, 3)}, [uniform(5, 6), "k"], ["plain"]]),
    "w": [uniform(-1, 0), 4],
}


def _check_nested_choice(config):
    x = config["x"]
    if isinstance(x, dict) and "a" in x:
        assert set(x) == {"a"} and 0 <= x["a"] <= 1
    elif isinstance(x, dict):
        assert set(x) == {"b"} and x["b"] in (1, 2)
    elif len(x) == 2:
        assert isinstance(x, list) and 5 <= x[0] <= 6 and x[1] == "k"
    else:
        assert x == ["plain"]
    assert isinstance(config["w"], list) and -1 <= config["w"][0] <= 0 and config["w"][1] == 4


def test_domains_inside_choice_lists_and_dicts_are_sampled():
    searcher = _searcher(NESTED_CHOICE, n_initial_points=5)
    kinds = set()
    for i in range(30):
        config = searcher.suggest(str(i))
        _check_nested_choice(config)
        kinds.add(tuple(sorted(config["x"])) if isinstance(config["x"], dict) else len(config["x"]))
        searcher.on_trial_complete(str(i), {"loss": config["w"][0]})
    assert kinds == {("a",), ("b",), 1, 2}  # every category, and TPE keeps them all apart


def test_points_inside_choice_lists_are_evaluated_first():
    points = [{"x": [5.5, "k"], "w": [-0.5, 4]}, {"x": {"b": 2}, "w": [-0.1, 4]}, {"x": ["plain"], "w": [-0.2, 4]}]
    searcher = _searcher(NESTED_CHOICE, points_to_evaluate=points)
    assert [searcher.suggest(str(i)) for i in range(3)] == points


def test_a_point_matching_no_list_category_is_refused():
    with pytest.raises(ValueError, match=r"points_to_evaluate\[0\] gives parameter 'x' a value that is none of its categories"):
        _searcher(NESTED_CHOICE, points_to_evaluate=[{"x": [5.5, "other"], "w": [-0.5, 4]}])


def test_nested_choice_domains_in_a_real_fit(tmp_path):
    import tunesmith as tune

    space = {"x": choice([{"a": uniform(0, 1)}, {"b": randint(1, 3)}]), "l": choice([[uniform(2, 3)], [4]])}

    def trainable(config):
        x, l = config["x"], config["l"]
        value = x["a"] if "a" in x else x["b"]
        return {"loss": value + l[0]}

    results = tune.Tuner(
        trainable,
        param_space=space,
        tune_config=tune.TuneConfig(search_alg=HyperOptSearch(random_state_seed=0), metric="loss", mode="min", num_samples=6),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="nested", verbose=0),
    ).fit()
    assert results.num_terminated == 6 and not results.errors
    for result in results:
        x, l = result.config["x"], result.config["l"]
        assert (0 <= x["a"] <= 1) if "a" in x else x["b"] in (1, 2)
        assert isinstance(l, list) and (l == [4] or (len(l) == 1 and 2 <= l[0] <= 3))
