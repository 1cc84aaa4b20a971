"""``HEBOSearch``: Huawei's HEBO (heteroscedastic evolutionary Bayesian optimization).

HEBO draws from NumPy's and PyTorch's global generators. With ``random_state_seed`` set,
every HEBO call here runs on this searcher's own saved generator states, and the caller's
global states are put back afterwards, so runs are reproducible and nothing else is reseeded.
"""

from __future__ import annotations

import contextlib
import logging
import numbers
from typing import Any, Iterator

from tunesmith._imports import try_import
from tunesmith.search._integration import check_points, check_rewards, is_tune_space, metric_value, to_config
from tunesmith.search._param_space import (
    Parameter,
    convert_parameter,
    parameter_paths,
    searchable_parameters,
    warn_dropped_quantization,
)
from tunesmith.search._searcher import UNRESOLVED_SEARCH_SPACE, Searcher

__all__ = ["HEBOSearch"]

logger = logging.getLogger("tunesmith.search")

_NAME = "HEBOSearch"


def _import_hebo() -> Any:
    try:
        return try_import("hebo.optimizers.hebo", extra="hebo", needed_by=_NAME)
    except ImportError as exc:
        # HEBO 0.3.6 pins numpy<1.25 and pymoo==0.6.0, yet runs on numpy 2 and pymoo 0.6.2;
        # the "hebo" extra brings its real dependencies and HEBO itself goes in without its pins.
        raise ImportError(f'{exc} && pip install --no-deps "HEBO>=0.3.6"') from exc.__cause__


def _design_space_module() -> Any:
    return try_import("hebo.design_space.design_space", extra="hebo", needed_by=_NAME)


class HEBOSearch(Searcher):
    """Suggest configs with HEBO, in batches of ``max_concurrent`` (minimizing internally).

    HEBO proposes ``max_concurrent`` configs at once; a new batch is asked for only after
    every trial of the previous one completed, so this searcher limits concurrency itself
    (:meth:`set_max_concurrency` returns True).

    Args:
        space: A HEBO ``DesignSpace`` or a tunesmith param space.
        metric: The result key to optimize.
        mode: ``"min"`` or ``"max"``.
        points_to_evaluate: Configs to try first.
        evaluated_rewards: Metric values already known for ``points_to_evaluate``; the
            points are then fed to HEBO as observations instead of being run.
        random_state_seed: Seed for HEBO's draws (see the module docstring); None leaves
            HEBO on the global generators.
        max_concurrent: Size of each batch of suggestions (>= 1).
        **kwargs: Passed to ``hebo.optimizers.hebo.HEBO`` (``model_name``,
            ``rand_sample``, ``acq_cls``, ``es``, ``model_config``).

    Raises:
        ImportError: HEBO (or torch) is not installed.
        ValueError: Bad mode, unsupported domain, bad ``max_concurrent``, or rewards not
            matching the points.

    Example:
        >>> from tunesmith.search.hebo import HEBOSearch
        >>> from tunesmith.search.sample import uniform
        >>> searcher = HEBOSearch({"x": uniform(0, 1)}, metric="loss", mode="min",
        ...                       random_state_seed=0)
        >>> 0 <= searcher.suggest("t1")["x"] <= 1
        True
    """

    def __init__(
        self,
        space: Any = None,
        metric: str | None = None,
        mode: str | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        evaluated_rewards: list[float] | None = None,
        random_state_seed: int | None = None,
        max_concurrent: int = 8,
        **kwargs: Any,
    ) -> None:
        super().__init__(metric=metric, mode=mode)
        _import_hebo()
        self._require_single_metric()
        self._points = check_points(points_to_evaluate, _NAME)
        self._rewards = check_rewards(evaluated_rewards, self._points, _NAME)
        self._max_concurrent = _check_concurrency(max_concurrent)
        self._hebo_kwargs = dict(kwargs)
        self._rng = _SeededGlobals(random_state_seed)
        self._design: Any = None
        self._decoders: dict[str, list[Any]] = {}
        self._paths: dict[str, tuple[Any, ...]] = {}
        self._tune_space: dict[str, Any] | None = None
        self._optimizer: Any = None
        self._live: dict[str, dict[str, Any]] = {}
        self._batch: list[dict[str, Any]] = []
        self._batch_filled = False
        if space is not None:
            self._set_space(space)

    # -- space -----------------------------------------------------------------------------

    def _set_space(self, space: Any) -> None:
        if is_tune_space(space):
            logger.warning(UNRESOLVED_SEARCH_SPACE.format(par="space", cls=_NAME))
            self._set_tune_space(space)
        elif isinstance(space, _design_space_module().DesignSpace):
            self._design = space
        else:
            raise TypeError(f"{_NAME}(space=...) must be a tunesmith param space or a HEBO DesignSpace; got {type(space).__name__}")

    def _set_tune_space(self, space: dict[str, Any]) -> None:
        parameters = searchable_parameters(space, _NAME)
        records = [convert_parameter(p, _conversion_rules(), _NAME) for p in parameters]
        self._decoders = {p.name: list(p.domain.categories) for p in parameters if _is_categorical(p)}
        self._design = _design_space_module().DesignSpace().parse(records)
        self._paths = parameter_paths(parameters)
        self._tune_space = space

    _one_metric_only = True

    def _has_space(self) -> bool:
        return self._design is not None

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        """Use ``max_concurrent`` as the batch size; True: no ConcurrencyLimiter is needed."""
        self._max_concurrent = _check_concurrency(max_concurrent)
        return True

    # -- optimizer -------------------------------------------------------------------------

    def _ensure_optimizer(self) -> Any:
        if self._optimizer is not None:
            return self._optimizer
        if self._design is None:
            self._require_space(None)
        self._require_metric_mode()
        hebo = _import_hebo()
        kwargs = {"scramble_seed": self._rng.seed, **self._hebo_kwargs}
        with self._rng.active():
            self._optimizer = hebo.HEBO(self._design, **kwargs)
        if self._rewards is not None:
            self._observe([self._encode(p) for p in self._points], self._rewards)
            self._points, self._rewards = [], None
        return self._optimizer

    def _observe(self, rows: list[dict[str, Any]], values: list[float]) -> None:
        import numpy as np
        import pandas as pd

        losses = np.array([[v if self._mode == "min" else -v] for v in values], dtype=float)
        with self._rng.active():
            self._optimizer.observe(pd.DataFrame(rows, columns=self._design.para_names), losses)

    def _encode(self, point: dict[str, Any]) -> dict[str, Any]:
        """A flat point in HEBO's terms: categorical values become their index labels."""
        row = {}
        for name in self._design.para_names:
            if name not in point:
                raise ValueError(f"{_NAME}: points_to_evaluate entries must set every searched key; {point!r} misses {name!r}")
            row[name] = _category_label(name, point[name], self._decoders[name]) if name in self._decoders else point[name]
        return row

    def _decode(self, row: dict[str, Any]) -> dict[str, Any]:
        return {k: self._decoders[k][int(v)] if k in self._decoders else v for k, v in row.items()}

    # -- search loop -----------------------------------------------------------------------

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        """The next point to evaluate, or None while the current batch is still running.

        Raises:
            RuntimeError: No search space, or no metric/mode.
        """
        self._ensure_optimizer()
        if self._points:
            row = self._encode(self._points.pop(0))
        else:
            if self._batch_filled or len(self._live) >= self._max_concurrent:
                return None
            if not self._batch:
                with self._rng.active():
                    self._batch = self._optimizer.suggest(n_suggestions=self._max_concurrent).to_dict("records")
            row = self._batch.pop(0)
        self._live[trial_id] = row
        if len(self._live) >= self._max_concurrent:
            self._batch_filled = True
        return to_config(self._decode(row), self._paths, self._tune_space)

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        """Give HEBO the trial's metric; an errored or metric-less trial is just forgotten."""
        row = self._live.pop(trial_id, None)
        if row is None:
            return
        if not self._live:
            self._batch_filled = False
        value = metric_value(result, self._metric)
        if not error and value is not None:
            self._observe([row], [value])

    # -- state -----------------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """A picklable snapshot; HEBO's optimizer (data, Sobol engine) is pickled as is."""
        return dict(self.__dict__)


