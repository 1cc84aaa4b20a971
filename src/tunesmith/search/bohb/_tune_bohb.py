"""``TuneBOHB``: the model-based half of BOHB, paired with the ``HyperBandForBOHB`` scheduler.

Ray Tune's ``TuneBOHB`` wraps hpbandster, which is unmaintained (last release 2019) and pulls
in Pyro4, netifaces and statsmodels. This one uses ConfigSpace for the search space and its
own NumPy kernel density model (:mod:`tunesmith.search.bohb._kde`), seeded by ``seed``.

Each result's budget is ``result["hyperband_info"]["budget"]`` when a scheduler provides it,
else its ``training_iteration``. Suggestions come from the density model of the largest
budget that has enough observations, and at random until one does.
"""

from __future__ import annotations

import copy
import logging
import numbers
from typing import Any

import numpy as np

from tunesmith._imports import try_import
from tunesmith.search._integration import check_points, is_tune_space, metric_value, to_config
from tunesmith.search._param_space import (
    Parameter,
    convert_parameter,
    parameter_paths,
    searchable_parameters,
    warn_dropped_quantization,
)
from tunesmith.search._searcher import UNRESOLVED_SEARCH_SPACE, Searcher
from tunesmith.search.bohb._kde import fit_model, propose

__all__ = ["BOHB", "TuneBOHB"]

logger = logging.getLogger("tunesmith.search")

_NAME = "TuneBOHB"
_MODEL_DEFAULTS: dict[str, Any] = {
    "min_points_in_model": None,
    "top_n_percent": 15,
    "num_samples": 64,
    "random_fraction": 1 / 3,
    "bandwidth_factor": 3.0,
    "min_bandwidth": 1e-3,
}
#: Half-width, in standard deviations, of the bounds given to ConfigSpace for ``tune.randn``.
_NORMAL_SPAN = 10.0


def _import_configspace() -> Any:
    return try_import("ConfigSpace", extra="bohb", needed_by=_NAME)


