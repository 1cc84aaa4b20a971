"""Ray Tune's legacy entry points: ``tune.run``, ``tune.run_experiments`` and ``tune.Experiment``.

A thin layer over :class:`tunesmith.Tuner`: the arguments become a ``TuneConfig`` and a
``RunConfig`` and ``Tuner(...).fit()`` runs the experiment, or ``Tuner.restore(...).fit()``
when ``resume`` finds one to continue. There is no second way of running trials.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import inspect
import os
import sys
import warnings
from typing import Any, Callable, NamedTuple

from tunesmith import _settings
from tunesmith._analysis import ExperimentAnalysis
from tunesmith._config import CheckpointConfig, FailureConfig, RunConfig, SyncConfig, TuneConfig
from tunesmith.error import TuneError
from tunesmith.experiment import Trial, TrialStatus
from tunesmith.trainable._registry import get_trainable, register_trainable
from tunesmith.trainable._resources import resource_request_of
from tunesmith.trainable._trainable import Trainable
from tunesmith.trainable._wrap import trainable_name, with_resources
from tunesmith.tuner import Tuner, _default_name

__all__ = ["Experiment", "run", "run_experiments"]

# What an Experiment (and so tune.run) takes per experiment, with Ray Tune's defaults.
_EXPERIMENT_DEFAULTS: dict[str, Any] = {
    "stop": None, "time_budget_s": None, "config": None, "resources_per_trial": None, "num_samples": 1,
    "storage_path": None, "storage_filesystem": None, "sync_config": None, "checkpoint_config": None,
    "trial_name_creator": None, "trial_dirname_creator": None, "log_to_file": False, "export_formats": None,
    "max_failures": 0, "restore": None, "local_dir": None,
    # Deprecated in Ray Tune, which maps them onto CheckpointConfig (and so does tunesmith).
    "checkpoint_freq": 0, "checkpoint_at_end": False, "keep_checkpoints_num": None, "checkpoint_score_attr": None,
}


class _Resume(NamedTuple):
    """What ``resume=`` asks for, as ``Tuner.restore``'s flags."""

    unfinished: bool
    errored: bool
    restart_errored: bool
    must_exist: bool = False


# ``resume`` suffix -> what it asks for
_RESUME_SUFFIXES = {
    "": _Resume(True, False, False),
    "ERRORED": _Resume(True, True, False),
    "RESTART_ERRORED": _Resume(True, False, True),
    "ERRORED_ONLY": _Resume(False, True, False),
    "RESTART_ERRORED_ONLY": _Resume(False, False, True),
}
_VALID_RESUME = (
    "None, False, True (= 'AUTO'), 'AUTO', 'AUTO+ERRORED', 'AUTO+RESTART_ERRORED', 'AUTO+ERRORED_ONLY', "
    "'AUTO+RESTART_ERRORED_ONLY', and the older 'LOCAL'/'REMOTE' (with the same suffixes) and 'ERRORED_ONLY'"
)


