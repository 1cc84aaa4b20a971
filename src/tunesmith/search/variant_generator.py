"""Expanding a param space into concrete configs: grids, sampled values and ``sample_from``.

The public path mirrors ``ray.tune.search.variant_generator``. A *spec* is a nest of dicts and
lists whose leaves are constants, domains (``tune.uniform(...)``) or grids
(``{"grid_search": [...]}``). A *path* is the tuple of keys and list indexes that leads to a
leaf, e.g. ``("config", "layers", 0)``.

    >>> from tunesmith.search.sample import choice
    >>> spec = {"config": {"a": grid_search([1, 2]), "b": choice(["x"])}}
    >>> [format_vars(resolved) for resolved, _ in generate_variants(spec, random_state=0)]
    ['a=1,b=x', 'a=2,b=x']

Grids are expanded as a cartesian product in which the first grid (paths sorted) changes
fastest. ``sample_from`` functions receive the partly resolved spec; one that reads a value
not drawn yet is retried after the others, and a dependency cycle raises
:class:`RecursiveDependencyError`.
"""

from __future__ import annotations

import copy
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from typing import Any, Iterator

from tunesmith.error import TuneError
from tunesmith.search._domain import Categorical, Domain, RandomState, _as_draws
from tunesmith.search.sample import grid_search

__all__ = [
    "RecursiveDependencyError",
    "assign_value",
    "format_vars",
    "generate_variants",
    "grid_search",
    "parse_spec_vars",
]

Path = tuple  # of str dict keys and int list indexes

_INVALID_TAG_CHARS = re.compile(r"[^a-zA-Z0-9_-]+")


class RecursiveDependencyError(TuneError):
    """A ``sample_from`` function needs a value that is not, or can never be, resolved."""


# --------------------------------------------------------------------------------------
# Walking nested dicts and lists.


def _is_grid(value: Any) -> bool:
    """``{"grid_search": [...]}`` written by hand or by :func:`grid_search`."""
    return isinstance(value, dict) and len(value) == 1 and "grid_search" in value


def _is_unresolved(value: Any) -> bool:
    return isinstance(value, Domain) or _is_grid(value)