class TuneBOHB(Searcher):
    """BOHB's configuration sampler: a kernel density model per budget (minimizing internally).

    Use it with the ``HyperBandForBOHB`` scheduler, which pauses and resumes trials
    (:meth:`on_pause` / :meth:`on_unpause`) and decides budgets.

    Args:
        space: A ``ConfigSpace.ConfigurationSpace`` or a tunesmith param space.
        bohb_config: Model options: ``min_points_in_model`` (default: number of
            parameters + 1), ``top_n_percent`` (15), ``num_samples`` (64),
            ``random_fraction`` (1/3), ``bandwidth_factor`` (3), ``min_bandwidth`` (1e-3).
        metric: The result key to optimize.
        mode: ``"min"`` or ``"max"``.
        points_to_evaluate: Configs to try first.
        seed: Seeds random configurations and the model's draws.
        max_concurrent: Running (not paused) trials allowed at once; 0: no limit.

    Raises:
        ImportError: ConfigSpace is not installed.
        ValueError: Bad mode, unsupported domain, bad ``bohb_config`` or ``max_concurrent``.

    Example:
        >>> from tunesmith.search.bohb import TuneBOHB
        >>> from tunesmith.search.sample import uniform
        >>> searcher = TuneBOHB({"x": uniform(0, 1)}, metric="loss", mode="min", seed=0)
        >>> 0 <= searcher.suggest("t1")["x"] <= 1
        True
    """

    def __init__(
        self,
        space: Any = None,
        bohb_config: dict[str, Any] | None = None,
        metric: str | None = None,
        mode: str | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        seed: int | None = None,
        max_concurrent: int = 0,
    ) -> None:
        super().__init__(metric=metric, mode=mode)
        _import_configspace()
        self._require_single_metric()
        self._options = _check_bohb_config(bohb_config)
        self._seed = _check_seed(seed)
        self._rng = np.random.default_rng(seed)
        self._max_concurrent = _check_max_concurrent(max_concurrent)
        self._points = check_points(points_to_evaluate, _NAME)
        self._space: Any = None
        self._decoders: dict[str, list[Any]] = {}
        self._paths: dict[str, tuple[Any, ...]] = {}
        self._tune_space: dict[str, Any] | None = None
        self._configs: dict[str, tuple[dict[str, Any], np.ndarray]] = {}
        self._observations: dict[float, dict[str, tuple[np.ndarray, float]]] = {}
        self.running: set[str] = set()
        self.paused: set[str] = set()
        if space is not None:
            self._set_space(space)

    # -- space -----------------------------------------------------------------------------

    def _set_space(self, space: Any) -> None:
        cs = _import_configspace()
        if is_tune_space(space):
            logger.warning(UNRESOLVED_SEARCH_SPACE.format(par="space", cls=_NAME))
            self._set_tune_space(space)
        elif isinstance(space, cs.ConfigurationSpace):
            self._space = copy.deepcopy(space)  # seeding must not change the caller's object
            self._space.seed(self._seed_for_space())
        else:
            raise TypeError(f"{_NAME}(space=...) must be a tunesmith param space or a ConfigSpace.ConfigurationSpace; got {type(space).__name__}")

    def _set_tune_space(self, space: dict[str, Any]) -> None:
        cs = _import_configspace()
        parameters = searchable_parameters(space, _NAME)
        configuration_space = cs.ConfigurationSpace(seed=self._seed_for_space())
        configuration_space.add([convert_parameter(p, _conversion_rules(cs), _NAME) for p in parameters])
        self._decoders = {p.name: list(p.domain.categories) for p in parameters if _is_categorical(p)}
        self._space, self._paths, self._tune_space = configuration_space, parameter_paths(parameters), space

    def _seed_for_space(self) -> int:
        return int(self._rng.integers(0, 2**31 - 1))

    _one_metric_only = True

    def _has_space(self) -> bool:
        return self._space is not None

    # -- search loop -----------------------------------------------------------------------

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        """A ``points_to_evaluate`` entry, a model-based config, or a random one.

        Returns:
            The nested config, or None while ``max_concurrent`` trials are running.

        Raises:
            RuntimeError: No search space, or no metric/mode.
        """
        if self._space is None:
            self._require_space(None)
        self._require_metric_mode()
        if self._max_concurrent and len(self.running) >= self._max_concurrent:
            return None
        configuration = self._from_point(self._points.pop(0)) if self._points else self._sample()
        values = {name: _plain(value) for name, value in dict(configuration).items()}
        self._configs[trial_id] = (values, np.asarray(configuration.get_array(), dtype=float))
        self.running.add(trial_id)
        return to_config(self._decode(values), self._paths, self._tune_space)

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        """Record the result at its budget; a trial reporting again is running (not paused)."""
        if trial_id not in self._configs:
            return
        if trial_id not in self.paused:
            self.running.add(trial_id)
        self._record(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        """Record the final result (unless the trial errored) and forget the trial."""
        if trial_id not in self._configs:
            return
        if not error and result:
            self._record(trial_id, result)
        del self._configs[trial_id]
        self.running.discard(trial_id)
        self.paused.discard(trial_id)

    def on_pause(self, trial_id: str) -> None:
        """The scheduler paused the trial: it no longer counts against ``max_concurrent``."""
        self.paused.add(trial_id)
        self.running.discard(trial_id)

    def on_unpause(self, trial_id: str) -> None:
        """The scheduler resumed the trial."""
        self.paused.discard(trial_id)
        self.running.add(trial_id)

    def _record(self, trial_id: str, result: dict[str, Any]) -> None:
        budget, value = _budget(result), metric_value(result, self._metric)
        if budget is None or value is None:
            return
        loss = value if self._mode == "min" else -value
        self._observations.setdefault(budget, {})[trial_id] = (self._configs[trial_id][1], loss)

    # -- sampling --------------------------------------------------------------------------

    def _sample(self) -> Any:
        model = self._model()
        if model is not None and self._rng.random() >= self._options["random_fraction"]:
            configuration = self._configuration_from_vector(
                propose(model, self._rng, self._options["num_samples"], self._options["bandwidth_factor"])
            )
            if configuration is not None:
                return configuration
        return self._space.sample_configuration()

    def _model(self) -> Any:
        """The density model of the largest budget with more than ``min_points_in_model`` results."""
        sizes = [_category_count(hp) for hp in self._space.values()]
        min_points = self._options["min_points_in_model"] or len(sizes) + 1
        for budget in sorted(self._observations, reverse=True):
            entries = list(self._observations[budget].values())
            if len(entries) > min_points:
                vectors = self._impute(np.array([vector for vector, _ in entries]), sizes)
                losses = np.array([loss for _, loss in entries])
                return fit_model(vectors, losses, sizes, self._options["top_n_percent"], min_points, self._options["min_bandwidth"])
        return None

    def _impute(self, vectors: np.ndarray, sizes: list[int]) -> np.ndarray:
        """Fill inactive (NaN) dimensions of conditional spaces with random values."""
        missing = np.isnan(vectors)
        if missing.any():
            for dim in np.flatnonzero(missing.any(axis=0)):
                rows = missing[:, dim]
                high = sizes[dim] if sizes[dim] else 1.0
                draws = self._rng.integers(0, high, rows.sum()) if sizes[dim] else self._rng.random(rows.sum())
                vectors[rows, dim] = draws
        return vectors

    def _configuration_from_vector(self, vector: np.ndarray) -> Any:
        from ConfigSpace.util import deactivate_inactive_hyperparameters

        try:
            configuration = deactivate_inactive_hyperparameters(None, self._space, vector=vector)
            configuration.check_valid_configuration()
        except (ValueError, KeyError) as exc:  # a forbidden or inconsistent candidate
            logger.debug("%s: model candidate rejected (%s); drawing at random", _NAME, exc)
            return None
        return configuration

    def _from_point(self, point: dict[str, Any]) -> Any:
        cs = _import_configspace()
        values = {k: self._encode(k, v) for k, v in point.items() if k in self._space}
        try:
            return cs.Configuration(self._space, values=values)
        except (ValueError, KeyError) as exc:
            raise ValueError(f"{_NAME}: points_to_evaluate entry {point!r} is not in the search space: {exc}") from exc

    def _encode(self, name: str, value: Any) -> Any:
        if name not in self._decoders:
            return value
        for index, category in enumerate(self._decoders[name]):
            if value is category or _same(value, category):
                return index
        raise ValueError(f"{_NAME}: points_to_evaluate value {value!r} for {name!r} is none of {self._decoders[name]!r}")

    def _decode(self, values: dict[str, Any]) -> dict[str, Any]:
        return {k: self._decoders[k][int(v)] if k in self._decoders else v for k, v in values.items()}


# -- conversion and options ------------------------------------------------------------------


def _conversion_rules(cs: Any) -> dict[tuple[type, type], Any]:
    from tunesmith.search.sample import Categorical, Float, Integer, LogUniform, Normal, Uniform

    return {
        (Float, Uniform): lambda p: cs.UniformFloatHyperparameter(p.name, *_float_bounds(p)),
        (Float, LogUniform): lambda p: cs.UniformFloatHyperparameter(p.name, *_float_bounds(p), log=True),
        (Float, Normal): lambda p: _normal(cs, p),
        (Integer, Uniform): lambda p: cs.UniformIntegerHyperparameter(p.name, *_int_bounds(p)),
        (Integer, LogUniform): lambda p: cs.UniformIntegerHyperparameter(p.name, *_int_bounds(p), log=True),
        (Categorical, Uniform): lambda p: cs.CategoricalHyperparameter(p.name, list(range(len(p.domain.categories)))),
    }


def _float_bounds(parameter: Parameter) -> tuple[float, float]:
    _drop_quantization(parameter)
    return float(parameter.domain.lower), float(parameter.domain.upper)


def _int_bounds(parameter: Parameter) -> tuple[int, int]:
    _drop_quantization(parameter)
    upper = int(parameter.domain.upper)
    return int(parameter.domain.lower), upper if (parameter.q or 1) > 1 else upper - 1  # randint excludes upper


def _normal(cs: Any, parameter: Parameter) -> Any:
    # ConfigSpace >= 1.0 needs bounds for a normal parameter; +-10 sd is unbounded in practice.
    _drop_quantization(parameter)
    mean, sd = parameter.sampler.mean, parameter.sampler.sd
    return cs.NormalFloatHyperparameter(parameter.name, mu=mean, sigma=sd, lower=mean - _NORMAL_SPAN * sd, upper=mean + _NORMAL_SPAN * sd)


def _drop_quantization(parameter: Parameter) -> None:
    if parameter.q is not None:
        warn_dropped_quantization(parameter, _NAME)


def _is_categorical(parameter: Parameter) -> bool:
    from tunesmith.search.sample import Categorical

    return isinstance(parameter.domain, Categorical)


def _category_count(hyperparameter: Any) -> int:
    choices = getattr(hyperparameter, "choices", None)
    if choices is None:
        choices = getattr(hyperparameter, "sequence", None)  # ordinal hyperparameters
    return len(choices) if choices is not None else 0


def _budget(result: dict[str, Any]) -> float | None:
    info = result.get("hyperband_info")
    budget = info.get("budget") if isinstance(info, dict) else result.get("hyperband_info/budget")
    if budget is None:
        budget = result.get("training_iteration")
    return float(budget) if isinstance(budget, numbers.Real) and not isinstance(budget, bool) else None


def _check_bohb_config(bohb_config: dict[str, Any] | None) -> dict[str, Any]:
    given = dict(bohb_config or {})
    unknown = sorted(set(given) - set(_MODEL_DEFAULTS))
    if unknown:
        raise ValueError(f"{_NAME}: bohb_config keys must be among {sorted(_MODEL_DEFAULTS)}; got {unknown}")
    options = {**_MODEL_DEFAULTS, **given}
    checks = {
        "top_n_percent": 0 < options["top_n_percent"] < 100,
        "num_samples": isinstance(options["num_samples"], int) and options["num_samples"] >= 1,
        "random_fraction": 0 <= options["random_fraction"] <= 1,
        "bandwidth_factor": options["bandwidth_factor"] > 0,
        "min_bandwidth": options["min_bandwidth"] > 0,
        "min_points_in_model": options["min_points_in_model"] is None
        or (isinstance(options["min_points_in_model"], int) and options["min_points_in_model"] >= 1),
    }
    rules = {
        "top_n_percent": "a number in (0, 100)",
        "num_samples": "an int >= 1",
        "random_fraction": "a number in [0, 1]",
        "bandwidth_factor": "a number > 0",
        "min_bandwidth": "a number > 0",
        "min_points_in_model": "None or an int >= 1",
    }
    for key, ok in checks.items():
        if not ok:
            raise ValueError(f"{_NAME}: bohb_config[{key!r}] must be {rules[key]}; got {options[key]!r}")
    return options


def _check_seed(seed: Any) -> int | None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise ValueError(f"{_NAME}: seed must be an int or None; got {seed!r}")
    return seed


def _check_max_concurrent(max_concurrent: Any) -> int:
    if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, numbers.Integral) or max_concurrent < 0:
        raise ValueError(f"{_NAME}: max_concurrent must be an int >= 0 (0: no limit); got {max_concurrent!r}")
    return int(max_concurrent)


def _same(a: Any, b: Any) -> bool:
    numbers_alike = all(isinstance(v, numbers.Number) and not isinstance(v, bool) for v in (a, b))
    try:
        return (type(a) is type(b) or numbers_alike) and bool(a == b)
    except (TypeError, ValueError):
        return False


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


BOHB = TuneBOHB  # Ray Tune's second name for it
