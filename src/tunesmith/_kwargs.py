"""Keyword arguments for a class picked by name (``create_scheduler``, ``create_searcher``)."""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["accepted_kwargs"]


def accepted_kwargs(cls: type, kwargs: dict[str, Any], call: str) -> dict[str, Any]:
    """``kwargs`` for ``cls``; metric and mode are dropped where ``cls`` has no use for them.

    Args:
        cls: The class about to be called.
        kwargs: What the user passed.
        call: The user's call, for the message (``"create_scheduler('asha')"``).

    Raises:
        TypeError: naming the arguments ``cls`` does not take, and those it does.

    Example:
        >>> class Asha:
        ...     def __init__(self, max_t=100): ...
        >>> accepted_kwargs(Asha, {"max_t": 9, "metric": "loss"}, "create_scheduler('asha')")
        {'max_t': 9}
    """
    parameters = inspect.signature(cls).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return dict(kwargs)
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    accepted = [p.name for p in parameters if p.kind in kinds]
    unknown = [k for k in kwargs if k not in accepted and k not in ("metric", "mode")]
    if unknown:
        raise TypeError(
            f"{call} got {'an unexpected keyword argument' if len(unknown) == 1 else 'unexpected keyword arguments'} "
            f"{', '.join(map(repr, unknown))}; {cls.__name__} takes: {', '.join(accepted) or 'no arguments'}"
        )
    return {k: v for k, v in kwargs.items() if k in accepted}
