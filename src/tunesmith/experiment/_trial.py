"""The driver's view of one trial: what schedulers, searchers and callbacks see."""

from __future__ import annotations

import enum
from typing import Any

__all__ = ["Trial", "TrialStatus"]


class TrialStatus(str, enum.Enum):
    """Where a trial is in its life: ``PENDING -> RUNNING -> (PAUSED <-> RUNNING) -> TERMINATED | ERROR``.

    The members compare equal to Ray Tune's status strings (``trial.status == "RUNNING"``).
    """

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    TERMINATED = "TERMINATED"
    ERROR = "ERROR"

    def is_finished(self) -> bool:
        return self in (TrialStatus.TERMINATED, TrialStatus.ERROR)

    def __str__(self) -> str:
        return self.value


class Trial:
    """One configuration being evaluated, possibly over several attempts.

    Schedulers, searchers, stoppers and callbacks receive ``Trial`` objects. Only the
    controller changes their state; a scheduler may prepare the trial's *next* attempt by
    setting ``config``, ``resources`` or ``restore_checkpoint`` before it returns
    ``Decision.PAUSE`` (PBT's exploit, resource changes). Attribute names follow Ray Tune's
    ``Trial``.

    Attributes:
        trial_id: Unique id within the experiment, e.g. ``"a1b2c_00000"``.
        config: The resolved configuration the trainable receives.
        experiment_tag: ``"<index>_<k=v,...>"`` describing the sampled values.
        trainable_name: Name of the trainable (function or class name).
        status: A :class:`TrialStatus`.
        last_result: The latest (unflattened) result, ``{}`` before the first one.
        resources: Resource request, e.g. ``{"cpu": 1.0, "gpu": 0.5}``.
        placement_group_factory: The same as a ``PlacementGroupFactory``; also
            ``trial_resources``.
        path: The trial's folder in storage (set when the trial is first started).
        num_failures: Failed attempts so far.
        checkpoint: The latest persisted :class:`tunesmith.Checkpoint`, or None.
        error: The exception of the last failed attempt, or None.
        restore_checkpoint: When set, the next attempt starts from this checkpoint
            instead of ``checkpoint`` (then it is cleared).
        restore_progress: With ``restore_checkpoint``: ``{"training_iteration": ...,
            "time_total_s": ...}`` the next attempt counts on from when it is later than the
            checkpoint's own (PBT: the donor's at its last perturbation, as in Ray Tune).
    """

    PENDING = TrialStatus.PENDING
    RUNNING = TrialStatus.RUNNING
    PAUSED = TrialStatus.PAUSED
    TERMINATED = TrialStatus.TERMINATED
    ERROR = TrialStatus.ERROR

    def __init__(
        self,
        trainable_name: str,
        *,
        trial_id: str,
        config: dict[str, Any],
        experiment_tag: str = "",
        evaluated_params: dict[str, Any] | None = None,
        resources: dict[str, float] | None = None,
        placement_group_factory: Any = None,
    ) -> None:
        self.trainable_name = trainable_name
        self.trial_id = trial_id
        self.config = config
        self.experiment_tag = experiment_tag
        self.evaluated_params = evaluated_params or {}
        self.resources = dict(resources or {"cpu": 1.0})
        self._placement_group_factory = placement_group_factory
        self.status = TrialStatus.PENDING
        self.last_result: dict[str, Any] = {}
        self.metric_analysis: dict[str, dict[str, float]] = {}
        self.path: str | None = None
        self.dirname: str | None = None
        self.custom_trial_name: str | None = None
        self.num_failures = 0
        self.attempt = -1
        self.checkpoint: Any = None
        self.restore_checkpoint: Any = None
        self.restore_progress: dict[str, Any] | None = None
        self.error: BaseException | None = None
        self.error_text: str | None = None
        self.restarted_from: str | None = None  # the errored trial this one restarts (restart_errored)

    @property
    def placement_group_factory(self) -> Any:
        """The trial's resources as a ``PlacementGroupFactory`` (Ray Tune's shape:
        ``required_resources``, ``bundles``, ``head_cpus``), following ``resources``
        (which ``ResourceChangingScheduler`` changes)."""
        from tunesmith.trainable._resources import PlacementGroupFactory

        given = self._placement_group_factory
        if isinstance(given, PlacementGroupFactory) and given.to_dict() == _nonzero(self.resources):
            return given  # as requested, with its bundles
        return PlacementGroupFactory([_nonzero(self.resources, ray_keys=True) or {"CPU": 0.0}])

    @placement_group_factory.setter
    def placement_group_factory(self, value: Any) -> None:
        self._placement_group_factory = value

    @property
    def trial_resources(self) -> Any:
        """Same as :attr:`placement_group_factory` (the name a trainable uses)."""
        return self.placement_group_factory

    @property
    def local_path(self) -> str | None:
        return self.path

    @property
    def storage_path(self) -> str | None:
        return self.path

    def is_finished(self) -> bool:
        return self.status.is_finished()

    def update_metric_analysis(self, flat_result: dict[str, Any]) -> None:
        """Keep min/max/last of each numeric metric, as Ray's ``metric_analysis``."""
        for key, value in flat_result.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            stats = self.metric_analysis.get(key)
            if stats is None:
                self.metric_analysis[key] = {"max": value, "min": value, "avg": value, "last": value}
                continue
            stats["max"] = max(stats["max"], value)
            stats["min"] = min(stats["min"], value)
            stats["last"] = value

    def __str__(self) -> str:
        if self.custom_trial_name:
            return self.custom_trial_name
        name = self.trainable_name
        env = self.config.get("env") if isinstance(self.config, dict) else None
        if isinstance(env, str):
            name = f"{name}_{env}"
        return f"{name}_{self.trial_id}".replace("/", "_")

    def __repr__(self) -> str:
        return f"Trial({self}, status={self.status.value})"


