"""``BayesOptSearch``: Gaussian-process optimization with the bayesian-optimization package.

Works with bayesian-optimization 1.4 (``UtilityFunction``) and 2.x/3.x (acquisition classes
in ``bayes_opt.acquisition``): ``utility_kwargs`` ``kind``/``kappa``/``xi`` map onto
``UpperConfidenceBound(kappa)``, ``ExpectedImprovement(xi)`` or
``ProbabilityOfImprovement(xi)``. Ray Tune 2.60's ``BayesOptSearch`` only knows the 1.x API.
"""

from __future__ import annotations

import logging
import numbers
import warnings
from collections import Counter
from typing import Any

from tunesmith._imports import try_import
from tunesmith.search._integration import check_points, is_tune_space, metric_value, to_config, with_constants
from tunesmith.search._param_space import (
    Parameter,
    convert_parameter,
    flatten_dict,
    parameter_paths,
    searchable_parameters,
    warn_dropped_quantization,
)
from tunesmith.search._searcher import UNRESOLVED_SEARCH_SPACE, Searcher

__all__ = ["BayesOptSearch"]

logger = logging.getLogger("tunesmith.search")

_NAME = "BayesOptSearch"
_UTILITY_DEFAULTS = {"kind": "ucb", "kappa": 2.576, "xi": 0.0, "kappa_decay": 1.0, "kappa_decay_delay": 0}


def _import_bayes_opt() -> Any:
    return try_import("bayes_opt", extra="bayesopt", needed_by=_NAME)


