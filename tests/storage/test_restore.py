import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

import tunesmith as tune

HERE = os.path.dirname(os.path.abspath(__file__))


def _rows(path):
    with open(os.path.join(path, "result.json")) as f:
        return [json.loads(line) for line in f]


def counting(config):
    """Counts to config["steps"], a checkpoint every 3 steps; resumes from its checkpoint."""
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            start = int(open(os.path.join(d, "n")).read())
    for n in range(start + 1, config["steps"] + 1):
        time.sleep(config.get("sleep", 0))
        if config.get("fail") and n == 4:
            raise ValueError("fails at 4")
        checkpoint = None
        if n % 3 == 0:
            folder = os.path.join(os.getcwd(), f"scratch_{n}")
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, "n"), "w") as f:
                f.write(str(n))
            checkpoint = tune.Checkpoint.from_directory(folder)
        tune.report({"n": n}, checkpoint=checkpoint)


def assert_each_step_once(results, steps):
    for result in results:
        rows = _rows(result._local_path or result.path)
        assert [r["n"] for r in rows] == list(range(1, steps + 1)), result.path
        assert [r["training_iteration"] for r in rows] == list(range(1, steps + 1))


def test_restore_after_ctrl_c_resumes_from_checkpoints(tmp_path):
    script = tmp_path / "exp.py"
    script.write_text(
        "import sys\nsys.path.insert(0, %r)\n" % HERE
        + "import tunesmith as tune\nfrom test_restore import counting\n"
        "tune.Tuner(counting, param_space={'steps': 40, 'sleep': 0.05, 'x': tune.grid_search([1, 2])},\n"
        "           run_config=tune.RunConfig(storage_path=sys.argv[1], name='exp')).fit()\n"
    )
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE, text=True)
    _wait_for_rows(tmp_path / "exp", 8)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert "Tuner.restore(" in out
    path = str(tmp_path / "exp")
    assert tune.Tuner.can_restore(path)
    results = tune.Tuner.restore(path, counting).fit()
    assert results.num_terminated == 2 and results.num_errors == 0
    assert_each_step_once(results, 40)


def _wait_for_rows(exp, n, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = []
        for name in os.listdir(exp) if exp.exists() else []:
            result = exp / name / "result.json"
            if result.exists():
                counts.append(len(result.read_text().splitlines()))
        if len(counts) >= 1 and min(counts) >= n:
            return
        time.sleep(0.02)
    raise AssertionError("the experiment did not get going")


@pytest.mark.slow
@pytest.mark.parametrize("kill_after_rows", [0, 4, 11])
def test_restore_after_kill_9_loses_nothing(tmp_path, kill_after_rows):
    script = tmp_path / "exp.py"
    script.write_text(
        "import sys\nsys.path.insert(0, %r)\n" % HERE
        + "import tunesmith as tune\nfrom test_restore import counting\n"
        "tune.Tuner(counting, param_space={'steps': 15, 'sleep': 0.03, 'x': tune.grid_search([1, 2, 3])},\n"
        "           tune_config=tune.TuneConfig(max_concurrent_trials=2),\n"
        "           run_config=tune.RunConfig(storage_path=sys.argv[1], name='exp', verbose=0)).fit()\n"
    )
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)])
    if kill_after_rows:
        _wait_for_rows(tmp_path / "exp", kill_after_rows)
    else:
        deadline = time.monotonic() + 20
        while not (tmp_path / "exp" / "journal.jsonl").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    proc.kill()
    proc.wait()
    results = tune.Tuner.restore(str(tmp_path / "exp"), counting).fit()
    assert len(results) == 3 and results.num_terminated == 3
    assert_each_step_once(results, 15)


def test_restore_errored_trials(run, storage):
    first = run(counting, {"steps": 6, "fail": tune.grid_search([False, True])})
    assert first.num_errors == 1
    path = first.experiment_path
    kept = tune.Tuner.restore(path, counting).get_results()
    assert kept.num_errors == 1 and kept.num_terminated == 1

    copy = path + "_copy"
    shutil.copytree(path, copy)  # a copied folder restores too: paths are relative
    restarted = tune.Tuner.restore(copy, counting, restart_errored=True).fit()
    assert restarted.num_errors == 1  # it fails at 4 again, as a new trial
    ids = {r.metrics.get("trial_id") for r in restarted}
    assert len(ids) == 2 and not ids & {r.metrics.get("trial_id") for r in first if r.error is not None}

    resumed = tune.Tuner.restore(path, counting, resume_errored=True).fit()
    errored = [r for r in resumed if r.config["fail"]][0]
    assert "fails at 4" in open(os.path.join(errored.path, "error.txt")).read()
    assert [r["n"] for r in _rows(errored.path)][:3] == [1, 2, 3]


