"""``ExperimentAnalysis``: read an experiment's folder, finished or still running.

Everything comes from the journal and the trial files (``result.json``, checkpoints the
journal lists, ``error.pkl``); nothing the driver pickled is loaded, so an analysis can
be opened while the experiment runs, from another process or machine.

Opening reads the journal once: its ``trial_finished`` records carry each trial's last
result, kept as columns (:class:`~tunesmith.storage.LastResults`). A trial's own files
are read only when that trial is asked for, so 100,000 trials open in a couple of seconds.
"""

from __future__ import annotations

import collections
import logging
import math
import os
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from tunesmith._best import best_of, check_scope, metric_value, trial_score
from tunesmith._checkpoint import Checkpoint
from tunesmith._config import check_mode
from tunesmith._flatten import flatten_dict
from tunesmith.experiment._trial import Trial
from tunesmith.storage import LastResults, RebuiltTrial, TrialRecord, open_experiment, rebuild_trial
from tunesmith.storage._last_results import grid_frame, strings_column
from tunesmith.storage._last_results import rows_frame as _rows_frame

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ExperimentAnalysis"]

logger = logging.getLogger("tunesmith")

_ITERATION = "training_iteration"
_CACHED_TRIALS = 256  # trials read from their folders and kept: what a user looks at twice is read once


