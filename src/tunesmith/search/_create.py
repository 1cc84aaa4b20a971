"""``create_searcher``: build a search algorithm from its short name."""

from __future__ import annotations

import importlib
from typing import Any, Callable

from tunesmith._kwargs import accepted_kwargs

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
    return cls(**accepted_kwargs(cls, kwargs, f"create_searcher({search_alg!r})"))
