"""``HyperOptSearch``: HyperOpt's Tree-structured Parzen Estimator, one suggestion at a time."""

from __future__ import annotations

import copy
import functools
import logging
import math
from typing import Any

import numpy as np

from tunesmith._imports import try_import
from tunesmith.search._param_space import (
    ConversionRules,
    Parameter,
    convert_parameter,
    make_parameter,
    quantized_bounds,
    searchable_parameters,
)
from tunesmith.search._searcher import UNRESOLVED_SEARCH_SPACE, Searcher

__all__ = ["HyperOptSearch"]

logger = logging.getLogger("tunesmith.search")

_NAME = "HyperOptSearch"


def _hyperopt() -> Any:
    return try_import("hyperopt", extra="hyperopt", needed_by=_NAME)


class HyperOptSearch(Searcher):
    """Search with HyperOpt's TPE algorithm.

    The space comes from the Tuner's ``param_space`` or from ``space``: a (nested) dict of
    tunesmith domains or of HyperOpt expressions (``hp.uniform(...)``). All domains are
    converted, ``randn`` and quantization included; a ``choice`` whose categories are dicts
    with their own domains makes a conditional space (each branch searched only when
    chosen).

    Args:
        space: Dict of tunesmith domains or HyperOpt expressions.
        metric: The result key to optimize (one metric; HyperOpt is single-objective).
        mode: ``"min"`` or ``"max"``.
        points_to_evaluate: Complete configs to try first, in order.
        n_initial_points: Random suggestions before TPE starts modelling.
        random_state_seed: Seeds the searcher's own generator.
        gamma: TPE's quantile splitting good from bad trials (0 < gamma < 1).

    Raises:
        ImportError: HyperOpt is not installed.
        ValueError: A metric list, a ``grid_search`` in the space, or a point that misses a
            key or names an unknown category.

    Example:
        >>> from tunesmith.search.hyperopt import HyperOptSearch
        >>> from tunesmith.search.sample import randn
        >>> searcher = HyperOptSearch({"x": randn(3, 1)}, metric="loss", mode="min", random_state_seed=0)
        >>> isinstance(searcher.suggest("t1")["x"], float)
        True
    """

    def __init__(
        self,
        space: dict[str, Any] | None = None,
        metric: str | None = None,
        mode: str | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        n_initial_points: int = 20,
        random_state_seed: int | None = None,
        gamma: float = 0.25,
    ) -> None:
        hpo = _hyperopt()
        super().__init__(metric=metric, mode=mode)
        self._require_single_metric()
        self._points_to_evaluate = _check_points(points_to_evaluate)
        options = {"gamma": gamma} if gamma is not None else {}
        if n_initial_points is not None:
            options["n_startup_jobs"] = n_initial_points
        self._algo = functools.partial(hpo.tpe.suggest, **options)
        self._rng = np.random.default_rng(random_state_seed)
        self._source_space: dict[str, Any] | None = None
        self._space: dict[str, Any] | None = None
        self._domain: Any = None
        self._trials: Any = None
        self._pending_points: list[dict[str, Any]] = []
        self._live: dict[str, Any] = {}
        if space:
            self._set_space(space, from_user=True)

    # -- space -----------------------------------------------------------------------------

    def _set_space(self, space: dict[str, Any], from_user: bool) -> None:
        hpo = _hyperopt()
        parameters = searchable_parameters(space, _NAME)
        if parameters and from_user:
            logger.info(UNRESOLVED_SEARCH_SPACE.format(par="space", cls=_NAME))
        if not parameters and not from_user:
            return
        self._source_space = copy.deepcopy(space)
        self._space = _to_hyperopt(space, parameters, hpo)
        self._domain = hpo.Domain(lambda config: config, self._space)
        self._trials = hpo.Trials()
        self._pending_points = [self._point_to_vals(p, i) for i, p in enumerate(self._points_to_evaluate)]

    @staticmethod
    def convert_search_space(spec: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``spec`` with each domain replaced by a HyperOpt expression.

        Labels are the ``"a/b"`` paths; parameters inside the ``i``-th category of a choice
        ``c`` are labelled ``"c/i/name"``. Constants stay as they are.

        Raises:
            ValueError: A ``grid_search``, or a domain HyperOpt cannot express (``sample_from``).
        """
        return _to_hyperopt(spec, searchable_parameters(spec, _NAME), _hyperopt())

    _one_metric_only = True

    def _has_space(self) -> bool:
        return bool(self._space)

    def _set_tune_space(self, space: dict[str, Any]) -> None:
        self._set_space(space, from_user=False)

    def _point_to_vals(self, point: dict[str, Any], index: int) -> dict[str, Any]:
        """HyperOpt's ``{label: value}`` for a point (choices as category indices)."""
        vals: dict[str, Any] = {}
        _collect_vals(self._source_space, point, (), vals, f"points_to_evaluate[{index}]")
        return vals

    # -- ask and tell ----------------------------------------------------------------------

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        """The next point to evaluate, nested like the space.

        Raises:
            RuntimeError: No space, or no metric/mode.
        """
        hpo = _hyperopt()
        self._require_ready(self._space)
        if trial_id in self._live:
            doc = self._live[trial_id]
        elif self._pending_points:
            doc = self._insert_point(self._pending_points.pop(0))
        else:
            doc = self._insert_tpe_suggestion()
        self._live[trial_id] = doc
        assignment = hpo.base.spec_from_misc(doc["misc"])
        return copy.deepcopy(hpo.space_eval(self._space, assignment))

    def _insert_tpe_suggestion(self) -> dict[str, Any]:
        new_ids = self._trials.new_trial_ids(1)
        self._trials.refresh()
        seed = int(self._rng.integers(2**31 - 1))
        docs = self._algo(new_ids, self._domain, self._trials, seed)
        self._trials.insert_trial_docs(docs)
        self._trials.refresh()
        return docs[0]

    def _insert_point(self, vals: dict[str, Any]) -> dict[str, Any]:
        tid = self._trials.new_trial_ids(1)[0]
        labels = self._domain.params
        misc = {
            "tid": tid,
            "cmd": ("domain_attachment", "FMinIter_Domain"),
            "workdir": None,
            "idxs": {label: [tid] if label in vals else [] for label in labels},
            "vals": {label: [vals[label]] if label in vals else [] for label in labels},
        }
        docs = self._trials.new_trial_docs([tid], [None], [{"status": "new"}], [misc])
        self._trials.insert_trial_docs(docs)
        self._trials.refresh()
        return docs[0]

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        """Record the trial's loss (negated for ``"max"``); errors and missing metrics as failures."""
        hpo = _hyperopt()
        doc = self._live.pop(trial_id, None)
        if doc is None:
            return
        doc["refresh_time"] = hpo.utils.coarse_utcnow()
        if error:
            doc["state"] = hpo.base.JOB_STATE_ERROR
            doc["misc"]["error"] = ("TrialError", "the trial failed")
        else:
            doc["state"] = hpo.base.JOB_STATE_DONE
            doc["result"] = self._hyperopt_result((result or {}).get(self._metric))
        self._trials.refresh()

    def _hyperopt_result(self, value: Any) -> dict[str, Any]:
        try:
            loss = float(value) * (-1.0 if self._mode == "max" else 1.0)
        except (TypeError, ValueError):
            return {"status": "fail"}
        return {"loss": loss, "status": "ok"} if math.isfinite(loss) else {"status": "fail"}

    # -- state -----------------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """Space, trials database, pending points and the generator (domain is rebuilt)."""
        return {k: v for k, v in self.__dict__.items() if k != "_domain"}

    def set_state(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self._space is not None:
            self._domain = _hyperopt().Domain(lambda config: config, self._space)


def _check_points(points: Any) -> list[dict[str, Any]]:
    if points is None:
        return []
    if not isinstance(points, (list, tuple)) or not all(isinstance(p, dict) for p in points):
        raise ValueError(f"points_to_evaluate must be a list of dicts; got {points!r}")
    return copy.deepcopy(list(points))



def _to_hyperopt(
    space: dict[str, Any], parameters: list[Parameter], hpo: Any, prefix: tuple[Any, ...] = ()
) -> dict[str, Any]:
    """A copy of ``space`` where each domain is a HyperOpt expression (native ones kept)."""
    converted = copy.deepcopy(space)
    rules = _conversion_rules(hpo)
    for parameter in parameters:
        labelled = Parameter(prefix + parameter.path, parameter.domain, parameter.sampler, parameter.q)
        _assign(converted, parameter.path, convert_parameter(labelled, rules, _NAME))
    return _keep_lists(converted, hpo)


def _keep_lists(value: Any, hpo: Any) -> Any:
    """Wrap each list in ``scope.list``, so that HyperOpt gives lists back, not tuples."""
    if isinstance(value, dict):
        return {key: _keep_lists(item, hpo) for key, item in value.items()}
    if isinstance(value, list):
        return hpo.pyll.scope.list([_keep_lists(item, hpo) for item in value])
    return value


def _assign(target: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def _conversion_rules(hpo: Any) -> ConversionRules:
    from tunesmith.search.sample import Categorical, Float, Integer, LogUniform, Normal, Uniform

    hp, to_int = hpo.hp, hpo.pyll.scope.int

    def float_uniform(p: Parameter) -> Any:
        if p.q is None:
            return hp.uniform(p.name, p.domain.lower, p.domain.upper)
        return hp.quniform(p.name, *quantized_bounds(p), p.q)

    def float_log(p: Parameter) -> Any:
        low, high = math.log(p.domain.lower), math.log(p.domain.upper)
        return hp.loguniform(p.name, low, high) if p.q is None else hp.qloguniform(p.name, low, high, p.q)

    def float_normal(p: Parameter) -> Any:
        mean, sd = p.sampler.mean, p.sampler.sd
        return hp.normal(p.name, mean, sd) if p.q is None else hp.qnormal(p.name, mean, sd, p.q)

    def int_uniform(p: Parameter) -> Any:
        if p.q is None or p.q == 1:
            return hp.uniformint(p.name, int(p.domain.lower), int(p.domain.upper) - 1)
        return to_int(hp.quniform(p.name, *quantized_bounds(p), p.q))

    def int_log(p: Parameter) -> Any:
        if p.q is None or p.q == 1:
            return to_int(hp.qloguniform(p.name, math.log(p.domain.lower), math.log(p.domain.upper - 1), 1))
        low, high = quantized_bounds(p)
        return to_int(hp.qloguniform(p.name, math.log(max(low, p.q)), math.log(high), p.q))

    def categorical(p: Parameter) -> Any:
        return hp.choice(p.name, [_category(c, p.path + (i,), hpo) for i, c in enumerate(p.domain.categories)])

    return {
        (Float, LogUniform): float_log,
        (Float, Normal): float_normal,
        (Float, Uniform): float_uniform,
        (Integer, LogUniform): int_log,
        (Integer, Uniform): int_uniform,
        (Categorical, Uniform): categorical,
    }


def _category(category: Any, path: tuple[Any, ...], hpo: Any) -> Any:
    """One option of a choice: a nested space, a list, a nested domain, or a constant.

    Domains inside a list option are labelled by their position (``"c/i/j"``); lists come
    back as lists (HyperOpt alone would give tuples).
    """
    from tunesmith.search.sample import Domain

    if isinstance(category, dict):
        return _to_hyperopt(category, searchable_parameters(category, _NAME), hpo, prefix=path)
    if isinstance(category, (list, tuple)):
        items = [_category(item, path + (j,), hpo) for j, item in enumerate(category)]
        return hpo.pyll.scope.list(items) if isinstance(category, list) else tuple(items)
    if isinstance(category, Domain):
        return convert_parameter(make_parameter(path, category), _conversion_rules(hpo), _NAME)
    return category


def _collect_vals(space: Any, point: Any, path: tuple[Any, ...], vals: dict[str, Any], where: str) -> None:
    """Walk the tunesmith space alongside a point, filling HyperOpt's ``{label: value}``."""
    from tunesmith.search.sample import Categorical, Domain

    label = "/".join(str(k) for k in path)
    if isinstance(space, dict) and not _is_native(space):
        for key, sub_space in space.items():
            if not _searchable(sub_space):
                continue
            if not isinstance(point, dict) or key not in point:
                raise ValueError(
                    f"HyperOptSearch: {where} must give every searched key of the space; "
                    f"got no value for {'/'.join(str(k) for k in path + (key,))!r}"
                )
            _collect_vals(sub_space, point[key], path + (key,), vals, where)
    elif isinstance(space, (list, tuple)):
        for j, sub_space in enumerate(space):
            if _searchable(sub_space):
                _collect_vals(sub_space, point[j], path + (j,), vals, where)
    elif isinstance(space, Categorical):
        index = _category_index(space.categories, point, label, where)
        vals[label] = index
        if _searchable(space.categories[index]):
            _collect_vals(space.categories[index], point, path + (index,), vals, where)
    elif isinstance(space, Domain) or _is_native(space):
        vals[label] = point


def _category_index(categories: list[Any], value: Any, label: str, where: str) -> int:
    for index, category in enumerate(categories):
        if isinstance(category, dict) and isinstance(value, dict):
            constants = {k: v for k, v in category.items() if not _searchable(v)}
            if set(value) <= set(category) and all(value.get(k, v) == v for k, v in constants.items()):
                return index
        elif isinstance(category, (list, tuple)) and _searchable(category):
            if _same_shape(category, value):
                return index
        elif not isinstance(category, dict) and not _searchable(category) and _same(category, value):
            return index
    raise ValueError(
        f"HyperOptSearch: {where} gives parameter {label!r} a value that is none of its "
        f"categories {categories!r}; got {value!r}"
    )


def _same_shape(category: list[Any] | tuple[Any, ...], value: Any) -> bool:
    """A list option holding domains matches a sequence of its length with its constants."""
    if not isinstance(value, (list, tuple)) or len(value) != len(category):
        return False
    return all(_searchable(c) or _same(c, v) for c, v in zip(category, value))


def _same(category: Any, value: Any) -> bool:
    try:
        return category is value or bool(category == value)
    except (TypeError, ValueError):
        return False


def _searchable(value: Any) -> bool:
    """True for anything holding a domain or a HyperOpt expression."""
    from tunesmith.search.sample import Domain

    if isinstance(value, Domain) or _is_native(value):
        return True
    if isinstance(value, dict):
        return any(_searchable(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_searchable(v) for v in value)
    return False


def _is_native(value: Any) -> bool:
    return type(value).__name__ == "Apply" and type(value).__module__.startswith("hyperopt")