class ExperimentAnalysis:
    """Results of an experiment, read from its folder: trials, configs, dataframes, the best trial.

    ``tune.run`` returns one; build one yourself for any experiment folder, including one
    that is still running (you see the results reported so far) or one on a URL.

    Args:
        experiment_checkpoint_path: The experiment folder (or its ``journal.jsonl``), a
            local path or an fsspec URL such as ``s3://bucket/results/exp``.
        storage_filesystem: An fsspec filesystem for the URL (e.g. ``s3fs`` with a custom
            endpoint); inferred from the URL when omitted.
        trials: Trial objects to use instead of those the journal describes.
        default_metric: Metric for ``best_*`` and ``get_best_*`` (default: the
            experiment's own ``metric``, as recorded in the journal).
        default_mode: ``"min"`` or ``"max"`` (default: the experiment's own ``mode``).

    Raises:
        ValueError: the path is not an experiment folder (the message names what is
            missing), or ``default_mode`` is not ``"min"``/``"max"``.

    Example:
        >>> import tunesmith as tune
        >>> def objective(config):
        ...     return {"score": config["a"]}
        >>> _ = tune.Tuner(objective, param_space={"a": tune.grid_search([1, 2])},
        ...                run_config=tune.RunConfig(verbose=0, storage_path="/tmp/tunesmith_doctest", name="ea"),
        ...                ).fit()
        >>> analysis = tune.ExperimentAnalysis("/tmp/tunesmith_doctest/ea", default_metric="score", default_mode="max")
        >>> analysis.best_config["a"]
        2
    """

    def __init__(
        self,
        experiment_checkpoint_path: str | os.PathLike,
        *,
        storage_filesystem: Any = None,
        trials: list[Trial] | None = None,
        default_metric: str | None = None,
        default_mode: str | None = None,
    ) -> None:
        check_mode(default_mode, "default_mode")
        self._last = LastResults()
        experiment = open_experiment(experiment_checkpoint_path, storage_filesystem, on_result=self._last.add)
        self._storage, self._record = experiment.storage, experiment.record
        self._interrupted = self._record.interrupted
        self.default_metric, self.default_mode = _defaults(default_metric, default_mode, self._record.started)
        self._trainable = str(self._record.started.get("trainable") or "trainable")
        self._records = self._record.visible_trials()
        self._positions: dict[str, int] | None = None  # trial id -> its place in _records, made when first needed
        self._cache: collections.OrderedDict[str, RebuiltTrial] = collections.OrderedDict()
        for record in self._records:  # still running, or a journal from before it carried results
            if record.trial_id not in self._last and record.dirname:
                last = self._storage.trial_files(record.dirname).last_row()
                if last:
                    self._last.add(record.trial_id, last)
        self._given: list[Trial] | None = None  # trials the caller gave, used instead of the journal's
        if trials is not None:
            self.trials = trials

    # -- loading -----------------------------------------------------------------------------
    @property
    def trials(self) -> Sequence[Trial]:
        """Every trial (a trial restarted by ``restart_errored`` shows once, as its restart).

        Each is read from its folder when first indexed, so a loop over 100,000 trials
        reads 100,000 folders; the best trial and the dataframes need none of that.
        """
        if self._given is not None:
            return self._given
        return _Trials(self)

    @trials.setter
    def trials(self, trials: list[Trial]) -> None:
        self._given = list(trials)
        self._last = LastResults()
        for trial in self._given:
            self._last.add(trial.trial_id, trial.last_result)

    @property
    def _position(self) -> dict[str, int]:
        if self._positions is None:
            self._positions = {record.trial_id: i for i, record in enumerate(self._records)}
        return self._positions

    def _last_values(self, metric: str) -> list[Any]:
        """Each trial's value of ``metric`` (``a/b`` for nested) in its last result."""
        return self._last.values(metric, self._ids())

    def _statuses(self) -> list[str]:
        if self._given is not None:
            return [t.status.value for t in self._given]
        return [self._record.status_of(record).value for record in self._records]

    def _grid_frame(self) -> pd.DataFrame:
        """``ResultGrid(self).get_dataframe()``, from the last results' columns."""
        ids = self._ids()
        tags = [t.experiment_tag for t in self._given] if self._given is not None else [r.tag for r in self._records]
        return grid_frame(self._last, ids, tags)

    def _ids(self) -> list[str]:
        if self._given is not None:
            return [t.trial_id for t in self._given]
        return [record.trial_id for record in self._records]

    def _rebuilt(self, record: TrialRecord) -> RebuiltTrial:
        rebuilt = self._cache.get(record.trial_id)
        if rebuilt is not None:
            self._cache.move_to_end(record.trial_id)
            return rebuilt
        rebuilt = rebuild_trial(self._storage, record, self._trainable, self._record.status_of(record))
        self._cache[record.trial_id] = rebuilt
        if len(self._cache) > _CACHED_TRIALS:
            self._cache.popitem(last=False)
        return rebuilt

    # -- what the experiment is ---------------------------------------------------------------
    @property
    def experiment_path(self) -> str:
        """The experiment folder (a URL for remote storage)."""
        return self._storage.experiment_path

    @property
    def results(self) -> dict[str, dict[str, Any]]:
        """``{trial_id: last result}``."""
        return {trial.trial_id: trial.last_result for trial in self.trials}

    @property
    def results_df(self) -> pd.DataFrame:
        """One row per trial (its last result, flattened with ``/``), indexed by ``trial_id``.

        Built column by column from the results the journal carried: no trial folder is read."""
        import pandas as pd

        ids = self._ids()
        if not ids:
            return pd.DataFrame(columns=["trial_id"]).set_index("trial_id")
        return self._last.frame(ids, missing=True)

    @property
    def trial_dataframes(self) -> Mapping[str, pd.DataFrame]:
        """``{trial_id: every result of the trial, flattened with "/"}``.

        A mapping that reads a trial's results (and builds its frame) when that trial is
        looked up, so it costs nothing over 100,000 trials until used."""
        return _TrialFrames(self)

    def _trial_frame(self, trial: Trial) -> pd.DataFrame:
        return _rows_frame([flatten_dict(row) for row in self._rows_of(trial)])

    def get_all_configs(self, prefix: bool = False) -> dict[str, dict[str, Any]]:
        """``{trial id: config}``, as in Ray Tune; ``prefix=True`` flattens each config
        with ``/`` and names the keys ``config/<key>``. Read from the journal: no trial
        folder is read."""
        if self._given is not None:
            configs = {trial.trial_id: trial.config for trial in self._given}
        else:
            configs = {record.trial_id: record.read_config() for record in self._records}
        if prefix:
            return {trial_id: flatten_dict({"config": config}) for trial_id, config in configs.items()}
        return configs

    def dataframe(self, metric: str | None = None, mode: str | None = None) -> pd.DataFrame:
        """One row per trial that reported: its last result, or its best by ``metric`` and ``mode``.

        Columns are the flattened result keys (``config/<key>`` included) and ``logdir``,
        the trial's folder. The last results come from the journal, column by column.

        Raises:
            ValueError: ``mode`` without ``metric``, or a mode other than min/max.
        """
        check_mode(mode)
        if mode is not None and metric is None:
            raise ValueError(f"dataframe(mode={mode!r}) needs the metric to rank rows by: pass metric=...")
        if mode is None and self._given is None:  # the last results: no trial folder is read
            last, storage = self._last, self._storage
            reported = [record for record in self._records if record.trial_id in last]
            dirnames = [r.dirname for r in reported]
            if all(dirnames):  # the folders' paths made and handed to pandas a piece at a time
                logdirs: Any = strings_column(
                    lambda part: [storage.trial_local_path(d) for d in dirnames[part]], len(dirnames))
            else:
                logdirs = [storage.trial_local_path(d) if d else None for d in dirnames]
            return last.frame([r.trial_id for r in reported], index=False, extra={"logdir": logdirs},
                              tail=("logdir",))
        rows = LastResults(share_strings=False)  # the rows, as columns: no list of 100,000 dicts
        for i, trial in enumerate(self.trials):
            history = self._rows_of(trial)
            if not history:
                continue
            row = history[-1]
            if mode is not None:
                scores = [metric_value(r, metric) for r in history]
                row = best_of(history, scores, mode) or row
            rows.add(i, {**flatten_dict(row), "logdir": trial.path})
        return rows.frame(range(len(self.trials)), index=False)

    # -- the best trial ---------------------------------------------------------------------------
    def get_best_trial(self, metric: str | None = None, mode: str | None = None, scope: str = "last",
                       filter_nan_and_inf: bool = True) -> Trial | None:
        """The best trial by ``metric`` under ``mode``; None (with a warning) if no trial has a usable value.

        With a single trial, that trial, whatever the metric.

        Args:
            metric: Default: ``default_metric``. Nested metrics are written ``a/b``.
            mode: ``"min"`` or ``"max"``. Default: ``default_mode``.
            scope: ``last``, ``avg``, ``last-5-avg``, ``last-10-avg`` (each trial's value
                under that rule), or ``all`` (each trial's best value).
            filter_nan_and_inf: Skip trials whose value is NaN or infinite.

        Raises:
            ValueError: no metric or mode given here or as a default, or a bad scope.
        """
        return self._best_trial(metric, mode, scope, filter_nan_and_inf, "get_best_trial")

    def _best_trial(self, metric: str | None, mode: str | None, scope: str, filter_nan_and_inf: bool,
                    where: str) -> Trial | None:
        trials = self.trials
        if len(trials) == 1:
            return trials[0]
        metric, mode = self._metric(metric, where), self._mode(mode, where)
        check_scope(scope)
        if scope == "last":  # from the last results alone: no trial folder is read
            scores = [_number(v) for v in self._last_values(metric)]
            best = best_of(range(len(trials)), scores, mode, filter_nan_and_inf)
            best = trials[best] if best is not None else None
        else:
            scores = [trial_score(t.last_result, lambda t=t: self._rows_of(t), metric, mode, scope) for t in trials]
            best = best_of(trials, scores, mode, filter_nan_and_inf)
        if best is None:
            logger.warning("no trial has a %svalue for %r, so there is no best trial; check the metric name",
                           "finite " if filter_nan_and_inf else "", metric)
        return best

    def get_best_config(self, metric: str | None = None, mode: str | None = None, scope: str = "last") -> dict[str, Any] | None:
        """The config of :meth:`get_best_trial`, or None."""
        best = self._best_trial(metric, mode, scope, True, "get_best_config")
        return best.config if best is not None else None

    @property
    def best_trial(self) -> Trial | None:
        """The best trial by ``default_metric`` and ``default_mode`` (see :meth:`get_best_trial`)."""
        self._need_defaults("best_trial")
        return self.get_best_trial(self.default_metric, self.default_mode)

    @property
    def best_config(self) -> dict[str, Any] | None:
        self._need_defaults("best_config")
        best = self.best_trial
        return best.config if best is not None else None

    @property
    def best_checkpoint(self) -> Checkpoint | None:
        """The best trial's best checkpoint by the default metric and mode."""
        self._need_defaults("best_checkpoint")
        best = self.best_trial
        return self.get_best_checkpoint(best, self.default_metric, self.default_mode) if best is not None else None

    @property
    def best_result(self) -> dict[str, Any] | None:
        self._need_defaults("best_result")
        best = self.best_trial
        return best.last_result if best is not None else None

    @property
    def best_result_df(self) -> pd.DataFrame:
        """The best trial's last result as a one-row DataFrame indexed by ``trial_id``."""
        import pandas as pd

        self._need_defaults("best_result_df")
        best = self.best_trial
        rows = [{**flatten_dict(best.last_result), "trial_id": best.trial_id}] if best is not None else []
        return pd.DataFrame.from_records(rows, index="trial_id") if rows else pd.DataFrame()

    @property
    def best_dataframe(self) -> pd.DataFrame:
        """Every result of the best trial."""
        self._need_defaults("best_dataframe")
        best = self.best_trial
        if best is None:
            import pandas as pd

            return pd.DataFrame()
        return self._trial_frame(best)

    # -- checkpoints ------------------------------------------------------------------------------
    def get_trial_checkpoints_paths(self, trial: Trial | str, metric: str = _ITERATION) -> list[tuple[str, Any]]:
        """``[(checkpoint path or URL, value of metric when it was saved)]`` for the trial's kept checkpoints."""
        return [(checkpoint.url, metrics.get(metric)) for checkpoint, metrics in self._checkpoints_of(trial)]

    def get_best_checkpoint(self, trial: Trial | str, metric: str | None = None, mode: str | None = None) -> Checkpoint | None:
        """The trial's kept checkpoint with the best ``metric`` (NaN and missing values skipped).

        Args:
            trial: A trial from :attr:`trials`, its id, or its folder.
            metric: Default: ``default_metric``, then ``training_iteration``.
            mode: Default: ``default_mode``, then ``"max"`` for ``training_iteration``.

        Returns:
            The checkpoint, or None (with a warning) when the trial has none with a value.
        """
        metric = metric or self.default_metric or _ITERATION
        mode = mode or self.default_mode or ("max" if metric == _ITERATION else None)
        mode = self._mode(mode, "get_best_checkpoint")
        pairs = [(c, m.get(metric)) for c, m in self._checkpoints_of(trial)]
        usable = [(c, float(v)) for c, v in pairs
                  if isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)]
        if not usable:
            logger.warning("trial %s has no checkpoint%s", _name(trial),
                           f" with a value for {metric!r}" if pairs else "s")
            return None
        pick = max if mode == "max" else min
        return pick(usable, key=lambda pair: pair[1])[0]

    def get_last_checkpoint(self, trial: Trial | str | None = None, metric: str = _ITERATION,
                            mode: str = "max") -> Checkpoint | None:
        """The latest checkpoint of ``trial``, or of the best trial by ``metric``/``mode`` when omitted."""
        trial = trial if trial is not None else self.get_best_trial(metric, mode)
        if trial is None:
            return None
        return self.get_best_checkpoint(trial, _ITERATION, "max")

    # -- helpers ------------------------------------------------------------------------------------
    def _find(self, trial: Trial | str) -> Trial:
        if isinstance(trial, Trial) or hasattr(trial, "trial_id"):
            position = self._position.get(trial.trial_id) if self._given is None else None
            if position is not None:
                return self.trials[position]
            for known in self._given or []:
                if known.trial_id == trial.trial_id:
                    return known
            return trial
        text = os.fspath(trial).rstrip("/")
        for i, known in enumerate(self._given or self._records):
            path = known.path if self._given is not None else (
                self._storage.trial_local_path(known.dirname) if known.dirname else None)
            if text in (known.trial_id, path, known.dirname) or (
                    known.dirname and text == f"{self.experiment_path}/{known.dirname}"):
                return self.trials[i]
        raise ValueError(
            f"no trial {text!r} in the experiment at {self.experiment_path}: pass a trial from .trials, "
            f"a trial id ({', '.join(self._ids()[:5]) or 'none yet'}...) or a trial folder"
        )

    def _rows_of(self, trial: Trial) -> list[dict[str, Any]]:
        position = self._position.get(trial.trial_id)
        if position is not None and self._given is None:
            return self._rebuilt(self._records[position]).rows
        return self._storage.trial_files(trial.dirname).rows() if trial.dirname else []

    def _checkpoints_of(self, trial: Trial | str) -> list[tuple[Checkpoint, dict[str, Any]]]:
        found = self._find(trial)
        position = self._position.get(found.trial_id)
        if position is None:
            return []
        return [(c, m) for c, m, _ in self._rebuilt(self._records[position]).book.entries]

    def _metric(self, metric: str | None, where: str) -> str:
        metric = metric or self.default_metric
        if not metric:
            raise ValueError(
                f"{where} needs a metric, and none is set: pass {where}(metric='loss', mode='min'), or "
                "ExperimentAnalysis(..., default_metric=...) (tune.run(metric=...) sets it)"
            )
        return metric

    def _mode(self, mode: str | None, where: str) -> str:
        mode = mode or self.default_mode
        if not mode:
            raise ValueError(
                f"{where} needs a mode, and none is set: pass {where}(..., mode='min' or 'max'), or "
                "ExperimentAnalysis(..., default_mode=...) (tune.run(mode=...) sets it)"
            )
        check_mode(mode)
        return mode

    def _need_defaults(self, name: str) -> None:
        if not self.default_metric or not self.default_mode:
            raise ValueError(
                f"{name} needs a default metric and mode: pass metric= and mode= to tune.run() (or "
                "default_metric= and default_mode= to ExperimentAnalysis), or call "
                "get_best_trial(metric, mode) and friends with them"
            )

    def __repr__(self) -> str:
        return f"ExperimentAnalysis({self.experiment_path!r}, trials={len(self.trials)})"


