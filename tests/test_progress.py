import io

from tunesmith._progress import Progress
from tunesmith.experiment import Trial, TrialStatus


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def make_trials():
    trials = []
    for i, score in enumerate([3.0, 1.0, 2.0]):
        t = Trial("train", trial_id=f"abc_{i:05d}", config={"a": i}, evaluated_params={"a": i})
        t.status = TrialStatus.TERMINATED if i else TrialStatus.RUNNING
        t.last_result = {"score": score, "training_iteration": 2}
        trials.append(t)
    return trials


def test_tty_table_redraws_in_place():
    stream = FakeTTY()
    progress = Progress(1, metric="score", mode="min", stream=stream)
    progress._next = 0
    progress.update(make_trials())
    progress._next = 0
    progress.update(make_trials())
    text = stream.getvalue()
    assert "trial" in text and "status" in text and "train_abc_00000" in text
    assert "\x1b[" in text  # the second draw moves the cursor back over the first


def test_plain_stream_gets_status_lines_and_summary():
    stream = io.StringIO()
    progress = Progress(1, metric="score", mode="min", stream=stream)
    progress._next = 0
    progress.update(make_trials())
    progress.finish(make_trials())
    text = stream.getvalue()
    assert "\x1b[" not in text
    assert "Running: 3 trials (1 RUNNING, 2 TERMINATED)" in text
    assert "Best trial: train_abc_00001 with score=1" in text


def test_verbose_zero_is_silent():
    stream = io.StringIO()
    progress = Progress(0, metric="score", mode="min", stream=stream)
    progress._next = 0
    progress.update(make_trials())
    progress.finish(make_trials())
    assert stream.getvalue() == ""


def test_verbose_three_prints_results():
    stream = io.StringIO()
    progress = Progress(3, stream=stream)
    trial = make_trials()[0]
    progress.trial_result(trial, {"score": 1.5, "config": {"a": 1}})
    progress.trial_complete(trial)
    assert "result: {'score': 1.5}" in stream.getvalue()
    assert "RUNNING after 2 iterations" in stream.getvalue()