class Experiment:
    """One experiment's specification, for :func:`run` and :func:`run_experiments`.

    Args:
        name: The experiment's folder name (default ``<trainable>_<date>``).
        run: The trainable: a function, a ``tune.Trainable`` subclass or a registered name.
        stop: Stop criteria: a dict, a ``Stopper``, a function or a list of Stoppers.
        time_budget_s: Stop the experiment after this long.
        config: The search space.
        resources_per_trial: A dict (``{"cpu": 2, "gpu": 0.5}``) or ``PlacementGroupFactory``.
        num_samples: Times to sample the space.
        storage_path: Root folder or URL (default ``~/tunesmith_results``).
        storage_filesystem: An fsspec filesystem for ``storage_path``.
        sync_config: A ``SyncConfig`` or a dict of its arguments (accepted for compatibility).
        checkpoint_config: A ``CheckpointConfig`` or a dict of its arguments.
        trial_name_creator: ``f(trial) -> str``.
        trial_dirname_creator: ``f(trial) -> str``.
        log_to_file: Accepted for compatibility.
        export_formats: Not supported (a non-empty value raises).
        max_failures: Retries per trial.
        restore: Not supported (a value raises).
        local_dir: Ray Tune's old name for ``storage_path``; warns.
        checkpoint_freq: Deprecated: ``CheckpointConfig(checkpoint_frequency=...)``; warns.
        checkpoint_at_end: Deprecated: ``CheckpointConfig(checkpoint_at_end=...)``; warns.
        keep_checkpoints_num: Deprecated: ``CheckpointConfig(num_to_keep=...)``; warns.
        checkpoint_score_attr: Deprecated: ``CheckpointConfig(checkpoint_score_attribute=...)``;
            a ``"min-"`` prefix means ``checkpoint_score_order="min"``; warns.

    Raises:
        ValueError: the trainable name is not registered (the message lists those that are),
            or an argument is not supported.

    Example:
        >>> import tunesmith as tune
        >>> def objective(config):
        ...     return {"score": config["a"]}
        >>> experiment = tune.Experiment("doc_exp", objective, config={"a": 1}, num_samples=2)
        >>> experiment.public_spec["num_samples"], experiment.run_identifier
        (2, 'objective')
    """

    PUBLIC_KEYS = frozenset({"stop", "num_samples", "time_budget_s"})

    def __init__(
        self,
        name: str | None,
        run: Any,
        *,
        stop: Any = None,
        time_budget_s: float | datetime.timedelta | None = None,
        config: dict[str, Any] | None = None,
        resources_per_trial: Any = None,
        num_samples: int = 1,
        storage_path: str | os.PathLike | None = None,
        storage_filesystem: Any = None,
        sync_config: SyncConfig | dict[str, Any] | None = None,
        checkpoint_config: CheckpointConfig | dict[str, Any] | None = None,
        trial_name_creator: Callable[[Trial], str] | None = None,
        trial_dirname_creator: Callable[[Trial], str] | None = None,
        log_to_file: Any = False,
        export_formats: Any = None,
        max_failures: int = 0,
        restore: str | None = None,
        local_dir: str | None = None,
        checkpoint_freq: int = 0,
        checkpoint_at_end: bool = False,
        keep_checkpoints_num: int | None = None,
        checkpoint_score_attr: str | None = None,
    ) -> None:
        # The arguments that were given, kept so tune.run can add its own to them.
        self._options = {k: v for k, v in locals().items() if k in _EXPERIMENT_DEFAULTS and _given(k, v)}
        _reject_unsupported(export_formats=export_formats, restore=restore)
        self._run = run
        self._run_identifier = Experiment.register_if_needed(run)
        trainable = get_trainable(run) if isinstance(run, str) else run
        self.trainable = _with_resources_per_trial(trainable, resources_per_trial)
        self.name = name or _default_name(trainable_name(trainable))
        self.config = _config_dict(config)
        self.stop = stop
        self.time_budget_s = time_budget_s
        self.resources_per_trial = resources_per_trial
        self.num_samples = num_samples
        self.storage_path = _storage_root(storage_path, local_dir)
        self.storage_filesystem = storage_filesystem
        self.sync_config = SyncConfig(**sync_config) if isinstance(sync_config, dict) else sync_config
        self.checkpoint_config = _checkpoint_config(
            checkpoint_config, checkpoint_freq=checkpoint_freq, checkpoint_at_end=checkpoint_at_end,
            keep_checkpoints_num=keep_checkpoints_num, checkpoint_score_attr=checkpoint_score_attr,
        )
        self.trial_name_creator = trial_name_creator
        self.trial_dirname_creator = trial_dirname_creator
        self.log_to_file = log_to_file
        self.max_failures = max_failures
        _check_spec(self)

    @classmethod
    def from_json(cls, name: str, spec: dict[str, Any]) -> Experiment:
        """Build an experiment from a dict spec, as in ``run_experiments({"name": spec})``.

        ``spec`` has a ``"run"`` key plus any of this class's arguments; an ``"env"`` key
        is moved into ``config`` (for RL specs).

        Raises:
            TuneError: no ``"run"`` key, or keys this class does not take.
        """
        if isinstance(spec, Experiment):
            return spec
        if not isinstance(spec, dict):
            raise TuneError(f"experiment {name!r}: the spec must be a dict or an Experiment, got {type(spec).__name__}")
        if "run" not in spec:
            raise TuneError(f"experiment {name!r}: no trainable specified; the spec needs a 'run' key")
        spec = copy.copy(spec)
        if "env" in spec:
            spec["config"] = {**(spec.get("config") or {}), "env": spec.pop("env")}
        unknown = sorted(set(spec) - set(_EXPERIMENT_DEFAULTS) - {"run"})
        if unknown:
            raise TuneError(
                f"experiment {name!r}: the spec has keys Experiment does not take: {', '.join(unknown)}; "
                f"it takes: run, {', '.join(_EXPERIMENT_DEFAULTS)}"
            )
        return cls(name, spec.pop("run"), **spec)

    @classmethod
    def get_trainable_name(cls, run_object: Any) -> str:
        """The name Ray Tune gives a trainable: the registered string, or the function or class name."""
        return run_object if isinstance(run_object, str) else trainable_name(run_object)

    @classmethod
    def register_if_needed(cls, run_object: Any) -> str:
        """Register a function or class under its name (a string is returned as is); return the name."""
        if isinstance(run_object, str):
            return run_object
        name = cls.get_trainable_name(run_object)
        register_trainable(name, run_object)
        return name

    @property
    def run_identifier(self) -> str:
        return self._run_identifier

    @property
    def path(self) -> str:
        """The experiment folder: ``<storage_path>/<name>`` (a URL for remote storage)."""
        root = os.fspath(self.storage_path or _settings.default_storage_path())
        if "://" in root or self.storage_filesystem is not None:
            return f"{root.rstrip('/')}/{self.name}"
        return os.path.join(os.path.abspath(os.path.expanduser(root)), self.name)

    @property
    def local_path(self) -> str | None:
        return None if self.remote_path else self.path

    @property
    def remote_path(self) -> str | None:
        return self.path if "://" in self.path or self.storage_filesystem is not None else None

    @property
    def stopper(self) -> Any:
        """The stop criterion when it is not a dict (a Stopper or function), else None."""
        return None if self.stop is None or isinstance(self.stop, dict) else self.stop

    @property
    def spec(self) -> dict[str, Any]:
        return {
            "run": self._run_identifier, "stop": self.stop if isinstance(self.stop, dict) else {},
            "time_budget_s": self.time_budget_s, "config": self.config,
            "resources_per_trial": self.resources_per_trial, "num_samples": self.num_samples,
            "storage_path": self.storage_path, "storage_filesystem": self.storage_filesystem,
            "sync_config": self.sync_config, "checkpoint_config": self.checkpoint_config,
            "trial_name_creator": self.trial_name_creator, "trial_dirname_creator": self.trial_dirname_creator,
            "log_to_file": self.log_to_file, "export_formats": None, "max_failures": self.max_failures,
            "restore": None,
        }

    @property
    def public_spec(self) -> dict[str, Any]:
        """The part of the spec searchers and callbacks are told about."""
        return {k: v for k, v in self.spec.items() if k in self.PUBLIC_KEYS}

    def _with(self, options: dict[str, Any]) -> Experiment:
        """This experiment with more arguments (from tune.run) added."""
        return Experiment(self.name, self._run, **{**self._options, **options})

    def __repr__(self) -> str:
        return f"Experiment({self.name!r}, {self._run_identifier!r})"


