"""``ConcurrencyLimiter``: at most N trials of a searcher alive at once."""

from __future__ import annotations

import logging
from typing import Any

from tunesmith.search._searcher import Searcher
from tunesmith.search._wrapper import SearcherWrapper

__all__ = ["ConcurrencyLimiter"]

logger = logging.getLogger("tunesmith.search")


class ConcurrencyLimiter(SearcherWrapper):
    """Wrap a searcher so that no more than ``max_concurrent`` of its trials run at once.

    Once ``max_concurrent`` suggested trials are unfinished, :meth:`suggest` returns None
    ("not now") without asking the inner searcher. With ``batch=True`` the inner searcher
    hears of completions only when the whole batch of ``max_concurrent`` trials has ended,
    and no new trial starts before that. If the inner searcher limits concurrency itself
    (its ``set_max_concurrency`` returns True), this wrapper only passes calls through.

    Args:
        searcher: The searcher to limit.
        max_concurrent: Most trials alive at once; an int > 0.
        batch: Hold completions back until the whole batch is done.

    Raises:
        ValueError: ``max_concurrent`` is not an int > 0, or ``searcher`` is already limited
            by a ``ConcurrencyLimiter`` (directly or inside another wrapper such as
            ``Repeater``): two limits on one searcher are one too many.
        TypeError: ``searcher`` is not a :class:`Searcher`.

    Example:
        >>> from tunesmith.search import ConcurrencyLimiter, Searcher
        >>> class Const(Searcher):
        ...     def suggest(self, trial_id):
        ...         return {"x": 1}
        ...     def on_trial_complete(self, trial_id, result=None, error=False):
        ...         pass
        >>> limiter = ConcurrencyLimiter(Const(metric="m", mode="max"), max_concurrent=1)
        >>> limiter.suggest("t1"), limiter.suggest("t2")
        ({'x': 1}, None)
        >>> limiter.on_trial_complete("t1", {"m": 1.0})
        >>> limiter.suggest("t3")
        {'x': 1}
    """

    def __init__(self, searcher: Searcher, max_concurrent: int, batch: bool = False) -> None:
        if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, int) or max_concurrent < 1:
            raise ValueError(f"max_concurrent must be an int > 0; got {max_concurrent!r}")
        super().__init__(searcher)
        _refuse_second_limit(searcher)
        self.max_concurrent = max_concurrent
        self.batch = batch
        self.live_trials: set[str] = set()
        self.num_unfinished_live_trials = 0
        self.cached_results: dict[str, tuple[dict[str, Any] | None, bool]] = {}
        self._limit_concurrency = not searcher.set_max_concurrency(max_concurrent)

    def set_search_properties(
        self, metric: str | list[str] | None, mode: str | list[str] | None, config: dict, **spec: Any
    ) -> bool:
        """Pass through to the inner searcher."""
        self._limit_concurrency = not self.searcher.set_max_concurrency(self.max_concurrent)
        return super().set_search_properties(metric, mode, config, **spec)

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        """Change the limit (this wrapper enforces it, so True)."""
        self.max_concurrent = max_concurrent
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        """Ask the inner searcher, unless ``max_concurrent`` trials are alive already."""
        if not self._limit_concurrency:
            return self.searcher.suggest(trial_id)
        if len(self.live_trials) >= self.max_concurrent:
            logger.debug("%d trials alive (limit %d); not suggesting now", len(self.live_trials), self.max_concurrent)
            return None
        suggestion = self.searcher.suggest(trial_id)
        if suggestion is not None and suggestion != Searcher.FINISHED:
            self.live_trials.add(trial_id)
            self.num_unfinished_live_trials += 1
        return suggestion

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        self.searcher.on_trial_result(trial_id, result)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        """Free the trial's slot and tell the inner searcher (at batch end with ``batch=True``)."""
        if not self._limit_concurrency:
            self.searcher.on_trial_complete(trial_id, result=result, error=error)
            return
        if trial_id not in self.live_trials or trial_id in self.cached_results:
            return
        self.num_unfinished_live_trials -= 1
        if not self.batch:
            self.live_trials.discard(trial_id)
            self.searcher.on_trial_complete(trial_id, result=result, error=error)
            return
        self.cached_results[trial_id] = (result, error)
        if self.num_unfinished_live_trials <= 0:
            self._release_batch()

    def _release_batch(self) -> None:
        cached, self.cached_results = self.cached_results, {}
        self.num_unfinished_live_trials = 0
        for trial_id, (result, error) in cached.items():
            self.live_trials.discard(trial_id)
            self.searcher.on_trial_complete(trial_id, result=result, error=error)

    def add_evaluated_point(
        self,
        parameters: dict[str, Any],
        value: float | list[float] | None,
        error: bool = False,
        pruned: bool = False,
        intermediate_values: list[float] | None = None,
    ) -> None:
        self.searcher.add_evaluated_point(parameters, value, error, pruned, intermediate_values)


def _refuse_second_limit(searcher: Searcher) -> None:
    """Raise ValueError if a ConcurrencyLimiter already wraps ``searcher`` or anything inside it."""
    chain, limit = [], None
    while isinstance(searcher, Searcher):
        chain.append(type(searcher).__name__)
        if isinstance(searcher, ConcurrencyLimiter) and limit is None:
            limit = searcher.max_concurrent
        searcher = getattr(searcher, "searcher", None)
    if limit is not None:
        nested = "(".join(chain) + ")" * (len(chain) - 1)
        raise ValueError(
            "a searcher can be wrapped in one ConcurrencyLimiter only; got a searcher already "
            f"limited: {nested} with max_concurrent={limit}. Keep one limit "
            "(TuneConfig(max_concurrent_trials=...) adds a ConcurrencyLimiter too)"
        )
