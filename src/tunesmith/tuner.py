"""``Tuner``: the entry point. Builds an experiment from the configs and runs it."""

from __future__ import annotations

import dataclasses
import datetime
import functools
import hashlib
import inspect
import logging
import os
from typing import Any

import cloudpickle

from tunesmith import _init, _restore, _settings
from tunesmith._config import CheckpointConfig, FailureConfig, RunConfig, TuneConfig
from tunesmith._flatten import flatten_dict
from tunesmith._progress import Progress
from tunesmith._result import LazyResults, Result, ResultGrid
from tunesmith.callback import CallbackList
from tunesmith.error import StorageError, TuneError
from tunesmith.execution import _pickling
from tunesmith.execution._capture import log_files
from tunesmith.execution._controller import Controller, ExperimentSettings
from tunesmith.execution._server import TrialServer
from tunesmith.experiment._trial import FinishedTrial, Trial
from tunesmith.logger import CSVLoggerCallback, JsonLoggerCallback, LoggerCallback, TBXLoggerCallback
from tunesmith.logger._writer import LogWriter
from tunesmith.schedulers import FIFOScheduler, TrialScheduler
from tunesmith.search import SearchAlgorithm
from tunesmith.storage import ExperimentStorage, LastResults, last_results, unique_name
from tunesmith.storage._last_results import grid_frame
from tunesmith.storage._storage import EXPERIMENT_FILE, date_str
from tunesmith.trainable._trainable import Trainable
from tunesmith.trainable._wrap import check_trainable, resources_for, trainable_name

__all__ = ["Tuner"]

logger = logging.getLogger("tunesmith")


