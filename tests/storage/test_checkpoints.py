import json
import os

import pytest

import tunesmith as tune


def test_checkpoint_api(tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "weights.txt").write_text("42")
    ckpt = tune.Checkpoint.from_directory(folder)
    assert ckpt.path == str(folder)
    with ckpt.as_directory() as d:
        assert d == str(folder)
    copy = ckpt.to_directory(tmp_path / "copy")
    assert open(os.path.join(copy, "weights.txt")).read() == "42"
    ckpt.set_metadata({"epoch": 3})
    ckpt.update_metadata({"lr": 0.1})
    assert ckpt.get_metadata() == {"epoch": 3, "lr": 0.1}
    assert repr(ckpt) == f"Checkpoint(filesystem=local, path={folder})"
    with pytest.raises(TypeError, match="not a path"):
        os.fspath(ckpt)


def _rows(path):
    with open(os.path.join(path, "result.json")) as f:
        return [json.loads(line) for line in f]


def train_with_checkpoints(config):
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            start = int(open(os.path.join(d, "step")).read())
    for step in range(start, config["steps"]):
        if step == config.get("fail_at") and tune.get_context().get_attempt() == 0:
            raise RuntimeError("planned failure")
        folder = os.path.join(os.getcwd(), f"tmp_ckpt_{step}")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "step"), "w") as f:
            f.write(str(step + 1))
        tune.report({"step": step, "score": -abs(step - 3)}, checkpoint=tune.Checkpoint.from_directory(folder))


def test_report_persists_checkpoints_and_retry_resumes_without_duplicates(run):
    results = run(train_with_checkpoints, {"steps": 6, "fail_at": 4},
                  run_config={"failure_config": tune.FailureConfig(max_failures=1)})
    result = results[0]
    assert result.error is None
    rows = _rows(result.path)
    assert [r["training_iteration"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r["step"] for r in rows] == [0, 1, 2, 3, 4, 5]
    assert rows[0]["checkpoint_dir_name"] == "checkpoint_000000"
    # checkpoint_000004 is skipped: the failed attempt might still have been writing it
    assert result.checkpoint.path.endswith("checkpoint_000006")
    assert "planned failure" in open(os.path.join(result.path, "error.txt")).read()


def test_num_to_keep_by_score_deletes_the_rest(run):
    config = tune.CheckpointConfig(num_to_keep=2, checkpoint_score_attribute="score", checkpoint_score_order="max")
    result = run(train_with_checkpoints, {"steps": 7}, run_config={"checkpoint_config": config})[0]
    kept = sorted(d for d in os.listdir(result.path) if d.startswith("checkpoint_"))
    # best two by score are steps 3 (score 0) and 2 or 4 (score -1); the latest (step 6) is always kept
    assert "checkpoint_000003" in kept and "checkpoint_000006" in kept and len(kept) == 3
    assert [m["step"] for _, m in result.best_checkpoints][-1] == 3
    assert result.get_best_checkpoint("score", "max").path.endswith("checkpoint_000003")


def test_class_trainable_frequency_and_at_end(run):
    class Stepper(tune.Trainable):
        def setup(self, config):
            self.i = 0

        def step(self):
            self.i += 1
            return {"i": self.i, "done": self.i >= 5}

        def save_checkpoint(self, checkpoint_dir):
            return {"i": self.i}

        def load_checkpoint(self, state):
            self.i = state["i"]

    config = tune.CheckpointConfig(checkpoint_frequency=2, num_to_keep=2)
    result = run(Stepper, run_config={"checkpoint_config": config})[0]
    kept = sorted(d for d in os.listdir(result.path) if d.startswith("checkpoint_"))
    assert kept == ["checkpoint_000001", "checkpoint_000002"]  # iterations 4 and 5 (the end), as in Ray


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB tmpfs (needs root, as in CI); skipped where mounting is not allowed."""
    import subprocess

    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    yield str(mount)
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_checkpoint_larger_than_free_space_errors_the_trial(run, small_disk):
    def big_checkpoint(config):
        folder = os.path.join(config["scratch"], "big")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "weights.bin"), "wb") as f:
            f.write(os.urandom(8_000_000))
        tune.report({"x": 1}, checkpoint=tune.Checkpoint.from_directory(folder))

    import tempfile

    results = run(big_checkpoint, {"scratch": tempfile.mkdtemp()}, run_config={"storage_path": small_disk})
    assert results.num_errors == 1
    message = str(results.errors[0])
    assert "could not save checkpoint checkpoint_000000 (8.0 MB)" in message
    assert "No space left on device" in message
    assert not [d for d in os.listdir(results[0].path) if d.startswith("checkpoint_")]


def test_storage_unwritable_mid_run_stops_with_a_clear_error(run, storage):
    import shutil

    def train(config):
        for i in range(10):
            if i == 3:
                trial_dir = tune.get_context().get_trial_dir()
                shutil.rmtree(trial_dir)
                open(trial_dir, "w").close()  # the folder is now a file: every write fails
            tune.report({"i": i})

    with pytest.raises(tune.TuneError, match="cannot write: .*can be restored"):
        run(train)
    from tunesmith.storage import read_journal, replay

    records = read_journal(os.path.join(storage, "exp", "journal.jsonl"))
    assert replay(records).trials  # the journal so far is intact
