"""Flattening nested results and configs into ``"a/b"`` keys, and JSON that never fails."""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["flatten_dict", "json_default", "to_json", "unflatten_dict"]


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
