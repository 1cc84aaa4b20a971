"""A stand-in whose every attribute and call does nothing, for processes that must not log."""

from __future__ import annotations

from typing import Any

__all__ = ["NoopModule"]


class NoopModule:
    """``NoopModule().log_metric("x", 1)`` and any other chain of attributes and calls do nothing.

    Example:
        >>> NoopModule().log_metrics({"loss": 1.0}) is None
        True
    """

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return NoopModule()

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        return None

    def __bool__(self) -> bool:
        return False
