import os
import signal

import pytest

import tunesmith as tune


class CustomError(Exception):
    pass


def test_user_exception_comes_back_as_itself(run):
    def train(config):
        if config["x"] == 2:
            raise CustomError(f"bad x {config['x']}")
        return {"ok": 1}

    results = run(train, {"x": tune.grid_search([1, 2, 3])})
    assert results.num_errors == 1 and results.num_terminated == 2
    (error,) = results.errors
    assert type(error) is CustomError and str(error) == "bad x 2"
    failed = [r for r in results if r.error is not None][0]
    text = open(os.path.join(failed.path, "error.txt")).read()
    assert "Failure # 1" in text and "CustomError: bad x 2" in text and "in train" in text
    assert "_runner.py" not in text  # the traceback starts at the user's code
    assert os.path.exists(os.path.join(failed.path, "error.pkl"))


def test_fail_fast_raise_reraises_the_original(run):
    def train(config):
        raise KeyError("missing")

    with pytest.raises(KeyError, match="missing"):
        run(train, run_config={"failure_config": tune.FailureConfig(fail_fast="raise")})


def test_fail_fast_true_stops_the_rest(run):
    import time

    def train(config):
        if config["i"] == 0:
            raise ValueError("first fails")
        time.sleep(30)

    results = run(train, {"i": tune.grid_search([0, 1, 2, 3])}, max_concurrent_trials=2,
                  run_config={"failure_config": tune.FailureConfig(fail_fast=True)})
    assert results.num_errors == 1
    assert len(results) <= 2


@pytest.mark.parametrize(
    "body, expected",
    [
        ("os._exit(3)", "exited with code 3"),
        ("os.kill(os.getpid(), signal.SIGKILL)", "killed by signal SIGKILL"),
        ("import ctypes; ctypes.string_at(0)", "killed by signal SIGSEGV"),
    ],
)
def test_dead_trial_process_is_an_errored_trial(run, body, expected):
    code = compile(body, "<trial>", "exec")

    def train(config):
        if config["die"]:
            exec(code, {"os": os, "signal": signal})
        return {"ok": 1}

    results = run(train, {"die": tune.grid_search([True, False])})
    assert results.num_errors == 1 and results.num_terminated == 1
    error = results.errors[0]
    assert isinstance(error, tune.TuneError) and expected in str(error)


def test_max_failures_retries_in_a_fresh_attempt(run, tmp_path):
    marker = tmp_path / "attempts"

    def flaky(config):
        with open(marker, "a") as f:
            f.write("x")
        if len(marker.read_text()) < 3:
            raise RuntimeError("flaky")
        return {"attempt": tune.get_context().get_attempt()}

    results = run(flaky, run_config={"failure_config": tune.FailureConfig(max_failures=2)})
    assert results.num_errors == 0
    assert results[0].metrics["attempt"] == 2
    assert open(os.path.join(results[0].path, "error.txt")).read().count("Failure #") == 2


def test_a_retry_never_reuses_the_checkpoint_name_a_failed_attempt_may_still_write(run):
    """A lost attempt on a hung host can wake up and finish writing checkpoint N; the
    retry numbers its checkpoints from N + 1, so that folder never replaces one of its own."""
    def train(config):
        import tempfile

        start = tune.get_checkpoint()
        for step in range(2):
            folder = tempfile.mkdtemp()
            tune.report({"step": step, "resumed": start is not None},
                        checkpoint=tune.Checkpoint.from_directory(folder))
        if start is None:
            raise RuntimeError("lost after two checkpoints")

    results = run(train, run_config={"failure_config": tune.FailureConfig(max_failures=1)})
    assert results.num_errors == 0
    names = sorted(d for d in os.listdir(results[0].path) if d.startswith("checkpoint_"))
    assert names == ["checkpoint_000000", "checkpoint_000001", "checkpoint_000003", "checkpoint_000004"]
    assert results[0].checkpoint.path.endswith("checkpoint_000004")


def test_failure_config_validation():
    with pytest.raises(ValueError, match="fail_fast must be"):
        tune.FailureConfig(fail_fast="sometimes")
    with pytest.raises(ValueError, match="cannot be combined"):
        tune.FailureConfig(fail_fast=True, max_failures=2)


def test_traceback_names_the_users_file_and_line(run):
    def train(config):
        values = {}
        return values["missing_key"]  # the line the traceback must show

    results = run(train)
    text = open(os.path.join(results[0].path, "error.txt")).read()
    assert __file__ in text
    assert 'return values["missing_key"]' in text
    notes = "".join(getattr(results.errors[0], "__notes__", []))
    assert "missing_key" in notes and "raised in trial" in notes


def _fails_once_then_its_restore_fails(config):
    """Fails at step 4 (after a checkpoint at 3); its restores fail ``restore_failures`` times."""
    import tempfile

    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        marker = config["marker"]
        failed = int(open(marker).read()) if os.path.exists(marker) else 0
        if failed < config["restore_failures"]:
            open(marker, "w").write(str(failed + 1))
            raise OSError("cannot load the checkpoint")
        with checkpoint.as_directory() as d:
            start = int(open(os.path.join(d, "n")).read())
    for n in range(start + 1, 7):
        if n == 4 and start == 0:
            raise ValueError("fails at 4")
        saved = None
        if n == 3:
            folder = tempfile.mkdtemp()
            open(os.path.join(folder, "n"), "w").write(str(n))
            saved = tune.Checkpoint.from_directory(folder)
        tune.report({"n": n}, checkpoint=saved)


@pytest.mark.parametrize("retry_num, errors", [(None, 1), ("1", 0)])
def test_tune_restore_retry_num_retries_failed_restores_for_free(run, tmp_path, monkeypatch, retry_num, errors):
    if retry_num is not None:
        monkeypatch.setenv("TUNE_RESTORE_RETRY_NUM", retry_num)
    results = run(_fails_once_then_its_restore_fails, {"marker": str(tmp_path / "marker"), "restore_failures": 1},
                  run_config={"failure_config": tune.FailureConfig(max_failures=1)})
    assert results.num_errors == errors
    if not errors:
        assert results[0].metrics["n"] == 6
        assert tune.ExperimentAnalysis(results.experiment_path).trials[0].num_failures == 1


def test_tune_restore_retry_num_must_be_a_whole_number(monkeypatch):
    from tunesmith import _settings

    monkeypatch.setenv("TUNE_RESTORE_RETRY_NUM", "-1")
    with pytest.raises(ValueError, match="TUNE_RESTORE_RETRY_NUM must be a whole number >= 0, got -1"):
        _settings.restore_retry_num()
