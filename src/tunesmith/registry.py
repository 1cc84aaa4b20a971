"""``ray.tune.registry``: trainables and environments registered by name."""

from __future__ import annotations

import inspect
from typing import Any

from tunesmith.trainable._registry import get_trainable, register_env, register_trainable
from tunesmith.trainable._trainable import Trainable

__all__ = ["get_trainable_cls", "is_function_trainable", "register_env", "register_trainable", "validate_trainable"]


def get_trainable_cls(trainable_name: str) -> Any:
    """The trainable registered as ``trainable_name`` (a function or ``Trainable`` subclass).

    Raises:
        ValueError: Nothing is registered under that name; the message lists what is.
    """
    return get_trainable(trainable_name)


def validate_trainable(trainable_name: str) -> None:
    """Raise ``ValueError`` (listing the registered names) unless ``trainable_name`` is registered."""
    get_trainable(trainable_name)


def is_function_trainable(trainable: Any) -> bool:
    """Whether ``trainable`` (or the trainable registered under that name) is a function, not a class."""
    if isinstance(trainable, str):
        trainable = get_trainable(trainable)
    return not (inspect.isclass(trainable) and issubclass(trainable, Trainable)) and callable(trainable)
