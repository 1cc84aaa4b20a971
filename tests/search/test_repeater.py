import math

import pytest

from tunesmith.search import Repeater, Searcher
from tunesmith.search.repeater import TRIAL_INDEX


class Recorder(Searcher):
    def __init__(self, metric="loss", mode="min", finish_after=None):
        super().__init__(metric=metric, mode=mode)
        self.finish_after = finish_after
        self.n = 0
        self.completed = []

    def suggest(self, trial_id):
        if self.finish_after is not None and self.n >= self.finish_after:
            return Searcher.FINISHED
        self.n += 1
        return {"x": self.n, "nested": {"y": 1}}

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.completed.append((trial_id, result, error))


def test_trial_index_constant():
    assert TRIAL_INDEX == "__trial_index__"


def test_each_suggestion_is_repeated_with_an_index():
    inner = Recorder()
    repeater = Repeater(inner, repeat=3)
    configs = [repeater.suggest(f"t{i}") for i in range(6)]
    assert [(c["x"], c[TRIAL_INDEX]) for c in configs] == [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)]
    configs[0]["nested"]["y"] = 99
    assert configs[1]["nested"]["y"] == 1  # each trial gets its own copy
    assert inner.n == 2


def test_without_index():
    repeater = Repeater(Recorder(), repeat=2, set_index=False)
    assert TRIAL_INDEX not in repeater.suggest("a")


def test_inner_searcher_gets_the_nanmean_once_per_group():
    inner = Recorder()
    repeater = Repeater(inner, repeat=3)
    for trial_id in "abc":
        repeater.suggest(trial_id)
    repeater.on_trial_complete("a", {"loss": 1.0})
    repeater.on_trial_complete("b", {"other": 5})
    assert inner.completed == []
    repeater.on_trial_complete("c", {"loss": 3.0})
    assert inner.completed == [("a", {"loss": 2.0}, False)]


def test_group_without_any_metric_is_an_error():
    inner = Recorder()
    repeater = Repeater(inner, repeat=2)
    repeater.suggest("a"), repeater.suggest("b")
    repeater.on_trial_complete("a", None, error=True)
    repeater.on_trial_complete("b", {"loss": math.nan})
    assert inner.completed == [("a", None, True)]


def test_multi_objective_means_per_metric():
    inner = Recorder(metric=["a", "b"], mode=["min", "max"])
    repeater = Repeater(inner, repeat=2)
    repeater.suggest("t1"), repeater.suggest("t2")
    repeater.on_trial_complete("t1", {"a": 1, "b": 10})
    repeater.on_trial_complete("t2", {"a": 3})
    assert inner.completed == [("t1", {"a": 2.0, "b": 10.0}, False)]


def test_none_and_finished_pass_through():
    repeater = Repeater(Recorder(finish_after=0), repeat=2)
    assert repeater.suggest("a") == Searcher.FINISHED


def test_unknown_trial_is_ignored(caplog):
    inner = Recorder()
    Repeater(inner, repeat=2).on_trial_complete("ghost", {"loss": 1})
    assert inner.completed == [] and "ghost" in caplog.text


@pytest.mark.parametrize("repeat", [0, -1, 1.5, True])
def test_bad_repeat(repeat):
    with pytest.raises(ValueError, match="repeat must be an int >= 1"):
        Repeater(Recorder(), repeat=repeat)


def test_metric_and_properties_pass_through():
    inner = Recorder(metric=None, mode=None)
    repeater = Repeater(inner, repeat=2)
    repeater.set_search_properties("score", "max", {})
    assert (repeater.metric, repeater.mode) == ("score", "max")


def test_state_round_trip():
    repeater = Repeater(Recorder(), repeat=2)
    repeater.suggest("a")
    state = repeater.get_state()
    assert "searcher" not in state
    other = Repeater(Recorder(), repeat=2)
    other.set_state(state)
    assert other.suggest("b") == {"x": 1, "nested": {"y": 1}, TRIAL_INDEX: 1}
