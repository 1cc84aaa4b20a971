"""Frames built column by column from LastResults match the frames pandas builds from one
dict per row (what the frame builders did before): same columns, order, dtypes, values."""

import math
import os
import tracemalloc

import pandas as pd
import pytest

import tunesmith as tune
from tunesmith._flatten import flatten_dict
from tunesmith.analysis import ExperimentAnalysis
from tunesmith.storage import LastResults
from tunesmith.storage._last_results import grid_frame, rows_frame, strings_column

NO_RESULT = None  # a trial that ended (errored) without reporting

SHAPES = {
    "one set of keys": [{"loss": 0.5, "step": 1, "ok": True, "host": "h"}, {"loss": 0.25, "step": 2, "ok": False, "host": "h"}],
    "nested dicts": [{"a": {"b": 1.0, "c": {"d": 2}}, "config": {"lr": 0.1, "layers": [1, 2]}},
                     {"a": {"b": 3.0, "c": {"d": 4}}, "config": {"lr": 0.2, "layers": [3]}}],
    "missing keys": [{"x": 1, "y": 2.0, "z": True, "s": "a"}, {"x": 3}, {"w": "only here", "x": 5}],
    "mixed types": [{"v": 1, "u": 1.5, "t": "s", "n": None}, {"v": 2.5, "u": "text", "t": 3, "n": 1.0},
                    {"v": True, "u": None, "t": None, "n": None}],
    "ints then a float": [{"i": 1}, {"i": 2}, {"i": 2.5}],
    "big ints": [{"i": 2 ** 63}, {"i": -1}, {"i": 5}],
    "nan and inf": [{"f": math.nan, "g": math.inf}, {"f": 1.0, "g": -math.inf}],
    "all None": [{"c": None}, {"c": None}],
    "empty dict value": [{"e": {}, "x": 1}, {"e": {}, "x": 2}],
    "config columns": [{"score": 1, "config": {"i": 1, "opt": {"name": "sgd"}}},
                       {"score": 2, "config": {"i": 2, "opt": {"name": "adam", "beta": 0.9}}}],
    "errored trials without results": [NO_RESULT, {"loss": 1.0, "step": 3}, NO_RESULT, {"loss": 2.0, "step": 4}],
    "only errored trials": [NO_RESULT, NO_RESULT],
}


def _last(results):
    last = LastResults()
    for i, result in enumerate(results):
        if result is not NO_RESULT:
            last.add(f"t{i}", result)
    return last


@pytest.mark.parametrize("shape", SHAPES)
def test_results_df_matches_one_dict_per_row(shape):
    results = SHAPES[shape]
    ids = [f"t{i}" for i in range(len(results))]
    # before: the reported trials' rows, reindexed to every trial
    reported = [(t, r) for t, r in zip(ids, results) if r is not NO_RESULT]
    expected = pd.DataFrame([flatten_dict(r) for _, r in reported], index=pd.Index([t for t, _ in reported]))
    expected = expected.reindex(pd.Index(ids, name="trial_id"))
    got = _last(results).frame(ids, missing=True)
    if not reported:
        assert got.empty and list(got.index) == ids
        return
    pd.testing.assert_frame_equal(got, expected)


@pytest.mark.parametrize("shape", SHAPES)
def test_dataframe_matches_one_dict_per_row(shape):
    results = SHAPES[shape]
    ids = [f"t{i}" for i in range(len(results))]
    logdirs = [f"/exp/trial_{i}" for i in range(len(results))]
    expected = pd.DataFrame([{**flatten_dict(r), "logdir": d} for r, d in zip(results, logdirs) if r is not NO_RESULT])
    reported = [i for i, r in enumerate(results) if r is not NO_RESULT]
    got = _last(results).frame([ids[i] for i in reported], index=False,
                               extra={"logdir": [logdirs[i] for i in reported]}, tail=("logdir",))
    pd.testing.assert_frame_equal(got, expected)


@pytest.mark.parametrize("shape", SHAPES)
def test_grid_frame_matches_one_dict_per_row(shape):
    """``ResultGrid.get_dataframe()``: every trial, its result with its tag, and its id as ``logdir``."""
    results = SHAPES[shape]
    ids = [f"t{i}" for i in range(len(results))]
    tags = [f"{i}_x={i}" for i in range(len(results))]
    rows = []
    for r, t, tag in zip(results, ids, tags):
        metrics = dict(r or {})
        if metrics:
            metrics["experiment_tag"] = tag
        rows.append({**flatten_dict(metrics), "logdir": t})
    pd.testing.assert_frame_equal(grid_frame(_last(results), ids, tags), pd.DataFrame(rows))


@pytest.mark.parametrize("shape", SHAPES)
def test_rows_frame_matches_a_frame_of_dicts(shape):
    rows = [flatten_dict(r) for r in SHAPES[shape] if r is not NO_RESULT]
    pd.testing.assert_frame_equal(rows_frame(iter(rows)), pd.DataFrame(rows))


def test_a_replaced_result_drops_the_keys_it_no_longer_has():
    last = LastResults()
    last.add("a", {"x": 1, "y": 2.0})
    last.add("b", {"x": 3, "y": 4.0})
    last.add("a", {"x": 5})
    frame = last.frame(["a", "b"])
    assert list(frame["x"]) == [5, 3] and math.isnan(frame.loc["a", "y"]) and frame.loc["b", "y"] == 4.0
    assert last.values("y", ["a", "b"]) == [None, 4.0]


