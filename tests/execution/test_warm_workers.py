"""Local worker processes: started by ``tunesmith.init``, warm across experiments, and
replaced when the driver's environment changes."""

import time

import psutil

import tunesmith as tune


def pid_and_env(config):
    import os

    return {"pid": os.getpid(), "ppid": os.getppid(), "flag": os.environ.get("TUNESMITH_TEST_FLAG", "")}


def _workers():
    """Worker processes: started with Popen (their command names the worker module), or
    forked by the fork server (children of a process whose command names it)."""
    me = psutil.Process()
    found = set()
    for process in me.children(recursive=True):
        try:
            command = " ".join(process.cmdline())
            forked = "_forkserver" in command and process.ppid() != me.pid
        except psutil.NoSuchProcess:
            continue
        if "tunesmith.execution._worker" in command or forked:
            found.add(process.pid)
    return found


def _new_workers(earlier, count):
    """The workers started since ``earlier``, once there are ``count`` (forks finish soon after init)."""
    deadline = time.monotonic() + 10
    while len(_workers() - earlier) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return _workers() - earlier


def test_init_starts_workers_that_later_experiments_reuse(run):
    earlier = _workers()
    tune.init(num_cpus=1)
    started = _new_workers(earlier, 1)
    assert len(started) == 1  # before any experiment
    first = run(pid_and_env)[0].metrics
    second = run(pid_and_env)[0].metrics
    assert first["ppid"] == second["ppid"] and first["ppid"] in started
    assert first["pid"] != second["pid"]  # each trial in a child the worker forks for it


def test_reuse_actors_runs_trials_in_the_worker_itself(run):
    tune.init(num_cpus=1)
    first = run(pid_and_env, reuse_actors=True)[0].metrics["pid"]
    second = run(pid_and_env, reuse_actors=True)[0].metrics["pid"]
    assert first == second


def test_a_changed_environment_gets_new_workers(run, monkeypatch):
    tune.init(num_cpus=1)
    before = run(pid_and_env)[0].metrics
    monkeypatch.setenv("TUNESMITH_TEST_FLAG", "on")
    after = run(pid_and_env)[0].metrics
    assert after["flag"] == "on" and after["ppid"] != before["ppid"]
    assert not psutil.pid_exists(before["ppid"]) or psutil.Process(before["ppid"]).status() == psutil.STATUS_ZOMBIE


def test_the_drivers_import_path_reaches_a_warm_worker(run, tmp_path, monkeypatch):
    tune.init(num_cpus=1)
    run(pid_and_env)  # the worker is warm now
    (tmp_path / "late_module.py").write_text("VALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    def uses_late_module(config):
        import late_module

        return {"value": late_module.VALUE}

    assert run(uses_late_module)[0].metrics["value"] == 42


def test_shutdown_stops_the_workers(run):
    earlier = _workers()
    tune.init(num_cpus=2)
    run(pid_and_env)
    workers = _workers() - earlier
    assert workers
    tune.shutdown()
    gone, alive = psutil.wait_procs([psutil.Process(p) for p in workers if psutil.pid_exists(p)], timeout=5)
    assert not alive


def test_an_executor_the_user_made_keeps_no_workers_after_its_experiment(run):
    from tunesmith.execution import LocalExecutor

    earlier = _workers()
    run(pid_and_env, executor=LocalExecutor(num_cpus=2))
    left = [psutil.Process(p) for p in _workers() - earlier if psutil.pid_exists(p)]
    gone, alive = psutil.wait_procs(left, timeout=5)
    assert not alive
