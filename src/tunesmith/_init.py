"""``tunesmith.init`` and ``tunesmith.shutdown``: choose where trials run by default."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tunesmith.execution._executor import Executor

if TYPE_CHECKING:
    from tunesmith.execution._local import LocalExecutor

__all__ = ["default_executor", "init", "is_initialized", "shutdown"]

_default: Executor | None = None
_implicit: Executor | None = None  # the local executor when init() was not called
_IGNORED = {"ignore_reinit_error", "include_dashboard", "log_to_driver", "logging_level"}


def init(
    address: str | None = None,
    *,
    num_cpus: float | None = None,
    num_gpus: int | None = None,
    resources: dict[str, float] | None = None,
    heartbeat_timeout_s: float | None = None,
    **kwargs: Any,
) -> Executor:
    """Set the executor that ``Tuner.fit()`` uses when ``TuneConfig(executor=...)`` is not given.

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

    Returns:
        The new default executor. Calling ``init`` again replaces it (the old one is
        closed); :func:`shutdown` goes back to a fresh local executor.

    Raises:
        ValueError: An address of no known form, or machine sizes given with a cluster.
        ImportError: The engine's extra is not installed; the message has the pip line.
        TuneError: The cluster cannot be reached.

    Example:
        >>> import tunesmith
        >>> executor = tunesmith.init(num_cpus=2, num_gpus=4)
        >>> executor.num_gpus
        4
        >>> tunesmith.shutdown()
    """
    global _default
    unknown = sorted(set(kwargs) - _IGNORED)
    if unknown:
        raise TypeError(f"init() got unexpected arguments: {', '.join(unknown)}")
    shutdown()
    _default = _executor_for(address, num_cpus, num_gpus, resources, heartbeat_timeout_s)
    return _default


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


def shutdown() -> None:
    """Close the default executor (and any cluster client it opened); the next ``fit()`` runs locally."""
    global _default, _implicit
    executors, _default, _implicit = (_default, _implicit), None, None
    for executor in executors:
        if executor is not None:
            executor.close()


def is_initialized() -> bool:
    """True if a default executor has been set or started (by :func:`init` or a ``fit()``)."""
    return _default is not None


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
