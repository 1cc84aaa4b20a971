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

    Keyword arguments the class does not take by name are dropped silently (as in Ray
    Tune), so one set of options can be passed to different searchers.

    Args:
        search_alg: One of the keys of :data:`SEARCH_ALG_IMPORT` (case-insensitive):
            ``variant_generator``, ``random``, ``ax``, ``hyperopt``, ``bayesopt``, ``bohb``,
            ``nevergrad``, ``optuna``, ``zoopt``, ``hebo``.
        **kwargs: Constructor arguments.

    Returns:
        The searcher (or ``BasicVariantGenerator`` for ``random``/``variant_generator``).

    Raises:
        ValueError: Unknown name.
        ImportError: The searcher's library is not installed (with the pip line).

    Example:
        >>> from tunesmith.search import create_searcher
        >>> create_searcher("OPTUNA", metric="loss", mode="min", not_an_option=1).metric
        'loss'
    """
    key = search_alg.lower() if isinstance(search_alg, str) else search_alg
    if key not in SEARCH_ALG_IMPORT:
        raise ValueError(f"search_alg must be one of {sorted(SEARCH_ALG_IMPORT)}; got {search_alg!r}")
    cls = SEARCH_ALG_IMPORT[key]()
    accepted = _named_parameters(cls)
    return cls(**{k: v for k, v in kwargs.items() if k in accepted})


def _named_parameters(cls: type) -> set[str]:
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name for p in inspect.signature(cls).parameters.values() if p.kind in kinds}
