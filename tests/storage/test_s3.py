"""Experiments on S3 (moto's server on 127.0.0.1, through the real s3fs client)."""

import json
import os
import subprocess
import sys
import time

import pytest

import tunesmith as tune

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_restore import counting  # noqa: E402


def _remote_rows(fs, trial_url):
    with fs.open(f"{trial_url.split('://', 1)[1]}/result.json") as f:
        return [json.loads(line) for line in f.read().decode().splitlines()]


def test_experiment_on_s3_with_checkpoints(s3):
    fs, bucket = s3
    results = tune.Tuner(
        counting,
        param_space={"steps": 7, "x": tune.grid_search([1, 2])},
        run_config=tune.RunConfig(storage_path=f"s3://{bucket}/runs", name="exp", storage_filesystem=fs, verbose=0),
    ).fit()
    assert results.num_terminated == 2
    assert results.experiment_path == f"s3://{bucket}/runs/exp"
    files = fs.find(f"{bucket}/runs/exp")
    assert f"{bucket}/runs/exp/journal.jsonl" in files
    for result in results:
        assert result.path.startswith(f"s3://{bucket}/runs/exp/counting_")
        assert [r["n"] for r in _remote_rows(fs, result.path)] == list(range(1, 8))
        assert result.checkpoint.path.endswith("checkpoint_000001")
        with result.checkpoint.as_directory() as d:
            assert open(os.path.join(d, "n")).read() == "6"
        assert len(result.metrics_dataframe) == 7


def test_kill_9_and_restore_on_s3(s3, s3_endpoint, tmp_path):
    fs, bucket = s3
    script = tmp_path / "exp.py"
    script.write_text(
        f"import sys\nsys.path.insert(0, {HERE!r})\n"
        "import s3fs, tunesmith as tune\nfrom test_restore import counting\n"
        f"fs = s3fs.S3FileSystem(key='testing', secret='testing', endpoint_url={s3_endpoint!r})\n"
        "tune.Tuner(counting, param_space={'steps': 15, 'sleep': 0.05, 'x': tune.grid_search([1, 2])},\n"
        f"           run_config=tune.RunConfig(storage_path='s3://{bucket}/runs', name='exp',"
        " storage_filesystem=fs, verbose=0)).fit()\n"
    )
    proc = subprocess.Popen([sys.executable, str(script)])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = [p for p in fs.find(f"{bucket}/runs/exp", refresh=True) if "checkpoint_000001" in p]
        if found:
            break
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    path = f"s3://{bucket}/runs/exp"
    assert tune.Tuner.can_restore(path, storage_filesystem=fs)
    results = tune.Tuner.restore(path, counting, storage_filesystem=fs).fit()
    assert results.num_terminated == 2
    for result in results:
        assert [r["n"] for r in _remote_rows(fs, result.path)] == list(range(1, 16))
