"""Experiment configuration: ``TuneConfig``, ``RunConfig`` and the configs inside them.

All are keyword-only frozen dataclasses; a bad value fails when the config is built.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
from typing import Any, Callable

from tunesmith.error import ArgumentTypeError

__all__ = ["CheckpointConfig", "FailureConfig", "RunConfig", "SyncConfig", "TuneConfig"]

_MODES = ("min", "max")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_int(name: str, value: Any, low: int, *, optional: bool = False, rule: str = "") -> None:
    """Raise TypeError unless ``value`` is an int (None too if ``optional``), ValueError if below ``low``."""
    if value is None and optional:
        return
    rule = rule or f"an int >= {low}" + (" or None" if optional else "")
    if not _is_int(value):
        raise ArgumentTypeError(f"{name} must be {rule}, got {type(value).__name__} {value!r}")
    if value < low:
        raise ValueError(f"{name} must be {rule}, got {value!r}")


def _check_bool(name: str, value: Any, *, optional: bool = False) -> None:
    if not isinstance(value, bool) and not (optional and value is None):
        rule = "True, False or None" if optional else "True or False"
        raise ArgumentTypeError(f"{name} must be {rule}, got {type(value).__name__} {value!r}")


def _check_callable(name: str, value: Any, signature: str) -> None:
    if value is not None and not callable(value):
        raise ArgumentTypeError(f"{name} must be a function {signature} or None, got {type(value).__name__} {value!r}")


def _check_names(name: str, value: Any) -> None:
    """None, a non-empty string, or a non-empty list of them (metric names)."""
    names = value if isinstance(value, list) else [value]
    if value is None:
        return
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ArgumentTypeError(f"{name} must be a metric name (a non-empty str) or a list of them, got {value!r}")


def _check_instance(name: str, value: Any, kind: type, what: str) -> None:
    if value is not None and not isinstance(value, kind):
        raise ArgumentTypeError(f"{name} must be a {what} or None, got {type(value).__name__} {value!r}")


def check_mode(mode: Any, where: str = "mode") -> None:
    """Raise ValueError unless ``mode`` is None, "min" or "max" (or a list of those)."""
    modes = mode if isinstance(mode, list) else [mode]
    for m in modes:
        if m is not None and m not in _MODES:
            raise ValueError(f"{where} must be 'min' or 'max', got {m!r}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class CheckpointConfig:
    """Which checkpoints to keep, and when class trainables save them.

    Args:
        num_to_keep: Keep this many best checkpoints (plus the latest); None keeps all.
        checkpoint_score_attribute: Metric that ranks checkpoints; None ranks by recency.
        checkpoint_score_order: ``"max"`` or ``"min"``.
        checkpoint_frequency: Class trainables save every N iterations (0: never).
        checkpoint_at_end: Class trainables save when they end (default True for classes).
    """

    num_to_keep: int | None = None
    checkpoint_score_attribute: str | None = None
    checkpoint_score_order: str = "max"
    checkpoint_frequency: int = 0
    checkpoint_at_end: bool | None = None

    def __post_init__(self) -> None:
        if self.num_to_keep is not None and not _is_int(self.num_to_keep):
            raise ArgumentTypeError(f"num_to_keep must be None or an int >= 1, got {self.num_to_keep!r}")
        if self.num_to_keep is not None and self.num_to_keep < 1:
            raise ValueError(f"num_to_keep must be None or an int >= 1, got {self.num_to_keep!r}")
        if self.checkpoint_score_attribute is not None and (
                not isinstance(self.checkpoint_score_attribute, str) or not self.checkpoint_score_attribute):
            raise ArgumentTypeError(
                "checkpoint_score_attribute must be a metric name (a non-empty str) or None, "
                f"got {self.checkpoint_score_attribute!r}"
            )
        if not isinstance(self.checkpoint_score_order, str) or self.checkpoint_score_order not in _MODES:
            raise ValueError(f"checkpoint_score_order must be 'max' or 'min', got {self.checkpoint_score_order!r}")
        if not _is_int(self.checkpoint_frequency):
            raise ArgumentTypeError(f"checkpoint_frequency must be an int >= 0, got {self.checkpoint_frequency!r}")
        if self.checkpoint_frequency < 0:
            raise ValueError(f"checkpoint_frequency must be an int >= 0, got {self.checkpoint_frequency!r}")
        _check_bool("checkpoint_at_end", self.checkpoint_at_end, optional=True)


@dataclasses.dataclass(frozen=True, kw_only=True)
class FailureConfig:
    """What happens when a trial fails.

    Args:
        max_failures: Retries per trial, from its latest checkpoint; -1 retries forever.
        fail_fast: True stops the whole experiment at the first failure; ``"raise"`` also
            re-raises the trial's own exception from ``fit()``.
    """

    max_failures: int = 0
    fail_fast: bool | str = False

    def __post_init__(self) -> None:
        if not _is_int(self.max_failures) or self.max_failures < -1:
            raise ValueError(f"max_failures must be an int >= -1, got {self.max_failures!r}")
        if not isinstance(self.fail_fast, (bool, str)):
            raise ArgumentTypeError(
                f"fail_fast must be True, False or 'raise', got {type(self.fail_fast).__name__} {self.fail_fast!r}"
            )
        if isinstance(self.fail_fast, str):
            if self.fail_fast.lower() != "raise":
                raise ValueError(f"fail_fast must be True, False or 'raise', got {self.fail_fast!r}")
            object.__setattr__(self, "fail_fast", "raise")
        if self.fail_fast and self.max_failures != 0:
            raise ValueError("fail_fast cannot be combined with max_failures != 0: choose one")


@dataclasses.dataclass(frozen=True, kw_only=True)
class SyncConfig:
    """Accepted for compatibility: trial processes write to storage directly, so there is nothing to sync."""

    sync_period: int = 300
    sync_timeout: int = 1800
    sync_artifacts: bool = False
    sync_artifacts_on_checkpoint: bool = True

    def __post_init__(self) -> None:
        for name in ("sync_period", "sync_timeout"):
            value = getattr(self, name)
            if not _is_number(value) or value < 0 or value != value:
                raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
        _check_bool("sync_artifacts", self.sync_artifacts)
        _check_bool("sync_artifacts_on_checkpoint", self.sync_artifacts_on_checkpoint)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TuneConfig:
    """How to search: metric, mode, search algorithm, scheduler, how many trials.

    Args:
        metric: The metric to optimise (as reported by the trainable).
        mode: ``"min"`` or ``"max"``.
        search_alg: A ``Searcher`` or ``SearchAlgorithm``; default ``BasicVariantGenerator``.
        scheduler: A ``TrialScheduler``; default ``FIFOScheduler``.
        num_samples: Times to sample the space (or repeat the grid); -1 runs until a
            stopper, ``time_budget_s`` or the searcher ends the run.
        max_concurrent_trials: At most this many trials at once (None or 0: no limit).
        time_budget_s: Stop everything after this many seconds.
        reuse_actors: Reuse class trainables through ``reset_config``.
        trial_name_creator: ``f(trial) -> str`` naming trials.
        trial_dirname_creator: ``f(trial) -> str`` naming trial folders.
        executor: Where trials run (default: local processes, see ``tunesmith.init``).
    """

    mode: str | list[str] | None = None
    metric: str | list[str] | None = None
    search_alg: Any = None
    scheduler: Any = None
    num_samples: int = 1
    max_concurrent_trials: int | None = None
    time_budget_s: float | datetime.timedelta | None = None
    reuse_actors: bool = False
    trial_name_creator: Callable[[Any], str] | None = None
    trial_dirname_creator: Callable[[Any], str] | None = None
    executor: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.mode, (str, list, type(None))):
            raise ArgumentTypeError(f"mode must be 'min' or 'max' (or a list of them), got {type(self.mode).__name__} {self.mode!r}")
        check_mode(self.mode)
        _check_names("metric", self.metric)
        if self.metric is not None and self.mode is None:
            raise ValueError(f"metric={self.metric!r} needs a mode: pass mode='min' or mode='max'")
        if not isinstance(self.num_samples, int) or isinstance(self.num_samples, bool):
            raise ValueError(f"num_samples must be an int, got {self.num_samples!r}")
        if self.num_samples == 0 or self.num_samples < -1:
            raise ValueError(f"num_samples must be >= 1, or -1 for no limit; got {self.num_samples}")
        _check_int("max_concurrent_trials", self.max_concurrent_trials, 0, optional=True,
                   rule="an int >= 0 (0 or None: no limit)")
        _check_budget(self.time_budget_s)
        _check_bool("reuse_actors", self.reuse_actors)
        _check_callable("trial_name_creator", self.trial_name_creator, "f(trial) -> str")
        _check_callable("trial_dirname_creator", self.trial_dirname_creator, "f(trial) -> str")
        self._check_plugins()

    def _check_plugins(self) -> None:
        from tunesmith.execution._executor import Executor
        from tunesmith.schedulers import TrialScheduler
        from tunesmith.search import SearchAlgorithm, Searcher

        if self.search_alg is not None and not isinstance(self.search_alg, (str, Searcher, SearchAlgorithm)):
            raise ArgumentTypeError(
                "search_alg must be a tunesmith Searcher (e.g. OptunaSearch()), a SearchAlgorithm, a searcher "
                f"name (e.g. 'optuna') or None, got {type(self.search_alg).__name__} {self.search_alg!r}"
            )
        if self.scheduler is not None and not isinstance(self.scheduler, (str, TrialScheduler)):
            raise ArgumentTypeError(
                "scheduler must be a tunesmith TrialScheduler (e.g. ASHAScheduler()), a scheduler name "
                f"(e.g. 'asha') or None, got {type(self.scheduler).__name__} {self.scheduler!r}"
            )
        _check_instance("executor", self.executor, Executor, "tunesmith Executor (e.g. LocalExecutor())")


def _check_budget(budget: Any) -> None:
    seconds = budget.total_seconds() if isinstance(budget, datetime.timedelta) else budget
    if seconds is None:
        return
    if not _is_number(seconds):
        raise ArgumentTypeError(
            f"time_budget_s must be a number of seconds > 0, a datetime.timedelta or None, "
            f"got {type(budget).__name__} {budget!r}"
        )
    if not seconds > 0:  # NaN too
        raise ValueError(f"time_budget_s must be > 0, got {budget!r}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Where results go and how trials stop, fail and report.

    Args:
        name: Experiment folder name (default ``<trainable>_<date>``).
        storage_path: Root folder (default ``~/tunesmith_results``).
        stop: A dict ``{"metric": threshold}``, a ``Stopper``, a function
            ``(trial_id, result) -> bool``, or a list of Stoppers.
        callbacks: ``Callback`` objects.
        failure_config: Retries and fail-fast.
        checkpoint_config: Checkpoint retention and frequency.
        sync_config: Accepted for compatibility.
        verbose: 0 silent (errors only), 1 status table and summary, 2 also each trial's
            end, 3 also each result.
        progress_reporter: A ``ProgressReporter`` to use instead of the default output.
        log_to_file: Accepted for compatibility.
    """

    name: str | None = None
    storage_path: str | os.PathLike | None = None
    storage_filesystem: Any = None
    stop: Any = None
    callbacks: list[Any] | None = None
    failure_config: FailureConfig | None = None
    checkpoint_config: CheckpointConfig | None = None
    sync_config: SyncConfig | None = None
    verbose: int | None = None
    progress_reporter: Any = None
    log_to_file: Any = False

    def __post_init__(self) -> None:
        # a bool is a verbosity too (Ray's own examples pass verbose=False)
        if self.verbose is not None and (not isinstance(self.verbose, int) or self.verbose not in (0, 1, 2, 3)):
            raise ValueError(f"verbose must be 0, 1, 2 or 3, got {self.verbose!r}")
        if self.name is not None and (not isinstance(self.name, str) or not self.name or "/" in self.name
                                      or os.sep in self.name or self.name in (".", "..")):
            raise ValueError(f"name must be a folder name without '/' (not '.' or '..'), got {self.name!r}")
        if self.storage_path is not None and (not isinstance(self.storage_path, (str, os.PathLike))
                                              or not os.fspath(self.storage_path)):
            raise ArgumentTypeError(f"storage_path must be a folder path or URL (str), got {self.storage_path!r}")
        self._check_stop()
        self._check_callbacks()
        _check_instance("failure_config", self.failure_config, FailureConfig, "tunesmith.FailureConfig")
        _check_instance("checkpoint_config", self.checkpoint_config, CheckpointConfig, "tunesmith.CheckpointConfig")
        _check_instance("sync_config", self.sync_config, SyncConfig, "tunesmith.SyncConfig")
        self._check_reporting()

    def _check_stop(self) -> None:
        from tunesmith.stopper import Stopper
        from tunesmith.stopper._build import build_stopper

        if isinstance(self.stop, (list, tuple)):
            for i, stopper in enumerate(self.stop):
                if not isinstance(stopper, Stopper):
                    raise ArgumentTypeError(f"stop as a list must hold Stoppers; item {i} is {type(stopper).__name__} {stopper!r}")
        if self.stop is not None:
            build_stopper(self.stop)  # bad criteria or a stop function with the wrong signature fail here

    def _check_callbacks(self) -> None:
        from tunesmith.callback import Callback

        if self.callbacks is not None and not isinstance(self.callbacks, (list, tuple)):
            raise ValueError(f"callbacks must be a list of Callback objects, got {type(self.callbacks).__name__}")
        for callback in self.callbacks or ():
            if not isinstance(callback, Callback):
                raise ArgumentTypeError(f"callbacks must be tunesmith.Callback instances, got {type(callback).__name__}")

    def _check_reporting(self) -> None:
        from tunesmith.execution._capture import log_files
        from tunesmith.progress_reporter import ProgressReporter

        _check_instance("progress_reporter", self.progress_reporter, ProgressReporter,
                        "tunesmith ProgressReporter (e.g. CLIReporter())")
        log_files(self.log_to_file)  # raises ValueError naming ``log_to_file``
