"""A trial folder's files: one reader, one writer, the same torn-line rule everywhere."""

import json
import os

import pytest

import tunesmith as tune
from tunesmith.error import StorageError
from tunesmith.storage import TrialFiles


def _rows_file(folder, rows, torn=""):
    with open(os.path.join(folder, "result.json"), "w") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows) + torn)


def test_rows_skip_a_torn_last_line_and_lines_that_are_not_objects(tmp_path):
    _rows_file(tmp_path, [{"training_iteration": 1}, {"training_iteration": 2}], torn='[3]\n{"training_iter')
    files = TrialFiles(str(tmp_path))
    assert [r["training_iteration"] for r in files.rows()] == [1, 2]
    assert files.last_row() == {"training_iteration": 2}
    assert TrialFiles(str(tmp_path / "missing")).rows() == []


def test_rewind_keeps_rows_up_to_the_checkpoint(tmp_path):
    _rows_file(tmp_path, [{"training_iteration": i, "x": float("nan") if i == 1 else i} for i in range(1, 6)], torn="{")
    with open(tmp_path / "progress.csv", "w") as f:
        f.write("training_iteration,x\n" + "".join(f"{i},{i}\n" for i in range(1, 6)))
    kept = TrialFiles(str(tmp_path)).rewind(3)
    assert [r["training_iteration"] for r in kept] == [1, 2, 3]
    assert (tmp_path / "result.json").read_text().count("\n") == 3 and "NaN" in (tmp_path / "result.json").read_text()
    assert (tmp_path / "progress.csv").read_text().splitlines()[1:] == ["1,1", "2,2", "3,3"]


def test_errors_round_trip_and_an_unloadable_one_says_so(tmp_path):
    files = TrialFiles(str(tmp_path))
    assert files.read_error() is None
    files.write_error(KeyError("k"), "Traceback: KeyError\n", 1)
    files.write_error(ValueError("v"), "Traceback: ValueError\n", 2)
    error = files.read_error()
    assert isinstance(error, ValueError) and str(error) == "v"
    text = (tmp_path / "error.txt").read_text()
    assert "Failure # 1" in text and "Failure # 2" in text
    (tmp_path / "error.pkl").write_bytes(b"\x80\x05torn")
    assert isinstance(files.read_error(), RuntimeError)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full to fill a disk")
def test_a_full_disk_is_a_storage_error_naming_the_file_and_the_restore(tmp_path):
    os.symlink("/dev/full", tmp_path / "error.txt")  # every write fails with ENOSPC, as on a full disk
    with pytest.raises(StorageError, match=r"cannot write .*error.txt'.*No space left on device.*Tuner.restore"):
        TrialFiles(str(tmp_path)).write_error(ValueError("v"), "tb", 1)


def _fails_on_second(config):
    tune.report({"score": config["x"]})
    if config["x"] == 2:
        raise ValueError("second fails")
    tune.report({"score": config["x"] + 10})


def test_result_readers_agree_on_a_torn_last_line(tmp_path):
    grid = tune.Tuner(
        _fails_on_second, param_space={"x": tune.grid_search([1, 2])},
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0),
    ).fit()
    for result in grid:
        with open(os.path.join(result.path, "result.json"), "a") as f:
            f.write('{"score": 99')  # a crash cut the last line short
    assert grid.get_best_result("score", "max", scope="all").metrics["score"] == 11
    failed = next(r for r in grid if r.error is not None)
    rebuilt = tune.Result.from_path(failed.path)
    assert [r["score"] for r in [rebuilt.metrics]] == [2] and isinstance(rebuilt.error, ValueError)
    assert len(rebuilt.metrics_dataframe) == 1


def _fails_on_a_full_disk(config):
    # every write of the driver's error.txt fails with ENOSPC, as on a full disk
    os.symlink("/dev/full", os.path.join(tune.get_context().get_trial_dir(), "error.txt"))
    raise ValueError("boom")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full to fill a disk")
def test_a_full_disk_stops_the_experiment_with_a_storage_error_not_a_bare_oserror(tmp_path):
    tuner = tune.Tuner(_fails_on_a_full_disk, run_config=tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0))
    with pytest.raises(StorageError, match=r"cannot write .*error.txt'.*No space left on device.*Tuner.restore"):
        tuner.fit()
