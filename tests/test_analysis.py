"""ExperimentAnalysis on finished, running, errored, rerun and remote experiment folders."""

import json
import os
import pickle
import threading
import time

import fsspec
import pytest

import tunesmith as tune
from tunesmith.analysis import ExperimentAnalysis


def losses(config):
    """Reports config["losses"] one by one, each with a checkpoint holding its step."""
    for step, loss in enumerate(config["losses"], start=1):
        folder = os.path.join(os.getcwd(), f"scratch_{step}")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "step"), "w") as f:
            f.write(str(step))
        tune.report({"loss": loss, "nested": {"acc": -loss}}, checkpoint=tune.Checkpoint.from_directory(folder))


# Scores per scope (mode="min"): a wins on "all" (1), b on "last" (3 < 5) and "avg" (3 < 3.67).
A, B = [1.0, 5.0, 5.0], [3.0, 3.0, 3.0]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    storage = str(tmp_path_factory.mktemp("finished"))
    tune.Tuner(
        losses, param_space={"losses": tune.grid_search([A, B])},
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        run_config=tune.RunConfig(storage_path=storage, name="exp", verbose=0),
    ).fit()
    return os.path.join(storage, "exp")


def _by_losses(analysis):
    return {tuple(t.config["losses"]): t for t in analysis.trials}


def test_trials_results_and_dataframes(finished):
    analysis = ExperimentAnalysis(finished)
    assert analysis.experiment_path == finished
    assert [t.status for t in analysis.trials] == ["TERMINATED", "TERMINATED"]
    a, b = _by_losses(analysis)[tuple(A)], _by_losses(analysis)[tuple(B)]
    assert a.path.startswith(finished) and os.path.exists(os.path.join(a.path, "params.json"))
    assert analysis.results[a.trial_id]["loss"] == 5.0 and a.last_result["training_iteration"] == 3
    assert list(analysis.results_df.index) == [t.trial_id for t in analysis.trials]
    assert analysis.results_df.loc[b.trial_id, "nested/acc"] == -3.0
    frames = analysis.trial_dataframes
    assert list(frames[a.trial_id]["loss"]) == A and "config/losses" in frames[a.trial_id]
    last = analysis.dataframe()
    assert sorted(last["loss"]) == [3.0, 5.0] and set(last["logdir"]) == {a.path, b.path}
    best_rows = analysis.dataframe(metric="loss", mode="min")
    assert sorted(best_rows["loss"]) == [1.0, 3.0]
    assert analysis.get_all_configs() == {a.trial_id: a.config, b.trial_id: b.config}
    assert analysis.get_all_configs(prefix=True)[a.trial_id] == {"config/losses": A}


@pytest.mark.parametrize(
    ("scope", "mode", "winner"),
    [("last", "min", B), ("avg", "min", B), ("all", "min", A), ("last-5-avg", "min", B), ("last", "max", A),
     ("all", "max", A)],
)
def test_best_trial_by_scope_agrees_with_result_grid(finished, scope, mode, winner):
    analysis = ExperimentAnalysis(finished)
    assert analysis.get_best_trial("loss", mode, scope=scope).config["losses"] == winner
    assert analysis.get_best_config("loss", mode, scope=scope) == {"losses": winner}
    grid = tune.Tuner.restore(finished, losses).get_results()
    assert grid.get_best_result("loss", mode, scope=scope).config["losses"] == winner


def test_nested_metric_and_nan_filtering(finished):
    analysis = ExperimentAnalysis(finished)
    assert analysis.get_best_trial("nested/acc", "max").config["losses"] == B
    assert analysis.get_best_trial("no_such_metric", "max") is None


