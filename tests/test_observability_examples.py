"""The ported observability examples run with their smoke-test flag."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_example(name, tmp_path, *args, env=None):
    env = {**os.environ, "TUNESMITH_STORAGE_PATH": str(tmp_path), **(env or {})}
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", name), "--smoke-test", *args],
                         capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_logging_example(tmp_path):
    out = run_example("logging_example.py", tmp_path)
    assert out.count("PrintingLogger, trial easy_objective_") == 5
    assert "mean_loss:" in out and "Best hyperparameters:" in out
    folders = os.listdir(tmp_path / "logging_example")
    assert sum(f.endswith("_123") for f in folders) == 5


@pytest.mark.slow
def test_custom_checkpointing_with_callback_example(tmp_path):
    out = run_example("custom_checkpointing_with_callback.py", tmp_path,
                      env={"TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"})
    assert out.count("Callback requests a checkpoint") == 3  # the first result is always a big improvement
    assert "Best checkpoint: Checkpoint(" in out


@pytest.mark.slow
@pytest.mark.timeout(600)  # three processes import MLflow (seconds each) and a database is created
def test_mlflow_example(tmp_path):
    pytest.importorskip("mlflow")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    out = run_example("mlflow_example.py", tmp_path, "--tracking-uri", uri,
                      env={"TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"})
    assert "Runs logged by the callback: 5" in out
    assert "Runs logged with setup_mlflow: 5" in out
