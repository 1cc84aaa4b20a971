"""tune.run, tune.run_experiments and tune.Experiment: Ray Tune's legacy entry points over Tuner."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import tunesmith as tune
from tunesmith.experiment import Trial


def climb(config):
    for step in range(1, 5):
        tune.report({"score": config["a"] * step})


class Results(tune.Callback):
    def __init__(self):
        self.results = []

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.results.append(result["training_iteration"])


def test_run_maps_its_arguments_onto_tuner(storage):
    callback = Results()
    analysis = tune.run(
        climb, config={"a": tune.grid_search([1, 2, 3])}, metric="score", mode="max", stop={"training_iteration": 2},
        resources_per_trial={"cpu": 1}, scheduler="asha", search_alg="random", max_concurrent_trials=2,
        trial_name_creator=lambda t: f"t{t.config['a']}", trial_dirname_creator=lambda t: f"dir_a{t.config['a']}",
        callbacks=[callback], storage_path=storage, name="mapped", verbose=0, reuse_actors=False,
    )
    assert isinstance(analysis, tune.ExperimentAnalysis)
    assert analysis.experiment_path == os.path.join(storage, "mapped")
    assert (analysis.default_metric, analysis.default_mode) == ("score", "max")
    assert analysis.best_config == {"a": 3}
    assert sorted(os.path.basename(t.path) for t in analysis.trials) == ["dir_a1", "dir_a2", "dir_a3"]
    iterations = {t.config["a"]: t.last_result["training_iteration"] for t in analysis.trials}
    assert iterations[3] == 2 and max(iterations.values()) == 2  # the stop dict (ASHA may stop a trial at 1)
    assert all(t.resources["cpu"] == 1 for t in analysis.trials)
    assert sorted(callback.results) == sorted(i for n in iterations.values() for i in range(1, n + 1))


def test_fail_fast_with_max_failures():
    with pytest.raises(ValueError, match="fail_fast cannot be combined with max_failures"):
        tune.run(climb, fail_fast=True, max_failures=2)


# -- registered names, Experiment, run_experiments ------------------------------------------------

def from_env(config):
    return {"env": config["env"], "x": config.get("x", 0)}


def test_run_experiments_with_specs_and_experiments(storage):
    tune.register_trainable("legacy_from_env", from_env)
    experiments = [
        {"by_name": {"run": "legacy_from_env", "env": "CartPole", "config": {"x": 1}, "storage_path": storage}},
        tune.Experiment("by_object", from_env, config={"env": "Pong", "x": tune.grid_search([2, 3])},
                        storage_path=storage),
    ]
    trials = tune.run_experiments(experiments, verbose=0, concurrent=True)
    assert [t.last_result["env"] for t in trials] == ["CartPole", "Pong", "Pong"]
    assert [t.config["x"] for t in trials] == [1, 2, 3]
    assert all(isinstance(t, Trial) and t.status == "TERMINATED" for t in trials)
    assert sorted(os.listdir(storage)) == ["by_name", "by_object"]
    assert str(trials[0]).startswith("from_env_CartPole_")


def test_experiment_spec():
    def trainable(config):
        return {"v": 1}

    experiment = tune.Experiment.from_json("spec", {"run": trainable, "env": "Pong", "stop": {"v": 1},
                                                    "num_samples": 3, "storage_path": "/tmp/somewhere",
                                                    "checkpoint_config": {"num_to_keep": 2}})
    assert experiment.config == {"env": "Pong"}
    assert experiment.public_spec == {"stop": {"v": 1}, "num_samples": 3, "time_budget_s": None}
    assert experiment.spec["run"] == experiment.run_identifier == "trainable"
    assert experiment.path == "/tmp/somewhere/spec" and experiment.local_path == experiment.path
    assert experiment.remote_path is None and experiment.stopper is None
    assert experiment.checkpoint_config == tune.CheckpointConfig(num_to_keep=2)
    assert tune.Experiment("s3", trainable, storage_path="s3://bucket/runs").remote_path == "s3://bucket/runs/s3"
    assert tune.Experiment.get_trainable_name(trainable) == "trainable"
    # Like Ray Tune, an Experiment registers its trainable, so the name works in Tuner too.
    assert tune.Experiment.register_if_needed(trainable) == "trainable"
    assert isinstance(tune.Tuner("trainable"), tune.Tuner)


# -- failures and resume --------------------------------------------------------------------------

def flaky(config):
    """Checkpoints at step 1; fails at step 2 until the file config["ok"] exists."""
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            start = int(open(os.path.join(folder, "step")).read())
    for step in range(start + 1, 4):
        if step == 2 and config["x"] == 2 and not os.path.exists(config["ok"]):
            raise RuntimeError("not yet")
        folder = os.path.join(os.getcwd(), f"s{step}")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "step"), "w") as f:
            f.write(str(step))
        tune.report({"step": step}, checkpoint=tune.Checkpoint.from_directory(folder))


def _flaky_run(storage, ok, **kwargs):
    return tune.run(flaky, config={"x": tune.grid_search([1, 2]), "ok": ok}, storage_path=storage, name="flaky",
                    verbose=0, **kwargs)


def test_a_failed_trial_raises_trials_did_not_complete(storage, tmp_path):
    with pytest.raises(tune.TuneError, match="Trials did not complete") as info:
        _flaky_run(storage, str(tmp_path / "ok"))
    failed = info.value.args[1]
    assert [t.config["x"] for t in failed] == [2] and failed[0].status == "ERROR"
    assert isinstance(failed[0].error, RuntimeError)
    analysis = tune.ExperimentAnalysis(os.path.join(storage, "flaky"))
    assert sorted(t.status.value for t in analysis.trials) == ["ERROR", "TERMINATED"]


@pytest.mark.parametrize(
    ("resume", "same_trial", "steps"),
    [("AUTO+ERRORED", True, [1, 2, 3]), ("auto+restart_errored", False, [1, 2, 3]), (True, True, [1])],
)
def test_resume_errored_trials(storage, tmp_path, resume, same_trial, steps):
    ok = str(tmp_path / "ok")
    first = _flaky_run(storage, ok, raise_on_failed_trial=False)
    errored = [t for t in first.trials if t.status == "ERROR"][0]
    open(ok, "w").close()
    second = _flaky_run(storage, ok, resume=resume, raise_on_failed_trial=False)
    again = [t for t in second.trials if t.config["x"] == 2][0]
    assert (again.trial_id == errored.trial_id) is same_trial
    assert len(second.trials) == 2
    rows = second.trial_dataframes[again.trial_id]
    assert list(rows["step"]) == steps and list(rows["training_iteration"]) == steps


def test_resume_auto_starts_an_experiment_that_does_not_exist(storage):
    analysis = tune.run(climb, config={"a": 1}, storage_path=storage, name="fresh", resume="AUTO", verbose=0)
    assert [t.status for t in analysis.trials] == ["TERMINATED"]


def test_resume_local_needs_an_experiment(storage):
    with pytest.warns(FutureWarning, match="resume='LOCAL' is deprecated in Ray Tune; use resume='AUTO'"):
        with pytest.raises(ValueError, match=r"resume='LOCAL': there is no experiment to resume at .*nothing"):
            tune.run(climb, storage_path=storage, name="nothing", resume="LOCAL", verbose=0)


# -- deprecated arguments -----------------------------------------------------------------------------

class Valley(tune.Trainable):
    """loss = |n - 3|: best at step 3."""

    def setup(self, config):
        self.n = 0

    def step(self):
        self.n += 1
        return {"loss": abs(self.n - 3), "done": self.n >= 5}

    def save_checkpoint(self, checkpoint_dir):
        return {"n": self.n}

    def load_checkpoint(self, checkpoint):
        self.n = checkpoint["n"]


def test_deprecated_checkpoint_arguments_and_local_dir_are_mapped_with_a_warning(tmp_path):
    with pytest.warns(FutureWarning) as caught:
        analysis = tune.run(Valley, local_dir=str(tmp_path), name="valley", checkpoint_freq=1, checkpoint_at_end=True,
                            keep_checkpoints_num=2, checkpoint_score_attr="min-loss", verbose=0)
    messages = " ".join(str(w.message) for w in caught)
    for old in ("local_dir", "checkpoint_freq", "checkpoint_at_end", "keep_checkpoints_num", "checkpoint_score_attr"):
        assert f"{old} is deprecated in Ray Tune" in messages
    assert all(w.filename == __file__ for w in caught)  # they point at the caller
    assert analysis.experiment_path == str(tmp_path / "valley")
    (trial,) = analysis.trials
    kept = analysis.get_trial_checkpoints_paths(trial, "loss")
    # The two best by min loss (steps 2 and 3, or 3 and 4), plus the latest (step 5) which is always kept.
    assert [loss for _, loss in kept][-1] == 2 and 0 in [loss for _, loss in kept]
    assert len(kept) <= 3
    best = analysis.get_best_checkpoint(trial, "loss", "min")
    assert best.path.endswith("checkpoint_000002")


def test_deprecated_resume_values_warn(storage):
    tune.run(climb, config={"a": 1}, storage_path=storage, name="again", verbose=0)
    with pytest.warns(FutureWarning, match="resume='ERRORED_ONLY' is deprecated in Ray Tune"):
        analysis = tune.run(climb, config={"a": 1}, storage_path=storage, name="again", resume="ERRORED_ONLY",
                            verbose=0)
    assert [t.status for t in analysis.trials] == ["TERMINATED"]


# -- bad input -------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("argument", "value", "message"),
    [
        ("with_server", True, "with_server=True is not supported by tunesmith: tunesmith has no TuneServer"),
        ("server_port", 4321, "server_port=4321 is not supported by tunesmith: .*ExperimentAnalysis"),
        ("_remote", True, "_remote=True is not supported by tunesmith: there is no Ray Client"),
        ("resume_config", object(), "resume_config=.* is not supported by tunesmith: pass resume='AUTO\\+ERRORED'"),
        ("chdir_to_trial_dir", False, "chdir_to_trial_dir=False is not supported.*RAY_CHDIR_TO_TRIAL_DIR=0"),
        ("export_formats", ["h5"], r"export_formats=\['h5'\] is not supported"),
        ("restore", "/some/checkpoint", "restore='/some/checkpoint' is not supported"),
    ],
)
def test_unsupported_arguments(argument, value, message):
    with pytest.raises(ValueError, match=message):
        tune.run(climb, **{argument: value})


@pytest.mark.parametrize("resume", ["PROMPT", "AUTO+SOMETIMES", "auto+errored+more", 1, "NEVER"])
def test_unknown_resume_value_lists_the_valid_ones(resume):
    with pytest.raises(ValueError, match=r"resume must be one of None, False, True \(= 'AUTO'\), 'AUTO', "
                                         r"'AUTO\+ERRORED', .*'ERRORED_ONLY'; got"):
        tune.run(climb, resume=resume)


def test_config_both_in_run_and_in_the_experiment():
    experiment = tune.Experiment("clash", climb, config={"a": 1})
    with pytest.raises(ValueError, match="tune.run got config both as arguments and in Experiment 'clash', which "
                                         "has its own; set it in one place"):
        tune.run(experiment, config={"a": 2})
    with pytest.raises(ValueError, match="got name, num_samples both"):
        tune.run(tune.Experiment("clash", climb, num_samples=2), name="other", num_samples=3)


def test_run_arguments_are_added_to_an_experiment_without_them(storage):
    experiment = tune.Experiment("added", climb, config={"a": 2}, storage_path=storage)
    analysis = tune.run([experiment], stop={"training_iteration": 1}, verbose=0)
    assert analysis.trials[0].last_result["training_iteration"] == 1


def test_several_experiments_in_tune_run():
    with pytest.raises(ValueError, match=r"tune.run takes one experiment, got a list of 2; run several with "
                                         r"tune.run_experiments"):
        tune.run([tune.Experiment("a", climb), tune.Experiment("b", climb)])


def test_unknown_registered_name_lists_the_registered_ones():
    tune.register_trainable("legacy_known", climb)
    with pytest.raises(ValueError, match=r"no trainable is registered as 'legacy_unknown'; registered: .*legacy_known"):
        tune.run("legacy_unknown")


def test_resources_set_twice():
    with pytest.raises(ValueError, match="already sets its resources .*drop resources_per_trial"):
        tune.run(tune.with_resources(climb, {"cpu": 2}), resources_per_trial={"cpu": 1})


@pytest.mark.parametrize(
    ("experiments", "message"),
    [
        ({"x": {"config": {}}}, "experiment 'x': no trainable specified; the spec needs a 'run' key"),
        ({"x": {"run": climb, "checkpoint_frequency": 2}},
         "experiment 'x': the spec has keys Experiment does not take: checkpoint_frequency; it takes: run, stop, "),
        ({"x": [climb]}, "experiment 'x': the spec must be a dict or an Experiment, got list"),
        ("climb", "experiments must be an Experiment, a dict {name: spec}, or a list of those; got str"),
    ],
)
def test_bad_experiment_specs(experiments, message):
    with pytest.raises(tune.TuneError, match=message):
        tune.run_experiments(experiments)


def test_local_dir_and_storage_path_together():
    with pytest.raises(ValueError, match="local_dir is Ray Tune's old name for storage_path; pass only storage_path"):
        tune.run(climb, local_dir="/tmp/a", storage_path="/tmp/b")


# -- a Ray Tune program, interrupted and resumed ------------------------------------------------------

PROGRAM = """
import json, os, sys, time
import tunesmith as tune
from tunesmith.schedulers import ASHAScheduler
from tunesmith.search.optuna import OptunaSearch