def test_restore_with_more_samples(run):
    first = run(counting, {"steps": 3, "x": tune.uniform(0, 1)}, num_samples=2)
    more = tune.Tuner.restore(first.experiment_path, counting, num_samples=5).fit()
    assert len(more) == 5 and more.num_terminated == 5
    journal = [json.loads(line) for line in open(os.path.join(first.experiment_path, "journal.jsonl"))]
    assert any(r["event"] == "experiment_restored" and r["changes"] == {"num_samples": 5} for r in journal)


def test_restore_bad_inputs(run, tmp_path):
    with pytest.raises(ValueError, match="is not a tunesmith experiment folder: it has no experiment.pkl"):
        tune.Tuner.restore(str(tmp_path), counting)
    first = run(counting, {"steps": 2})

    def other(config):
        pass

    with pytest.raises(ValueError, match="ran the trainable 'counting', not 'other'"):
        tune.Tuner.restore(first.experiment_path, other)
    with pytest.raises(ValueError, match="same keys"):
        tune.Tuner.restore(first.experiment_path, counting, param_space={"other": 1})


def test_truncated_journal_line_is_skipped(run, caplog):
    first = run(counting, {"steps": 3, "x": tune.grid_search([1, 2])})
    journal = os.path.join(first.experiment_path, "journal.jsonl")
    with open(journal, "a") as f:
        f.write('{"event": "trial_fini')  # a crash mid-write
    results = tune.Tuner.restore(first.experiment_path, counting).fit()
    assert results.num_terminated == 2
    assert "incomplete or corrupt" in caplog.text


def test_vanished_checkpoint_falls_back_to_the_one_before(run, tmp_path):
    script = tmp_path / "exp.py"
    script.write_text(
        "import sys\nsys.path.insert(0, %r)\n" % HERE
        + "import tunesmith as tune\nfrom test_restore import counting\n"
        "tune.Tuner(counting, param_space={'steps': 30, 'sleep': 0.05},\n"
        "           run_config=tune.RunConfig(storage_path=sys.argv[1], name='exp', verbose=0)).fit()\n"
    )
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)])
    _wait_for_rows(tmp_path / "exp", 10)
    proc.kill()
    proc.wait()
    trial_dir = [d for d in (tmp_path / "exp").iterdir() if d.is_dir()][0]
    checkpoints = sorted(d for d in trial_dir.iterdir() if d.name.startswith("checkpoint_"))
    shutil.rmtree(checkpoints[-1])
    results = tune.Tuner.restore(str(tmp_path / "exp"), counting).fit()
    assert_each_step_once(results, 30)


def test_file_url_storage_and_restore(tmp_path):
    url = f"file://{tmp_path}/runs"
    first = tune.Tuner(counting, param_space={"steps": 4},
                       run_config=tune.RunConfig(storage_path=url, name="exp", verbose=0)).fit()
    assert first.num_terminated == 1
    assert os.path.exists(os.path.join(tmp_path, "runs", "exp", "journal.jsonl"))
    assert [r["n"] for r in _rows(first[0].path)] == [1, 2, 3, 4]
    restored = tune.Tuner.restore(f"{url}/exp", counting).get_results()
    assert restored.num_terminated == 1


@pytest.mark.slow
@pytest.mark.parametrize("space, num_samples", [({"x": tune.uniform(0, 1)}, 6), ({"x": tune.grid_search(list(range(6)))}, 1)])
def test_ctrl_c_then_the_printed_restore_creates_the_trials_not_created_yet(tmp_path, space, num_samples):
    script = tmp_path / "exp.py"
    script.write_text(
        "import sys, cloudpickle\nsys.path.insert(0, %r)\n" % HERE
        + "import tunesmith as tune\nfrom test_restore import counting\n"
        "tune.init(num_cpus=1)\n"  # one trial at a time: the others are created later, or never
        "space = cloudpickle.loads(bytes.fromhex(sys.argv[2]))\n"
        "tune.Tuner(counting, param_space={'steps': 10, 'sleep': 0.05, **space},\n"
        "           tune_config=tune.TuneConfig(num_samples=int(sys.argv[3])),\n"
        "           run_config=tune.RunConfig(storage_path=sys.argv[1], name='exp')).fit()\n"
    )
    import cloudpickle

    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path), cloudpickle.dumps(space).hex(), str(num_samples)],
                            stdout=subprocess.PIPE, text=True)
    _wait_for_rows(tmp_path / "exp", 3)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    path = str(tmp_path / "exp")
    # One status everywhere: the final table, ExperimentAnalysis and get_results() agree.
    analysis = tune.ExperimentAnalysis(path)
    statuses = sorted(t.status.value for t in analysis.trials)
    assert "PENDING" in statuses and len(statuses) < 6
    counts = ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses)))
    assert f"Finished: {len(statuses)} trials ({counts})" in out
    saved = tune.Tuner.restore(path, counting).get_results()
    assert sorted(saved._statuses) == statuses
    results = tune.Tuner.restore(path, counting).fit()
    assert len(results) == 6 and results.num_terminated == 6
    assert_each_step_once(results, 10)


