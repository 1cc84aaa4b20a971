import json
import subprocess
import sys

import tunesmith

HEAVY = ["pandas", "optuna", "hyperopt", "torch", "dask", "distributed", "ray", "mlflow", "wandb", "tensorboardX",
         "sklearn", "scipy", "ax", "nevergrad", "matplotlib"]


def test_import_is_light():
    code = "import sys, json, tunesmith; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert not [m for m in HEAVY if m in loaded]
    assert out.stderr == ""


def test_exported_members_are_sorted_and_exist():
    import importlib

    for name in ["tunesmith", "tunesmith.search", "tunesmith.schedulers", "tunesmith.stopper",
                 "tunesmith.trainable", "tunesmith.execution", "tunesmith.logger", "tunesmith.experiment"]:
        module = importlib.import_module(name)
        exported = module.__all__
        assert exported == sorted(exported, key=str.lower) or exported == sorted(exported), name
        for member in exported:
            assert hasattr(module, member), f"{name}.{member}"
    assert tunesmith.Tuner.__module__.startswith("tunesmith")


def test_subpackages_are_attributes_as_in_ray_tune():
    """A Ray Tune user writes ``tune.schedulers.ASHAScheduler``; it works without importing the subpackage."""
    code = ("import tunesmith as tune; "
            "print(tune.schedulers.ASHAScheduler.__name__, tune.search.ConcurrencyLimiter.__name__, "
            "tune.stopper.MaximumIterationStopper.__name__, tune.logger.JsonLoggerCallback.__name__, "
            "'schedulers' in dir(tune))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["AsyncHyperBandScheduler", "ConcurrencyLimiter", "MaximumIterationStopper",
                                  "JsonLoggerCallback", "True"]
