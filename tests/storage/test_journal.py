"""The journal: one writer method per event, one replay that understands them all."""

import json
import logging
import os

import pytest

from tunesmith._checkpoint import Checkpoint
from tunesmith.experiment import Trial, TrialStatus
from tunesmith.storage import (
    JOURNAL_VERSION,
    Event,
    ExperimentStorage,
    Journal,
    JournalVersionError,
    read_journal,
    replay,
)
from tunesmith.storage import _journal


def _trial(trial_id="t1", dirname="t1_dir"):
    trial = Trial("f", trial_id=trial_id, config={"a": 1}, experiment_tag="0_a=1")
    trial.dirname, trial.attempt = dirname, 0
    return trial


def _one_of_each(journal):
    """Call every writer method of ``journal`` once, in a plausible order."""
    trial, donor = _trial(), _trial("t2", "t2_dir")
    checkpoint = Checkpoint("/exp/t1_dir/checkpoint_000000")
    journal.experiment_started(name="exp", metric="m", mode="max", trainable="f", num_samples=2)
    journal.trial_added(trial)
    journal.trial_added(donor)
    journal.trial_started(trial, None)
    journal.checkpoint(trial, checkpoint, 1, 0.5)
    journal.checkpoint_dropped(trial, checkpoint)
    journal.trial_exploited(trial, Checkpoint("/exp/t2_dir/checkpoint_000003"))
    journal.trial_paused(trial)
    journal.trial_failed(trial, ValueError("boom"), retry=True)
    trial.status = TrialStatus.TERMINATED
    journal.trial_finished(trial)
    journal.experiment_finished(interrupted=True)
    journal.experiment_restored({"num_samples": 4})


def test_every_event_has_a_writer_and_the_replay_understands_it():
    records = []
    _one_of_each(Journal(records.append))
    # Derived from the enum: a new event without a writer, or one the replay skips, fails here.
    assert {r["event"] for r in records} == {event.value for event in Event}
    handled = {Event.EXPERIMENT_STARTED} | set(_journal._EXPERIMENT_EVENTS) | set(_journal._TRIAL_EVENTS)
    assert handled == set(Event)
    experiment = replay(records)
    trial = experiment.trials["t1"]
    assert trial.status is TrialStatus.TERMINATED and trial.num_failures == 1 and trial.dirname == "t1_dir"
    assert trial.borrowed == ("t2_dir", "checkpoint_000003") and trial.checkpoints == []
    assert trial.next_checkpoint_index == 1
    assert experiment.num_samples == 4 and not experiment.finished and experiment.version == JOURNAL_VERSION


@pytest.mark.parametrize(
    "events, status",
    [
        ([], TrialStatus.PENDING),
        (["started"], TrialStatus.RUNNING),
        (["started", "paused"], TrialStatus.PAUSED),
        (["started", "paused", "started"], TrialStatus.RUNNING),
        (["started", "retry"], TrialStatus.PENDING),
        (["started", "error"], TrialStatus.ERROR),
        (["started", "done"], TrialStatus.TERMINATED),
    ],
)
def test_replay_gives_every_status(events, status):
    records = []
    journal = Journal(records.append)
    trial = _trial()
    journal.experiment_started(name="exp", metric=None, mode=None, trainable="f", num_samples=1)
    journal.trial_added(trial)
    for event in events:
        if event == "started":
            journal.trial_started(trial, None)
        elif event == "paused":
            journal.trial_paused(trial)
        elif event == "retry":
            journal.trial_failed(trial, ValueError("x"), retry=True)
        elif event == "error":
            journal.trial_failed(trial, ValueError("x"), retry=False)
            trial.status = TrialStatus.ERROR
            journal.trial_finished(trial)
        else:
            trial.status = TrialStatus.TERMINATED
            journal.trial_finished(trial)
    experiment = replay(records)
    assert experiment.trials["t1"].status is status
    # Once the driver has ended, a trial it was running shows TERMINATED (cut short).
    journal.experiment_finished(interrupted=True)
    ended = replay(records)
    shown = ended.status_of(ended.trials["t1"])
    assert shown is (TrialStatus.TERMINATED if status is TrialStatus.RUNNING else status)


def test_trial_finished_refuses_an_unfinished_trial():
    with pytest.raises(ValueError, match="needs a TERMINATED or ERROR trial, got RUNNING"):
        trial = _trial()
        trial.status = TrialStatus.RUNNING
        Journal([].append).trial_finished(trial)


def _write(path, lines):
    path.write_text("".join(lines))
    return str(path)


def test_a_newer_format_is_refused_and_an_old_one_reads(tmp_path):
    newer = _write(tmp_path / "newer.jsonl", [json.dumps({"event": "experiment_started", "version": JOURNAL_VERSION + 1}) + "\n"])
    with pytest.raises(JournalVersionError, match=f"format version {JOURNAL_VERSION + 1}, written by a newer tunesmith"):
        read_journal(newer)
    old = _write(tmp_path / "old.jsonl", [
        json.dumps({"event": "experiment_started", "name": "exp", "num_samples": 1}) + "\n",
        json.dumps({"event": "trial_added", "trial_id": "a", "tag": "0", "config": {"x": 1}}) + "\n",
        json.dumps({"event": "trial_started", "trial_id": "a", "attempt": 0, "path": "a_dir"}) + "\n",
    ])
    experiment = replay(read_journal(old))
    assert experiment.version == 1 and experiment.trials["a"].config == {"x": 1}
    assert experiment.trials["a"].status is TrialStatus.RUNNING


