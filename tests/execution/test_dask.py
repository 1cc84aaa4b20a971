"""DaskExecutor on a real Dask cluster: a scheduler and 3 workers on 127.0.0.1."""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import psutil
import pytest

import tunesmith as tune
from tunesmith.error import StorageError, TuneError

distributed = pytest.importorskip("distributed")

from dask_cli_cluster import CliCluster  # noqa: E402

from tunesmith.execution import DaskExecutor, LocalExecutor  # noqa: E402

WORKER_DEVICES = {"w0": "10,11", "w1": "20,21", "w2": "30,31"}  # as in conftest.py


@pytest.fixture(scope="module")
def cluster(dask_cluster):
    return dask_cluster


@pytest.fixture(scope="module")
def executor(cluster):
    dask = DaskExecutor(cluster.address)
    yield dask
    dask.close()


def _engine_pid():
    """The Dask worker this trial runs under (each attempt runs in a child of a trial process)."""
    process = psutil.Process(os.getppid())
    while any(m in " ".join(process.cmdline()) for m in ("tunesmith.execution._worker", "tunesmith.execution._forkserver")):
        process = process.parent()  # past the trial process and the template it was forked from
    return process.pid


def _worker_devices(pid):
    return psutil.Process(pid).environ().get("CUDA_VISIBLE_DEVICES", "")


def test_trials_spread_over_workers_and_never_overcommit_one(run, executor):
    def train(config):
        start = time.time()
        time.sleep(0.3)
        return {"worker_pid": _engine_pid(), "start": start, "end": time.time()}

    results = run(train, {"i": tune.grid_search(list(range(9)))}, executor=executor)
    assert results.num_errors == 0
    spans = {}
    for result in results:
        spans.setdefault(result.metrics["worker_pid"], []).append((result.metrics["start"], result.metrics["end"]))
    assert len(spans) == 3  # every worker got trials
    for intervals in spans.values():  # CPU=1 each: never two trials at once on one worker
        intervals.sort()
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(intervals, intervals[1:]))


def test_polling_looks_at_the_attempts_that_ended_not_at_every_running_one(run, executor, monkeypatch):
    """Each loop step polls the executor; with 1,000 running attempts a look at each per step
    was a fifth of the driver's CPU. Ended tasks are queued by their done-callbacks, and every
    attempt is looked at only when the workers are refreshed (once a second)."""
    calls = {"poll": 0, "exited": 0, "refresh": 0}
    poll, exited, refresh = DaskExecutor.poll, DaskExecutor._exited, DaskExecutor._refresh_nodes

    def counting_poll(self):
        calls["poll"] += 1
        return poll(self)

    def counting_exited(self, handle):
        calls["exited"] += 1
        return exited(self, handle)

    def counting_refresh(self, force=False):
        did = refresh(self, force)
        calls["refresh"] += did
        return did

    monkeypatch.setattr(DaskExecutor, "poll", counting_poll)
    monkeypatch.setattr(DaskExecutor, "_exited", counting_exited)
    monkeypatch.setattr(DaskExecutor, "_refresh_nodes", counting_refresh)

    def train(config):
        for i in range(40):
            time.sleep(0.01)
            tune.report({"i": i})

    results = run(train, {"t": tune.grid_search(list(range(6)))}, executor=executor,
                  run_config={"stop": {"i": 1000}})  # a stopper: every report is a loop step
    assert results.num_errors == 0
    assert calls["poll"] > 100, calls
    assert calls["exited"] <= 3 * calls["refresh"], calls  # 3 workers of 1 CPU: at most 3 running


