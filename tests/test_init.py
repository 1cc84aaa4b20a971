"""``tunesmith.init`` takes every ``ray.init`` argument; the other ``ray.*`` calls Tune programs make."""

import inspect
import json
import logging
import os
from pathlib import Path

import pytest

import tunesmith as tune

RAY = json.loads((Path(__file__).parent / "compat" / "ray_tune_2_60.json").read_text())["modules"]["ray"]


def test_every_ray_init_argument_is_accepted_by_name():
    assert {"object_store_memory", "local_mode", "configure_logging", "include_dashboard"} <= set(RAY["init"])
    accepted = set(inspect.signature(tune.init).parameters) - {"kwargs"}
    from tunesmith._init import _NO_MEANING, _PRIVATE

    assert set(RAY["init"]) <= accepted | set(_NO_MEANING) | _PRIVATE


def test_ignored_arguments_are_logged_once_at_debug(caplog):
    from tunesmith import _init

    _init._logged.clear()
    with caplog.at_level(logging.DEBUG, logger="tunesmith"):
        tune.init(num_cpus=1, include_dashboard=False, object_store_memory=10**8, ignore_reinit_error=True,
                  log_to_driver=False, namespace="x", _temp_dir="/tmp/ray", labels={"a": "b"})
        tune.init(num_cpus=1, include_dashboard=False)
    ignored = [r.getMessage() for r in caplog.records if "is ignored" in r.getMessage()]
    assert len(ignored) == 7
    assert "init(include_dashboard=...) is ignored: there is no dashboard" in ignored
    assert tune.is_initialized()
    assert tune.cluster_resources() == {"CPU": 1.0, "GPU": 0.0}


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"local_mode": True}, ValueError, r"local_mode=True.*num_cpus=1.*trainable\(config\)"),
    ({"runtime_env": {"pip": ["x"]}}, ValueError, r"takes only \{'env_vars'.*got \['pip'\]"),
    ({"runtime_env": {"env_vars": {"A": 1}}}, ValueError, "must map names to string values"),
    ({"address": "tcp://127.0.0.1:1", "runtime_env": {"env_vars": {"A": "1"}}}, ValueError, "where the cluster's workers"),
    ({"storage": "/tmp/x"}, ValueError, r"init\(storage=...\) is refused"),
    ({"allow_multiple": True}, ValueError, r"init\(allow_multiple=...\) is refused"),
    ({"num_cpu": 2}, TypeError, "unexpected arguments: num_cpu"),
])
def test_arguments_that_cannot_be_had_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        tune.init(**kwargs)
    assert not tune.is_initialized()


def test_local_mode_false_is_fine():
    tune.init(num_cpus=1, local_mode=False)
    assert tune.is_initialized()


def test_runtime_env_vars_reach_trials(run, monkeypatch):
    monkeypatch.delenv("COMPAT_INIT_VAR", raising=False)
    tune.init(num_cpus=1, runtime_env={"env_vars": {"COMPAT_INIT_VAR": "seen"}})
    results = run(lambda config: {"v": os.environ.get("COMPAT_INIT_VAR")})
    assert results[0].metrics["v"] == "seen"
    monkeypatch.delenv("COMPAT_INIT_VAR")


def test_logging_level_and_format_configure_the_tunesmith_logger(capsys):
    log = logging.getLogger("tunesmith")
    old = log.level
    try:
        tune.init(num_cpus=1, logging_level=logging.DEBUG, logging_format="TS %(levelname)s %(message)s")
        log.debug("hello")
        assert "TS DEBUG hello" in capsys.readouterr().err
        tune.init(num_cpus=1, configure_logging=False, logging_level=logging.ERROR)
        assert log.level == logging.DEBUG
    finally:
        from tunesmith import _init

        log.removeHandler(_init._handler)
        _init._handler = None
        log.setLevel(old)


def test_shutdown_takes_rays_arguments():
    tune.init(num_cpus=1)
    tune.shutdown(wait_for_processes=True, _exiting_interpreter=False)
    assert not tune.is_initialized()
    with pytest.raises(TypeError, match="unexpected arguments: nope"):
        tune.shutdown(nope=1)


def test_resources_of_this_machine_and_while_a_trial_runs(run):
    tune.init(num_cpus=2, num_gpus=2, resources={"license": 1})
    assert tune.cluster_resources() == {"CPU": 2.0, "GPU": 2.0, "license": 1.0}
    seen = []

    class Watch(tune.Callback):
        def on_trial_start(self, iteration, trials, trial, **info):
            seen.append(tune.available_resources())

    results = run(tune.with_resources(lambda config: {"gpus": tune.get_gpu_ids()}, {"cpu": 1, "gpu": 1}),
                  run_config={"callbacks": [Watch()]})
    assert results[0].metrics["gpus"] == [0]
    assert seen == [{"CPU": 1.0, "GPU": 1.0, "license": 1.0}]
    assert tune.available_resources() == tune.cluster_resources()


def test_get_gpu_ids_in_a_trial_without_gpus(run):
    results = run(lambda config: {"gpus": tune.get_gpu_ids()})
    assert results[0].metrics["gpus"] == []


@pytest.mark.slow
def test_cluster_resources_of_a_dask_cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                  resources={"CPU": 1, "GPU": 1}) as cluster:
        tune.init(cluster.scheduler_address)
        assert tune.cluster_resources() == {"CPU": 2.0, "GPU": 2.0}
        assert tune.available_resources() == {"CPU": 2.0, "GPU": 2.0}
        tune.shutdown()