class BayesOptSearch(Searcher):
    """Suggest configs with a Gaussian process over continuous parameters (maximizing internally).

    Only float parameters are searched, uniformly between their bounds: ``tune.uniform``,
    and, as in Ray Tune, ``tune.loguniform`` and quantized floats, whose log sampling and
    quantization are dropped with a warning. The first ``random_search_steps`` results are held back, so those trials are
    random draws from the optimizer's seeded generator.

    Args:
        space: ``{name: (lower, upper)}`` bounds, or a tunesmith param space of floats.
        metric: The result key to optimize.
        mode: ``"min"`` or ``"max"``.
        points_to_evaluate: Configs to try first.
        utility_kwargs: ``{"kind": "ucb"|"ei"|"poi", "kappa": 2.576, "xi": 0.0}``, plus
            optional ``kappa_decay`` (0 < d <= 1) and ``kappa_decay_delay`` (int >= 0).
        random_state: Seed of the optimizer (int) or None for an unseeded one.
        random_search_steps: Results collected before the Gaussian process is used.
        verbose: The optimizer's own verbosity.
        patience: End the search (``FINISHED``) once one config was suggested more than
            this many times; None never ends.
        skip_duplicate: Return None instead of a config suggested before.
        analysis: Earlier trials (anything with ``.trials``, or a list of trials) to learn
            from before the first suggestion.
        repeat_float_precision: Decimals compared when detecting duplicates.

    Raises:
        ImportError: bayesian-optimization is not installed.
        ValueError: Bad mode, unsupported domain or bad ``utility_kwargs``.

    Example:
        >>> from tunesmith.search.bayesopt import BayesOptSearch
        >>> searcher = BayesOptSearch({"x": (0.0, 1.0)}, metric="loss", mode="min")
        >>> 0.0 <= searcher.suggest("t1")["x"] <= 1.0
        True
    """

    def __init__(
        self,
        space: dict[str, Any] | None = None,
        metric: str | None = None,
        mode: str | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        utility_kwargs: dict[str, Any] | None = None,
        random_state: int | None = 42,
        random_search_steps: int = 10,
        verbose: int = 0,
        patience: int | None = 5,
        skip_duplicate: bool = True,
        analysis: Any = None,
        repeat_float_precision: int = 5,
    ) -> None:
        super().__init__(metric=metric, mode=mode)
        _import_bayes_opt()
        self._require_single_metric()
        self._utility_kwargs = _check_utility(utility_kwargs)
        self._random_state = random_state
        self._random_search_steps = _count("random_search_steps", random_search_steps, minimum=0)
        self._verbose = verbose
        self._patience = None if patience is None else _count("patience", patience, minimum=1)
        self._skip_duplicate = bool(skip_duplicate)
        self._precision = _count("repeat_float_precision", repeat_float_precision, minimum=0)
        self._points = check_points(points_to_evaluate, _NAME)
        self._analysis = analysis
        self._bounds: dict[str, tuple[float, float]] | None = None
        self._paths: dict[str, tuple[Any, ...]] = {}
        self._tune_space: dict[str, Any] | None = None
        self._optimizer: Any = None
        self._utility: Any = None
        self._live: dict[str, dict[str, float]] = {}
        self._buffered: list[tuple[dict[str, float], float]] | None = [] if self._random_search_steps else None
        self._seen: Counter[tuple[Any, ...]] = Counter()
        if space:
            self._set_space(space)

    # -- space -----------------------------------------------------------------------------

    def _set_space(self, space: dict[str, Any]) -> None:
        if not isinstance(space, dict):
            raise TypeError(f"{_NAME}(space=...) must be a dict of (lower, upper) bounds or a param space; got {type(space).__name__}")
        if is_tune_space(space):
            logger.warning(UNRESOLVED_SEARCH_SPACE.format(par="space", cls=_NAME))
            self._set_tune_space(space)
        else:
            self._bounds = {name: _bounds(name, value) for name, value in flatten_dict(space).items()}

    def _set_tune_space(self, space: dict[str, Any]) -> None:
        parameters = searchable_parameters(space, _NAME)
        self._bounds = {p.name: convert_parameter(p, _conversion_rules(), _NAME) for p in parameters}
        self._paths = parameter_paths(parameters)
        self._tune_space = space

    @staticmethod
    def convert_search_space(spec: dict[str, Any], join: bool = False) -> dict[str, Any]:
        """Convert a param space to bayesian-optimization bounds keyed by ``"a/b"`` names.

        Args:
            spec: A (nested) param space of float domains and constants.
            join: Also return the constants: the flattened ``spec`` with each domain replaced
                by its bounds.

        Returns:
            ``{"a/b": (lower, upper)}`` (plus the flattened constants with ``join``).

        Raises:
            ValueError: A ``grid_search``, or a domain that is not a float (``randint``,
                ``choice``, ``randn``).

        Example:
            >>> from tunesmith.search.sample import uniform
            >>> BayesOptSearch.convert_search_space({"m": {"lr": uniform(0, 1)}, "c": 1})
            {'m/lr': (0.0, 1.0)}
        """
        parameters = searchable_parameters(spec, _NAME)
        bounds = {p.name: convert_parameter(p, _conversion_rules(), _NAME) for p in parameters}
        return with_constants(spec, bounds, join)

    _one_metric_only = True

    def _has_space(self) -> bool:
        return self._bounds is not None

    # -- optimizer -------------------------------------------------------------------------

    def _ensure_optimizer(self) -> Any:
        if self._optimizer is not None:
            return self._optimizer
        self._require_ready(self._bounds)
        bayes_opt = _import_bayes_opt()
        extra = {}
        if hasattr(bayes_opt, "acquisition"):
            extra["acquisition_function"] = _acquisition(bayes_opt, self._utility_kwargs)
        self._optimizer = bayes_opt.BayesianOptimization(
            f=None,
            pbounds=self._bounds,
            random_state=self._random_state,
            verbose=self._verbose,
            allow_duplicate_points=True,
            **extra,
        )
        if self._analysis is not None:
            self.add_evaluated_trials(self._analysis, self._metric)
            self._analysis = None
        return self._optimizer

    def _optimizer_suggestion(self) -> dict[str, float]:
        optimizer = self._ensure_optimizer()
        if hasattr(_import_bayes_opt(), "acquisition"):
            suggestion = optimizer.suggest()
        else:  # bayesian-optimization 1.x takes the utility on every call
            self._utility = self._utility or _utility_1x(self._utility_kwargs)
            suggestion = optimizer.suggest(self._utility)
        return {name: float(value) for name, value in suggestion.items()}

    # -- search loop -----------------------------------------------------------------------

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        """The next point to evaluate, None for a skipped duplicate, or ``FINISHED``.

        Raises:
            RuntimeError: No search space, or no metric/mode.
        """
        self._ensure_optimizer()
        flat = self._points.pop(0) if self._points else self._optimizer_suggestion()
        key = tuple(round(float(flat[k]), self._precision) for k in sorted(flat))
        already_seen = key in self._seen
        self._seen[key] += 1
        if self._patience is not None and max(self._seen.values()) > self._patience:
            return Searcher.FINISHED
        if already_seen and self._skip_duplicate:
            logger.info("%s: skipping a config suggested before: %s", _NAME, flat)
            return None
        self._live[trial_id] = flat
        return to_config(flat, self._paths, self._tune_space)

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        """Register the trial's metric with the optimizer (after the random steps are collected)."""
        params = self._live.pop(trial_id, None)
        value = metric_value(result, self._metric)
        if params is None or error or value is None:
            return
        target = value if self._mode == "max" else -value
        if self._buffered is None:
            self._optimizer.register(params=params, target=target)
            return
        self._buffered.append((params, target))
        if len(self._buffered) >= self._random_search_steps:
            for buffered_params, buffered_target in self._buffered:
                self._optimizer.register(params=buffered_params, target=buffered_target)
            self._buffered = None

    def add_evaluated_point(
        self,
        parameters: dict[str, Any],
        value: float | list[float] | None,
        error: bool = False,
        pruned: bool = False,
        intermediate_values: list[float] | None = None,
    ) -> None:
        """Register a config evaluated elsewhere; errored, pruned or valueless points are skipped.

        Raises:
            RuntimeError: No search space, or no metric/mode.
        """
        optimizer = self._ensure_optimizer()
        if error or pruned or value is None:
            return
        flat = flatten_dict(dict(parameters))
        params = {name: float(flat[name]) for name in self._bounds if name in flat}
        if len(params) != len(self._bounds):
            raise ValueError(f"{_NAME}.add_evaluated_point: parameters must set every searched key {sorted(self._bounds)}; got {sorted(flat)}")
        optimizer.register(params=params, target=float(value) if self._mode == "max" else -float(value))


