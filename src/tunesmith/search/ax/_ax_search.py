"""``AxSearch``: Bayesian optimization through Ax's ``ax.Client`` (ax-platform 1.x).

Ray Tune's ``AxSearch`` drives the old ``AxClient``, which ax-platform deprecated and removes
in 1.4. This one drives the ``ax.Client`` API: ``configure_experiment``,
``configure_optimization``, ``get_next_trials``, ``attach_trial`` and ``complete_trial``.
"""

from __future__ import annotations

import inspect
import logging
import os
import re
import tempfile
from typing import Any, Sequence

from tunesmith._imports import try_import
from tunesmith.search._integration import check_points, is_tune_space, metric_value, to_config
from tunesmith.search._param_space import (
    Parameter,
    convert_parameter,
    parameter_paths,
    searchable_parameters,
    warn_dropped_quantization,
)
from tunesmith.search._searcher import DEFAULT_METRIC, UNRESOLVED_SEARCH_SPACE, Searcher

__all__ = ["AxSearch"]

logger = logging.getLogger("tunesmith.search")

_NAME = "AxSearch"
# ax_kwargs that go to configure_experiment / the Client constructor; the rest must be
# options of Client.configure_generation_strategy (read from its signature).
_EXPERIMENT_KEYS = frozenset({"name", "description", "experiment_type", "owner"})
_CLIENT_KEYS = frozenset({"random_seed"})


def _import_ax() -> Any:
    return try_import("ax", extra="ax", needed_by=_NAME)


class _Fixed:
    """A single-valued parameter: Ax has no fixed parameters, so it is added to each config."""

    def __init__(self, value: Any) -> None:
        self.value = value


