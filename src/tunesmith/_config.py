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
        if self.num_to_keep is not None and not isinstance(self.num_to_keep, int):
            raise ArgumentTypeError(f"num_to_keep must be None or an int >= 1, got {self.num_to_keep!r}")
        if self.num_to_keep is not None and self.num_to_keep < 1:
            raise ValueError(f"num_to_keep must be None or an int >= 1, got {self.num_to_keep!r}")
        if self.checkpoint_score_order not in _MODES:
            raise ValueError(f"checkpoint_score_order must be 'max' or 'min', got {self.checkpoint_score_order!r}")
        if not isinstance(self.checkpoint_frequency, int):
            raise ArgumentTypeError(f"checkpoint_frequency must be an int >= 0, got {self.checkpoint_frequency!r}")
        if self.checkpoint_frequency < 0:
            raise ValueError(f"checkpoint_frequency must be an int >= 0, got {self.checkpoint_frequency!r}")


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
        if not isinstance(self.max_failures, int) or self.max_failures < -1:
            raise ValueError(f"max_failures must be an int >= -1, got {self.max_failures!r}")
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
        check_mode(self.mode)
        if self.metric is not None and self.mode is None:
            raise ValueError(f"metric={self.metric!r} needs a mode: pass mode='min' or mode='max'")
        if not isinstance(self.num_samples, int) or isinstance(self.num_samples, bool):
            raise ValueError(f"num_samples must be an int, got {self.num_samples!r}")
        if self.num_samples == 0 or self.num_samples < -1:
            raise ValueError(f"num_samples must be >= 1, or -1 for no limit; got {self.num_samples}")
        if self.max_concurrent_trials is not None and self.max_concurrent_trials < 0:
            raise ValueError(f"max_concurrent_trials must be >= 0, got {self.max_concurrent_trials}")
        budget = self.time_budget_s
        if isinstance(budget, datetime.timedelta):
            budget = budget.total_seconds()
        if budget is not None and budget <= 0:
            raise ValueError(f"time_budget_s must be > 0, got {self.time_budget_s!r}")


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
        if self.verbose is not None and self.verbose not in (0, 1, 2, 3):
            raise ValueError(f"verbose must be 0, 1, 2 or 3, got {self.verbose!r}")
        if self.name is not None and (not isinstance(self.name, str) or not self.name or "/" in self.name):
            raise ValueError(f"name must be a folder name without '/', got {self.name!r}")
        if self.stop is not None:
            from tunesmith.stopper._build import build_stopper

            build_stopper(self.stop)  # bad criteria or a stop function with the wrong signature fail here
        if self.callbacks is not None and not isinstance(self.callbacks, (list, tuple)):
            raise ValueError(f"callbacks must be a list of Callback objects, got {type(self.callbacks).__name__}")
