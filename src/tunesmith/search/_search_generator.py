"""``SearchGenerator``: the ``SearchAlgorithm`` that turns a ``Searcher``'s suggestions into trials."""

from __future__ import annotations

import glob
import logging
import os
import random
from typing import Any

import cloudpickle

from tunesmith._flatten import flatten_dict
from tunesmith.search._param_space import has_unresolved_values, merge_config
from tunesmith.search._search_algorithm import SearchAlgorithm, TrialSuggestion, experiment_spaces
from tunesmith.search._searcher import Searcher, _atomic_pickle, _conflicts

__all__ = ["SearchGenerator"]

logger = logging.getLogger("tunesmith.search")


class SearchGenerator(SearchAlgorithm):
    """Ask a :class:`Searcher` for one config per trial until ``num_samples`` trials exist.

    The controller wraps any searcher passed as ``TuneConfig(search_alg=...)`` in a
    ``SearchGenerator``. Each trial gets an 8-hex-character id and an experiment tag numbered
    from 1 (``"1_lr=0.0100,units=64"``); its config is the param space's constants with the
    searcher's suggestion laid over them. The search ends after ``num_samples`` trials
    (``-1``: no limit) or when the searcher returns ``Searcher.FINISHED``.

    Args:
        searcher: The searcher to ask (possibly wrapped in ``ConcurrencyLimiter``/``Repeater``).
        seed: Seeds the generator of trial ids (for reproducible ids in tests).

    Raises:
        TypeError: ``searcher`` is not a :class:`Searcher`.

    Example:
        >>> from tunesmith.search import Searcher, SearchGenerator
        >>> class One(Searcher):
        ...     def suggest(self, trial_id):
        ...         return {"x": 1}
        ...     def on_trial_complete(self, trial_id, result=None, error=False):
        ...         pass
        >>> gen = SearchGenerator(One(metric="loss", mode="min"), seed=0)
        >>> gen.add_configurations({"const": 5}, num_samples=1)
        >>> trial = gen.next_trial()
        >>> trial.config, trial.experiment_tag[:2], len(trial.trial_id), gen.is_finished()
        ({'const': 5, 'x': 1}, '1_', 8, True)
    """

    CKPT_FILE_TMPL = "search_gen_state-{}.pkl"

    def __init__(self, searcher: Searcher, seed: int | None = None) -> None:
        if not isinstance(searcher, Searcher):
            raise TypeError(f"SearchGenerator needs a tunesmith.search.Searcher; got {type(searcher).__name__}")
        self.searcher = searcher
        self._rng = random.Random(seed)
        self._param_space: dict[str, Any] | None = None
        self._total: int | None = None
        self._counter = 0
        self._issued_ids: set[str] = set()
        self._finished = False

    @property
    def metric(self) -> str | list[str] | None:
        """The searcher's metric."""
        return self.searcher.metric

    @property
    def total_samples(self) -> int | None:
        """``num_samples``, or None when unlimited (``-1``) or not yet configured."""
        return self._total

    def set_search_properties(
        self, metric: str | list[str] | None, mode: str | list[str] | None, config: dict, **spec: Any
    ) -> bool:
        """Pass the experiment's metric, mode and param space to the searcher.

        A searcher that took an earlier param space with the same searched keys (the one
        saved with an experiment that is now restored) keeps it; :meth:`restore_from_dir`
        then loads its state.

        Returns:
            True when the searcher can run this experiment; False when its own metric or
            mode conflicts with ``metric``/``mode`` (the caller reports that).

        Raises:
            ValueError: The searcher keeps its own search space but ``config`` holds domains
                or ``grid_search`` too.
        """
        inner = _innermost(self.searcher)
        keys = _searched_keys(config)
        if self.searcher.set_search_properties(metric, mode, config, **spec):
            inner._param_space_keys = keys
            return True
        if _conflicts(self.searcher.metric, metric) or _conflicts(self.searcher.mode, mode):
            return False
        if has_unresolved_values(config) and inner._param_space_keys != keys:
            raise ValueError(
                f"{type(inner).__name__} already has its own search space, so the "
                "param_space must hold only constants; got a param_space with search domains "
                "(tune.uniform, tune.choice, grid_search, ...). Define the space in one place: "
                "either in the searcher or in the param_space."
            )
        return True

    def add_configurations(self, param_space: Any, num_samples: int | None = None) -> None:
        """Register the param space and how many trials to create (``-1``: no limit).

        ``param_space`` may also be one ``Experiment`` (or ``{name: spec}``), as in Ray Tune,
        which brings its own ``num_samples``.

        Raises:
            ValueError: ``num_samples`` is not an int >= 0 or -1, or more than one experiment.
        """
        spaces = experiment_spaces(param_space, num_samples)
        if len(spaces) != 1:
            raise ValueError(f"{type(self).__name__} runs one experiment; got {len(spaces)}: {param_space!r}")
        (param_space, num_samples), = spaces
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < -1:
            raise ValueError(f"num_samples must be an int >= 0, or -1 for no limit; got {num_samples!r}")
        from tunesmith.search.repeater import _warn_on_repeater

        self._param_space = dict(param_space or {})
        self._total = None if num_samples == -1 else num_samples
        _warn_on_repeater(self.searcher, num_samples)

    def next_trial(self) -> TrialSuggestion | None:
        """Ask the searcher for a config; None when it has none now or the search is over."""
        if self.is_finished() or self._param_space is None:
            return None
        trial_id = self._new_trial_id()
        suggestion = self.searcher.suggest(trial_id)
        if suggestion == Searcher.FINISHED:
            self.set_finished()
            return None
        if suggestion is None:
            return None
        return self._make_trial(trial_id, suggestion)

    def _make_trial(self, trial_id: str, suggestion: dict[str, Any]) -> TrialSuggestion:
        from tunesmith.search.variant_generator import format_vars

        self._issued_ids.add(trial_id)
        self._counter += 1
        config = merge_config(self._param_space, suggestion)
        all_vars = {tuple(k.split("/")): v for k, v in flatten_dict(config).items()}
        tag = f"{self._counter}_{format_vars(all_vars)}"
        return TrialSuggestion(trial_id, config, tag, flatten_dict(suggestion))

    def _new_trial_id(self) -> str:
        while True:
            trial_id = f"{self._rng.getrandbits(32):08x}"
            if trial_id not in self._issued_ids:
                return trial_id

    def is_finished(self) -> bool:
        """True once ``num_samples`` trials exist or the searcher said FINISHED."""
        return self._finished or (self._total is not None and self._counter >= self._total)

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        """Forward a flattened intermediate result to the searcher."""
        self.searcher.on_trial_result(trial_id, result)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        """Forward a trial's end to the searcher."""
        self.searcher.on_trial_complete(trial_id, result=result, error=error)

    def on_pause(self, trial_id: str) -> None:
        """Forward a pause to the searcher (BOHB stops counting the trial as running)."""
        self.searcher.on_pause(trial_id)

    def on_unpause(self, trial_id: str) -> None:
        self.searcher.on_unpause(trial_id)

    # -- state -----------------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """Counter, limits, issued ids, the param space and every wrapper's state."""
        state = {
            "counter": self._counter,
            "total": self._total,
            "finished": self._finished,
            "issued_ids": set(self._issued_ids),
            "param_space": self._param_space,
            "rng": self._rng.getstate(),
        }
        state["wrappers"] = [w.get_state() for w in _wrappers(self.searcher)]
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        """Load :meth:`get_state`'s snapshot; a param space already added is kept."""
        self._counter = state["counter"]
        self._total = state["total"]
        self._finished = state["finished"]
        self._issued_ids = set(state["issued_ids"])
        self._rng.setstate(state["rng"])
        if self._param_space is None:
            self._param_space = state["param_space"]
        for wrapper, wrapper_state in zip(_wrappers(self.searcher), state["wrappers"]):
            wrapper.set_state(wrapper_state)

    def has_checkpoint(self, dirpath: str) -> bool:
        """True if ``dirpath`` holds a ``search_gen_state-*.pkl`` file."""
        return bool(self._state_files(dirpath))

    def save_to_dir(self, dirpath: str, session_str: str = "default") -> None:
        """Write ``search_gen_state-<session>.pkl`` and the innermost searcher's own file."""
        _innermost(self.searcher).save_to_dir(dirpath, session_str=session_str)
        _atomic_pickle(self.get_state(), os.path.join(dirpath, self.CKPT_FILE_TMPL.format(session_str)))

    def restore_from_dir(self, dirpath: str) -> None:
        """Restore from the newest state files in ``dirpath``.

        Call it after :meth:`set_search_properties` and :meth:`add_configurations`; the
        restored searcher then continues the same search.

        Raises:
            RuntimeError: ``dirpath`` holds no ``search_gen_state-*.pkl``.
        """
        paths = self._state_files(dirpath)
        if not paths:
            raise RuntimeError(f"cannot restore SearchGenerator: no search_gen_state-*.pkl in {dirpath!r}")
        with open(max(paths, key=lambda p: (os.path.getmtime(p), p)), "rb") as file:
            state = cloudpickle.load(file)
        _innermost(self.searcher).restore_from_dir(dirpath)
        self.set_state(state)

    def _state_files(self, dirpath: str) -> list[str]:
        return glob.glob(os.path.join(glob.escape(dirpath), self.CKPT_FILE_TMPL.format("*")))


def _searched_keys(param_space: Any) -> frozenset[str] | None:
    """The flat keys (``"a/b"``) of the domains and grids in ``param_space``; None if it has none."""
    from tunesmith.search.variant_generator import parse_spec_vars

    if not has_unresolved_values(param_space):
        return None
    _, domain_vars, grid_vars = parse_spec_vars(param_space)
    return frozenset("/".join(map(str, path)) for path, _ in domain_vars + grid_vars)


def _wrappers(searcher: Searcher) -> list[Searcher]:
    """Wrapper searchers (those with a ``.searcher``) from the outside in."""
    chain = []
    while isinstance(getattr(searcher, "searcher", None), Searcher):
        chain.append(searcher)
        searcher = searcher.searcher
    return chain


def _innermost(searcher: Searcher) -> Searcher:
    while isinstance(getattr(searcher, "searcher", None), Searcher):
        searcher = searcher.searcher
    return searcher
