import logging
import subprocess
import sys

import importlib.util

import numpy as np
import pytest

import tunesmith as tune
from tunesmith.integration.wandb import WandbLoggerCallback, setup_wandb
from tunesmith.logger.wandb import WandbLoggerCallback as FromLoggerPath

from _wandb_records import config, history, kinds, run_files, run_info

# Trainables defined here are unpickled by importing this module in trial processes: wandb is
# imported inside the tests only.
pytestmark = pytest.mark.skipif(importlib.util.find_spec("wandb") is None, reason="needs wandb")


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Never touch the network; keep W&B's own chatter and settings out of the test."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DISABLE_GIT", "true")


def only_run_file(result):
    files = run_files(result.path)
    assert len(files) == 1, files
    return files[0]


def train(config):
    for i in range(3):
        tune.report({"score": config["a"] * (i + 1), "nested": {"x": 0.5}, "phase": "warm"})
    if config["a"] == 3:
        raise ValueError("three is not allowed")


def test_each_trial_is_an_offline_run_with_config_history_and_end(run):
    callback = WandbLoggerCallback(project="proj", mode="offline")
    results = run(train, {"a": tune.grid_search([1, 3])}, run_config={"callbacks": [callback], "name": "wexp"})
    for result in results:
        path = only_run_file(result)
        info = run_info(path)
        assert info.run_id == result.metrics["trial_id"]
        assert info.display_name == f"train_{info.run_id}"
        assert info.project == "proj" and info.run_group == "wexp"
        cfg = config(path)
        assert cfg["a"] == result.config["a"] and cfg["trial_id"] == info.run_id and "hostname" in cfg
        rows = history(path)
        a = result.config["a"]
        assert [row["score"] for row in rows] == [a, 2 * a, 3 * a]
        assert [row["_step"] for row in rows] == [1, 2, 3]
        assert all(row["nested/x"] == 0.5 and row["phase"] == "warm" for row in rows)
        assert not any("config/a" in row or "done" in row or "trial_id" in row for row in rows)
        assert kinds(path)[-1] == "exit"  # the run was finished


def test_values_wandb_cannot_take_are_skipped_with_one_warning_per_key(run, caplog):
    def odd(config):
        for i in range(2):
            tune.report({"score": float(i), "nan": float("nan"), "listed": [1, 2], "image": np.zeros((4, 4, 3)),
                         "one": np.array([7.0])})

    callback = WandbLoggerCallback(project="proj", excludes=["score"], log_config=True)
    with caplog.at_level(logging.WARNING, logger="tunesmith"):
        (result,) = run(odd, {"lr": 0.1}, run_config={"callbacks": [callback]})
    rows = history(only_run_file(result))
    assert len(rows) == 2
    assert all("score" not in row and row["config/lr"] == 0.1 and row["one"] == 7.0 for row in rows)
    assert all(row["nan"] != row["nan"] for row in rows)  # NaN is kept
    assert all(row["image/_type"] == "image-file" for row in rows)
    warnings = [r.getMessage() for r in caplog.records if "WandbLoggerCallback" in r.getMessage()]
    assert len([w for w in warnings if "'listed'" in w]) == 1, warnings


def test_retry_continues_the_run_and_checkpoints_upload_as_artifacts(run, tmp_path):
    marker = tmp_path / "failed_once"
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "weights.txt").write_text("1")

    def flaky(config):
        tune.report({"score": 1.0}, checkpoint=tune.Checkpoint.from_directory(str(saved)))
        if not marker.exists():
            marker.write_text("x")
            raise RuntimeError("first attempt fails")
        tune.report({"score": 2.0})

    callback = WandbLoggerCallback(project="proj", upload_checkpoints=True)
    (result,) = run(flaky, run_config={"callbacks": [callback], "failure_config": tune.FailureConfig(max_failures=1)})
    path = only_run_file(result)
    assert [row["score"] for row in history(path)] == [1.0, 1.0, 2.0]
    assert kinds(path).count("artifact") == 2


def test_both_api_key_and_file_are_refused():
    with pytest.raises(ValueError, match="either api_key or api_key_file"):
        WandbLoggerCallback(api_key="k", api_key_file="f")


def test_unreadable_api_key_file_is_reported(run, tmp_path):
    callback = WandbLoggerCallback(project="proj", api_key_file=str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="api_key_file .*missing.* cannot be read"):
        run(train, {"a": 1}, run_config={"callbacks": [callback]})


def test_logger_path_reexports_the_callback():
    assert FromLoggerPath is WandbLoggerCallback


@pytest.mark.slow
def test_setup_wandb_logs_from_inside_the_trainable(run):
    def inside(config):
        wandb_run = setup_wandb(config, project="inside")
        for i in range(2):
            wandb_run.log({"loss": 1.0 / (i + 1)})
        wandb_run.finish()
        tune.report({"ok": 1})

    results = run(inside, {"a": tune.grid_search([1, 2])}, max_concurrent_trials=1)
    for result in results:
        path = only_run_file(result)
        assert run_info(path).run_id == result.metrics["trial_id"]
        assert [row["loss"] for row in history(path)] == [1.0, 0.5]
        assert config(path)["a"] == result.config["a"]


def test_import_error_names_the_extra():
    code = ("import sys; sys.modules['wandb'] = None\n"
            "from tunesmith.integration.wandb import WandbLoggerCallback\n"
            "try:\n    WandbLoggerCallback()\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert 'WandbLoggerCallback needs wandb: pip install "tunesmith[wandb]"' in out.stdout, out.stderr