def _nonzero(resources: dict[str, float], ray_keys: bool = False) -> dict[str, float]:
    """The amounts that are not zero, as floats; ``CPU``/``GPU`` spelt Ray's way if ``ray_keys``."""
    names = {"cpu": "CPU", "gpu": "GPU"} if ray_keys else {}
    return {names.get(k, k): float(v) for k, v in resources.items() if v}


class FinishedTrial(Trial):
    """A trial that has ended for good, as the driver keeps it: its id, folder, status and
    name, and nothing else in memory.

    Everything else (``config``, ``last_result``, ``metric_analysis``, ``error``,
    ``checkpoint``...) is read back from the experiment's storage when asked, through
    ``source.load(trial)``, so an experiment of 100,000 trials keeps a few hundred bytes per
    finished trial in the driver. It is a :class:`Trial`: callbacks, schedulers and searchers
    see the same attributes as before.
    """

    __slots__ = ("trial_id", "dirname", "status", "experiment_tag", "num_failures", "attempt", "resources",
                 "_name", "_done", "_score", "param_names", "_source", "kept")

    def __init__(self, trial: Trial, source: Any) -> None:  # noqa: D107 - Trial's __init__ is not wanted
        self.trial_id = trial.trial_id
        self.dirname = trial.dirname
        self.status = trial.status
        self.experiment_tag = trial.experiment_tag
        self.num_failures = trial.num_failures
        self.attempt = trial.attempt
        self.resources = source.shared(trial.resources)
        name = str(trial)
        self._name = None if name == f"{trial.trainable_name}_{trial.trial_id}" else name
        self._done = bool(trial.last_result.get("done")) if trial.last_result else None  # None: it reported nothing
        self._score = source.score(trial.last_result)
        self.param_names = source.shared(tuple(trial.evaluated_params))  # read back with the config
        self._source = source
        self.kept = source.kept(trial)

    @classmethod
    def restored(cls, source: Any, *, trial_id: str, dirname: str | None, status: TrialStatus, experiment_tag: str,
                 num_failures: int, attempt: int, resources: dict[str, float], param_names: tuple[str, ...],
                 done: bool | None, score: Any) -> FinishedTrial:
        """The stand-in of a trial that had finished when the experiment was restored, made from
        what the journal says of it (no :class:`Trial` is built, no folder is read).

        Args:
            done: The ``done`` of its last result; None if it reported nothing.
            score: The experiment's metric in its last result (None if there is none).
        """
        stub = cls.__new__(cls)
        stub.trial_id, stub.dirname, stub.status, stub.experiment_tag = trial_id, dirname, status, experiment_tag
        stub.num_failures, stub.attempt = num_failures, attempt
        stub.resources, stub.param_names = source.shared(resources), source.shared(param_names)
        stub._name, stub._done, stub._score, stub._source, stub.kept = None, done, score, source, None
        return stub

    @property
    def path(self) -> str | None:
        return self._source.trial_path(self.dirname) if self.dirname is not None else None

    @property
    def trainable_name(self) -> str:
        return self._source.trainable_name

    @property
    def summary(self) -> dict[str, Any]:
        """What a progress report scanning every trial reads instead of ``last_result``
        (which would read the trial's folder): the experiment's metric, if it reported one."""
        return self._source.summary(self._score)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in FinishedTrial.__slots__:
            raise AttributeError(name)
        return getattr(self._source.load(self), name)

    def __str__(self) -> str:
        return self._name or f"{self._source.trainable_name}_{self.trial_id}"
