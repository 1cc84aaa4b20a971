"""Optional dependencies, imported on first use.

tunesmith's core needs only numpy, cloudpickle and fsspec. Integrations (Optuna, HyperOpt,
MLflow, ...) import their library when the user first creates the object that needs it, so
``import tunesmith`` stays light and a missing library is reported with the exact install line.

Example:
    >>> from tunesmith._imports import try_import
    >>> json = try_import("json", extra="none", needed_by="Example")
    >>> json.dumps([1])
    '[1]'
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Callable, Mapping

__all__ = ["install_hint", "lazy_exports", "try_import"]


def lazy_exports(
    package: str, namespace: dict[str, Any], exports: Mapping[str, str], submodules: frozenset[str] = frozenset()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's module ``__getattr__`` and ``__dir__`` (PEP 562) that import each exported
    name from its module on first use, so importing the package loads none of them.

    Args:
        package: The package's name, for the error message (``"tunesmith.search"``).
        namespace: The package's ``globals()``: a name, once imported, is kept there.
        exports: ``{name: module it is defined in}``.
        submodules: Names of the package's own submodules reachable as attributes
            (``tune.schedulers``), imported on first use too.

    Returns:
        ``(__getattr__, __dir__)``; an unknown name raises ``AttributeError``.

    Example:
        >>> namespace = {}
        >>> getattr_, dir_ = lazy_exports("pkg", namespace, {"dumps": "json"})
        >>> getattr_("dumps")([1]), "dumps" in namespace, dir_()
        ('[1]', True, ['dumps'])
    """

    def __getattr__(name: str) -> Any:
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports) | submodules)

    return __getattr__, __dir__


def install_hint(extra: str | None, package: str) -> str:
    """Return the shell line that installs what is missing.

    Args:
        extra: The tunesmith extra that pulls the library in (``"optuna"``), or None when
            there is no extra and the package itself should be installed.
        package: The distribution name on PyPI, used when ``extra`` is None.

    Returns:
        ``pip install "tunesmith[<extra>]"`` or ``pip install <package>``.
    """
    if extra:
        return f'pip install "tunesmith[{extra}]"'
    return f"pip install {package}"


def try_import(
    name: str,
    *,
    extra: str | None = None,
    needed_by: str | None = None,
    package: str | None = None,
) -> ModuleType:
    """Import an optional library, or explain how to install it.

    Args:
        name: Module to import, e.g. ``"optuna"`` or ``"hyperopt.pyll"``.
        extra: The tunesmith extra providing it (``"optuna"`` gives
            ``pip install "tunesmith[optuna]"``).
        needed_by: What needs the library, for the message (``"OptunaSearch"``).
        package: PyPI name when it differs from the module's top-level name
            (``"bayesian-optimization"`` for ``bayes_opt``); used only without ``extra``.

    Returns:
        The imported module.

    Raises:
        ImportError: The module (or one of its own dependencies) cannot be imported. The
            message reads ``'OptunaSearch needs optuna: pip install "tunesmith[optuna]"'``;
            the original error is chained as ``__cause__``.
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        top_level = name.split(".")[0]
        who = needed_by or "This feature"
        hint = install_hint(extra, package or top_level)
        raise ImportError(f"{who} needs {top_level}: {hint}") from exc
