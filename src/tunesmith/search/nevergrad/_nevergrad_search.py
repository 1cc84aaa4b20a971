"""``NevergradSearch``: any Nevergrad optimizer behind tunesmith's Searcher interface."""

from __future__ import annotations

import contextlib
import importlib.metadata
import inspect
import logging
import numbers
import sys
from typing import Any, Iterator

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

__all__ = ["NevergradSearch"]

logger = logging.getLogger("tunesmith.search")

_NAME = "NevergradSearch"


def _import_nevergrad() -> Any:
    """Import nevergrad, even next to bayesian-optimization >= 2.

    nevergrad 1.0 pins bayesian-optimization 1.4 and, at import, does
    ``from bayes_opt import UtilityFunction`` guarded only against ModuleNotFoundError; with
    bayesian-optimization >= 2 (no UtilityFunction) ``import nevergrad`` fails. Hiding
    bayes_opt for that one import lets nevergrad load; only its BO-based optimizers, which
    need the 1.x API anyway, stay unusable.
    """
    if "nevergrad" in sys.modules or not _bayes_opt_without_utility_function():
        return try_import("nevergrad", extra="nevergrad", needed_by=_NAME)
    with _hidden_module("bayes_opt"):
        return try_import("nevergrad", extra="nevergrad", needed_by=_NAME)


def _bayes_opt_without_utility_function() -> bool:
    try:
        version = importlib.metadata.version("bayesian-optimization")
    except importlib.metadata.PackageNotFoundError:
        return False
    return int(version.split(".")[0]) >= 2


@contextlib.contextmanager
def _hidden_module(name: str) -> Iterator[None]:
    missing = object()
    saved = sys.modules.get(name, missing)
    sys.modules[name] = None  # type: ignore[assignment]  # makes "import name" raise ModuleNotFoundError
    try:
        yield
    finally:
        if saved is missing:
            del sys.modules[name]
        else:
            sys.modules[name] = saved  # type: ignore[assignment]


