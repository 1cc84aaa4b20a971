"""What the controller asks for new trials: the ``SearchAlgorithm`` interface."""

from __future__ import annotations

import abc
import dataclasses
from typing import Any

__all__ = ["SearchAlgorithm", "TrialSuggestion", "experiment_spaces"]


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
    def add_configurations(self, experiments: Any, num_samples: int | None = None) -> None:
        """Register what to expand: as in Ray Tune, an ``Experiment``, a list of them or a dict
        ``{name: spec}`` (each brings its ``config`` and ``num_samples``); or a param space and
        ``num_samples`` (-1: without end). :func:`experiment_spaces` reads all of these."""

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


def experiment_spaces(experiments: Any, num_samples: int | None = None) -> list[tuple[dict[str, Any], int]]:
    """``(param_space, num_samples)`` pairs from what ``add_configurations`` was given.

    Args:
        experiments: A legacy ``Experiment`` (anything with a ``spec`` dict), a list of them,
            Ray Tune's ``{name: spec}`` dict (specs with a ``"run"`` key), or a param space
            dict (None: empty).
        num_samples: Samples of a param space (default 1, as ``Experiment``'s); given with
            experiments, it replaces theirs.

    Raises:
        ValueError: ``experiments`` is of none of those kinds.

    Example:
        >>> experiment_spaces({"a": 1}, 3), experiment_spaces({"exp": {"run": "f", "config": {"a": 1}}})
        ([({'a': 1}, 3)], [({'a': 1}, 1)])
    """
    specs_allowed = num_samples is None  # with num_samples, a dict is a param space even if it has "run"
    if isinstance(experiments, dict) and specs_allowed and _is_spec_dict(experiments):
        experiments = list(experiments.values())
    elif _is_experiment(experiments, specs_allowed):
        experiments = [experiments]
    if isinstance(experiments, (list, tuple)) and experiments and all(_is_experiment(e, specs_allowed) for e in experiments):
        return [(_spec(e).get("config") or {}, _spec(e).get("num_samples", 1) if num_samples is None else num_samples)
                for e in experiments]
    if experiments is None or isinstance(experiments, dict) or num_samples is not None:
        return [(experiments, 1 if num_samples is None else num_samples)]  # a param space (checked by the caller)
    raise ValueError(
        "add_configurations takes an Experiment, a list of them, a dict {name: spec} or a param space dict; "
        f"got {type(experiments).__name__}: {experiments!r}"
    )


def _spec(experiment: Any) -> dict[str, Any]:
    return experiment.spec if isinstance(getattr(experiment, "spec", None), dict) else experiment


def _is_experiment(value: Any, specs_allowed: bool = True) -> bool:
    """An ``Experiment`` (has a ``spec`` dict) or, where allowed, a dict spec with a ``"run"`` key."""
    return isinstance(getattr(value, "spec", None), dict) or (specs_allowed and isinstance(value, dict) and "run" in value)


def _is_spec_dict(experiments: dict[Any, Any]) -> bool:
    """Whether ``experiments`` is Ray Tune's ``{name: spec}`` form rather than a param space."""
    return bool(experiments) and all(_is_experiment(v) for v in experiments.values())
