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
