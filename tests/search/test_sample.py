"""Search-space domains: bounds, types, bad input, samplers, pickling."""

from __future__ import annotations

import pickle

import cloudpickle
import numpy as np
import pytest

import tunesmith as tune
from tunesmith.search import sample
from tunesmith.search.sample import (
    Categorical,
    Float,
    Function,
    Grid,
    Integer,
    LogUniform,
    Normal,
    Quantized,
    Uniform,
)

N = 2000


def draw(domain, size=N, seed=0):
    return domain.sample(size=size, random_state=seed)


@pytest.mark.parametrize(
    "domain, low, high, kind",
    [
        (sample.uniform(-2, 3), -2, 3, float),
        (sample.loguniform(1e-4, 1e-1), 1e-4, 1e-1, float),
        (sample.randn(5, 2), -np.inf, np.inf, float),
        (sample.lograndint(1, 100), 1, 99, int),
        (sample.qloguniform(1e-4, 1e-1, 5e-5), 1e-4, 1e-1, float),
    ],
)
def test_continuous_bounds_and_types(domain, low, high, kind):
    values = draw(domain)
    assert all(type(v) is kind for v in values)
    assert low <= min(values) and max(values) <= high
    if domain.get_sampler().__class__ is Uniform:
        assert max(values) < high  # upper excluded


@pytest.mark.parametrize(
    "domain, expected",
    [
        (sample.randint(0, 3), {0, 1, 2}),
        (sample.qrandint(0, 3), {0, 1, 2}),  # q == 1 keeps upper exclusive
        (sample.qrandint(0, 10, 5), {0, 5, 10}),  # q > 1 includes upper
        (sample.qrandint(3, 19, 5), {5, 10, 15}),
        (sample.quniform(0, 1, 0.25), {0.0, 0.25, 0.5, 0.75, 1.0}),
        (sample.quniform(0, 0.5, 0.1), {0.0, 0.1, 0.2, 0.3, 0.4, 0.5}),
        (sample.qlograndint(1, 100, 10), {10, 20, 30, 40, 50, 60, 70, 80, 90, 100}),
        (sample.choice([None, 1, "a"]), {None, 1, "a"}),
    ],
)
def test_discrete_value_sets(domain, expected):
    assert set(draw(domain)) == expected


def test_lograndint_covers_range_without_upper():
    values = set(draw(sample.lograndint(1, 100)))
    assert min(values) == 1 and max(values) == 99


@pytest.mark.parametrize("q", [0.1, 0.5, 2.0])
def test_qrandn_gives_multiples_of_q(q):
    values = draw(sample.qrandn(0, 3, q))
    assert all(abs(v / q - round(v / q)) < 1e-9 for v in values)


def test_randn_mean_and_sd():
    values = np.array(draw(sample.randn(5, 2), size=5000))
    assert abs(values.mean() - 5) < 0.2 and abs(values.std() - 2) < 0.2


def test_choice_keeps_element_types():
    values = draw(sample.choice([None, 1, "a", 2.5]))
    assert {type(v) for v in values} == {type(None), int, str, float}


def test_size_one_returns_value_and_size_many_a_list():
    domain = sample.uniform(0, 1)
    assert isinstance(domain.sample(random_state=0), float)
    assert isinstance(domain.sample(size=3, random_state=0), list)
    assert len(domain.sample(size=3, random_state=0)) == 3


@pytest.mark.parametrize(
    "make_state",
    [
        lambda: 42,
        lambda: np.random.default_rng(42),
        lambda: np.random.RandomState(42),
    ],
)
def test_random_state_kinds_are_reproducible(make_state):
    domain = sample.uniform(0, 1)
    first = domain.sample(size=5, random_state=make_state())
    assert first == domain.sample(size=5, random_state=make_state())


def test_random_state_none_leaves_global_numpy_state_alone():
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    sample.uniform(0, 1).sample(size=10)
    assert (np.random.get_state()[1] == before).all()


