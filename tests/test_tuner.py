import json
import os
import re
import subprocess
import sys

import pytest

import tunesmith as tune

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

AUTO_KEYS = {
    "timestamp", "checkpoint_dir_name", "done", "training_iteration", "trial_id", "date", "time_this_iter_s",
    "time_total_s", "pid", "hostname", "node_ip", "config", "time_since_restore", "iterations_since_restore",
}


def objective(config):
    return {"score": config["a"] ** 2 + config["b"]}


def test_quickstart_grid_times_choice(run):
    results = run(objective, {"a": tune.grid_search([0.001, 0.01, 0.1, 1.0]), "b": tune.choice([1, 2, 3])})
    assert len(results) == 4
    assert results.num_terminated == 4 and results.num_errors == 0
    best = results.get_best_result(metric="score", mode="min")
    assert best.metrics["score"] == min(r.metrics["score"] for r in results)
    assert best.metrics["score"] == pytest.approx(best.config["a"] ** 2 + best.config["b"])


def test_quickstart_example_runs_as_a_process(tmp_path):
    env = dict(os.environ, TUNESMITH_STORAGE_PATH=str(tmp_path))
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "quickstart.py")],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "'a': " in out.stdout
    assert "Finished: 4 trials (4 TERMINATED)" in out.stdout


def test_basic_example_runs_with_smoke_test(tmp_path):
    env = dict(os.environ, TUNESMITH_STORAGE_PATH=str(tmp_path))
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "tune_basic_example.py"), "--smoke-test"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Best hyperparameters found were:" in out.stdout


def test_grid_repeats_num_samples_times(run):
    results = run(objective, {"a": tune.grid_search([1, 2]), "b": tune.uniform(0, 1)}, num_samples=3)
    assert len(results) == 6
    assert sorted(r.config["a"] for r in results) == [1, 1, 1, 2, 2, 2]


def test_trial_files_and_auto_filled_fields(run, storage):
    def train(config):
        for i in range(3):
            tune.report({"loss": 1.0 / (i + 1)})

    results = run(train, {"x": tune.grid_search([1, 2])})
    result = results[0]
    assert set(result.metrics) >= AUTO_KEYS | {"loss", "experiment_tag"}
    assert result.metrics["training_iteration"] == 3
    assert result.metrics["done"] is True
    assert result.path.startswith(os.path.join(storage, "exp"))
    assert re.match(r"^train_[0-9a-f]{5}_\d{5}_\d+_x=\d_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d$", os.path.basename(result.path))
    with open(os.path.join(result.path, "result.json")) as f:
        rows = [json.loads(line) for line in f]
    assert [r["training_iteration"] for r in rows] == [1, 2, 3]
    assert all(r["done"] is False for r in rows)  # as Ray: the final done=True is not logged
    assert rows[0]["config"] == {"x": result.config["x"]}
    with open(os.path.join(result.path, "params.json")) as f:
        assert json.load(f) == result.config
    header = open(os.path.join(result.path, "progress.csv")).readline().strip().split(",")
    assert "loss" in header and "config" not in header
    assert os.path.exists(os.path.join(storage, "exp", "journal.jsonl"))


def test_function_return_number_and_generator(run):
    def returns_number(config):
        return 3.5

    def yields(config):
        for i in range(4):
            yield {"i": i}

    assert run(returns_number)[0].metrics["_metric"] == 3.5
    assert run(yields, run_config={"name": "gen"})[0].metrics["training_iteration"] == 4


def test_result_grid_api(run):
    def train(config):
        for i in range(5):
            tune.report({"loss": config["x"] * (5 - i)})

    results = run(train, {"x": tune.grid_search([1, 2, 3])}, metric="loss", mode="min")
    assert results.get_best_result().config["x"] == 1
    assert results.get_best_result(scope="avg").config["x"] == 1
    assert results.get_best_result(metric="loss", mode="max", scope="all").config["x"] == 3
    df = results.get_dataframe()
    assert len(df) == 3 and "config/x" in df.columns and "logdir" in df.columns
    best_rows = results.get_dataframe(filter_metric="loss", filter_mode="max")
    assert sorted(best_rows["loss"]) == [5, 10, 15]
    assert len(results[0].metrics_dataframe) == 5
    assert [r.config["x"] for r in results] == [1, 2, 3]
    assert results.experiment_path.endswith("exp")
    assert "loss" in repr(results[0])
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        results.get_best_result(metric="loss", mode="maximize")
    with pytest.raises(ValueError, match="scope"):
        results.get_best_result(scope="median")
    with pytest.raises(RuntimeError, match="no trial has"):
        results.get_best_result(metric="nope", mode="min")


def test_get_best_result_without_metric_is_a_clear_error(run):
    results = run(objective, {"a": tune.grid_search([1, 2]), "b": 0})
    with pytest.raises(ValueError, match="needs a metric and a mode"):
        results.get_best_result()


