"""``OptunaSearch``: Optuna's samplers (TPE, CMA-ES, GP, NSGA-II, ...) through ask/tell."""

from __future__ import annotations

import inspect
import logging
import math
import warnings
from typing import Any, Callable

from tunesmith._flatten import flatten_dict
from tunesmith._imports import try_import
from tunesmith.search._param_space import (
    ConversionRules,
    Parameter,
    convert_parameter,
    merge_config,
    parameter_paths,
    quantized_bounds,
    searchable_parameters,
    unflatten,
    warn_dropped_quantization,
)
from tunesmith.search._searcher import UNRESOLVED_SEARCH_SPACE, Searcher

__all__ = ["OptunaSearch"]

logger = logging.getLogger("tunesmith.search")

_NAME = "OptunaSearch"
_TRAINING_ITERATION = "training_iteration"


def _optuna() -> Any:
    return try_import("optuna", extra="optuna", needed_by=_NAME)


class OptunaSearch(Searcher):
    """Search with an Optuna sampler, driven through Optuna's ask-and-tell interface.

    The space comes either from the Tuner's ``param_space`` (tunesmith domains are converted:
    ``uniform``/``loguniform`` floats, ``randint``/``lograndint`` ints, quantized values as
    Optuna ``step``, ``choice``) or from ``space``: a (nested) dict of Optuna distributions
    or tunesmith domains, or a *define-by-run* function ``f(trial) -> dict | None`` that calls
    ``trial.suggest_*`` and may return constants to add to the config.

    Args:
        space: Dict of distributions/domains, or a define-by-run function.
        metric: Result key to optimize, or a list of keys (multi-objective).
        mode: ``"min"``/``"max"``, or a list (``"obs"`` metrics are recorded as user
            attributes, not optimized).
        points_to_evaluate: Configs to try first (enqueued in the study); partial configs
            get their missing keys sampled.
        sampler: An ``optuna.samplers.BaseSampler``; default
            ``TPESampler(seed=seed, constant_liar=True)``: trials still running count as
            bad results, so trials that run at the same time get different suggestions
            (explicit because Optuna < 5 leaves ``constant_liar`` off).
        study_name: Name of the Optuna study (default ``"optuna"``).
        storage: Optuna storage (instance or URL); default in memory.
        seed: Seeds the default sampler (ignored, with a warning, when ``sampler`` is given).
        evaluated_rewards: Known results of ``points_to_evaluate`` (same length); those points
            are added to the study as finished trials instead of being run. Needs a dict space.

    Raises:
        ImportError: Optuna is not installed.
        ValueError: Bad ``points_to_evaluate``/``evaluated_rewards``, a mode outside
            min/max(/obs), a ``grid_search`` or an unsupported domain (``randn``) in ``space``.
        TypeError: ``sampler`` is not an Optuna sampler, or ``evaluated_rewards`` is given
            with a define-by-run ``space``.

    Example:
        >>> from tunesmith.search.optuna import OptunaSearch
        >>> from tunesmith.search.sample import uniform
        >>> searcher = OptunaSearch({"x": uniform(0, 10)}, metric="loss", mode="min", seed=1)
        >>> config = searcher.suggest("t1")
        >>> 0 <= config["x"] <= 10
        True
        >>> searcher.on_trial_complete("t1", {"loss": (config["x"] - 3) ** 2})
    """

    def __init__(
        self,
        space: dict[str, Any] | Callable[[Any], dict[str, Any] | None] | None = None,
        metric: str | list[str] | None = None,
        mode: str | list[str] | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        sampler: Any = None,
        study_name: str | None = None,
        storage: Any = None,
        seed: int | None = None,
        evaluated_rewards: list[Any] | None = None,
    ) -> None:
        ot = _optuna()
        super().__init__(metric=metric, mode=mode)
        self._points_to_evaluate = _check_points(points_to_evaluate)
        self._evaluated_rewards = _check_rewards(evaluated_rewards, self._points_to_evaluate)
        if sampler is not None and not isinstance(sampler, ot.samplers.BaseSampler):
            raise TypeError(f"sampler must be an optuna.samplers.BaseSampler; got {type(sampler).__name__}")
        if sampler is not None and seed is not None:
            warnings.warn(
                "OptunaSearch ignores seed when a sampler is given; seed the sampler instead", UserWarning, stacklevel=2
            )
        self._sampler = sampler
        self._seed = seed
        self._study_name = study_name or "optuna"
        self._storage = storage
        self._study: Any = None
        self._ot_trials: dict[str, Any] = {}
        self._last_step: dict[str, int] = {}
        self._space: dict[str, Any] | Callable[..., Any] | None = None
        self._paths: dict[str, tuple[Any, ...]] = {}
        self._constants: dict[str, Any] = {}
        self._set_space(space, from_user=True)

    # -- space -----------------------------------------------------------------------------

    def _set_space(self, space: Any, from_user: bool) -> None:
        if callable(space) and not isinstance(space, dict):
            _check_define_by_run(space)
            self._space = space
        elif space:
            self._space = self._space_from_dict(space, from_user)
        if callable(self._space) and self._evaluated_rewards is not None:
            raise TypeError(
                "OptunaSearch: evaluated_rewards needs a dict space (define-by-run spaces cannot "
                "be warm-started); got a define-by-run function"
            )

    @staticmethod
    def convert_search_space(spec: dict[str, Any]) -> dict[str, Any]:
        """Convert a param space's domains to Optuna distributions keyed by ``"a/b"`` names.

        Raises:
            ValueError: A ``grid_search``, or a domain Optuna cannot express (``randn``).

        Example:
            >>> from tunesmith.search.sample import qrandint
            >>> OptunaSearch.convert_search_space({"m": {"n": qrandint(0, 10, 5)}, "c": 1})
            {'m/n': IntDistribution(high=10, log=False, low=0, step=5)}
        """
        rules = _conversion_rules(_optuna())
        return {p.name: convert_parameter(p, rules, _NAME) for p in searchable_parameters(spec, _NAME)}

    def _space_from_dict(self, space: dict[str, Any], from_user: bool) -> dict[str, Any]:
        ot = _optuna()
        parameters = searchable_parameters(space, _NAME)
        if parameters and from_user:
            logger.info(UNRESOLVED_SEARCH_SPACE.format(par="space", cls=_NAME))
        distributions = self.convert_search_space(space)
        self._paths = parameter_paths(parameters)
        for name, value in flatten_dict(space).items():
            if isinstance(value, ot.distributions.BaseDistribution):
                distributions[name] = value
            elif from_user and name not in distributions:
                self._constants[name] = value
        return distributions

    def _has_space(self) -> bool:
        return bool(self._space)

    def _set_tune_space(self, space: dict[str, Any]) -> None:
        self._set_space(space, from_user=False)

    # -- ask -------------------------------------------------------------------------------

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        """Ask the study for a trial and return its parameters as a nested config.

        Raises:
            RuntimeError: No space, or no metric/mode.
            TypeError: A define-by-run function returned something other than a dict/None.
        """
        self._require_ready(self._space)
        study = self._ensure_study()
        if trial_id not in self._ot_trials:
            fixed = None if callable(self._space) else self._space
            self._ot_trials[trial_id] = study.ask(fixed_distributions=fixed)
        ot_trial = self._ot_trials[trial_id]
        if callable(self._space):
            return _define_by_run_config(self._space, ot_trial)
        config = merge_config(unflatten(self._constants), unflatten(ot_trial.params, self._paths))
        return config

    def _ensure_study(self) -> Any:
        if self._study is None:
            self._study = self._create_study()
            self._warm_start()
        return self._study

    def _create_study(self) -> Any:
        ot = _optuna()
        sampler = self._sampler if self._sampler is not None else _default_sampler(ot, self._seed)
        directions = ["minimize" if m == "min" else "maximize" for _, m in self._objectives()]
        if not directions:
            raise ValueError(f"OptunaSearch needs at least one metric with mode 'min' or 'max'; got modes {self._mode!r}")
        study = ot.create_study(
            storage=self._storage,
            sampler=sampler,
            pruner=ot.pruners.NopPruner(),
            study_name=self._study_name,
            directions=directions,
            load_if_exists=True,
        )
        self._check_loaded_directions(study, directions)
        return study

    def _check_loaded_directions(self, study: Any, directions: list[str]) -> None:
        """Refuse a study loaded from ``storage`` whose objectives differ from this searcher's.

        ``load_if_exists`` hands back a study made earlier under the same name, keeping its
        own directions: a single-objective one would turn a multi-objective search into a
        single-objective study that rejects every result.

        Raises:
            ValueError: The stored study's directions are not this searcher's.
        """
        found = [d.name.lower() for d in study.directions]
        if found != directions:
            raise ValueError(
                f"OptunaSearch: the storage already holds a study named {self._study_name!r} with directions "
                f"{found}, but this searcher optimizes {self._objectives()} (directions {directions}). "
                "Pass another study_name (or storage) for this search, or the same metric and mode as that study"
            )

    def _warm_start(self) -> None:
        if self._evaluated_rewards is not None:
            for point, reward in zip(self._points_to_evaluate, self._evaluated_rewards):
                self.add_evaluated_point(point, reward)
            return
        for point in self._points_to_evaluate:
            self._study.enqueue_trial(self._flat_point(point))

    def _objectives(self) -> list[tuple[str, str]]:
        """``(metric, mode)`` pairs that Optuna optimizes (``"obs"`` metrics left out)."""
        if isinstance(self._metric, list):
            return [(m, d) for m, d in zip(self._metric, self._mode) if d != "obs"]
        return [(self._metric, self._mode)]

    def _flat_point(self, point: dict[str, Any]) -> dict[str, Any]:
        flat = flatten_dict(point)
        if isinstance(self._space, dict):
            unknown = sorted(set(flat) - set(self._space) - set(self._constants))
            if unknown:
                raise ValueError(
                    f"OptunaSearch: points_to_evaluate keys must be parameters of the space "
                    f"{sorted(self._space)}; got unknown keys {unknown}"
                )
            flat = {k: v for k, v in flat.items() if k in self._space}
        return flat

    # -- tell ------------------------------------------------------------------------------

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        """Report the metric as an intermediate value at ``training_iteration`` (single objective)."""
        ot_trial = self._ot_trials.get(trial_id)
        if ot_trial is None or isinstance(self._metric, list):
            return
        value, step = result.get(self._metric), result.get(_TRAINING_ITERATION)
        if value is None or step is None or step <= self._last_step.get(trial_id, -math.inf):
            return
        self._last_step[trial_id] = step
        ot_trial.report(float(value), int(step))

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        """Tell the study: COMPLETE with the metric value(s), FAIL on error, PRUNED without a value."""
        ot = _optuna()
        ot_trial = self._ot_trials.pop(trial_id, None)
        self._last_step.pop(trial_id, None)
        if ot_trial is None:
            return
        values = None if error else self._values(result or {})
        self._record_observed(ot_trial, result or {})
        if error:
            state = ot.trial.TrialState.FAIL
        elif values is None:
            state = ot.trial.TrialState.PRUNED
        else:
            state = ot.trial.TrialState.COMPLETE
        self._study.tell(ot_trial, values, state=state)

    def _values(self, result: dict[str, Any]) -> float | list[float] | None:
        values = [result.get(metric) for metric, _ in self._objectives()]
        if any(v is None for v in values):
            return None
        floats = [float(v) for v in values]
        return floats if isinstance(self._metric, list) else floats[0]

    def _record_observed(self, ot_trial: Any, result: dict[str, Any]) -> None:
        if not isinstance(self._metric, list):
            return
        for metric, mode in zip(self._metric, self._mode):
            if mode == "obs" and metric in result:
                ot_trial.set_user_attr(metric, result[metric])

    def add_evaluated_point(
        self,
        parameters: dict[str, Any],
        value: float | list[float] | None,
        error: bool = False,
        pruned: bool = False,
        intermediate_values: list[float] | None = None,
    ) -> None:
        """Add an already evaluated config to the study as a finished trial.

        Raises:
            RuntimeError: No space, or no metric/mode yet.
            TypeError: The space is a define-by-run function.
            ValueError: ``parameters`` names keys outside the space.
        """
        ot = _optuna()
        self._require_ready(self._space)
        if callable(self._space):
            raise TypeError("OptunaSearch.add_evaluated_point needs a dict space; got a define-by-run function")
        study = self._ensure_study()
        params = self._flat_point(parameters)
        state, values = _evaluated_outcome(ot, value, error, pruned)
        trial = ot.trial.create_trial(
            state=state,
            values=values,
            params=params,
            distributions={name: self._space[name] for name in params},
            intermediate_values=dict(enumerate(intermediate_values)) if intermediate_values else None,
        )
        study.add_trial(trial)

    # -- state -----------------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """Everything needed to continue: space, metric/mode, the study (with sampler state)."""
        return dict(self.__dict__)

    def set_state(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


def _default_sampler(ot: Any, seed: int | None) -> Any:
    """TPE that treats the study's RUNNING trials (every suggested, unfinished trial) as pending.

    Without the constant liar, TPE fits its model to finished trials only, so the trials
    asked for between two completions all come from the same model and crowd together
    (with a ``choice``, usually the same category).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ot.exceptions.ExperimentalWarning)  # Optuna < 5
        return ot.samplers.TPESampler(seed=seed, constant_liar=True)


def _evaluated_outcome(ot: Any, value: Any, error: bool, pruned: bool) -> tuple[Any, list[float] | None]:
    """Optuna's trial state and values for an evaluated point."""
    states = ot.trial.TrialState
    if error:
        return states.FAIL, None
    if pruned or value is None:
        return states.PRUNED, None
    return states.COMPLETE, [float(v) for v in value] if isinstance(value, (list, tuple)) else [float(value)]


def _conversion_rules(ot: Any) -> ConversionRules:
    from tunesmith.search.sample import Categorical, Float, Integer, LogUniform, Uniform

    dist = ot.distributions

    def float_uniform(p: Parameter) -> Any:
        low, high = quantized_bounds(p)
        return dist.FloatDistribution(low, high, step=p.q)

    def float_log(p: Parameter) -> Any:
        if p.q is not None:
            warn_dropped_quantization(p, _NAME, "Optuna cannot combine log=True with step")
        return dist.FloatDistribution(p.domain.lower, p.domain.upper, log=True)

    def int_uniform(p: Parameter) -> Any:
        if p.q is None or p.q == 1:
            return dist.IntDistribution(int(p.domain.lower), int(p.domain.upper) - 1)
        low, high = quantized_bounds(p)
        return dist.IntDistribution(int(low), int(high), step=int(p.q))

    def int_log(p: Parameter) -> Any:
        if p.q is None or p.q == 1:
            return dist.IntDistribution(int(p.domain.lower), int(p.domain.upper) - 1, log=True)
        warn_dropped_quantization(p, _NAME, "Optuna cannot combine log=True with step")
        return dist.IntDistribution(int(p.domain.lower), int(p.domain.upper), log=True)

    def categorical(p: Parameter) -> Any:
        return dist.CategoricalDistribution(p.domain.categories)

    return {
        (Float, LogUniform): float_log,
        (Float, Uniform): float_uniform,
        (Integer, LogUniform): int_log,
        (Integer, Uniform): int_uniform,
        (Categorical, Uniform): categorical,
    }


def _check_points(points: Any) -> list[dict[str, Any]]:
    if points is None:
        return []
    if not isinstance(points, (list, tuple)) or not all(isinstance(p, dict) for p in points):
        raise ValueError(f"points_to_evaluate must be a list of dicts; got {points!r}")
    return [dict(p) for p in points]


def _check_rewards(rewards: Any, points: list[dict[str, Any]]) -> list[Any] | None:
    if rewards is None:
        return None
    if not isinstance(rewards, (list, tuple)):
        raise ValueError(f"evaluated_rewards must be a list (one reward per point); got {rewards!r}")
    if not points:
        raise ValueError(
            "evaluated_rewards needs points_to_evaluate: one reward per point; "
            f"got {len(rewards)} rewards and no points"
        )
    if len(rewards) != len(points):
        raise ValueError(
            "evaluated_rewards must have one reward per point of points_to_evaluate; "
            f"got {len(points)} points and {len(rewards)} rewards"
        )
    return list(rewards)


def _check_define_by_run(func: Callable[..., Any]) -> None:
    try:
        inspect.signature(func).bind(object())
    except TypeError as exc:
        raise ValueError(
            "OptunaSearch: a define-by-run space must be a function taking one argument "
            f"(the optuna trial); got {getattr(func, '__name__', func)!r}{_signature(func)}"
        ) from exc
    except ValueError:  # builtins without a signature: let Optuna call them
        pass


def _signature(func: Callable[..., Any]) -> str:
    try:
        return str(inspect.signature(func))
    except (TypeError, ValueError):
        return ""


def _define_by_run_config(func: Callable[..., Any], ot_trial: Any) -> dict[str, Any]:
    constants = func(ot_trial)
    if constants is not None and not isinstance(constants, dict):
        raise TypeError(
            "OptunaSearch: a define-by-run function must return None or a dict of constants; "
            f"got {type(constants).__name__}"
        )
    if constants and not all(isinstance(k, str) for k in constants):
        raise TypeError(
            f"OptunaSearch: the dict a define-by-run function returns must have str keys; got {list(constants)}"
        )
    return merge_config(constants or {}, unflatten(ot_trial.params))
