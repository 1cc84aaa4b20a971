"""The ``Stopper`` interface and the simple stoppers (combined, function, iterations, noop)."""

from __future__ import annotations

import abc
import inspect
import numbers
from collections.abc import Mapping
from typing import Any, Callable

from tunesmith._flatten import lookup

__all__ = [
    "CombinedStopper",
    "FunctionStopper",
    "MaximumIterationStopper",
    "NoopStopper",
    "Stopper",
]

_MISSING = object()


def _lookup(result: Mapping[str, Any], key: str) -> Any:
    """``result``'s value at a flat or nested ``"a/b"`` key; ``_MISSING`` if absent."""
    return lookup(result, key, _MISSING)


class Stopper(abc.ABC):
    """Decides when a trial, or the whole experiment, is done.

    The controller calls the stopper with every (flattened) result; returning True stops that
    trial. After each step it calls :meth:`stop_all`; returning True stops every trial and
    starts no new ones.

    Example:
        >>> class AccuracyReached(Stopper):
        ...     def __call__(self, trial_id, result):
        ...         return result["acc"] >= 0.9
        ...     def stop_all(self):
        ...         return False
        >>> AccuracyReached()("t1", {"acc": 0.95})
        True
    """

    @abc.abstractmethod
    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        """True if the trial that reported ``result`` should stop."""

    @abc.abstractmethod
    def stop_all(self) -> bool:
        """True if the whole experiment should stop."""

    def missing_keys(self, result: dict[str, Any]) -> list[str]:
        """The keys this stopper watches that ``result`` lacks (the controller warns once); none by default."""
        return []


class CombinedStopper(Stopper):
    """Stops when any of ``stoppers`` says so.

    Every stopper sees every result, even after one has already said stop, so counting
    stoppers (e.g. :class:`MaximumIterationStopper`) stay accurate.

    Example:
        >>> stopper = CombinedStopper(MaximumIterationStopper(1), NoopStopper())
        >>> stopper("t1", {}), stopper.stop_all()
        (True, False)
    """

    def __init__(self, *stoppers: Stopper) -> None:
        for index, stopper in enumerate(stoppers):
            if not isinstance(stopper, Stopper):
                raise ValueError(
                    f"CombinedStopper: every argument must be a Stopper; argument {index} is "
                    f"{stopper!r} (wrap functions in FunctionStopper)"
                )
        self._stoppers = stoppers

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        decisions = [stopper(trial_id, result) for stopper in self._stoppers]
        return any(decisions)

    def stop_all(self) -> bool:
        decisions = [stopper.stop_all() for stopper in self._stoppers]
        return any(decisions)

    def missing_keys(self, result: dict[str, Any]) -> list[str]:
        """Criteria keys of the combined stoppers that ``result`` lacks (see ``build_stopper``)."""
        missing: list[str] = []
        for stopper in self._stoppers:
            missing.extend(k for k in stopper.missing_keys(result) if k not in missing)
        return missing

    def __repr__(self) -> str:
        return f"CombinedStopper({', '.join(map(repr, self._stoppers))})"


class FunctionStopper(Stopper):
    """Wraps ``function(trial_id, result) -> bool``; never stops the whole experiment.

    Example:
        >>> FunctionStopper(lambda trial_id, result: result["loss"] < 0.1)("t1", {"loss": 0.05})
        True
    """

    def __init__(self, function: Callable[[str, dict[str, Any]], bool]) -> None:
        if not callable(function):
            raise ValueError(f"FunctionStopper: function must be callable; got {function!r}")
        _check_signature(function)
        self._fn = function

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return bool(self._fn(trial_id, result))

    def stop_all(self) -> bool:
        return False

    @classmethod
    def is_valid_function(cls, fn: Any) -> bool:
        """True if ``fn`` is a plain callable (not a Stopper) usable as a stop function.

        Raises:
            ValueError: ``fn`` has a ``stop_all`` method but does not subclass Stopper.
        """
        is_function = callable(fn) and not isinstance(fn, Stopper)
        if is_function and hasattr(fn, "stop_all"):
            raise ValueError(
                "stop: an object with stop_all() must subclass tunesmith.stopper.Stopper to "
                f"be used as a stopper; got {type(fn).__name__}"
            )
        return is_function


def _check_signature(function: Callable[..., Any]) -> None:
    """Raise TypeError unless ``function`` can be called as ``function(trial_id, result)``."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # a builtin without a signature: cannot tell, let it be
        return
    try:
        signature.bind("trial_id", {})
    except TypeError:
        name = getattr(function, "__qualname__", type(function).__name__)
        raise TypeError(
            f"stop: a stop function is called as fn(trial_id, result) -> bool (two positional arguments); "
            f"got {name}{signature}"
        ) from None


class MaximumIterationStopper(Stopper):
    """Stops a trial once it has reported ``max_iter`` results.

    Example:
        >>> stopper = MaximumIterationStopper(3)
        >>> [stopper("t1", {}) for _ in range(4)]
        [False, False, True, True]
    """

    def __init__(self, max_iter: int) -> None:
        if not isinstance(max_iter, numbers.Integral) or isinstance(max_iter, bool) or max_iter < 0:
            raise ValueError(f"MaximumIterationStopper: max_iter must be an int >= 0; got {max_iter!r}")
        self._max_iter = int(max_iter)
        self._iter: dict[str, int] = {}

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        count = self._iter.get(trial_id, 0) + 1
        self._iter[trial_id] = count
        return count >= self._max_iter

    def stop_all(self) -> bool:
        return False


class NoopStopper(Stopper):
    """Never stops anything."""

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        return False
