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


def test_unknown_keyword_arguments_are_dropped():
    scheduler = create_scheduler("async_hyperband", metric="loss", mode="min", max_t=9, hyperparam_mutations={}, foo=1)
    assert scheduler.metric == "loss" and scheduler.milestones() == [[4, 1]]


def test_known_arguments_are_still_checked():
    with pytest.raises(ValueError, match="max_t must be > 0"):
        create_scheduler("hyperband", max_t=-1)


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"scheduler must be one of \['asha', 'async_hyperband'.*got 'sha'"):
        create_scheduler("sha")
