"""LastResults: trials' last results as columns, for analyses over 100,000 trials."""

import pytest

from tunesmith.storage import LastResults


def test_values_follow_the_asked_order_and_nested_keys():
    last = LastResults()
    last.add("a", {"loss": 1.0, "config": {"lr": 0.1}, "host": "h"})
    last.add("b", {"loss": 0.5, "extra": True, "host": "h"})
    assert last.values("loss", ["b", "a", "missing"]) == [0.5, 1.0, None]
    assert last.values("config/lr", ["a", "b"]) == [0.1, None]
    assert last.values("nope", ["a"]) == [None]
    assert len(last) == 2 and "a" in last and "missing" not in last


def test_a_later_result_replaces_the_earlier():
    last = LastResults()
    last.add("a", {"loss": 1.0})
    last.add("a", {"loss": 2.0, "other": 1})
    assert last.values("loss", ["a"]) == [2.0] and last.values("other", ["a"]) == [1]


@pytest.mark.parametrize("results", [
    [{"x": 1, "y": "s"}, {"x": 2, "y": "t"}],  # one set of keys
    [{"x": 1}, {"x": 2, "y": "t"}],  # different keys: missing values are NaN
])
def test_frame_has_one_row_per_trial_that_reported(results):
    last = LastResults()
    for i, result in enumerate(results):
        last.add(f"t{i}", result)
    frame = last.frame(["t1", "nobody", "t0"])
    assert list(frame.index) == ["t1", "t0"] and list(frame["x"]) == [2, 1]
    assert list(frame.columns) == ["x", "y"]