def _check_spec(experiment: Experiment) -> None:
    """Ray Tune's checks of an Experiment's spec, at construction.

    Raises:
        ValueError: checkpointing options a function trainable cannot honour, a bad ``stop``
            or ``log_to_file``.
        TypeError: a stop function with the wrong signature.
    """
    from tunesmith.execution._capture import log_files
    from tunesmith.stopper._build import build_stopper

    checkpoint = experiment.checkpoint_config
    is_class = inspect.isclass(experiment.trainable) and issubclass(experiment.trainable, Trainable)
    if not is_class and checkpoint is not None and (checkpoint.checkpoint_frequency or checkpoint.checkpoint_at_end):
        raise ValueError(
            f"Experiment {experiment.name!r}: checkpoint_frequency and checkpoint_at_end work only with class "
            "trainables; a function trainable saves checkpoints with tune.report(metrics, checkpoint=...). Got "
            f"checkpoint_frequency={checkpoint.checkpoint_frequency!r}, checkpoint_at_end={checkpoint.checkpoint_at_end!r}"
        )
    if experiment.stop is not None:
        build_stopper(experiment.stop)
    log_files(experiment.log_to_file)
    if not isinstance(experiment.num_samples, int) or isinstance(experiment.num_samples, bool) or (
        experiment.num_samples < 1 and experiment.num_samples != -1
    ):
        raise ValueError(
            f"Experiment {experiment.name!r}: num_samples must be an int >= 1 (or -1: without end), "
            f"got {experiment.num_samples!r}"
        )
    if not isinstance(experiment.max_failures, int) or isinstance(experiment.max_failures, bool) or experiment.max_failures < -1:
        raise ValueError(
            f"Experiment {experiment.name!r}: max_failures must be an int >= -1 (-1: retry without end), "
            f"got {experiment.max_failures!r}"
        )


