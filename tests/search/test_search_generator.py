import re

import pytest

from tunesmith.search import ConcurrencyLimiter, Repeater, Searcher, SearchGenerator
from tunesmith.search.sample import choice, uniform


class Counting(Searcher):
    """Suggests x = 0, 1, 2, ...; FINISHED after ``stop_after``; None while ``paused``."""

    def __init__(self, metric=None, mode=None, stop_after=None, own_space=False):
        super().__init__(metric=metric, mode=mode)
        self.n = 0
        self.stop_after = stop_after
        self.paused = False
        self.own_space = own_space
        self.space = None
        self.completed = []
        self.results = []

    def set_search_properties(self, metric, mode, config, **spec):
        if not self._set_metric_mode(metric, mode) or self.own_space:
            return False
        self.space = config
        return True

    def suggest(self, trial_id):
        if self.paused:
            return None
        if self.stop_after is not None and self.n >= self.stop_after:
            return Searcher.FINISHED
        self.n += 1
        return {"model": {"x": self.n - 1}}

    def on_trial_result(self, trial_id, result):
        self.results.append((trial_id, result))

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.completed.append((trial_id, result, error))


def _generator(searcher, param_space=None, num_samples=3, seed=0):
    gen = SearchGenerator(searcher, seed=seed)
    param_space = param_space if param_space is not None else {"model": {"x": uniform(0, 1), "k": 2}, "c": "a"}
    assert gen.set_search_properties("loss", "min", param_space) is True
    gen.add_configurations(param_space, num_samples)
    return gen


def _drain(gen):
    trials = []
    while (trial := gen.next_trial()) is not None:
        trials.append(trial)
    return trials


def test_trials_have_hex_ids_tags_from_one_and_merged_configs():
    gen = _generator(Counting())
    trials = _drain(gen)
    assert [t.config for t in trials] == [{"model": {"x": i, "k": 2}, "c": "a"} for i in range(3)]
    assert all(re.fullmatch(r"[0-9a-f]{8}", t.trial_id) for t in trials)
    assert len({t.trial_id for t in trials}) == 3
    assert [t.experiment_tag for t in trials] == ["1_c=a,k=2,x=0", "2_c=a,k=2,x=1", "3_c=a,k=2,x=2"]
    assert trials[0].evaluated_params == {"model/x": 0}
    assert gen.is_finished() and gen.total_samples == 3


def test_seeded_ids_repeat():
    first = [t.trial_id for t in _drain(_generator(Counting(), seed=5))]
    again = [t.trial_id for t in _drain(_generator(Counting(), seed=5))]
    assert first == again


def test_unlimited_samples_stop_at_finished():
    gen = _generator(Counting(stop_after=4), num_samples=-1)
    assert gen.total_samples is None
    assert len(_drain(gen)) == 4
    assert gen.is_finished()


def test_none_means_not_now():
    searcher = Counting()
    gen = _generator(searcher)
    searcher.paused = True
    assert gen.next_trial() is None and not gen.is_finished()
    searcher.paused = False
    assert gen.next_trial().experiment_tag.startswith("1_")


def test_nothing_before_add_configurations():
    assert SearchGenerator(Counting()).next_trial() is None


def test_results_and_completions_are_forwarded():
    searcher = Counting()
    gen = _generator(searcher)
    trial = gen.next_trial()
    gen.on_trial_result(trial.trial_id, {"loss": 1})
    gen.on_trial_complete(trial.trial_id, {"loss": 0.5}, error=False)
    assert searcher.results == [(trial.trial_id, {"loss": 1})]
    assert searcher.completed == [(trial.trial_id, {"loss": 0.5}, False)]
    assert gen.metric == "loss"


def test_searcher_with_own_space_and_domains_in_param_space_is_a_value_error():
    gen = SearchGenerator(Counting(own_space=True))
    with pytest.raises(ValueError, match="already has its own search space.*param_space must hold only constants"):
        gen.set_search_properties("loss", "min", {"x": choice([1, 2])})


def test_searcher_with_own_space_and_constant_param_space_is_fine():
    gen = SearchGenerator(Counting(own_space=True))
    assert gen.set_search_properties("loss", "min", {"c": 1}) is True
    gen.add_configurations({"c": 1}, 1)
    assert gen.next_trial().config == {"c": 1, "model": {"x": 0}}


def test_metric_conflict_returns_false():
    gen = SearchGenerator(Counting(metric="a", mode="min"))
    assert gen.set_search_properties("b", "min", {"x": uniform(0, 1)}) is False


@pytest.mark.parametrize("num_samples", [-2, 1.5, "3", True])
def test_bad_num_samples(num_samples):
    with pytest.raises(ValueError, match="num_samples must be an int >= 0, or -1"):
        SearchGenerator(Counting()).add_configurations({}, num_samples)


def test_not_a_searcher():
    with pytest.raises(TypeError, match="needs a tunesmith.search.Searcher; got dict"):
        SearchGenerator({})


def test_repeater_warning_on_uneven_samples():
    gen = SearchGenerator(Repeater(Counting(), repeat=3))
    with pytest.warns(UserWarning, match="num_samples=4, repeat=3"):
        gen.add_configurations({}, 4)


def test_save_and_restore_continue_the_same_search(tmp_path):
    param_space = {"model": {"x": uniform(0, 1)}}
    gen = _generator(ConcurrencyLimiter(Counting(), max_concurrent=2), param_space, num_samples=4)
    first, second = gen.next_trial(), gen.next_trial()
    assert gen.next_trial() is None  # two alive: the limiter says "not now"
    gen.on_trial_complete(first.trial_id, {"loss": 1})
    gen.save_to_dir(str(tmp_path), session_str="s1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["search_gen_state-s1.pkl", "searcher-state-s1.pkl"]

    restored = _generator(ConcurrencyLimiter(Counting(), max_concurrent=2), param_space, num_samples=4)
    assert restored.has_checkpoint(str(tmp_path))
    restored.restore_from_dir(str(tmp_path))
    third = restored.next_trial()
    assert third.experiment_tag.startswith("3_") and third.config == {"model": {"x": 2}}
    assert restored.next_trial() is None  # `second` is still alive after the restore
    restored.on_trial_complete(second.trial_id, {"loss": 2})
    assert restored.next_trial().experiment_tag.startswith("4_")
    assert restored.is_finished()
    assert third.trial_id not in {first.trial_id, second.trial_id}


def test_restore_without_state_raises(tmp_path):
    gen = SearchGenerator(Counting())
    assert not gen.has_checkpoint(str(tmp_path))
    with pytest.raises(RuntimeError, match="no search_gen_state"):
        gen.restore_from_dir(str(tmp_path))
