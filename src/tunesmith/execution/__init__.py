"""Where and how trials run: the controller loop, the TrialServer and the executors.

``DaskExecutor`` and ``RayExecutor`` load on first use, so importing this package never
imports Dask or Ray.
"""

import importlib
from typing import TYPE_CHECKING, Any

from tunesmith.execution._executor import AttemptHandle, Executor
from tunesmith.execution._local import LocalExecutor

if TYPE_CHECKING:
    from tunesmith.execution._dask import DaskExecutor
    from tunesmith.execution._ray import RayExecutor

_LAZY = {"DaskExecutor": "tunesmith.execution._dask", "RayExecutor": "tunesmith.execution._ray"}

__all__ = ["AttemptHandle", "DaskExecutor", "Executor", "LocalExecutor", "RayExecutor"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tunesmith.execution' has no attribute {name!r}")
