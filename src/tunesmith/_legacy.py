"""Ray Tune's legacy entry points: ``tune.run``, ``tune.run_experiments`` and ``tune.Experiment``.

A thin layer over :class:`tunesmith.Tuner`: the arguments become a ``TuneConfig`` and a
``RunConfig`` and ``Tuner(...).fit()`` runs the experiment, or ``Tuner.restore(...).fit()``
when ``resume`` finds one to continue. There is no second way of running trials.
"""

from __future__ import annotations

import datetime
import os
from typing import Any, Callable, NamedTuple

from tunesmith._analysis import ExperimentAnalysis
from tunesmith._config import CheckpointConfig, FailureConfig, RunConfig, SyncConfig, TuneConfig
from tunesmith.error import TuneError
from tunesmith.experiment._experiment import (
    _EXPERIMENT_DEFAULTS,
    Experiment,
    _deprecated,
    _given,
    _reject_unsupported,
)
from tunesmith.experiment._trial import Trial, TrialStatus
from tunesmith.tuner import Tuner

__all__ = ["Experiment", "run", "run_experiments"]



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
        reuse_actors: As in ``TuneConfig``.
        callbacks: As in ``RunConfig``.
        max_concurrent_trials: As in ``TuneConfig``.
        progress_reporter: As in ``RunConfig``.
        keep_checkpoints_num: Deprecated in Ray Tune; mapped (see :class:`Experiment`) with
            a ``FutureWarning``, as are ``checkpoint_score_attr``, ``checkpoint_freq``,
            ``checkpoint_at_end`` and ``local_dir``.
        chdir_to_trial_dir: Not supported, nor are ``with_server``, ``server_port``,
            ``_remote``, ``export_formats``, ``restore`` and ``resume_config``: a value
            other than the default raises.

    The other arguments are as in :class:`Experiment`.

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
        scheduler: As in :func:`run`, for every experiment; so are ``verbose``,
            ``progress_reporter``, ``resume``, ``reuse_actors`` and ``callbacks``.
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