def run(
    run_or_experiment: Any,
    *,
    name: str | None = None,
    metric: str | None = None,
    mode: str | None = None,
    stop: Any = None,
    time_budget_s: float | datetime.timedelta | None = None,
    config: dict[str, Any] | None = None,
    resources_per_trial: Any = None,
    num_samples: int = 1,
    storage_path: str | os.PathLike | None = None,
    storage_filesystem: Any = None,
    search_alg: Any = None,
    scheduler: Any = None,
    checkpoint_config: CheckpointConfig | dict[str, Any] | None = None,
    verbose: int | None = None,
    progress_reporter: Any = None,
    log_to_file: Any = False,
    trial_name_creator: Callable[[Trial], str] | None = None,
    trial_dirname_creator: Callable[[Trial], str] | None = None,
    sync_config: SyncConfig | dict[str, Any] | None = None,
    export_formats: Any = None,
    max_failures: int = 0,
    fail_fast: bool | str = False,
    restore: str | None = None,
    resume: bool | str | None = None,
    resume_config: Any = None,
    reuse_actors: bool = False,
    raise_on_failed_trial: bool = True,
    callbacks: list[Any] | None = None,
    max_concurrent_trials: int | None = None,
    keep_checkpoints_num: int | None = None,
    checkpoint_score_attr: str | None = None,
    checkpoint_freq: int = 0,
    checkpoint_at_end: bool = False,
    chdir_to_trial_dir: Any = "DEPRECATED",
    local_dir: str | None = None,
    with_server: bool = False,
    server_port: int | None = None,
    _remote: bool | None = None,
) -> ExperimentAnalysis:
    """Run an experiment the way Ray Tune's ``tune.run`` does, and return its analysis.

    The arguments mean what they mean in Ray Tune; each becomes a field of ``TuneConfig``
    or ``RunConfig`` (see :class:`Experiment` for the per-experiment ones), and
    ``Tuner.fit()`` runs the experiment.

    Args:
        run_or_experiment: A function, a ``tune.Trainable`` subclass, a registered name,
            an :class:`Experiment`, or a list holding one of these.
        metric: The metric to optimise (needs ``mode``).
        mode: ``"min"`` or ``"max"``.
        search_alg: A searcher, or its name (``"optuna"``, ``"hyperopt"``...).
        scheduler: A scheduler, or its name (``"asha"``, ``"hyperband"``...).
        verbose: 0 to 3, as ``RunConfig.verbose`` (default 2, as Ray's ``tune.run``).
        fail_fast: Stop everything at the first error; ``"raise"`` also re-raises it.
        resume: Continue the experiment at ``<storage_path>/<name>``: ``True``/``"AUTO"``
            resume it if it exists and start it otherwise; a suffix says what happens to
            errored trials: ``"+ERRORED"`` resume them, ``"+RESTART_ERRORED"`` start
            them over, ``"+ERRORED_ONLY"``/``"+RESTART_ERRORED_ONLY"`` the same, and leave
            unfinished trials alone. ``"LOCAL"``, ``"REMOTE"`` and ``"ERRORED_ONLY"``
            (older Ray) warn, and fail when there is nothing to resume.
        raise_on_failed_trial: Raise ``TuneError("Trials did not complete", [trials])`` if a
            trial errored (not after Ctrl-C).
        reuse_actors, callbacks, max_concurrent_trials, progress_reporter: As in
            ``TuneConfig``/``RunConfig``.
        keep_checkpoints_num, checkpoint_score_attr, checkpoint_freq, checkpoint_at_end,
            local_dir: Deprecated in Ray Tune; mapped (see :class:`Experiment`) with a
            ``FutureWarning``.
        chdir_to_trial_dir, with_server, server_port, _remote, export_formats, restore,
            resume_config: Not supported; a value other than the default raises.
        **others: See :class:`Experiment`.

    Returns:
        An :class:`~tunesmith.ExperimentAnalysis` of the experiment folder, with ``metric``
        and ``mode`` as its defaults.

    Raises:
        TuneError: a trial failed and ``raise_on_failed_trial`` is set.
        ValueError: a bad or unsupported argument, ``config`` both here and in the
            Experiment, or an unknown ``resume`` value (the message lists the valid ones).

    Example:
        >>> import tunesmith as tune
        >>> def objective(config):
        ...     return {"score": config["a"]}
        >>> analysis = tune.run(objective, config={"a": tune.grid_search([1, 2])}, metric="score", mode="max",
        ...                     storage_path="/tmp/tunesmith_doctest", name="run_doc", verbose=0)
        >>> analysis.best_config["a"]
        2
    """
    options = {k: v for k, v in locals().items() if k in _EXPERIMENT_DEFAULTS and _given(k, v)}
    _reject_unsupported(with_server=with_server, server_port=server_port, _remote=_remote,
                        resume_config=resume_config, chdir_to_trial_dir=chdir_to_trial_dir)
    resume_request = _resume_request(resume)
    experiment = _experiment(run_or_experiment, name, options)
    tuner = _tuner(experiment, resume_request, resume, TuneConfig(
        metric=metric, mode=mode, search_alg=search_alg, scheduler=scheduler, num_samples=experiment.num_samples,
        max_concurrent_trials=max_concurrent_trials, time_budget_s=experiment.time_budget_s,
        reuse_actors=reuse_actors, trial_name_creator=experiment.trial_name_creator,
        trial_dirname_creator=experiment.trial_dirname_creator,
    ), RunConfig(
        name=experiment.name, storage_path=experiment.storage_path, storage_filesystem=experiment.storage_filesystem,
        stop=experiment.stop, callbacks=callbacks,
        failure_config=FailureConfig(max_failures=experiment.max_failures, fail_fast=fail_fast),
        checkpoint_config=experiment.checkpoint_config, sync_config=experiment.sync_config,
        verbose=2 if verbose is None else int(verbose), progress_reporter=progress_reporter,
        log_to_file=experiment.log_to_file,
    ))
    results = tuner.fit()
    analysis = ExperimentAnalysis(results.experiment_path, storage_filesystem=experiment.storage_filesystem,
                                  default_metric=metric, default_mode=mode)
    _raise_on_failed(analysis.trials, raise_on_failed_trial and not analysis._interrupted)
    return analysis


