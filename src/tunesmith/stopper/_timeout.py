"""``TimeoutStopper``: stop the experiment once a time budget is spent."""

from __future__ import annotations

import datetime
import logging
import math
import numbers
import time
from typing import Any, Callable

from tunesmith.stopper._stopper import Stopper

__all__ = ["TimeoutStopper"]

logger = logging.getLogger(__name__)


class TimeoutStopper(Stopper):
    """Stops every trial once ``timeout`` has passed, counted from the first ``stop_all`` check.

    The budget survives pickling: an unpickled stopper keeps the budget that was left and
    counts on from its next check (the time it spent pickled does not count).

    Args:
        timeout: Seconds (int or float, >= 0) or a ``datetime.timedelta``.
        clock: Returns the current time in seconds; ``time.monotonic`` by default
            (inject a fake clock in tests).

    Example:
        >>> now = [0.0]
        >>> stopper = TimeoutStopper(10, clock=lambda: now[0])
        >>> stopper.stop_all()
        False
        >>> now[0] = 10.0
        >>> stopper.stop_all()
        True
    """

    def __init__(
        self,
        timeout: int | float | datetime.timedelta,
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._timeout_seconds = _seconds(timeout)
        self._budget = self._timeout_seconds
        self._last_check: float | None = None
        self._clock = clock or time.monotonic

    @property
    def remaining_seconds(self) -> float:
        """Budget left as of the last check."""
        return max(self._budget, 0.0)

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        now = self._clock()
        if self._last_check is not None:
            self._budget -= now - self._last_check
        self._last_check = now
        if self._budget <= 0:
            logger.info("time budget of %s s reached; stopping all trials", self._timeout_seconds)
            return True
        return False

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_last_check"] = None  # the clock of another process means nothing here
        if state["_clock"] is time.monotonic:
            del state["_clock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("_clock", time.monotonic)
        self.__dict__.update(state)


def _seconds(timeout: Any) -> float:
    if isinstance(timeout, datetime.timedelta):
        seconds = timeout.total_seconds()
    elif isinstance(timeout, numbers.Real) and not isinstance(timeout, bool):
        seconds = float(timeout)
    else:
        raise ValueError(
            "TimeoutStopper: timeout must be a number of seconds or a datetime.timedelta; "
            f"got {timeout!r} ({type(timeout).__name__})"
        )
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"TimeoutStopper: timeout must be >= 0 seconds; got {timeout!r}")
    return seconds