# -- conversion and options ------------------------------------------------------------------


def _conversion_rules() -> dict[tuple[type, type], Any]:
    from tunesmith.search.sample import Float, LogUniform, Uniform

    return {(Float, Uniform): _float_bounds, (Float, LogUniform): _log_float_bounds}


def _float_bounds(parameter: Parameter) -> tuple[float, float]:
    if parameter.q is not None:
        warn_dropped_quantization(parameter, _NAME)
    return float(parameter.domain.lower), float(parameter.domain.upper)


def _log_float_bounds(parameter: Parameter) -> tuple[float, float]:
    """Bounds of a ``loguniform`` float, searched uniformly as Ray Tune does (with a warning)."""
    warnings.warn(
        f"{_NAME} searches parameter {parameter.name!r} uniformly between its bounds "
        f"{parameter.domain.lower} and {parameter.domain.upper}: the Gaussian process works on a "
        "linear scale, so the log sampling of loguniform is dropped",
        UserWarning,
        stacklevel=3,
    )
    return _float_bounds(parameter)


def _bounds(name: str, value: Any) -> tuple[float, float]:
    ok = isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, numbers.Real) for v in value)
    if not ok or not value[0] < value[1]:
        raise ValueError(f"{_NAME}: space[{name!r}] must be a (lower, upper) pair of numbers with lower < upper; got {value!r}")
    return float(value[0]), float(value[1])


def _check_utility(utility_kwargs: dict[str, Any] | None) -> dict[str, Any]:
    given = dict(utility_kwargs or {})
    unknown = sorted(set(given) - set(_UTILITY_DEFAULTS))
    if unknown:
        raise ValueError(f"{_NAME}: utility_kwargs keys must be among {sorted(_UTILITY_DEFAULTS)}; got {unknown}")
    options = {**_UTILITY_DEFAULTS, **given}
    if options["kind"] not in ("ucb", "ei", "poi"):
        raise ValueError(f"{_NAME}: utility_kwargs['kind'] must be 'ucb', 'ei' or 'poi'; got {options['kind']!r}")
    for key in ("kappa", "xi"):
        if not isinstance(options[key], numbers.Real) or options[key] < 0:
            raise ValueError(f"{_NAME}: utility_kwargs[{key!r}] must be a number >= 0; got {options[key]!r}")
    if not 0 < options["kappa_decay"] <= 1:
        raise ValueError(f"{_NAME}: utility_kwargs['kappa_decay'] must be in (0, 1]; got {options['kappa_decay']!r}")
    _count("utility_kwargs['kappa_decay_delay']", options["kappa_decay_delay"], minimum=0)
    return options


def _acquisition(bayes_opt: Any, options: dict[str, Any]) -> Any:
    """The bayesian-optimization >= 2 acquisition object for ``utility_kwargs``.

    Its draws come from the optimizer's generator (seeded by ``random_state``).
    """
    decay = {}
    if options["kappa_decay"] != 1:
        decay = {"exploration_decay": options["kappa_decay"], "exploration_decay_delay": options["kappa_decay_delay"]}
    acquisition = bayes_opt.acquisition
    if options["kind"] == "ucb":
        return acquisition.UpperConfidenceBound(kappa=options["kappa"], **decay)
    cls = acquisition.ExpectedImprovement if options["kind"] == "ei" else acquisition.ProbabilityOfImprovement
    return cls(xi=options["xi"], **decay)


def _utility_1x(options: dict[str, Any]) -> Any:
    from bayes_opt import UtilityFunction  # bayesian-optimization 1.x only

    return UtilityFunction(**options)


def _count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{_NAME}: {name} must be an int >= {minimum}; got {value!r}")
    return int(value)
