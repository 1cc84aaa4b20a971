"""RayExecutor on a local Ray (``ray.init(num_cpus=2)``, kept on 127.0.0.1)."""

import os

import pytest

import tunesmith as tune

# Ray reads this when it is imported: without it, even a local Ray binds its processes (and
# so the driver's TrialServer) to the host's LAN address instead of 127.0.0.1.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
ray = pytest.importorskip("ray")

# Ray starts a worker process per actor (about 1 s each, much more on a loaded machine).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def local_ray():
    from ray._private import ray_constants

    if ray_constants.ENABLE_RAY_CLUSTER:
        pytest.skip("Ray was imported before RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 was set; it would leave 127.0.0.1")
    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False)
    try:
        assert ray.util.get_node_ip_address() == "127.0.0.1"
        yield
    finally:
        ray.shutdown()


def test_ray_executor_contract(tmp_path, local_ray):
    from tunesmith.execution import RayExecutor
    from tunesmith.testing import check_executor

    check_executor(lambda: RayExecutor(), tmp_path)


def test_tuner_on_ray_reuses_runner_actors(run, local_ray):
    from tunesmith.execution import RayExecutor

    executor = RayExecutor(heartbeat_timeout_s=300)  # a loaded machine may take long to start an actor
    try:
        def train(config):
            import psutil

            process = psutil.Process(os.getppid())  # the trial process, or (with reuse_actors) the actor
            while "tunesmith.execution._worker" in " ".join(process.cmdline()):
                process = process.parent()
            return {"actor_pid": process.pid, "cuda": os.environ["CUDA_VISIBLE_DEVICES"]}

        results = run(tune.with_resources(train, {"cpu": 1, "gpu": 0.5}), {"i": tune.grid_search(list(range(6)))},
                      executor=executor)
        assert results.num_errors == 0
        assert len({r.metrics["actor_pid"] for r in results}) <= 2  # 2 slots: 2 actors, reused
        assert {r.metrics["cuda"] for r in results} <= {"0", "1"}
        assert executor.driver_host() == "127.0.0.1" and not executor.spans_hosts()
    finally:
        executor.close()


def test_ray_failures_are_retried_in_a_new_process(run, local_ray, tmp_path):
    from tunesmith.execution import RayExecutor

    marker = tmp_path / "died"
    executor = RayExecutor(heartbeat_timeout_s=300)
    try:
        def train(config):
            if not marker.exists():
                marker.write_text("x")
                os._exit(7)
            return {"ok": 1}

        results = run(train, executor=executor, run_config={"failure_config": tune.FailureConfig(max_failures=1)})
        assert results.num_errors == 0 and results[0].metrics["ok"] == 1
    finally:
        executor.close()


def test_with_trial_tls_trials_report_over_tls(run, local_ray, servers):
    from tunesmith.execution import RayExecutor

    executor = RayExecutor(heartbeat_timeout_s=300, trial_tls=True)
    try:
        def train(config):
            for step in range(3):
                tune.report({"score": config["x"] * 10 + step})

        results = run(train, {"x": tune.grid_search([0, 1])}, executor=executor, metric="score", mode="max")
    finally:
        executor.close()
    assert servers[0].certificate is not None
    assert results.num_errors == 0 and sorted(r.metrics["score"] for r in results) == [2, 12]