def _leaves(spec: Any, prefix: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Yield ``(path, leaf)`` for each leaf of nested dicts and lists.

    Domains and grids are leaves; empty dicts and lists yield nothing; tuples are constants
    (a domain inside one is an error, since it could not be replaced by a value).
    """
    if isinstance(spec, dict) and not _is_grid(spec):
        children: Any = spec.items()
    elif isinstance(spec, list):
        children = enumerate(spec)
    else:
        if isinstance(spec, tuple) and any(_is_unresolved(v) for _, v in _leaves(list(spec))):
            raise ValueError(
                f"search space: a tuple at '{_path_str(prefix)}' holds a search domain; tuples "
                "are constants, use a list instead"
            )
        yield prefix, spec
        return
    for key, value in children:
        yield from _leaves(value, prefix + (key,))


def _copy_containers(value: Any) -> Any:
    """Copy the dicts and lists of a nest; leaves (constants, domains) are shared.

    A ``{"grid_search": [...]}`` is a leaf too: each variant replaces it whole, and copying
    its values for every variant would make a large grid cost quadratic time.
    """
    if type(value) is dict and len(value) == 1 and "grid_search" in value:
        return value
    if type(value) is dict:
        return {key: _copy_containers(item) for key, item in value.items()}
    if type(value) is list:
        return [_copy_containers(item) for item in value]
    if isinstance(value, (dict, list)):  # subclasses keep their type
        new = copy.copy(value)
        for key in range(len(new)) if isinstance(new, list) else list(new):
            new[key] = _copy_containers(new[key])
        return new
    return value


def _assign(spec: Any, path: Path, value: Any) -> None:
    for key in path[:-1]:
        spec = spec[key]
    spec[path[-1]] = value


def assign_value(spec: dict, path: tuple, value: Any) -> None:
    """Set ``value`` at ``path`` (a tuple of keys and indexes) in the nested ``spec``, in place.

    A tuple on the way is rebuilt with the new item and put back into its parent, since a
    tuple cannot be changed in place.
    """
    if len(path) == 1 or not isinstance(_lookup(spec, path[:-1]), tuple):
        _assign(spec, path, value)
        return
    old = _lookup(spec, path[:-1])
    rebuilt = tuple(value if i == path[-1] else item for i, item in enumerate(old))
    assign_value(spec, path[:-1], rebuilt)


def _lookup(spec: Any, path: Path) -> Any:
    for key in path:
        spec = spec[key]
    return spec


def _path_key(path: Path) -> tuple:
    """Sort key for paths: list indexes numerically, dict keys as text."""
    return tuple((0, part, "") if isinstance(part, int) else (1, 0, str(part)) for part in path)


def _path_str(path: Path) -> str:
    return "/".join(str(part) for part in path)


def _flatten_resolved_vars(resolved_vars: dict[Path, Any]) -> dict[str, Any]:
    """``{("config", "a", "b"): v}`` -> ``{"a/b": v}`` (the leading ``config`` is dropped)."""
    flat = {}
    for path, value in resolved_vars.items():
        if path and path[0] == "config":
            path = path[1:]
        flat[_path_str(path)] = value
    return flat


# --------------------------------------------------------------------------------------
# Public functions.


def parse_spec_vars(
    spec: dict[str, Any],
) -> tuple[list[tuple[Path, Any]], list[tuple[Path, Domain]], list[tuple[Path, Domain]]]:
    """Split a spec into constants, sampled domains and grids.

    Args:
        spec: Nested dicts and lists.

    Returns:
        ``(resolved_vars, domain_vars, grid_vars)``: lists of ``(path, value)``. Grids come
        back as ``Categorical(values).grid()`` domains, sorted by path.

    Raises:
        ValueError: A grid is empty or not a list.

    Example:
        >>> from tunesmith.search.sample import uniform
        >>> resolved, domains, grids = parse_spec_vars({"a": 1, "b": uniform(0, 1)})
        >>> resolved, [path for path, _ in domains], grids
        ([(('a',), 1)], [('b',)], [])
    """
    resolved, domains, grids = [], [], []
    for path, value in _leaves(spec):
        if _is_grid(value):
            grids.append((path, _grid_domain(path, value["grid_search"])))
        elif isinstance(value, Domain):
            (grids if value.is_grid() else domains).append((path, value))
        else:
            resolved.append((path, value))
    grids.sort(key=lambda item: _path_key(item[0]))
    return resolved, domains, grids


def generate_variants(
    unresolved_spec: dict[str, Any],
    constant_grid_search: bool = False,
    random_state: RandomState = None,
) -> Iterator[tuple[dict[Path, Any], dict[str, Any]]]:
    """Yield one ``(resolved_vars, spec)`` per grid point of one sample of ``unresolved_spec``.

    Args:
        unresolved_spec: Nested dicts and lists with domains and grids.
        constant_grid_search: Draw the random values once and share them across the grid
            points, instead of drawing them again for each point.
        random_state: An int seed, numpy ``Generator`` or ``RandomState``, or None.

    Yields:
        ``resolved_vars`` maps each grid or sampled path to its value; ``spec`` is a resolved
        copy (dicts and lists copied, constant leaves shared).

    Example:
        >>> [spec["a"] for _, spec in generate_variants({"a": grid_search([1, 2])})]
        [1, 2]
    """
    template = _SpaceTemplate(unresolved_spec)
    draws = _as_draws(random_state)
    shared = template.presample(draws) if constant_grid_search else None
    for index in range(template.grid_size):
        yield template.expand(index, draws, shared)


def format_vars(resolved_vars: dict[Path, Any]) -> str:
    """Format resolved values as an experiment tag: ``"a=1,lr=0.0100"``.

    Keys are sorted by path and shown by their last component; floats are written with four
    decimals; any run of characters outside ``[A-Za-z0-9_-]`` becomes ``_`` (trimmed at the
    ends) so the tag is safe in folder names.

    Example:
        >>> format_vars({("config", "lr"): 0.01, ("config", "opt"): "a b", ("config", "a"): 1})
        'a=1,lr=0.0100,opt=a_b'
    """
    items = [(key if isinstance(key, tuple) else (key,), value) for key, value in resolved_vars.items()]
    try:
        items.sort(key=lambda item: item[0])
    except TypeError:  # int and str keys at the same level
        items.sort(key=lambda item: _path_key(item[0]))
    return ",".join(f"{_clean(path[-1] if path else '')}={_clean(value)}" for path, value in items)


def _clean(value: Any) -> str:
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is float or (isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral)):
        return f"{float(value):.4f}"
    return _INVALID_TAG_CHARS.sub("_", str(value)).strip("_")


def _grid_domain(path: Path, values: Any) -> Categorical:
    try:
        values = grid_search(values)["grid_search"]
    except ValueError as exc:
        raise ValueError(f"grid_search at '{_path_str(path)}': {exc}") from None
    for value in values:
        _domains_within(value, path)  # rejects a grid nested in a grid value
    return Categorical(values).grid()


# --------------------------------------------------------------------------------------
# Building one variant.


class _SpaceTemplate:
    """A parsed spec that builds the variant at any grid index on demand (nothing is stored
    per variant, so a grid of a million points costs nothing up front)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        _, self.domains, grids = parse_spec_vars(spec)
        self.grid_paths = [path for path, _ in grids]
        self.grid_values = [domain.categories for _, domain in grids]
        self.grid_size = math.prod(len(values) for values in self.grid_values)
        self.order = [path for path, leaf in _leaves(spec) if _is_unresolved(leaf)]

    def grid_point(self, index: int) -> list[tuple[Path, Any]]:
        """The grid values of point ``index``; the first grid changes fastest."""
        point = []
        for path, values in zip(self.grid_paths, self.grid_values, strict=True):
            index, position = divmod(index, len(values))
            point.append((path, values[position]))
        return point

    def presample(self, draws: Any) -> dict[Path, Any]:
        """Draw the values that do not depend on a grid (shared by one sample's grid points)."""
        return _resolve(_copy_containers(self.spec), self.domains, draws, allow_fail=True)

    def expand(
        self, index: int, draws: Any, shared: dict[Path, Any] | None = None
    ) -> tuple[dict[Path, Any], dict[str, Any]]:
        """Build grid point ``index``: assign its grid values, then draw the rest."""
        spec = _copy_containers(self.spec)
        shared = shared or {}
        resolved: dict[Path, Any] = {}
        pending = [item for item in self.domains if item[0] not in shared]
        for path, value in self.grid_point(index):
            resolved[path] = _place(spec, path, value)
            pending.extend(_domains_within(resolved[path], path))
        for path, value in shared.items():
            resolved[path] = _place(spec, path, value)
        resolved.update(_resolve(spec, pending, draws))
        in_order = {path: resolved.pop(path) for path in self.order if path in resolved}
        in_order.update(resolved)  # values found inside sampled containers come last
        return in_order, spec


def _place(spec: Any, path: Path, value: Any) -> Any:
    value = _copy_containers(value)
    _assign(spec, path, value)
    return value


def _domains_within(value: Any, prefix: Path) -> list[tuple[Path, Domain]]:
    """Domains inside a grid value or a sampled container (resolved in a later pass)."""
    if not isinstance(value, (dict, list, Domain)):
        return []
    found = []
    for path, leaf in _leaves(value, prefix):
        if _is_grid(leaf) or (isinstance(leaf, Domain) and leaf.is_grid()):
            raise ValueError(
                f"grid_search at '{_path_str(path)}' sits inside another search-space value; "
                "grids must be placed directly in the param space's dicts and lists"
            )
        if isinstance(leaf, Domain):
            found.append((path, leaf))
    return found


def _resolve(
    spec: Any, pending: list[tuple[Path, Domain]], draws: Any, allow_fail: bool = False
) -> dict[Path, Any]:
    """Draw ``pending`` domains into ``spec`` over as many passes as dependencies need."""
    # Plain domains never read the spec: drawing them first, in spec order, keeps the random
    # sequence the same whatever the sample_from functions do.
    pending = [i for i in pending if not i[1].is_function()] + [i for i in pending if i[1].is_function()]
    resolved: dict[Path, Any] = {}
    while pending:
        waiting, progress, last_error = [], False, None
        for path, domain in pending:
            try:
                value = _draw_one(spec, path, domain, draws)
            except RecursiveDependencyError as exc:
                waiting.append((path, domain))
                last_error = exc
                continue
            progress = True
            resolved[path] = _place(spec, path, value)
            waiting.extend(_domains_within(resolved[path], path))
        if not progress:
            if allow_fail:
                break
            raise _cycle_error(waiting, last_error)
        pending = waiting
    return resolved


def _cycle_error(waiting: list[tuple[Path, Domain]], cause: Exception | None) -> RecursiveDependencyError:
    names = ", ".join(f"'{_path_str(path)}'" for path, _ in waiting)
    return RecursiveDependencyError(
        f"sample_from: cannot resolve {names}: each reads a value that is never resolved "
        f"(a dependency cycle); make one of them independent of the others; got: {cause}"
    )


def _draw_one(spec: Any, path: Path, domain: Domain, draws: Any) -> Any:
    if not domain.is_function():
        return domain.sample(random_state=draws)
    try:
        return domain.sample(config=_root_view(spec))
    except RecursiveDependencyError:
        raise
    except Exception as exc:
        raise ValueError(
            f"sample_from at '{_path_str(path)}' failed with {type(exc).__name__}: {exc} "
            "(the function receives the trial spec: read other values as spec.config.x "
            "or spec['config']['x'])"
        ) from exc


# --------------------------------------------------------------------------------------
# What a sample_from function sees.


def _root_view(spec: Any) -> Any:
    config = spec.get("config") if isinstance(spec, dict) else None
    return _SpecView(spec, fallback=config if isinstance(config, dict) else None)


def _guard(key: Any, value: Any) -> Any:
    if _is_unresolved(value):
        raise RecursiveDependencyError(f"{key!r} is not resolved yet")
    if isinstance(value, dict):
        return _SpecView(value)
    if isinstance(value, list) and any(isinstance(v, (dict, list, Domain)) for v in value):
        return _ListView(value)
    return value


class _SpecView(Mapping):
    """Read-only trial spec for ``sample_from``: ``spec.config.x`` and ``spec["config"]["x"]``.

    Reading a value that is not drawn yet raises :class:`RecursiveDependencyError`, which makes
    the resolver call the function again later. At the top level a key missing from the spec
    is looked up in ``spec["config"]``, so ``lambda config: config["a"]`` works too.
    """

    __slots__ = ("_data", "_fallback")

    def __init__(self, data: dict[Any, Any], fallback: dict[Any, Any] | None = None) -> None:
        self._data = data
        self._fallback = fallback

    def __getitem__(self, key: Any) -> Any:
        if key in self._data:
            return _guard(key, self._data[key])
        if self._fallback is not None and key in self._fallback:
            return _guard(key, self._fallback[key])
        raise KeyError(key)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in _SpecView.__slots__:
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"the spec has no key {name!r}") from None

    def __iter__(self) -> Iterator[Any]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"spec({self._data!r})"


class _ListView(Sequence):
    """Read-only list in a spec; elements are guarded like :class:`_SpecView` values."""

    __slots__ = ("_data",)

    def __init__(self, data: list[Any]) -> None:
        self._data = data

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [_guard(index, value) for value in self._data[index]]
        return _guard(index, self._data[index])

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return repr(self._data)
