import pytest

from tunesmith.search import ConcurrencyLimiter, Searcher


class Recorder(Searcher):
    def __init__(self, metric="loss", mode="min", limits_itself=False, finish_after=None):
        super().__init__(metric=metric, mode=mode)
        self.limits_itself = limits_itself
        self.finish_after = finish_after
        self.suggested = []
        self.completed = []
        self.events = []

    def set_max_concurrency(self, max_concurrent):
        return self.limits_itself

    def suggest(self, trial_id):
        if self.finish_after is not None and len(self.suggested) >= self.finish_after:
            return Searcher.FINISHED
        self.suggested.append(trial_id)
        return {"i": len(self.suggested)}

    def on_trial_result(self, trial_id, result):
        self.events.append(("result", trial_id))

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.completed.append((trial_id, result, error))

    def on_pause(self, trial_id):
        self.events.append(("pause", trial_id))

    def on_unpause(self, trial_id):
        self.events.append(("unpause", trial_id))

    def add_evaluated_point(self, parameters, value, error=False, pruned=False, intermediate_values=None):
        self.events.append(("point", value))


@pytest.mark.parametrize("max_concurrent", [0, -1, 1.5, "2", True, None])
def test_max_concurrent_must_be_positive_int(max_concurrent):
    with pytest.raises(ValueError, match=f"max_concurrent must be an int > 0; got {max_concurrent!r}"):
        ConcurrencyLimiter(Recorder(), max_concurrent=max_concurrent)


def test_searcher_type_checked():
    with pytest.raises(TypeError, match="got str"):
        ConcurrencyLimiter("optuna", max_concurrent=1)


def test_none_once_saturated_and_slot_freed_on_completion():
    inner = Recorder()
    limiter = ConcurrencyLimiter(inner, max_concurrent=2)
    assert limiter.suggest("a") == {"i": 1}
    assert limiter.suggest("b") == {"i": 2}
    assert limiter.suggest("c") is None
    assert inner.suggested == ["a", "b"]  # the inner searcher was not asked for "c"
    limiter.on_trial_complete("a", {"loss": 1.0})
    assert inner.completed == [("a", {"loss": 1.0}, False)]
    assert limiter.suggest("c") == {"i": 3}
    limiter.on_trial_complete("b", error=True)
    assert inner.completed[-1] == ("b", None, True)


def test_unknown_and_repeated_completions_are_ignored():
    inner = Recorder()
    limiter = ConcurrencyLimiter(inner, max_concurrent=1)
    limiter.suggest("a")
    limiter.on_trial_complete("zzz", {"loss": 1})
    limiter.on_trial_complete("a", {"loss": 1})
    limiter.on_trial_complete("a", {"loss": 1})
    assert inner.completed == [("a", {"loss": 1}, False)]


def test_finished_does_not_take_a_slot():
    limiter = ConcurrencyLimiter(Recorder(finish_after=0), max_concurrent=1)
    assert limiter.suggest("a") == Searcher.FINISHED
    assert limiter.live_trials == set()


def test_batch_holds_completions_until_the_whole_batch_ends():
    inner = Recorder()
    limiter = ConcurrencyLimiter(inner, max_concurrent=2, batch=True)
    limiter.suggest("a"), limiter.suggest("b")
    limiter.on_trial_complete("a", {"loss": 1})
    assert inner.completed == []
    assert limiter.suggest("c") is None  # the batch is not over
    limiter.on_trial_complete("b", {"loss": 2})
    assert inner.completed == [("a", {"loss": 1}, False), ("b", {"loss": 2}, False)]
    assert limiter.suggest("c") == {"i": 3}


def test_pass_through_when_inner_limits_itself():
    inner = Recorder(limits_itself=True)
    limiter = ConcurrencyLimiter(inner, max_concurrent=1)
    assert limiter.suggest("a") and limiter.suggest("b")
    limiter.on_trial_complete("a", {"loss": 1})
    assert inner.completed == [("a", {"loss": 1}, False)]


def test_forwards_hooks_and_metric():
    inner = Recorder(metric=None, mode=None)
    limiter = ConcurrencyLimiter(inner, max_concurrent=3)
    assert limiter.set_search_properties("score", "max", {}) is False
    assert (limiter.metric, limiter.mode) == ("score", "max")
    limiter.suggest("a")
    limiter.on_trial_result("a", {"score": 1})
    limiter.on_pause("a")
    limiter.on_unpause("a")
    limiter.add_evaluated_point({"i": 0}, 3.0)
    assert inner.events == [("result", "a"), ("pause", "a"), ("unpause", "a"), ("point", 3.0)]
    assert limiter.set_max_concurrency(5) is True and limiter.max_concurrent == 5


def test_state_excludes_inner_and_round_trips(tmp_path):
    limiter = ConcurrencyLimiter(Recorder(), max_concurrent=1)
    limiter.suggest("a")
    state = limiter.get_state()
    assert "searcher" not in state and state["live_trials"] == {"a"}
    other = ConcurrencyLimiter(Recorder(), max_concurrent=1)
    other.set_state(state)
    assert other.suggest("b") is None
    limiter.save(str(tmp_path / "s.pkl"))
    other.restore(str(tmp_path / "s.pkl"))
    assert other.searcher.suggested == ["a"]
