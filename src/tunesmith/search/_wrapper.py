"""The base of searchers that wrap another one (``ConcurrencyLimiter``, ``Repeater``)."""

from __future__ import annotations

import copy
from typing import Any

from tunesmith.search._searcher import Searcher

__all__ = ["SearcherWrapper"]


class SearcherWrapper(Searcher):
    """A searcher around ``searcher``: metric, mode, search properties, pauses and saved files
    are the inner searcher's; the wrapper's own bookkeeping is its ``get_state``.

    Args:
        searcher: The inner searcher.

    Raises:
        TypeError: ``searcher`` is not a :class:`Searcher`.
    """

    def __init__(self, searcher: Searcher) -> None:
        if not isinstance(searcher, Searcher):
            raise TypeError(f"{type(self).__name__} needs a tunesmith.search.Searcher; got {type(searcher).__name__}")
        super().__init__()
        self.searcher = searcher

    @property
    def metric(self) -> str | list[str] | None:
        return self.searcher.metric

    @property
    def mode(self) -> str | list[str] | None:
        return self.searcher.mode

    def set_search_properties(
        self, metric: str | list[str] | None, mode: str | list[str] | None, config: dict, **spec: Any
    ) -> bool:
        """Pass through to the inner searcher."""
        return self.searcher.set_search_properties(metric, mode, config, **spec)

    def on_pause(self, trial_id: str) -> None:
        self.searcher.on_pause(trial_id)

    def on_unpause(self, trial_id: str) -> None:
        self.searcher.on_unpause(trial_id)

    def get_state(self) -> dict[str, Any]:
        """This wrapper's bookkeeping, without the inner searcher (saved on its own)."""
        return copy.deepcopy({k: v for k, v in self.__dict__.items() if k != "searcher"})

    def set_state(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def save(self, checkpoint_path: str) -> None:
        """Save the inner searcher (this wrapper's state travels with ``SearchGenerator``)."""
        self.searcher.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.searcher.restore(checkpoint_path)
