"""Small pieces the library-backed searchers share (Ax, BayesOpt, BOHB, HEBO, Nevergrad, ZOOpt).

Each of those searchers keeps flat parameter names (``"model/lr"``) for its library, checks
``points_to_evaluate`` the same way, reads one numeric metric value from a flattened result,
and turns the library's flat suggestion back into a nested config.

Example:
    >>> metric_value({"loss": 2}, "loss")
    2.0
    >>> to_config({"m/lr": 0.1}, {}, {"m": {"lr": None}, "seed": 1})
    {'m': {'lr': 0.1}, 'seed': 1}
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from tunesmith.search._param_space import flatten_dict, has_unresolved_values, merge_config, unflatten

__all__ = ["check_points", "check_rewards", "is_tune_space", "metric_value", "plain", "to_config"]


def check_points(points: Any, searcher_name: str) -> list[dict[str, Any]]:
    """Validate ``points_to_evaluate`` and return flat copies (``{"a/b": value}``).

    Raises:
        TypeError: ``points`` is not a list of dicts.
    """
    if points is None:
        return []
    if not isinstance(points, (list, tuple)) or not all(isinstance(p, Mapping) for p in points):
        raise TypeError(f"{searcher_name}(points_to_evaluate=...) must be a list of dicts; got {points!r}")
    return [flatten_dict(dict(p)) for p in points]


def check_rewards(rewards: Any, points: list[dict[str, Any]], searcher_name: str) -> list[float] | None:
    """Validate ``evaluated_rewards``: one number per point to evaluate.

    Raises:
        ValueError: Rewards without points, or a different count.
    """
    if rewards is None:
        return None
    rewards = list(rewards)
    if len(rewards) != len(points):
        raise ValueError(
            f"{searcher_name}: evaluated_rewards must have one value per points_to_evaluate entry; "
            f"got {len(rewards)} rewards for {len(points)} points"
        )
    return [float(r) for r in rewards]


def is_tune_space(space: Any) -> bool:
    """True for a dict holding tunesmith domains (as opposed to a library's own space)."""
    return isinstance(space, dict) and has_unresolved_values(space)


def metric_value(result: Mapping[str, Any] | None, metric: str) -> float | None:
    """The finite number ``result[metric]``, or None when the result has none."""
    if not result or metric not in result:
        return None
    try:
        value = float(result[metric])
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def with_constants(spec: Mapping[str, Any], converted: dict[str, Any], join: bool) -> dict[str, Any]:
    """``convert_search_space``'s result: ``converted`` (``{"a/b": native form}``), or with
    ``join`` the flattened ``spec`` with each domain replaced by its native form.

    Example:
        >>> with_constants({"m": {"lr": None}, "c": 1}, {"m/lr": (0, 1)}, join=True)
        {'m/lr': (0, 1), 'c': 1}
    """
    return {**flatten_dict(dict(spec)), **converted} if join else converted


def plain(value: Any) -> Any:
    """A numpy scalar as the Python number (or str) it holds; other values unchanged."""
    return value.item() if hasattr(value, "item") and not isinstance(value, (list, dict)) else value


def to_config(
    flat: Mapping[str, Any], paths: Mapping[str, tuple[Any, ...]], tune_space: dict[str, Any] | None
) -> dict[str, Any]:
    """Nest a flat suggestion and lay it over the param space's constants (if there is one)."""
    nested = unflatten({k: plain(v) for k, v in flat.items()}, paths)
    return merge_config(tune_space, nested) if tune_space else nested
