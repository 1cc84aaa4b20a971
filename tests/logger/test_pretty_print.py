import math

import numpy as np
import pytest

from tunesmith.logger import pretty_print

yaml = pytest.importorskip("yaml")


def test_config_hist_stats_none_and_excluded_keys_are_left_out():
    text = pretty_print({"loss": 0.5, "config": {"lr": 1}, "hist_stats": [1], "gone": None, "secret": 1},
                        exclude=["secret"])
    assert text == "loss: 0.5\n"


def test_nested_result_reads_back_as_the_same_data():
    result = {
        "b": {"z": [1, 2, {"k": "v"}], "a": {}},
        "a": [[1, 2], []],
        "words": ["yes", "no", "null", "12", "a: b", "#x", " lead", "multi\nline", "ünï", ""],
        "small": 1e-05,
        "big": 1.5e20,
        "flags": [True, False],
        "date": "2026-11-29_07-54-11",
    }
    assert yaml.safe_load(pretty_print(result)) == result


def test_numpy_values_and_non_finite_floats():
    loaded = yaml.safe_load(pretty_print({"n": np.float32(0.25), "arr": np.arange(3), "nan": float("nan"),
                                          "inf": float("-inf"), "obj": object}))
    assert loaded["n"] == 0.25 and loaded["arr"] == [0, 1, 2]
    assert math.isnan(loaded["nan"]) and loaded["inf"] == float("-inf")
    assert loaded["obj"] == str(object)


def test_block_style_keys_sorted():
    assert pretty_print({"z": 1, "a": {"y": [1, 2], "b": 2}}) == "a:\n  b: 2\n  y:\n  - 1\n  - 2\nz: 1\n"