def test_best_properties_default_to_the_experiments_metric_and_mode(finished):
    analysis = ExperimentAnalysis(finished)
    assert (analysis.default_metric, analysis.default_mode) == ("loss", "min")
    assert analysis.best_config == {"losses": B}
    assert analysis.best_trial.config["losses"] == B
    assert analysis.best_result["loss"] == 3.0
    assert list(analysis.best_result_df.index) == [analysis.best_trial.trial_id]
    assert list(analysis.best_dataframe["loss"]) == B
    with analysis.best_checkpoint.as_directory() as folder:  # all of B's checkpoints tie: the first
        assert open(os.path.join(folder, "step")).read() == "1"
    other = ExperimentAnalysis(finished, default_metric="loss", default_mode="max")
    assert other.best_config == {"losses": A}
    assert ExperimentAnalysis(finished, default_mode="max").default_metric == "_metric"


def test_checkpoints(finished):
    analysis = ExperimentAnalysis(finished)
    a = _by_losses(analysis)[tuple(A)]
    paths = analysis.get_trial_checkpoints_paths(a)
    assert [os.path.basename(p) for p, _ in paths] == ["checkpoint_000000", "checkpoint_000001", "checkpoint_000002"]
    assert [value for _, value in paths] == [1, 2, 3]
    assert [v for _, v in analysis.get_trial_checkpoints_paths(a.trial_id, "loss")] == A
    best = analysis.get_best_checkpoint(a.path, "loss", "min")
    assert os.path.basename(best.path) == "checkpoint_000000"
    assert os.path.basename(analysis.get_best_checkpoint(a, "loss", "max").path) == "checkpoint_000001"
    assert os.path.basename(analysis.get_last_checkpoint(a).path) == "checkpoint_000002"
    best_trial_last = analysis.get_last_checkpoint(metric="loss", mode="max")  # A's last
    assert best_trial_last.path.startswith(a.path)
    assert a.checkpoint == analysis.get_last_checkpoint(a)


def test_journal_file_path_and_pickling(finished):
    analysis = ExperimentAnalysis(os.path.join(finished, "journal.jsonl"))
    assert analysis.experiment_path == finished
    copy = pickle.loads(pickle.dumps(ExperimentAnalysis(finished + "/")))
    assert copy.best_config == {"losses": B}


def test_remote_experiment_on_an_fsspec_url(finished):
    fs = fsspec.filesystem("memory")
    fs.put(finished, "/bucket/results/exp", recursive=True)
    analysis = ExperimentAnalysis("memory://bucket/results/exp")
    assert analysis.experiment_path.startswith("memory://") and analysis.experiment_path.endswith("/bucket/results/exp")
    assert analysis.best_config == {"losses": B}
    a = _by_losses(analysis)[tuple(A)]
    assert list(analysis.trial_dataframes[a.trial_id]["loss"]) == A
    checkpoint = analysis.get_best_checkpoint(a, "loss", "min")
    assert checkpoint.url.startswith(f"{analysis.experiment_path}/losses_")
    with checkpoint.as_directory() as folder:
        assert open(os.path.join(folder, "step")).read() == "1"


def fails_on_two(config):
    tune.report({"loss": 1.0})
    if config["x"] == 2:
        raise KeyError("two")
    tune.report({"loss": 0.5})


def test_errored_trial(run, storage):
    run(fails_on_two, {"x": tune.grid_search([1, 2])})
    analysis = ExperimentAnalysis(os.path.join(storage, "exp"))
    statuses = {t.config["x"]: t for t in analysis.trials}
    assert statuses[1].status == "TERMINATED" and statuses[2].status == "ERROR"
    assert isinstance(statuses[2].error, KeyError)
    assert statuses[2].num_failures == 1


def test_a_rerun_under_the_same_name_shows_only_the_latest_run(run, storage):
    run(fails_on_two, {"x": tune.grid_search([1, 2])})
    run(fails_on_two, {"x": 1})
    analysis = ExperimentAnalysis(os.path.join(storage, "exp"))
    assert [t.config for t in analysis.trials] == [{"x": 1}]


def gated(config):
    """Reports twice, then waits for the gate file before reporting a third time."""
    tune.report({"loss": config["x"]})
    tune.report({"loss": config["x"] - 1})
    while not os.path.exists(config["gate"]):
        time.sleep(0.01)
    tune.report({"loss": config["x"] - 2})