def test_fractional_and_whole_gpus_get_the_workers_device_ids(run, executor):
    def train(config):
        time.sleep(0.4)
        return {"cuda": os.environ["CUDA_VISIBLE_DEVICES"], "worker_pid": _engine_pid()}

    halves = run(tune.with_resources(train, {"cpu": 0, "gpu": 0.5}), {"i": tune.grid_search(list(range(12)))},
                 executor=executor, run_config={"name": "halves"})
    per_device = {}
    for result in halves:
        devices = _worker_devices(result.metrics["worker_pid"]).split(",")
        assert result.metrics["cuda"] in devices  # one of that worker's own devices
        key = (result.metrics["worker_pid"], result.metrics["cuda"])
        per_device[key] = per_device.get(key, 0) + 1
    assert len(per_device) == 6 and set(per_device.values()) == {2}  # 12 halves: two on each of 6 devices

    whole = run(tune.with_resources(train, {"cpu": 0, "gpu": 2}), {"i": tune.grid_search(list(range(3)))},
                executor=executor, run_config={"name": "whole"})
    assert sorted(r.metrics["cuda"] for r in whole) == sorted(WORKER_DEVICES.values())


def test_asha_stops_trials_promptly(run, executor):
    from tunesmith.schedulers import ASHAScheduler

    def train(config):
        for step in range(1, 17):
            time.sleep(0.01)
            tune.report({"score": config["q"] * step})

    results = run(train, {"q": tune.grid_search([6, 5, 4, 3, 2, 1])}, executor=executor, metric="score", mode="max",
                  scheduler=ASHAScheduler(max_t=16, grace_period=1, reduction_factor=2, seed=0))
    iterations = sorted(r.metrics["training_iteration"] for r in results)
    assert iterations[-1] == 16 and iterations[0] < 16  # the best ran to the end, others were cut
    # stopped at the report where ASHA decided, on a rung: no report ran past the decision
    assert set(iterations) <= {1, 2, 4, 8, 16}


def test_init_address_selects_dask_and_init_again_goes_back_to_local(cluster, run):
    executor = tune.init(address=cluster.address)
    assert isinstance(executor, DaskExecutor)
    results = run(lambda config: {"worker_pid": _engine_pid()}, {"i": tune.grid_search([0, 1])})
    assert results.num_errors == 0 and os.getpid() not in {r.metrics["worker_pid"] for r in results}
    client = executor.client
    assert isinstance(tune.init(), LocalExecutor)  # replaces (and closes) the Dask executor
    assert client.status == "closed"
    tune.shutdown()


def test_a_users_client_is_used_and_left_open(cluster, run):
    with distributed.Client(cluster.address, set_as_default=False) as client:
        executor = DaskExecutor(client)
        results = run(lambda config: {"ok": 1}, executor=executor)
        executor.close()
        assert results.num_errors == 0 and client.status == "running"


def test_local_cluster_quick_start(run):
    executor = DaskExecutor.local(n_workers=2, gpus_per_worker=1)
    try:
        results = run(tune.with_resources(lambda config: {"cuda": os.environ["CUDA_VISIBLE_DEVICES"]},
                                          {"cpu": 1, "gpu": 1}), {"i": tune.grid_search([0, 1])}, executor=executor)
        assert sorted(r.metrics["cuda"] for r in results) in (["0", "1"], ["0", "0"], ["1", "1"])
        assert not executor.spans_hosts()
    finally:
        executor.close()


def _ancestry(config):
    """Wait until every trial of the run has started (so each holds its own trial process), then
    report this attempt's trial process, the template it came from and that one's parent."""
    folder, count = config["folder"], config["count"]
    open(os.path.join(folder, str(config["i"])), "w").close()
    deadline = time.time() + 60
    while len(os.listdir(folder)) < count and time.time() < deadline:
        time.sleep(0.05)
    process = psutil.Process(os.getppid())
    template = process.parent()
    return {"process": process.pid, "process_cmdline": process.cmdline(), "template": template.pid,
            "template_cmdline": template.cmdline(), "template_parent": template.ppid(),
            "all_started": len(os.listdir(folder)) >= count}


