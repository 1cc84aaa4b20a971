"""``tunesmith.init`` and ``tunesmith.shutdown``: choose where trials run by default."""

from __future__ import annotations

from typing import Any

from tunesmith.execution._executor import Executor

__all__ = ["default_executor", "init", "is_initialized", "shutdown"]

_default: Executor | None = None


def init(
    address: str | None = None,
    *,
    num_cpus: float | None = None,
    num_gpus: int | None = None,
    resources: dict[str, float] | None = None,
    **kwargs: Any,
) -> Executor:
    """Set the executor that ``Tuner.fit()`` uses when ``TuneConfig(executor=...)`` is not given.

    Args:
        address: None or ``"local"`` for local worker processes.
        num_cpus: CPUs trials may use (default: all of this machine's).
        num_gpus: GPUs trials may use. May be more than the machine has, to test GPU
            logic: each trial still gets the right ``CUDA_VISIBLE_DEVICES``.
        resources: Custom resources, e.g. ``{"license": 2}``.

    Returns:
        The new default executor. Calling ``init`` again replaces it.

    Example:
        >>> import tunesmith
        >>> executor = tunesmith.init(num_cpus=2, num_gpus=4)
        >>> executor.num_gpus
        4
        >>> tunesmith.shutdown()
    """
    global _default
    if address not in (None, "local"):
        raise ValueError(
            f"address={address!r} is not supported by this build: use address=None (local worker processes)"
        )
    unknown = sorted(set(kwargs) - {"ignore_reinit_error", "include_dashboard", "log_to_driver", "logging_level"})
    if unknown:
        raise TypeError(f"init() got unexpected arguments: {', '.join(unknown)}")
    from tunesmith.execution._local import LocalExecutor

    shutdown()
    _default = LocalExecutor(num_cpus=num_cpus, num_gpus=num_gpus, resources=resources)
    return _default


def shutdown() -> None:
    """Forget the default executor; the next ``fit()`` uses a fresh local one."""
    global _default
    _default = None


def is_initialized() -> bool:
    return _default is not None


def default_executor() -> Executor:
    """The executor from the last :func:`init`, or a new local one."""
    if _default is not None:
        return _default
    from tunesmith.execution._local import LocalExecutor

    return LocalExecutor()
