"""``pretty_print``: a result as readable YAML, without needing a YAML library."""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["pretty_print"]

_INDENT = "  "
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./\-]*( [A-Za-z0-9_./\-]+)*")
_RESERVED = frozenset(("true", "false", "yes", "no", "on", "off", "null"))


def pretty_print(result: dict[str, Any], exclude: list[str] | set[str] | None = None) -> str:
    """Render a result as block-style YAML, keys sorted, without ``config`` and ``hist_stats``.

    Top-level keys whose value is None, and keys in ``exclude``, are left out. numpy values
    become plain numbers and lists; other objects are shown with ``str()``.

    Args:
        result: A result dict, e.g. ``Result.metrics`` or what a callback receives.
        exclude: Top-level keys to leave out.

    Returns:
        The YAML text, ending with a newline.

    Example:
        >>> print(pretty_print({"loss": 0.25, "nested": {"b": 2, "a": [1, 2]}, "config": {"lr": 1}}), end="")
        loss: 0.25
        nested:
          a:
          - 1
          - 2
          b: 2
    """
    skipped = {"config", "hist_stats", *(exclude or ())}
    shown = {k: v for k, v in result.items() if v is not None and k not in skipped}
    return "".join(line + "\n" for line in _block(_plain_data(shown), 0))


def _plain_data(value: Any) -> Any:
    """Only dicts, lists, str, int, float, bool and None, like a JSON round trip."""
    if isinstance(value, dict):
        return {str(k): _plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain_data(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if hasattr(value, "tolist"):
        return _plain_data(value.tolist())
    if hasattr(value, "item"):
        return _plain_data(value.item())
    return str(value)


def _block(value: Any, depth: int) -> list[str]:
    pad = _INDENT * depth
    if isinstance(value, dict):
        return _mapping(value, depth) if value else [pad + "{}"]
    if isinstance(value, list):
        return _sequence(value, depth) if value else [pad + "[]"]
    return [pad + _scalar(value)]


def _mapping(mapping: dict, depth: int) -> list[str]:
    pad = _INDENT * depth
    lines = []
    for key in sorted(mapping):
        value = mapping[key]
        head = f"{pad}{_scalar(key)}:"
        if isinstance(value, dict) and value:
            lines += [head, *_mapping(value, depth + 1)]
        elif isinstance(value, list) and value:
            lines += [head, *_sequence(value, depth)]  # YAML's usual "indentless" list under a key
        else:
            lines.append(f"{head} {_block(value, 0)[0]}")
    return lines


def _sequence(items: list, depth: int) -> list[str]:
    pad = _INDENT * depth
    lines = []
    for item in items:
        inner = _block(item, depth + 1)
        lines.append(f"{pad}- {inner[0].lstrip()}")
        lines += inner[1:]
    return lines


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text)  # a JSON string is a valid double-quoted YAML string


def _float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    mantissa, _, exponent = text.partition("e")
    if exponent and "." not in mantissa:
        text = f"{mantissa}.0e{exponent}"  # YAML 1.1 reads "1e-05" as a string
    return text
