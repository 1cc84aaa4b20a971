"""MLflow: ``MLflowLoggerCallback`` on the driver, ``setup_mlflow`` inside a trainable.

Logging must never stop an experiment. A tracking server that cannot be reached is found
with a short TCP probe before any MLflow call (MLflow's own retries can take minutes),
gives one warning, and turns the callback off. A value MLflow cannot take is fixed when
it can be (a key with odd characters, a parameter that is too long) and otherwise left
out, with one warning per key.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import socket
import time
import urllib.parse
from typing import TYPE_CHECKING, Any, Callable

from tunesmith._flatten import flatten_dict
from tunesmith._imports import try_import
from tunesmith.integration._noop import NoopModule
from tunesmith.logger._logger import LoggerCallback
from tunesmith.logger._tensorboard import result_step

if TYPE_CHECKING:
    from tunesmith.experiment._trial import Trial

__all__ = ["MLflowLoggerCallback", "setup_mlflow"]

logger = logging.getLogger("tunesmith")

_PROBE_TIMEOUT_S = 3.0
_MAX_PARAM_LENGTH = 6000  # MLflow's limit for a parameter value
_PARAMS_PER_BATCH = 100
_METRICS_PER_BATCH = 1000
_BAD_KEY_CHARS = re.compile(r"[^/\w.\- :]")
# Auto-filled text fields: not metrics, and not worth a warning.
_QUIET_KEYS = frozenset(("date", "hostname", "node_ip", "trial_id", "experiment_tag", "checkpoint_dir_name"))
_TRIAL_TAG = "tunesmith.trial_id"


def _import_mlflow(needed_by: str) -> Any:
    return try_import("mlflow", extra="mlflow", needed_by=needed_by)


def unreachable_reason(uri: str | None, timeout: float = _PROBE_TIMEOUT_S) -> str | None:
    """Why an ``http(s)://`` tracking server cannot be reached, or None (other URIs pass).

    Example:
        >>> unreachable_reason("sqlite:///mlflow.db") is None
        True
    """
    parsed = urllib.parse.urlparse(uri or "")
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return None
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((parsed.hostname, port), timeout=timeout).close()
    except OSError as exc:
        return f"cannot connect to {parsed.hostname}:{port} ({exc.strerror or exc})"
    return None


def _experiment_id(client: Any, experiment_id: str | None, name: str | None, create: bool,
                   artifact_location: str | None = None) -> str:
    """Ray Tune's order: an existing id, then an existing name, then a new experiment by name."""
    from mlflow.environment_variables import MLFLOW_EXPERIMENT_ID, MLFLOW_EXPERIMENT_NAME
    from mlflow.exceptions import MlflowException

    experiment_id = experiment_id if experiment_id is not None else MLFLOW_EXPERIMENT_ID.get()
    if experiment_id is not None:
        try:
            return client.get_experiment(experiment_id).experiment_id
        except MlflowException:
            pass
    name = name if name is not None else MLFLOW_EXPERIMENT_NAME.get()
    if name:
        found = client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        if create:
            return client.create_experiment(name, artifact_location=artifact_location)
    raise ValueError(
        f"no MLflow experiment with id {experiment_id!r} or name {name!r}: the experiment must exist, "
        "or pass experiment_name=... with create_experiment_if_not_exists=True"
    )


def _clean_key(key: str) -> str:
    return _BAD_KEY_CHARS.sub("_", key)


class _Warnings:
    """One warning per key."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.seen: set[str] = set()

    def once(self, key: str, message: str) -> None:
        if key not in self.seen:
            self.seen.add(key)
            logger.warning("%s: %s", self.owner, message)


def _params(config: dict, warnings: _Warnings) -> dict[str, str]:
    """A flat ``{key: str}`` MLflow accepts: keys cleaned, values cut to MLflow's limit."""
    params = {}
    for key, value in flatten_dict(config).items():
        clean = _clean_key(key)
        if clean != key:
            warnings.once(f"param:{key}", f"parameter {key!r} is logged as {clean!r} (characters MLflow rejects)")
        text = str(value)
        if len(text) > _MAX_PARAM_LENGTH:
            warnings.once(f"long:{key}", f"parameter {key!r} is longer than {_MAX_PARAM_LENGTH} characters; "
                          "only its beginning is logged")
            text = text[:_MAX_PARAM_LENGTH]
        params[clean] = text
    return params


