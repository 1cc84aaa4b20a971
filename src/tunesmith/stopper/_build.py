"""Turning ``RunConfig(stop=...)`` into a :class:`Stopper`."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

from tunesmith._flatten import flatten_dict
from tunesmith.stopper._stopper import (
    _MISSING,
    CombinedStopper,
    FunctionStopper,
    NoopStopper,
    Stopper,
    _lookup,
)

__all__ = ["CriteriaStopper", "build_stopper"]


class CriteriaStopper(Stopper):
    """Stops a trial when any reported value reaches its criterion: ``result[key] >= value``.

    This is what ``RunConfig(stop={"training_iteration": 10, "acc": 0.9})`` builds. Keys of
    nested results are written flat (``"eval/acc"``) or nested (``{"eval": {"acc": 0.9}}``,
    flattened with ``"/"`` as Ray Tune does). A key a result lacks is skipped;
    :meth:`missing_keys` lists such keys so the caller can warn.

    Args:
        criteria: ``{key: number}``; a value may be a dict of further criteria.

    Raises:
        ValueError: A criterion is not a number (or is an empty dict).

    Example:
        >>> stopper = CriteriaStopper({"eval": {"acc": 0.9}})
        >>> stopper("t1", {"eval": {"acc": 0.95}}), stopper.missing_keys({"loss": 1})
        (True, ['eval/acc'])
    """

    def __init__(self, criteria: Mapping[str, Any]) -> None:
        for key in criteria:
            if not isinstance(key, str):
                raise ValueError(f"stop criteria: keys must be strings; got {key!r}")
        flat = flatten_dict(_plain_dicts(criteria))
        for key, value in flat.items():
            _check_criterion(key, value)
        self._criteria = flat

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        for key, limit in self._criteria.items():
            value = _lookup(result, key)
            if value is not _MISSING and _reached(key, value, limit):
                return True
        return False

    def stop_all(self) -> bool:
        return False

    def missing_keys(self, result: dict[str, Any]) -> list[str]:
        """The criteria keys ``result`` (flat or nested) does not contain."""
        return [key for key in self._criteria if _lookup(result, key) is _MISSING]

    def __repr__(self) -> str:
        return f"CriteriaStopper({self._criteria!r})"


def _plain_dicts(criteria: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _plain_dicts(value) if isinstance(value, Mapping) else value for key, value in criteria.items()}


def _check_criterion(key: Any, value: Any) -> None:
    if isinstance(value, Mapping):
        raise ValueError(f"stop criteria: {key!r} holds an empty dict; give it criteria or remove it; got {value!r}")
    if not isinstance(value, numbers.Real):
        raise ValueError(
            f"stop criteria: the value for {key!r} must be a number (a trial stops when the "
            f"reported value is >= it); got {value!r} ({type(value).__name__})"
        )


def _reached(key: str, value: Any, limit: Any) -> bool:
    try:
        return bool(value >= limit)
    except (TypeError, ValueError):
        raise TypeError(
            f"stop criterion {key!r}: the reported value must be a number to compare with "
            f"{limit!r}; got {value!r} ({type(value).__name__})"
        ) from None


def build_stopper(stop: Any) -> Stopper:
    """Turn ``RunConfig.stop`` into a :class:`Stopper`.

    Args:
        stop: None (never stop), a dict of criteria (:class:`CriteriaStopper`), a function
            ``(trial_id, result) -> bool`` (:class:`FunctionStopper`), a Stopper (used as is)
            or a list of Stoppers (:class:`CombinedStopper`).

    Raises:
        ValueError: ``stop`` is of none of those kinds, or a criterion is malformed.

    Example:
        >>> build_stopper({"training_iteration": 3})("t1", {"training_iteration": 3})
        True
    """
    if stop is None:
        return NoopStopper()
    if isinstance(stop, Stopper):
        return stop
    if isinstance(stop, Mapping):
        return CriteriaStopper(stop)
    if isinstance(stop, (list, tuple)):
        return CombinedStopper(*stop)
    if FunctionStopper.is_valid_function(stop):
        return FunctionStopper(stop)
    raise ValueError(
        "stop must be a dict of criteria, a function (trial_id, result) -> bool, a Stopper, "
        f"a list of Stoppers or None; got {stop!r} ({type(stop).__name__})"
    )