class AxSearch(Searcher):
    """Suggest configs with Ax (Sobol initialization, then Bayesian optimization).

    Args:
        space: Ax parameters (``ax.RangeParameterConfig`` / ``ax.ChoiceParameterConfig``, or
            Ray-style dicts ``{"name", "type": "range"|"choice"|"fixed", ...}``), or a
            tunesmith param space (usually given as the Tuner's ``param_space`` instead).
        metric: The result key to optimize; a list for multi-objective search.
        mode: ``"min"`` or ``"max"`` (a list matching ``metric``).
        points_to_evaluate: Configs to try first, each attached to Ax as a trial.
        parameter_constraints: Ax constraint strings, e.g. ``["x1 + x2 <= 2.0"]``.
        outcome_constraints: Ax outcome constraint strings, e.g. ``["acc >= 0.9"]``; the
            metrics they name are read from each trial's last result.
        ax_client: An ``ax.Client``. If its experiment is already configured, its parameters
            and objective are used and ``space``/constraints must not be given.
        **ax_kwargs: ``random_seed`` (for ``ax.Client``); ``name``, ``description``,
            ``experiment_type``, ``owner`` (for ``configure_experiment``); any option of
            ``Client.configure_generation_strategy`` (``method``,
            ``initialization_budget``, ...).

    Raises:
        ImportError: ax-platform is not installed.
        ValueError: Bad mode, unsupported domain, conflicting client settings.
        TypeError: Unknown ``ax_kwargs``, or ``ax_client`` is not an ``ax.Client``.

    Example:
        >>> from tunesmith.search.ax import AxSearch
        >>> from tunesmith.search.sample import uniform
        >>> searcher = AxSearch({"x": uniform(0, 1)}, metric="loss", mode="min")
        >>> 0 <= searcher.suggest("t1")["x"] <= 1
        True
    """

    def __init__(
        self,
        space: dict[str, Any] | list[Any] | None = None,
        metric: str | list[str] | None = None,
        mode: str | list[str] | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        parameter_constraints: list[str] | None = None,
        outcome_constraints: list[str] | None = None,
        ax_client: Any = None,
        **ax_kwargs: Any,
    ) -> None:
        super().__init__(metric=metric, mode=mode)
        ax = _import_ax()
        self._client_kwargs, self._experiment_kwargs, self._strategy_kwargs = _split_ax_kwargs(ax, ax_kwargs)
        self._points = check_points(points_to_evaluate, _NAME)
        self._parameter_constraints = list(parameter_constraints or [])
        self._outcome_constraints = list(outcome_constraints or [])
        self._client = _check_client(ax, ax_client)
        self._configured = False
        self._parameters: list[Any] | None = None
        self._constants: dict[str, Any] = {}
        self._paths: dict[str, tuple[Any, ...]] = {}
        self._tune_space: dict[str, Any] | None = None
        self._live: dict[str, int] = {}
        if space:
            self._set_space(space)
        if self._client is not None and _client_experiment(self._client) is not None:
            self._adopt_client()

    # -- space -----------------------------------------------------------------------------

    def _set_space(self, space: dict[str, Any] | list[Any]) -> None:
        if isinstance(space, dict):
            if is_tune_space(space):
                logger.warning(UNRESOLVED_SEARCH_SPACE.format(par="space", cls=_NAME))
            self._set_tune_space(space)
        elif isinstance(space, (list, tuple)):
            converted = {_param_name(p): _native_parameter(_import_ax(), p) for p in space}
            self._store_parameters(converted, {})
        else:
            raise TypeError(
                f"{_NAME}(space=...) must be a tunesmith param space (dict) or a list of Ax "
                f"parameters; got {type(space).__name__}"
            )

    def _set_tune_space(self, space: dict[str, Any]) -> None:
        parameters = searchable_parameters(space, _NAME)
        rules = _conversion_rules(_import_ax())
        converted = {p.name: convert_parameter(p, rules, _NAME) for p in parameters}
        self._tune_space = space
        self._store_parameters(converted, parameter_paths(parameters))

    def _store_parameters(self, converted: dict[str, Any], paths: dict[str, tuple[Any, ...]]) -> None:
        self._constants = {k: v.value for k, v in converted.items() if isinstance(v, _Fixed)}
        self._parameters = [v for v in converted.values() if not isinstance(v, _Fixed)]
        self._paths = paths
        if not self._parameters:
            raise ValueError(f"{_NAME} needs at least one parameter with more than one value; got {list(converted)}")

    def _has_space(self) -> bool:
        has_experiment = self._client is not None and _client_experiment(self._client) is not None
        return self._parameters is not None or has_experiment

    # -- client ----------------------------------------------------------------------------

    def _adopt_client(self) -> None:
        """Use the experiment and objective already configured on the user's client."""
        if self._parameters is not None or self._parameter_constraints or self._outcome_constraints:
            raise ValueError(
                f"{_NAME}: ax_client already has an experiment, so space, parameter_constraints "
                "and outcome_constraints must not be given (configure them on the client)"
            )
        objective = _client_objective(self._client)
        if objective is not None:
            metric, mode = objective
            if self._metric not in (None, DEFAULT_METRIC, metric) or self._mode not in (None, mode):
                raise ValueError(
                    f"{_NAME}: metric/mode must match the ax_client's objective; got "
                    f"metric={self._metric!r}, mode={self._mode!r}, client objective {metric!r} ({mode})"
                )
            self._metric, self._mode = metric, mode
        self._configured = objective is not None

    def _ensure_client(self) -> Any:
        if self._configured:
            return self._client
        if self._client is None or _client_experiment(self._client) is None:
            self._require_space(self._parameters)
        self._require_metric_mode()
        ax = _import_ax()
        client = self._client if self._client is not None else ax.Client(**self._client_kwargs)
        if _client_experiment(client) is None:
            client.configure_experiment(
                parameters=self._parameters,
                parameter_constraints=self._parameter_constraints or None,
                **self._experiment_kwargs,
            )
        client.configure_optimization(
            objective=_objective(self._metric, self._mode),
            outcome_constraints=self._outcome_constraints or None,
        )
        if self._strategy_kwargs:
            client.configure_generation_strategy(**self._strategy_kwargs)
        self._client, self._configured = client, True
        return client

    # -- search loop -----------------------------------------------------------------------

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        """Attach the next ``points_to_evaluate`` entry, or ask Ax for a new trial.

        Returns:
            The nested config, or None while Ax waits for more completed trials.

        Raises:
            RuntimeError: No search space, or no metric/mode.
        """
        client = self._ensure_client()
        if self._points:
            point = {k: v for k, v in self._points.pop(0).items() if k not in self._constants}
            index, parameters = client.attach_trial(parameters=point), point
        else:
            generated = _next_trial(client)
            if generated is None:
                return None
            index, parameters = generated
        self._live[trial_id] = index
        return to_config({**self._constants, **parameters}, self._paths, self._tune_space)

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        """Complete the Ax trial with the metric values, or mark it failed.

        A trial that errored or whose result lacks an objective metric is marked FAILED
        (Ax may suggest its parameters again).
        """
        index = self._live.pop(trial_id, None)
        if index is None or self._client is None:
            return
        data = None if error or not result else self._raw_data(result)
        if data is None:
            self._client.mark_trial_failed(index, failed_reason="errored or reported no objective metric")
            return
        self._client.complete_trial(index, raw_data=data)

    def _raw_data(self, result: dict[str, Any]) -> dict[str, float] | None:
        metrics = self._metric if isinstance(self._metric, list) else [self._metric]
        keys = metrics + _constraint_metrics(self._outcome_constraints, result)
        data = {key: metric_value(result, key) for key in keys}
        if any(data[m] is None for m in metrics):
            logger.warning("%s: result has no numeric value for %s; trial marked failed", _NAME, metrics)
            return None
        return {k: v for k, v in data.items() if v is not None}

    # -- state -----------------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """Everything needed to continue: settings, live trials and a JSON snapshot of the client."""
        state = {k: v for k, v in self.__dict__.items() if k != "_client"}
        state["_client_snapshot"] = _snapshot(self._client) if self._client is not None else None
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        """Load :meth:`get_state` output, rebuilding the ``ax.Client`` from its snapshot."""
        state = dict(state)
        snapshot = state.pop("_client_snapshot", None)
        self.__dict__.update(state)
        self._client = _load_snapshot(snapshot, self._client_kwargs) if snapshot else None