def test_class_trainable(run):
    class Counter(tune.Trainable):
        def setup(self, config):
            self.value = config["start"]

        def step(self):
            self.value += 1
            return {"value": self.value, "done": self.value >= 4}

        def save_checkpoint(self, checkpoint_dir):
            return {"value": self.value}

    results = run(Counter, {"start": tune.grid_search([0, 2])})
    by_start = {r.config["start"]: r for r in results}
    assert by_start[0].metrics["training_iteration"] == 4
    assert by_start[2].metrics["training_iteration"] == 2
    assert by_start[0].checkpoint is not None  # checkpoint_at_end defaults to True for classes
    assert os.path.exists(os.path.join(by_start[0].checkpoint.path, "_dict_checkpoint.pkl"))


def test_stop_dict_and_callable_and_stopper(run):
    def train(config):
        for i in range(100):
            tune.report({"i": i, "score": i * config["k"]})

    by_dict = run(train, {"k": 1}, run_config={"stop": {"training_iteration": 3}})
    assert by_dict[0].metrics["training_iteration"] == 3
    by_fn = run(train, {"k": 2}, run_config={"name": "fn", "stop": lambda trial_id, result: result["score"] >= 10})
    assert by_fn[0].metrics["score"] == 10
    from tunesmith.stopper import MaximumIterationStopper

    by_stopper = run(train, {"k": 1}, run_config={"name": "st", "stop": MaximumIterationStopper(5)})
    assert by_stopper[0].metrics["training_iteration"] == 5
    assert by_stopper.num_terminated == 1


def test_time_budget_stops_everything(run):
    import time

    def slow(config):
        for i in range(1000):
            time.sleep(0.05)
            tune.report({"i": i})

    start = time.monotonic()
    results = run(slow, num_samples=2, time_budget_s=1.0)
    assert time.monotonic() - start < 20
    assert results.num_terminated == 2 and results.num_errors == 0


def test_max_concurrent_trials_runs_one_at_a_time(run):
    import time

    def train(config):
        tune.report({"start": time.time()})
        time.sleep(0.2)
        tune.report({"end": time.time()})

    results = run(train, num_samples=3, max_concurrent_trials=1)
    spans = sorted((r.metrics_dataframe["start"].iloc[0], r.metrics["end"]) for r in results)
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1))


def test_num_samples_minus_one_runs_until_stopper(run):
    import itertools

    from tunesmith.stopper import Stopper

    class AfterFive(Stopper):
        def __init__(self):
            self.seen = itertools.count()

        def __call__(self, trial_id, result):
            return False

        def stop_all(self):
            return next(self.seen) > 400

    results = run(objective, {"a": tune.uniform(0, 1), "b": 0}, num_samples=-1, run_config={"stop": AfterFive()})
    assert len(results) >= 2


def test_trial_name_and_dirname_creators(run):
    results = run(objective, {"a": tune.grid_search([1, 2]), "b": 0},
                  trial_name_creator=lambda t: f"custom_{t.config['a']}",
                  trial_dirname_creator=lambda t: f"dir_{t.trial_id}")
    assert sorted(os.path.basename(r.path) for r in results)[0].startswith("dir_")


def test_nested_param_space_and_sample_from(run):
    space = {
        "model": {"layers": tune.grid_search([1, 2]), "width": tune.choice([8, 16])},
        "double": tune.sample_from(lambda spec: spec.config.model.layers * 2),
        "list": [tune.uniform(0, 1), 3],
    }

    def train(config):
        return {"ok": config["double"] == 2 * config["model"]["layers"] and config["list"][1] == 3}

    results = run(train, space)
    assert len(results) == 2 and all(r.metrics["ok"] for r in results)


