"""A read-only web dashboard over experiment folders (``tunesmith dashboard``).

Needs the ``dashboard`` extra: ``pip install "tunesmith[dashboard]"``.
"""

from tunesmith.dashboard._source import ExperimentSource, ExperimentState, TrialState, list_experiments

__all__ = ["ExperimentSource", "ExperimentState", "TrialState", "list_experiments"]
