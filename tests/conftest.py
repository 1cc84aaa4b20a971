import os
import signal
import socket
import subprocess
import sys
import time

import pytest

import tunesmith as tune


@pytest.fixture
def storage(tmp_path):
    return str(tmp_path / "results")


@pytest.fixture
def run(storage):
    """Run a Tuner quietly into a temporary folder: ``run(trainable, param_space, **tune_config)``."""

    def _run(trainable, param_space=None, *, run_config=None, **tune_config):
        run_config = run_config or {}
        run_config.setdefault("verbose", 0)
        run_config.setdefault("storage_path", storage)
        run_config.setdefault("name", "exp")
        tuner = tune.Tuner(
            trainable,
            param_space=param_space or {},
            tune_config=tune.TuneConfig(**tune_config),
            run_config=tune.RunConfig(**run_config),
        )
        return tuner.fit()

    return _run


@pytest.fixture(autouse=True)
def _fresh_default_executor():
    yield
    tune.shutdown()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's S3 server on 127.0.0.1, as its own process (one for the session); stopped by pid."""
    pytest.importorskip("moto.server")
    pytest.importorskip("s3fs")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait(10)
