"""The fork server: a warm template process that forks the local executor's trial processes."""

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

import tunesmith as tune
from tunesmith.execution import LocalExecutor, _forkserver

pytestmark = pytest.mark.skipif(not _forkserver.available(), reason="the fork server needs Linux pidfds")


@pytest.fixture
def server():
    server = _forkserver.ForkServer(dict(os.environ))
    yield server
    server.close()


def test_a_child_ends_when_its_stdin_closes_and_its_exit_code_comes_back(server):
    child = server.spawn(dict(os.environ), os.getcwd())
    child.stdin.close()  # the worker's loop reads EOF and returns
    assert child.wait(10) == 0
    assert child.pid is not None and not psutil.pid_exists(child.pid) or psutil.Process(child.pid).status() == "zombie"


def test_kill_gives_the_signal_as_a_negative_exit_code(server):
    child = server.spawn(dict(os.environ), os.getcwd())
    child.kill()
    assert child.wait(10) == -signal.SIGKILL
    assert child.poll() == -signal.SIGKILL


def test_wait_times_out_like_popen(server):
    child = server.spawn(dict(os.environ), os.getcwd())
    with pytest.raises(subprocess.TimeoutExpired):
        child.wait(0.2)
    child.kill()
    child.wait(10)


def test_children_are_forked_by_the_server_in_their_own_session(server):
    child = server.spawn(dict(os.environ), os.getcwd())
    child.poll()
    while child.pid is None:
        server.pump(1)
    process = psutil.Process(child.pid)
    assert process.ppid() == server._process.pid
    deadline = time.monotonic() + 5
    while os.getsid(child.pid) != child.pid and time.monotonic() < deadline:  # it calls setsid() once forked
        time.sleep(0.01)
    assert os.getsid(child.pid) == child.pid  # a Ctrl-C in the terminal does not reach it
    child.stdin.close()
    child.wait(10)


def test_when_the_server_dies_its_children_die_and_report_it(server):
    child = server.spawn(dict(os.environ), os.getcwd())
    while child.pid is None:
        server.pump(1)
    server._process.kill()
    assert child.wait(10) == -signal.SIGKILL
    assert not server.alive
    psutil.wait_procs([psutil.Process(child.pid)], timeout=5) if psutil.pid_exists(child.pid) else None
    assert not psutil.pid_exists(child.pid) or psutil.Process(child.pid).status() == "zombie"
    late = server.spawn(dict(os.environ), os.getcwd())  # asking a dead server is not an error
    assert late.poll() == -signal.SIGKILL


def env_and_cwd(config):
    return {"flag": os.environ.get("TUNESMITH_TEST_FLAG", ""), "cwd": os.getcwd(),
            "cuda": os.environ.get("CUDA_VISIBLE_DEVICES")}


def test_a_forked_trial_sees_the_drivers_environment_and_its_gpu(run, monkeypatch, tmp_path):
    monkeypatch.setenv("TUNESMITH_TEST_FLAG", "forked")
    monkeypatch.setenv("RAY_CHDIR_TO_TRIAL_DIR", "0")
    monkeypatch.chdir(tmp_path)
    metrics = run(tune.with_resources(env_and_cwd, {"cpu": 1, "gpu": 1}),
                  executor=LocalExecutor(num_cpus=2, num_gpus=2))[0].metrics
    assert metrics["flag"] == "forked"
    assert metrics["cwd"] == str(tmp_path)
    assert metrics["cuda"] in ("0", "1")


def test_the_executor_replaces_a_fork_server_that_was_killed(run):
    executor = LocalExecutor(num_cpus=2)
    try:
        executor.keep_warm = True
        first = run(env_and_cwd, executor=executor)
        assert first[0].error is None
        executor.pool._template._process.kill()
        executor.pool._template._process.wait()
        second = run(env_and_cwd, executor=executor)
        assert second[0].error is None
    finally:
        executor.close()


