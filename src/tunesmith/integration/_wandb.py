"""Weights & Biases: ``WandbLoggerCallback`` on the driver, ``setup_wandb`` inside a trainable.

Ray Tune logs each trial from a separate process. Here each trial gets a thread that owns
one W&B run (``wandb.init(reinit="create_new")`` allows several runs in one process), so
a slow upload or a W&B error never holds up the controller loop. The thread finishes its
run when the trial ends; the callback waits for every run to finish, up to
``upload_timeout`` seconds, when the experiment ends.
"""

from __future__ import annotations

import atexit
import logging
import numbers
import os
import queue
import threading
import time
from typing import TYPE_CHECKING, Any

from tunesmith._flatten import flatten_dict
from tunesmith._imports import try_import
from tunesmith.integration._noop import NoopModule
from tunesmith.logger._logger import LoggerCallback

if TYPE_CHECKING:
    from tunesmith.experiment._trial import Trial

__all__ = ["WandbLoggerCallback", "setup_wandb"]

logger = logging.getLogger("tunesmith")
_INIT_LOCK = threading.Lock()

# Results keys that describe the trial rather than measure it: they go to the run's config.
_AUTO_CONFIG_KEYS = ("trial_id", "experiment_tag", "node_ip", "experiment_id", "hostname", "pid", "date")
_EXCLUDED_RESULTS = ("done", "should_checkpoint", "checkpoint_dir_name")
_last_trial_run: dict[str, Any] = {}  # in a trial process: the run setup_wandb started last


def _import_wandb(needed_by: str) -> Any:
    return try_import("wandb", extra="wandb", needed_by=needed_by)


def _read_api_key(api_key: str | None, api_key_file: str | None) -> str | None:
    if api_key and api_key_file:
        raise ValueError("pass either api_key or api_key_file to W&B, not both")
    if not api_key_file:
        return api_key or None
    path = os.path.expanduser(api_key_file)
    try:
        with open(path) as f:
            return f.readline().strip() or None
    except OSError as exc:
        raise ValueError(f"the W&B api_key_file {path!r} cannot be read: {exc.strerror or exc}") from None


def _with_api_key(init_kwargs: dict[str, Any], api_key: str | None) -> dict[str, Any]:
    """``wandb.init`` arguments carrying the key in ``settings`` (no process-wide login)."""
    if not api_key:
        return init_kwargs
    settings = init_kwargs.get("settings")
    if settings is None or isinstance(settings, dict):
        settings = {**(settings or {}), "api_key": api_key}
    else:
        settings = settings.model_copy(update={"api_key": api_key})
    return {**init_kwargs, "settings": settings}