def _metrics(result: dict, warnings: _Warnings) -> dict[str, float]:
    """Every value of ``result`` (but ``config``) that converts to a float; NaN is kept."""
    metrics = {}
    for key, value in flatten_dict({k: v for k, v in result.items() if k != "config"}).items():
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            if key not in _QUIET_KEYS and value is not None:
                warnings.once(f"metric:{key}", f"result key {key!r} is a {type(value).__name__}, not a number; "
                              "it is not logged to MLflow (warned once per key)")
            continue
        clean = _clean_key(key)
        if clean != key:
            warnings.once(f"metric:{key}", f"metric {key!r} is logged as {clean!r} (characters MLflow rejects)")
        metrics[clean] = number
    return metrics


def _chunks(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


class MLflowLoggerCallback(LoggerCallback):
    """Logs each trial to MLflow as a run: its config as parameters, its results as metrics.

    One MLflow run per trial, named after the trial and tagged ``trial_name``. Metrics are
    every number in the result (nested keys flattened with ``/``) at step
    ``timesteps_total`` or ``training_iteration``. The run ends FINISHED, or FAILED when
    the trial errored (KILLED when the experiment stopped first).

    Args:
        tracking_uri: Where MLflow keeps runs: a server ``http://host:5000`` or a database
            ``sqlite:///path/mlflow.db``. None uses MLflow's default (``MLFLOW_TRACKING_URI``).
        registry_uri: MLflow model registry URI.
        experiment_name: MLflow experiment to log to, created if missing. None uses
            ``MLFLOW_EXPERIMENT_ID``/``MLFLOW_EXPERIMENT_NAME``, else the tunesmith
            experiment's name.
        tags: Tags added to every run.
        tracking_token: Token for the tracking server (set as ``MLFLOW_TRACKING_TOKEN``,
            which is how MLflow reads it).
        save_artifact: Upload the trial folder as the run's artifacts when the trial ends:
            at the end of the controller step in which it ended, once the loggers
            (TensorBoard, JSON, CSV) have closed and written its files.
        log_params_on_trial_end: Log the parameters when the trial ends instead of when
            it starts.

    Raises:
        ImportError: MLflow is not installed (``pip install "tunesmith[mlflow]"``).

    Example:
        >>> from tunesmith.integration.mlflow import MLflowLoggerCallback
        >>> callback = MLflowLoggerCallback(tracking_uri="sqlite:///mlflow.db",
        ...                                 experiment_name="demo")  # doctest: +SKIP
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        *,
        registry_uri: str | None = None,
        experiment_name: str | None = None,
        tags: dict[str, Any] | None = None,
        tracking_token: str | None = None,
        save_artifact: bool = False,
        log_params_on_trial_end: bool = False,
    ) -> None:
        _import_mlflow("MLflowLoggerCallback")
        if tags is not None and not isinstance(tags, dict):
            raise TypeError(f"tags must be a dict, got {type(tags).__name__}")
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri
        self.experiment_name = experiment_name
        self.tags = dict(tags or {})
        self.tracking_token = tracking_token
        self.save_artifact = save_artifact
        self.log_params_on_trial_end = log_params_on_trial_end
        self._client: Any = None
        self._experiment_ids: dict[str | None, str] = {}
        self._runs: dict[str, str] = {}
        self._ending: list[tuple[str, Trial, bool]] = []  # (run id, trial, failed) waiting for the loggers' files
        # Set by the Tuner (attach_log_settler): returns once every logger's file is written
        # (the log writer process included); the trial folder is uploaded only after that.
        self._settle_logs: Callable[[], None] = lambda: None
        self._disabled = False
        self._warnings = _Warnings("MLflowLoggerCallback")

    # -- Callback hooks -----------------------------------------------------------------------
    def attach_log_settler(self, settle: Callable[[], None]) -> None:
        self._settle_logs = settle

    def setup(self, *args: Any, **info: Any) -> None:
        self._connect()

    def log_trial_start(self, trial: Trial) -> None:
        if trial.trial_id in self._runs or not self._connect():
            return
        experiment_id = self._experiment_for(trial)
        if experiment_id is None:
            return
        tags = {**{k: str(v) for k, v in self.tags.items()}, "trial_name": str(trial), _TRIAL_TAG: trial.trial_id}
        run = self._call("create a run", self._client.create_run, experiment_id, tags=tags, run_name=str(trial))
        if run is None:
            return
        if not self._runs:
            atexit.register(self._end_open_runs)  # also when the experiment ends with an error
        self._runs[trial.trial_id] = run.info.run_id
        if not self.log_params_on_trial_end:
            self._log_params(run.info.run_id, trial)

    def log_trial_result(self, iteration: int, trial: Trial, result: dict) -> None:
        if trial.trial_id not in self._runs:
            self.log_trial_start(trial)
        run_id = self._runs.get(trial.trial_id)
        if run_id is None:
            return
        from mlflow.entities import Metric

        step = result_step(result)
        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, step) for k, v in _metrics(result, self._warnings).items()]
        for chunk in _chunks(metrics, _METRICS_PER_BATCH):
            self._log_batch(run_id, metrics=chunk)

    def log_trial_end(self, trial: Trial, failed: bool = False) -> None:
        run_id = self._runs.pop(trial.trial_id, None)
        if run_id is None:
            return
        # The other loggers close this trial's files in this same step, maybe after this
        # callback, maybe in the log writer process: the run ends at the end of the step.
        self._ending.append((run_id, trial, failed))

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        self._end_runs()

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        self._end_runs()
        atexit.unregister(self._end_open_runs)
        self._end_open_runs()

    def _end_runs(self) -> None:
        """End the runs of the trials that ended, uploading their folders once written."""
        if not self._ending:
            return
        ending, self._ending = self._ending, []
        if self.save_artifact:
            self._settle_logs()
        for run_id, trial, failed in ending:
            if self.save_artifact and trial.path and os.path.isdir(trial.path):
                self._call("upload artifacts", self._client.log_artifacts, run_id, trial.path)
            if self.log_params_on_trial_end:
                self._log_params(run_id, trial)
            self._call("end a run", self._client.set_terminated, run_id, status="FAILED" if failed else "FINISHED")

    def _end_open_runs(self) -> None:
        """Runs of trials that never ended (the experiment stopped first) end as KILLED."""
        for run_id in self._runs.values():
            self._call("end a run", self._client.set_terminated, run_id, status="KILLED")
        self._runs.clear()

    # -- helpers -------------------------------------------------------------------------------
    def _connect(self) -> bool:
        """Make the client once; False (after one warning) when MLflow cannot be used."""
        if self._client is not None or self._disabled:
            return not self._disabled
        mlflow = _import_mlflow("MLflowLoggerCallback")
        if self.tracking_token:
            os.environ["MLFLOW_TRACKING_TOKEN"] = self.tracking_token
        uri = self.tracking_uri or mlflow.get_tracking_uri()
        reason = unreachable_reason(uri)
        if reason is not None:
            return self._disable(f"the MLflow tracking server {uri} cannot be reached: {reason}")
        try:
            from mlflow.tracking import MlflowClient

            self._client = MlflowClient(tracking_uri=uri, registry_uri=self.registry_uri)
        except Exception as exc:
            return self._disable(f"MLflow tracking URI {uri!r} cannot be used: {type(exc).__name__}: {exc}")
        return True

    def _experiment_for(self, trial: Trial) -> str | None:
        default = os.path.basename(os.path.dirname(str(trial.path).rstrip("/"))) or None
        name = self.experiment_name
        key = name if name is not None else default
        if key not in self._experiment_ids:
            found = self._call("find the experiment", self._find_experiment, name, default)
            if found is None:
                return None
            self._experiment_ids[key] = found
        return self._experiment_ids[key]

    def _find_experiment(self, name: str | None, default: str | None) -> str:
        from mlflow.environment_variables import MLFLOW_EXPERIMENT_ID, MLFLOW_EXPERIMENT_NAME

        if name is None and MLFLOW_EXPERIMENT_ID.get() is None and MLFLOW_EXPERIMENT_NAME.get() is None:
            name = default
        return _experiment_id(self._client, None, name, create=True)

    def _log_params(self, run_id: str, trial: Trial) -> None:
        from mlflow.entities import Param

        params = [Param(k, v) for k, v in _params(trial.config, self._warnings).items()]
        for chunk in _chunks(params, _PARAMS_PER_BATCH):
            self._log_batch(run_id, params=chunk)

    def _log_batch(self, run_id: str, metrics: list | None = None, params: list | None = None) -> None:
        """One request; if MLflow rejects it, each item alone, so only the bad ones are lost."""
        from mlflow.exceptions import MlflowException

        try:
            self._client.log_batch(run_id, metrics=metrics or [], params=params or [])
            return
        except MlflowException as exc:
            if getattr(exc, "error_code", "") != "INVALID_PARAMETER_VALUE":
                self._disable(f"MLflow refused a write ({type(exc).__name__}: {exc})")
                return
        singles = [{"metrics": [m]} for m in metrics or []] + [{"params": [p]} for p in params or []]
        for single in singles:
            try:
                self._client.log_batch(run_id, **single)
            except MlflowException as exc:
                key = next(iter(single.values()))[0].key
                self._warnings.once(f"rejected:{key}", f"MLflow rejected {key!r}: {exc}")

    def _call(self, what: str, function: Callable, *args: Any, **kwargs: Any) -> Any:
        if self._disabled or self._client is None:
            return None
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            self._disable(f"could not {what}: {type(exc).__name__}: {exc}")
            return None

    def _disable(self, reason: str) -> bool:
        if not self._disabled:
            self._disabled = True
            logger.warning("MLflowLoggerCallback: %s. Trials keep running, but nothing more is logged to "
                           "MLflow in this experiment.", reason)
        return False


def setup_mlflow(
    config: dict | None = None,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    experiment_id: str | None = None,
    experiment_name: str | None = None,
    tracking_token: str | None = None,
    artifact_location: str | None = None,
    run_name: str | None = None,
    create_experiment_if_not_exists: bool = False,
    tags: dict | None = None,
    rank_zero_only: bool = True,
) -> Any:
    """Start an MLflow run for this trial and return the ``mlflow`` module to log with.

    Call it inside a trainable. The run is named after the trial and is the active run,
    so ``mlflow.log_metric(...)`` and MLflow autologging go to it; ``config`` is logged as
    its parameters. A run left active by an earlier trial in the same (reused) trial
    process is ended first.

    Args:
        config: Logged as the run's parameters (flattened).
        tracking_uri: Where MLflow keeps runs; None uses MLflow's default.
        registry_uri: MLflow model registry URI.
        experiment_id: An existing experiment's id; takes precedence over the name.
        experiment_name: The experiment's name. None uses ``MLFLOW_EXPERIMENT_NAME``,
            else the tunesmith experiment's name (created if missing).
        tracking_token: Token for the tracking server.
        artifact_location: Where a newly created experiment keeps artifacts.
        run_name: The run's name (default: the trial's name).
        create_experiment_if_not_exists: Create ``experiment_name`` if it does not exist.
        tags: Tags for the run.
        rank_zero_only: Only worker rank 0 logs; other ranks get a stand-in that does
            nothing (tunesmith trials have a single rank, so this is rank 0).

    Returns:
        The ``mlflow`` module, or a stand-in that ignores every call on other ranks.

    Raises:
        ImportError: MLflow is not installed.
        ValueError: The experiment does not exist and may not be created.

    Example:
        >>> def train(config):  # doctest: +SKIP
        ...     mlflow = setup_mlflow(config, tracking_uri="sqlite:///mlflow.db", experiment_name="demo",
        ...                           create_experiment_if_not_exists=True)
        ...     mlflow.log_metric("loss", 0.5)
    """
    mlflow = _import_mlflow("setup_mlflow")
    from tunesmith.trainable import get_context

    context = get_context()
    if rank_zero_only and (getattr(context, "get_world_rank", lambda: 0)() or 0) != 0:
        return NoopModule()
    if tracking_token:
        os.environ["MLFLOW_TRACKING_TOKEN"] = tracking_token
    if tracking_uri is not None:
        mlflow.set_tracking_uri(tracking_uri)
    if registry_uri is not None:
        mlflow.set_registry_uri(registry_uri)
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    create = create_experiment_if_not_exists
    if experiment_name is None and experiment_id is None and context.get_experiment_name():
        from mlflow.environment_variables import MLFLOW_EXPERIMENT_ID, MLFLOW_EXPERIMENT_NAME

        if MLFLOW_EXPERIMENT_ID.get() is None and MLFLOW_EXPERIMENT_NAME.get() is None:
            experiment_name, create = context.get_experiment_name(), True
    found = _experiment_id(client, experiment_id, experiment_name, create, artifact_location)
    _start_trial_run(mlflow, found, run_name or context.get_trial_name(), context.get_trial_id(), tags)
    if config:
        mlflow.log_params(_params(config, _Warnings("setup_mlflow")))
    return mlflow


def _start_trial_run(mlflow: Any, experiment_id: str, run_name: str | None, trial_id: str | None,
                     tags: dict | None) -> None:
    active = mlflow.active_run()
    if active is not None:
        if trial_id is not None and active.data.tags.get(_TRIAL_TAG) == trial_id:
            return
        mlflow.end_run()  # left by an earlier trial in this reused trial process
    run_tags = {str(k): str(v) for k, v in (tags or {}).items()}
    if trial_id is not None:
        run_tags.update({"trial_name": str(run_name), _TRIAL_TAG: trial_id})
    run = mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=run_tags)
    from tunesmith.trainable._session import at_attempt_end

    def end_run(failed: bool) -> None:
        active = mlflow.active_run()
        if active is not None and active.info.run_id == run.info.run_id:
            mlflow.end_run(status="FAILED" if failed else "FINISHED")

    at_attempt_end(end_run)  # as when Ray ends the trial's actor