def test_lines_that_are_not_objects_and_a_torn_tail_are_skipped_with_one_warning(tmp_path, caplog):
    path = _write(tmp_path / "journal.jsonl", [
        json.dumps({"event": "experiment_started", "name": "exp"}) + "\n",
        "[1, 2]\n",
        '"text"\n',
        '{"event": "trial_added", "trial_id": "a", "con',
    ])
    with caplog.at_level(logging.WARNING, logger="tunesmith"):
        records = read_journal(path)
    assert [r["event"] for r in records] == ["experiment_started"]
    warnings = [r.getMessage() for r in caplog.records if "journal" in r.getMessage()]
    assert len(warnings) == 1 and "skipped 3 incomplete or corrupt line(s) (line 2, 3, 4)" in warnings[0]


def test_a_record_appended_after_a_torn_line_is_not_lost(tmp_path):
    storage = ExperimentStorage(str(tmp_path), "exp")
    os.makedirs(storage.local_path)
    with open(storage.journal_path, "w") as f:
        f.write(json.dumps({"event": "experiment_started", "name": "exp"}) + "\n")
        f.write('{"event": "trial_added", "trial_id": "a", "tag"')  # a full disk cut it short
    storage.journal.experiment_finished(interrupted=False)
    storage.close()
    events = [r["event"] for r in read_journal(storage.journal_path)]
    assert events == ["experiment_started", "experiment_finished"]


@pytest.mark.parametrize("result", [[1, 2], "text", 7, None])
def test_a_trial_finished_result_that_is_not_an_object_is_ignored(tmp_path, result):
    path = _write(tmp_path / "journal.jsonl", [
        json.dumps({"event": "experiment_started", "name": "exp"}) + "\n",
        json.dumps({"event": "trial_added", "trial_id": "a", "config": {"x": 1}}) + "\n",
        json.dumps({"event": "trial_finished", "trial_id": "a", "status": "TERMINATED", "result": result,
                    "stopped_by": ["not", "a", "name"]}) + "\n",
    ])
    trial = replay(read_journal(path)).trials["a"]
    assert trial.status is TrialStatus.TERMINATED and trial.result is None


def _added(trial_id):
    return {"event": "trial_added", "trial_id": trial_id, "tag": "", "config": {}}


def _finished(trial_id, result):
    return {"event": "trial_finished", "trial_id": trial_id, "status": "TERMINATED", "result": result}


_STARTED = {"event": "experiment_started", "name": "e"}


@pytest.mark.parametrize("records", [
    [_STARTED, _added("a"), _added("b"), _finished("a", {"x": 1}), _finished("b", {"x": 2})],
    [_STARTED, _added("a"), _finished("a", {"x": 1}), _finished("a", {"x": 3})],  # a restarted trial ends again
    [_STARTED, _added("a"), _finished("a", {"x": 1}), _finished("a", None), _finished("a", [1])],  # not a dict
    [_STARTED, _finished("a", {"x": 1}), _added("b"), _finished("c", {"x": 2}), _finished("b", {"x": 4})],  # unknown
    [_STARTED, _added("a"), _finished("a", {"x": 1}), _STARTED, _added("b"), _finished("a", {"x": 5}),
     _finished("b", {"x": 6})],  # a new run under the same name starts over
    [_added("a"), _finished("a", {"x": 1}), {"event": "trial_started", "trial_id": "a"}, {"event": "unknown"}],
])
def test_replay_results_hands_over_what_replay_would(records):
    expected, got = [], []
    replay(iter(records), lambda trial_id, result: expected.append((trial_id, result)))
    _journal.replay_results(iter(records), lambda trial_id, result: got.append((trial_id, result)))
    assert got == expected


@pytest.mark.parametrize("path, tag, shared", [
    ("train_ab12c_00001_1_lr=0.1_2026-12-08_03-30-01", "1_lr=0.1", True),  # the default name: a shared pair
    ("train_ab12c_00001_2026-12-08_03-30-01", "", False),  # no tag
    ("train_ab12c_00001_1_lr_0.1_2026-12-08_03-30-01", "1_lr=0.1", False),  # the tag's unsafe characters replaced
    ("my_folder", "1_lr=0.1", False),  # a trial_dirname_creator's name
])
def test_a_trial_record_holds_a_default_folder_name_by_its_shared_parts(path, tag, shared):
    records = [_STARTED, {**_added("ab12c_00001"), "tag": tag},
               {"event": "trial_started", "trial_id": "ab12c_00001", "attempt": 0, "path": path}]
    twin = {**records[1], "trial_id": "ab12c_00002"}
    second = {**records[2], "trial_id": "ab12c_00002", "path": path.replace("00001", "00002")}
    trials = replay(iter([*records, twin, second])).trials
    first, other = trials["ab12c_00001"], trials["ab12c_00002"]
    assert (first.dirname, other.dirname) == (path, path.replace("00001", "00002"))
    assert (type(first.folder) is tuple) is shared
    if shared:
        assert first.folder is other.folder  # one pair for every trial started in that second
    exploited = {"event": "trial_exploited", "trial_id": "ab12c_00001", "tag": "1_lr=0.2@perturbed",
                 "config_pkl": "", "trial_dir": "x", "path": "y"}
    assert replay(iter([*records, exploited])).trials["ab12c_00001"].dirname == path  # a new tag keeps the folder
