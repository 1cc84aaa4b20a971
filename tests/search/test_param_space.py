import pytest

from tunesmith.search._param_space import (
    Parameter,
    convert_param_space,
    has_unresolved_values,
    make_parameter,
    merge_config,
    parameter_paths,
    quantized_bounds,
    searchable_parameters,
    unflatten,
    warn_dropped_quantization,
)
from tunesmith.search.sample import (
    Categorical,
    Float,
    Integer,
    LogUniform,
    Uniform,
    choice,
    grid_search,
    loguniform,
    qlograndint,
    qrandint,
    quniform,
    randint,
    randn,
    sample_from,
    uniform,
)

RULES = {
    (Float, Uniform): lambda p: ("float", p.domain.lower, p.domain.upper, p.q),
    (Float, LogUniform): lambda p: ("log", p.domain.lower, p.domain.upper),
    (Integer, Uniform): lambda p: ("int", p.domain.lower, p.domain.upper, p.q),
    (Categorical, Uniform): lambda p: ("cat", tuple(p.domain.categories)),
}


def test_searchable_parameters_unwrap_quantization_and_keep_paths():
    params = searchable_parameters({"a": {"b": quniform(0, 1, 0.25)}, "l": [randint(0, 3), 5], "c": 1}, "S")
    assert [(p.path, p.name, type(p.sampler).__name__, p.q) for p in params] == [
        (("a", "b"), "a/b", "Uniform", 0.25),
        (("l", 0), "l/0", "Uniform", None),
    ]
    assert parameter_paths(params) == {"a/b": ("a", "b"), "l/0": ("l", 0)}


@pytest.mark.parametrize("space", [{"x": grid_search([1, 2])}, {"n": {"x": {"grid_search": [1]}}}])
def test_grid_search_is_refused_with_advice(space):
    with pytest.raises(ValueError, match="S cannot search a grid_search; got grid_search at '.*x'.*BasicVariantGenerator"):
        searchable_parameters(space, "S")


def test_convert_param_space_by_table():
    space = {"x": uniform(0, 2), "lr": loguniform(1e-3, 1), "m": {"n": qrandint(0, 10, 5)}, "c": choice(["a", 1]), "k": 3}
    assert convert_param_space(space, RULES, "S") == {
        "x": ("float", 0, 2, None),
        "lr": ("log", 0.001, 1),
        "m/n": ("int", 0, 10, 5),
        "c": ("cat", ("a", 1)),
    }
    assert convert_param_space(None, RULES, "S") == {}


@pytest.mark.parametrize(
    "domain, described",
    [
        (randn(0, 1), "Float(-inf, inf) with a Normal sampler"),
        (sample_from(lambda: 1), "Function"),
    ],
)
def test_unsupported_domain_names_parameter_and_domain(domain, described):
    with pytest.raises(ValueError, match=r"S cannot search parameter 'p/q': it supports Float/Uniform, .*; got " + described.replace("(", r"\(").replace(")", r"\)")):
        convert_param_space({"p": {"q": domain}}, RULES, "S")


def test_quantized_bounds_start_at_multiples():
    assert quantized_bounds(make_parameter(("n",), qrandint(3, 19, 5))) == (5, 15)
    assert quantized_bounds(make_parameter(("f",), quniform(0.1, 0.7, 0.1))) == (0.1, 0.7)
    assert quantized_bounds(make_parameter(("f",), uniform(0.1, 0.7))) == (0.1, 0.7)
    assert quantized_bounds(make_parameter(("n",), qlograndint(1, 100, 10))) == (10, 100)


def test_warn_dropped_quantization():
    with pytest.warns(UserWarning, match=r"S ignores the quantization q=0.5 of parameter 'x' \(why\)"):
        warn_dropped_quantization(Parameter(("x",), None, None, 0.5), "S", "why")


def test_unflatten_and_merge():
    assert unflatten({"a/b": 1, "c": 2}) == {"a": {"b": 1}, "c": 2}
    assert unflatten({"a/b": 1}, {"a/b": ("a/b",)}) == {"a/b": 1}
    space = {"a": {"b": uniform(0, 1), "k": 1}, "l": [uniform(0, 1), 7], "g": 3}
    merged = merge_config(space, unflatten({"a/b": 0.5, "l/0": 0.25}, {"l/0": ("l", 0)}))
    assert merged == {"a": {"b": 0.5, "k": 1}, "l": [0.25, 7], "g": 3}
    assert isinstance(space["a"]["b"], Float)  # the param space is not changed
    assert merge_config(None, {"x": 1}) == {"x": 1}


def test_has_unresolved_values():
    assert has_unresolved_values({"a": {"b": uniform(0, 1)}})
    assert has_unresolved_values({"a": grid_search([1])})
    assert not has_unresolved_values({"a": 1})
    assert not has_unresolved_values(None)


def test_merge_config_copies_the_constants_and_leaves_the_param_space_unchanged():
    from tunesmith.search._param_space import merge_config
    from tunesmith.search.sample import uniform

    class Box:
        def __init__(self):
            self.items = [1]

    space = {"lr": uniform(0, 1), "layers": [{"units": 8}], "box": Box(), "pair": (1, [2])}
    merged = merge_config(space, {"lr": 0.5, "layers": {0: {"units": 16}}})
    merged["box"].items.append(2)
    merged["pair"][1].append(3)
    assert merged["lr"] == 0.5 and merged["layers"] == [{"units": 16}]
    assert space["layers"] == [{"units": 8}] and space["box"].items == [1] and space["pair"] == (1, [2])
    assert isinstance(space["lr"], type(uniform(0, 1)))