def run_experiments(
    experiments: Experiment | dict[str, Any] | list[Any],
    scheduler: Any = None,
    verbose: int | None = None,
    progress_reporter: Any = None,
    resume: bool | str | None = None,
    resume_config: Any = None,
    reuse_actors: bool = False,
    raise_on_failed_trial: bool = True,
    concurrent: bool = True,
    callbacks: list[Any] | None = None,
    _remote: bool | None = None,
) -> list[Trial]:
    """Run several experiments, given as Experiments or ``{name: spec}`` dicts; return all their trials.

    The experiments run one after another, each through :func:`run`, whatever
    ``concurrent`` says (Ray Tune runs them in one loop when it is True). Ctrl-C stops
    the current experiment and skips the rest.

    Args:
        experiments: An :class:`Experiment`, a dict ``{name: spec dict}`` (see
            :meth:`Experiment.from_json`), or a list of these.
        scheduler, verbose, progress_reporter, resume, reuse_actors, callbacks: As in
            :func:`run`, for every experiment.
        raise_on_failed_trial: After all experiments ran, raise
            ``TuneError("Trials did not complete", [trials])`` if a trial errored.
        concurrent: Accepted; the experiments run one after another either way.

    Returns:
        The trials of all experiments, in order.

    Raises:
        TuneError: a failed trial (see above), or a bad spec.

    Example:
        >>> import tunesmith as tune
        >>> def objective(config):
        ...     return {"score": config["a"]}
        >>> trials = tune.run_experiments({"doc_a": {"run": objective, "config": {"a": 1},
        ...                                          "storage_path": "/tmp/tunesmith_doctest"}}, verbose=0)
        >>> [t.last_result["score"] for t in trials]
        [1]
    """
    trials: list[Trial] = []
    interrupted = False
    for experiment in _as_experiments(experiments):
        analysis = run(experiment, scheduler=scheduler, verbose=verbose, progress_reporter=progress_reporter,
                       resume=resume, resume_config=resume_config, reuse_actors=reuse_actors,
                       raise_on_failed_trial=False, callbacks=callbacks, _remote=_remote)
        trials.extend(analysis.trials)
        interrupted = analysis._interrupted
        if interrupted:
            break
    _raise_on_failed(trials, raise_on_failed_trial and not interrupted)
    return trials


