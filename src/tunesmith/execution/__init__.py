"""Where and how trials run: the controller loop, the TrialServer and the executors.

``DaskExecutor`` and ``RayExecutor`` load on first use, so importing this package never
imports Dask or Ray.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunesmith.execution._dask import DaskExecutor
    from tunesmith.execution._executor import AttemptHandle, Executor
    from tunesmith.execution._local import LocalExecutor
    from tunesmith.execution._ray import RayExecutor

# Everything loads on first use: trial processes import modules of this package and should
# not pay for the executors (nor Dask or Ray).
_LAZY = {
    "AttemptHandle": "tunesmith.execution._executor",
    "DaskExecutor": "tunesmith.execution._dask",
    "Executor": "tunesmith.execution._executor",
    "LocalExecutor": "tunesmith.execution._local",
    "RayExecutor": "tunesmith.execution._ray",
}

__all__ = ["AttemptHandle", "DaskExecutor", "Executor", "LocalExecutor", "RayExecutor"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tunesmith.execution' has no attribute {name!r}")
