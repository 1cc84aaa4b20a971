import pytest

from tunesmith.search import SEARCH_ALG_IMPORT, BasicVariantGenerator, create_searcher
from tunesmith.search.hyperopt import HyperOptSearch
from tunesmith.search.optuna import OptunaSearch

RAY_KEYS = ["variant_generator", "random", "ax", "hyperopt", "bayesopt", "bohb", "nevergrad", "optuna", "zoopt", "hebo"]


def test_keys_match_ray():
    assert sorted(SEARCH_ALG_IMPORT) == sorted(RAY_KEYS)


@pytest.mark.parametrize("name", ["random", "variant_generator", "Random"])
def test_basic_variant_generator(name):
    assert isinstance(create_searcher(name, max_concurrent=2, metric="ignored"), BasicVariantGenerator)


def test_case_insensitive_with_constructor_arguments():
    searcher = create_searcher("OpTuNa", metric="loss", mode="max", seed=1)
    assert isinstance(searcher, OptunaSearch)
    assert (searcher.metric, searcher.mode) == ("loss", "max")
    searcher = create_searcher("hyperopt", metric="loss", mode="min", n_initial_points=3, random_state_seed=1)
    assert isinstance(searcher, HyperOptSearch)


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("optuna", {"seed": 1, "n_initial_points": 3},
         r"create_searcher\('optuna'\) got an unexpected keyword argument 'n_initial_points'; "
         r"OptunaSearch takes: space, metric, mode, .*seed"),
        ("hyperopt", {"seed": 1, "bogus": 2},
         r"unexpected keyword arguments 'seed', 'bogus'; HyperOptSearch takes: .*random_state_seed"),
        ("random", {"metric": "loss", "max_concurent": 2}, r"'max_concurent'; BasicVariantGenerator takes: .*max_concurrent"),
    ],
)
def test_unknown_keyword_argument_is_an_error(name, kwargs, message):
    # Ray Tune drops them silently, so a typo goes unnoticed.
    with pytest.raises(TypeError, match=message):
        create_searcher(name, **kwargs)


def test_metric_and_mode_are_accepted_by_every_name():
    assert isinstance(create_searcher("random", metric="loss", mode="min"), BasicVariantGenerator)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"search_alg must be one of \['ax', 'bayesopt', .*'zoopt'\]; got 'skopt'"):
        create_searcher("skopt")