class Tuner:
    """Tune a trainable over a search space.

    Args:
        trainable: A function ``f(config)`` or a :class:`tunesmith.Trainable` subclass.
        param_space: The search space: a dict of constants, domains (``tune.uniform``...)
            and grids (``tune.grid_search``), nested as you like.
        tune_config: What to optimise and how to search.
        run_config: Where results go, when trials stop, failure handling, output.

    Example:
        >>> import tunesmith as tune
        >>> def objective(config):
        ...     return {"score": config["a"] ** 2 + config["b"]}
        >>> tuner = tune.Tuner(objective, param_space={"a": tune.grid_search([1, 2]), "b": 1},
        ...                    run_config=tune.RunConfig(verbose=0, storage_path="/tmp/tunesmith_doctest"))
        >>> tuner.fit().get_best_result(metric="score", mode="min").config["a"]
        1
    """

    def __init__(
        self,
        trainable: Any = None,
        *,
        param_space: dict[str, Any] | None = None,
        tune_config: TuneConfig | None = None,
        run_config: RunConfig | None = None,
    ) -> None:
        self._configure(trainable, param_space, tune_config, run_config)
        self._save_spec()

    def _configure(self, trainable: Any, param_space: dict[str, Any] | None, tune_config: TuneConfig | None,
                   run_config: RunConfig | None) -> None:
        # A registered trainable keeps its registered name, as in Ray Tune (experiment and trial names).
        self._registered_name = trainable if isinstance(trainable, str) else None
        if isinstance(trainable, str):
            trainable = _registered(trainable)
        check_trainable(trainable)
        if param_space is not None and hasattr(param_space, "to_dict") and not isinstance(param_space, dict):
            param_space = param_space.to_dict()
        if param_space is not None and not isinstance(param_space, dict):
            raise ValueError(f"param_space must be a dict, got {type(param_space).__name__}")
        if tune_config is not None and not isinstance(tune_config, TuneConfig):
            raise TypeError(f"tune_config must be a tunesmith.TuneConfig, got {type(tune_config).__name__}")
        if run_config is not None and not isinstance(run_config, RunConfig):
            raise TypeError(f"run_config must be a tunesmith.RunConfig, got {type(run_config).__name__}")
        self.trainable = trainable
        self.param_space = param_space or {}
        self.tune_config = tune_config or TuneConfig()
        self.run_config = run_config or RunConfig()
        self._blob = _pickle_trainable(trainable)
        self._results: ResultGrid | None = None
        self._restore: _restore.RestoreRequest | None = None
        self._name: str | None = None  # the experiment folder's name, once chosen

    def _save_spec(self) -> None:
        """Save the Tuner's configs in its experiment folder now, as Ray Tune saves ``tuner.pkl``
        when a Tuner is built, so ``Tuner.can_restore`` and ``Tuner.restore`` work even
        before ``fit()``. Nothing is written into a folder another driver holds, and a
        storage problem is left to ``fit()``, which reports it."""
        try:
            storage = _Experiment.storage_for(self)
            storage.check_reachable()
            storage.make_folders()
            storage.lock.probe()
            storage.put_file(EXPERIMENT_FILE, _restore.saved_spec(self))
        except Exception as exc:  # fit() raises it with its full explanation
            logger.debug("could not save the experiment's spec when building the Tuner: %s", exc)

    @property
    def trainable_name(self) -> str:
        return self._registered_name or trainable_name(self.trainable)

    @classmethod
    def restore(
        cls,
        path: str | os.PathLike,
        trainable: Any,
        resume_unfinished: bool = True,
        resume_errored: bool = False,
        restart_errored: bool = False,
        param_space: dict[str, Any] | None = None,
        storage_filesystem: Any = None,
        *,
        num_samples: int | None = None,
        time_budget_s: float | datetime.timedelta | None = None,
        stop: Any = None,
    ) -> Tuner:
        """Continue the experiment at ``path`` (a folder or URL) from its journal.

        Finished trials are not run again; unfinished ones resume from their latest
        checkpoint (or start over without one). Beyond Ray Tune, the restored run may get
        a larger ``num_samples``, a new ``time_budget_s`` (for the resumed run) or new
        ``stop`` criteria; the journal records the change.

        Args:
            path: The experiment folder, as printed after ``Results:``.
            trainable: The same trainable (same name) the experiment ran.
            resume_unfinished: Resume trials that were running or pending.
            resume_errored: Resume errored trials from their latest checkpoint.
            restart_errored: Start errored trials over as new trials.
            param_space: The same space (same keys), e.g. to refresh objects in it.
            storage_filesystem: An fsspec filesystem for ``path``.
            num_samples: A larger number of samples to continue to.
            time_budget_s: A time budget for the resumed run.
            stop: New stop criteria.

        Raises:
            ValueError: ``path`` is not an experiment, or the trainable or space differ.
        """
        experiment, spec, endings, stamp = _restore.load_experiment(path, storage_filesystem)
        storage = experiment.storage
        name = trainable_name(trainable) if not isinstance(trainable, str) else trainable
        if name != spec["trainable_name"]:
            raise ValueError(
                f"the experiment at {os.fspath(path)!r} ran the trainable {spec['trainable_name']!r}, "
                f"not {name!r}; pass the same trainable to Tuner.restore"
            )
        if param_space is not None and set(flatten_dict(param_space)) != set(flatten_dict(spec["param_space"])):
            raise ValueError("param_space must have the same keys as the original experiment's")
        tune_config, run_config = spec["tune_config"], spec["run_config"]
        changes: dict[str, Any] = {}
        current = experiment.record.num_samples or tune_config.num_samples
        if num_samples is not None:
            if current != -1 and num_samples != -1 and num_samples < current:
                raise ValueError(
                    f"num_samples on restore is the new total number of samples, which can only grow: it is "
                    f"{current}, got {num_samples}"
                )
            changes["num_samples"] = num_samples
        if time_budget_s is not None:
            changes["time_budget_s"] = time_budget_s
        tune_config = dataclasses.replace(tune_config, **{"num_samples": current, **changes})
        if stop is not None:
            changes["stop"] = repr(stop)
        run_config = dataclasses.replace(
            run_config, name=storage.name, storage_path=os.fspath(path).rstrip("/").rsplit("/", 1)[0] or "/",
            storage_filesystem=storage_filesystem, stop=stop if stop is not None else run_config.stop,
        )
        tuner = cls.__new__(cls)
        tuner._configure(trainable, param_space or spec["param_space"], tune_config, run_config)
        tuner._name = storage.name
        tuner._restore = _restore.RestoreRequest(experiment, resume_unfinished, resume_errored, restart_errored, changes,
                                                 endings, stamp)
        return tuner

    @classmethod
    def can_restore(cls, path: str | os.PathLike, storage_filesystem: Any = None) -> bool:
        """True if ``path`` holds a tunesmith experiment that ``restore`` can continue."""
        return _restore.can_restore(path, storage_filesystem)

    def fit(self) -> ResultGrid:
        """Run the experiment and return its results. Trial errors do not raise; see ``ResultGrid.errors``."""
        experiment = _Experiment(self)
        try:
            self._results = experiment.run()
        finally:
            experiment.close()
        return self._results

    def get_results(self) -> ResultGrid:
        """The last ``fit()``'s results, or a restored experiment's results as saved."""
        if self._results is None and self._restore is not None:
            return _saved_results(self)
        if self._results is None:
            raise RuntimeError("no results yet: call Tuner.fit() first")
        return self._results


