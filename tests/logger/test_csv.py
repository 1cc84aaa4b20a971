"""``progress.csv`` with very wide results: the CSV logger is linear in the number of keys."""

import csv
import os
import sys
import time

import pytest

from tunesmith.logger._logger import CsvFiles

csv.field_size_limit(sys.maxsize)

_KEYS = 100_000


def _read(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_a_row_of_100000_keys_is_written_in_linear_time(tmp_path):
    files = CsvFiles()
    row = {f"m{i}": i for i in range(_KEYS)}
    start = time.monotonic()
    files.row("t", str(tmp_path), 0, row)
    files.row("t", str(tmp_path), 0, dict(row, extra=1))  # a new key: the header widens
    files.row("t", str(tmp_path), 0, row)
    assert time.monotonic() - start < 30  # quadratic: 10^10 comparisons, far beyond this
    header, *rows = _read(tmp_path / "progress.csv")
    assert len(header) == _KEYS + 1 and header[-1] == "extra"
    assert [r[-1] for r in rows] == ["", "1", ""]
    assert rows[2][_KEYS - 1] == str(_KEYS - 1)


@pytest.mark.slow
def test_a_trial_reporting_100000_keys_finishes(run, storage):
    def wide(config):
        tune_report = __import__("tunesmith").report
        tune_report({f"m{i}": i for i in range(_KEYS)})
        tune_report({f"m{i}": i + 1 for i in range(_KEYS)})

    start = time.monotonic()
    (result,) = run(wide)
    assert time.monotonic() - start < 110  # aborted after 120 s before
    assert result.metrics[f"m{_KEYS - 1}"] == _KEYS
    header, *rows = _read(os.path.join(result.path, "progress.csv"))
    assert f"m{_KEYS - 1}" in header and len(rows) == 2
