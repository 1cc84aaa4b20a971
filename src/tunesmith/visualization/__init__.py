"""Plots of an experiment, with Optuna's names: history, intermediate values, parallel
coordinates, slices and parameter importances.

Each function takes a ``ResultGrid``, an ``ExperimentAnalysis`` or an experiment folder
(path or URL) and returns a plotly figure, which renders in Jupyter. Needs plotly (and,
for importances, scikit-learn): ``pip install "tunesmith[dashboard]"``.

Example:
    >>> from tunesmith.visualization import plot_optimization_history  # doctest: +SKIP
    >>> plot_optimization_history(results).show()  # doctest: +SKIP
"""

from tunesmith.visualization._importance import param_importances
from tunesmith.visualization._plots import (
    plot_intermediate_values,
    plot_optimization_history,
    plot_parallel_coordinate,
    plot_param_importances,
    plot_slice,
)

__all__ = [
    "param_importances",
    "plot_intermediate_values",
    "plot_optimization_history",
    "plot_parallel_coordinate",
    "plot_param_importances",
    "plot_slice",
]