class _Experiment:
    """One run of a Tuner: builds the collaborators, runs the controller, collects results."""

    def __init__(self, tuner: Tuner) -> None:
        self.tuner = tuner
        tc, rc = tuner.tune_config, tuner.run_config
        self.metric, self.mode = _restore.experiment_metric(tc), tc.mode
        self.storage = self.storage_for(tuner)
        self.name = self.storage.name
        # Pickled before the searcher takes the param space, so a restore starts it afresh.
        self.spec = _restore.saved_spec(tuner) if tuner._restore is None else b""
        self.search_alg = _build_search_alg(tc, tuner.param_space, self.metric, self.mode)
        self.scheduler = _build_scheduler(tc, self.metric, self.mode, self.storage.experiment_path)
        self.stopper = _build_stopper(rc.stop, tc.time_budget_s)
        callbacks = list(rc.callbacks or [])
        self.default_loggers = _add_default_loggers(callbacks)
        self.callbacks = CallbackList(callbacks)
        self.log_writer: LogWriter | None = None
        self.executor = tc.executor or _init.default_executor()
        self.server: TrialServer | None = None

    @staticmethod
    def storage_for(tuner: Tuner) -> ExperimentStorage:
        """The Tuner's experiment folder; a default name is chosen (and kept) on first use."""
        if tuner._restore is not None:
            return tuner._restore.storage
        rc = tuner.run_config
        storage_path = rc.storage_path or _settings.default_storage_path()
        if tuner._name is None:
            tuner._name = rc.name or _default_name(tuner.trainable_name, storage_path, rc.storage_filesystem)
        return ExperimentStorage(storage_path, tuner._name, filesystem=rc.storage_filesystem)

    def run(self) -> ResultGrid:
        tuner, tc, rc = self.tuner, self.tuner.tune_config, self.tuner.run_config
        self.storage.prepare()  # from here on this driver holds the folder
        if tuner._restore is not None:
            tuner._restore.reread(self.metric)  # what the journal says now that no other driver can change it
        self.server = TrialServer(self.executor.driver_host(), tls=self.executor.trial_tls())
        self.executor.start(self.server.address, self.server.token, reuse_processes=tuner.tune_config.reuse_actors,
                            certificate=self.server.certificate)
        self._start_log_writer()
        for callback in self.callbacks.callbacks:
            if isinstance(callback, LoggerCallback):
                callback.attach_log_settler(self.storage.settle_logs)
        _check_storage_shared(self.executor, self.storage)
        self.scheduler.set_total_resources(self.executor.total_resources())
        key = hashlib.sha1(tuner._blob).hexdigest()[:16]
        self.server.add_trainable(key, tuner._blob)
        settings = _settings_for(tuner, self.name, key, self.metric, self.mode)
        progress = Progress(1 if rc.verbose is None else rc.verbose, metric=self.metric, mode=self.mode,
                            reporter=rc.progress_reporter, total_samples=self.search_alg.total_samples)
        progress.begin(self.storage.experiment_path)
        if tuner._restore is None:
            self.storage.put_file(EXPERIMENT_FILE, self.spec)
        if tuner._restore is None or not tuner._restore.record.started:  # fresh, or built and never fitted
            self.storage.journal.experiment_started(name=self.name, metric=self.metric, mode=self.mode,
                                                    trainable=settings.trainable_name, num_samples=tc.num_samples)
        self.callbacks.call("setup", stop=rc.stop, num_samples=tc.num_samples,
                            total_num_samples=self.search_alg.total_samples, time_budget_s=tc.time_budget_s)
        controller = Controller(
            settings, search_alg=self.search_alg, scheduler=self.scheduler, stopper=self.stopper,
            executor=self.executor, server=self.server, storage=self.storage, callbacks=self.callbacks,
            progress=progress,
        )
        if tuner._restore is not None and tuner._restore.record.started:
            self._resume(controller, settings)
        trials = controller.run()
        if self.log_writer is not None:
            self.log_writer.close()  # every trial file is written before the results are read
        self.storage.journal.experiment_finished(controller.interrupted)
        return _result_grid(trials, controller.checkpoint_book, self.storage, self.metric, self.mode)

    def _resume(self, controller: Controller, settings: ExperimentSettings) -> None:
        request = self.tuner._restore
        self.storage.journal.experiment_restored(request.changes)
        restored = self.storage.restore_search_state(self.search_alg, self.scheduler)
        if restored and request.resume_unfinished:
            # A stopped run (Ctrl-C, a stopper, fail_fast) told the searcher it was finished;
            # the trials it had not created yet are created now, as Ray Tune does.
            self.search_alg.reopen()
        new_total = request.changes.get("num_samples")
        if new_total is not None:
            _grow_samples(self.search_alg, self.tuner.param_space, new_total)
        for trial, book, is_new in _restore.restored_trials(request, settings.trainable_name, settings,
                                                             controller.retired):
            if is_new:
                self.storage.journal.trial_added(trial)
            controller.adopt(trial, book)

    def _start_log_writer(self) -> None:
        """The default loggers write through a log writer process when the files are local
        (see :mod:`tunesmith.logger._writer`); the driver keeps the loggers a user passed."""
        if not self.default_loggers or self.storage.is_remote or not _settings.log_writer_enabled():
            return
        self.log_writer = LogWriter(self.storage.local_path, self.executor.fork_server())
        for callback in self.default_loggers:
            callback.attach_log_writer(self.log_writer)
        self.storage.attach_log_writer(self.log_writer)

    def close(self) -> None:
        try:
            if self.log_writer is not None:
                self.log_writer.close()  # after an error too: what was sent gets written
        except TuneError as exc:
            logger.warning("%s", exc)
        self.executor.shutdown()
        if self.server is not None:
            self.server.close()
        self.storage.close()


