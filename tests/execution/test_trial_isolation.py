"""Each trial runs in a process no earlier trial ran in, unless ``reuse_actors=True``
(Ray Tune's fresh actor per trial); a trial's stdin is /dev/null."""

import os
import threading
import time

import pytest

import tunesmith as tune

_SEEN: list[int] = []  # a module global each trial appends its index to


def leaky(config):
    """Leaves a module global, an environment variable and a thread that reports during the next trial."""
    _SEEN.append(config["i"])
    earlier_env = os.environ.get("TUNESMITH_TEST_LEAK")
    os.environ["TUNESMITH_TEST_LEAK"] = str(config["i"])
    folder = config["folder"]
    if config["i"] == 0:
        def late_report():
            if _wait_for(os.path.join(folder, "second_started"), 60):
                try:
                    tune.report({"stray": 1})
                except Exception:
                    pass
            open(os.path.join(folder, "stray_reported"), "w").close()

        threading.Thread(target=late_report).start()
    else:
        open(os.path.join(folder, "second_started"), "w").close()
        _wait_for(os.path.join(folder, "stray_reported"), 3)  # a live stray thread reports meanwhile
    return {"seen": list(_SEEN), "env": earlier_env, "pid": os.getpid()}


def _wait_for(path, seconds):
    deadline = time.monotonic() + seconds
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


class LeakyClass(tune.Trainable):
    def setup(self, config):
        self.config_ = config

    def step(self):
        return dict(leaky(self.config_), done=True)

    def reset_config(self, new_config):
        self.config_ = new_config
        return True


def _rows(results):
    return [r.metrics for r in sorted(results, key=lambda r: r.config["i"])]


@pytest.mark.parametrize("trainable", [leaky, LeakyClass])
def test_a_trial_does_not_see_what_the_trial_before_it_left(run, tmp_path, trainable):
    tune.init(num_cpus=1)
    first, second = _rows(run(trainable, {"i": tune.grid_search([0, 1]), "folder": str(tmp_path)}))
    assert first["seen"] == [0] and second["seen"] == [1]
    assert second["env"] is None
    assert "stray" not in second and first["pid"] != second["pid"]


@pytest.mark.parametrize("trainable", [leaky, LeakyClass])
def test_reuse_actors_runs_the_next_trial_in_the_same_process(run, tmp_path, trainable):
    tune.init(num_cpus=1)
    first, second = _rows(run(trainable, {"i": tune.grid_search([0, 1]), "folder": str(tmp_path)}, reuse_actors=True))
    assert first["pid"] == second["pid"]
    assert second["seen"] == [0, 1] and second["env"] == "0"


def reads_stdin(config):
    try:
        line = input()
    except EOFError:
        return {"stdin": "eof"}
    return {"stdin": line}


def test_input_in_a_trial_raises_eoferror_at_once(run):
    start = time.monotonic()
    (result,) = run(reads_stdin)
    assert result.metrics["stdin"] == "eof"
    assert time.monotonic() - start < 60  # a trial blocked on the control pipe would never end


@pytest.mark.parametrize("reuse", [False, True])
def test_a_stray_thread_does_not_keep_a_finished_process_alive(run, reuse):
    import psutil

    tune.init(num_cpus=1)

    results = run(_sleeper_thread, {"i": tune.grid_search([0, 1])}, reuse_actors=reuse)
    pids = {r.metrics["pid"] for r in results}
    tune.shutdown()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in pids), psutil.pids()


def _sleeper_thread(config):
    threading.Thread(target=time.sleep, args=(3600,)).start()  # not a daemon
    return {"pid": os.getpid()}


def _alive(pid):
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _gc_state(config):
    import gc

    return {"frozen": gc.get_freeze_count(), "pid": os.getpid(), "ppid": os.getppid()}


def test_a_trials_collections_skip_what_its_worker_holds_and_the_worker_stays_unfrozen(run):
    tune.init(num_cpus=1)
    (fresh,) = run(_gc_state)
    (reused,) = run(_gc_state, run_config={"name": "again"}, reuse_actors=True)
    assert fresh.metrics["frozen"] > 0  # a full collection in the child copies none of the worker's pages
    assert reused.metrics["pid"] == fresh.metrics["ppid"] and reused.metrics["frozen"] == 0