def _defaults(metric: str | None, mode: str | None, started: dict[str, Any]) -> tuple[str | None, str | None]:
    """The caller's metric and mode; when neither is given, the experiment's own (if single)."""
    if metric is None and mode is None:
        own_metric, own_mode = started.get("metric"), started.get("mode")
        if isinstance(own_metric, str) and isinstance(own_mode, str):
            metric, mode = own_metric, own_mode
    if mode is not None and metric is None:
        metric = "_metric"
    return metric, mode


class _Trials(Sequence):
    """An analysis's trials, each read from its folder when indexed (and kept for a while)."""

    def __init__(self, analysis: ExperimentAnalysis) -> None:
        self._analysis = analysis

    def __len__(self) -> int:
        return len(self._analysis._records)

    def __getitem__(self, index: Any) -> Any:
        records = self._analysis._records
        if isinstance(index, slice):
            return [self._analysis._rebuilt(r).trial for r in records[index]]
        return self._analysis._rebuilt(records[index]).trial

    def __iter__(self) -> Iterator[Trial]:
        return (self._analysis._rebuilt(r).trial for r in self._analysis._records)

    def __repr__(self) -> str:
        return f"<{len(self)} trials of {self._analysis.experiment_path}>"


class _TrialFrames(Mapping):
    """``{trial id: the trial's results as a DataFrame}``, each read and built when looked up."""

    def __init__(self, analysis: ExperimentAnalysis) -> None:
        self._analysis = analysis

    def __getitem__(self, trial_id: str) -> pd.DataFrame:
        analysis = self._analysis
        if analysis._given is not None:
            trial = next((t for t in analysis._given if t.trial_id == trial_id), None)
        else:
            position = analysis._position.get(trial_id)
            trial = analysis.trials[position] if position is not None else None
        if trial is None:
            raise KeyError(trial_id)
        return analysis._trial_frame(trial)

    def __iter__(self) -> Iterator[str]:
        return iter(self._analysis._ids())

    def __len__(self) -> int:
        return len(self._analysis._ids())

    def __repr__(self) -> str:
        return f"<dataframes of the {len(self)} trials of {self._analysis.experiment_path}>"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _name(trial: Any) -> str:
    return str(trial.trial_id) if hasattr(trial, "trial_id") else str(trial)
