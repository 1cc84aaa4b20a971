import importlib.util

import pytest

from tunesmith import uniform
from tunesmith.schedulers import (
    AsyncHyperBandScheduler,
    FIFOScheduler,
    HyperBandForBOHB,
    HyperBandScheduler,
    MedianStoppingRule,
    PopulationBasedTraining,
    PopulationBasedTrainingReplay,
    ResourceChangingScheduler,
    create_scheduler,
)
from tunesmith.schedulers._create import SCHEDULER_IMPORT

RAY_KEYS = [
    "fifo",
    "async_hyperband",
    "asynchyperband",
    "median_stopping_rule",
    "medianstopping",
    "hyperband",
    "hb_bohb",
    "pbt",
    "pbt_replay",
    "pb2",
    "resource_changing",
]


def test_keys_are_ray_tunes_plus_asha():
    assert sorted(SCHEDULER_IMPORT) == sorted(RAY_KEYS + ["asha"])


@pytest.mark.parametrize(
    ("name", "cls", "kwargs"),
    [
        ("fifo", FIFOScheduler, {}),
        ("async_hyperband", AsyncHyperBandScheduler, {}),
        ("asynchyperband", AsyncHyperBandScheduler, {}),
        ("asha", AsyncHyperBandScheduler, {}),
        ("ASHA", AsyncHyperBandScheduler, {}),
        ("median_stopping_rule", MedianStoppingRule, {}),
        ("medianstopping", MedianStoppingRule, {}),
        ("hyperband", HyperBandScheduler, {}),
        ("HyperBand", HyperBandScheduler, {}),
        ("hb_bohb", HyperBandForBOHB, {}),
        ("pbt", PopulationBasedTraining, {"hyperparam_mutations": {"lr": uniform(0, 1)}}),
        ("resource_changing", ResourceChangingScheduler, {}),
    ],
)
def test_each_name_builds_its_scheduler(name, cls, kwargs):
    assert type(create_scheduler(name, **kwargs)) is cls


def test_pbt_replay(tmp_path):
    policy = tmp_path / "pbt_policy_x.txt"
    policy.write_text('["1", "0", 2, 2, {"a": 1}, {"a": 2}]\n')
    assert isinstance(create_scheduler("pbt_replay", policy_file=str(policy)), PopulationBasedTrainingReplay)


@pytest.mark.skipif(importlib.util.find_spec("sklearn") is None, reason="PB2 needs scikit-learn")
def test_pb2():
    from tunesmith.schedulers.pb2 import PB2

    assert type(create_scheduler("pb2", hyperparam_bounds={"lr": [0, 1]})) is PB2


def test_constructor_arguments_are_passed():
    scheduler = create_scheduler("asha", metric="loss", mode="min", max_t=9)
    assert scheduler.metric == "loss" and scheduler.milestones() == [[4, 1]]


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("async_hyperband", {"max_t": 9, "grace_peroid": 2},
         r"create_scheduler\('async_hyperband'\) got an unexpected keyword argument 'grace_peroid'; "
         r"AsyncHyperBandScheduler takes: time_attr, metric, mode, max_t, grace_period, .*"),
        ("asha", {"hyperparam_mutations": {}, "foo": 1},
         r"unexpected keyword arguments 'hyperparam_mutations', 'foo'; AsyncHyperBandScheduler takes"),
        ("fifo", {"max_t": 3}, r"'max_t'; FIFOScheduler takes: no arguments"),
    ],
)
def test_unknown_keyword_argument_is_an_error(name, kwargs, message):
    # Ray Tune drops them silently, so a typo goes unnoticed.
    with pytest.raises(TypeError, match=message):
        create_scheduler(name, **kwargs)


def test_metric_and_mode_are_accepted_by_every_name():
    assert type(create_scheduler("fifo", metric="loss", mode="min")) is FIFOScheduler


def test_known_arguments_are_still_checked():
    with pytest.raises(ValueError, match="max_t must be > 0"):
        create_scheduler("hyperband", max_t=-1)


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"scheduler must be one of \['asha', 'async_hyperband'.*got 'sha'"):
        create_scheduler("sha")