class _SeededGlobals:
    """NumPy/PyTorch global generator states that belong to one searcher.

    Args:
        seed: None: do nothing (use the globals as they are). An int: the first
            :meth:`active` block starts from generators seeded with it.
    """

    def __init__(self, seed: int | None) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"{_NAME}: random_state_seed must be an int or None; got {seed!r}")
        self.seed = seed
        self._numpy_state: Any = None
        self._torch_state: Any = None

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Run the block on this searcher's generator states, then restore the caller's."""
        if self.seed is None:
            yield
            return
        import numpy as np
        import torch

        outer_numpy = np.random.get_state()
        with torch.random.fork_rng(devices=[]):
            self._load(np, torch)
            try:
                yield
            finally:
                self._numpy_state, self._torch_state = np.random.get_state(), torch.get_rng_state()
                np.random.set_state(outer_numpy)

    def _load(self, np: Any, torch: Any) -> None:
        if self._numpy_state is None:
            np.random.seed(self.seed)
            torch.manual_seed(self.seed)
        else:
            np.random.set_state(self._numpy_state)
            torch.set_rng_state(self._torch_state)


# -- conversion ------------------------------------------------------------------------------


def _conversion_rules() -> dict[tuple[type, type], Any]:
    from tunesmith.search.sample import Categorical, Float, Integer, LogUniform, Uniform

    return {
        (Float, Uniform): lambda p: _numeric(p, "num"),
        (Float, LogUniform): lambda p: _numeric(p, "pow"),
        (Integer, Uniform): lambda p: _numeric(p, "int"),
        (Integer, LogUniform): lambda p: _numeric(p, "pow_int"),
        (Categorical, Uniform): lambda p: {"name": p.name, "type": "cat", "categories": [str(i) for i in range(len(p.domain.categories))]},
    }


def _numeric(parameter: Parameter, kind: str) -> dict[str, Any]:
    if parameter.q is not None:
        warn_dropped_quantization(parameter, _NAME)
    lower, upper = parameter.domain.lower, parameter.domain.upper
    if kind in ("int", "pow_int") and (parameter.q or 1) == 1:
        upper -= 1  # randint excludes upper; qrandint with q > 1 includes it
    return {"name": parameter.name, "type": kind, "lb": lower, "ub": upper}


def _is_categorical(parameter: Parameter) -> bool:
    from tunesmith.search.sample import Categorical

    return isinstance(parameter.domain, Categorical)


def _category_label(name: str, value: Any, categories: list[Any]) -> str:
    for index, category in enumerate(categories):
        if value is category or _equal(value, category):
            return str(index)
    raise ValueError(f"{_NAME}: points_to_evaluate value {value!r} for {name!r} is none of {categories!r}")


def _equal(a: Any, b: Any) -> bool:
    numbers_alike = all(isinstance(v, numbers.Number) and not isinstance(v, bool) for v in (a, b))
    try:
        return (type(a) is type(b) or numbers_alike) and bool(a == b)
    except (TypeError, ValueError):
        return False


def _check_concurrency(max_concurrent: Any) -> int:
    if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, numbers.Integral) or max_concurrent < 1:
        raise ValueError(f"{_NAME}: max_concurrent must be an int >= 1; got {max_concurrent!r}")
    return int(max_concurrent)