class NevergradSearch(Searcher):
    """Suggest configs with a Nevergrad optimizer (minimizing internally).

    Args:
        optimizer: Required. A Nevergrad optimizer class (``ng.optimizers.NGOpt``), a
            ``ConfiguredOptimizer`` (``ng.optimizers.OnePlusOne``), an optimizer instance
            that already has its parametrization, or (beyond Ray Tune) the name Nevergrad
            registers an optimizer under (``"NGOpt"``), which needs no ``import nevergrad``
            in the calling code (that import fails next to bayesian-optimization >= 2).
        optimizer_kwargs: Keyword arguments for creating the optimizer (``budget``,
            ``num_workers``); only with a class or ``ConfiguredOptimizer``.
        space: A tunesmith param space, a Nevergrad ``ng.p.Dict``/``ng.p.Instrumentation``,
            or, with an optimizer instance, the list of parameter names its values map to.
        metric: The result key to optimize.
        mode: ``"min"`` or ``"max"``.
        points_to_evaluate: Configs to try first (passed to ``optimizer.suggest``).
        seed: Beyond Ray Tune: seeds the parametrization's random state, from which
            Nevergrad's optimizers draw, so a seeded search repeats itself. Not with an
            optimizer instance (seed its parametrization instead).

    Raises:
        ImportError: nevergrad is not installed.
        ValueError: Missing or unknown optimizer, bad mode, unsupported domain, a bad seed,
            or a space, ``optimizer_kwargs`` or ``seed`` given with an optimizer instance.
        TypeError: ``optimizer`` is not a Nevergrad optimizer.

    Example:
        >>> import nevergrad as ng
        >>> from tunesmith.search.nevergrad import NevergradSearch
        >>> from tunesmith.search.sample import uniform
        >>> searcher = NevergradSearch(ng.optimizers.OnePlusOne, space={"x": uniform(0, 1)},
        ...                            metric="loss", mode="min")
        >>> 0 <= searcher.suggest("t1")["x"] <= 1
        True
    """

    def __init__(
        self,
        optimizer: Any = None,
        optimizer_kwargs: dict[str, Any] | None = None,
        space: Any = None,
        metric: str | None = None,
        mode: str | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(metric=metric, mode=mode)
        ng = _import_nevergrad()
        self._require_single_metric()
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"{_NAME}: seed must be an int or None; got {seed!r}")
        self._seed = seed
        self._optimizer_kwargs = dict(optimizer_kwargs or {})
        self._points = check_points(points_to_evaluate, _NAME)
        self._factory: Any = None
        self._optimizer: Any = None
        self._parametrization: Any = None
        self._names: list[str] | None = None
        self._paths: dict[str, tuple[Any, ...]] = {}
        self._tune_space: dict[str, Any] | None = None
        self._live: dict[str, Any] = {}
        if _is_instance(ng, optimizer):
            self._use_instance(optimizer, space)
        else:
            self._factory = _check_factory(ng, optimizer)
            if space is not None:
                self._set_space(space)

    # -- optimizer and space ---------------------------------------------------------------

    def _use_instance(self, optimizer: Any, space: Any) -> None:
        if self._seed is not None:
            raise ValueError(
                f"{_NAME}: seed applies only to an optimizer class or ConfiguredOptimizer; an optimizer "
                f"instance draws from its parametrization (seed that); got seed={self._seed!r}"
            )
        if self._optimizer_kwargs:
            raise ValueError(f"{_NAME}: optimizer_kwargs apply only to an optimizer class or ConfiguredOptimizer, not to an optimizer instance; got {sorted(self._optimizer_kwargs)}")
        if space is not None and not isinstance(space, (list, tuple)):
            raise ValueError(
                f"{_NAME}: an optimizer instance brings its own parametrization, so space must be None or a list "
                f"of parameter names; got {type(space).__name__}"
            )
        self._optimizer, self._parametrization = optimizer, optimizer.parametrization
        _enable_pickling(optimizer)
        self._names = list(space) if space else None

    def _set_space(self, space: Any) -> None:
        ng = _import_nevergrad()
        if is_tune_space(space):
            logger.warning(UNRESOLVED_SEARCH_SPACE.format(par="space", cls=_NAME))
            self._set_tune_space(space)
        elif isinstance(space, ng.p.Parameter):
            self._parametrization = space
        else:
            raise TypeError(f"{_NAME}(space=...) must be a tunesmith param space or a nevergrad parametrization; got {type(space).__name__}")

    def _set_tune_space(self, space: dict[str, Any]) -> None:
        self._parametrization = self.convert_search_space(space)
        self._paths = parameter_paths(searchable_parameters(space, _NAME))
        self._tune_space = space

    @staticmethod
    def convert_search_space(spec: dict[str, Any]) -> Any:
        """Convert a param space to a Nevergrad ``ng.p.Dict`` keyed by ``"a/b"`` names.

        Floats become ``ng.p.Scalar`` (``ng.p.Log`` for ``loguniform``), integers the same
        with integer casting, ``choice`` an ``ng.p.Choice``; quantization is dropped with a
        warning. Constants are left out.

        Raises:
            ValueError: A ``grid_search``, or a domain Nevergrad cannot express (``randn``).

        Example:
            >>> from tunesmith.search.sample import choice, uniform
            >>> space = NevergradSearch.convert_search_space({"m": {"lr": uniform(0, 1)}, "act": choice(["a", "b"])})
            >>> sorted(space.value)
            ['act', 'm/lr']
        """
        ng = _import_nevergrad()
        rules = _conversion_rules(ng)
        return ng.p.Dict(**{p.name: convert_parameter(p, rules, _NAME) for p in searchable_parameters(spec, _NAME)})

    _one_metric_only = True

    def _has_space(self) -> bool:
        return self._parametrization is not None

    def _ensure_optimizer(self) -> Any:
        if self._optimizer is None:
            if self._parametrization is None:  # a nevergrad Parameter refuses bool()
                self._require_space(None)
            self._require_metric_mode()
            if self._seed is not None:
                self._parametrization.random_state.seed(self._seed)
            self._optimizer = self._factory(parametrization=self._parametrization, **self._optimizer_kwargs)
            _enable_pickling(self._optimizer)
        self._require_metric_mode()
        return self._optimizer

    # -- search loop -----------------------------------------------------------------------

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        """Ask the optimizer for a candidate (a ``points_to_evaluate`` entry first, if any).

        Raises:
            RuntimeError: No search space, or no metric/mode.
        """
        optimizer = self._ensure_optimizer()
        if self._points:
            self._suggest_point(optimizer, self._points.pop(0))
        candidate = optimizer.ask()
        self._live[trial_id] = candidate
        return to_config(self._values(candidate), self._paths, self._tune_space)

    def _suggest_point(self, optimizer: Any, point: dict[str, Any]) -> None:
        ng = _import_nevergrad()
        if self._names is not None:
            optimizer.suggest([point[name] for name in self._names])
        elif isinstance(self._parametrization, ng.p.Instrumentation):
            optimizer.suggest(**point)
        else:
            keys = set(self._parametrization.value) if isinstance(self._parametrization.value, dict) else set(point)
            optimizer.suggest({k: v for k, v in point.items() if k in keys})

    def _values(self, candidate: Any) -> dict[str, Any]:
        ng = _import_nevergrad()
        instrumented = isinstance(self._parametrization, ng.p.Instrumentation)
        if self._names is not None:
            sequence = candidate.args[0] if instrumented else candidate.value
            return dict(zip(self._names, sequence))
        if instrumented:
            return dict(candidate.kwargs)
        value = candidate.value  # computed anew on each access (~0.1 ms for a 2-key ng.p.Dict)
        if not isinstance(value, dict):
            raise ValueError(f"{_NAME}: the parametrization must produce dicts (use ng.p.Dict or ng.p.Instrumentation with keywords), or give the parameter names as space; got {value!r}")
        return dict(value)

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        """Tell the optimizer the trial's loss (the metric, negated for ``mode="max"``)."""
        candidate = self._live.pop(trial_id, None)
        value = metric_value(result, self._metric)
        if candidate is None or error or value is None:
            return
        self._optimizer.tell(candidate, value if self._mode == "min" else -value)

    def restore(self, checkpoint_path: str) -> None:
        """Load a file written by :meth:`save`.

        Raises:
            RuntimeError: Nevergrad could not rebuild the optimizer (see below).
        """
        try:
            super().restore(checkpoint_path)
        except RuntimeError as exc:
            if "replay" not in str(exc):
                raise
            # nevergrad 1.0 rebuilds optimizers that wrap a scipy routine by replaying their
            # history, drawing from the random state as it was at save time, not at the start.
            raise RuntimeError(
                f"{_NAME} cannot restore its optimizer from {checkpoint_path!r}: nevergrad could not replay "
                f"its history ({exc}). This happens with optimizers that wrap a scipy routine, which "
                "NGOpt may choose; start a new search, or use an optimizer such as OnePlusOne, CMA or "
                "TwoPointsDE, which restore exactly"
            ) from exc


