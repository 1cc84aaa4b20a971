"""``ZOOptSearch``: (asynchronous) sequential RACOS from the ZOOpt library.

ZOOpt keeps two things in module globals: NumPy's global generator (its draws) and
``zoopt.utils.zoo_global.gl.float_precisions`` (the rounding of continuous dimensions, reset
by every new ``Dimension2``). Each ZOOpt call here runs with this searcher's own precisions
and puts the caller's back afterwards, so several searchers can live in one process. A
seeded searcher also runs each call with its own generator (a ``seed`` makes a search
reproducible without reseeding anything else); an unseeded one draws from NumPy's global
generator, as Ray Tune's does.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
import numbers
from typing import Any, Iterator

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

__all__ = ["ZOOptSearch"]

logger = logging.getLogger("tunesmith.search")

_NAME = "ZOOptSearch"
_ALGOS = ("asracos", "sracos")
#: Rounding of a continuous dimension that is not quantized (ZOOpt needs some precision).
_DEFAULT_PRECISION = 1e-8


def _import_zoopt() -> Any:
    return try_import("zoopt", extra="zoopt", needed_by=_NAME)


class ZOOptSearch(Searcher):
    """Suggest configs with ZOOpt's sequential RACOS (minimizing internally).

    ``"asracos"`` and ``"sracos"`` both run ZOOpt's ``SRacosTune``; with ``parallel_num > 1``
    it keeps that many trials running (asynchronous RACOS).

    Args:
        algo: ``"asracos"`` (default) or ``"sracos"``.
        budget: Required: the number of samples the search is planned for (ZOOpt sizes its
            initial phase from it).
        dim_dict: ``{name: (ValueType.CONTINUOUS, [lower, upper], precision)}``,
            ``(ValueType.DISCRETE, [lower, upper], ordered)`` or
            ``(ValueType.GRID, [values])`` entries, or a tunesmith param space.
        metric: The result key to optimize.
        mode: ``"min"`` or ``"max"``.
        points_to_evaluate: Configs to try first (ZOOpt's ``init_samples``).
        parallel_num: How many trials may run at once (>= 1).
        **kwargs: Passed to ``zoopt.Parameter`` (its keyword arguments only: ``seed``,
            ``exploration_rate``, ...); ``seed`` also seeds this searcher's draws. Beyond
            Ray Tune, ``space=`` is taken as another name for ``dim_dict`` (the name the other
            searchers use).

    Raises:
        ImportError: zoopt is not installed.
        ValueError: Missing or bad ``budget``, unknown ``algo``, bad mode, unsupported
            domain, both ``space`` and ``dim_dict``, or a keyword ``zoopt.Parameter`` lacks.

    Example:
        >>> from tunesmith.search.zoopt import ZOOptSearch
        >>> from tunesmith.search.sample import uniform
        >>> searcher = ZOOptSearch(budget=20, dim_dict={"x": uniform(0, 1)},
        ...                        metric="loss", mode="min", seed=0)
        >>> 0 <= searcher.suggest("t1")["x"] <= 1
        True
    """

    def __init__(
        self,
        algo: str = "asracos",
        budget: int | None = None,
        dim_dict: dict[str, Any] | None = None,
        metric: str | None = None,
        mode: str | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        parallel_num: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(metric=metric, mode=mode)
        zoopt = _import_zoopt()
        self._require_single_metric()
        dim_dict = _space_or_dim_dict(kwargs, dim_dict)
        self._algo = _check_algo(algo)
        self._budget = _positive_int("budget", budget)
        self._parallel_num = _positive_int("parallel_num", parallel_num)
        self._points = check_points(points_to_evaluate, _NAME)
        self._kwargs = _check_parameter_kwargs(zoopt, kwargs)
        self._globals = _ZOOptGlobals(kwargs.get("seed"))
        self._dims: dict[str, tuple[Any, ...]] | None = None
        self._scales: dict[str, int] = {}
        self._paths: dict[str, tuple[Any, ...]] = {}
        self._tune_space: dict[str, Any] | None = None
        self._optimizer: Any = None
        self._live: dict[str, Any] = {}
        if dim_dict:
            self._set_space(dim_dict)

    # -- space -----------------------------------------------------------------------------

    def _set_space(self, space: dict[str, Any]) -> None:
        if not isinstance(space, dict):
            raise TypeError(f"{_NAME}(dim_dict=...) must be a dict; got {type(space).__name__}")
        if is_tune_space(space):
            logger.warning(UNRESOLVED_SEARCH_SPACE.format(par="dim_dict", cls=_NAME))
            self._set_tune_space(space)
        else:
            self._dims = {name: _native_dimension(name, dim) for name, dim in flatten_dict(space).items()}

    def _set_tune_space(self, space: dict[str, Any]) -> None:
        parameters = searchable_parameters(space, _NAME)
        rules = _conversion_rules(_import_zoopt())
        self._dims = {p.name: convert_parameter(p, rules, _NAME) for p in parameters}
        self._scales = {p.name: int(p.q) for p in parameters if _is_stepped_integer(p)}
        self._paths = parameter_paths(parameters)
        self._tune_space = space

    @staticmethod
    def convert_search_space(spec: dict[str, Any], join: bool = False) -> dict[str, Any]:
        """Convert a param space to ZOOpt dimensions keyed by ``"a/b"`` names (a ``dim_dict``).

        ``uniform``/``quniform`` floats become ``(ValueType.CONTINUOUS, [lower, upper],
        precision)`` (the precision is ``q``, else 1e-8), ``randint`` ``(ValueType.DISCRETE,
        [lower, upper - 1], True)``, ``choice`` ``(ValueType.GRID, categories)``. A
        ``qrandint`` step has no ZOOpt form: it is dropped with a warning, leaving
        ``[lower, upper]`` (the searcher keeps the step when given the param space itself).

        Args:
            spec: A (nested) param space.
            join: Also return the constants: the flattened ``spec`` with each domain replaced
                by its dimension.

        Raises:
            ValueError: A ``grid_search``, or a domain ZOOpt cannot express (``loguniform``,
                ``randn``).

        Example:
            >>> from tunesmith.search.sample import randint
            >>> import zoopt
            >>> dims = ZOOptSearch.convert_search_space({"m": {"n": randint(1, 4)}, "c": 1})
            >>> dims == {"m/n": (zoopt.ValueType.DISCRETE, [1, 3], True)}
            True
        """
        zoopt = _import_zoopt()
        rules = _conversion_rules(zoopt)
        dims = {}
        for parameter in searchable_parameters(spec, _NAME):
            if _is_stepped_integer(parameter):  # qrandint includes upper
                warn_dropped_quantization(parameter, _NAME, "ZOOpt dimensions have no step")
                bounds = [int(parameter.domain.lower), int(parameter.domain.upper)]
                dims[parameter.name] = (zoopt.ValueType.DISCRETE, bounds, True)
            else:
                dims[parameter.name] = convert_parameter(parameter, rules, _NAME)
        return with_constants(spec, dims, join)

    _one_metric_only = True

    def _has_space(self) -> bool:
        return self._dims is not None

    # -- optimizer -------------------------------------------------------------------------

    def _ensure_optimizer(self) -> Any:
        if self._optimizer is not None:
            return self._optimizer
        self._require_ready(self._dims)
        zoopt = _import_zoopt()
        from zoopt.algos.opt_algorithms.racos.sracos import SRacosTune

        init_samples = [self._encode(point) for point in self._points] or None
        self._points = []
        with self._globals.active():
            dimension = zoopt.Dimension2(list(self._dims.values()))
            self._globals.capture_precisions()
            parameter = zoopt.Parameter(budget=self._budget, init_samples=init_samples, **self._kwargs)
            self._optimizer = SRacosTune(dimension=dimension, parameter=parameter, parallel_num=self._parallel_num)
        return self._optimizer

    def _encode(self, point: dict[str, Any]) -> list[Any]:
        missing = [name for name in self._dims if name not in point]
        if missing:
            raise ValueError(f"{_NAME}: points_to_evaluate entries must set every searched key; {point!r} misses {missing}")
        return [point[name] // self._scales[name] if name in self._scales else point[name] for name in self._dims]

    def _decode(self, x: list[Any]) -> dict[str, Any]:
        values = dict(zip(self._dims, x))
        return {name: value * self._scales[name] if name in self._scales else value for name, value in values.items()}

    # -- search loop -----------------------------------------------------------------------

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        """The next config, None while ZOOpt waits for results, or ``FINISHED``.

        Raises:
            RuntimeError: No search space, or no metric/mode.
        """
        optimizer = self._ensure_optimizer()
        with self._globals.active():
            solution = _next_solution(optimizer)
        if solution == "FINISHED":
            return Searcher.FINISHED
        if solution is None:
            return None
        self._live[trial_id] = solution
        return to_config(self._decode(solution.get_x()), self._paths, self._tune_space)

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        """Report the trial's loss; a failed or metric-less trial counts as the worst value.

        ZOOpt must see every suggested solution completed to move on, so trials without a
        usable result are completed with ``inf``.
        """
        solution = self._live.pop(trial_id, None)
        if solution is None:
            return
        value = None if error else metric_value(result, self._metric)
        loss = math.inf if value is None else (value if self._mode == "min" else -value)
        with self._globals.active():
            self._optimizer.complete(solution, loss)


def _next_solution(optimizer: Any) -> Any:
    with _init_samples_first(optimizer):
        solution = optimizer.suggest()
    if solution is None and _initial_phase_over(optimizer):
        # SRacosTune pauses (semaphore 0) when its initial samples are all handed out and
        # resumes when the last of them completes. If that completion came first, the pause
        # never ends; every initial sample has completed, so resume here.
        optimizer.semaphore = 1
        solution = optimizer.suggest()
    return solution


@contextlib.contextmanager
def _init_samples_first(optimizer: Any) -> Iterator[None]:
    """Let ZOOpt hand out every remaining init sample (``points_to_evaluate``) first.

    ZOOpt 0.4 takes init samples only while it has no result yet (it checks
    ``_best_solution is None``), so with one trial at a time only the first point ran. While
    init samples remain, the best solution is hidden for the duration of the call.
    """
    if not getattr(optimizer, "_data_temp", None):
        yield
        return
    best = optimizer._best_solution
    optimizer._best_solution = None
    try:
        yield
    finally:
        optimizer._best_solution = best


def _initial_phase_over(optimizer: Any) -> bool:
    train_size = optimizer.get_parameters().get_train_size()
    return optimizer.semaphore == 0 and optimizer.complete_num >= train_size


class _ZOOptGlobals:
    """ZOOpt's module-level state (NumPy's global generator, float precisions) for one searcher."""

    def __init__(self, seed: Any) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"{_NAME}: seed must be an int or None; got {seed!r}")
        self._seed = seed
        self._numpy_state: Any = None
        self._precisions: list[Any] = []

    def capture_precisions(self) -> None:
        """Keep the precisions the searcher's ``Dimension2`` just wrote."""
        from zoopt.utils.zoo_global import gl

        self._precisions = list(gl.float_precisions)

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Run the block with this searcher's precisions, and, when seeded, its own generator.

        An unseeded searcher draws from NumPy's global generator, as Ray Tune's does (so
        ``np.random.seed`` makes it reproducible), and advances it.
        """
        from zoopt.utils.zoo_global import gl

        outer_precisions = gl.float_precisions
        gl.float_precisions = list(self._precisions)
        try:
            if self._seed is None:
                yield
            else:
                with self._own_generator():
                    yield
        finally:
            gl.float_precisions = outer_precisions

    @contextlib.contextmanager
    def _own_generator(self) -> Iterator[None]:
        import numpy as np

        outer = np.random.get_state()
        if self._numpy_state is None:
            np.random.seed(self._seed)
        else:
            np.random.set_state(self._numpy_state)
        try:
            yield
        finally:
            self._numpy_state = np.random.get_state()
            np.random.set_state(outer)


# -- conversion and options ------------------------------------------------------------------


def _conversion_rules(zoopt: Any) -> dict[tuple[type, type], Any]:
    from tunesmith.search.sample import Categorical, Float, Integer, Uniform

    value_type = zoopt.ValueType
    return {
        (Float, Uniform): lambda p: (value_type.CONTINUOUS, [p.domain.lower, p.domain.upper], p.q or _DEFAULT_PRECISION),
        (Integer, Uniform): lambda p: (value_type.DISCRETE, _integer_range(p), True),
        (Categorical, Uniform): lambda p: (value_type.GRID, list(p.domain.categories)),
    }


def _integer_range(parameter: Parameter) -> list[int]:
    lower, upper = int(parameter.domain.lower), int(parameter.domain.upper)
    if not _is_stepped_integer(parameter):
        return [lower, upper - 1]  # randint excludes upper
    q = int(parameter.q)
    return [math.ceil(lower / q), upper // q]  # qrandint: multiples of q, upper included


def _is_stepped_integer(parameter: Parameter) -> bool:
    from tunesmith.search.sample import Integer

    return isinstance(parameter.domain, Integer) and parameter.q is not None and parameter.q > 1


def _native_dimension(name: str, dimension: Any) -> tuple[Any, ...]:
    if not isinstance(dimension, (tuple, list)) or len(dimension) not in (2, 3):
        raise ValueError(
            f"{_NAME}: dim_dict[{name!r}] must be a (ValueType, range[, precision or ordered]) tuple; got {dimension!r}"
        )
    return tuple(dimension)


def _space_or_dim_dict(kwargs: dict[str, Any], dim_dict: dict[str, Any] | None) -> dict[str, Any] | None:
    """``dim_dict``, or ``space`` (popped from ``kwargs``) given in its place."""
    space = kwargs.pop("space", None)
    if space is not None and dim_dict is not None:
        raise ValueError(
            f"{_NAME}: space and dim_dict are two names for the search space; pass only one of them; "
            f"got both (space={space!r}, dim_dict={dim_dict!r})"
        )
    return dim_dict if dim_dict is not None else space


def _check_parameter_kwargs(zoopt: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The extra keywords, checked against ``zoopt.Parameter`` (the optimizer is built later)."""
    accepted = set(inspect.signature(zoopt.Parameter).parameters) - {"self", "budget", "init_samples"}
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        raise ValueError(
            f"{_NAME}: extra keyword arguments go to zoopt.Parameter, which takes {sorted(accepted)}; "
            f"got unknown {unknown} (the search space is dim_dict=..., or space=...)"
        )
    return dict(kwargs)


def _check_algo(algo: Any) -> str:
    name = algo.lower() if isinstance(algo, str) else algo
    if name not in _ALGOS:
        raise ValueError(f"{_NAME}: algo must be 'asracos' or 'sracos'; got {algo!r}")
    return name


def _positive_int(name: str, value: Any) -> int:
    if value is None and name == "budget":
        raise ValueError(f"{_NAME} needs a budget: pass budget=<number of samples> (an int >= 1); got None")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{_NAME}: {name} must be an int >= 1; got {value!r}")
    return int(value)
