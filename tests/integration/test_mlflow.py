import logging
import socket
import subprocess
import sys
import time

import importlib.util

import pytest

import tunesmith as tune
from tunesmith.integration.mlflow import MLflowLoggerCallback, setup_mlflow
from tunesmith.logger.mlflow import MLflowLoggerCallback as FromLoggerPath

# Trainables defined here are unpickled by importing this module in trial processes: mlflow
# (seconds to import) is imported inside the tests only.
pytestmark = pytest.mark.skipif(importlib.util.find_spec("mlflow") is None, reason="needs mlflow")


def client_for(uri):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


@pytest.fixture(scope="module")
def uri(tmp_path_factory):
    """One database for the module (creating one runs MLflow's migrations, which takes seconds)."""
    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    client_for(f"sqlite:///{path}").search_experiments()
    return f"sqlite:///{path}"


def runs_of(uri, experiment_name):
    client = client_for(uri)
    experiment = client.get_experiment_by_name(experiment_name)
    assert experiment is not None, f"no MLflow experiment {experiment_name!r}"
    runs = client.search_runs([experiment.experiment_id])
    return client, {run.data.tags["trial_name"]: run for run in runs}


def train(config):
    for i in range(3):
        tune.report({"score": config["a"] * (i + 1), "nested": {"x": 0.5}})
    if config["a"] == 3:
        raise ValueError("three is not allowed")


def test_each_trial_is_a_run_with_params_metrics_and_status(run, uri):
    callback = MLflowLoggerCallback(tracking_uri=uri, experiment_name="mlf", tags={"team": "tuning"})
    results = run(train, {"a": tune.grid_search([1, 2, 3]), "opt": {"name": "sgd"}}, run_config={"callbacks": [callback]})
    client, runs = runs_of(uri, "mlf")
    assert len(runs) == 3
    for result in results:
        name = f"train_{result.metrics['trial_id']}"
        mlflow_run = runs[name]
        assert mlflow_run.info.run_name == name
        assert mlflow_run.data.tags["team"] == "tuning"
        assert mlflow_run.data.params == {"a": str(result.config["a"]), "opt/name": "sgd"}
        history = client.get_metric_history(mlflow_run.info.run_id, "score")
        a = result.config["a"]
        assert sorted((m.step, m.value) for m in history) == [(1, a), (2, 2 * a), (3, 3 * a)]
        assert mlflow_run.data.metrics["nested/x"] == 0.5
        assert "config/a" not in mlflow_run.data.metrics
        assert mlflow_run.info.status == ("FAILED" if a == 3 else "FINISHED")


def test_experiment_defaults_to_the_tunesmith_experiment_name(run, uri):
    run(train, {"a": 1}, run_config={"callbacks": [MLflowLoggerCallback(tracking_uri=uri)], "name": "my_exp"})
    _, runs = runs_of(uri, "my_exp")
    assert len(runs) == 1


def test_params_on_trial_end_and_trial_folder_as_artifacts(run, uri, tmp_path):
    client = client_for(uri)
    client.create_experiment("art", artifact_location=(tmp_path / "artifacts").as_uri())
    callback = MLflowLoggerCallback(uri, experiment_name="art", save_artifact=True, log_params_on_trial_end=True)
    run(train, {"a": 2}, run_config={"callbacks": [callback]})
    _, runs = runs_of(uri, "art")
    (mlflow_run,) = runs.values()
    assert mlflow_run.data.params == {"a": "2"}
    artifacts = {a.path for a in client.list_artifacts(mlflow_run.info.run_id)}
    assert {"params.json", "result.json", "progress.csv"} <= artifacts


