"""The one adapter the CLI, the dashboard and the plots read experiments through."""

import json
import os

import httpx
import pytest

import tunesmith as tune
from tunesmith.dashboard import ExperimentSource, ExperimentState, TrialState
from tunesmith.dashboard._server import DashboardServer


def test_an_experiment_on_s3_is_served_and_its_new_rows_are_read_by_offset(finished, s3_endpoint, cache_dir):
    import s3fs

    fs = s3fs.S3FileSystem(key="testing", secret="testing", endpoint_url=s3_endpoint, skip_instance_cache=True)
    fs.mkdir("dash-bucket")
    fs.put(os.path.join(finished, "exp"), "dash-bucket/results/exp", recursive=True)
    source = ExperimentSource("s3://dash-bucket/results/exp", filesystem=fs).refresh()
    assert source.state() is ExperimentState.FINISHED and len(source.trials) == 3
    trial = next(t for t in source.trials if t.status is TrialState.ERROR)
    assert "ValueError: lr 0.3 is too large" in source.error_text(trial)
    first = next(t for t in source.trials if t.status is TrialState.TERMINATED)
    path = f"dash-bucket/results/exp/{first.dirname}/result.json"
    fs.pipe_file(path, fs.cat_file(path) + json.dumps({"loss": 0.01, "training_iteration": 5}).encode() + b"\n")
    first.settled = False  # as if still running: an unfinished trial is polled
    source.refresh()
    assert first.iterations == 5 and first.last == 0.01
    with DashboardServer("s3://dash-bucket/results", filesystem=fs, cache_dir=cache_dir) as server, httpx.Client(base_url=server.url) as client:
        assert client.get("/api/experiments").json()["experiments"] == ["exp"]
        assert client.get("/api/experiments/exp/trials").json()["total"] == 3


@pytest.mark.slow
def test_pbt_exploits_are_shown_with_the_donor_and_the_config_change(run, storage):
    from tunesmith.schedulers import PopulationBasedTraining

    def train(config):
        import tempfile
        import time

        start = 0
        if tune.get_checkpoint():
            with tune.get_checkpoint().as_directory() as folder:
                start = int(open(os.path.join(folder, "step")).read())
        for step in range(start, 8):
            time.sleep(0.05)
            with tempfile.TemporaryDirectory() as folder:
                open(os.path.join(folder, "step"), "w").write(str(step + 1))
                tune.report({"score": config["lr"] * (step + 1)}, checkpoint=tune.Checkpoint.from_directory(folder))

    pbt = PopulationBasedTraining(time_attr="training_iteration", perturbation_interval=2,
                                  hyperparam_mutations={"lr": tune.uniform(0.001, 1.0)}, quantile_fraction=0.5, seed=0)
    run(train, {"lr": tune.grid_search([0.01, 0.02, 0.9, 1.0])}, metric="score", mode="max", scheduler=pbt)
    source = ExperimentSource(os.path.join(storage, "exp")).refresh()
    exploits = [e for t in source.trials for e in t.events or () if e.kind == "exploited"]
    assert exploits, [t.events for t in source.trials]
    assert all(e.text.startswith("exploited train_") for e in exploits), exploits  # the donor's trial folder
    assert any("lr: " in e.text and " -> " in e.text for e in exploits), exploits  # and what changed


def test_a_torn_last_line_is_skipped_and_read_when_complete(finished):
    folder = os.path.join(finished, "exp")
    source = ExperimentSource(folder).refresh()
    trial = source.trials[0]
    trial.settled = False
    with open(os.path.join(folder, trial.dirname, "result.json"), "a") as f:
        f.write('{"loss": 0.001, "training_it')
    source.refresh()
    assert trial.iterations == 4
    with open(os.path.join(folder, trial.dirname, "result.json"), "a") as f:
        f.write('eration": 5}\n')
    trial.settled = False  # a finished trial is read to its end once; this one is written on as if running
    source.refresh()
    assert trial.iterations == 5 and trial.last == 0.001


def test_a_folder_without_a_journal_is_refused():
    with pytest.raises(FileNotFoundError, match="is not an experiment folder: it has no journal.jsonl"):
        ExperimentSource("/nonexistent/exp")


def test_reading_the_journal_in_steps_ends_where_one_read_does(finished):
    folder = os.path.join(finished, "exp")
    whole = ExperimentSource(folder).refresh()
    stepped, steps = ExperimentSource(folder), 0
    while not stepped.caught_up:
        stepped.refresh(max_bytes=97)  # cuts records in the middle
        steps += 1
    assert steps > 10
    assert [(t.trial_id, t.status, t.iterations, t.best) for t in stepped.trials] == \
        [(t.trial_id, t.status, t.iterations, t.best) for t in whole.trials]
    assert stepped.state() is whole.state() is ExperimentState.FINISHED


def test_an_unfinished_experiment_on_s3_is_running_while_its_driver_lease_is_live(finished, s3_endpoint):
    import time

    import s3fs

    fs = s3fs.S3FileSystem(key="testing", secret="testing", endpoint_url=s3_endpoint, skip_instance_cache=True)
    fs.mkdir("lease-bucket")
    fs.put(os.path.join(finished, "exp"), "lease-bucket/exp", recursive=True)
    journal = fs.cat_file("lease-bucket/exp/journal.jsonl").splitlines(keepends=True)
    fs.pipe_file("lease-bucket/exp/journal.jsonl", b"".join(r for r in journal if b"experiment_finished" not in r))
    source = ExperimentSource("s3://lease-bucket/exp", filesystem=fs).refresh()
    assert source.state() is ExperimentState.INTERRUPTED  # no lease: the driver is gone
    lease = {"host": "another-machine", "pid": 1, "expires": time.time() + 60}
    fs.pipe_file("lease-bucket/exp/.driver-lease.json", json.dumps(lease).encode())
    assert source.state() is ExperimentState.RUNNING


def test_an_early_stop_by_the_scheduler_is_journaled_and_shown_in_the_table_and_the_curve(run, storage, cache_dir):
    from tunesmith.schedulers import ASHAScheduler

    def train(config):
        for step in range(1, 9):
            tune.report({"loss": config["lr"] * 10 / step})

    asha = ASHAScheduler(time_attr="training_iteration", max_t=8, grace_period=1, reduction_factor=2)
    run(train, {"lr": tune.grid_search([0.1, 0.2, 0.4, 0.8])}, metric="loss", mode="min", scheduler=asha,
        max_concurrent_trials=1)
    with open(os.path.join(storage, "exp", "journal.jsonl")) as f:
        finished = [json.loads(line) for line in f if '"trial_finished"' in line]
    stopped = [r["trial_id"] for r in finished if r.get("stopped_by") == "scheduler"]
    assert stopped and all(r["status"] == "TERMINATED" for r in finished), finished
    with DashboardServer(storage, cache_dir=cache_dir) as server, httpx.Client(base_url=server.url) as client:
        page = client.get("/api/experiments/exp/trials", params={"filter": "stopped_by==scheduler"}).json()
        assert sorted(row["trial_id"] for row in page["rows"]) == sorted(stopped)
        assert page["columns"][:3] == ["trial_name", "status", "stopped_by"]
        curve = client.get(f"/api/experiments/exp/trials/{stopped[0]}/curve").json()
        assert curve["events"][-1]["kind"] == "stopped"
        assert curve["events"][-1]["text"] == "stopped by the scheduler: TERMINATED"
