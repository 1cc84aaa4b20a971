"""Where and how trials run: the controller loop, the TrialServer and the executors."""

from tunesmith.execution._executor import AttemptHandle, Executor
from tunesmith.execution._local import LocalExecutor

__all__ = ["AttemptHandle", "Executor", "LocalExecutor"]
