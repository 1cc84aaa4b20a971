"""The dashboard's sqlite trial index: same answers as the in-memory table, bounded memory,
reused when warm, rebuilt when stale, never written into the experiment folder."""

import gc
import json
import os
import sqlite3
import tracemalloc

import pytest

from tunesmith.dashboard._index import ExperimentIndex
from tunesmith.dashboard._server import Dashboard, search_views, trial_page
from tunesmith.dashboard._source import ExperimentSource
from tunesmith.dashboard._table import parse_filter, select

STATUSES = ["TERMINATED", "TERMINATED", "ERROR", "RUNNING"]


def write_experiment(folder, trials, *, start=1000.0, rows=3, metric="loss"):
    """A synthetic experiment as the driver writes it: a mix of config types, statuses,
    a metric some trials lack, NaN values, one nested config."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "journal.jsonl"), "w") as journal:
        journal.write(json.dumps({"event": "experiment_started", "time": start, "metric": metric, "mode": "min",
                                  "trainable": "train"}) + "\n")
        for i in range(trials):
            _write_trial(folder, journal, i, start, rows)
    return folder


def _write_trial(folder, journal, i, start, rows):
    trial_id = f"t{i:05d}"
    config = {"lr": round(0.001 * (i % 37 + 1), 6), "layers": i % 5, "opt": ["adam", "sgd", "Adam-W"][i % 3],
              "flag": i % 2 == 0, "model": {"width": 16 * (i % 4)}}
    dirname = f"train_{trial_id}"
    os.makedirs(os.path.join(folder, dirname), exist_ok=True)
    with open(os.path.join(folder, dirname, "result.json"), "w") as f:
        for step in range(1, rows + 1):
            row = {"training_iteration": step, "time_total_s": step * 0.5 + i % 3, "timestamp": start + i}
            if i % 11:
                row["loss"] = (i * 7919 % 101) / (step * 10.0)
            row["acc"] = float("nan") if i % 13 == 0 else (i % 17) / 17
            f.write(json.dumps(row) + "\n")
    t = start + i
    journal.write(json.dumps({"event": "trial_added", "time": t, "trial_id": trial_id, "tag": str(i),
                              "config": config}) + "\n")
    journal.write(json.dumps({"event": "trial_started", "time": t, "trial_id": trial_id, "path": dirname}) + "\n")
    status = STATUSES[i % len(STATUSES)]
    if status != "RUNNING":
        journal.write(json.dumps({"event": "trial_finished", "time": t + 0.5, "trial_id": trial_id,
                                  "status": status}) + "\n")


@pytest.fixture
def experiment(tmp_path):
    return write_experiment(str(tmp_path / "exp"), 120)


def _index(folder, cache_dir):
    index = ExperimentIndex(folder, str(cache_dir))
    index.refresh()
    return index


@pytest.mark.parametrize(
    ("filters", "sort", "desc"),
    [
        ([], None, None),
        ([], "loss", None),
        ([], "loss", True),
        ([], "best loss", None),
        ([], "config/lr", False),
        ([], "config/opt", True),
        ([], "status", None),
        ([], "acc", True),
        ([], "trial_name", True),
        ([], "config/model/width", None),
        (["status==ERROR"], "config/lr", None),
        (["status!=TERMINATED"], None, None),
        (["config/opt~ADAM"], "loss", None),
        (["config/opt==sgd"], None, None),
        (["config/opt>adam"], None, None),
        (["config/lr<0.01", "config/layers>=2"], "iter", True),
        (["loss<=2"], "loss", None),
        (["config/flag==1"], None, None),
        (["config/flag~tru"], None, None),
        (["trial_name~t0001"], None, None),
        (["config/layers!=3"], "total time (s)", None),
        (["config/model/width=32"], None, None),
        (["nosuchcolumn==1"], None, None),
        (["acc>0.5"], "acc", None),
    ],
)
def test_sql_select_answers_what_the_in_memory_table_answers(experiment, tmp_path, filters, sort, desc):
    parsed = [parse_filter(text) for text in filters]
    memory = ExperimentSource(experiment).refresh()
    want_total, want_rows = select(memory, filters=parsed, sort=sort, descending=desc, offset=5, limit=40)
    index = _index(experiment, tmp_path / "cache")
    try:
        total, trials = index.select(parsed, sort, desc, 5, 40)
        assert total == want_total
        assert [t.trial_id for t in trials] == [row["trial_id"] for row in want_rows]
    finally:
        index.close()


def test_the_index_summaries_match_the_source(experiment, tmp_path):
    memory = ExperimentSource(experiment).refresh()
    index = _index(experiment, tmp_path / "cache")
    try:
        assert index.count() == len(memory.trials) and index.counts() == memory.counts()
        assert index.best_trial().trial_id == memory.best_trial().trial_id
        assert index.metric_names() == memory.metric_names() == ["loss", "acc"]
        assert index.param_names() == ["lr", "layers", "opt", "flag", "model/width"]
        for want in memory.trials:
            have = index.trial(want.trial_id)
            assert (have.status, have.iterations, have.last, have.best, have.config, have.settled) == (
                want.status, want.iterations, want.last, want.best, want.config, want.settled)
            assert have.last_metrics.keys() == want.last_metrics.keys()
    finally:
        index.close()


def test_a_filter_is_a_parameter_not_sql(experiment, tmp_path):
    index = _index(experiment, tmp_path / "cache")
    try:
        evil = parse_filter("config/x')--=1; DROP TABLE trials")
        assert index.select([evil], "config/x' OR 1=1 --", None, 0, 10) == (0, [])
        assert index.count() == 120 and index.db.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 120
    finally:
        index.close()


def _files(folder):
    return sorted((os.path.relpath(os.path.join(d, f), folder), os.stat(os.path.join(d, f)).st_mtime_ns)
                  for d, _, names in os.walk(folder) for f in names)


def test_the_index_is_kept_in_the_cache_folder_and_goes_on_from_its_offsets(experiment, tmp_path):
    cache, before = tmp_path / "cache", _files(experiment)
    index = _index(experiment, cache)
    offset = index._journal_offset
    index.close()
    assert _files(experiment) == before  # nothing written into the experiment folder
    assert os.path.dirname(index.index_file) == str(cache)
    with open(os.path.join(experiment, "journal.jsonl"), "a") as journal:
        _write_trial(experiment, journal, 120, 1000.0, 3)
    index = ExperimentIndex(experiment, str(cache))
    try:
        assert index._journal_offset == offset and index.count() == 120  # warm: read on, not from the start
        index.refresh()
        assert index.count() == 121 and index.trial("t00120").iterations == 3
    finally:
        index.close()


@pytest.mark.parametrize("change", ["another run in the folder", "journal shrank", "older index version"])
def test_a_stale_index_is_rebuilt(experiment, tmp_path, change):
    cache = tmp_path / "cache"
    index = _index(experiment, cache)
    index.close()
    if change == "another run in the folder":
        write_experiment(experiment, 7, start=5000.0)
    elif change == "journal shrank":
        write_experiment(experiment, 7)
    else:
        with sqlite3.connect(index.index_file) as db:
            db.execute("UPDATE meta SET value = 0 WHERE key = 'version'")
            db.execute("DELETE FROM trials WHERE idx > 3")
    index = _index(experiment, cache)
    try:
        expected = 120 if change == "older index version" else 7
        assert index.count() == expected and len(index.select([], None, None, 0, 500)[1]) == expected
    finally:
        index.close()


def test_a_second_dashboard_on_the_same_cache_uses_a_private_index_it_deletes(experiment, tmp_path):
    cache = tmp_path / "cache"
    first = _index(experiment, cache)
    second = _index(experiment, cache)
    try:
        assert second.index_file != first.index_file and second.count() == first.count() == 120
    finally:
        second.close()
        first.close()
    assert not os.path.exists(second.index_file) and os.path.exists(first.index_file)


def _python_bytes_held(folder, cache_dir):
    """Bytes of Python objects a dashboard holds after indexing the whole experiment and
    answering a sorted page and the search views."""
    gc.collect()
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        dashboard = Dashboard(folder, cache_dir=str(cache_dir))
        source = dashboard.source("exp")
        dashboard.refresh()
        assert source.caught_up and source.summarised() == source.count()
        trial_page(source, {"sort": "loss", "limit": "50"})
        search_views(source, None)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - baseline
        dashboard.close()
        return held
    finally:
        tracemalloc.stop()


def test_the_server_holds_no_python_objects_per_trial(tmp_path):
    _python_bytes_held(write_experiment(str(tmp_path / "warm" / "exp"), 20, rows=2), tmp_path / "c0")  # one-time costs
    small = _python_bytes_held(write_experiment(str(tmp_path / "small" / "exp"), 200, rows=2), tmp_path / "c1")
    large = _python_bytes_held(write_experiment(str(tmp_path / "large" / "exp"), 2000, rows=2), tmp_path / "c2")
    # 1,800 more trials held in memory would be about 2 MB (the in-memory source: 1.1 KB each); the index holds them on disk
    assert large - small < 300_000, (small, large)


@pytest.mark.parametrize("bad", [{"event": "trial_added", "config": {}}, {"event": "trial_added", "trial_id": 7},
                                 {"event": "trial_started", "trial_id": {"x": 1}}])
def test_a_journal_record_without_a_trial_id_is_skipped_by_both_readers(experiment, tmp_path, bad):
    with open(os.path.join(experiment, "journal.jsonl"), "a") as f:
        f.write(json.dumps(bad) + "\n")
    source = ExperimentSource(experiment).refresh()
    index = _index(experiment, tmp_path / "cache")
    assert len(source.trials) == index.count() == 120