def _raise_on_failed(trials: list[Trial], should_raise: bool) -> None:
    failed = [trial for trial in trials if trial.status is TrialStatus.ERROR]
    if failed and should_raise:
        raise TuneError("Trials did not complete", failed)


def _tuner(experiment: Experiment, request: _Resume | None, resume: Any,
           tune_config: TuneConfig, run_config: RunConfig) -> Tuner:
    """A Tuner for the experiment: restored when ``resume`` asks for it and the experiment exists."""
    if request is not None and Tuner.can_restore(experiment.path, experiment.storage_filesystem):
        return Tuner.restore(
            experiment.path, experiment.trainable, resume_unfinished=request.unfinished,
            resume_errored=request.errored, restart_errored=request.restart_errored,
            param_space=experiment.config or None,
            storage_filesystem=experiment.storage_filesystem, num_samples=experiment.num_samples,
            time_budget_s=experiment.time_budget_s, stop=experiment.stop,
        )
    if request is not None and request.must_exist:
        raise ValueError(
            f"resume={resume!r}: there is no experiment to resume at {experiment.path}. Check name= and "
            "storage_path=, or pass resume='AUTO' to start the experiment when it does not exist"
        )
    return Tuner(experiment.trainable, param_space=experiment.config, tune_config=tune_config, run_config=run_config)