class Counting:
    """A trainable that leaves a file named after each process that unpickles it, and
    counts its calls on itself (state a trial could leave for the next)."""

    def __init__(self, folder):
        self.folder = folder
        self.calls = 0

    def __setstate__(self, state):
        self.__dict__.update(state)
        with open(os.path.join(self.folder, f"unpickled-{os.getpid()}"), "w"):
            pass

    def __call__(self, config):
        self.calls += 1
        return {"calls": self.calls, "pid": os.getpid(), "ppid": os.getppid()}


@pytest.mark.parametrize("reuse", [False, True])
def test_each_trial_unpickles_the_trainable_in_its_own_process(run, tmp_path, reuse):
    """Not in the worker before the fork: what unpickling does (importing the trainable's
    modules, which may seed a random generator at import) happens anew for each trial,
    as in Ray Tune's fresh actor. With reuse_actors the worker unpickles it once."""
    tune.init(num_cpus=1)
    folder = tmp_path / "marks"
    folder.mkdir()
    rows = _rows(run(Counting(str(folder)), {"i": tune.grid_search([0, 1, 2, 3])}, reuse_actors=reuse))
    unpickled = sorted(os.listdir(folder))
    if reuse:
        assert unpickled == [f"unpickled-{rows[0]['pid']}"]
        assert [r["calls"] for r in rows] == [1, 2, 3, 4]
    else:
        assert unpickled == sorted(f"unpickled-{r['pid']}" for r in rows) and len(unpickled) == 4
        assert [r["calls"] for r in rows] == [1, 1, 1, 1]


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc (Linux)")
def test_a_worker_forks_each_trial_with_no_other_thread(run):
    """The worker beats for its child from its wait loop, not from a thread, so the child
    is forked from a single-threaded process (see _forkserver.fork)."""
    def train(config):
        return {"worker_threads": len(os.listdir(f"/proc/{os.getppid()}/task"))}

    results = run(train, {"i": tune.grid_search([0, 1, 2])})
    assert [r.metrics["worker_threads"] for r in results] == [1, 1, 1]


def draws(config):
    import random

    import numpy as np

    return {"random": random.random(), "numpy": float(np.random.rand())}


@pytest.mark.parametrize("reuse", [False, True])
def test_each_trial_draws_its_own_random_numbers(run, reuse):
    """The worker has ``random`` imported before it forks; each child still draws its own
    numbers (Python's after-fork reseed, done by hand where the fork skips it)."""
    tune.init(num_cpus=1)  # one worker forks every trial
    rows = _rows(run(draws, {"i": tune.grid_search([0, 1, 2, 3])}, reuse_actors=reuse))
    assert len({r["random"] for r in rows}) == 4 and len({r["numpy"] for r in rows}) == 4


def _uses_the_runtime(config):
    """Threads, a thread pool, a subprocess, a signal handler, a fork-based multiprocessing pool."""
    import concurrent.futures
    import multiprocessing
    import signal
    import subprocess

    seen = []
    thread = threading.Thread(target=lambda: seen.append(threading.current_thread() is not threading.main_thread()))
    thread.start()
    thread.join()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        squares = sum(pool.map(lambda x: x * x, range(10)))
    echoed = subprocess.run(["echo", "hi"], capture_output=True, text=True, check=True).stdout.strip()
    caught = []
    signal.signal(signal.SIGUSR1, lambda *_: caught.append(1))
    os.kill(os.getpid(), signal.SIGUSR1)
    with multiprocessing.get_context("fork").Pool(2) as processes:
        total = sum(processes.map(abs, [-1, -2, -3]))
    return {"thread": seen == [True], "squares": squares, "echoed": echoed == "hi", "caught": len(caught),
            "processes": total, "main": threading.current_thread() is threading.main_thread()}


def test_a_trial_in_a_forked_child_can_use_threads_subprocesses_signals_and_multiprocessing(run):
    """The child is forked without Python's after-fork work where the worker allows it (one
    thread, no trial code run): the runtime must still be whole in it."""
    results = run(_uses_the_runtime, {"i": tune.grid_search([0, 1])})
    assert results.num_errors == 0, [r.error for r in results]
    for result in results:
        assert {k: result.metrics[k] for k in ("thread", "squares", "echoed", "caught", "processes", "main")} == {
            "thread": True, "squares": 285, "echoed": True, "caught": 1, "processes": 6, "main": True}