def test_bad_random_state():
    with pytest.raises(ValueError, match="random_state must be"):
        sample.uniform(0, 1).sample(random_state="seed")


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: sample.choice([]), "must not be empty"),
        (lambda: sample.choice("abc"), "list of values"),
        (lambda: sample.loguniform(0, 1), "lower must be > 0"),
        (lambda: sample.loguniform(-1, 1), "lower must be > 0"),
        (lambda: sample.loguniform(1, float("inf")), "finite"),
        (lambda: sample.qloguniform(0, 1, 0.1), "lower must be > 0"),
        (lambda: sample.lograndint(0, 10), "lower must be > 0"),
        (lambda: sample.qlograndint(0, 10, 2), "lower must be > 0"),
        (lambda: sample.uniform(5, 1), "lower must not exceed upper"),
        (lambda: sample.randint(5, 1), "lower must be < upper"),
        (lambda: sample.randint(3, 3), "lower must be < upper"),
        (lambda: sample.lograndint(10, 2), "lower must be < upper"),
        (lambda: sample.qrandint(5, 1, 2), "lower must not exceed upper"),
        (lambda: sample.quniform(0, 1, 0), "q must be > 0"),
        (lambda: sample.quniform(0, 1, -0.5), "q must be > 0"),
        (lambda: sample.qloguniform(1, 10, 0), "q must be > 0"),
        (lambda: sample.qrandn(0, 1, 0), "q must be > 0"),
        (lambda: sample.qrandint(0, 10, 0), "q must be > 0"),
        (lambda: sample.qlograndint(1, 10, -1), "q must be > 0"),
        (lambda: sample.qrandint(0, 10, 2.5), "whole number"),
        (lambda: sample.quniform(0.1, 1, 0.25), "lower bound must be a multiple of q"),
        (lambda: sample.quniform(0, 1.1, 0.25), "upper bound must be a multiple of q"),
        (lambda: sample.qrandint(1, 2, 5), "no multiple of q"),
        (lambda: sample.randn(0, 0), "sd must be > 0"),
        (lambda: sample.randn(0, -1), "sd must be > 0"),
        (lambda: sample.qrandn(0, 0, 0.1), "sd must be > 0"),
        (lambda: sample.uniform("a", 1), "must be a real number"),
        (lambda: sample.uniform(float("nan"), 1), "must be a real number"),
        (lambda: sample.randint(0.5, 3), "whole number"),
        (lambda: sample.grid_search([]), "grid is empty"),
        (lambda: sample.grid_search("ab"), "must be a list"),
        (lambda: sample.sample_from(3), "must be callable"),
        (lambda: sample.sample_from(lambda a, b: 1), "no arguments or exactly one"),
    ],
)
def test_bad_input_raises_value_error(build, match):
    with pytest.raises(ValueError, match=match):
        build()


@pytest.mark.parametrize(
    "build",
    [
        lambda base: sample.loguniform(1, 10, base=base),
        lambda base: sample.qloguniform(1, 10, 1, base=base),
        lambda base: sample.lograndint(1, 10, base=base),
        lambda base: sample.qlograndint(1, 10, 1, base=base),
    ],
)
def test_base_is_deprecated_and_ignored(build):
    with pytest.warns(FutureWarning, match="deprecated and ignored"):
        domain = build(2)
    assert domain.sample(size=10, random_state=0) == build(None).sample(size=10, random_state=0)


def test_grid_search_returns_plain_dict():
    assert sample.grid_search([1, 2]) == {"grid_search": [1, 2]}
    assert tune.grid_search is sample.grid_search


@pytest.mark.parametrize(
    "domain, sampler_cls",
    [
        (sample.uniform(0, 1), Uniform),
        (sample.loguniform(1, 2), LogUniform),
        (sample.randn(), Normal),
        (sample.quniform(0, 1, 0.5), Quantized),
        (Categorical([1, 2]).grid(), Grid),
        (sample.choice([1]), Uniform),
    ],
)
def test_samplers(domain, sampler_cls):
    assert isinstance(domain.get_sampler(), sampler_cls)


def test_quantized_exposes_inner_sampler_and_q():
    sampler = sample.qloguniform(5, 100, 5).get_sampler()
    assert isinstance(sampler.get_sampler(), LogUniform) and sampler.q == 5


