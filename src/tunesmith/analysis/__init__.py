"""Reading experiment results (``ray.tune.analysis``)."""

from tunesmith._analysis import ExperimentAnalysis

__all__ = ["ExperimentAnalysis"]