def _without_console_capture(init_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Runs made on the driver must not capture its console: it is not the trial's output."""
    settings = init_kwargs.get("settings")
    if settings is None or isinstance(settings, dict):
        return {**init_kwargs, "settings": {"console": "off", **(settings or {})}}
    return init_kwargs


def _starts_with_any(key: str, prefixes: tuple[str, ...]) -> bool:
    return any(key == p or key.startswith(p + "/") for p in prefixes)


class WandbLoggerCallback(LoggerCallback):
    """Logs each trial to Weights & Biases as a run.

    The run's id is the trial id, its name the trial name, its group the experiment name
    (unless ``group`` is given) and its config the trial's config. Every number and text
    value of each result is logged at step ``training_iteration`` (nested keys flattened
    with ``/``); 3-, 4- and 5-dimensional arrays become images and videos. Fields that
    describe the trial (``trial_id``, ``hostname``, ``pid``...) go to the config instead.
    A value W&B cannot take is left out with one warning per key.

    Args:
        project: W&B project. None uses W&B's default (``WANDB_PROJECT``).
        group: W&B group (default: the experiment's name).
        api_key_file: A file whose first line is the W&B API key.
        api_key: The W&B API key. Without either, W&B's own login is used.
        excludes: Result keys (or key prefixes) not to log.
        log_config: Also log the config as part of every result.
        upload_checkpoints: Upload each checkpoint as a W&B artifact.
        save_checkpoints: Deprecated name of ``upload_checkpoints``.
        upload_timeout: Seconds to wait, when the experiment ends, for runs to finish
            uploading.
        video_kwargs: Arguments for ``wandb.Video`` (4-/5-dimensional arrays).
        image_kwargs: Arguments for ``wandb.Image`` (3-dimensional arrays).
        **kwargs: Passed to ``wandb.init`` (``mode="offline"``, ``entity``, ``tags``...).

    Raises:
        ImportError: wandb is not installed (``pip install "tunesmith[wandb]"``).
        ValueError: Both ``api_key`` and ``api_key_file`` are given.

    Example:
        >>> from tunesmith.integration.wandb import WandbLoggerCallback
        >>> callback = WandbLoggerCallback(project="demo", mode="offline")  # doctest: +SKIP
    """

    def __init__(
        self,
        project: str | None = None,
        group: str | None = None,
        api_key_file: str | None = None,
        api_key: str | None = None,
        excludes: list[str] | None = None,
        log_config: bool = False,
        upload_checkpoints: bool = False,
        save_checkpoints: bool = False,
        upload_timeout: int = 1800,
        video_kwargs: dict | None = None,
        image_kwargs: dict | None = None,
        **kwargs: Any,
    ) -> None:
        self._wandb = _import_wandb("WandbLoggerCallback")
        if api_key and api_key_file:
            raise ValueError("pass either api_key or api_key_file to WandbLoggerCallback, not both")
        if save_checkpoints:
            logger.warning("WandbLoggerCallback(save_checkpoints=...) is deprecated; use upload_checkpoints=...")
        self.project = project
        self.group = group
        self.api_key_file = api_key_file
        self.api_key = api_key
        self.excludes = list(excludes or [])
        self.log_config = log_config
        self.upload_checkpoints = upload_checkpoints or save_checkpoints
        self.upload_timeout = upload_timeout
        self.video_kwargs = dict(video_kwargs or {})
        self.image_kwargs = dict(image_kwargs or {})
        self.kwargs = kwargs
        self._runs: dict[str, _TrialRun] = {}
        self._ended: list[_TrialRun] = []
        self._warned: set[str] = set()
        self._key: str | None = None
        self._key_read = False

    # -- Callback hooks -----------------------------------------------------------------------
    def setup(self, *args: Any, **info: Any) -> None:
        self._api_key()

    def log_trial_start(self, trial: Trial) -> None:
        if trial.trial_id in self._runs:
            return  # a retry continues the same run
        run = _TrialRun(trial, _with_api_key(self._init_kwargs(trial), self._api_key()))
        self._runs[trial.trial_id] = run
        atexit.register(run.finish_and_wait, 10.0)

    def log_trial_result(self, iteration: int, trial: Trial, result: dict) -> None:
        if trial.trial_id not in self._runs:
            self.log_trial_start(trial)
        values, config_update = self._sorted_result(result)
        self._runs[trial.trial_id].log(values, config_update, result.get("training_iteration"))

    def log_trial_save(self, trial: Trial) -> None:
        run = self._runs.get(trial.trial_id)
        if self.upload_checkpoints and run is not None and trial.checkpoint is not None:
            run.upload_checkpoint(str(trial), trial.checkpoint.path)

    def log_trial_end(self, trial: Trial, failed: bool = False) -> None:
        run = self._runs.pop(trial.trial_id, None)
        if run is not None:
            run.finish(exit_code=1 if failed else 0)
            self._ended.append(run)

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        for trial_id in list(self._runs):
            run = self._runs.pop(trial_id)
            run.finish(exit_code=0)
            self._ended.append(run)
        deadline = time.monotonic() + self.upload_timeout
        for run in self._ended:
            atexit.unregister(run.finish_and_wait)
            run.wait(max(0.0, deadline - time.monotonic()))
        unfinished = [run.name for run in self._ended if run.is_alive()]
        self._ended.clear()
        if unfinished:
            logger.warning("WandbLoggerCallback: W&B runs of %s were still uploading after upload_timeout=%s s",
                           ", ".join(unfinished), self.upload_timeout)

    # -- helpers -------------------------------------------------------------------------------
    def _api_key(self) -> str | None:
        if not self._key_read:
            self._key = _read_api_key(self.api_key, self.api_key_file)
            self._key_read = True
        return self._key

    def _init_kwargs(self, trial: Trial) -> dict[str, Any]:
        config = {k: v for k, v in trial.config.items() if k != "callbacks"}
        experiment = os.path.basename(os.path.dirname(str(trial.path).rstrip("/"))) or None
        kwargs = dict(id=trial.trial_id, name=str(trial), resume="allow", reinit="create_new",
                      allow_val_change=True, project=self.project, group=self.group or experiment,
                      config=config, dir=trial.path)
        kwargs.update(self.kwargs)
        return _without_console_capture(kwargs)

    def _sorted_result(self, result: dict) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(values to log, config update)`` from one result."""
        excluded = (*_EXCLUDED_RESULTS, *self.excludes, *(() if self.log_config else ("config",)))
        values: dict[str, Any] = {}
        config_update: dict[str, Any] = {}
        for key, value in flatten_dict(result).items():
            if _starts_with_any(key, excluded):
                continue
            if key in _AUTO_CONFIG_KEYS:
                config_update[key] = value
                continue
            loggable = self._loggable(key, value)
            if loggable is not None:
                values[key] = loggable
        return values, config_update

    def _loggable(self, key: str, value: Any) -> Any:
        """The value as W&B takes it, or None (after one warning per key) when it cannot."""
        wandb = self._wandb
        if isinstance(value, (numbers.Number, str, wandb.data_types.WBValue)):
            return value
        shape = getattr(value, "shape", None)
        if shape is not None and hasattr(value, "dtype"):
            converted = self._array(value, len(tuple(shape)))
            if converted is not None:
                return converted
        if value is not None and key not in self._warned:
            self._warned.add(key)
            logger.warning("WandbLoggerCallback: result key %r is a %s, which W&B cannot log; it is left out "
                           "(warned once per key)", key, type(value).__name__)
        return None

    def _array(self, value: Any, ndim: int) -> Any:
        wandb = self._wandb
        if value.size == 1:
            return value.item()
        if ndim == 3:
            return wandb.Image(value, **self.image_kwargs)
        if ndim in (4, 5):
            return wandb.Video(value, **self.video_kwargs)
        return None


class _TrialRun:
    """One trial's W&B run, driven by its own thread through a queue."""

    def __init__(self, trial: Trial, init_kwargs: dict[str, Any]) -> None:
        self.name = str(trial)
        self._init_kwargs = init_kwargs
        self._queue: queue.Queue = queue.Queue()
        self._last_step = -1
        self._config: dict[str, Any] = {}
        self._finishing = False
        self._thread = threading.Thread(target=self._run, name=f"tunesmith-wandb-{trial.trial_id}", daemon=True)
        self._thread.start()

    # -- called on the controller thread --------------------------------------------------------
    def log(self, values: dict[str, Any], config_update: dict[str, Any], iteration: Any) -> None:
        step = iteration if isinstance(iteration, int) and iteration > self._last_step else None
        self._last_step = step if step is not None else self._last_step
        changed = {k: v for k, v in config_update.items() if self._config.get(k) != v}
        self._config.update(changed)
        self._queue.put(("log", values, changed, step))

    def upload_checkpoint(self, trial_name: str, path: str) -> None:
        self._queue.put(("artifact", trial_name, path))

    def finish(self, exit_code: int) -> None:
        if not self._finishing:
            self._finishing = True
            self._queue.put(("finish", exit_code))

    def finish_and_wait(self, timeout: float) -> None:
        self.finish(exit_code=0)
        self.wait(timeout)

    def wait(self, timeout: float) -> None:
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    # -- the thread -------------------------------------------------------------------------------
    def _run(self) -> None:
        wandb = _import_wandb("WandbLoggerCallback")
        try:
            with _INIT_LOCK:  # wandb.init is not safe to call from two threads at once
                run = wandb.init(**self._init_kwargs)
        except Exception as exc:
            logger.warning("WandbLoggerCallback: could not start the W&B run of trial %s (%s: %s); "
                           "it is not logged", self.name, type(exc).__name__, exc)
            run = None
        warned: set[str] = set()
        while True:
            op = self._queue.get()
            if run is None:
                if op[0] == "finish":
                    return
                continue
            try:
                if getattr(self, f"_op_{op[0]}")(wandb, run, *op[1:]):
                    return
            except Exception as exc:  # a logger must never stop the experiment
                if op[0] not in warned:
                    warned.add(op[0])
                    logger.warning("WandbLoggerCallback: W&B %s failed for trial %s: %s: %s",
                                   op[0], self.name, type(exc).__name__, exc)
                if op[0] == "finish":
                    return

    @staticmethod
    def _op_log(wandb: Any, run: Any, values: dict, config_update: dict, step: int | None) -> bool:
        if config_update:
            run.config.update(config_update, allow_val_change=True)
        if values:
            run.log(values, step=step)
        return False

    @staticmethod
    def _op_artifact(wandb: Any, run: Any, trial_name: str, path: str) -> bool:
        artifact = wandb.Artifact(name=f"checkpoint_{trial_name}", type="model")
        artifact.add_dir(path)
        run.log_artifact(artifact)
        return False

    @staticmethod
    def _op_finish(wandb: Any, run: Any, exit_code: int) -> bool:
        run.finish(exit_code=exit_code)
        return True


def setup_wandb(
    config: dict | None = None,
    api_key: str | None = None,
    api_key_file: str | None = None,
    rank_zero_only: bool = True,
    **kwargs: Any,
) -> Any:
    """Start a W&B run for this trial and return it.

    Call it inside a trainable. The run's id is the trial id, its name the trial name, its
    group the experiment name and its config ``config``, unless ``kwargs`` say otherwise.
    A run started by an earlier attempt in the same (reused) trial process is finished
    first; a retried trial resumes its run (same id).

    Args:
        config: The run's config (``"callbacks"`` is left out).
        api_key: The W&B API key.
        api_key_file: A file whose first line is the W&B API key.
        rank_zero_only: Only worker rank 0 logs; other ranks get a stand-in that does
            nothing (tunesmith trials have a single rank, so this is rank 0).
        **kwargs: Passed to ``wandb.init`` (``project``, ``group``, ``mode``...).

    Returns:
        The ``wandb`` run (``run.log({...})``).

    Raises:
        ImportError: wandb is not installed.
        ValueError: Both ``api_key`` and ``api_key_file`` are given, or the file cannot be read.

    Example:
        >>> def train(config):  # doctest: +SKIP
        ...     run = setup_wandb(config, project="demo", mode="offline")
        ...     run.log({"loss": 0.5})
    """
    wandb = _import_wandb("setup_wandb")
    from tunesmith.trainable import get_context

    context = get_context()
    if rank_zero_only and (getattr(context, "get_world_rank", lambda: 0)() or 0) != 0:
        return NoopModule()
    key = _read_api_key(api_key, api_key_file)
    trial_id = context.get_trial_id()
    trial_dir = context.get_trial_dir()
    init_kwargs = dict(id=trial_id, name=context.get_trial_name(), group=context.get_experiment_name(),
                       resume="allow" if trial_id else None, reinit="create_new", allow_val_change=True,
                       config={k: v for k, v in (config or {}).items() if k != "callbacks"})
    if trial_dir and "://" not in trial_dir:
        init_kwargs["dir"] = trial_dir  # W&B would keep the first trial's folder for the whole process
    init_kwargs.update(kwargs)
    previous = _last_trial_run.pop("run", None)
    if previous is not None:
        previous.finish()  # left by an earlier attempt in this reused trial process
    run = wandb.init(**_with_api_key(init_kwargs, key))
    _last_trial_run["run"] = run
    from tunesmith.trainable._session import at_attempt_end

    def finish(failed: bool) -> None:
        if _last_trial_run.get("run") is run:
            del _last_trial_run["run"]
            run.finish(exit_code=1 if failed else 0)

    at_attempt_end(finish)  # as when Ray ends the trial's actor
    return run
