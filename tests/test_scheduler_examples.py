"""Ray Tune's scheduler examples, after the import change, run as scripts with --smoke-test."""

import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

EXAMPLES = [
    pytest.param("async_hyperband_example.py", "asha_test", id="async_hyperband"),
    pytest.param("hyperband_function_example.py", "hyperband_test", id="hyperband_function"),
    pytest.param("pbt_function.py", "pbt_function_api_example", id="pbt_function"),
    pytest.param(
        "pb2_example.py",
        "pbt_test",
        id="pb2",
        marks=[
            pytest.mark.slow,  # importing scikit-learn and scipy dominates
            pytest.mark.skipif(importlib.util.find_spec("sklearn") is None, reason='needs "tunesmith[pb2]"'),
        ],
    ),
]


@pytest.mark.parametrize(("script", "name"), EXAMPLES)
def test_scheduler_example_runs_with_smoke_test(tmp_path, script, name):
    env = dict(os.environ, TUNESMITH_STORAGE_PATH=str(tmp_path))
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", script), "--smoke-test"],
        capture_output=True, text=True, env=env, timeout=110,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Best hyperparameters found were:" in out.stdout
    experiment = tmp_path / name
    assert (experiment / "journal.jsonl").exists()
    trials = [p for p in experiment.iterdir() if p.is_dir()]
    assert trials and all((p / "result.json").exists() for p in trials)
    if script in ("pbt_function.py", "pb2_example.py"):
        assert (experiment / "pbt_global.txt").exists()  # the population exploited and explored
