"""One experiment folder, one driver: a second one fails at once and names the first."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

import tunesmith as tune
from tunesmith.storage import ExperimentLockedError

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_restore import counting  # noqa: E402


def _start_driver(tmp_path, name="exp"):
    script = tmp_path / "driver.py"
    script.write_text(
        f"import sys\nsys.path.insert(0, {HERE!r})\n"
        "import tunesmith as tune\nfrom test_restore import counting\n"
        "tune.Tuner(counting, param_space={'steps': 400, 'sleep': 0.05},\n"
        f"           run_config=tune.RunConfig(storage_path=sys.argv[1], name={name!r}, verbose=0)).fit()\n"
    )
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = [p for p in (tmp_path / name).glob("*/result.json") if p.read_text().count("\n") >= 2]
        if rows:
            return proc
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the first driver did not get going")


@pytest.mark.slow
def test_a_second_driver_fails_at_once_and_names_the_first(tmp_path):
    proc = _start_driver(tmp_path)
    try:
        spec_before = (tmp_path / "exp" / "experiment.pkl").read_bytes()
        started = time.monotonic()
        with pytest.raises(ExperimentLockedError, match=rf"in use by another tunesmith driver: pid {proc.pid} on host "
                                                        rf"{socket.gethostname()}, running since .*Tuner.restore"):
            tune.Tuner(counting, param_space={"steps": 2},
                       run_config=tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0)).fit()
        with pytest.raises(ExperimentLockedError, match=f"pid {proc.pid}"):
            tune.Tuner.restore(str(tmp_path / "exp"), counting)
        assert time.monotonic() - started < 30  # at once, not after the first run ends
        assert (tmp_path / "exp" / "experiment.pkl").read_bytes() == spec_before  # the first stays restorable
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # A killed driver holds nothing (its forked trial and writer processes do not keep the lock).
    results = tune.Tuner.restore(str(tmp_path / "exp"), counting, stop={"training_iteration": 1}).fit()
    assert results.num_terminated == 1


def test_default_names_never_collide(tmp_path, monkeypatch):
    import tunesmith.tuner

    monkeypatch.setattr(tunesmith.tuner, "date_str", lambda: "2026-01-01_00-00-00")
    paths = [
        tune.Tuner(counting, param_space={"steps": 1},
                   run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0)).fit().experiment_path
        for _ in range(2)
    ]
    assert [os.path.basename(p) for p in paths] == ["counting_2026-01-01_00-00-00", "counting_2026-01-01_00-00-00_2"]
    assert all(len(tune.ExperimentAnalysis(p).trials) == 1 for p in paths)


def test_storage_that_trial_processes_cannot_reach_is_refused():
    with pytest.raises(ValueError, match=r"'memory://.*' is a filesystem kept in this process's memory, which trial "
                                         r"processes cannot reach"):
        tune.Tuner(counting, param_space={"steps": 1},
                   run_config=tune.RunConfig(storage_path="memory://runs", name="exp", verbose=0)).fit()


def _lease(fs, bucket, **fields):
    lease = {"host": "other-host", "pid": 4321, "since": "2026-01-01 00:00:00 UTC", "token": "other",
             "expires": time.time() + 600, **fields}
    fs.pipe_file(f"{bucket}/runs/exp/.driver-lease.json", json.dumps(lease).encode())


def test_a_live_lease_on_an_object_store_is_respected_and_an_expired_one_is_not(s3):
    fs, bucket = s3
    config = tune.RunConfig(storage_path=f"s3://{bucket}/runs", name="exp", storage_filesystem=fs, verbose=0)
    _lease(fs, bucket)
    with pytest.raises(ExperimentLockedError, match=r"pid 4321 on host other-host, running since 2026-01-01 .*lease"):
        tune.Tuner(counting, param_space={"steps": 1}, run_config=config).fit()
    _lease(fs, bucket, expires=time.time() - 1)
    assert tune.Tuner(counting, param_space={"steps": 1}, run_config=config).fit().num_terminated == 1
    assert not fs.exists(f"{bucket}/runs/exp/.driver-lease.json")  # let go at the end


@pytest.mark.slow
def test_after_a_kill_9_of_the_driver_the_experiment_reads_interrupted_and_its_running_trial_pending(tmp_path):
    import json as json_module

    import psutil
    from click.testing import CliRunner

    from tunesmith.cli._commands import cli
    from tunesmith.storage._lock import driver_alive

    proc = _start_driver(tmp_path)
    children = psutil.Process(proc.pid).children(recursive=True)
    try:
        assert driver_alive(str(tmp_path / "exp"))
        assert [t.status for t in tune.ExperimentAnalysis(str(tmp_path / "exp")).trials] == ["RUNNING"]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    try:
        assert not driver_alive(str(tmp_path / "exp"))
        assert [t.status for t in tune.ExperimentAnalysis(str(tmp_path / "exp")).trials] == ["PENDING"]  # as Ray reads it
        listed = json_module.loads(CliRunner().invoke(cli, ["ls", str(tmp_path), "--json"]).output)
        assert (listed["status"], listed["trials"]) == ("interrupted", {"pending": 1})
    finally:
        for child in children:  # the trial's process, if it outlived its driver
            if child.is_running():
                child.kill()