# -- helpers ---------------------------------------------------------------------------------


def _is_instance(ng: Any, optimizer: Any) -> bool:
    return isinstance(optimizer, ng.optimizers.base.Optimizer)


def _check_factory(ng: Any, optimizer: Any) -> Any:
    if optimizer is None:
        raise ValueError(
            f"{_NAME} needs an optimizer: pass a Nevergrad optimizer class (ng.optimizers.NGOpt), "
            "a ConfiguredOptimizer (ng.optimizers.OnePlusOne) or an optimizer instance; got None"
        )
    if isinstance(optimizer, str):
        return _registered(ng, optimizer)
    base = ng.optimizers.base
    if isinstance(optimizer, base.ConfiguredOptimizer):
        return optimizer
    if inspect.isclass(optimizer) and issubclass(optimizer, base.Optimizer):
        return optimizer
    raise TypeError(
        f"{_NAME}(optimizer=...) must be a Nevergrad optimizer class, ConfiguredOptimizer or "
        f"optimizer instance; got {optimizer!r}"
    )


def _enable_pickling(optimizer: Any) -> None:
    """Make the optimizer picklable, so that the searcher can be saved (and an experiment restored).

    Optimizers that wrap a scipy routine (``NGOpt`` often picks one) run it in a thread and
    refuse to be pickled unless asked before their first ``ask``; they then keep their
    history and replay it when unpickled. For every other optimizer this is a no-op.
    """
    if getattr(optimizer, "num_ask", 0) == 0:
        optimizer.enable_pickling()


def _registered(ng: Any, name: str) -> Any:
    """The optimizer registered in Nevergrad under ``name`` (``"NGOpt"``, ``"OnePlusOne"``, ...)."""
    registry = ng.optimizers.registry
    if name not in registry:
        close = sorted(k for k in registry if k.lower() == name.lower())
        hint = f"; did you mean {close[0]!r}?" if close else " (see nevergrad.optimizers.registry)"
        raise ValueError(f"{_NAME}(optimizer={name!r}): no Nevergrad optimizer is registered under that name{hint}")
    return registry[name]


def _conversion_rules(ng: Any) -> dict[tuple[type, type], Any]:
    from tunesmith.search.sample import Categorical, Float, Integer, LogUniform, Uniform

    return {
        (Float, Uniform): lambda p: _scalar(ng, p, log=False),
        (Float, LogUniform): lambda p: _scalar(ng, p, log=True),
        (Integer, Uniform): lambda p: _scalar(ng, p, log=False),
        (Integer, LogUniform): lambda p: _scalar(ng, p, log=True),
        (Categorical, Uniform): lambda p: ng.p.Choice(list(p.domain.categories)),
    }


def _scalar(ng: Any, parameter: Parameter, log: bool) -> Any:
    if parameter.q is not None:
        warn_dropped_quantization(parameter, _NAME)
    lower, upper = parameter.domain.lower, parameter.domain.upper
    if not _is_integer(parameter):
        return ng.p.Log(lower=lower, upper=upper) if log else ng.p.Scalar(lower=lower, upper=upper)
    if (parameter.q or 1) == 1:
        upper -= 1  # randint excludes upper; qrandint with q > 1 includes it
    if lower == upper:
        return ng.p.Choice([int(lower)])
    scalar = ng.p.Log(lower=lower, upper=upper) if log else ng.p.Scalar(lower=lower, upper=upper)
    return scalar.set_integer_casting()


def _is_integer(parameter: Parameter) -> bool:
    from tunesmith.search.sample import Integer

    return isinstance(parameter.domain, Integer)
