"""``create_searcher``: build a search algorithm from its short name."""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable

__all__ = ["SEARCH_ALG_IMPORT", "create_searcher"]


def _basic_variant() -> type:
    from tunesmith.search._basic_variant import BasicVariantGenerator

    return BasicVariantGenerator


def _importer(module: str, name: str) -> Callable[[], type]:
    def load() -> type:
        return getattr(importlib.import_module(f"tunesmith.search.{module}"), name)

    load.__name__ = f"_import_{module}"
    return load


#: Short name -> function returning the class (imported only when called).
SEARCH_ALG_IMPORT: dict[str, Callable[[], type]] = {
    "variant_generator": _basic_variant,
    "random": _basic_variant,
    "ax": _importer("ax", "AxSearch"),
    "hyperopt": _importer("hyperopt", "HyperOptSearch"),
    "bayesopt": _importer("bayesopt", "BayesOptSearch"),
    "bohb": _importer("bohb", "TuneBOHB"),
    "nevergrad": _importer("nevergrad", "NevergradSearch"),
    "optuna": _importer("optuna", "OptunaSearch"),
    "zoopt": _importer("zoopt", "ZOOptSearch"),
    "hebo": _importer("hebo", "HEBOSearch"),
}


def create_searcher(search_alg: str, **kwargs: Any) -> Any:
    """Create a search algorithm from its name, as ``TuneConfig(search_alg="optuna")`` does.

    A keyword argument the searcher does not take is an error (Ray Tune drops it
    silently, which hides typos). ``metric`` and ``mode`` are the exception: every name
    accepts them, and a searcher without them (``random``) ignores them, so
    ``create_searcher(name, metric=..., mode=...)`` works for any ``name``.

    Args:
        search_alg: One of the keys of :data:`SEARCH_ALG_IMPORT` (case-insensitive):
            ``variant_generator``, ``random``, ``ax``, ``hyperopt``, ``bayesopt``, ``bohb``,
            ``nevergrad``, ``optuna``, ``zoopt``, ``hebo``.
        **kwargs: Constructor arguments.

    Returns:
        The searcher (or ``BasicVariantGenerator`` for ``random``/``variant_generator``).

    Raises:
        ValueError: Unknown name.
        TypeError: A keyword argument the searcher does not take (the message lists
            those it takes).
        ImportError: The searcher's library is not installed (with the pip line).

    Example:
        >>> from tunesmith.search import create_searcher
        >>> create_searcher("OPTUNA", metric="loss", mode="min").metric
        'loss'
    """
    key = search_alg.lower() if isinstance(search_alg, str) else search_alg
    if key not in SEARCH_ALG_IMPORT:
        raise ValueError(f"search_alg must be one of {sorted(SEARCH_ALG_IMPORT)}; got {search_alg!r}")
    cls = SEARCH_ALG_IMPORT[key]()
    return cls(**_accepted_kwargs(cls, kwargs, f"create_searcher({search_alg!r})"))


def _accepted_kwargs(cls: type, kwargs: dict[str, Any], call: str) -> dict[str, Any]:
    """``kwargs`` for ``cls``; metric and mode are dropped where ``cls`` has no use for them.

    Raises:
        TypeError: naming the arguments ``cls`` does not take, and those it does.
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