def test_one_sampler_per_domain():
    with pytest.raises(ValueError, match="a domain has one sampler"):
        sample.uniform(1, 2).loguniform()
    domain = Float(0, 1)
    domain.set_sampler(Uniform())
    domain.set_sampler(LogUniform(), allow_override=True)
    assert isinstance(domain.get_sampler(), LogUniform)


def test_default_sampler_is_uniform():
    assert 0 <= Float(0, 1).sample(random_state=0) < 1
    assert Integer(0, 2).sample(size=50, random_state=0) != []


def test_grid_domain_cannot_be_sampled():
    with pytest.raises(RuntimeError, match="expanded, not sampled"):
        Categorical([1, 2]).grid().sample()


def test_predicates():
    assert Categorical([1]).grid().is_grid() and not sample.choice([1]).is_grid()
    assert sample.sample_from(lambda: 1).is_function() and not sample.uniform(0, 1).is_function()


@pytest.mark.parametrize(
    "domain, inside, outside",
    [
        (sample.uniform(0, 1), 0.5, 1.5),
        (sample.randint(0, 10), 3, -1),
        (sample.choice(["a", None]), None, "b"),
        (sample.sample_from(lambda: 1), "anything", None),
    ],
)
def test_is_valid(domain, inside, outside):
    assert domain.is_valid(inside)
    assert outside is None or not domain.is_valid(outside)


@pytest.mark.parametrize(
    "domain, text",
    [
        (Float(0, 1), "(0, 1)"),
        (sample.randn(), "(-inf, inf)"),
        (sample.choice([1, "a", None]), "[1, 'a', None]"),
    ],
)
def test_domain_str(domain, text):
    assert domain.domain_str == text


def test_cast():
    assert Integer(0, 5).cast(2.0) == 2 and type(Integer(0, 5).cast(2.0)) is int
    assert type(Float(0, 5).cast(2)) is float


def test_categorical_len_and_index():
    domain = sample.choice(["x", "y"])
    assert len(domain) == 2 and domain[1] == "y"


def test_reprs_are_readable():
    assert repr(sample.uniform(0, 1)) == "Float(lower=0, upper=1, sampler=Uniform())"
    assert repr(sample.qrandint(0, 10, 5)) == (
        "Integer(lower=0, upper=10, sampler=Quantized(Uniform(), q=5))"
    )
    assert repr(sample.choice([1, 2])) == "Categorical([1, 2], sampler=Uniform())"


def test_function_with_and_without_spec():
    assert sample.sample_from(lambda: 7).sample() == 7
    assert sample.sample_from(lambda spec: spec["x"] + 1).sample(config={"x": 1}) == 2
    assert sample.sample_from(lambda: 7).sample(size=2) == [7, 7]


@pytest.mark.parametrize(
    "domain",
    [
        sample.uniform(0, 1),
        sample.qloguniform(5, 100, 5),
        sample.qrandn(0, 1, 0.1),
        sample.qrandint(0, 10, 2),
        sample.choice([1, "a"]),
    ],
)
def test_domains_pickle(domain):
    copy = pickle.loads(pickle.dumps(domain))
    assert copy.sample(size=5, random_state=0) == domain.sample(size=5, random_state=0)
    assert repr(copy) == repr(domain)


def test_grid_domain_pickles():
    copy = pickle.loads(pickle.dumps(Categorical([1, 2]).grid()))
    assert copy.is_grid() and copy.categories == [1, 2]


def test_function_domain_cloudpickles():
    offset = 3
    domain = cloudpickle.loads(cloudpickle.dumps(sample.sample_from(lambda: offset + 1)))
    assert isinstance(domain, Function) and domain.sample() == 4


def test_tune_exports_sampling_functions():
    names = [
        "uniform",
        "quniform",
        "loguniform",
        "qloguniform",
        "randn",
        "qrandn",
        "randint",
        "qrandint",
        "lograndint",
        "qlograndint",
        "choice",
        "sample_from",
        "grid_search",
    ]
    assert all(getattr(tune, name) is getattr(sample, name) for name in names)