def test_verbose_one_prints_summary_with_best_trial(storage):
    code = (
        "import tunesmith as tune\n"
        "def f(config):\n    return {'score': config['a']}\n"
        f"r = tune.Tuner(f, param_space={{'a': tune.grid_search([3, 1, 2])}}, "
        "tune_config=tune.TuneConfig(metric='score', mode='min'), "
        f"run_config=tune.RunConfig(storage_path={storage!r}, name='v')).fit()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Best trial" in out.stdout and "score=1" in out.stdout
    assert out.stderr == ""


def test_verbose_zero_prints_nothing(storage):
    code = (
        "import tunesmith as tune\n"
        "def f(config):\n    return {'score': config['a']}\n"
        f"tune.Tuner(f, param_space={{'a': tune.grid_search([1, 2])}}, "
        f"run_config=tune.RunConfig(storage_path={storage!r}, name='v', verbose=0)).fit()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert out.stdout == "" and out.stderr == ""


def test_progress_csv_keeps_columns_that_appear_later(run):
    import csv

    def train(config):
        tune.report({"a": 1})
        tune.report({"a": 2, "late": 7})

    result = run(train)[0]
    with open(os.path.join(result.path, "progress.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["a"] for r in rows] == ["1", "2"]
    assert [r["late"] for r in rows] == ["", "7"]


def test_a_reported_done_is_kept_so_stop_on_done_works(run):
    def train(config):
        for i in range(10):
            tune.report({"i": i, "done": i == 2})

    result = run(train, run_config={"stop": {"done": True}})[0]
    assert result.metrics["training_iteration"] == 3


def test_a_reported_done_ends_the_trial_without_stop_criteria(run):
    def train(config):
        for i in range(10):
            tune.report({"i": i, "done": i == 2})

    result = run(train)[0]
    assert result.metrics["training_iteration"] == 3
    assert result.metrics_dataframe["i"].tolist() == [0, 1, 2]


def test_a_trial_that_reports_nothing_gets_a_final_result_with_done(run):
    def silent(config):
        pass

    results = run(silent, {"a": 1})
    metrics = results[0].metrics
    # what Ray Tune records: ids, time, host, config and done; no iteration, no row in the files
    assert metrics["done"] is True and metrics["config"] == {"a": 1}
    assert {"trial_id", "date", "timestamp", "hostname", "node_ip"} <= set(metrics)
    assert "training_iteration" not in metrics
    assert results[0].metrics_dataframe.empty


def _one_report(config):
    tune.report({"x": config["a"]})


def test_after_stop_all_the_trials_that_never_started_are_terminated(run, storage):
    from tunesmith.stopper import Stopper

    class AtFirstResult(Stopper):
        def __init__(self):
            self.results = 0

        def __call__(self, trial_id, result):
            self.results += 1
            return False

        def stop_all(self):
            return self.results >= 1

    trainable = tune.with_resources(_one_report, {"cpu": os.cpu_count()})  # one trial at a time: others wait
    results = run(trainable, {"a": tune.grid_search(list(range(4)))}, run_config={"stop": AtFirstResult()})
    assert len(results) >= 2  # one ran, at least one was waiting
    assert results.num_terminated == len(results)
    # ... for good: the experiment's record says so too (a restore does not run them)
    analysis = tune.ExperimentAnalysis(os.path.join(storage, "exp"))
    assert [t.status for t in analysis.trials] == ["TERMINATED"] * len(results)


def test_nested_stop_criteria_stop_the_trial(run):
    def train(config):
        for i in range(10):
            tune.report({"info": {"steps": i + 1}})

    result = run(train, run_config={"stop": {"info": {"steps": 4}}})[0]
    assert result.metrics["training_iteration"] == 4


def test_an_errored_trial_has_its_config(run):
    def fails(config):
        raise ValueError("boom")

    result = run(fails, {"a": 1, "b": {"c": 2}})[0]
    assert isinstance(result.error, ValueError)
    assert result.config == {"a": 1, "b": {"c": 2}}


def test_best_checkpoints_lists_the_num_to_keep_best_and_the_latest_stays_on_disk(run):
    import tempfile

    def train(config):
        for i, score in enumerate([1, 5, 3, 6, 2, 4]):
            folder = tempfile.mkdtemp()
            with open(os.path.join(folder, "i"), "w") as f:
                f.write(str(i))
            tune.report({"score": score}, checkpoint=tune.Checkpoint.from_directory(folder))

    checkpoint_config = tune.CheckpointConfig(num_to_keep=2, checkpoint_score_attribute="score", checkpoint_score_order="max")
    result = run(train, run_config={"checkpoint_config": checkpoint_config})[0]
    # as Ray Tune 2.60: the two best, worst first; the latest (score 4) is kept on disk for resuming
    assert [(os.path.basename(c.path), m["score"]) for c, m in result.best_checkpoints] == [
        ("checkpoint_000001", 5), ("checkpoint_000003", 6)]
    assert os.path.basename(result.checkpoint.path) == "checkpoint_000005"
    assert sorted(d for d in os.listdir(result.path) if d.startswith("checkpoint_")) == [
        "checkpoint_000001", "checkpoint_000003", "checkpoint_000005"]


def test_result_grid_from_an_experiment_analysis(run, storage):
    from tunesmith import ExperimentAnalysis, ResultGrid

    def fails_for_two(config):
        if config["a"] == 2:
            raise ValueError("two")
        tune.report({"x": config["a"]})

    fitted = run(fails_for_two, {"a": tune.grid_search([1, 2, 3])}, metric="x", mode="max")
    grid = ResultGrid(experiment_analysis=ExperimentAnalysis(os.path.join(storage, "exp")))  # Ray's keyword
    assert len(grid) == 3 and grid.num_errors == 1 and grid.num_terminated == 2
    assert [r.config for r in grid] == [r.config for r in fitted]
    assert grid.get_best_result().metrics["x"] == 3  # the experiment's metric and mode
    assert isinstance(grid.errors[0], ValueError)
    with pytest.raises(TypeError, match="ResultGrid takes an ExperimentAnalysis"):
        ResultGrid("not an analysis")


def test_a_built_tuner_can_be_restored_before_it_was_ever_fitted(tmp_path):
    def objective(config):
        return {"score": config["x"]}

    path = str(tmp_path / "exp")
    tune.Tuner(objective, param_space={"x": tune.grid_search([1, 2])},
               run_config=tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0))
    assert tune.Tuner.can_restore(path)  # Ray Tune saves the Tuner when it is built, too
    assert not tune.Tuner.can_restore(str(tmp_path / "other"))
    results = tune.Tuner.restore(path, objective).fit()
    assert sorted(r.metrics["score"] for r in results) == [1, 2]
