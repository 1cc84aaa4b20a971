"""Pickling searcher state that holds library objects with thread locks inside.

Searcher state is the library's own optimizer objects (an Optuna study and sampler, a HEBO
optimizer, ...), pickled as they are so that a restored search continues exactly. Libraries
add thread locks to those objects from one release to the next (Optuna 5.1's NSGA-II and
NSGA-III samplers keep a ``threading.Lock`` for their generation cache), and a lock cannot be
pickled. A lock holds no search state: it only orders threads inside one process. So the
pickler below writes every lock as "a new lock" and loading gives an unheld one. This keeps
working whichever object a future release puts a lock in, while any other unpicklable member
still fails loudly (:func:`dump_state` names the attribute).

Example:
    >>> import io, threading
    >>> buffer = io.BytesIO()
    >>> dump_state({"lock": threading.Lock(), "n": 1}, buffer)
    >>> import cloudpickle
    >>> state = cloudpickle.loads(buffer.getvalue())
    >>> state["n"], state["lock"].acquire(blocking=False)
    (1, True)
"""

from __future__ import annotations

import io
import threading
from typing import IO, Any

import cloudpickle

__all__ = ["dump_state", "dumps_state"]

#: Lock types, each saved as a call of the factory that makes a fresh, unheld one.
_LOCK_FACTORIES: dict[type, Any] = {
    type(threading.Lock()): threading.Lock,
    type(threading.RLock()): threading.RLock,
}


class _StatePickler(cloudpickle.Pickler):
    """cloudpickle's pickler, with thread locks written as fresh locks."""

    def reducer_override(self, obj: Any) -> Any:
        factory = _LOCK_FACTORIES.get(type(obj))
        if factory is not None:
            return factory, ()
        return super().reducer_override(obj)


def dump_state(obj: Any, file: IO[bytes]) -> None:
    """Pickle ``obj`` into ``file`` (read it back with ``cloudpickle.load``).

    Raises:
        TypeError: Some member cannot be pickled; the message names the top-level key of
            ``obj`` (a searcher's attribute) that holds it.
    """
    try:
        _StatePickler(file).dump(obj)
    except (TypeError, AttributeError, ValueError) as exc:
        raise TypeError(f"cannot save the searcher state: {_culprit(obj)}{type(exc).__name__}: {exc}") from exc


def _culprit(obj: Any) -> str:
    """``"attribute '_study' cannot be pickled: "`` for the first such key of a dict state."""
    if not isinstance(obj, dict):
        return ""
    for key, value in obj.items():
        try:
            _StatePickler(_NullFile()).dump(value)
        except Exception:  # noqa: BLE001  (any failure names the key)
            return f"attribute {key!r} cannot be pickled: "
    return ""


class _NullFile:
    """A write-only sink, for trial pickling."""

    def write(self, data: bytes) -> int:
        return len(data)


def dumps_state(obj: Any) -> bytes:
    """:func:`dump_state` into bytes."""
    buffer = io.BytesIO()
    dump_state(obj, buffer)
    return buffer.getvalue()