def test_columns_of_numbers_hold_no_object_per_value():
    """The mechanism behind a 100,000-trial frame under 200 MB: a float or int column is an
    array of 8-byte values, and the frame is built from the columns, not from one dict per row."""
    def bytes_per_trial(n):
        tracemalloc.start()
        last = LastResults()
        for i in range(n):
            last.add(f"trial_{i:06d}", {"loss": i / 3, "step": i * 1000, "done": True, "host": "h",
                                        "config": {"lr": i / 7, "seed": i}})
        last.values("loss", ["trial_000000"])  # moves what is pending into the columns
        held = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        last.frame([f"trial_{i:06d}" for i in range(n)], index=False)
        frame_peak = tracemalloc.get_traced_memory()[1] - start
        tracemalloc.stop()
        return held, frame_peak

    small, big = bytes_per_trial(2_000), bytes_per_trial(22_000)
    held = (big[0] - small[0]) / 20_000
    peak = (big[1] - small[1]) / 20_000
    # held: the trial id (~60 bytes), its row-number entry (~60 with its dict slot and int),
    # 4 typed columns x 8, 2 list slots x 8, the schema index 4: ~190 bytes. A tuple of the
    # row's values with a float or int object per number (what was held before) is ~350.
    assert held < 250, f"{held:.0f} bytes held per trial"
    # building the frame: the typed columns' copies and the two object columns, no row dicts
    assert peak < 400, f"{peak:.0f} bytes per trial while building the frame"


def test_no_dict_per_row_is_built(monkeypatch):
    """The frame never goes through pandas' row-wise constructors."""
    last = _last(SHAPES["missing keys"])
    monkeypatch.setattr(pd.DataFrame, "from_records", classmethod(lambda *a, **k: pytest.fail("row-wise build")))
    assert list(last.frame(["t0", "t1", "t2"]).columns) == ["x", "y", "z", "s", "w"]


def mixed(config):
    i = config["i"]
    if i == 2:
        raise ValueError("no result")
    row = {"score": i, "nested": {"acc": i / 10}}
    if i == 1:
        row["extra"] = "only one"
    tune.report(row)


def test_the_analysis_and_grid_frames_match_the_trials_rows(tmp_path):
    """Real experiment: mixed keys, an errored trial without results, config columns."""
    grid = tune.Tuner(mixed, param_space={"i": tune.grid_search([0, 1, 2, 3])},
                      run_config=tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0)).fit()
    analysis = ExperimentAnalysis(os.path.join(str(tmp_path), "exp"))
    trials = list(analysis.trials)
    for t in trials:  # the journal's last result is the trial's final one, which says done
        if t.last_result:
            t.last_result["done"] = True
    last = {t.trial_id: t.last_result for t in trials}
    expected = pd.DataFrame([{**flatten_dict(t.last_result), "logdir": t.path} for t in trials if t.last_result])
    pd.testing.assert_frame_equal(analysis.dataframe(), expected)
    rows = [{**flatten_dict({**t.last_result, "experiment_tag": t.experiment_tag} if t.last_result else {}),
             "logdir": t.trial_id} for t in trials]
    pd.testing.assert_frame_equal(tune.ResultGrid(analysis).get_dataframe(), pd.DataFrame(rows))
    tuner_rows = [{**flatten_dict({**r.metrics} if r.metrics else {}), "logdir": t}
                  for r, t in zip(grid, grid._trial_ids)]
    pd.testing.assert_frame_equal(grid.get_dataframe(), pd.DataFrame(tuner_rows))
    assert list(analysis.results_df.index) == list(last)
    assert math.isnan(analysis.results_df.loc[trials[2].trial_id, "score"])
    frames = analysis.trial_dataframes
    assert len(frames) == 4 and list(frames) == list(last)
    assert list(frames[trials[1].trial_id]["extra"]) == ["only one"] and frames[trials[2].trial_id].empty
    with pytest.raises(KeyError):
        frames["nobody"]
    assert analysis.get_all_configs() == {t.trial_id: t.config for t in trials}
    assert analysis.get_all_configs(prefix=True)[trials[3].trial_id] == {"config/i": 3}


def test_long_string_columns_are_handed_over_in_pieces_with_the_same_dtype():
    """Past 10,000 rows a column of strings goes to pandas a piece at a time (its peak is
    what one piece costs); the frame is the one pandas builds from the rows."""
    n = 25_000
    results = [{"name": f"n{i}", "host": "h", "x": i, "maybe": f"m{i}" if i % 2 else None} for i in range(n)]
    logdirs = [f"/exp/trial_{i}" for i in range(n)]
    last = LastResults()
    for i, result in enumerate(results):
        last.add(f"t{i}", result)
    got = last.frame([f"t{i}" for i in range(n)], index=False,
                     extra={"logdir": strings_column(logdirs.__getitem__, n)}, tail=("logdir",))
    expected = pd.DataFrame([{**r, "logdir": d} for r, d in zip(results, logdirs)])
    pd.testing.assert_frame_equal(got, expected)