def _experiment(run_or_experiment: Any, name: str | None, options: dict[str, Any]) -> Experiment:
    """tune.run's first argument as an Experiment, with tune.run's own arguments added.

    Raises:
        ValueError: an argument given both to tune.run and in the Experiment, or a list of
            several experiments.
    """
    if isinstance(run_or_experiment, list):
        if len(run_or_experiment) != 1:
            raise ValueError(
                f"tune.run takes one experiment, got a list of {len(run_or_experiment)}; "
                "run several with tune.run_experiments([...])"
            )
        run_or_experiment = run_or_experiment[0]
    if not isinstance(run_or_experiment, Experiment):
        return Experiment(name, run_or_experiment, **options)
    experiment = run_or_experiment
    clashes = sorted(set(options) & set(experiment._options))
    if name is not None and name != experiment.name:
        clashes.insert(0, "name")
    if clashes:
        raise ValueError(
            f"tune.run got {', '.join(clashes)} both as arguments and in Experiment {experiment.name!r}, which has "
            f"its own; set {'it' if len(clashes) == 1 else 'each'} in one place"
        )
    return experiment._with(options) if options else experiment


def _as_experiments(experiments: Any) -> list[Experiment]:
    if isinstance(experiments, Experiment):
        return [experiments]
    if isinstance(experiments, dict):
        return [Experiment.from_json(name, spec) for name, spec in experiments.items()]
    if isinstance(experiments, (list, tuple)):
        return [e for item in experiments for e in _as_experiments(item)]
    raise TuneError(
        "experiments must be an Experiment, a dict {name: spec}, or a list of those; "
        f"got {type(experiments).__name__}"
    )


def _resume_request(resume: Any) -> _Resume | None:
    """What ``resume`` asks for; None to start afresh.

    Raises:
        ValueError: an unknown value, naming the valid ones.
    """
    if resume is None or resume is False:
        return None
    text = "AUTO" if resume is True else resume
    if not isinstance(text, str):
        raise ValueError(f"resume must be one of {_VALID_RESUME}; got {resume!r}")
    base, _, suffix = text.upper().partition("+")
    if base == "ERRORED_ONLY" and not suffix:
        _deprecated("resume='ERRORED_ONLY'", "resume='AUTO+RESTART_ERRORED_ONLY'")
        return _Resume(False, False, True, must_exist=True)
    if base not in ("AUTO", "LOCAL", "REMOTE") or suffix not in _RESUME_SUFFIXES:
        raise ValueError(f"resume must be one of {_VALID_RESUME}; got {resume!r}")
    if base != "AUTO":
        _deprecated(f"resume={base!r}", "resume='AUTO' (which also starts the experiment when there is none)")
    return _RESUME_SUFFIXES[suffix]._replace(must_exist=base != "AUTO")


def _reject_unsupported(**arguments: Any) -> None:
    """Raise for arguments this build does not support, each with what to do instead."""
    reasons = {
        "with_server": "tunesmith has no TuneServer/TuneClient REST API; read a running experiment with "
                       "tune.ExperimentAnalysis(path) instead",
        "server_port": "tunesmith has no TuneServer/TuneClient REST API; read a running experiment with "
                       "tune.ExperimentAnalysis(path) instead",
        "_remote": "there is no Ray Client: the experiment runs in this process",
        "resume_config": "pass resume='AUTO+ERRORED' (or another resume= value), or use tune.Tuner.restore(...)",
        "chdir_to_trial_dir": "it was removed from Ray Tune; set the environment variable RAY_CHDIR_TO_TRIAL_DIR=0",
        "export_formats": "export the model from the trainable itself (e.g. in Trainable.cleanup)",
        "restore": "load that checkpoint in the trainable (e.g. pass its path in config), or resume the "
                   "experiment with resume='AUTO'",
    }
    for name, value in arguments.items():
        unset = value == "DEPRECATED" if name == "chdir_to_trial_dir" else value in (None, False, [], ())
        if not unset:
            raise ValueError(f"{name}={value!r} is not supported by tunesmith: {reasons[name]}")


