"""``Result`` and ``ResultGrid``: read-only views of what an experiment produced."""

from __future__ import annotations

import dataclasses
import math
import os
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from tunesmith._best import best_of, check_scope, trial_score
from tunesmith._checkpoint import Checkpoint
from tunesmith._flatten import flatten_dict
from tunesmith._result_keys import AUTO_FILLED

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Result", "ResultGrid"]


def _read_rows(trial_path: str) -> list[dict[str, Any]]:
    from tunesmith.storage import TrialFiles

    return TrialFiles(trial_path).rows()


@dataclasses.dataclass
class Result:
    """The outcome of one trial.

    Attributes:
        metrics: The trial's last result (nested), including ``config``.
        checkpoint: The latest checkpoint, or None.
        error: The trial's exception (the user's own type) if it failed, else None.
        path: The trial's folder.
        best_checkpoints: Retained ``(checkpoint, metrics)`` pairs.
    """

    metrics: dict[str, Any] | None
    checkpoint: Checkpoint | None
    error: BaseException | None
    path: str
    best_checkpoints: list[tuple[Checkpoint, dict[str, Any]]] = dataclasses.field(default_factory=list)
    _metrics_dataframe: Any = dataclasses.field(default=None, repr=False)
    _local_path: str | None = dataclasses.field(default=None, repr=False)
    _config: dict[str, Any] | None = dataclasses.field(default=None, repr=False)

    @property
    def _files(self) -> str:
        """A local folder holding the trial's result files."""
        return self._local_path or self.path

    @property
    def config(self) -> dict[str, Any] | None:
        """The trial's config (also for a trial that failed before reporting, as in Ray Tune)."""
        if self.metrics and "config" in self.metrics:
            return self.metrics["config"]
        return self._config

    @property
    def filesystem(self) -> Any:
        import fsspec

        return fsspec.filesystem("file")

    @property
    def metrics_dataframe(self) -> pd.DataFrame:
        """Every reported row, flattened with ``/`` (needs pandas)."""
        from tunesmith.storage._last_results import rows_frame

        if self._metrics_dataframe is None:  # built column by column
            self._metrics_dataframe = rows_frame(flatten_dict(row) for row in _read_rows(self._files))
        return self._metrics_dataframe

    @classmethod
    def from_path(cls, path: str) -> Result:
        """Rebuild a Result from a trial folder (``result.json``, checkpoints, ``error.pkl``)."""
        from tunesmith.storage import TrialFiles

        files = TrialFiles(path)
        rows = files.rows()
        checkpoints = files.checkpoint_folders()
        error = files.read_error()
        by_name = {row.get("checkpoint_dir_name"): row for row in rows}
        best = [(Checkpoint(os.path.join(path, d)), by_name.get(d, {})) for d in checkpoints]
        return cls(
            metrics=rows[-1] if rows else {},
            checkpoint=best[-1][0] if best else None,
            error=error,
            path=path,
            best_checkpoints=best,
        )

    def get_best_checkpoint(self, metric: str, mode: str) -> Checkpoint | None:
        """The retained checkpoint whose metrics are best by ``metric`` under ``mode``."""
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if not self.best_checkpoints:
            raise RuntimeError(f"the trial at {self.path} has no checkpoints")
        scored = [(c, flatten_dict(m).get(metric)) for c, m in self.best_checkpoints]
        scored = [(c, v) for c, v in scored if isinstance(v, (int, float)) and not math.isnan(v)]
        if not scored:
            raise RuntimeError(f"no checkpoint of the trial at {self.path} has a numeric {metric!r}")
        pick = max if mode == "max" else min
        return pick(scored, key=lambda cv: cv[1])[0]

    def __repr__(self) -> str:
        shown = {k: v for k, v in (self.metrics or {}).items() if k not in AUTO_FILLED}
        parts = [f"metrics={shown}", f"path={self.path!r}"]
        if self.error is not None:
            parts.append(f"error={type(self.error).__name__}({self.error})")
        if self.checkpoint is not None:
            parts.append(f"checkpoint={self.checkpoint!r}")
        return f"Result({', '.join(parts)})"


