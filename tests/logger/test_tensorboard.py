import logging
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import importlib.util

import tunesmith as tune
from tunesmith.logger import TBXLoggerCallback

from _tbx_events import event_files, read_events, scalars, tags_of_kind, tags_with_plugin

# Trainables defined here are unpickled by importing this module in trial processes: keep heavy
# libraries out of its top level.
pytestmark = pytest.mark.skipif(importlib.util.find_spec("tensorboardX") is None, reason="needs tensorboardX")


def trial_dirs(results):
    return sorted(r.path for r in results)


def reports_three(config):
    for i in range(3):
        tune.report({"score": config["a"] * (i + 1), "nested": {"x": 0.5}})


def test_scalars_use_ray_names_and_training_iteration_steps(run):
    results = run(reports_three, {"a": tune.grid_search([1, 2])}, run_config={"callbacks": [TBXLoggerCallback()]})
    for result in results:
        found = scalars(result.path)
        a = result.config["a"]
        assert found["ray/tune/score"] == [(1, a), (2, 2 * a), (3, 3 * a)]
        assert found["ray/tune/nested/x"] == [(1, 0.5), (2, 0.5), (3, 0.5)]
        for skipped in ("config", "pid", "timestamp", "time_total_s", "training_iteration"):
            assert not any(tag == f"ray/tune/{skipped}" or tag.startswith(f"ray/tune/{skipped}/") for tag in found)


def test_timesteps_total_is_the_step_when_reported(run):
    def train(config):
        for i in range(3):
            tune.report({"loss": 1.0 / (i + 1), "timesteps_total": 100 * (i + 1)})

    (result,) = run(train)
    assert [step for step, _ in scalars(result.path)["ray/tune/loss"]] == [100, 200, 300]


def test_hparams_are_written_when_the_trial_ends(run):
    from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData

    results = run(reports_three, {"a": tune.grid_search([3]), "act": tune.choice(["relu"])})
    path = results[0].path
    assert tags_with_plugin(path, "hparams") == [
        "_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"]
    start = next(v for f in event_files(path) for e in read_events(f) for v in e.summary.value
                 if v.tag == "_hparams_/session_start_info")
    data = HParamsPluginData.FromString(start.metadata.plugin_data.content)
    assert data.session_start_info.hparams["a"].number_value == 3
    assert data.session_start_info.hparams["act"].string_value == "relu"
    plugin = {v.tag: HParamsPluginData.FromString(v.metadata.plugin_data.content)
              for f in event_files(path) for e in read_events(f) for v in e.summary.value
              if v.metadata.plugin_data.plugin_name == "hparams"}
    experiment = plugin["_hparams_/experiment"].experiment
    assert sorted(info.name for info in experiment.hparam_infos) == ["a", "act"]
    assert "ray/tune/score" in [m.name.tag for m in experiment.metric_infos]
    assert plugin["_hparams_/session_end_info"].session_end_info.status == 1  # STATUS_SUCCESS


def test_hparams_match_what_tensorboardx_writes_and_mark_failed_trials():
    from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData
    from tensorboardX.proto.summary_pb2 import Summary
    from tensorboardX.summary import hparams

    from tunesmith.logger._tfevents import hparams_summaries

    params = {"lr": 0.1, "layers": 3, "act": "relu", "bn": True}
    ours = [Summary.FromString(b).value[0] for b in hparams_summaries(params, ["ray/tune/loss"], success=False)]
    theirs = [s.value[0] for s in hparams(params, {"ray/tune/loss": 0.0})]
    assert [v.tag for v in ours] == [v.tag for v in theirs]
    for mine, reference in zip(ours, theirs):
        assert mine.metadata.plugin_data.plugin_name == reference.metadata.plugin_data.plugin_name == "hparams"
        a = HParamsPluginData.FromString(mine.metadata.plugin_data.content)
        b = HParamsPluginData.FromString(reference.metadata.plugin_data.content)
        assert a.version == b.version
        assert dict(a.session_start_info.hparams) == dict(b.session_start_info.hparams)
        assert [(i.name, i.type) for i in a.experiment.hparam_infos] == [(i.name, i.type) for i in b.experiment.hparam_infos]
        assert [m.name.tag for m in a.experiment.metric_infos] == [m.name.tag for m in b.experiment.metric_infos]
    end = HParamsPluginData.FromString(ours[2].metadata.plugin_data.content).session_end_info
    assert end.status == 2  # STATUS_FAILURE


def test_a_failed_trial_ends_its_hparams_session_as_failed(run):
    from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData

    def fails(config):
        tune.report({"score": 1.0})
        raise RuntimeError("no")

    (result,) = run(fails, {"a": 1})
    end = next(v for f in event_files(result.path) for e in read_events(f) for v in e.summary.value
               if v.tag == "_hparams_/session_end_info")
    assert HParamsPluginData.FromString(end.metadata.plugin_data.content).session_end_info.status == 2


def test_values_tensorboard_cannot_take_are_skipped_with_one_warning_per_key(run, caplog):
    def train(config):
        for i in range(3):
            tune.report({"score": float(i), "phase": "warmup", "nan": float("nan"), "inf": float("inf"),
                         "hist": [1.0, 2.0, 3.0 + i], "words": ["a", "b"], "image": np.zeros((3, 4, 4)),
                         "nested": {"deep": {"v": i}}})

    with caplog.at_level(logging.WARNING, logger="tunesmith"):
        (result,) = run(train, run_config={"callbacks": [TBXLoggerCallback()]})
    assert result.error is None and result.metrics["training_iteration"] == 3
    found = scalars(result.path)
    assert [v for _, v in found["ray/tune/nan"]] == [pytest.approx(float("nan"), nan_ok=True)] * 3
    assert found["ray/tune/inf"][0][1] == float("inf")
    assert found["ray/tune/nested/deep/v"] == [(1, 0), (2, 1), (3, 2)]
    assert "ray/tune/phase" not in found
    assert tags_of_kind(result.path, "histo").count("ray/tune/hist") == 3
    assert tags_of_kind(result.path, "image").count("ray/tune/image") == 3
    warnings = [r.getMessage() for r in caplog.records if "TBXLoggerCallback" in r.getMessage()]
    assert len([w for w in warnings if "'phase'" in w]) == 1
    assert len([w for w in warnings if "'words'" in w]) == 1
    assert not [w for w in warnings if "'trial_id'" in w or "'date'" in w or "'hostname'" in w]