def _rows(trial_dir):
    path = os.path.join(trial_dir, "result.json")
    return len(open(path).read().splitlines()) if os.path.exists(path) else 0


def test_live_experiment(tmp_path):
    gate = str(tmp_path / "gate")
    experiment = tmp_path / "live"
    tuner = tune.Tuner(
        gated, param_space={"x": tune.grid_search([10, 20]), "gate": gate},
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="live", verbose=0),
    )
    thread = threading.Thread(target=tuner.fit)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            dirs = [d for d in experiment.glob("gated_*") if d.is_dir()] if experiment.exists() else []
            if len(dirs) == 2 and all(_rows(d) == 2 for d in dirs):
                break
            time.sleep(0.02)
        live = ExperimentAnalysis(str(experiment))
        assert [t.status for t in live.trials] == ["RUNNING", "RUNNING"]
        assert sorted(len(df) for df in live.trial_dataframes.values()) == [2, 2]
        assert live.best_config["x"] == 10 and live.best_result["loss"] == 9
    finally:
        open(gate, "w").close()
        thread.join(30)
    done = ExperimentAnalysis(str(experiment))
    assert [t.status for t in done.trials] == ["TERMINATED", "TERMINATED"]
    assert done.best_result["loss"] == 8


def test_a_torn_last_journal_line_is_skipped(finished, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(finished, copy)
    with open(copy / "journal.jsonl", "a") as f:
        f.write('{"event": "trial_started", "trial_id": "abc')
    assert len(ExperimentAnalysis(str(copy)).trials) == 2


# -- bad input -------------------------------------------------------------------------------------

def test_a_folder_that_does_not_exist(tmp_path):
    with pytest.raises(ValueError, match=r"'.*nowhere' is not an experiment folder: it does not exist"):
        ExperimentAnalysis(str(tmp_path / "nowhere"))


def test_a_folder_that_is_not_an_experiment(tmp_path):
    (tmp_path / "params.json").write_text("{}")
    with pytest.raises(ValueError, match=r"is not a tunesmith experiment folder: it has no journal.jsonl"):
        ExperimentAnalysis(str(tmp_path))


def test_a_url_that_is_not_an_experiment():
    fsspec.filesystem("memory").pipe("/empty/exp/x.txt", b"x")
    with pytest.raises(ValueError, match=r"'memory://empty/exp' is not a tunesmith experiment folder: it has no journal"):
        ExperimentAnalysis("memory://empty/exp")


def no_metric(config):
    return {"loss": config["x"]}


@pytest.fixture(scope="module")
def without_metric(tmp_path_factory):
    storage = str(tmp_path_factory.mktemp("without_metric"))
    tune.Tuner(no_metric, param_space={"x": tune.grid_search([1, 2])},
               run_config=tune.RunConfig(storage_path=storage, name="exp", verbose=0)).fit()
    return os.path.join(storage, "exp")


def test_get_best_trial_with_no_metric_anywhere(without_metric):
    analysis = ExperimentAnalysis(without_metric)
    with pytest.raises(ValueError, match=r"get_best_trial needs a metric, and none is set: pass get_best_trial\(metric="):
        analysis.get_best_trial()
    with pytest.raises(ValueError, match=r"get_best_config needs a metric.*default_metric="):
        analysis.get_best_config()
    with pytest.raises(ValueError, match=r"get_best_trial needs a mode, and none is set"):
        analysis.get_best_trial("loss")
    assert analysis.get_best_trial("loss", "max").config == {"x": 2}


@pytest.mark.parametrize("name", ["best_trial", "best_config", "best_checkpoint", "best_result", "best_result_df",
                                  "best_dataframe"])
def test_best_properties_with_no_default_metric(without_metric, name):
    with pytest.raises(ValueError, match=rf"{name} needs a default metric and mode: pass metric= and mode= to tune.run"):
        getattr(ExperimentAnalysis(without_metric), name)


def test_bad_arguments(finished):
    with pytest.raises(ValueError, match="default_mode must be 'min' or 'max', got 'best'"):
        ExperimentAnalysis(finished, default_mode="best")
    analysis = ExperimentAnalysis(finished)
    with pytest.raises(ValueError, match="scope must be one of last, avg, last-5-avg, last-10-avg, all, got 'first'"):
        analysis.get_best_trial(scope="first")
    with pytest.raises(ValueError, match=r"no trial 'nope' in the experiment at .*: pass a trial from .trials"):
        analysis.get_best_checkpoint("nope")
    with pytest.raises(ValueError, match=r"dataframe\(mode='min'\) needs the metric"):
        analysis.dataframe(mode="min")


def test_public_names():
    import tunesmith.analysis

    assert tunesmith.analysis.__all__ == ["ExperimentAnalysis"]
    assert tune.ExperimentAnalysis is ExperimentAnalysis


# -- opening from the journal alone (100,000 trials open without reading 100,000 folders) ----------

def scored(config):
    tune.report({"score": config["i"], "nested": {"v": -config["i"]}})


@pytest.fixture
def journal_only(tmp_path):
    """A finished experiment whose trials' result.json files are gone: only the journal knows their results."""
    tune.Tuner(scored, param_space={"i": tune.grid_search([3, 1, 2])},
               run_config=tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0)).fit()
    path = os.path.join(str(tmp_path), "exp")
    for name in os.listdir(path):
        if os.path.isdir(os.path.join(path, name)):
            os.remove(os.path.join(path, name, "result.json"))
    return path


