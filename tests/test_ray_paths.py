"""Names at Ray Tune's module paths that are more than re-exports: they do what Ray's do."""

import pytest

from tunesmith.execution.placement_groups import resource_dict_to_pg_factory
from tunesmith.registry import get_trainable_cls, is_function_trainable, register_trainable, validate_trainable
from tunesmith.search.variant_generator import assign_value
from tunesmith.utils.mock_trainable import MOCK_TRAINABLE_NAME, MyTrainableClass, register_mock_trainable


@pytest.mark.parametrize(("spec", "bundle"), [
    (None, {"CPU": 1.0, "GPU": 0.0, "memory": 0.0}),
    ({"cpu": 2, "gpu": 1}, {"CPU": 2.0, "GPU": 1.0, "memory": 0.0}),
    ({"CPU": 1, "license": 1}, {"CPU": 1.0, "GPU": 0.0, "memory": 0.0, "license": 1.0}),
    ({"cpu": 1, "custom_resources": {"license": 2}, "ignored": 1}, {"CPU": 1.0, "GPU": 0.0, "memory": 0.0, "license": 2.0}),
])
def test_resource_dict_to_pg_factory(spec, bundle):
    assert resource_dict_to_pg_factory(spec).bundles == [bundle]


def test_registry_functions():
    def f(config):
        return {"x": 1}

    register_trainable("compat_f", f)
    register_mock_trainable()
    assert get_trainable_cls("compat_f") is f
    assert get_trainable_cls(MOCK_TRAINABLE_NAME) is MyTrainableClass
    assert is_function_trainable("compat_f") and is_function_trainable(f)
    assert not is_function_trainable(MyTrainableClass)
    validate_trainable("compat_f")
    with pytest.raises(ValueError, match="no trainable is registered as 'nope'"):
        validate_trainable("nope")


def test_assign_value_rebuilds_tuples():
    spec = {"a": {"b": (1, (2, 3))}, "c": [0, 1]}
    assign_value(spec, ("a", "b", 1, 0), 9)
    assign_value(spec, ("c", 1), 5)
    assert spec == {"a": {"b": (1, (9, 3))}, "c": [0, 5]}


def test_result_constants_name_the_keys_tune_reports(run):
    from tunesmith.result import TIME_TOTAL_S, TRAINING_ITERATION, TRIAL_ID

    results = run(lambda config: {"score": 1})
    assert {TRAINING_ITERATION, TIME_TOTAL_S, TRIAL_ID} <= set(results[0].metrics)


def test_bohb_alias():
    from tunesmith.search.bohb import BOHB, TuneBOHB
    from tunesmith.search.bohb.bohb_search import BOHB as BOHB2

    assert BOHB is TuneBOHB is BOHB2


def test_ray_path_modules_are_attributes_of_the_package():
    """``tune.result.DONE``, ``tune.utils.flatten_dict``: as with ``from ray import tune``."""
    import subprocess
    import sys

    code = "import tunesmith as tune; print(tune.result.DONE, tune.utils.flatten_dict({'a': {'b': 1}}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["done", "{'a/b':", "1}"]