def _from_analysis(analysis: Any) -> tuple[LazyResults, list[str], str, Any, Any, list[str]]:
    """The arguments of a ResultGrid built from an ``ExperimentAnalysis`` (its Results made when asked for)."""
    from tunesmith._analysis import ExperimentAnalysis

    if not isinstance(analysis, ExperimentAnalysis):
        raise TypeError(
            "ResultGrid takes an ExperimentAnalysis (or the list of Results a Tuner builds); "
            f"got {type(analysis).__name__}: {analysis!r}"
        )

    def result_of(trial: Any) -> Result:
        kept = analysis._checkpoints_of(trial)
        metrics = dict(trial.last_result)
        if metrics:
            metrics["experiment_tag"] = trial.experiment_tag
        path = trial.path or os.path.join(analysis.experiment_path, str(trial))
        return Result(metrics=metrics, checkpoint=trial.checkpoint, error=trial.error, path=path,
                      best_checkpoints=list(kept), _local_path=trial.path, _config=trial.config)

    statuses = analysis._statuses()
    results = LazyResults(analysis.trials, result_of)
    return results, analysis._ids(), analysis.experiment_path, analysis.default_metric, analysis.default_mode, statuses


class LazyResults(Sequence):
    """The Results of an experiment's trials, each made when asked for and not kept.

    A Tuner over 100,000 trials returns a grid of these: its trials' results live in
    storage, and only the ones a caller looks at are read back.

    Args:
        items: One item per trial (a Trial, or a lighter stand-in).
        make: Turns one item into its :class:`Result`.
    """

    def __init__(self, items: Sequence[Any], make: Callable[[Any], Result]) -> None:
        self._items = items
        self._make = make

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self._make(item) for item in self._items[index]]
        return self._make(self._items[index])

    def __iter__(self) -> Iterator[Result]:
        return (self._make(item) for item in self._items)