# -- conversion ------------------------------------------------------------------------------


def _conversion_rules(ax: Any) -> dict[tuple[type, type], Any]:
    from tunesmith.search.sample import Categorical, Float, Integer, LogUniform, Uniform

    return {
        (Float, Uniform): lambda p: _range(ax, p, "float", "linear"),
        (Float, LogUniform): lambda p: _range(ax, p, "float", "log"),
        (Integer, Uniform): lambda p: _range(ax, p, "int", "linear"),
        (Integer, LogUniform): lambda p: _range(ax, p, "int", "log"),
        (Categorical, Uniform): lambda p: _choice(ax, p),
    }


def _range(ax: Any, parameter: Parameter, kind: str, scaling: str) -> Any:
    if parameter.q is not None:
        warn_dropped_quantization(parameter, _NAME)
    lower, upper = parameter.domain.lower, parameter.domain.upper
    if kind == "int":
        # randint excludes upper; qrandint with q > 1 includes it.
        lower, upper = int(lower), int(upper) if (parameter.q or 1) > 1 else int(upper) - 1
        if lower == upper:
            return _Fixed(lower)
    return ax.RangeParameterConfig(name=parameter.name, bounds=(lower, upper), parameter_type=kind, scaling=scaling)


def _choice(ax: Any, parameter: Parameter) -> Any:
    values = list(parameter.domain.categories)
    if len(values) == 1:
        return _Fixed(values[0])
    kind = _choice_type(values)
    if kind is None:
        raise ValueError(
            f"{_NAME} cannot search parameter {parameter.name!r}: Ax choices must be all str, "
            f"all bool or all numbers; got {values!r}"
        )
    if kind == "float":
        values = [float(v) for v in values]
    return ax.ChoiceParameterConfig(name=parameter.name, values=values, parameter_type=kind, is_ordered=False)


def _choice_type(values: Sequence[Any]) -> str | None:
    if all(isinstance(v, bool) for v in values):
        return "bool"
    if all(isinstance(v, str) for v in values):
        return "str"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "int"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "float"
    return None


def _param_name(parameter: Any) -> str:
    name = parameter.get("name") if isinstance(parameter, dict) else getattr(parameter, "name", None)
    if not isinstance(name, str):
        raise ValueError(f"{_NAME}: each Ax parameter needs a string 'name'; got {parameter!r}")
    return name


