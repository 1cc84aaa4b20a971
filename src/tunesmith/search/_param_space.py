"""Helpers every searcher integration shares: read a param space, convert it, rebuild configs.

A searcher integration (Optuna, HyperOpt, Ax, ...) does four things with a ``param_space``:

1. :func:`searchable_parameters` lists its domains as :class:`Parameter` objects, refusing
   ``grid_search`` (searchers cannot enumerate grids; ``BasicVariantGenerator`` does).
2. :func:`convert_param_space` turns each :class:`Parameter` into the library's own object
   through a *table of rules* keyed by ``(domain class, sampler class)``; a missing rule is a
   ValueError that names the parameter and its domain.
3. The library suggests flat values keyed by :attr:`Parameter.name` (``"model/lr"``);
   :func:`unflatten` rebuilds the nested dict.
4. :func:`merge_config` lays that suggestion over the constant part of the param space
   (``SearchGenerator`` does this step for every searcher).

Example:
    >>> from tunesmith.search.sample import Float, Uniform, uniform
    >>> rules = {(Float, Uniform): lambda p: ("U", p.domain.lower, p.domain.upper)}
    >>> convert_param_space({"m": {"lr": uniform(0, 1)}, "seed": 3}, rules, "Demo")
    {'m/lr': ('U', 0, 1)}
    >>> unflatten({"m/lr": 0.5})
    {'m': {'lr': 0.5}}
"""

from __future__ import annotations

import copy
import dataclasses
import math
import warnings
from typing import Any, Callable, Mapping

from tunesmith._flatten import flatten_dict  # noqa: F401  (integrations import it from here)

__all__ = [
    "ConversionRules",
    "Parameter",
    "convert_param_space",
    "convert_parameter",
    "has_unresolved_values",
    "make_parameter",
    "merge_config",
    "parameter_paths",
    "quantized_bounds",
    "searchable_parameters",
    "unflatten",
    "warn_dropped_quantization",
]


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One searchable entry of a param space.

    Attributes:
        path: Keys from the top of the param space, e.g. ``("model", "lr")``; list positions
            appear as ints.
        domain: The tunesmith domain (``Float``, ``Integer``, ``Categorical``, ``Function``).
        sampler: The domain's sampler with any quantization unwrapped (``Uniform``,
            ``LogUniform``, ``Normal``); None if the domain has none.
        q: The quantization step of a ``Quantized`` sampler, else None.
    """

    path: tuple[Any, ...]
    domain: Any
    sampler: Any
    q: float | int | None = None

    @property
    def name(self) -> str:
        """The flat name libraries see: path items joined by ``/`` (``"model/lr"``)."""
        return "/".join(str(key) for key in self.path)

    def describe(self) -> str:
        """``"Float(0.0, 1.0) with a Normal sampler"``-style text for error messages."""
        if getattr(self.domain, "is_function", lambda: False)():
            func = getattr(self.domain.func, "__name__", repr(self.domain.func))
            return (
                f"Function sample_from({func}), a value computed per trial that no searcher can "
                "model (use a domain such as tune.uniform or tune.choice, or BasicVariantGenerator)"
            )
        sampler = type(self.sampler).__name__ if self.sampler is not None else "no"
        quantized = f" quantized by {self.q}" if self.q is not None else ""
        return f"{type(self.domain).__name__}{_domain_str(self.domain)} with a {sampler} sampler{quantized}"


#: ``{(DomainClass, SamplerClass): rule}``; a rule turns a :class:`Parameter` into the
#: library's object. Looked up with ``isinstance`` in insertion order (first match wins).
ConversionRules = Mapping[tuple[type, type], Callable[[Parameter], Any]]


def has_unresolved_values(param_space: Any) -> bool:
    """True if the param space holds any domain or ``grid_search`` (anything to search over)."""
    from tunesmith.search.variant_generator import parse_spec_vars

    if not isinstance(param_space, dict) or not param_space:
        return False
    _, domain_vars, grid_vars = parse_spec_vars(param_space)
    return bool(domain_vars or grid_vars)


def searchable_parameters(param_space: dict[str, Any] | None, searcher_name: str) -> list[Parameter]:
    """List the domains of ``param_space`` as :class:`Parameter` objects.

    Args:
        param_space: A (nested) param space; None or ``{}`` gives ``[]``.
        searcher_name: Used in error messages (``"OptunaSearch"``).

    Returns:
        One :class:`Parameter` per domain, in the order of the param space.

    Raises:
        ValueError: The param space holds a ``grid_search``.
    """
    from tunesmith.search.variant_generator import parse_spec_vars

    if not param_space:
        return []
    _, domain_vars, grid_vars = parse_spec_vars(param_space)
    if grid_vars:
        paths = ", ".join(repr("/".join(map(str, path))) for path, _ in grid_vars)
        raise ValueError(
            f"{searcher_name} cannot search a grid_search; got grid_search at {paths}. "
            "Use tune.choice(...) for a searched categorical, or BasicVariantGenerator "
            "(the default search algorithm) to run every grid value."
        )
    return [make_parameter(tuple(path), domain) for path, domain in domain_vars]


def make_parameter(path: tuple[Any, ...], domain: Any) -> Parameter:
    """Describe ``domain`` found at ``path`` (quantization unwrapped into ``q``).

    Useful for domains nested where :func:`searchable_parameters` does not look, such as
    the categories of a ``choice``.
    """
    from tunesmith.search.sample import Quantized

    sampler = domain.get_sampler() if hasattr(domain, "get_sampler") else None
    if isinstance(sampler, Quantized):
        return Parameter(path, domain, sampler.get_sampler(), sampler.q)
    return Parameter(path, domain, sampler)


def convert_parameter(parameter: Parameter, rules: ConversionRules, searcher_name: str) -> Any:
    """Convert one parameter with the first rule whose classes match.

    Raises:
        ValueError: No rule matches; names the parameter, its domain and what is supported.
    """
    for (domain_cls, sampler_cls), rule in rules.items():
        if isinstance(parameter.domain, domain_cls) and isinstance(parameter.sampler, sampler_cls):
            return rule(parameter)
    supported = ", ".join(f"{d.__name__}/{s.__name__}" for d, s in rules)
    raise ValueError(
        f"{searcher_name} cannot search parameter {parameter.name!r}: it supports {supported}; "
        f"got {parameter.describe()}"
    )


def convert_param_space(
    param_space: dict[str, Any] | None, rules: ConversionRules, searcher_name: str
) -> dict[str, Any]:
    """Convert every domain of ``param_space``; constants are left out.

    Returns:
        ``{parameter.name: library_object}`` in param-space order.

    Raises:
        ValueError: A ``grid_search``, or a domain no rule converts.
    """
    parameters = searchable_parameters(param_space, searcher_name)
    return {p.name: convert_parameter(p, rules, searcher_name) for p in parameters}


def quantized_bounds(parameter: Parameter) -> tuple[float, float]:
    """The first and last multiple of ``parameter.q`` within its domain's bounds.

    Libraries step from the lower bound (``low, low + q, ...``) while tunesmith draws
    multiples of ``q``; starting at a multiple makes both agree. Without ``q`` the bounds
    are returned unchanged.

    Example:
        >>> from tunesmith.search.sample import qrandint
        >>> quantized_bounds(make_parameter(("n",), qrandint(3, 19, 5)))
        (5, 15)
    """
    lower, upper, q = parameter.domain.lower, parameter.domain.upper, parameter.q
    if q is None:
        return lower, upper
    low, high = math.ceil(lower / q - 1e-9) * q, math.floor(upper / q + 1e-9) * q
    if isinstance(q, float):
        digits = max(0, -math.floor(math.log10(q))) + 6
        low, high = round(low, digits), round(high, digits)
    return low, high


def warn_dropped_quantization(parameter: Parameter, searcher_name: str, why: str = "") -> None:
    """Warn (UserWarning) that ``parameter``'s quantization step is ignored."""
    reason = f" ({why})" if why else ""
    warnings.warn(
        f"{searcher_name} ignores the quantization q={parameter.q} of parameter "
        f"{parameter.name!r}{reason}; values will not be rounded to multiples of q",
        UserWarning,
        stacklevel=3,
    )


