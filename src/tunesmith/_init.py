"""``tunesmith.init`` and ``tunesmith.shutdown``, and the other ``ray.*`` calls Tune programs make.

``init`` takes every argument ``ray.init`` takes (Ray 2.60): those that mean nothing here are
ignored (logged once at debug level); those that would change what happens are honoured or
refused with an error that says what to do instead.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from tunesmith import _settings
from tunesmith.execution._executor import Executor

if TYPE_CHECKING:
    from tunesmith.execution._local import LocalExecutor

__all__ = ["available_resources", "cluster_resources", "default_executor", "get_gpu_ids", "init", "is_initialized",
           "shutdown"]

logger = logging.getLogger("tunesmith")

_default: Executor | None = None
_implicit: Executor | None = None  # the local executor when init() was not called
_logged: set[str] = set()  # ignored arguments already logged
_handler: logging.Handler | None = None  # the handler init(logging_format=...) added

# ray.init's arguments (2.60) that have no meaning without a Ray cluster, and why.
_NO_MEANING = {
    "labels": "node labels select Ray nodes",
    "object_store_memory": "there is no object store",
    "ignore_reinit_error": "init() may always be called again; it replaces the executor",
    "include_dashboard": "there is no dashboard",
    "dashboard_host": "there is no dashboard",
    "dashboard_port": "there is no dashboard",
    "job_config": "there are no Ray jobs",
    "logging_config": "Ray's own log format; use logging_level and logging_format",
    "log_to_driver": "trial output goes where the driver's goes (RunConfig(log_to_file=True) keeps it in files)",
    "namespace": "there are no named Ray actors",
    "enable_resource_isolation": "trials are OS processes, not cgroups",
    "cgroup_path": "trials are OS processes, not cgroups",
    "system_reserved_cpu": "trials are OS processes, not cgroups",
    "system_reserved_memory": "trials are OS processes, not cgroups",
    "proxy_server_url": "there is no Ray Client",
}
# ray.init's private keyword arguments (2.60), accepted and ignored as the public ones above.
_PRIVATE = frozenset((
    "_enable_object_reconstruction", "_plasma_directory", "_object_spilling_directory", "_node_ip_address",
    "_driver_object_store_memory", "_memory", "_redis_username", "_redis_password", "_temp_dir",
    "_metrics_export_port", "_system_config", "_tracing_startup_hook", "_node_name", "_skip_env_hook",
))


def init(
    address: str | None = None,
    *,
    num_cpus: float | None = None,
    num_gpus: int | None = None,
    resources: dict[str, float] | None = None,
    heartbeat_timeout_s: float | None = None,
    local_mode: bool = False,
    configure_logging: bool = True,
    logging_level: int | str | None = None,
    logging_format: str | None = None,
    runtime_env: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Executor:
    """Set the executor that ``Tuner.fit()`` uses when ``TuneConfig(executor=...)`` is not given.

    Every argument of ``ray.init`` is accepted. ``labels``, ``object_store_memory``,
    ``ignore_reinit_error``, ``include_dashboard``, ``dashboard_host``, ``dashboard_port``,
    ``job_config``, ``logging_config``, ``log_to_driver``, ``namespace``, the resource
    isolation options, ``proxy_server_url`` and Ray's ``_private`` arguments mean nothing
    here and are ignored (logged once at debug level).

    Args:
        address: Where trials run.

            - None or ``"local"``: worker processes on this machine, started now and
              kept warm between experiments.
            - ``"tcp://host:8786"`` (or ``"tls://..."``): the workers of that Dask
              scheduler (``pip install "tunesmith[dask]"``).
            - ``"auto"`` or ``"ray://host:10001"``: a Ray cluster
              (``pip install "tunesmith[ray]"``).
        num_cpus: CPUs trials may use on this machine (default: all of them). Local only:
            cluster workers declare their own.
        num_gpus: GPUs trials may use on this machine. May be more than the machine has,
            to test GPU logic: each trial still gets the right ``CUDA_VISIBLE_DEVICES``.
        resources: Custom resources of this machine, e.g. ``{"license": 2}``.
        heartbeat_timeout_s: Seconds a running trial may stay silent before it is
            declared lost (default ``TUNESMITH_HEARTBEAT_TIMEOUT_S``, 30).
        local_mode: Ray's deprecated one-process mode. ``True`` is refused: trials always
            run in worker processes (the error says how to run one at a time or debug).
        configure_logging: ``False`` leaves the ``tunesmith`` logger alone even when
            ``logging_level``/``logging_format`` are given.
        logging_level: Level of the ``tunesmith`` logger (e.g. ``logging.DEBUG``).
        logging_format: A ``logging.Formatter`` format for the ``tunesmith`` logger's
            messages, printed to stderr.
        runtime_env: Only ``{"env_vars": {...}}`` on this machine: the variables are set in
            this process, so trial processes inherit them. Anything else is refused.
        **kwargs: ``ray.init``'s other arguments (see above). ``allow_multiple`` and
            ``storage`` are refused, as by Ray; unknown names raise ``TypeError``.

    Returns:
        The new default executor. Calling ``init`` again replaces it (the old one is
        closed); :func:`shutdown` goes back to a fresh local executor.

    Raises:
        ValueError: An address of no known form, machine sizes given with a cluster, or an
            argument whose Ray meaning cannot be had here.
        TypeError: An argument ``ray.init`` does not take either.
        ImportError: The engine's extra is not installed; the message has the pip line.
        TuneError: The cluster cannot be reached.

    Example:
        >>> import tunesmith
        >>> executor = tunesmith.init(num_cpus=2, num_gpus=4, include_dashboard=False)
        >>> executor.num_gpus
        4
        >>> tunesmith.shutdown()
    """
    global _default
    _check_kwargs(kwargs)
    if local_mode:
        raise ValueError(
            "init(local_mode=True): Ray's one-process mode is not available, trials always run in worker processes. "
            "To run one trial at a time use tunesmith.init(num_cpus=1) or TuneConfig(max_concurrent_trials=1); "
            "to step through a trainable in a debugger, call it directly: trainable(config)"
        )
    env_vars = _env_vars(runtime_env, address)
    if configure_logging:
        _configure_logging(logging_level, logging_format)
    shutdown()
    os.environ.update(env_vars)
    _default = _executor_for(address, num_cpus, num_gpus, resources, heartbeat_timeout_s)
    return _default


def _check_kwargs(kwargs: dict[str, Any]) -> None:
    for name in ("allow_multiple", "storage"):
        if kwargs.get(name):
            raise ValueError(f"init({name}=...) is refused by Ray 2.60 outside Ray Client, and here too: remove it")
    unknown = sorted(set(kwargs) - set(_NO_MEANING) - _PRIVATE - {"allow_multiple", "storage"})
    if unknown:
        raise TypeError(f"init() got unexpected arguments: {', '.join(unknown)} (it takes ray.init's arguments)")
    for name in sorted(set(kwargs) - _logged):
        _logged.add(name)
        logger.debug("init(%s=...) is ignored: %s", name, _NO_MEANING.get(name, "a Ray-internal setting"))


def _env_vars(runtime_env: dict[str, Any] | None, address: str | None) -> dict[str, str]:
    if not runtime_env:
        return {}
    if not isinstance(runtime_env, dict) or set(runtime_env) - {"env_vars"}:
        keys = sorted(runtime_env) if isinstance(runtime_env, dict) else type(runtime_env).__name__
        raise ValueError(
            f"init(runtime_env=...) takes only {{'env_vars': {{...}}}} here, got {keys}: install packages into this "
            "environment, and start the program from its working directory"
        )
    if address not in (None, "local"):
        raise ValueError(
            f"init(runtime_env=...) with address={address!r}: set the variables where the cluster's workers start "
            "(e.g. in the dask worker's or ray start's environment)"
        )
    env_vars = runtime_env["env_vars"]
    if not isinstance(env_vars, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env_vars.items()):
        raise ValueError(f"runtime_env['env_vars'] must map names to string values, got {env_vars!r}")
    return dict(env_vars)


def _configure_logging(level: int | str | None, fmt: str | None) -> None:
    global _handler
    if level is not None:
        logger.setLevel(level)
    if fmt is not None:
        if _handler is not None:
            logger.removeHandler(_handler)
        _handler = logging.StreamHandler()
        _handler.setFormatter(logging.Formatter(fmt))
        logger.addHandler(_handler)


def _executor_for(address: str | None, num_cpus: float | None, num_gpus: int | None,
                  resources: dict[str, float] | None, heartbeat_timeout_s: float | None) -> Executor:
    if address in (None, "local"):
        from tunesmith.execution._local import LocalExecutor

        local = _kept_warm(LocalExecutor(num_cpus=num_cpus, num_gpus=num_gpus, resources=resources,
                                         heartbeat_timeout_s=heartbeat_timeout_s))
        local.prestart()  # Python starts in the workers while the program goes on
        return local
    if not isinstance(address, str):
        raise TypeError(f"address must be a string, got {type(address).__name__}")
    if address.startswith(("tcp://", "tls://")):
        _no_machine_sizes(address, num_cpus, num_gpus, resources)
        from tunesmith.execution._dask import DaskExecutor

        return DaskExecutor(address, heartbeat_timeout_s=heartbeat_timeout_s)
    if address == "auto" or address.startswith("ray://"):
        _no_machine_sizes(address, num_cpus, num_gpus, resources)
        from tunesmith.execution._ray import RayExecutor

        return RayExecutor(address, heartbeat_timeout_s=heartbeat_timeout_s)
    raise ValueError(
        f"address must be None or 'local' (this machine), 'tcp://host:port' (a Dask scheduler), or 'auto' or "
        f"'ray://host:port' (a Ray cluster); got {address!r}"
    )


def _no_machine_sizes(address: str, num_cpus: Any, num_gpus: Any, resources: Any) -> None:
    given = [name for name, value in (("num_cpus", num_cpus), ("num_gpus", num_gpus), ("resources", resources))
             if value is not None]
    if given:
        raise ValueError(
            f"{', '.join(given)} describe this machine and cannot be combined with address={address!r}: "
            "a cluster's workers declare their own resources (e.g. dask worker --resources \"CPU=4,GPU=2\")"
        )


def shutdown(wait_for_processes: bool = False, **kwargs: Any) -> None:
    """Close the default executor (and any cluster client it opened); the next ``fit()`` runs locally.

    Args:
        wait_for_processes: Accepted for ``ray.shutdown``; closing always waits for the
            executor's worker processes.
        **kwargs: ``ray.shutdown``'s private ``_exiting_interpreter``, ignored.
    """
    global _default, _implicit
    unknown = sorted(set(kwargs) - {"_exiting_interpreter"})
    if unknown:
        raise TypeError(f"shutdown() got unexpected arguments: {', '.join(unknown)}")
    executors, _default, _implicit = (_default, _implicit), None, None
    for executor in executors:
        if executor is not None:
            executor.close()


def is_initialized() -> bool:
    """Whether :func:`init` was called (and :func:`shutdown` not since)."""
    return _default is not None


def cluster_resources() -> dict[str, float]:
    """All resources trials may use: this machine's (as ``init`` sized it) or the cluster's.

    Returns:
        ``{"CPU": ..., "GPU": ..., <custom>: ...}``, as ``ray.cluster_resources()``.
    """
    return _resources(free=False)


def available_resources() -> dict[str, float]:
    """The part of :func:`cluster_resources` no running trial holds now."""
    return _resources(free=True)


def _resources(free: bool) -> dict[str, float]:
    from tunesmith.trainable._resources import _ray_key

    return {_ray_key(key): float(value) for key, value in _our_resources(free).items()}


def _our_resources(free: bool) -> dict[str, float]:
    executor = default_executor()
    if executor._ledger is not None:  # started: it keeps the books
        return executor.free_resources() if free else executor.total_resources()
    from tunesmith.execution._local import LocalExecutor

    if isinstance(executor, LocalExecutor):
        return {"CPU": executor.num_cpus, "GPU": executor.num_gpus, **executor.custom}
    return _cluster_totals(executor)


def _cluster_totals(executor: Executor) -> dict[str, float]:
    """A cluster executor's resources before its first experiment started it (nothing runs yet)."""
    from tunesmith.execution._dask import DaskExecutor, _worker_ledger
    from tunesmith.execution._resources import _summed

    if isinstance(executor, DaskExecutor):
        return dict(_summed(_worker_ledger(info).total for info in executor._workers().values()))
    import ray

    return {k: float(v) for k, v in ray.cluster_resources().items() if not k.startswith(("node:", "object_store"))}


def get_gpu_ids() -> list[int | str]:
    """The GPUs this process may use: inside a trial, the ones the trial was given.

    Returns:
        The ids in ``CUDA_VISIBLE_DEVICES`` (numbers as ``int``; UUIDs as strings), as
        ``ray.get_gpu_ids()`` inside a Ray task; empty for a trial without GPUs.
    """
    return [int(d) if d.isdigit() else d for d in _settings.cuda_visible_devices()]


def default_executor() -> Executor:
    """The executor from the last :func:`init`, or a new local one."""
    global _implicit
    if _default is not None:
        return _default
    if _implicit is None:  # kept, so its warm workers serve the next experiment too
        from tunesmith.execution._local import LocalExecutor

        _implicit = _kept_warm(LocalExecutor())
    return _implicit


def _kept_warm(executor: LocalExecutor) -> LocalExecutor:
    """An executor owned here, which shutdown() closes: its workers may outlive an experiment."""
    executor.keep_warm = True
    return executor