def _native_parameter(ax: Any, parameter: Any) -> Any:
    """Accept Ax parameter configs as they are and translate Ray-style parameter dicts."""
    if not isinstance(parameter, dict):
        return parameter
    kind, name = parameter.get("type"), parameter["name"]
    if kind == "fixed":
        return _Fixed(parameter["value"])
    if kind == "range":
        lower, upper = parameter["bounds"]
        value_type = parameter.get("value_type") or ("int" if isinstance(lower, int) and isinstance(upper, int) else "float")
        scaling = "log" if parameter.get("log_scale") else "linear"
        return ax.RangeParameterConfig(name=name, bounds=(lower, upper), parameter_type=value_type, scaling=scaling)
    if kind == "choice":
        values = list(parameter["values"])
        value_type = parameter.get("value_type") or _choice_type(values)
        ordered = parameter.get("is_ordered", False if value_type in ("str", "bool") else None)
        return ax.ChoiceParameterConfig(name=name, values=values, parameter_type=value_type, is_ordered=ordered)
    raise ValueError(f"{_NAME}: parameter {name!r} has type {kind!r}; the type must be 'range', 'choice' or 'fixed'")


# -- client helpers --------------------------------------------------------------------------


def _split_ax_kwargs(ax: Any, ax_kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    strategy_keys = set(inspect.signature(ax.Client.configure_generation_strategy).parameters) - {"self"}
    unknown = sorted(set(ax_kwargs) - _CLIENT_KEYS - _EXPERIMENT_KEYS - strategy_keys)
    if unknown:
        raise TypeError(
            f"{_NAME} got unexpected keyword arguments {unknown}; ax_kwargs may be "
            f"{sorted(_CLIENT_KEYS | _EXPERIMENT_KEYS | strategy_keys)}"
        )
    pick = lambda keys: {k: v for k, v in ax_kwargs.items() if k in keys}  # noqa: E731
    return pick(_CLIENT_KEYS), pick(_EXPERIMENT_KEYS), pick(strategy_keys)


def _check_client(ax: Any, client: Any) -> Any:
    if client is not None and not isinstance(client, ax.Client):
        raise TypeError(
            f"{_NAME}(ax_client=...) must be an ax.Client (the AxClient class is deprecated by "
            f"ax-platform and not supported); got {type(client).__name__}"
        )
    return client


def _client_experiment(client: Any) -> Any:
    # ax.Client has no public "is configured" query; _maybe_experiment is None until
    # configure_experiment (or a snapshot load) sets it.
    return getattr(client, "_maybe_experiment", None)


def _client_objective(client: Any) -> tuple[Any, Any] | None:
    config = getattr(_client_experiment(client), "optimization_config", None)
    if config is None:
        return None
    weights = list(config.objective.metric_weights)
    metrics = [name for name, _ in weights]
    modes = ["min" if weight < 0 else "max" for _, weight in weights]
    return (metrics[0], modes[0]) if len(metrics) == 1 else (metrics, modes)


def _objective(metric: str | list[str], mode: str | list[str]) -> str:
    pairs = zip(metric, mode) if isinstance(metric, list) else [(metric, mode)]
    return ", ".join(("-" if m == "min" else "") + name for name, m in pairs if m != "obs")


def _next_trial(client: Any) -> tuple[int, dict[str, Any]] | None:
    from ax.exceptions.core import DataRequiredError
    from ax.exceptions.generation_strategy import MaxParallelismReachedException

    try:
        trials = client.get_next_trials(max_trials=1)
    except (DataRequiredError, MaxParallelismReachedException):
        return None
    return next(iter(trials.items())) if trials else None


def _constraint_metrics(constraints: list[str], result: dict[str, Any]) -> list[str]:
    if not constraints:
        return []
    text = "\n".join(constraints)
    return [k for k in result if re.search(rf"(?<![\w./]){re.escape(k)}(?![\w./])", text)]


def _snapshot(client: Any) -> str | None:
    if _client_experiment(client) is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "ax_client.json")
        client.save_to_json_file(path)
        with open(path, encoding="utf-8") as file:
            return file.read()


def _load_snapshot(snapshot: str, client_kwargs: dict[str, Any]) -> Any:
    ax = _import_ax()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "ax_client.json")
        with open(path, "w", encoding="utf-8") as file:
            file.write(snapshot)
        client = ax.Client.load_from_json_file(path)
    # The snapshot does not keep the Client's seed; without it a restored search would
    # draw differently from the original.
    if "random_seed" in client_kwargs and hasattr(client, "_random_seed"):
        client._random_seed = client_kwargs["random_seed"]
    return client
