"""What the controller asks for new trials: the ``SearchAlgorithm`` interface."""

from __future__ import annotations

import abc
import dataclasses
from typing import Any

__all__ = ["SearchAlgorithm", "TrialSuggestion"]


@dataclasses.dataclass(frozen=True)
class TrialSuggestion:
    """A configuration to try, as the controller receives it.

    Attributes:
        trial_id: Unique within the experiment (``"<5hex>_<00000>"`` for variants,
            8 hex characters for searcher-driven trials).
        config: The fully resolved config the trainable receives.
        experiment_tag: ``"<index>_<k=v,...>"`` over the sampled/grid keys.
        evaluated_params: Flattened ``{"a/b": value}`` of the keys that were sampled or
            gridded (the parameter columns of progress tables).
    """

    trial_id: str
    config: dict[str, Any]
    experiment_tag: str = ""
    evaluated_params: dict[str, Any] = dataclasses.field(default_factory=dict)


class SearchAlgorithm(abc.ABC):
    """Produces trials one at a time. ``BasicVariantGenerator`` and ``SearchGenerator`` are the two built-ins.

    The controller calls, in order: :meth:`set_search_properties`, :meth:`add_configurations`,
    then :meth:`next_trial` whenever it has room for a trial, and the ``on_trial_*`` hooks as
    trials report and end. ``next_trial`` returns None for "nothing now"; :meth:`is_finished`
    tells whether more will ever come.
    """

    _finished = False

    def set_search_properties(
        self, metric: str | list[str] | None, mode: str | list[str] | None, config: dict, **spec: Any
    ) -> bool:
        """Receive the experiment's metric, mode and param space. False if already set."""
        return True

    @abc.abstractmethod
    def add_configurations(self, param_space: dict[str, Any], num_samples: int) -> None:
        """Register the param space to expand, ``num_samples`` times (-1: without end)."""

    @abc.abstractmethod
    def next_trial(self) -> TrialSuggestion | None:
        """Return the next trial to create, or None if there is none right now."""

    @property
    def total_samples(self) -> int | None:
        """How many trials this algorithm will produce in all, if known."""
        return None

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        """A flattened intermediate result of a trial."""

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        """The trial ended; ``result`` is its last flattened result, ``error`` True if it failed."""

    def on_pause(self, trial_id: str) -> None:
        """The scheduler paused the trial (its process ended; it waits to run again)."""

    def on_unpause(self, trial_id: str) -> None:
        """A paused trial runs again."""

    def is_finished(self) -> bool:
        return self._finished

    def set_finished(self) -> None:
        self._finished = True

    def reopen(self) -> None:
        """Produce trials again after :meth:`set_finished` (a resumed experiment, or more samples)."""
        self._finished = False

    def has_checkpoint(self, dirpath: str) -> bool:
        return False

    def save_to_dir(self, dirpath: str, session_str: str = "default") -> None:
        """Write the algorithm's state into ``dirpath``; the journal records when."""

    def restore_from_dir(self, dirpath: str) -> None:
        """Read back what :meth:`save_to_dir` wrote."""