def test_each_restart_writes_a_new_events_file(run, tmp_path):
    marker = tmp_path / "failed_once"

    def flaky(config):
        tune.report({"score": 1.0})
        if not marker.exists():
            marker.write_text("x")
            raise RuntimeError("first attempt fails")
        tune.report({"score": 2.0})

    (result,) = run(flaky, run_config={"failure_config": tune.FailureConfig(max_failures=1)})
    assert result.error is None
    files = event_files(result.path)
    assert len(files) == 2
    assert [v for _, v in scalars(result.path)["ray/tune/score"]] == [1.0, 1.0, 2.0]


def test_default_loggers_include_tensorboard(run):
    (result,) = run(reports_three, {"a": 1})
    assert event_files(result.path)
    assert {"result.json", "progress.csv", "params.json"} <= set(os.listdir(result.path))


def test_one_setting_turns_every_default_logger_off(run, monkeypatch):
    monkeypatch.setenv("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    (result,) = run(reports_three, {"a": 1})
    assert result.metrics["score"] == 3
    assert not event_files(result.path)
    assert not {"result.json", "progress.csv", "params.json"} & set(os.listdir(result.path))


WITHOUT_TENSORBOARDX = textwrap.dedent("""
    import glob, logging, os, sys, tempfile
    sys.modules["tensorboardX"] = None  # as if it were not installed
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    import tunesmith as tune

    def train(config):
        for i in range(2):
            tune.report({"x": 1.5, "hist": [1.0, 2.0]})

    for _ in range(2):
        (result,) = tune.Tuner(train, run_config=tune.RunConfig(
            storage_path=tempfile.mkdtemp(), name="e", verbose=0)).fit()
        (events,) = glob.glob(os.path.join(result.path, "events.out.tfevents.*"))
        data = open(events, "rb").read()
        print("scalar written:", b"ray/tune/x" in data, "histogram written:", b"ray/tune/hist" in data)
    print("torch loaded:", "torch" in sys.modules)
""")


def test_without_tensorboardx_scalars_are_still_written_and_histograms_warn_once():
    out = subprocess.run([sys.executable, "-c", WITHOUT_TENSORBOARDX], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("scalar written: True histogram written: False") == 2
    assert "torch loaded: False" in out.stdout
    warnings = [line for line in out.stderr.splitlines() if "tensorboardX" in line]
    assert len(warnings) == 1, out.stderr  # once per process
    assert warnings[0].startswith("WARNING") and 'pip install "tunesmith[tensorboard]"' in warnings[0]


TBX_WITHOUT_TORCH = textwrap.dedent("""
    import importlib.util, sys, time
    from tunesmith.logger._tensorboard import _import_tensorboardx
    start = time.monotonic()
    tbx = _import_tensorboardx()
    print("torch loaded:", "torch" in sys.modules)
    print("torch importable:", importlib.util.find_spec("torch") is not None)
    print("writer:", tbx.RecordWriter.__name__)
""")


def test_tensorboardx_is_imported_without_loading_torch():
    pytest.importorskip("torch")
    out = subprocess.run([sys.executable, "-c", TBX_WITHOUT_TORCH], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "torch loaded: False" in out.stdout and "torch importable: True" in out.stdout
    assert "writer: RecordWriter" in out.stdout



def _resumable(config):
    """Counts to 6 with a checkpoint at 3; the first attempt, without a checkpoint, fails after reporting 4."""
    import tempfile

    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            start = int(open(os.path.join(d, "n")).read())
    for n in range(start + 1, 7):
        if n == 5 and start == 0:
            raise RuntimeError("fails at 5")
        saved = None
        if n == 3:
            folder = tempfile.mkdtemp()
            open(os.path.join(folder, "n"), "w").write("3")
            saved = tune.Checkpoint.from_directory(folder)
        tune.report({"n": float(n)}, checkpoint=saved)


def _as_tensorboard_shows(folder, tag):
    """Steps of ``tag`` over the trial's files, dropping what a SessionLog START purges (TensorBoard's rule)."""
    from tensorboardX.proto.event_pb2 import SessionLog

    seen = []
    for path in event_files(folder):
        for event in read_events(path):
            if event.HasField("session_log") and event.session_log.status == SessionLog.START:
                seen = [(step, value) for step, value in seen if step < event.step]
            for value in event.summary.value:
                if value.tag == tag:
                    seen.append((event.step, value.simple_value))
    return seen


def test_a_restored_trial_starts_its_new_events_file_with_a_purge_marker(run):
    first = run(_resumable)
    assert first.num_errors == 1
    (restored,) = tune.Tuner.restore(first.experiment_path, _resumable, resume_errored=True).fit()
    assert restored.error is None
    files = event_files(restored.path)
    assert len(files) == 2
    marker = [e for e in read_events(files[1]) if e.HasField("session_log")]
    assert [(e.step, e.session_log.status) for e in marker] == [(4, 1)]  # START at the step it resumes from
    assert _as_tensorboard_shows(restored.path, "ray/tune/n") == [(n, float(n)) for n in range(1, 7)]