def test_concurrent_attempts_on_a_worker_are_forks_of_one_template_not_new_pythons(run, tmp_path):
    executor = DaskExecutor.local(n_workers=1, cpus_per_worker=4)  # the worker is a thread of this process
    try:
        results = run(tune.with_resources(_ancestry, {"cpu": 1}),
                      {"i": tune.grid_search(list(range(4))), "folder": str(tmp_path), "count": 4}, executor=executor)
    finally:
        executor.close()
    rows = [r.metrics for r in results]
    assert not psutil.pid_exists(rows[0]["template"])  # closing the cluster ended it
    assert results.num_errors == 0 and all(row["all_started"] for row in rows)
    assert len({row["process"] for row in rows}) == 4  # four trial processes at once
    assert len({row["template"] for row in rows}) == 1  # all forked from one template...
    template = rows[0]
    assert template["template_parent"] == os.getpid()  # ...which the Dask worker started
    assert "tunesmith.execution._forkserver" in " ".join(template["template_cmdline"])
    # A trial process started as a new Python would run `-c "...tunesmith.execution._worker..."`.
    assert all(row["process_cmdline"] == template["template_cmdline"] for row in rows)


# -- bad input ----------------------------------------------------------------------------------------
def test_unreachable_scheduler_is_a_clear_error_within_the_timeout():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    start = time.monotonic()
    with pytest.raises(TuneError, match=rf"cannot reach the Dask scheduler at tcp://127.0.0.1:{port} within 1 s"):
        DaskExecutor(f"tcp://127.0.0.1:{port}", timeout_s=1)
    assert time.monotonic() - start < 10


def test_a_resource_no_worker_has_fails_at_once_listing_the_workers(run, executor):
    start = time.monotonic()
    with pytest.raises(TuneError, match=r"gpu=3 but no worker has that much; the workers have tcp://127.0.0.1:\d+: "
                                        r"cpu=1 gpu=2.*start Dask workers that have it, e.g. `dask worker"):
        run(tune.with_resources(lambda config: None, {"cpu": 1, "gpu": 3}), executor=executor)
    assert time.monotonic() - start < 5


def test_a_driver_the_workers_cannot_reach_names_the_address_and_the_setting(executor):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(TuneError, match=rf"cannot reach the driver at {closed} .*TUNESMITH_DRIVER_HOST"):
        executor.start(closed, "token")
    executor.shutdown()


@pytest.mark.parametrize("module, address, extra", [("distributed", "tcp://127.0.0.1:1", "dask"),
                                                     ("ray", "auto", "ray")])
