import json
import os
import tempfile

import pytest

import tunesmith as tune
from tunesmith.logger import LoggerCallback

TRIAL_HOOKS = ("on_trial_start", "on_trial_restore", "on_trial_result", "on_checkpoint", "on_trial_save",
               "on_trial_complete", "on_trial_recover", "on_trial_error")


class Recorder(tune.Callback):
    """Records (hook, trial status, extra) for every hook, in order."""

    def __init__(self):
        self.calls = []
        self.setup_args = None
        self.steps = []

    def setup(self, stop=None, num_samples=None, total_num_samples=None, **info):
        self.setup_args = {"stop": stop, "num_samples": num_samples, "total_num_samples": total_num_samples, **info}
        self.calls.append(("setup", None))

    def on_step_begin(self, iteration, trials, **info):
        self.steps.append(iteration)

    def on_experiment_end(self, trials, **info):
        self.calls.append(("on_experiment_end", len(trials)))

    def hooks(self):
        return [name for name, _ in self.calls]


def _recording(hook):
    def record(self, iteration, trials, trial, **info):
        extra = info.get("result", {}).get("training_iteration") if hook == "on_trial_result" else trial.status.value
        self.calls.append((hook, extra))

    return record


for _hook in TRIAL_HOOKS:
    setattr(Recorder, _hook, _recording(_hook))


def checkpoint_of(step):
    folder = tempfile.mkdtemp()
    with open(os.path.join(folder, "step.json"), "w") as f:
        json.dump({"step": step}, f)
    return tune.Checkpoint.from_directory(folder)


def step_of(checkpoint):
    with open(os.path.join(checkpoint.path, "step.json")) as f:
        return json.load(f)["step"]


def two_reports_then_checkpoint(config):
    tune.report({"score": 1})
    tune.report({"score": 2}, checkpoint=checkpoint_of(2))


def test_hooks_fire_in_ray_tunes_order(run):
    recorder = Recorder()
    run(two_reports_then_checkpoint, run_config={"callbacks": [recorder], "stop": {"score": 10}}, num_samples=1)
    assert recorder.calls == [
        ("setup", None),
        ("on_trial_start", "RUNNING"),
        ("on_trial_result", 1),
        ("on_trial_result", 2),
        ("on_checkpoint", "RUNNING"),
        ("on_trial_save", "RUNNING"),
        ("on_trial_complete", "TERMINATED"),
        ("on_experiment_end", 1),
    ]
    assert recorder.setup_args["stop"] == {"score": 10}
    assert recorder.setup_args["num_samples"] == 1 and recorder.setup_args["total_num_samples"] == 1
    assert "time_budget_s" in recorder.setup_args
    assert recorder.steps == sorted(recorder.steps) and recorder.steps[0] == 1


def test_retry_calls_recover_then_start_and_final_failure_calls_error(run):
    def always_fails(config):
        tune.report({"score": 1})
        raise RuntimeError("boom")

    recorder = Recorder()
    run(always_fails, run_config={"callbacks": [recorder], "failure_config": tune.FailureConfig(max_failures=1)})
    trial_calls = [c for c in recorder.calls if c[0] in TRIAL_HOOKS]
    assert trial_calls == [
        ("on_trial_start", "RUNNING"),
        ("on_trial_result", 1),
        ("on_trial_recover", "PENDING"),
        ("on_trial_start", "RUNNING"),
        ("on_trial_result", 1),
        ("on_trial_error", "ERROR"),
    ]
    assert recorder.hooks()[-1] == "on_experiment_end"


def test_a_retry_that_resumes_from_a_checkpoint_calls_restore(run, tmp_path):
    marker = tmp_path / "failed_once"

    def resumable(config):
        start = step_of(tune.get_checkpoint()) if tune.get_checkpoint() else 0
        for step in range(start + 1, 4):
            tune.report({"step": step}, checkpoint=checkpoint_of(step))
            if step == 2 and not marker.exists():
                marker.write_text("x")
                raise RuntimeError("first attempt fails after step 2")

    recorder = Recorder()
    (result,) = run(resumable, run_config={"callbacks": [recorder],
                                           "failure_config": tune.FailureConfig(max_failures=1)})
    assert result.metrics["step"] == 3
    hooks = [c[0] for c in recorder.calls if c[0] in TRIAL_HOOKS]
    retry = hooks.index("on_trial_recover")
    assert "on_trial_restore" not in hooks[:retry]
    assert hooks[retry:retry + 3] == ["on_trial_recover", "on_trial_start", "on_trial_restore"]
    assert hooks[-1] == "on_trial_complete"


def test_a_callback_may_change_the_result_for_later_callbacks(run):
    class AddKey(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            result["added"] = result["score"] * 10

    class Seen(LoggerCallback):
        def __init__(self):
            self.values = []

        def log_trial_result(self, iteration, trial, result):
            self.values.append(result.get("added"))

    seen = Seen()
    run(two_reports_then_checkpoint, run_config={"callbacks": [AddKey(), seen]})
    assert seen.values == [10, 20]


def test_something_that_is_not_a_callback_is_refused_by_name(run):
    class NotACallback:
        def on_trial_result(self, *args, **kwargs):
            pass

    with pytest.raises(TypeError, match="callbacks must be tunesmith.Callback instances, got NotACallback"):
        run(two_reports_then_checkpoint, run_config={"callbacks": [NotACallback()]})


class Broken(tune.Callback):
    armed = True  # class-level: the restored (unpickled) callback reads it too

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if Broken.armed:
            raise KeyError("missing")


def test_an_error_in_a_callback_is_the_users_own_exception(run, storage):
    # Ray Tune re-raises the callback's exception itself, not wrapped in TuneError
    with pytest.raises(KeyError, match="missing") as caught:
        run(two_reports_then_checkpoint, run_config={"callbacks": [Broken()]})
    assert not isinstance(caught.value, tune.TuneError)
    assert "raised in callback Broken.on_trial_result" in caught.value.__notes__
    assert any(entry.name == "on_trial_result" for entry in caught.traceback)  # the user's traceback
    # the experiment state was saved on the way out: a restore finishes the trial
    Broken.armed = False
    restored = tune.Tuner.restore(os.path.join(storage, "exp"), two_reports_then_checkpoint).fit()
    assert restored[0].metrics["training_iteration"] == 2
