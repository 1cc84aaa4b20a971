"""Expanding a spec: parse_spec_vars, generate_variants, format_vars, sample_from specs."""

from __future__ import annotations

import pytest

from tunesmith.search import sample
from tunesmith.search import variant_generator as vg
from tunesmith.search.sample import Categorical, choice, grid_search, randint, sample_from, uniform
from tunesmith.search.variant_generator import (
    RecursiveDependencyError,
    format_vars,
    generate_variants,
    parse_spec_vars,
)


def variants(spec, **kwargs):
    return list(generate_variants(spec, random_state=kwargs.pop("random_state", 0), **kwargs))


def configs(spec, **kwargs):
    return [resolved_spec["config"] for _, resolved_spec in variants({"config": spec}, **kwargs)]


def test_public_names():
    assert set(vg.__all__) == {
        "RecursiveDependencyError",
        "assign_value",
        "format_vars",
        "generate_variants",
        "grid_search",
        "parse_spec_vars",
    }
    assert vg.grid_search is sample.grid_search


def test_parse_spec_vars_splits_constants_domains_and_grids():
    spec = {"b": grid_search([1, 2]), "a": {"x": uniform(0, 1), "k": 3}, "l": [4, {"grid_search": [5]}]}
    resolved, domains, grids = parse_spec_vars(spec)
    assert resolved == [(("a", "k"), 3), (("l", 0), 4)]
    assert [path for path, _ in domains] == [("a", "x")]
    assert [path for path, _ in grids] == [("b",), ("l", 1)]
    assert all(isinstance(d, Categorical) and d.is_grid() for _, d in grids)
    assert grids[0][1].categories == [1, 2]


def test_parse_spec_vars_sorts_list_indexes_numerically():
    spec = {"l": [grid_search([i]) for i in range(12)]}
    _, _, grids = parse_spec_vars(spec)
    assert [path[1] for path, _ in grids] == list(range(12))


def test_grid_order_first_sorted_key_changes_fastest():
    spec = {"b": grid_search(["x", "y"]), "a": grid_search([1, 2, 3])}
    assert [(c["a"], c["b"]) for c in configs(spec)] == [
        (1, "x"),
        (2, "x"),
        (3, "x"),
        (1, "y"),
        (2, "y"),
        (3, "y"),
    ]


def test_grid_inside_lists_and_nested_dicts():
    spec = {"layers": [grid_search([8, 16]), {"act": {"grid_search": ["relu", "tanh"]}}], "k": 1}
    assert configs(spec) == [
        {"layers": [8, {"act": "relu"}], "k": 1},
        {"layers": [16, {"act": "relu"}], "k": 1},
        {"layers": [8, {"act": "tanh"}], "k": 1},
        {"layers": [16, {"act": "tanh"}], "k": 1},
    ]


def test_resolved_vars_hold_paths_and_values():
    ((resolved, spec),) = variants({"config": {"m": {"lr": uniform(0, 1)}, "c": 3}})
    assert list(resolved) == [("config", "m", "lr")]
    assert resolved[("config", "m", "lr")] == spec["config"]["m"]["lr"]


def test_random_values_redrawn_per_grid_point():
    spec = {"a": grid_search([1, 2, 3]), "x": uniform(0, 1)}
    assert len({c["x"] for c in configs(spec)}) == 3


def test_constant_grid_search_shares_random_values():
    spec = {"a": grid_search([1, 2, 3]), "x": uniform(0, 1), "y": sample_from(lambda s: s.config.a * 10)}
    found = configs(spec, constant_grid_search=True)
    assert len({c["x"] for c in found}) == 1
    assert [c["y"] for c in found] == [10, 20, 30]  # a function reading a grid value still varies


def test_same_seed_same_variants():
    spec = {"a": grid_search([1, 2]), "x": uniform(0, 1), "n": randint(0, 1000)}
    assert configs(spec, random_state=7) == configs(spec, random_state=7)
    assert configs(spec, random_state=7) != configs(spec, random_state=8)


def test_unresolved_constants_are_not_copied_deeply():
    big = object()
    (config,) = configs({"obj": big, "x": uniform(0, 1)})
    assert config["obj"] is big


def test_input_spec_is_not_modified():
    spec = {"config": {"a": grid_search([1, 2]), "l": [uniform(0, 1)], "d": {"x": choice([1])}}}
    before = repr(spec)
    variants(spec)
    assert repr(spec) == before