def _check_storage_shared(executor: Any, storage: ExperimentStorage) -> None:
    """Trials on other machines must see a local ``storage_path``: fail before any trial runs."""
    if storage.is_remote or not executor.spans_hosts():
        return
    marker = os.path.join(storage.local_path, f".shared_check_{os.getpid()}")
    with open(marker, "w") as f:
        f.write("tunesmith")
    try:
        blind = executor.hosts_without(marker)
    finally:
        os.remove(marker)
    if blind:
        raise StorageError(
            f"trials run on other machines ({', '.join(blind)}) that cannot see the storage path "
            f"{storage.local_path!r}, a folder local to this one. Use a shared mount that every worker sees at the "
            "same path, or a URL such as s3://bucket/experiments: RunConfig(storage_path=...)"
        )


def _default_name(trainable: str, storage_path: str | os.PathLike, filesystem: Any) -> str:
    """``<trainable>_<date>``, made unique in ``storage_path`` (two runs started in the same
    second get ``..._2``); just ``<trainable>`` without dated folders (as in Ray Tune)."""
    if not _settings.dated_subdir():
        return trainable
    return unique_name(storage_path, f"{trainable}_{date_str()}", filesystem)


def _registered(name: str) -> Any:
    from tunesmith.trainable import _registry

    return _registry.get_trainable(name)


def _pickle_trainable(trainable: Any) -> bytes:
    try:
        return _pickling.dumps(trainable)
    except Exception as exc:
        culprit = _unpicklable_part(trainable)
        where = f" {culprit}" if culprit else ""
        raise TypeError(
            f"the trainable {trainable_name(trainable)!r} cannot be pickled to send it to trial processes:{where} "
            f"({type(exc).__name__}: {exc}). Create such objects inside the trainable, or pass picklable data "
            "through tune.with_parameters()"
        ) from exc


def _unpicklable_part(trainable: Any) -> str:
    """Name the captured variable or global that cannot be pickled, if one can be found."""
    function = trainable
    while hasattr(function, "__wrapped__"):
        for name, value in _captured(function):
            if not _picklable(value):
                return f"it captures {name!r} (a {type(value).__name__}), which cannot be pickled;"
        function = function.__wrapped__
    for name, value in _captured(function):
        if not _picklable(value):
            return f"it captures {name!r} (a {type(value).__name__}), which cannot be pickled;"
    return ""


