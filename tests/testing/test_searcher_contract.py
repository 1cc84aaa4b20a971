"""The searcher contract itself: what it accepts and what it catches, on small plug-ins."""

import numpy as np
import pytest

from tunesmith.search import Searcher
from tunesmith.search._param_space import searchable_parameters, unflatten
from tunesmith.testing import check_save_restore, check_searcher, check_trial_lifecycle


class LearningOneAtATime(Searcher):
    """Seeded; each suggestion depends on the results so far; one trial at a time (else None)."""

    def __init__(self, metric=None, mode=None, seed=0, drop_quantization=False):
        super().__init__(metric=metric, mode=mode)
        self.seed, self.drop_quantization = seed, drop_quantization
        self.parameters, self.live, self.losses = None, None, []

    def set_search_properties(self, metric, mode, config, **spec):
        if not self._set_metric_mode(metric, mode) or self.parameters:
            return False
        self.parameters = searchable_parameters(config, "LearningOneAtATime")
        return True

    def suggest(self, trial_id):
        self._require_space(self.parameters)
        self._require_metric_mode()
        if self.live is not None and self.live != trial_id:
            return None
        self.live = trial_id
        rng = np.random.default_rng([self.seed, len(self.losses), int(1e6 * sum(self.losses))])  # learns
        return unflatten({p.name: self._draw(p, rng) for p in self.parameters}, {p.name: p.path for p in self.parameters})

    def _draw(self, parameter, rng):
        if self.drop_quantization and parameter.q is not None:
            low, high = parameter.domain.lower, parameter.domain.upper
            return int(rng.integers(low, high)) if isinstance(parameter.q, int) else float(rng.uniform(low, high))
        value = parameter.domain.sample(random_state=rng)
        return value.item() if hasattr(value, "item") else value

    def on_trial_complete(self, trial_id, result=None, error=False):
        if trial_id != self.live:
            return
        self.live = None
        if result and not error and "loss" in result:
            self.losses.append(float(result["loss"]))


class ForgetsResultsOnRestore(LearningOneAtATime):
    def set_state(self, state):
        super().set_state({**state, "losses": []})


def test_a_seeded_learning_searcher_that_runs_one_trial_at_a_time_passes(tmp_path):
    check_searcher(lambda **kw: LearningOneAtATime(seed=3, **kw), tmp_path, same_suggestions=True)


def test_a_searcher_that_drops_quantization_passes_when_told(tmp_path):
    factory = lambda **kw: LearningOneAtATime(drop_quantization=True, **kw)  # noqa: E731
    check_searcher(factory, tmp_path, same_suggestions=True, check_quantization=False)
    with pytest.raises(AssertionError, match="must be a multiple of q="):
        check_trial_lifecycle(factory)


def test_a_restored_searcher_that_lost_its_results_is_caught(tmp_path):
    with pytest.raises(AssertionError, match="must continue the same sequence"):
        check_save_restore(lambda **kw: ForgetsResultsOnRestore(**kw), tmp_path, same_suggestions=True)