@pytest.mark.parametrize(
    "func",
    [
        lambda spec: spec.config.a * 2,
        lambda spec: spec["config"]["a"] * 2,
        lambda spec: spec.config["a"] * 2,
        lambda config: config["a"] * 2,  # the form Ray's docstring shows
    ],
)
def test_sample_from_reads_the_spec(func):
    (config,) = configs({"a": 21, "b": sample_from(func)})
    assert config["b"] == 42


def test_sample_from_without_arguments():
    (config,) = configs({"b": sample_from(lambda: "fixed")})
    assert config == {"b": "fixed"}


def test_sample_from_waits_for_values_it_reads():
    spec = {
        "c": sample_from(lambda s: s.config.b + 1),
        "b": sample_from(lambda s: s.config.a + 1),
        "a": randint(0, 10),
        "d": sample_from(lambda s: s.config.nested.items_[0] + s.config.c),
        "nested": {"items_": [sample_from(lambda s: 100)]},
    }
    (config,) = configs(spec)
    assert config["b"] == config["a"] + 1 and config["c"] == config["a"] + 2
    assert config["d"] == 100 + config["c"]


def test_sample_from_reading_a_grid_value():
    found = configs({"a": grid_search([1, 2]), "b": sample_from(lambda s: -s.config.a)})
    assert [c["b"] for c in found] == [-1, -2]


def test_dependency_cycle_raises():
    spec = {"a": sample_from(lambda s: s.config.b), "b": sample_from(lambda s: s.config.a)}
    with pytest.raises(RecursiveDependencyError, match="cannot resolve 'config/a', 'config/b'"):
        configs(spec)


def test_sample_from_error_names_the_key_and_the_spec_form():
    spec = {"b": sample_from(lambda spec: spec.config.missing)}
    with pytest.raises(ValueError, match=r"sample_from at 'config/b' failed.*spec\.config\.x"):
        configs(spec)


def test_nested_domains_in_grid_values_and_choices_are_resolved():
    spec = {
        "opt": grid_search([{"name": "sgd", "lr": uniform(0, 1)}, {"name": "adam"}]),
        "act": choice([{"kind": "relu", "slope": randint(1, 3)}]),
    }
    first, second = configs(spec)
    assert first["opt"]["name"] == "sgd" and 0 <= first["opt"]["lr"] < 1
    assert second["opt"] == {"name": "adam"}
    assert first["act"]["slope"] in (1, 2)
    # the categories themselves are untouched
    assert isinstance(spec["act"].categories[0]["slope"], sample.Integer)


@pytest.mark.parametrize(
    "spec, error, match",
    [
        ({"a": {"grid_search": []}}, ValueError, "grid_search at 'config/a'.*grid is empty"),
        ({"a": {"grid_search": "abc"}}, ValueError, "must be a list"),
        ({"a": grid_search([{"b": grid_search([1])}])}, ValueError, "sits inside another"),
        ({"a": (uniform(0, 1), 2)}, ValueError, "use a list instead"),
    ],
)
def test_bad_specs(spec, error, match):
    with pytest.raises(error, match=match):
        configs(spec)


def test_spec_without_search_space_yields_it_once():
    assert variants({"config": {"a": 1}}) == [({}, {"config": {"a": 1}})]


@pytest.mark.parametrize(
    "resolved, tag",
    [
        ({("config", "a"): 1, ("config", "b"): 0.76181, ("config", "c"): "x"}, "a=1,b=0.7618,c=x"),
        ({("config", "z"): 1, ("config", "m", "a"): 2}, "a=2,z=1"),  # sorted by path
        ({("config", "s"): "a b/c?"}, "s=a_b_c"),
        ({("config", "s"): "(x)"}, "s=x"),  # trimmed
        ({("config", "l", 0): [1, 2]}, "0=1_2"),
        ({("config", "f"): True}, "f=True"),
        ({("config", "lr"): 1e-5}, "lr=0.0000"),
        ({}, ""),
    ],
)
def test_format_vars(resolved, tag):
    assert format_vars(resolved) == tag


def test_flatten_resolved_vars_drops_config_prefix():
    flat = vg._flatten_resolved_vars({("config", "a", "b"): 1, ("config", "l", 0): 2, ("x",): 3})
    assert flat == {"a/b": 1, "l/0": 2, "x": 3}
