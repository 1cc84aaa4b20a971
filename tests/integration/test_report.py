import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tunesmith.integration._report import normalize_metrics, pick_metrics, temporary_checkpoint, to_number


@pytest.mark.parametrize(
    ("metrics", "expected"),
    [
        (None, None),
        ("loss", {"loss": "loss"}),
        (["loss", "acc"], {"loss": "loss", "acc": "acc"}),
        (("loss",), {"loss": "loss"}),
        ({"mean_loss": "val_loss"}, {"mean_loss": "val_loss"}),
    ],
)
def test_normalize_metrics(metrics, expected):
    assert normalize_metrics(metrics, owner="Callback") == expected


@pytest.mark.parametrize("metrics", [3, ["loss", 1], {"loss": 1}, {1: "loss"}])
def test_normalize_metrics_rejects(metrics):
    with pytest.raises(TypeError, match=r"Callback\(metrics=...\) takes None, a metric name, a list of names"):
        normalize_metrics(metrics, owner="Callback")


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        (None, {"loss": 0.5, "acc": 1.0}),
        ({"loss": "loss"}, {"loss": 0.5}),
        ({"error": "loss", "accuracy": "acc"}, {"error": 0.5, "accuracy": 1.0}),
    ],
)
def test_pick_metrics(wanted, expected):
    picked = pick_metrics({"loss": np.float32(0.5), "acc": np.float64(1.0)}, wanted, where="logs")
    assert picked == expected
    assert all(type(v) is float for v in picked.values())


def test_pick_metrics_missing_raises_or_warns(caplog):
    with pytest.raises(KeyError, match=r"'auc' must be one of the metrics in logs; got only \['acc', 'loss'\]"):
        pick_metrics({"loss": 1, "acc": 2}, {"auc": "auc"}, where="logs")
    assert pick_metrics({"loss": 1}, {"auc": "auc", "loss": "loss"}, where="logs", missing="warn") == {"loss": 1}
    assert "'auc' is not in logs" in caplog.text


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1), (0.5, 0.5), ("x", "x"), (None, None), (np.int64(3), 3), (np.array(2.5), 2.5), ([1, 2], [1, 2])],
)
def test_to_number(value, expected):
    assert to_number(value) == expected and type(to_number(value)) is type(expected)


def test_to_number_keeps_arrays_and_unwraps_one_element_tensors():
    array = np.arange(3)
    assert to_number(array) is array
    torch = pytest.importorskip("torch")
    assert to_number(torch.tensor(0.25)) == 0.25 and type(to_number(torch.tensor(0.25))) is float


def test_temporary_checkpoint_is_removed_afterwards():
    with temporary_checkpoint() as (folder, checkpoint):
        assert os.path.isdir(folder) and checkpoint.path == folder
    assert not os.path.exists(folder)


def test_importing_the_package_imports_no_framework():
    code = "import sys, json, tunesmith.integration; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    heavy = {"xgboost", "lightgbm", "keras", "lightning", "pytorch_lightning", "torch", "tensorflow", "sklearn"}
    assert not heavy & loaded
