"""The ``Searcher`` base class: suggest a config for a trial id, learn from its result.

A searcher sees only trial ids, configs and flattened results; it is never handed the
controller. :class:`~tunesmith.search.SearchGenerator` wraps a searcher into the
``SearchAlgorithm`` the controller talks to (the controller does that for you when you pass a
searcher as ``TuneConfig(search_alg=...)``).

Writing a searcher means overriding :meth:`Searcher.suggest` and
:meth:`Searcher.on_trial_complete`; a searcher that can take the experiment's ``param_space``
also overrides :meth:`Searcher.set_search_properties` (see ``tunesmith.search._param_space``
for the conversion helpers the built-in integrations share, and
``tunesmith.testing`` for the conformance checks).

Example:
    >>> import random
    >>> from tunesmith.search import Searcher
    >>> class RandomX(Searcher):
    ...     def __init__(self, metric=None, mode=None, seed=0):
    ...         super().__init__(metric=metric, mode=mode)
    ...         self._rng = random.Random(seed)
    ...     def suggest(self, trial_id):
    ...         return {"x": self._rng.uniform(0, 1)}
    ...     def on_trial_complete(self, trial_id, result=None, error=False):
    ...         pass
    >>> searcher = RandomX(metric="loss", mode="min")
    >>> 0 <= searcher.suggest("a1b2c3d4")["x"] <= 1
    True
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import warnings
from typing import Any, Iterable

import cloudpickle

from tunesmith._flatten import flatten_dict
from tunesmith.search._state_pickle import dump_state, dumps_state

__all__ = [
    "DEFAULT_METRIC",
    "UNDEFINED_METRIC_MODE",
    "UNDEFINED_SEARCH_SPACE",
    "UNRESOLVED_SEARCH_SPACE",
    "Searcher",
    "validate_metric_mode",
]

logger = logging.getLogger("tunesmith.search")

#: The metric name used when only a mode is given (a trainable returning a bare number).
DEFAULT_METRIC = "_metric"

#: Warning text when a searcher's own ``space`` argument holds tunesmith domains.
#: Placeholders: ``{par}`` (argument name), ``{cls}`` (searcher class name).
UNRESOLVED_SEARCH_SPACE = (
    "You passed a `{par}` argument to {cls} that holds unresolved search space definitions "
    "(tune.uniform, tune.choice, ...). {cls} converts them, but the usual way is to pass "
    "them as the `param_space` argument of `tune.Tuner()` and create {cls} without a space."
)

#: Error text when ``suggest`` is called before any search space is known.
#: Placeholders: ``{cls}`` (searcher class name), ``{space}`` (its space argument name).
UNDEFINED_SEARCH_SPACE = (
    "Trying to sample a configuration from {cls}, but no search space has been defined. "
    "Either pass the `{space}` argument when creating {cls}, or pass a `param_space` to "
    "`tune.Tuner()`."
)

#: Error text when ``suggest`` is called before the metric and mode are known.
#: Placeholders: ``{cls}``, ``{metric}``, ``{mode}``.
UNDEFINED_METRIC_MODE = (
    "Trying to sample a configuration from {cls}, but the `metric` ({metric}) or `mode` "
    "({mode}) has not been set. Either pass them when creating {cls}, or pass them to "
    "`tune.TuneConfig()`."
)

_SINGLE_MODES = ("min", "max")
_MULTI_MODES = ("min", "max", "obs")


def validate_metric_mode(
    metric: str | list[str] | None, mode: str | list[str] | None
) -> tuple[str | list[str] | None, str | list[str] | None]:
    """Check a metric/mode pair and fill in the default metric.

    Args:
        metric: A metric name, a list of names (multi-objective) or None.
        mode: ``"min"``/``"max"``, a list of ``"min"``/``"max"``/``"obs"`` of the same length
            as ``metric``, or None.

    Returns:
        ``(metric, mode)`` with lists as lists; a mode without metric gets ``"_metric"``.

    Raises:
        ValueError: A mode outside the allowed values, a str/list mix, or lists of different
            lengths.

    Example:
        >>> validate_metric_mode(None, "max")
        ('_metric', 'max')
    """
    if isinstance(metric, tuple):
        metric = list(metric)
    if mode is None:
        return metric, None
    if isinstance(mode, str):
        return _validate_single(metric, mode)
    if isinstance(mode, (list, tuple)):
        return _validate_multi(metric, list(mode))
    raise ValueError(f"mode must be a string or a list of strings; got {type(mode).__name__} {mode!r}")


def _validate_single(metric: Any, mode: str) -> tuple[str, str]:
    if mode not in _SINGLE_MODES:
        raise ValueError(f"mode must be one of 'min', 'max'; got {mode!r}")
    if metric is None:
        return DEFAULT_METRIC, mode
    if not isinstance(metric, str):
        raise ValueError(
            f"metric and mode must both be strings or both be lists; got metric={metric!r}, mode={mode!r}"
        )
    return metric, mode


def _validate_multi(metric: Any, mode: list[Any]) -> tuple[list[str], list[str]]:
    bad = [m for m in mode if m not in _MULTI_MODES]
    if bad:
        raise ValueError(f"each mode in a list must be one of 'min', 'max', 'obs'; got {bad!r} in {mode!r}")
    if not isinstance(metric, list):
        raise ValueError(
            f"metric and mode must both be strings or both be lists; got metric={metric!r}, mode={mode!r}"
        )
    if len(metric) != len(mode):
        raise ValueError(
            "metric and mode lists must have the same length; "
            f"got {len(metric)} metrics {metric!r} and {len(mode)} modes {mode!r}"
        )
    return metric, mode


def _conflicts(mine: Any, theirs: Any) -> bool:
    """True when both sides are set and differ (``_metric`` counts as unset on our side)."""
    if mine is None or theirs is None or mine == DEFAULT_METRIC:
        return False
    return _as_list(mine) != _as_list(theirs)


def _as_list(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value


class Searcher:
    """Base class of search algorithms that suggest one config per trial id.

    Subclasses override :meth:`suggest` and :meth:`on_trial_complete`; everything else has a
    working default. The controller calls, in order: :meth:`set_search_properties` (the
    ``TuneConfig`` metric/mode and the ``param_space``), optionally :meth:`restore_from_dir`
    when an experiment is resumed, then :meth:`suggest` for each new trial, and
    :meth:`on_trial_result` / :meth:`on_trial_complete` as trials report and end.

    Args:
        metric: The result key to optimize, or a list of keys (multi-objective).
        mode: ``"min"`` or ``"max"``; with a list of metrics, a list of the same length whose
            items are ``"min"``, ``"max"`` or ``"obs"`` (observed, not optimized). A mode
            without a metric means the metric ``"_metric"``.

    Raises:
        ValueError: A mode outside those values, or metric/mode lists of different lengths.

    Attributes:
        FINISHED: Returned by :meth:`suggest` when the searcher has nothing more to try.
        CKPT_FILE_TMPL: File name template (session string) used by :meth:`save_to_dir`.
    """

    FINISHED = "FINISHED"
    CKPT_FILE_TMPL = "searcher-state-{}.pkl"

    #: Searched keys of the param space this searcher took through ``SearchGenerator``
    #: (None: it took none). A restored experiment hands the same param space to the
    #: searcher saved with it, which already holds the converted space.
    _param_space_keys: frozenset[str] | None = None

    def __init__(self, metric: str | list[str] | None = None, mode: str | list[str] | None = None) -> None:
        self._metric, self._mode = validate_metric_mode(metric, mode)

    # -- metric and mode -------------------------------------------------------------------

    @property
    def metric(self) -> str | list[str] | None:
        """The result key (or keys) this searcher optimizes."""
        return self._metric

    @property
    def mode(self) -> str | list[str] | None:
        """``"min"``/``"max"``, or a list of ``"min"``/``"max"``/``"obs"``."""
        return self._mode

    def set_search_properties(
        self, metric: str | list[str] | None, mode: str | list[str] | None, config: dict, **spec: Any
    ) -> bool:
        """Receive the experiment's metric, mode and ``param_space``.

        Adopts ``metric``/``mode`` where this searcher has none; then, unless the searcher
        already has a space (:meth:`_has_space`), converts ``config`` (:meth:`_set_tune_space`)
        and returns True. A plain :class:`Searcher` has no space to convert and returns False,
        meaning "I do not take the param space" (fine when it holds only constants); a
        searcher that converts param spaces overrides those two steps.

        Args:
            metric: ``TuneConfig.metric`` (may be None).
            mode: ``TuneConfig.mode`` (may be None).
            config: The ``param_space`` given to the Tuner.
            **spec: Other experiment settings (``num_samples``, ...); may be ignored.

        Returns:
            True if the searcher took the param space; False if it did not, or if its own
            metric/mode conflict with the ones given (the caller turns that into an error).
        """
        if not self._set_metric_mode(metric, mode):
            return False
        if self._one_metric_only:
            self._require_single_metric()
        if self._has_space():
            return False
        self._set_tune_space(config)
        return True

    # -- the steps of set_search_properties, for searchers that convert the param space ----------
    #: True for a searcher that optimizes one metric: a list of metrics is refused.
    _one_metric_only = False

    def _has_space(self) -> bool:
        """Whether the searcher already has a space (then it does not take ``param_space``).

        The default says yes: a plain :class:`Searcher` takes no param space.
        """
        return True

    def _set_tune_space(self, space: dict[str, Any]) -> None:
        """Convert the experiment's ``param_space`` into the searcher's own space.

        Called only when :meth:`_has_space` says False; a plain :class:`Searcher` keeps no
        space, so there is nothing to convert. Searchers that convert override both.
        """

    def _require_single_metric(self) -> None:
        """Raise ``ValueError`` when the metric is a list (the searcher optimizes one metric)."""
        if isinstance(self._metric, list):
            raise ValueError(f"{type(self).__name__} optimizes one metric; metric must be a string, got {self._metric!r}")

    def _set_metric_mode(self, metric: str | list[str] | None, mode: str | list[str] | None) -> bool:
        """Adopt the experiment's metric and mode where unset; False (nothing changed) on conflict.

        Raises:
            ValueError: The combined metric and mode are invalid.
        """
        if _conflicts(self._metric, metric) or _conflicts(self._mode, mode):
            return False
        new_metric = metric if self._metric in (None, DEFAULT_METRIC) and metric is not None else self._metric
        new_mode = self._mode if self._mode is not None else mode
        self._metric, self._mode = validate_metric_mode(new_metric, new_mode)
        return True

    def _require_metric_mode(self) -> None:
        """Raise ``RuntimeError(UNDEFINED_METRIC_MODE)`` unless both metric and mode are set."""
        if not self._metric or not self._mode:
            raise RuntimeError(
                UNDEFINED_METRIC_MODE.format(cls=type(self).__name__, metric=self._metric, mode=self._mode)
            )

    def _require_space(self, space: Any, argument: str = "space") -> None:
        """Raise ``RuntimeError(UNDEFINED_SEARCH_SPACE)`` when ``space`` is empty."""
        if space is None or (not callable(space) and not space):
            raise RuntimeError(UNDEFINED_SEARCH_SPACE.format(cls=type(self).__name__, space=argument))

    def _require_ready(self, space: Any, argument: str = "space") -> None:
        """:meth:`_require_space`, then :meth:`_require_metric_mode`: what asking needs."""
        self._require_space(space, argument)
        self._require_metric_mode()

    # -- the search loop -------------------------------------------------------------------

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        """Return a (nested) config for ``trial_id``, None for "not now", or :attr:`FINISHED`."""
        raise NotImplementedError(f"{type(self).__name__} must implement suggest(trial_id)")

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        """An intermediate, flattened (``"a/b"`` keys) result of a running trial. Optional."""

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        """The trial ended with its last flattened ``result``; ``error`` is True if it failed."""
        raise NotImplementedError(f"{type(self).__name__} must implement on_trial_complete(trial_id, result, error)")

    def on_pause(self, trial_id: str) -> None:
        """A scheduler paused the trial (BOHB uses this). Optional."""

    def on_unpause(self, trial_id: str) -> None:
        """A paused trial runs again. Optional."""

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        """Return True if this searcher limits concurrency itself (then no wrapper does)."""
        return False

    # -- warm start ------------------------------------------------------------------------

    def add_evaluated_point(
        self,
        parameters: dict[str, Any],
        value: float | list[float] | None,
        error: bool = False,
        pruned: bool = False,
        intermediate_values: list[float] | None = None,
    ) -> None:
        """Tell the searcher about a config evaluated outside this experiment.

        Args:
            parameters: The config (nested, or flat with ``"a/b"`` keys).
            value: The metric value (a list for multi-objective), None if unknown.
            error: The evaluation failed.
            pruned: The evaluation was stopped early.
            intermediate_values: Metric values reported along the way, if known.
        """
        raise NotImplementedError(f"{type(self).__name__} does not support add_evaluated_point")

    def add_evaluated_trials(self, trials_or_analysis: Any, metric: str | list[str]) -> None:
        """Warm-start from finished trials: a ``Trial``, a list of them, or anything with ``.trials``.

        Each trial gives one :meth:`add_evaluated_point`: terminated trials with their last
        ``metric`` value, errored trials with ``error=True``, other started trials with
        ``pruned=True``; trials without any result are skipped.

        Raises:
            TypeError: ``trials_or_analysis`` is none of the accepted kinds.
        """
        seen_metric = False
        for trial in _as_trials(trials_or_analysis):
            point = _trial_to_point(trial, metric)
            if point is not None:
                seen_metric = seen_metric or point["value"] is not None
                self.add_evaluated_point(**point)
        if not seen_metric:
            warnings.warn(
                f"no evaluated trial reported the metric {metric!r}; check its name", UserWarning, stacklevel=2
            )

    # -- state -----------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, bytes]:
        """Pickle (or deep-copy) the attributes with thread locks written as fresh locks.

        A searcher is pickled with the experiment's ``TuneConfig`` and copied by wrappers; the
        library objects it holds may hold locks (see ``tunesmith.search._state_pickle``).
        """
        return {_PICKLED_STATE: dumps_state(self.__dict__)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        if set(state) == {_PICKLED_STATE}:
            state = cloudpickle.loads(state[_PICKLED_STATE])
        self.__dict__.update(state)

    def get_state(self) -> dict[str, Any]:
        """A picklable snapshot of this searcher. The default copies every attribute."""
        return dict(self.__dict__)

    def set_state(self, state: dict[str, Any]) -> None:
        """Load a snapshot made by :meth:`get_state`."""
        self.__dict__.update(state)

    def save(self, checkpoint_path: str) -> None:
        """Write :meth:`get_state` to ``checkpoint_path`` (cloudpickle, written atomically)."""
        _atomic_pickle(self.get_state(), checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        """Read a file written by :meth:`save` and load it with :meth:`set_state`."""
        with open(checkpoint_path, "rb") as file:
            self.set_state(cloudpickle.load(file))

    def save_to_dir(self, checkpoint_dir: str, session_str: str = "default") -> None:
        """Save into ``checkpoint_dir/searcher-state-<session_str>.pkl``.

        A searcher whose :meth:`save` raises NotImplementedError is skipped with a warning.
        """
        target = os.path.join(checkpoint_dir, self.CKPT_FILE_TMPL.format(session_str))
        try:
            self.save(target)
        except NotImplementedError:
            logger.warning("%s does not support save(); its state is not checkpointed", type(self).__name__)

    def restore_from_dir(self, checkpoint_dir: str) -> None:
        """Restore from the newest ``searcher-state-*.pkl`` in ``checkpoint_dir``.

        Raises:
            RuntimeError: There is no such file.
        """
        paths = glob.glob(os.path.join(glob.escape(checkpoint_dir), self.CKPT_FILE_TMPL.format("*")))
        if not paths:
            raise RuntimeError(
                f"cannot restore {type(self).__name__}: no {self.CKPT_FILE_TMPL.format('*')} file in {checkpoint_dir!r}"
            )
        self.restore(max(paths, key=lambda p: (os.path.getmtime(p), p)))


#: The one key of :meth:`Searcher.__getstate__`'s dict: the attributes, pickled.
_PICKLED_STATE = "_tunesmith_pickled_state"


def _atomic_pickle(obj: Any, path: str) -> None:
    """Write ``obj`` (thread locks as fresh ones) to a temporary file, then move it into place."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as file:
            dump_state(obj, file)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    os.replace(tmp, path)


def _as_trials(trials_or_analysis: Any) -> Iterable[Any]:
    if isinstance(trials_or_analysis, (list, tuple)):
        return trials_or_analysis
    if hasattr(trials_or_analysis, "trials"):
        return trials_or_analysis.trials
    if hasattr(trials_or_analysis, "trial_id") and hasattr(trials_or_analysis, "config"):
        return [trials_or_analysis]
    raise TypeError(
        "add_evaluated_trials expects a Trial, a list of Trials or an ExperimentAnalysis; "
        f"got {type(trials_or_analysis).__name__}"
    )


def _trial_to_point(trial: Any, metric: str | list[str]) -> dict[str, Any] | None:
    """The add_evaluated_point keywords for one trial, or None when it has nothing to give."""
    status = str(getattr(trial, "status", ""))
    result = flatten_dict(getattr(trial, "last_result", None) or {})
    if not result and status != "ERROR":
        return None
    if isinstance(metric, (list, tuple)):
        values = [result.get(m) for m in metric]
        value = None if any(v is None for v in values) else values
    else:
        value = result.get(metric)
    return {
        "parameters": dict(trial.config),
        "value": value,
        "error": status == "ERROR",
        "pruned": status not in ("ERROR", "TERMINATED"),
    }