class ResultGrid:
    """All trials' results; index it, iterate it, or ask for the best.

    ``ResultGrid(experiment_analysis)`` builds one from an ``ExperimentAnalysis``, as in Ray
    Tune (its default metric and mode become the grid's).

    Example:
        >>> # results = tuner.fit(); best = results.get_best_result("loss", "min")
        >>> # results = ResultGrid(ExperimentAnalysis("~/tunesmith_results/exp"))
    """

    def __init__(self, experiment_analysis: Any, trial_ids: list[str] | None = None, experiment_path: str | None = None,
                 metric: Any = None, mode: Any = None, statuses: list[str] | None = None,
                 last_values: Callable[[str], list[Any]] | None = None,
                 last_frame: Callable[[], pd.DataFrame] | None = None) -> None:
        # Ray's one argument; Tuner passes its Results and the rest instead
        results = experiment_analysis
        if not isinstance(results, (list, LazyResults)):
            results, trial_ids, experiment_path, metric, mode, statuses = _from_analysis(results)
            last_values = experiment_analysis._last_values
            last_frame = experiment_analysis._grid_frame
        # get_dataframe() without a filter, built from the same columns
        self._last_frame = last_frame
        # Each trial's value of a metric in its last result, without making its Result
        # (a grid over 100,000 trials finds the best from the journal's columns).
        self._last_values = last_values
        self._results = results
        self._trial_ids = trial_ids
        self._statuses = statuses or []
        self.experiment_path = experiment_path
        self._metric = metric if isinstance(metric, str) else None
        self._mode = mode if isinstance(mode, str) else None

    def __len__(self) -> int:
        return len(self._results)

    def __getitem__(self, index: int) -> Result:
        return self._results[index]

    def __iter__(self) -> Iterator[Result]:
        return iter(self._results)

    @property
    def filesystem(self) -> Any:
        import fsspec

        return fsspec.filesystem("file")

    @property
    def errors(self) -> list[BaseException]:
        if len(self._statuses) == len(self._results):  # only the trials that errored are read
            picked = (self._results[i] for i, s in enumerate(self._statuses) if s == "ERROR")
            return [r.error for r in picked if r.error is not None]
        return [r.error for r in self._results if r.error is not None]

    @property
    def num_errors(self) -> int:
        return sum(1 for s in self._statuses if s == "ERROR")

    @property
    def num_terminated(self) -> int:
        return sum(1 for s in self._statuses if s == "TERMINATED")

    def get_best_result(self, metric: str | None = None, mode: str | None = None, scope: str = "last",
                        filter_nan_and_inf: bool = True) -> Result:
        """The best trial's Result by ``metric`` under ``mode`` (defaults: the TuneConfig's).

        Raises:
            ValueError: no metric/mode anywhere, or a bad mode/scope.
            RuntimeError: no trial reported a usable value of the metric.
        """
        if len(self._results) == 1:
            return self._results[0]
        metric = metric or self._metric
        mode = mode or self._mode
        if not metric or not mode:
            raise ValueError(
                "get_best_result needs a metric and a mode: pass them here, e.g. "
                "get_best_result(metric='loss', mode='min'), or set them in TuneConfig"
            )
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        check_scope(scope)
        if scope == "last" and self._last_values is not None:
            scores = [_number(value) for value in self._last_values(metric)]
            index = best_of(range(len(scores)), scores, mode, filter_nan_and_inf)
            best = self._results[index] if index is not None else None
        else:
            scores = [self._trial_value(result, metric, mode, scope) for result in self._results]
            best = best_of(self._results, scores, mode, filter_nan_and_inf)
        if best is None:
            raise RuntimeError(
                f"no trial has a {'finite ' if filter_nan_and_inf else ''}value for {metric!r}; "
                "check the metric name, or pass filter_nan_and_inf=False"
            )
        return best

    @staticmethod
    def _trial_value(result: Result, metric: str, mode: str, scope: str) -> float | None:
        return trial_score(result.metrics or {}, lambda: _read_rows(result._files), metric, mode, scope)

    def get_dataframe(self, filter_metric: str | None = None, filter_mode: str | None = None) -> pd.DataFrame:
        """One row per trial: its last result, or its best row by ``filter_metric``/``filter_mode``."""
        if (filter_metric is None) != (filter_mode is None):
            raise ValueError("pass both filter_metric and filter_mode, or neither")
        if filter_mode is not None and filter_mode not in ("min", "max"):
            raise ValueError(f"filter_mode must be 'min' or 'max', got {filter_mode!r}")
        if filter_metric is None and self._last_frame is not None:  # the last results, as columns
            return self._last_frame()
        from tunesmith.storage._last_results import rows_frame

        return rows_frame(self._rows(filter_metric, filter_mode))

    def _rows(self, filter_metric: str | None, filter_mode: str | None) -> Iterator[dict[str, Any]]:
        """Each trial's row of :meth:`get_dataframe`, flattened, one at a time."""
        for result, trial_id in zip(self._results, self._trial_ids):
            row = result.metrics or {}
            if filter_metric is not None:
                candidates = [r for r in _read_rows(result._files) if isinstance(flatten_dict(r).get(filter_metric), (int, float))]
                if candidates:
                    pick = max if filter_mode == "max" else min
                    row = pick(candidates, key=lambda r: flatten_dict(r)[filter_metric])
            flat = flatten_dict(row)
            flat["logdir"] = trial_id
            yield flat

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(r) for r in self._results)
        return f"ResultGrid<[\n  {inner}\n]>"


def _number(value: Any) -> float | None:
    """``value`` as a float if it is a number (not a bool), else None (as ``metric_value`` reads a result)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