def test_missing_extra_names_the_pip_command(module, address, extra):
    code = (f"import sys; sys.modules[{module!r}] = None\nimport tunesmith\n"
            f"try:\n    tunesmith.init(address={address!r})\nexcept ImportError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert f'pip install "tunesmith[{extra}]"' in out


def test_local_storage_on_other_hosts_fails_before_any_trial(run, executor, tmp_path):
    class OtherHosts(DaskExecutor):  # what a cluster on other machines looks like to the check
        def spans_hosts(self):
            return True

        def hosts_without(self, path):
            return ["node-7"] if os.path.exists(path) else ["the marker was never written"]

    other = OtherHosts(executor.client)
    with pytest.raises(StorageError, match=r"\(node-7\) that cannot see the storage path .*s3://"):
        run(lambda config: None, executor=other)
    assert not executor.spans_hosts()  # all workers on 127.0.0.1, like the driver
    assert executor.hosts_without(str(tmp_path)) == []  # and they see the driver's folders


# -- workers joining and failing ----------------------------------------------------------------------
@pytest.mark.slow
def test_a_worker_that_joins_mid_run_gets_trials(cluster, run, executor, tmp_path):
    joined = tmp_path / "joined"

    def add_worker_and_say_when_it_joined():
        cluster.add_worker("late", "CPU=1")
        executor.client.wait_for_workers(len(WORKER_DEVICES) + 1, timeout=120)
        joined.write_text("yes")

    class StartLateWorker(tune.Callback):
        def on_trial_start(self, iteration, trials, trial, **info):
            if not hasattr(self, "thread"):
                self.thread = threading.Thread(target=add_worker_and_say_when_it_joined)
                self.thread.start()

    def train(config):
        deadline = time.time() + 120
        while not joined.exists() and time.time() < deadline:  # the first trials hold on until it joins
            time.sleep(0.1)
        time.sleep(1.0)
        return {"worker": _engine_pid()}

    try:
        results = run(train, {"i": tune.grid_search(list(range(12)))}, executor=executor,
                      run_config={"callbacks": [StartLateWorker()]})
        pids = cluster.worker_pids(executor.client)
        assert results.num_errors == 0
        assert pids["late"] in {r.metrics["worker"] for r in results}
    finally:
        cluster.stop_worker("late")


def _counting_trainable(config):
    """15 steps 0.15 s apart; a checkpoint at each; resumes after its checkpoint's step."""
    checkpoint = tune.get_checkpoint()
    step = 0
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            step = json.load(open(os.path.join(folder, "step.json")))["step"]
    while step < 15:
        step += 1
        time.sleep(0.15)
        folder = tempfile.mkdtemp()
        json.dump({"step": step}, open(os.path.join(folder, "step.json"), "w"))
        tune.report({"step": step, "pid": os.getpid(), "worker": _engine_pid()},
                    checkpoint=tune.Checkpoint.from_directory(folder))


@pytest.mark.slow
def test_chaos_a_killed_and_a_hung_worker_lose_no_trial_and_duplicate_no_row(tmp_path, run):
    cli = CliCluster(str(tmp_path / "chaos"))
    try:
        for name in ("c0", "c1", "c2", "c3"):  # one more worker than trials: a retry can always move
            cli.add_worker(name, "CPU=1")
        executor = DaskExecutor(cli.address, heartbeat_timeout_s=3, min_workers=4, timeout_s=60)
        chaos = _Chaos(hang_s=6)
        try:
            results = run(_counting_trainable, {"i": tune.grid_search(list(range(3)))}, executor=executor,
                          run_config={"callbacks": [chaos], "failure_config": tune.FailureConfig(max_failures=3)})
        finally:
            chaos.wake.wait(30)
            executor.close()
        assert chaos.killed and chaos.hung, "the chaos never happened"
        assert results.num_errors == 0 and all(r.metrics["step"] == 15 for r in results)
        for result in results:
            rows = [json.loads(line) for line in open(os.path.join(result.path, "result.json"))]
            steps = [row["step"] for row in rows]
            assert steps == list(range(1, 16)), f"{result.path}: rows {steps}"  # none lost, none twice
        for victim, at_step in (chaos.killed, chaos.hung):
            rows = [json.loads(line) for line in open(os.path.join(victim, "result.json"))]
            assert len({row["pid"] for row in rows}) == 2  # retried once, in a new process...
            retry = [row for row in rows if row["pid"] != rows[0]["pid"]]
            assert retry[0]["step"] > 1  # ...from its checkpoint, not from the start
            assert retry[0]["worker"] != rows[0]["worker"]  # ...on another worker
        # the hung trial woke up to a closed connection: fenced, it sent nothing more and ended
        assert psutil.wait_procs([chaos.stale], timeout=15)[1] == []
        hung_rows = [json.loads(line) for line in open(os.path.join(chaos.hung[0], "result.json"))]
        assert [row["step"] for row in hung_rows if row["pid"] == chaos.stale.pid] == [1, 2, 3]
    finally:
        cli.close()


class _Chaos(tune.Callback):
    """At step 3 SIGKILLs one trial's worker; at step 3 of another, SIGSTOPs a second worker (and its trial)."""

    def __init__(self, hang_s):
        self.hang_s = hang_s
        self.killed = self.hung = None
        self.stale = None
        self.wake = threading.Event()

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if result["step"] != 3:
            return
        if self.killed is None:
            os.kill(result["worker"], signal.SIGKILL)
            self.killed = (trial.path, 3)
        elif self.hung is None and result["worker"] != self._killed_worker(trials):
            worker = psutil.Process(result["worker"])
            self.stale = psutil.Process(result["pid"])
            frozen = [worker] + worker.children(recursive=True)
            for process in frozen:
                process.send_signal(signal.SIGSTOP)
            self.hung = (trial.path, 3)
            threading.Timer(self.hang_s, self._resume, [frozen]).start()

    def _killed_worker(self, trials):
        rows = [json.loads(line) for line in open(os.path.join(self.killed[0], "result.json"))]
        return rows[0]["worker"]

    def _resume(self, frozen):
        for process in frozen:
            try:
                process.send_signal(signal.SIGCONT)
            except psutil.NoSuchProcess:
                pass
        self.wake.set()


def _pbt_trainable(config):
    """12 steps; a checkpoint at each; resumes after its checkpoint's step (its own or a donor's)."""
    checkpoint = tune.get_checkpoint()
    step, score = 0, 0.0
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            state = json.load(open(os.path.join(folder, "state.json")))
            step, score = state["step"], state["score"]
    while step < 12:
        step += 1
        score += config["lr"]
        time.sleep(0.1)
        folder = tempfile.mkdtemp()
        json.dump({"step": step, "score": score}, open(os.path.join(folder, "state.json"), "w"))
        tune.report({"score": score, "step": step, "pid": os.getpid(), "worker": _engine_pid()},
                    checkpoint=tune.Checkpoint.from_directory(folder))


@pytest.mark.slow
def test_pbt_pause_and_resume_moves_trials_between_workers_through_shared_storage(run, executor):
    from tunesmith.schedulers import PopulationBasedTraining

    pbt = PopulationBasedTraining(time_attr="training_iteration", perturbation_interval=3,
                                  hyperparam_mutations={"lr": tune.uniform(0.1, 2.0)}, seed=0)
    results = run(_pbt_trainable, {"lr": tune.grid_search([0.1, 0.5, 1.0, 2.0])}, executor=executor,
                  metric="score", mode="max", scheduler=pbt)
    assert results.num_errors == 0 and all(r.metrics["step"] == 12 for r in results)
    journal = [json.loads(line) for line in open(os.path.join(results.experiment_path, "journal.jsonl"))]
    paused = {e["trial_id"] for e in journal if e.get("event") == "trial_paused"}
    assert paused, "PBT paused no trial"
    moved = 0
    for result in results:
        rows = [json.loads(line) for line in open(os.path.join(result.path, "result.json"))]
        attempts = [[row for row in rows if row["pid"] == pid] for pid in dict.fromkeys(row["pid"] for row in rows)]
        for before, after in zip(attempts, attempts[1:]):
            assert after[0]["step"] > 1  # resumed from a checkpoint, never from the start
            moved += after[0]["worker"] != before[-1]["worker"]
    assert moved >= 1, "no paused trial resumed on another worker"


def test_trials_no_worker_can_run_warn_once_then_end_the_experiment(run, caplog):
    local = distributed.LocalCluster(n_workers=1, processes=False, threads_per_worker=1, protocol="tcp://",
                                     host="127.0.0.1", dashboard_address="127.0.0.1:0", resources={"CPU": 1.0},
                                     memory_limit=0)
    client = distributed.Client(local, set_as_default=False)
    executor = DaskExecutor(client, heartbeat_timeout_s=1, pending_timeout_s=4)

    class EveryWorkerLeaves(tune.Callback):
        def on_trial_start(self, iteration, trials, trial, **info):
            if not hasattr(self, "thread"):
                self.thread = threading.Thread(target=local.scale, args=(0,))
                self.thread.start()

    def train(config):
        time.sleep(30)

    start = time.monotonic()
    try:
        with pytest.raises(TuneError, match=r"waited \d+ s with no Dask worker able to run it: .*no workers"):
            run(train, {"i": tune.grid_search([0, 1, 2])}, executor=executor,
                run_config={"callbacks": [EveryWorkerLeaves()], "failure_config": tune.FailureConfig(max_failures=1)})
        assert time.monotonic() - start < 60
        warned = [r for r in caplog.records if "no Dask worker can run them" in r.getMessage()]
        assert len(warned) == 1
    finally:
        executor.close()
        client.close()
        local.close()


@pytest.mark.parametrize("value", [0, -1.0, float("nan")])
def test_pending_timeout_must_be_positive(value):
    with pytest.raises(ValueError, match="pending_timeout_s must be > 0 seconds"):
        DaskExecutor.local(1, pending_timeout_s=value)