def train(config):
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            start = int(open(os.path.join(folder, "step")).read())
    for step in range(start + 1, 13):
        time.sleep(0.1)
        saved = None
        if step % 2 == 0:
            folder = os.path.join(os.getcwd(), f"scratch_{step}")
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, "step"), "w") as f:
                f.write(str(step))
            saved = tune.Checkpoint.from_directory(folder)
        tune.report({"loss": (config["lr"] - 0.3) ** 2 + 1.0 / step}, checkpoint=saved)


analysis = tune.run(
    train, name="legacy", storage_path=sys.argv[1], config={"lr": tune.uniform(0, 1)}, num_samples=4,
    metric="loss", mode="min", resources_per_trial={"cpu": 1}, search_alg=OptunaSearch(seed=7),
    scheduler=ASHAScheduler(max_t=12, grace_period=6, reduction_factor=2), resume="AUTO", verbose=0,
)
print("RESULT " + json.dumps({t.trial_id: t.status.value for t in analysis.trials}))
"""


def lr_loss(config):
    tune.report({"loss": (config["lr"] - 0.3) ** 2})


def test_resume_with_a_searcher_and_the_space_in_config_can_add_samples(storage):
    from tunesmith.search.optuna import OptunaSearch

    def go(num_samples):
        return tune.run(lr_loss, config={"lr": tune.uniform(0, 1)}, num_samples=num_samples, metric="loss",
                        mode="min", search_alg=OptunaSearch(seed=1), storage_path=storage, name="opt",
                        resume="AUTO", verbose=0)

    go(2)
    assert len(go(3).trials) == 3


def _result_rows(experiment):
    rows = {}
    for name in os.listdir(experiment) if os.path.isdir(experiment) else []:
        path = os.path.join(experiment, name, "result.json")
        if os.path.exists(path):
            with open(path) as f:
                rows[name] = [json.loads(line) for line in f if line.endswith("\n")]
    return rows


@pytest.mark.slow
def test_a_ray_tune_program_resumes_after_ctrl_c(tmp_path):
    script = tmp_path / "program.py"
    script.write_text(PROGRAM)
    experiment = tmp_path / "legacy"
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(len(r) >= 3 for r in _result_rows(experiment).values()):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    interrupted = json.loads(out.split("RESULT ", 1)[1])  # tune.run returned: no "Trials did not complete"
    assert len(interrupted) < 4 or "PENDING" in interrupted.values()

    again = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=90)
    assert again.returncode == 0, again.stderr
    statuses = json.loads(again.stdout.split("RESULT ", 1)[1])
    assert len(statuses) == 4 and set(statuses.values()) == {"TERMINATED"}
    rows = _result_rows(experiment)
    assert len(rows) == 4
    resumed = 0
    for trial_rows in rows.values():
        iterations = [r["training_iteration"] for r in trial_rows]
        assert iterations == list(range(1, len(iterations) + 1))  # each step once, none lost or repeated
        assert len(iterations) in (6, 12)  # ASHA stops at its rung (6) or the trial runs to max_t
        resumed += any(r["iterations_since_restore"] < r["training_iteration"] for r in trial_rows)
    assert resumed >= 1  # at least one trial went on from its checkpoint
    analysis = tune.ExperimentAnalysis(str(experiment))
    assert all(t.resources["cpu"] == 1 for t in analysis.trials)
    assert analysis.best_checkpoint is not None and analysis.best_config["lr"] == analysis.best_trial.config["lr"]
    with open(experiment / "journal.jsonl") as f:
        assert "experiment_restored" in [json.loads(line)["event"] for line in f]


class _Once(tune.Trainable):
    def step(self):
        return {"done": True}


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"checkpoint_config": tune.CheckpointConfig(checkpoint_at_end=True)}, ValueError,
         "Experiment 'x': checkpoint_frequency and checkpoint_at_end work only with class trainables"),
        ({"checkpoint_config": {"checkpoint_frequency": 2}}, ValueError, "Got checkpoint_frequency=2"),
        ({"stop": 3}, ValueError, "stop must be a dict of criteria, a function"),
        ({"stop": [3]}, ValueError, "CombinedStopper"),
        ({"stop": lambda result: True}, TypeError, r"called as fn\(trial_id, result\)"),
        ({"stop": {"acc": "high"}}, ValueError, "the value for 'acc' must be a number"),
        ({"log_to_file": ("a", "b", "c")}, ValueError, "log_to_file"),
        ({"num_samples": 0}, ValueError, r"Experiment 'x': num_samples must be an int >= 1 \(or -1: without end\), got 0"),
        ({"max_failures": "3"}, ValueError, "max_failures must be an int >= -1"),
    ],
)
def test_an_experiment_with_a_bad_spec_is_rejected_at_construction(kwargs, error, message):
    with pytest.raises(error, match=message):
        tune.Experiment("x", climb, **kwargs)


def test_an_experiment_accepts_checkpointing_options_for_class_trainables():
    experiment = tune.Experiment("x", _Once, checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=1, checkpoint_at_end=True))
    assert experiment.checkpoint_config.checkpoint_frequency == 1
    assert tune.Experiment("y", climb, num_samples=-1, stop={"info": {"score": 3}}).num_samples == -1
