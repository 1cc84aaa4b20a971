"""Trainables registered by name, so ``Tuner("my_trainable")`` finds them."""

from __future__ import annotations

from typing import Any, Callable

from tunesmith.error import TuneValueError

__all__ = ["get_trainable", "register_env", "register_trainable"]

_trainables: dict[str, Any] = {}
_envs: dict[str, Callable[..., Any]] = {}


def register_trainable(name: str, trainable: Any, warn: bool = True) -> None:
    """Register ``trainable`` (a function or ``Trainable`` subclass) under ``name``."""
    from tunesmith.trainable._wrap import check_trainable

    if not isinstance(name, str) or not name:
        raise ValueError(f"a trainable's name must be a non-empty string, got {name!r}")
    check_trainable(trainable)
    _trainables[name] = trainable


def register_env(name: str, env_creator: Callable[..., Any]) -> None:
    """Register an environment creator under ``name`` (for RL code ported from Ray)."""
    if not callable(env_creator):
        raise TypeError(f"env_creator must be callable, got {type(env_creator).__name__}")
    _envs[name] = env_creator


def get_trainable(name: str) -> Any:
    try:
        return _trainables[name]
    except KeyError:
        known = ", ".join(sorted(_trainables)) or "none"
        raise TuneValueError(  # Ray Tune: TuneError("Unknown trainable")
            f"no trainable is registered as {name!r}; registered: {known}. "
            "Call tune.register_trainable(name, trainable) first"
        ) from None
