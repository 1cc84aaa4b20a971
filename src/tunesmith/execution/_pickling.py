"""Pickling trainables so that tracebacks from trial processes still name the user's files.

cloudpickle replaces the file name of every function it pickles by value with
``<dynamic-code>``; a traceback from a trial would then show neither the file nor the
source line. This pickler keeps the real file name; when cloudpickle's internals differ
from what it expects, it falls back to plain cloudpickle.
"""

from __future__ import annotations

import collections
import io
import types
from typing import Any

import cloudpickle

__all__ = ["dumps"]


def _code_reduce_keeping_filename(code: types.CodeType) -> Any:
    constructor, args = cloudpickle.cloudpickle._code_reduce(code)
    return constructor, tuple(code.co_filename if arg == "<dynamic-code>" else arg for arg in args)


class _Pickler(cloudpickle.Pickler):
    dispatch_table = collections.ChainMap(
        {types.CodeType: _code_reduce_keeping_filename}, cloudpickle.Pickler.dispatch_table
    )


def dumps(obj: Any) -> bytes:
    """Like ``cloudpickle.dumps``, keeping file names of functions pickled by value."""
    if not hasattr(cloudpickle.cloudpickle, "_code_reduce"):
        return cloudpickle.dumps(obj)
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=cloudpickle.DEFAULT_PROTOCOL).dump(obj)
    return buffer.getvalue()
