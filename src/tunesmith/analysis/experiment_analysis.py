"""``ray.tune.analysis.experiment_analysis``: re-exported from where tunesmith keeps the code."""

from tunesmith._analysis import ExperimentAnalysis

__all__ = ["ExperimentAnalysis"]
