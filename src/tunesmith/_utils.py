"""Helpers Ray Tune programs import from ``ray.tune.utils``: dict flattening and merging, checks."""

from __future__ import annotations

import contextlib
import copy
import enum
import logging
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = [
    "Verbosity", "date_str", "deep_update", "diagnose_serialization", "flatten_dict", "merge_dicts",
    "unflattened_lookup", "validate_save_restore", "warn_if_slow",
]

logger = logging.getLogger("tunesmith")


class Verbosity(enum.IntEnum):
    """``RunConfig(verbose=...)`` levels by name; each member is the int ``verbose`` takes."""

    V0_MINIMAL = 0
    V1_EXPERIMENT = 1
    V2_TRIAL_NORM = 2
    V3_TRIAL_DETAILS = 3


@contextlib.contextmanager
def warn_if_slow(name: str, threshold: float | None = None, message: str | None = None,
                 disable: bool = False) -> Iterator[None]:
    """Log a warning (logger ``tunesmith``) when the ``with`` block takes longer than ``threshold`` seconds.

    Args:
        name: What the block does, for the message.
        threshold: Seconds (default 0.5).
        message: The warning's text instead of the default; ``{name}`` and ``{duration}``
            are filled in.
        disable: Measure nothing.

    Example:
        >>> with warn_if_slow("loading the data", threshold=10):
        ...     pass
    """
    start = time.monotonic()
    yield
    duration = time.monotonic() - start
    if not disable and duration > (0.5 if threshold is None else threshold):
        text = message or "The `{name}` operation took {duration:.3f} s, which may be a performance bottleneck."
        logger.warning(text.format(name=name, duration=duration))


def flatten_dict(dt: dict, delimiter: str = "/", prevent_delimiter: bool = False,
                 flatten_list: bool = False) -> dict:
    """Nested dicts (and, with ``flatten_list``, lists) as one level, keys joined by ``delimiter``.

    Args:
        dt: The dict to flatten; it is not changed.
        delimiter: Joins the keys of each level.
        prevent_delimiter: Raise ``ValueError`` when a key already contains ``delimiter``.
        flatten_list: Also flatten lists and tuples whose items are dicts (keys ``"0"``, ``"1"``...).

    Example:
        >>> flatten_dict({"a": {"b": 1}, "c": 2})
        {'a/b': 1, 'c': 2}
    """
    flat: dict = {}
    for key, value in dt.items():
        if prevent_delimiter and isinstance(key, str) and delimiter in key:
            raise ValueError(
                f"key {key!r} contains the delimiter {delimiter!r}, which prevent_delimiter=True forbids: "
                "rename the key or choose another delimiter"
            )
        if flatten_list and isinstance(value, (list, tuple)) and any(isinstance(v, Mapping) for v in value):
            value = {str(i): v for i, v in enumerate(value)}
        if isinstance(value, Mapping) and value:
            nested = flatten_dict(dict(value), delimiter, prevent_delimiter, flatten_list)
            flat.update({f"{key}{delimiter}{sub}": v for sub, v in nested.items()})
        else:
            flat[key] = value
    return flat


def unflattened_lookup(flat_key: str, lookup: Any, delimiter: str = "/", **kwargs: Any) -> Any:
    """The value at ``"a/b/0"`` in nested dicts and lists; ``default=`` is returned when a key is missing.

    Raises:
        KeyError: A key is missing and no ``default`` was given.
    """
    node = lookup
    for part in flat_key.split(delimiter):
        try:
            node = node[int(part)] if isinstance(node, (list, tuple)) else node[part]
        except (KeyError, IndexError, ValueError, TypeError):
            if "default" in kwargs:
                return kwargs["default"]
            raise KeyError(f"{flat_key!r}: no {part!r} in {type(node).__name__}") from None
    return node