def test_values_mlflow_cannot_take_are_fixed_or_skipped_with_one_warning_per_key(run, uri, caplog):
    def odd(config):
        for i in range(3):
            tune.report({"score": float(i), "phase": "warmup", "nan": float("nan"), "flag": True,
                         "weird key(1)": 1.0, "listed": [1, 2]})

    space = {"long": "x" * 7000, "odd(key)": 1}
    with caplog.at_level(logging.WARNING, logger="tunesmith"):
        (result,) = run(odd, space, run_config={"callbacks": [MLflowLoggerCallback(uri, experiment_name="odd")]})
    assert result.error is None
    client, runs = runs_of(uri, "odd")
    (mlflow_run,) = runs.values()
    metrics = mlflow_run.data.metrics
    assert metrics["score"] == 2.0 and metrics["flag"] == 1.0 and metrics["weird key_1_"] == 1.0
    assert metrics["nan"] != metrics["nan"]  # NaN is kept
    assert "phase" not in metrics and "listed" not in metrics
    assert mlflow_run.data.params["long"] == "x" * 6000 and mlflow_run.data.params["odd_key_"] == "1"
    messages = [r.getMessage() for r in caplog.records if r.getMessage().startswith("MLflowLoggerCallback")]
    for key in ("'phase'", "'listed'", "'weird key(1)'", "'long'", "'odd(key)'"):
        assert len([m for m in messages if key in m]) == 1, (key, messages)
    assert not [m for m in messages if "'trial_id'" in m or "'hostname'" in m]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_gives_one_warning_and_trials_still_run(run, caplog):
    callback = MLflowLoggerCallback(f"http://127.0.0.1:{free_port()}", experiment_name="nowhere")
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="tunesmith"):
        results = run(train, {"a": tune.grid_search([1, 2])}, run_config={"callbacks": [callback]})
    assert time.monotonic() - start < 30
    assert [r.metrics["score"] for r in results] == [3, 6]
    warnings = [r.getMessage() for r in caplog.records if "MLflowLoggerCallback" in r.getMessage()]
    assert len(warnings) == 1
    assert "cannot be reached" in warnings[0] and "Trials keep running" in warnings[0]


def test_logger_path_reexports_the_callback():
    assert FromLoggerPath is MLflowLoggerCallback


def test_bad_tags_are_refused_at_construction():
    with pytest.raises(TypeError, match="tags must be a dict, got list"):
        MLflowLoggerCallback(tags=["x"])


def test_setup_mlflow_outside_a_trial_needs_an_experiment(uri):
    import mlflow

    try:
        with pytest.raises(ValueError, match="no MLflow experiment with id None or name 'missing'"):
            setup_mlflow(tracking_uri=uri, experiment_name="missing")
    finally:
        mlflow.set_tracking_uri(None)


@pytest.mark.slow
def test_setup_mlflow_logs_from_inside_the_trainable(run, uri):
    def inside(config):
        mlflow = setup_mlflow(config, tracking_uri=uri, experiment_name="inside",
                              create_experiment_if_not_exists=True)
        for i in range(2):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
        tune.report({"done_logging": 1})

    results = run(inside, {"a": tune.grid_search([1, 2])}, max_concurrent_trials=1)
    client, runs = runs_of(uri, "inside")
    assert set(runs) == {f"inside_{r.metrics['trial_id']}" for r in results}
    for mlflow_run in runs.values():
        assert [m.value for m in client.get_metric_history(mlflow_run.info.run_id, "loss")] == [1.0, 0.5]
    # one reused trial process ran both trials: the first trial's run was ended when the second began
    assert "FINISHED" in {r.info.status for r in runs.values()}


def test_import_error_names_the_extra():
    code = ("import sys; sys.modules['mlflow'] = None\n"
            "from tunesmith.integration.mlflow import MLflowLoggerCallback\n"
            "try:\n    MLflowLoggerCallback()\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert 'MLflowLoggerCallback needs mlflow: pip install "tunesmith[mlflow]"' in out.stdout, out.stderr


@pytest.mark.parametrize("log_writer", ["1", "0"])
def test_uploaded_artifacts_are_the_written_files_with_or_without_the_log_writer(run, uri, tmp_path, monkeypatch,
                                                                                log_writer):
    import os

    monkeypatch.setenv("TUNESMITH_LOG_WRITER", log_writer)
    client = client_for(uri)
    name = f"files{log_writer}"
    client.create_experiment(name, artifact_location=(tmp_path / "artifacts").as_uri())
    callback = MLflowLoggerCallback(uri, experiment_name=name, save_artifact=True)
    results = run(train, {"a": tune.grid_search([1, 2])}, run_config={"callbacks": [callback]})
    _, runs = runs_of(uri, name)
    assert len(runs) == 2
    for result in results:
        mlflow_run = runs[f"train_{result.metrics['trial_id']}"]
        uploaded = {a.path: a.file_size for a in client.list_artifacts(mlflow_run.info.run_id)}
        local = {f: os.path.getsize(os.path.join(result.path, f)) for f in os.listdir(result.path)
                 if os.path.isfile(os.path.join(result.path, f))}
        events = [f for f in uploaded if f.startswith("events.out.tfevents")]
        assert events and all(uploaded[f] > 0 for f in events)  # not the empty files of a logger still writing
        assert {f: uploaded[f] for f in local if f in uploaded} == {f: local[f] for f in local if f in uploaded}
        assert {"result.json", "progress.csv", "params.json"} <= set(uploaded)