def unflatten(flat: Mapping[str, Any], paths: Mapping[str, tuple[Any, ...]] | None = None) -> dict[str, Any]:
    """Rebuild a nested dict from flat ``{"a/b": value}`` keys.

    Args:
        flat: Flat values keyed by :attr:`Parameter.name`.
        paths: ``{name: path}`` for names whose path is not simply ``name.split("/")``
            (keys containing ``/``, list positions); see :func:`parameter_paths`.

    Returns:
        A nested dict; :func:`merge_config` places it into the param space.
    """
    nested: dict[Any, Any] = {}
    for name, value in flat.items():
        path = tuple(paths[name]) if paths and name in paths else tuple(name.split("/"))
        node = nested
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return nested


def merge_config(param_space: Mapping[str, Any] | None, suggestion: Mapping[Any, Any]) -> dict[str, Any]:
    """Lay a nested suggestion over a deep copy of the param space.

    Suggested values replace the domains (or constants) at their path; an int key indexes a
    list in the param space. Nothing in either argument is changed.

    Example:
        >>> merge_config({"a": 1, "m": {"lr": None, "k": 2}}, {"m": {"lr": 0.1}})
        {'a': 1, 'm': {'lr': 0.1, 'k': 2}}
    """
    merged = _copy_space(dict(param_space or {}))
    _overlay(merged, suggestion)
    return merged


_ATOMS = frozenset({int, float, str, bool, type(None)})


def _copy_space(value: Any) -> Any:
    """A deep copy of a param space, except for its search domains, which are shared.

    Domains are replaced by the suggested values (or kept as they are), so copying them on
    every suggestion, as ``copy.deepcopy`` would, is most of what merging costs.
    """
    from tunesmith.search._domain import Domain

    def copied(value: Any) -> Any:
        kind = type(value)
        if kind in _ATOMS or isinstance(value, Domain):
            return value
        if kind is dict:
            return {key: copied(item) for key, item in value.items()}
        if kind is list:
            return [copied(item) for item in value]
        return copy.deepcopy(value)

    return copied(value)


def _overlay(target: Any, suggestion: Mapping[Any, Any]) -> None:
    for key, value in suggestion.items():
        if isinstance(target, list):
            key = int(key)
            current = target[key] if 0 <= key < len(target) else None
        else:
            current = target.get(key)
        if isinstance(value, Mapping) and isinstance(current, (dict, list)) and not _is_grid_literal(current):
            _overlay(current, value)
        else:
            target[key] = copy.deepcopy(value)


def _is_grid_literal(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"grid_search"}


def parameter_paths(parameters: list[Parameter]) -> dict[str, tuple[Any, ...]]:
    """``{parameter.name: parameter.path}``, the ``paths`` argument of :func:`unflatten`."""
    return {p.name: p.path for p in parameters}


def _domain_str(domain: Any) -> str:
    text = getattr(domain, "domain_str", None)
    return f"{text}" if isinstance(text, str) else ""