def deep_update(original: dict, new_dict: dict, new_keys_allowed: bool = False,
                allow_new_subkey_list: list[str] | None = None,
                override_all_if_type_changes: list[str] | None = None,
                override_all_key_list: list[str] | None = None) -> dict:
    """Update ``original`` in place with ``new_dict``, recursing into nested dicts; return it.

    Args:
        original: The dict to change.
        new_dict: The values to set.
        new_keys_allowed: Whether keys that ``original`` lacks may be added.
        allow_new_subkey_list: Top-level keys under which new sub-keys may be added.
        override_all_if_type_changes: Top-level keys whose dict is replaced whole when its
            ``"type"`` entry changes.
        override_all_key_list: Top-level keys whose value is replaced whole.

    Raises:
        Exception: A key of ``new_dict`` is not in ``original`` and new keys are not allowed.
    """
    allow_new_subkey_list = allow_new_subkey_list or []
    override_all_if_type_changes = override_all_if_type_changes or []
    override_all_key_list = override_all_key_list or []
    for key, value in new_dict.items():
        if key not in original and not new_keys_allowed:
            raise Exception(f"Unknown config parameter `{key}`: it is not in the original dict "
                            "(pass new_keys_allowed=True to add keys)")
        old = original.get(key)
        replace_whole = key in override_all_key_list or (
            key in override_all_if_type_changes and isinstance(value, dict) and isinstance(old, dict)
            and "type" in value and value["type"] != old.get("type"))
        if isinstance(old, dict) and isinstance(value, dict) and not replace_whole:
            deep_update(old, value, new_keys_allowed or key in allow_new_subkey_list, None,
                        override_all_if_type_changes, override_all_key_list)
        else:
            original[key] = value
    return original


def merge_dicts(d1: dict, d2: dict) -> dict:
    """A deep copy of ``d1`` updated recursively with ``d2`` (new keys allowed); neither is changed."""
    return deep_update(copy.deepcopy(d1), d2, new_keys_allowed=True)


def date_str() -> str:
    """The local time as ``YYYY-mm-dd_HH-MM-SS``, as in trial folder names."""
    return time.strftime("%Y-%m-%d_%H-%M-%S")


def diagnose_serialization(trainable: Any) -> bool | set:
    """Check that ``trainable`` can be sent to a trial process; print what cannot.

    Returns:
        True when it pickles (with cloudpickle, as trials are sent); otherwise the set of
        names (globals and closure variables the function uses) that do not pickle, which
        are also printed.
    """
    import cloudpickle

    try:
        cloudpickle.dumps(trainable)
    except Exception as error:  # noqa: BLE001 - any pickling error is the finding
        failing = set()
        for name, value in _referenced_values(trainable).items():
            try:
                cloudpickle.dumps(value)
            except Exception:  # noqa: BLE001
                failing.add(name)
        print(f"{getattr(trainable, '__name__', trainable)!s} cannot be serialized: {error}")
        for name in sorted(failing):
            print(f"  {name} cannot be serialized; create it inside the trainable, or pass it with "
                  "tune.with_parameters")
        return failing
    print(f"{getattr(trainable, '__name__', trainable)!s} can be serialized.")
    return True


def _referenced_values(func: Any) -> dict[str, Any]:
    code = getattr(func, "__code__", None)
    if code is None:
        return {}
    values = {name: func.__globals__[name] for name in code.co_names if name in func.__globals__}
    for name, cell in zip(code.co_freevars, func.__closure__ or ()):
        values[name] = cell.cell_contents
    return values


def validate_save_restore(trainable_cls: type, config: dict | None = None, num_gpus: int = 0) -> bool:
    """Check that a ``Trainable`` class restores its state: train, save, restore into a new instance.

    Three steps are trained and saved; the step after the save is compared with the first step
    of a fresh instance restored from that checkpoint: the metrics the trainable returns (not
    the ``training_iteration`` Tune adds, which the controller keeps) must be equal. The check
    runs in this process; ``num_gpus`` is accepted for Ray's signature and not used.

    Returns:
        True.

    Raises:
        AssertionError: The restored instance's next result differs, naming the metrics.
    """
    del num_gpus
    config = dict(config or {})
    first = trainable_cls(config)
    second = trainable_cls(config)
    folder = tempfile.mkdtemp(prefix="validate_save_restore_")
    try:
        for _ in range(3):
            first.step()
        first.save(folder)
        expected = first.step()
        second.restore(folder)
        got = second.step()
    finally:
        first.stop()
        second.stop()
        shutil.rmtree(folder, ignore_errors=True)
    differ = sorted(k for k in expected if k not in _TIMING_KEYS and got.get(k) != expected[k])
    assert not differ, (
        f"{trainable_cls.__name__} did not restore: after the restore, step() returned "
        f"{ {k: got.get(k) for k in differ} }, expected { {k: expected[k] for k in differ} }; "
        "save_checkpoint/load_checkpoint must hold the whole state"
    )
    return True


_TIMING_KEYS = frozenset(("time_this_iter_s", "time_total_s", "timestamp", "date"))