def test_no_fork_server_outlives_its_executor(run):
    others = set(_fork_servers())  # e.g. the templates of another test's in-process Dask workers
    executor = LocalExecutor(num_cpus=2)
    run(env_and_cwd, executor=executor)
    assert executor.pool._template is None  # a user's executor keeps nothing after its experiment
    servers = [p for p in _fork_servers() if p not in others]
    gone, alive = psutil.wait_procs(servers, timeout=5)
    assert not alive


def _fork_servers() -> list[psutil.Process]:
    return [p for p in psutil.Process().children() if "_forkserver" in _command_line(p)]


def _command_line(process: psutil.Process) -> str:
    """A child's command line; "" for one that is gone or a zombie (another test's Dask
    cluster can leave one behind until it is reaped)."""
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def test_the_command_line_runs_the_server(tmp_path):
    """The server's module is importable on its own (what its command runs first)."""
    out = subprocess.run([sys.executable, "-c", "import tunesmith.execution._forkserver as f; print(f.available())"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


@pytest.mark.slow
def test_a_burst_of_spawns_waits_for_the_server_instead_of_counting_children_as_killed(server):
    server.pump(0)  # as the executor does between launches
    children = [server.spawn(dict(os.environ), os.getcwd()) for _ in range(300)]  # no pump in between
    try:
        assert [c.returncode for c in children if c.returncode is not None] == []
    finally:
        for child in children:
            child.stdin.close()
    assert {child.wait(60) for child in children} == {0}


def test_the_executor_reads_the_fork_servers_exit_codes_once_per_poll_however_many_trials_run(run, monkeypatch):
    pumps_in_poll, busy_in_poll, polling = [], [], []
    real_poll, real_pump = LocalExecutor.poll, _forkserver.ForkServer.pump

    def poll(self):
        polling.append(True)
        pumped_before = len(pumps_in_poll)
        busy = len(self._busy)
        try:
            return real_poll(self)
        finally:
            polling.pop()
            busy_in_poll.append((busy, len(pumps_in_poll) - pumped_before))

    def pump(self, timeout):
        if polling:
            pumps_in_poll.append(timeout)
        return real_pump(self, timeout)

    monkeypatch.setattr(LocalExecutor, "poll", poll)
    monkeypatch.setattr(_forkserver.ForkServer, "pump", pump)

    def train(config):
        time.sleep(1.0)
        if config["i"] == 0:
            os._exit(3)  # its exit code still comes back through the fork server
        return {"ok": 1}

    results = run(tune.with_resources(train, {"cpu": 0.1}), {"i": tune.grid_search(list(range(10)))},
                  executor=LocalExecutor(num_cpus=1))
    assert results.num_errors == 1 and "exited with code 3" in str(results.errors[0])
    assert max(busy for busy, _ in busy_in_poll) >= 5  # it polled while many trials ran
    assert all(pumps <= 1 for _, pumps in busy_in_poll)


_BARE_FORK = """
import json, os, random, sys, threading
from tunesmith.execution._forkserver import fork
if sys.argv[1] == "thread":
    threading.Thread(target=threading.Event().wait, daemon=True).start()
r, w = os.pipe()
pid = fork(bare=True, with_parent=False)
if pid == 0:
    os.write(w, json.dumps([random.random(), threading.active_count()]).encode())
    os._exit(0)
os.close(w)
child_draw, child_threads = json.loads(os.read(r, 1000))
os.waitpid(pid, 0)
print(json.dumps({"same_draw": child_draw == random.random(), "child_threads": child_threads}))
"""


@pytest.mark.parametrize("threads", ["none", "thread"])
def test_a_bare_fork_reseeds_random_and_falls_back_to_os_fork_with_another_thread(threads):
    """Without Python's after-fork work the child still draws its own numbers; a process
    with another thread gets os.fork, whose after-fork work leaves the child one thread."""
    out = subprocess.run([sys.executable, "-c", _BARE_FORK, threads], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert json.loads(out) == {"same_draw": False, "child_threads": 1}
