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


def test_case_insensitive_and_unknown_kwargs_dropped():
    searcher = create_searcher("OpTuNa", metric="loss", mode="max", seed=1, n_initial_points=3, bogus=1)
    assert isinstance(searcher, OptunaSearch)
    assert (searcher.metric, searcher.mode) == ("loss", "max")
    searcher = create_searcher("hyperopt", metric="loss", mode="min", n_initial_points=3, seed=1)
    assert isinstance(searcher, HyperOptSearch)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"search_alg must be one of \['ax', 'bayesopt', .*'zoopt'\]; got 'skopt'"):
        create_searcher("skopt")
