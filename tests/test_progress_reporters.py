import io
import logging
import os
import re

import pytest

import tunesmith as tune
from tunesmith._progress import Progress, summarize_traceback
from tunesmith.experiment import Trial, TrialStatus
from tunesmith.progress_reporter import CLIReporter, JupyterNotebookReporter, ProgressReporter


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def make_trial(i, status="TERMINATED", **result):
    trial = Trial("train", trial_id=f"abc_{i:05d}", config={"lr": 0.1 * i, "opt": {"name": "sgd"}},
                  evaluated_params={"lr": 0.1 * i})
    trial.status = TrialStatus(status)
    trial.last_result = {"training_iteration": 3, "time_total_s": 1.5, **result}
    trial.path = f"/results/exp/train_abc_{i:05d}"
    return trial


def render(reporter, trials, done=False):
    """What a CLIReporter prints for ``trials`` (a plain stream: no redrawing)."""
    stream = io.StringIO()
    Progress(1, stream=stream, reporter=reporter)  # attaches the reporter to the stream
    reporter.report(trials, done, "Result logdir: /results/exp")
    return stream.getvalue()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_progress_rows": 0}, ValueError, "max_progress_rows must be an integer >= 1, got 0"),
        ({"max_error_rows": "5"}, ValueError, "max_error_rows must be an integer >= 1, got '5'"),
        ({"max_column_length": 2}, ValueError, "max_column_length must be an integer >= 4, got 2"),
        ({"max_report_frequency": -1}, ValueError, "max_report_frequency must be a number of seconds >= 0"),
        ({"infer_limit": -1}, ValueError, "infer_limit must be an integer >= 0, got -1"),
        ({"mode": "up"}, ValueError, "mode must be 'min', 'max' or None, got 'up'"),
        ({"metric_columns": "loss"}, TypeError, "metric_columns must be a list of keys or a dict"),
        ({"parameter_columns": {"lr": 1}}, TypeError, "parameter_columns must map result keys to column names"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs, error, match):
    with pytest.raises(error, match=match):
        CLIReporter(**kwargs)


def test_columns_can_be_added_once():
    reporter = CLIReporter(metric_columns=["loss"])
    reporter.add_metric_column("acc", "accuracy")
    reporter.add_parameter_column("lr", "learning rate")
    with pytest.raises(ValueError, match="column 'acc' is already shown"):
        reporter.add_metric_column("acc")
    text = render(reporter, [make_trial(1, loss=0.5, acc=0.9)])
    assert "accuracy" in text and "learning rate" in text and "loss" in text


def test_reporter_metric_conflicting_with_the_experiment_is_refused():
    reporter = CLIReporter(metric="loss", mode="min")
    assert reporter.set_search_properties("loss", "min")
    with pytest.raises(ValueError, match="the progress reporter has metric='loss'.*set them in TuneConfig or in the"):
        reporter.set_search_properties("acc", "max")


def test_the_tuner_refuses_a_reporter_whose_metric_differs_from_the_experiments(run):
    reporter = CLIReporter(metric="loss", mode="min")
    with pytest.raises(ValueError, match="the progress reporter has metric='loss'"):
        run(lambda config: {"score": 1}, metric="score", mode="max", run_config={"progress_reporter": reporter})


def test_should_report_respects_the_frequency_and_always_reports_the_end():
    reporter = CLIReporter(max_report_frequency=1000)
    assert reporter.should_report([], done=False)
    assert not reporter.should_report([], done=False)
    assert reporter.should_report([], done=True)


