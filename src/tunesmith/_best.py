"""Choosing the best trial: a trial's score under a scope, and the pick across trials.

``ResultGrid.get_best_result`` and ``ExperimentAnalysis.get_best_trial`` both use these,
so the two agree on what "best" means.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence, TypeVar

from tunesmith._flatten import flatten_dict

__all__ = ["SCOPES", "best_of", "check_scope", "metric_value", "scope_value", "trial_score"]

SCOPES = ("last", "avg", "last-5-avg", "last-10-avg", "all")

T = TypeVar("T")


def check_scope(scope: str) -> None:
    """Raise ValueError unless ``scope`` is one of :data:`SCOPES`."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")


def metric_value(result: dict[str, Any], metric: str) -> float | None:
    """``result``'s value of ``metric`` (nested names as ``a/b``) as a float; None if it is not a number."""
    value = flatten_dict(result or {}).get(metric)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def scope_value(values: list[float], scope: str, mode: str) -> float:
    """One number for a trial's history of a metric.

    ``last``: the last value; ``avg``: the mean; ``last-5-avg``/``last-10-avg``: the mean
    of the last 5/10; ``all``: the best value under ``mode``.

    Example:
        >>> scope_value([1.0, 4.0, 2.0], "all", "max"), scope_value([1.0, 4.0, 2.0], "avg", "max")
        (4.0, 2.3333333333333335)
    """
    if scope == "last":
        return values[-1]
    if scope == "avg":
        return sum(values) / len(values)
    if scope == "all":
        return max(values) if mode == "max" else min(values)
    n = 5 if scope == "last-5-avg" else 10
    tail = values[-n:]
    return sum(tail) / len(tail)


def trial_score(last_result: dict[str, Any], rows: Callable[[], list[dict[str, Any]]], metric: str, mode: str,
                scope: str) -> float | None:
    """A trial's score for ``metric`` (nested names as ``a/b``), or None if it has no numeric value.

    Args:
        last_result: The trial's last result; enough for ``scope="last"``.
        rows: Returns every result the trial reported (read only for other scopes).
        metric: The metric.
        mode: ``"min"`` or ``"max"``.
        scope: One of :data:`SCOPES`.
    """
    if scope == "last":
        return metric_value(last_result, metric)
    values = [metric_value(row, metric) for row in rows()]
    numbers = [v for v in values if v is not None]
    return scope_value(numbers, scope, mode) if numbers else None


def best_of(items: Sequence[T], scores: Sequence[float | None], mode: str, filter_nan_and_inf: bool = True) -> T | None:
    """The item with the best score under ``mode`` (the first on ties); None if none has a usable score.

    Example:
        >>> best_of(["a", "b", "c"], [1.0, None, float("nan")], "max")
        'a'
    """
    best, best_score = None, None
    for item, score in zip(items, scores):
        if score is None or (filter_nan_and_inf and not math.isfinite(score)):
            continue
        if best_score is None or (score > best_score if mode == "max" else score < best_score):
            best, best_score = item, score
    return best
