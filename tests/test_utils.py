"""``tunesmith.utils`` (``ray.tune.utils``): dict helpers and the trainable checks."""

import pytest

import tunesmith as tune
from tunesmith.utils import (
    deep_update,
    diagnose_serialization,
    flatten_dict,
    merge_dicts,
    unflattened_lookup,
    validate_save_restore,
)
from tunesmith.utils.mock_trainable import MyTrainableClass


@pytest.mark.parametrize(("data", "kwargs", "expected"), [
    ({"a": {"b": 1, "c": {"d": 2}}, "e": 3}, {}, {"a/b": 1, "a/c/d": 2, "e": 3}),
    ({"a": {"b": 1}}, {"delimiter": "."}, {"a.b": 1}),
    ({"a": {}}, {}, {"a": {}}),
    ({"a": [{"b": 1}, {"c": 2}]}, {"flatten_list": True}, {"a/0/b": 1, "a/1/c": 2}),
    ({"a": [{"b": 1}]}, {}, {"a": [{"b": 1}]}),
])
def test_flatten_dict(data, kwargs, expected):
    assert flatten_dict(data, **kwargs) == expected


def test_flatten_dict_prevent_delimiter():
    with pytest.raises(ValueError, match="key 'a/b' contains the delimiter '/'"):
        flatten_dict({"a/b": 1}, prevent_delimiter=True)


def test_unflattened_lookup():
    data = {"a": {"b": [10, {"c": 3}]}}
    assert unflattened_lookup("a/b/1/c", data) == 3
    assert unflattened_lookup("a/x", data, default=None) is None
    with pytest.raises(KeyError, match="no 'x'"):
        unflattened_lookup("a/x", data)


def test_deep_update_and_merge_dicts():
    original = {"a": {"b": 1, "c": 2}, "d": 3}
    assert deep_update(original, {"a": {"b": 5}}) == {"a": {"b": 5, "c": 2}, "d": 3}
    with pytest.raises(Exception, match="Unknown config parameter `x`"):
        deep_update(original, {"x": 1})
    assert deep_update({"a": {"type": "A", "p": 1}}, {"a": {"type": "B"}},
                       override_all_if_type_changes=["a"]) == {"a": {"type": "B"}}
    base = {"a": {"b": 1}}
    assert merge_dicts(base, {"a": {"c": 2}}) == {"a": {"b": 1, "c": 2}}
    assert base == {"a": {"b": 1}}


class _Forgetful(MyTrainableClass):
    def load_checkpoint(self, checkpoint):
        pass  # does not restore the step count


def test_validate_save_restore():
    assert validate_save_restore(MyTrainableClass, {"width": 2}) is True
    with pytest.raises(AssertionError, match="_Forgetful did not restore"):
        validate_save_restore(_Forgetful)


def test_diagnose_serialization(capsys):
    import threading

    lock = threading.Lock()

    def bad(config):
        with lock:
            return {"x": 1}

    def good(config):
        return {"x": 1}

    assert diagnose_serialization(good) is True
    assert diagnose_serialization(bad) == {"lock"}
    assert "lock cannot be serialized" in capsys.readouterr().out


def test_mock_trainable_runs_in_a_tuner(run):
    results = run(MyTrainableClass, {"width": tune.grid_search([1, 10])}, metric="episode_reward_mean", mode="max",
                  run_config={"stop": {"training_iteration": 3}})
    assert sorted(round(r.metrics["episode_reward_mean"], 3) for r in results) == [0.291, 0.995]


def test_warn_if_slow(caplog):
    from tunesmith.utils import warn_if_slow

    with caplog.at_level("WARNING", logger="tunesmith"):
        with warn_if_slow("fast"):
            pass
        with warn_if_slow("slow", threshold=0.0):
            pass
        with warn_if_slow("off", threshold=0.0, disable=True):
            pass
    assert [r.getMessage().split(" took")[0] for r in caplog.records] == ["The `slow` operation"]


def test_verbosity_names_run_config_levels(run):
    from tunesmith.utils.log import Verbosity

    assert tune.RunConfig(verbose=Verbosity.V1_EXPERIMENT).verbose == 1
    assert run(lambda config: {"x": 1}, run_config={"verbose": Verbosity.V0_MINIMAL})[0].metrics["x"] == 1