def test_default_columns_show_only_what_trials_report_plus_inferred_metrics():
    text = render(CLIReporter(infer_limit=2), [make_trial(1, mean_loss=0.25, custom=7, other=8, third=9, word="x")])
    header = next(line for line in text.splitlines() if line.startswith("| Trial name"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert columns == ["Trial name", "status", "lr", "loss", "iter", "total time (s)", "custom", "other"]


def test_many_trials_keep_running_ones_and_count_the_hidden():
    trials = [make_trial(i, score=i) for i in range(6)] + [make_trial(6, "RUNNING", score=1), make_trial(7, "PENDING")]
    text = render(CLIReporter(max_progress_rows=3, metric_columns=["score"]), trials)
    rows = [line for line in text.splitlines() if line.startswith("| train_")]
    assert [row.split("|")[2].strip() for row in rows] == ["TERMINATED", "RUNNING", "PENDING"]
    assert "... 5 more trials not shown (5 TERMINATED)" in text


def test_sort_by_metric_lists_finished_trials_best_first():
    trials = [make_trial(i, score=s) for i, s in enumerate([3.0, 1.0, 2.0])] + [make_trial(3, "RUNNING", score=9.0)]
    reporter = CLIReporter(metric="score", mode="min", sort_by_metric=True, metric_columns=["score"])
    text = render(reporter, trials)
    names = re.findall(r"\| (train_abc_\d+)", text)
    assert names == ["train_abc_00003", "train_abc_00001", "train_abc_00002", "train_abc_00000"]
    assert "Current best trial: abc_00001 with score=1" in text


def test_long_headers_and_values_are_cut_to_max_column_length():
    reporter = CLIReporter(metric_columns={"a_really_long_metric_name": "a_really_long_metric_name"},
                           parameter_columns=["opt/name"], max_column_length=8)
    trial = make_trial(1, a_really_long_metric_name=1.0)
    trial.config["opt"]["name"] = "adam_with_warmup"
    text = render(reporter, [trial])
    assert "a_rea..." in text and "adam_..." in text and "adam_with_warmup" not in text


def test_errored_trials_get_their_own_table_with_the_error_file():
    trial = make_trial(2, "ERROR")
    trial.num_failures = 2
    text = render(CLIReporter(), [make_trial(1), trial])
    assert "Number of errored trials: 1" in text
    assert "/results/exp/train_abc_00002/error.txt" in text


def test_print_intermediate_tables_false_prints_the_table_only_at_the_end():
    reporter = CLIReporter(print_intermediate_tables=False)
    assert "Trial name" not in render(reporter, [make_trial(1)], done=False)
    assert "Trial name" in render(reporter, [make_trial(1)], done=True)


def test_cli_reporter_redraws_in_place_on_a_terminal():
    stream = FakeTTY()
    reporter = CLIReporter(max_report_frequency=0, metric_columns=["score"])
    progress = Progress(1, stream=stream, reporter=reporter)
    for score in (1, 2):
        progress.update([make_trial(1, "RUNNING", score=score)])
    progress.trial_complete(make_trial(1, score=2))
    progress.finish([make_trial(1, score=2)])
    text = stream.getvalue()
    assert text.count("\x1b[") >= 2 and text.count("== Status ==") == 3
    assert text.rstrip().splitlines()[-1].startswith("Results:")


def test_jupyter_reporter_outside_a_notebook_warns_and_prints_text(caplog, capsys):
    with caplog.at_level(logging.WARNING, logger="tunesmith"):
        reporter = JupyterNotebookReporter(max_report_frequency=0)
    assert any("outside one it prints plain text" in r.getMessage() for r in caplog.records)
    reporter.report([make_trial(1)], True)
    out = capsys.readouterr().out
    assert "Trial name" in out and "IPython" not in out


def test_a_user_reporter_is_honoured_by_the_tuner(run):
    class Recording(ProgressReporter):
        def __init__(self):
            self.reports = []
            self.search = None

        def set_search_properties(self, metric, mode):
            self.search = (metric, mode)
            return True

        def should_report(self, trials, done=False):
            return True

        def report(self, trials, done, *sys_info):
            self.reports.append((done, len(trials), sys_info))

    reporter = Recording()
    run(lambda config: {"score": config["a"]}, {"a": tune.grid_search([1, 2])}, metric="score", mode="max",
        run_config={"progress_reporter": reporter, "verbose": 1})
    assert reporter.search == ("score", "max")
    assert reporter.reports[-1][:2] == (True, 2)
    assert any("Result logdir:" in line for line in reporter.reports[-1][2])


def test_a_cli_reporter_passed_to_the_tuner_prints_its_columns(run, capsys):
    reporter = CLIReporter(metric_columns={"score": "SCORE"}, parameter_columns=["a"])
    run(lambda config: {"score": config["a"] * 10}, {"a": tune.grid_search([1, 2])},
        run_config={"progress_reporter": reporter, "verbose": 1})
    out = capsys.readouterr().out
    assert "SCORE" in out and re.search(r"\|\s+20 \|", out)
    assert "Finished: 2 trials (2 TERMINATED)" in out


def test_something_that_is_not_a_reporter_is_refused(run):
    with pytest.raises(TypeError, match="progress_reporter must be a tunesmith ProgressReporter .* got dict"):
        run(lambda config: {"x": 1}, run_config={"progress_reporter": {}})


def test_verbose_zero_prints_nothing_even_when_trials_fail(run, capsys, caplog):
    def fails(config):
        raise ValueError("nope")

    with caplog.at_level(logging.WARNING, logger="tunesmith"):
        run(fails, run_config={"verbose": 0})
    assert capsys.readouterr().out == ""
    assert any("ValueError: nope" in r.getMessage() for r in caplog.records)


def failing_deep(config):
    helper(config["x"])


def helper(x):
    import json

    return json.loads(x)  # the error is raised inside the json library


def test_failed_trials_show_type_message_user_frame_and_error_file(run, capsys):
    results = run(failing_deep, {"x": "{not json"}, run_config={"verbose": 1})
    captured = capsys.readouterr()
    summary = captured.out[captured.out.index("1 trial errored:"):]
    assert "errored: json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes" in summary
    assert f"at {__file__}:" in summary and "in helper" in summary
    assert "return json.loads(x)  # the error is raised inside the json library" in summary
    assert os.path.join(results[0].path, "error.txt") in summary
    assert "Traceback" not in captured.out + captured.err and "tunesmith/execution" not in captured.out


def test_summarize_traceback_takes_the_last_chained_error_and_the_last_user_frame():
    text = (
        "Traceback (most recent call last):\n"
        '  File "/home/me/train.py", line 5, in load\n'
        "    open(path)\n"
        "FileNotFoundError: missing\n\n"
        "During handling of the above exception, another exception occurred:\n\n"
        "Traceback (most recent call last):\n"
        '  File "/home/me/train.py", line 9, in train\n'
        "    load(cfg)\n"
        "    ~~~~^^^^^\n"
        f'  File "{os.path.dirname(os.__file__)}/json/decoder.py", line 3, in decode\n'
        "    raise JSONDecodeError(msg)\n"
        "RuntimeError: could not load\nsecond line\n"
    )
    assert summarize_traceback(text) == ("RuntimeError: could not load", "/home/me/train.py:9 in train", "load(cfg)")
    assert summarize_traceback("TrialLostError: the process exited with code 9\n") == (
        "TrialLostError: the process exited with code 9", "", "")


NOTEBOOK_CELLS = [
    "import tempfile, time\nimport tunesmith as tune\n"
    "def train(config):\n    for i in range(4):\n        time.sleep(0.4)\n        tune.report({'score': config['a'] * i})\n",
    "tune.Tuner(train, param_space={'a': tune.grid_search([1, 2])}, "
    "tune_config=tune.TuneConfig(metric='score', mode='max'), "
    "run_config=tune.RunConfig(storage_path=tempfile.mkdtemp(), name='nb')).fit()\nNone",
]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_in_a_notebook_the_table_is_html_updated_in_one_output():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in NOTEBOOK_CELLS])
    env = {**os.environ, "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"}
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3", record_timing=False)
    client.execute(env=env)
    outputs = notebook.cells[1].outputs
    displays = [o for o in outputs if o.output_type in ("display_data", "update_display_data")]
    assert len(displays) == 1
    html = displays[0].data["text/html"]
    assert "Trial Progress" in html and "<table>" in html and "2 TERMINATED" in html
    texts = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "IPython.core.display.HTML object" not in texts
    assert "Best trial: train_" in texts and "score=6" in texts
