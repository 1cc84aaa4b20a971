"""The framework examples run with ``--smoke-test``.

Each example's ``main`` runs in this process (its trials in worker processes, as always),
so the frameworks are imported once for the whole test session, not once per example.
"""

import importlib
import importlib.util
import os

import pytest

EXAMPLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")

EXAMPLES = [
    ("xgboost_example", ["xgboost", "sklearn"], ["Best model total accuracy: "]),
    ("lightgbm_example", ["lightgbm", "sklearn"], ["Best model has 5 trees"]),
    ("xgboost_dynamic_resources_example", ["xgboost", "sklearn"],
     ["nthread: 1", "nthread: 2", "Best model total accuracy: "]),
    ("keras_example", ["keras", "torch", "sklearn"], ["Best model accuracy, reloaded from its checkpoint: "]),
    ("pytorch_lightning_example", ["lightning", "sklearn"], ["Best model reloaded from its checkpoint: "]),
]


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")  # keras + numpy 2
@pytest.mark.parametrize(("name", "needs", "expected"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_example_smoke_test(name, needs, expected, tmp_path, monkeypatch, capfd):
    missing = [module for module in needs if importlib.util.find_spec(module) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    monkeypatch.setenv("TUNESMITH_STORAGE_PATH", str(tmp_path))
    monkeypatch.syspath_prepend(EXAMPLES_DIR)  # trial processes inherit sys.path
    importlib.import_module(name).main(["--smoke-test"])
    out = capfd.readouterr().out
    assert "Finished: 2 trials (2 TERMINATED)" in out, out[-3000:]
    for line in expected:
        assert line in out, out[-3000:]
