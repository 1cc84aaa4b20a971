"""The other tools that already read a tunesmith run (README, "Looking at experiments").

MLflow's is tested with its example: tests/test_observability_examples.py::test_mlflow_example.
"""

import struct

import pytest

import tunesmith as tune


def _train(config):
    for step in range(3):
        tune.report({"loss": config["x"] ** 2 + 1.0 / (step + 1)})


def test_optuna_search_with_a_storage_url_writes_a_study_optuna_dashboard_reads(run, tmp_path):
    optuna = pytest.importorskip("optuna")
    from tunesmith.search.optuna import OptunaSearch

    url = f"sqlite:///{tmp_path}/optuna.db"
    search = OptunaSearch(storage=url, study_name="bridge", metric="loss", mode="min", seed=0)
    train = _train
    run(train, {"x": tune.uniform(-1, 1)}, search_alg=search, num_samples=4)
    study = optuna.load_study(study_name="bridge", storage=url)  # what optuna-dashboard opens
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 4 and all("x" in t.params for t in complete)


def test_tensorboard_reads_the_trial_event_files(run, storage):
    event_pb2 = pytest.importorskip("tensorboardX.proto.event_pb2")
    train = _train
    results = run(train, {"x": tune.grid_search([0.5])}, metric="loss", mode="min")
    (path,) = list(__import__("pathlib").Path(results[0].path).glob("events.out.tfevents.*"))
    data, values = path.read_bytes(), []
    while data:  # TFRecord framing: length, its crc, the event, its crc
        (length,) = struct.unpack("<Q", data[:8])
        event = event_pb2.Event.FromString(data[12:12 + length])
        values += [(event.step, v.simple_value) for v in event.summary.value if v.tag.endswith("loss")]
        data = data[12 + length + 4:]
    assert [step for step, _ in values] == [1, 2, 3]
    assert values[0][1] == pytest.approx(1.25)
