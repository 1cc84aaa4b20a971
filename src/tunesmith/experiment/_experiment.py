"""``tunesmith.experiment.Experiment``: Ray Tune's legacy experiment spec, and the argument mapping it shares with ``tune.run``.

It imports no Tuner, so ``tunesmith.experiment`` stays a leaf: ``tune.run`` (in ``tunesmith._legacy``)
turns an ``Experiment`` into a ``Tuner``.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import inspect
import os
import sys
import warnings
from typing import TYPE_CHECKING, Any, Callable

import tunesmith
from tunesmith import _settings
from tunesmith._config import CheckpointConfig, SyncConfig
from tunesmith.error import TuneError
from tunesmith.storage._storage import date_str, unique_name
from tunesmith.trainable._registry import get_trainable, register_trainable
from tunesmith.trainable._resources import resource_request_of
from tunesmith.trainable._trainable import Trainable
from tunesmith.trainable._wrap import trainable_name, with_resources

if TYPE_CHECKING:
    from tunesmith.experiment._trial import Trial

__all__ = ["Experiment"]

# What an Experiment (and so tune.run) takes per experiment, with Ray Tune's defaults.
_EXPERIMENT_DEFAULTS: dict[str, Any] = {
    "stop": None, "time_budget_s": None, "config": None, "resources_per_trial": None, "num_samples": 1,
    "storage_path": None, "storage_filesystem": None, "sync_config": None, "checkpoint_config": None,
    "trial_name_creator": None, "trial_dirname_creator": None, "log_to_file": False, "export_formats": None,
    "max_failures": 0, "restore": None, "local_dir": None,
    # Deprecated in Ray Tune, which maps them onto CheckpointConfig (and so does tunesmith).
    "checkpoint_freq": 0, "checkpoint_at_end": False, "keep_checkpoints_num": None, "checkpoint_score_attr": None,
}


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
        self.config = _config_dict(config)
        self.stop = stop
        self.time_budget_s = time_budget_s
        self.resources_per_trial = resources_per_trial
        self.num_samples = num_samples
        self.storage_path = _storage_root(storage_path, local_dir)
        self.storage_filesystem = storage_filesystem
        self.name = name or _default_name(trainable_name(trainable),
                                          self.storage_path or _settings.default_storage_path(), storage_filesystem)
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


def _default_name(trainable: str, storage_path: str | os.PathLike, filesystem: Any) -> str:
    """The experiment name when none is given: ``<trainable>_<date>``, made unique in
    ``storage_path``; just the trainable's name with TUNE_DISABLE_DATED_SUBDIR."""
    if not _settings.dated_subdir():
        return trainable
    return unique_name(storage_path, f"{trainable}_{date_str()}", filesystem)


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
    package = os.path.dirname(os.path.abspath(tunesmith.__file__))
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