def _given(name: str, value: Any) -> bool:
    default = _EXPERIMENT_DEFAULTS[name]
    if default is None:
        return value is not None
    return not (type(value) is type(default) and value == default)


def _deprecated(old: str, new: str) -> None:
    # FutureWarning, not DeprecationWarning: Python hides the latter outside __main__, and
    # these are meant for the person porting the program.
    warnings.warn(f"{old} is deprecated in Ray Tune; use {new}. tunesmith maps it for now", FutureWarning,
                  stacklevel=_caller_level())


def _caller_level() -> int:
    """The ``stacklevel`` of the first frame outside tunesmith, seen from the function calling this one."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    return level


def _config_dict(config: Any) -> dict[str, Any]:
    if config is not None and hasattr(config, "to_dict") and not isinstance(config, dict):
        config = config.to_dict()
    if config is not None and not isinstance(config, dict):
        raise ValueError(f"config must be a dict (the search space), got {type(config).__name__}")
    return copy.deepcopy(config or {})


def _storage_root(storage_path: Any, local_dir: Any) -> Any:
    if local_dir is None:
        return storage_path
    if storage_path is not None:
        raise ValueError("local_dir is Ray Tune's old name for storage_path; pass only storage_path")
    _deprecated("local_dir", "storage_path")
    return local_dir


def _checkpoint_config(config: Any, *, checkpoint_freq: int, checkpoint_at_end: bool,
                       keep_checkpoints_num: int | None, checkpoint_score_attr: str | None) -> CheckpointConfig | None:
    """``checkpoint_config`` with Ray's deprecated checkpoint arguments mapped onto it (each warns)."""
    if isinstance(config, dict):
        config = CheckpointConfig(**config)
    if config is not None and not isinstance(config, CheckpointConfig):
        raise TypeError(f"checkpoint_config must be a tunesmith.CheckpointConfig or a dict, got {type(config).__name__}")
    changes: dict[str, Any] = {}
    if checkpoint_freq:
        _deprecated("checkpoint_freq", "checkpoint_config=CheckpointConfig(checkpoint_frequency=...)")
        changes["checkpoint_frequency"] = checkpoint_freq
    if checkpoint_at_end:
        _deprecated("checkpoint_at_end", "checkpoint_config=CheckpointConfig(checkpoint_at_end=True)")
        changes["checkpoint_at_end"] = True
    if keep_checkpoints_num is not None:
        _deprecated("keep_checkpoints_num", "checkpoint_config=CheckpointConfig(num_to_keep=...)")
        changes["num_to_keep"] = keep_checkpoints_num
    if checkpoint_score_attr is not None:
        _deprecated("checkpoint_score_attr", "checkpoint_config=CheckpointConfig(checkpoint_score_attribute=..., "
                    "checkpoint_score_order=...)")
        is_min = checkpoint_score_attr.startswith("min-")
        changes["checkpoint_score_attribute"] = checkpoint_score_attr[4:] if is_min else checkpoint_score_attr
        changes["checkpoint_score_order"] = "min" if is_min else "max"
    if not changes:
        return config
    return dataclasses.replace(config or CheckpointConfig(), **changes)


def _with_resources_per_trial(trainable: Any, resources: Any) -> Any:
    """The trainable with ``resources_per_trial`` attached.

    Raises:
        ValueError: the trainable already sets its own resources.
    """
    if resources is None:
        return trainable
    own_request = inspect.isclass(trainable) and issubclass(trainable, Trainable) and (
        trainable.default_resource_request.__func__ is not Trainable.default_resource_request.__func__)
    if resource_request_of(trainable) is not None or own_request:
        raise ValueError(
            f"the trainable {trainable_name(trainable)!r} already sets its resources (tune.with_resources or "
            "default_resource_request); drop resources_per_trial, or that"
        )
    return with_resources(trainable, resources)
