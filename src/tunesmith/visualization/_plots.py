"""The plots, as plotly figures, from an experiment's files (read through ``dashboard._source``)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from tunesmith._imports import try_import
from tunesmith.dashboard._source import ExperimentSource, TrialEntry
from tunesmith.visualization._importance import encode_params, param_importances

__all__ = ["plot_intermediate_values", "plot_optimization_history", "plot_parallel_coordinate",
           "plot_param_importances", "plot_slice"]


def _go() -> Any:
    return try_import("plotly.graph_objects", extra="dashboard", needed_by="tunesmith.visualization")


def _source(results: Any) -> ExperimentSource:
    """A ``ResultGrid``, an ``ExperimentAnalysis`` or a path/URL, as an experiment source."""
    path = getattr(results, "experiment_path", results)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"plots take a ResultGrid, an ExperimentAnalysis or an experiment folder, got {type(results).__name__}")
    return ExperimentSource(os.path.expanduser(os.fspath(path))).refresh()


def _target(source: ExperimentSource, metric: str | None, mode: str | None) -> tuple[str, str]:
    metric, mode = metric or source.metric, mode or source.mode or "min"
    if not metric:
        raise ValueError("no metric: pass metric=... (the experiment was run without TuneConfig(metric=...))")
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    return metric, mode


def _scored(source: ExperimentSource, metric: str) -> list[tuple[TrialEntry, float]]:
    """Trials with a last reported ``metric``, in the order they finished (Ray's "last" scope)."""
    scored = [(t, t.last_metrics[metric]) for t in source.trials if metric in t.last_metrics]
    return sorted(scored, key=lambda pair: (pair[0].ended or float("inf"), pair[0].index))


def _params(source: ExperimentSource, trials: list[TrialEntry], params: list[str] | None) -> list[str]:
    names: dict[str, None] = {}
    for trial in trials:
        names.update(dict.fromkeys(trial.params()))
    if params is None:
        return [n for n in names if len({str(t.params().get(n)) for t in trials}) > 1] or list(names)
    unknown = [p for p in params if p not in names]
    if unknown:
        raise ValueError(f"params must be names from the config ({', '.join(names)}), got {unknown}")
    return list(params)


def plot_optimization_history(results: Any, metric: str | None = None, mode: str | None = None) -> Any:
    """Each trial's metric in the order trials finished, and the best so far.

    Args:
        results: A ``ResultGrid``, an ``ExperimentAnalysis`` or an experiment folder.
        metric: Default: the experiment's metric. mode: ``"min"``/``"max"`` (default: the experiment's).
    """
    go, source = _go(), _source(results)
    metric, mode = _target(source, metric, mode)
    scored = _scored(source, metric)
    values = np.asarray([value for _, value in scored], dtype=float)
    best = (np.maximum if mode == "max" else np.minimum).accumulate(values) if len(values) else values
    numbers = list(range(1, len(values) + 1))
    fig = go.Figure([
        go.Scatter(x=numbers, y=values, mode="markers", name=metric, text=[source.trial_name(t) for t, _ in scored]),
        go.Scatter(x=numbers, y=best, mode="lines", name="best so far", line={"shape": "hv"}),
    ])
    return fig.update_layout(title=f"Optimization history: {source.name}", xaxis_title="trial (in finishing order)",
                             yaxis_title=metric)


def plot_intermediate_values(results: Any, metric: str | None = None, x: str = "training_iteration") -> Any:
    """Every trial's learning curve: ``metric`` against ``x`` (``training_iteration`` or ``time_total_s``)."""
    go, source = _go(), _source(results)
    metric, _ = _target(source, metric, "min")
    fig = go.Figure()
    for trial in source.trials:
        rows = [row for row in source.rows(trial) if metric in row and x in row]
        if rows:
            fig.add_trace(go.Scatter(x=[row[x] for row in rows], y=[row[metric] for row in rows], mode="lines+markers",
                                     name=source.trial_name(trial), marker={"size": 4}))
    return fig.update_layout(title=f"Intermediate values: {source.name}", xaxis_title=x, yaxis_title=metric)


def _dimension(name: str, values: list[Any]) -> dict[str, Any]:
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return {"label": name, "values": values}
    levels = sorted({str(v) for v in values})
    return {"label": name, "values": [levels.index(str(v)) for v in values], "tickvals": list(range(len(levels))),
            "ticktext": levels}


def plot_parallel_coordinate(results: Any, params: list[str] | None = None, metric: str | None = None,
                             mode: str | None = None) -> Any:
    """One line per trial through its parameters and its metric, coloured by the metric."""
    go, source = _go(), _source(results)
    metric, mode = _target(source, metric, mode)
    scored = _scored(source, metric)
    names = _params(source, [t for t, _ in scored], params)
    values = [value for _, value in scored]
    dims = [_dimension(n, [t.params().get(n) for t, _ in scored]) for n in names] + [{"label": metric, "values": values}]
    line = {"color": values, "colorscale": "Viridis", "reversescale": mode == "min", "showscale": True}
    return go.Figure(go.Parcoords(line=line, dimensions=dims)).update_layout(title=f"Parallel coordinates: {source.name}")


def plot_slice(results: Any, params: list[str] | None = None, metric: str | None = None, mode: str | None = None) -> Any:
    """The metric against each parameter, one panel per parameter."""
    go, source = _go(), _source(results)
    subplots = try_import("plotly.subplots", extra="dashboard", needed_by="plot_slice")
    metric, mode = _target(source, metric, mode)
    scored = _scored(source, metric)
    names = _params(source, [t for t, _ in scored], params)
    fig = subplots.make_subplots(rows=1, cols=max(len(names), 1), shared_yaxes=True, subplot_titles=names)
    for column, name in enumerate(names, start=1):
        fig.add_trace(go.Scatter(x=[t.params().get(name) for t, _ in scored], y=[v for _, v in scored], mode="markers",
                                 name=name, showlegend=False, marker={"color": list(range(len(scored))),
                                                                     "colorscale": "Blues"}), row=1, col=column)
    fig.update_yaxes(title_text=metric, row=1, col=1)
    return fig.update_layout(title=f"Slice: {source.name}")


def plot_param_importances(results: Any, params: list[str] | None = None, metric: str | None = None) -> Any:
    """Each parameter's share of the metric's variance (fANOVA over a random forest)."""
    go, source = _go(), _source(results)
    metric, _ = _target(source, metric, "min")
    scored = _scored(source, metric)
    names = _params(source, [t for t, _ in scored], params)
    shares = param_importances(encode_params([t.params() for t, _ in scored], names),
                               np.asarray([v for _, v in scored], dtype=float))
    order = np.argsort(shares)
    fig = go.Figure(go.Bar(x=shares[order], y=[names[i] for i in order], orientation="h",
                           text=[f"{shares[i]:.2f}" for i in order]))
    return fig.update_layout(title=f"Parameter importances for {metric}: {source.name}", xaxis_title="importance")
