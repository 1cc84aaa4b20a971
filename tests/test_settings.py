"""Environment variables: read only in ``tunesmith._settings``, and once per experiment."""

import ast
from pathlib import Path

import pytest

from tunesmith import _settings
from tunesmith.execution import LocalExecutor
from tunesmith.experiment._trial import Trial
from tunesmith.storage import ExperimentStorage

SRC = Path(__file__).parents[1] / "src" / "tunesmith"


def _environment_reads(path: Path) -> list[str]:
    """``os.environ.get(...)``, ``os.environ[...]`` read, ``os.getenv(...)`` in one file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        text = ast.unparse(node)
        if isinstance(node, ast.Call) and text.startswith(("os.environ.get(", "os.getenv(")):
            found.append(f"{path.relative_to(SRC)}:{node.lineno}: {text}")
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and ast.unparse(node.value) == "os.environ":
            found.append(f"{path.relative_to(SRC)}:{node.lineno}: {text}")
    return found


def test_only_settings_reads_environment_variables():
    reads = [r for p in sorted(SRC.rglob("*.py")) if p.name != "_settings.py" for r in _environment_reads(p)]
    assert reads == [], "read environment variables in tunesmith/_settings.py only"


def test_the_trial_name_limit_is_read_once_per_experiment(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNE_MAX_LEN_IDENTIFIER", "8")
    storage = ExperimentStorage(str(tmp_path), "exp")
    monkeypatch.setenv("TUNE_MAX_LEN_IDENTIFIER", "80")
    trial = Trial("a_long_trainable_name", trial_id="abc", config={}, experiment_tag="0_x=1")
    assert storage.trial_dirname(trial).startswith("a_long_t_")


@pytest.mark.parametrize(("given", "expected"), [(None, 7.0), (3.0, 3.0)])
def test_the_heartbeat_timeout_is_fixed_when_the_executor_starts(monkeypatch, given, expected):
    monkeypatch.setenv("TUNESMITH_HEARTBEAT_TIMEOUT_S", "7")
    executor = LocalExecutor(num_cpus=1, num_gpus=0, heartbeat_timeout_s=given)
    executor.start("127.0.0.1:1", "token")
    try:
        monkeypatch.setenv("TUNESMITH_HEARTBEAT_TIMEOUT_S", "70")
        assert executor.heartbeat_timeout() == expected
    finally:
        executor.shutdown()


def test_worker_settings(monkeypatch):
    monkeypatch.setenv("TUNESMITH_ACK_FD", "5")
    monkeypatch.setenv("TUNESMITH_DRIVER", "127.0.0.1:9")
    monkeypatch.delenv("TUNESMITH_TOKEN", raising=False)
    assert (_settings.worker_ack_fd(), _settings.worker_driver_address(), _settings.worker_token()) == (5, "127.0.0.1:9", None)
