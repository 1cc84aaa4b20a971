"""Turning what the user passes as a trainable into something a trial process can run."""

from __future__ import annotations

import functools
import inspect
from typing import Any

from tunesmith.error import ArgumentTypeError, TuneValueError
from tunesmith.trainable._resources import PlacementGroupFactory, normalize_resources
from tunesmith.trainable._trainable import Trainable

__all__ = ["check_trainable", "trainable_name", "with_parameters", "with_resources"]


def _is_trainable_class(obj: Any) -> bool:
    return inspect.isclass(obj) and issubclass(obj, Trainable)


def trainable_name(trainable: Any) -> str:
    """Ray Tune's naming: the function or class name, ``"lambda"`` for lambdas."""
    if inspect.isclass(trainable):
        return trainable._name or trainable.__name__ if _is_trainable_class(trainable) else trainable.__name__
    if isinstance(trainable, functools.partial):
        return trainable_name(trainable.func)
    name = getattr(trainable, "__name__", None)
    if name == "<lambda>":
        return "lambda"
    return name or "DEFAULT"


def check_trainable(trainable: Any) -> None:
    """Fail early, with the fix, for a trainable Tune could not call.

    Raises:
        ValueError: neither a function nor a ``Trainable`` subclass, or a function whose
            signature does not take exactly one positional ``config``.
    """
    if trainable is None:
        from tunesmith.error import TuneError

        raise TuneError("You need to provide a trainable to tune: a function f(config) or a tunesmith.Trainable subclass")
    if inspect.isclass(trainable):
        if not _is_trainable_class(trainable):  # Ray Tune: TypeError
            raise ArgumentTypeError(
                f"trainable class {trainable.__name__} must subclass tunesmith.Trainable "
                "(or pass a function f(config) instead)"
            )
        return
    if not callable(trainable):  # Ray Tune raises TuneError ("Improper 'run'"): this is both
        raise TuneValueError(
            f"trainable must be a function f(config) or a tunesmith.Trainable subclass, got {type(trainable).__name__}"
        )
    bound = getattr(trainable, "_tunesmith_bound_params", ())
    try:
        signature = inspect.signature(trainable)
    except (TypeError, ValueError):
        return
    positional = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in bound
    ]
    var_positional = any(p.kind == p.VAR_POSITIONAL for p in signature.parameters.values())
    required = [p for p in positional if p.default is p.empty]
    if (not positional and not var_positional) or len(required) > 1:
        names = ", ".join(signature.parameters) or "no arguments"
        raise ValueError(
            f"trainable function {trainable_name(trainable)}({names}) must take exactly one positional "
            "argument, the config: def train_fn(config). Pass other objects with "
            "tune.with_parameters(train_fn, data=data)"
        )


def with_parameters(trainable: Any, **kwargs: Any) -> Any:
    """Bind extra objects to a trainable; they are pickled once, not once per trial.

    A function gets them as keyword arguments (``train_fn(config, data=...)``); a
    ``Trainable`` class gets them in ``setup(config, data=...)``.

    Example:
        >>> import tunesmith as tune
        >>> def train_fn(config, data):
        ...     tune.report({"n": len(data)})
        >>> wrapped = tune.with_parameters(train_fn, data=list(range(10)))
        >>> wrapped.__name__
        'train_fn'
    """
    if _is_trainable_class(trainable):
        parent = trainable

        class _WithParameters(parent):  # type: ignore[misc, valid-type]
            def setup(self, config: dict[str, Any], **setup_kwargs: Any) -> None:
                setup_kwargs.update(kwargs)
                super().setup(config, **setup_kwargs)

        _WithParameters.__name__ = parent.__name__
        _WithParameters.__qualname__ = parent.__qualname__
        _WithParameters._name = trainable_name(parent)
        return _WithParameters
    if not callable(trainable) or inspect.isclass(trainable):
        raise ValueError(
            "with_parameters() takes a function f(config, ...) or a tunesmith.Trainable subclass, "
            f"got {type(trainable).__name__}"
        )

    @functools.wraps(trainable)
    def _with_parameters(config: dict[str, Any]) -> Any:
        return trainable(config, **kwargs)

    _with_parameters.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("config", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    )
    if hasattr(trainable, "_resources"):
        _with_parameters._resources = trainable._resources  # type: ignore[attr-defined]
    return _with_parameters


def with_resources(trainable: Any, resources: Any) -> Any:
    """Attach a resource request: a dict, a ``PlacementGroupFactory``, or a function of the config.

    Example:
        >>> import tunesmith as tune
        >>> def train_fn(config):
        ...     pass
        >>> tune.with_resources(train_fn, {"cpu": 2, "gpu": 0.5})._resources
        {'cpu': 2, 'gpu': 0.5}
    """
    if not callable(resources):
        normalize_resources(resources)  # validate now, at the call site
    if _is_trainable_class(trainable):
        parent = trainable

        class _WithResources(parent):  # type: ignore[misc, valid-type]
            @classmethod
            def default_resource_request(cls, config: dict[str, Any]) -> Any:
                return resources(config) if callable(resources) and not isinstance(resources, PlacementGroupFactory) else resources

        _WithResources.__name__ = parent.__name__
        _WithResources.__qualname__ = parent.__qualname__
        _WithResources._name = trainable_name(parent)
        _WithResources._resources = resources
        return _WithResources

    @functools.wraps(trainable)
    def _with_resources(config: dict[str, Any], *args: Any, **kw: Any) -> Any:
        return trainable(config, *args, **kw)

    _with_resources._resources = resources  # type: ignore[attr-defined]
    return _with_resources


def resources_for(trainable: Any, config: dict[str, Any]) -> dict[str, float]:
    """The resource dict a trial of ``trainable`` with ``config`` asks for."""
    request = getattr(trainable, "_resources", None)
    if request is None and _is_trainable_class(trainable):
        request = trainable.default_resource_request(config)
    return normalize_resources(request, config)