def _captured(function: Any) -> list[tuple[str, Any]]:
    code = getattr(function, "__code__", None)
    if code is None:
        return []
    cells = [(n, c.cell_contents) for n, c in zip(code.co_freevars, function.__closure__ or ()) if _filled(c)]
    globals_ = getattr(function, "__globals__", {})
    used = [(n, globals_[n]) for n in code.co_names if n in globals_ and not inspect.ismodule(globals_[n])]
    return cells + used


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


def _picklable(value: Any) -> bool:
    try:
        cloudpickle.dumps(value)
    except Exception:
        return False
    return True


def _build_search_alg(tc: TuneConfig, param_space: dict, metric: Any, mode: Any) -> SearchAlgorithm:
    from tunesmith import search

    alg = tc.search_alg
    if isinstance(alg, str):
        alg = search.create_searcher(alg)
    limit = tc.max_concurrent_trials or 0
    if alg is None:
        alg = search.BasicVariantGenerator(max_concurrent=limit)
    elif isinstance(alg, search.Searcher):
        if limit:
            alg = _limited(alg, limit)
        alg = search.SearchGenerator(alg)
    elif not isinstance(alg, SearchAlgorithm):
        raise TypeError(
            "search_alg must be a tunesmith Searcher (e.g. OptunaSearch()) or SearchAlgorithm, "
            f"got {type(alg).__name__}"
        )
    if not alg.set_search_properties(metric, mode, param_space):
        raise ValueError(
            f"the search algorithm {type(alg).__name__} already has a metric/mode or space that conflicts with "
            f"TuneConfig(metric={metric!r}, mode={mode!r}) or the param_space; set them in one place only"
        )
    alg.add_configurations(param_space, tc.num_samples)
    return alg


def _limited(searcher: Any, limit: int) -> Any:
    from tunesmith.search import ConcurrencyLimiter

    if isinstance(searcher, ConcurrencyLimiter):
        if searcher.max_concurrent != limit:
            raise ValueError(
                f"max_concurrent_trials={limit} conflicts with ConcurrencyLimiter(max_concurrent="
                f"{searcher.max_concurrent}); set the limit in one place"
            )
        return searcher
    return ConcurrencyLimiter(searcher, max_concurrent=limit)


def _build_scheduler(tc: TuneConfig, metric: Any, mode: Any, experiment_dir: str) -> TrialScheduler:
    scheduler = tc.scheduler
    if isinstance(scheduler, str):
        from tunesmith.schedulers import create_scheduler

        scheduler = create_scheduler(scheduler)
    scheduler = scheduler or FIFOScheduler()
    if not isinstance(scheduler, TrialScheduler):
        raise TypeError(f"scheduler must be a tunesmith TrialScheduler, got {type(scheduler).__name__}")
    single_metric = metric if isinstance(metric, str) else None
    single_mode = mode if isinstance(mode, str) else None
    if not scheduler.set_search_properties(single_metric, single_mode, experiment_dir=experiment_dir):
        raise ValueError(
            f"the scheduler {type(scheduler).__name__} has metric={scheduler.metric!r}, "
            f"mode={getattr(scheduler, 'mode', None)!r}, which conflicts with "
            f"TuneConfig(metric={metric!r}, mode={mode!r}); set the metric and mode in one place only"
        )
    return scheduler


def _build_stopper(stop: Any, time_budget_s: Any) -> Any:
    from tunesmith.stopper import CombinedStopper, TimeoutStopper, build_stopper

    stopper = build_stopper(stop)
    if time_budget_s is not None:
        budget = time_budget_s.total_seconds() if isinstance(time_budget_s, datetime.timedelta) else time_budget_s
        stopper = CombinedStopper(stopper, TimeoutStopper(budget))
    return stopper


def _add_default_loggers(callbacks: list[Any]) -> list[Any]:
    """Append the default loggers the user did not pass one of; return those added."""
    if not _settings.auto_callback_loggers():
        return []
    added = [logger_class() for logger_class in (JsonLoggerCallback, CSVLoggerCallback, TBXLoggerCallback)
             if not any(isinstance(c, logger_class) for c in callbacks)]
    callbacks.extend(added)
    return added