def test_best_trial_and_dataframe_come_from_the_journal(journal_only):
    analysis = ExperimentAnalysis(journal_only)
    assert analysis.get_best_trial("score", "max").config == {"i": 3}
    assert analysis.get_best_config("nested/v", "max") == {"i": 1}
    assert tune.ResultGrid(analysis).get_best_result("score", "min").config == {"i": 1}
    frame = analysis.dataframe()
    assert list(frame["score"]) == [3, 1, 2] and list(frame["config/i"]) == [3, 1, 2]
    assert [os.path.basename(p) for p in frame["logdir"]] == [os.path.basename(t.path) for t in analysis.trials]
    assert list(analysis.results_df["nested/v"]) == [-3, -1, -2]


def test_a_journal_without_results_reads_them_from_the_trial_files(tmp_path):
    """Journals written before ``trial_finished`` carried the result (same format version)."""
    tune.Tuner(scored, param_space={"i": tune.grid_search([3, 1, 2])},
               run_config=tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0)).fit()
    journal = os.path.join(str(tmp_path), "exp", "journal.jsonl")
    with open(journal) as f:
        records = [json.loads(line) for line in f]
    assert sum("result" in r for r in records) == 3
    with open(journal, "w") as f:
        f.writelines(json.dumps({k: v for k, v in r.items() if k != "result"}) + "\n" for r in records)
    analysis = ExperimentAnalysis(os.path.dirname(journal))
    assert analysis.get_best_trial("score", "max").config == {"i": 3}
    assert list(analysis.dataframe()["score"]) == [3, 1, 2]


def test_trials_are_read_when_indexed(journal_only):
    analysis = ExperimentAnalysis(journal_only)
    assert len(analysis.trials) == 3 and [t.config["i"] for t in analysis.trials] == [3, 1, 2]
    assert analysis.trials[1] is analysis.trials[1]  # kept once read
    assert analysis.trials[0].last_result == {}  # its result.json is gone; the journal knows only the last result


def test_given_trials_replace_the_journals(journal_only):
    every = ExperimentAnalysis(journal_only)
    two = [t for t in every.trials if t.config["i"] != 3]
    for trial in two:
        trial.last_result = {"score": trial.config["i"]}
    analysis = ExperimentAnalysis(journal_only, trials=two)
    assert list(analysis.results_df["score"]) == [1, 2]
    assert analysis.get_best_trial("score", "max") is two[1]