def test_num_samples_on_restore_is_a_total(run):
    first = run(counting, {"steps": 1, "x": tune.uniform(0, 1)}, num_samples=2)
    sizes = [len(tune.Tuner.restore(first.experiment_path, counting, num_samples=3).fit()) for _ in range(3)]
    assert sizes == [3, 3, 3]
    with pytest.raises(ValueError, match="num_samples on restore is the new total number of samples, which can only "
                                         "grow: it is 3, got 2"):
        tune.Tuner.restore(first.experiment_path, counting, num_samples=2)


@pytest.mark.parametrize("flags", [{}, {"resume_errored": True}, {"restart_errored": True}])
def test_get_results_before_fit_shows_errored_trials_whatever_the_flags(run, flags):
    first = run(counting, {"steps": 6, "fail": tune.grid_search([False, True])})
    saved = tune.Tuner.restore(first.experiment_path, counting, **flags).get_results()
    assert len(saved) == 2 and saved.num_errors == 1 and saved.num_terminated == 1
    assert [str(e) for e in saved.errors] == ["fails at 4"]


_OPENED: list[str] | None = None  # paths opened or listed in this process while a test records them


def _audit(event, args):
    if _OPENED is not None and event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], str):
        _OPENED.append(os.path.abspath(args[0]))


def _record_opens():
    """Start recording the paths this process opens or lists (one audit hook for the session)."""
    global _OPENED
    if _OPENED is None and not getattr(sys, "_tunesmith_test_audit", False):
        sys.addaudithook(_audit)  # hooks cannot be removed: it records only while _OPENED is a list
        sys._tunesmith_test_audit = True
    _OPENED = []


def _stop_recording():
    global _OPENED
    opened, _OPENED = _OPENED, None
    return opened


def ends_once_allowed(config):
    if config["x"] == 3 and not os.path.exists(config["allowed"]):
        raise ValueError("not allowed yet")
    return {"x": config["x"], "score": float(config["x"])}


@pytest.mark.parametrize("journal_has_results", [True, False])
def test_restore_reads_only_the_folders_of_trials_that_run_again(run, tmp_path, journal_has_results):
    allowed = str(tmp_path / "allowed")
    first = run(ends_once_allowed, {"x": tune.grid_search(list(range(8))), "allowed": allowed}, metric="score",
                mode="max")
    assert first.num_errors == 1
    path = first.experiment_path
    if not journal_has_results:  # as a journal written before trial_finished carried the last result
        journal = os.path.join(path, "journal.jsonl")
        records = [json.loads(line) for line in open(journal)]
        with open(journal, "w") as f:
            f.writelines(json.dumps({k: v for k, v in r.items() if k != "result"}) + "\n" for r in records)
    folders = {os.path.abspath(r.path) for r in first}
    errored = next(os.path.abspath(r.path) for r in first if r.error is not None)
    open(allowed, "w").close()

    _record_opens()
    try:
        tuner = tune.Tuner.restore(path, ends_once_allowed, resume_errored=True)
        results = tuner.fit()
    finally:
        opened = _stop_recording()

    read = {folder for folder in folders if any(p == folder or p.startswith(folder + os.sep) for p in opened)}
    # Finished trials become stand-ins from the journal; the errored one is rebuilt and runs
    # again. From a journal without the last results, each folder is read, as before.
    assert len(folders) == 8 and read == ({errored} if journal_has_results else folders)
    assert results.num_errors == 0 and results.num_terminated == 8
    assert sorted(r.metrics["x"] for r in results) == list(range(8))
    assert results.get_best_result().config["x"] == 7
    # done as the trial ended (the journal's result); result.json's last row was written before
    assert all(r.metrics["done"] for r in results) == journal_has_results
    frame = results.get_dataframe()
    assert sorted(frame["score"]) == [float(x) for x in range(8)]
    assert all(len(r.metrics_dataframe) == 1 for r in results)


class _KeepFirstSearchState(tune.Callback):
    """Copies the searcher's state file as saved before the first trial was created."""

    def __init__(self, folder):
        self.folder = folder

    def on_step_begin(self, iteration, trials, **info):
        source = os.path.join(self.folder, "basic-variant-state-latest.json")
        if iteration == 1 and not os.path.exists(source + ".first"):
            shutil.copy(source, source + ".first")


def test_restore_with_a_search_state_older_than_its_finished_trials_ends(run, storage):
    # As after a kill -9 before the searcher's state was saved again: the restored search makes
    # the finished trials again and, with max_concurrent_trials, waited for them for ever.
    folder = os.path.join(storage, "exp")
    first = run(ends_once_allowed, {"x": tune.grid_search(list(range(5))), "allowed": ""}, max_concurrent_trials=2,
                run_config={"callbacks": [_KeepFirstSearchState(folder)]})
    assert first.num_errors == 1  # x=3
    state = os.path.join(folder, "basic-variant-state-latest.json")
    os.replace(state + ".first", state)
    results = tune.Tuner.restore(folder, ends_once_allowed).fit()
    assert len(results) == 5 and results.num_errors == 1 and results.num_terminated == 4
