"""Flattening nested results and configs into ``"a/b"`` keys, and JSON that never fails."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["flatten_dict", "json_default", "lookup", "to_json", "unflatten_dict"]


def flatten_dict(data: dict[str, Any], delimiter: str = "/", prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a/b": 1}``; empty dicts are kept as values."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{delimiter}{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flat.update(flatten_dict(value, delimiter, name))
        else:
            flat[name] = value
    return flat


def lookup(data: Mapping[str, Any], key: str, missing: Any = None) -> Any:
    """``data[key]`` for a flat ``"a/b"`` key, or the same path in nested ``data``; ``missing``
    when absent."""
    if key in data:
        return data[key]
    node: Any = data
    for part in key.split("/"):
        if not isinstance(node, Mapping) or part not in node:
            return missing
        node = node[part]
    return node


def unflatten_dict(flat: dict[str, Any], delimiter: str = "/") -> dict[str, Any]:
    """The inverse of :func:`flatten_dict`."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(delimiter)
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return nested


def json_default(value: Any) -> Any:
    """Make numpy values, sets and arbitrary objects JSON-serialisable."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return repr(value)


_ENCODER = json.JSONEncoder(default=json_default)


def to_json(value: Any) -> str:
    """``json.dumps(value, default=json_default)``, without building an encoder per call."""
    return _ENCODER.encode(value)