def _settings_for(tuner: Tuner, name: str, key: str, metric: Any, mode: Any) -> ExperimentSettings:
    tc, rc = tuner.tune_config, tuner.run_config
    failure = rc.failure_config or FailureConfig()
    checkpoint = rc.checkpoint_config or CheckpointConfig()
    is_class = inspect.isclass(tuner.trainable) and issubclass(tuner.trainable, Trainable)
    if not is_class and (checkpoint.checkpoint_frequency or checkpoint.checkpoint_at_end):
        raise ValueError(
            "checkpoint_frequency and checkpoint_at_end work only with class trainables; a function "
            "trainable saves checkpoints with tune.report(metrics, checkpoint=...)"
        )
    at_end = checkpoint.checkpoint_at_end if checkpoint.checkpoint_at_end is not None else is_class
    return ExperimentSettings(
        experiment_name=name,
        trainable_name=tuner.trainable_name,
        trainable_key=key,
        is_class_trainable=is_class,
        resources_for=lambda config: resources_for(tuner.trainable, config),
        metric=metric,
        mode=mode,
        max_failures=failure.max_failures,
        fail_fast=failure.fail_fast,
        max_concurrent_trials=tc.max_concurrent_trials or 0,
        num_to_keep=checkpoint.num_to_keep,
        checkpoint_score_attribute=checkpoint.checkpoint_score_attribute,
        checkpoint_score_order=checkpoint.checkpoint_score_order,
        checkpoint_frequency=checkpoint.checkpoint_frequency,
        checkpoint_at_end=at_end,
        reuse_actors=tc.reuse_actors,
        trial_name_creator=tc.trial_name_creator,
        trial_dirname_creator=tc.trial_dirname_creator,
        strict_metric_checking=_settings.strict_metric_checking(),
        log_to_file=log_files(rc.log_to_file),
        restore_retry_num=_settings.restore_retry_num(),
        stop_grace_s=_settings.stop_grace_s(),
        chdir_to_trial_dir=_settings.chdir_to_trial_dir(),
    )


def _grow_samples(search_alg: SearchAlgorithm, param_space: dict, new: int) -> None:
    """Let a restored search produce trials up to ``new`` samples in all (a total, however
    many restores came before)."""
    from tunesmith.search import BasicVariantGenerator

    current = search_alg.total_samples
    if isinstance(search_alg, BasicVariantGenerator):
        if current is not None and new > current:
            search_alg.add_configurations(param_space, new - current)  # one more expansion, after the others
    else:
        search_alg.add_configurations(param_space, new)
    search_alg.reopen()


def _result_grid(trials: list[Trial], books: Any, storage: ExperimentStorage, metric: Any, mode: Any) -> ResultGrid:
    """The grid of ``trials``' results; each Result is made when asked for (a finished trial's
    from its folder), so a grid over 100,000 trials holds no 100,000 Results."""

    def result_of(trial: Trial) -> Result:
        metrics = dict(trial.last_result)
        if metrics:
            metrics["experiment_tag"] = trial.experiment_tag
        book = books(trial.trial_id)
        path = storage.trial_url(trial.dirname) if trial.dirname else os.path.join(storage.experiment_path, str(trial))
        return Result(metrics=metrics, checkpoint=book.latest, error=trial.error, path=path,
                      best_checkpoints=book.best_checkpoints(), _local_path=trial.path, _config=trial.config)

    ids = [t.trial_id for t in trials]

    @functools.cache
    def columns() -> LastResults:
        """Each trial's last result as columns, made when first needed: the finished trials'
        from one pass of the journal (whose ``trial_finished`` records carry them), the
        others' (a handful) as they are. The grid's calls then read these, not the journal."""
        last = last_results(storage) if any(isinstance(t, FinishedTrial) for t in trials) else LastResults()
        for t in trials:
            if not (isinstance(t, FinishedTrial) and t.trial_id in last):
                last.add(t.trial_id, t.last_result)
        return last

    def values_of(key: str) -> list[Any]:
        return columns().values(key, ids)

    def frame() -> Any:
        return grid_frame(columns(), ids, [t.experiment_tag for t in trials])

    statuses = [t.status.value for t in trials]
    return ResultGrid(LazyResults(trials, result_of), ids, storage.experiment_path,
                      metric, mode, statuses, last_values=values_of, last_frame=frame)


def _saved_results(tuner: Tuner) -> ResultGrid:
    """The results of a restored experiment as its files show them, without running it."""
    request = tuner._restore
    settings = _settings_for(tuner, request.storage.name, "", None, None)
    saved = _restore.saved_trials(request, settings.trainable_name, settings)
    trials = [t for t, _ in saved]
    books = {t.trial_id: b for t, b in saved}
    tc = tuner.tune_config
    return _result_grid(trials, books.__getitem__, request.storage, tc.metric, tc.mode)
