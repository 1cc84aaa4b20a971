"""Environment variables tunesmith reads. This is the only module that reads them.

Ray Tune's names are honoured where they exist, so a Ray user's environment keeps working.

``TUNE_DISABLE_STRICT_METRIC_CHECKING``
    ``1``: a result that lacks the experiment's metric is accepted instead of failing the run.
``TUNE_DISABLE_AUTO_CALLBACK_LOGGERS``
    ``1``: the JSON, CSV and TensorBoard loggers are not added to every experiment.
``TUNE_RESTORE_RETRY_NUM``
    How many times a trial's restore from its checkpoint may fail (the attempt fails
    before its first result) without counting as one of its ``max_failures`` (default 0).
``TUNESMITH_LOG_WRITER``
    ``0``: the default loggers write from the driver instead of a log writer process
    (which is used with local storage on POSIX systems; see ``tunesmith.logger._writer``).
``TUNE_DISABLE_DATED_SUBDIR``
    ``1``: the default experiment name is the trainable's name, with no date.
``TUNE_MAX_LEN_IDENTIFIER``
    Longest trial folder name before the date suffix (default 130).
``RAY_CHDIR_TO_TRIAL_DIR``
    ``0``: trials keep the driver's working directory instead of moving into their folder.
``TUNE_DISABLE_SIGINT_HANDLER``
    ``1``: Ctrl-C is not turned into a graceful stop.
``TUNESMITH_STORAGE_PATH``
    Default storage root when ``RunConfig.storage_path`` is not given
    (default ``~/tunesmith_results``).
``TUNESMITH_DASHBOARD_CACHE``
    Folder for the dashboard's on-disk trial indexes, one sqlite file per experiment
    (default ``$XDG_CACHE_HOME/tunesmith/dashboard``, else ``~/.cache/tunesmith/dashboard``).
    Never inside an experiment folder; deleting it only costs a re-index.
``TUNESMITH_DRIVER_HOST``
    Address trial processes use to reach the driver (default ``127.0.0.1``; on a Dask
    cluster, the local address that reaches the scheduler; on Ray, this node's address).
``TUNESMITH_HEARTBEAT_TIMEOUT_S``
    Seconds without a word from a running trial before it is declared lost (default 30).
``CUDA_VISIBLE_DEVICES``
    Read by ``tunesmith.get_gpu_ids()``: the GPUs this process (a trial) may use.
``TUNESMITH_HEARTBEAT_INTERVAL_S``
    Read by trial processes: seconds between heartbeats (default: a quarter of the
    timeout, at most 1).
``TUNESMITH_STOP_GRACE_S``
    Seconds a stopped trial gets to unwind before its process is killed (default 5).
``TUNESMITH_PENDING_TIMEOUT_S``
    Seconds a cluster executor lets trials wait when no worker could run them (every
    worker gone, or none with the resources) before the experiment ends with an error
    (default 600); a warning comes after the heartbeat timeout.

Set by the executors for their own worker processes (not for users):
``TUNESMITH_DRIVER``, ``TUNESMITH_TOKEN``
    The driver's ``TrialServer`` address and token, for a worker started without them.
``TUNESMITH_ACK_FD``
    The pipe a forked worker acknowledges each attempt on.

An experiment reads each setting once, when it starts (``Tuner.fit``); a change to the
environment during a run takes effect at the next experiment.
"""

from __future__ import annotations

import os

__all__ = [
    "auto_callback_loggers",
    "chdir_to_trial_dir",
    "cuda_visible_devices",
    "cuda_visible_devices_raw",
    "dashboard_cache_dir",
    "dated_subdir",
    "default_storage_path",
    "driver_host",
    "driver_host_override",
    "heartbeat_interval_s",
    "heartbeat_timeout_s",
    "max_len_identifier",
    "pending_timeout_s",
    "restore_retry_num",
    "sigint_handler_enabled",
    "stop_grace_s",
    "strict_metric_checking",
    "worker_ack_fd",
    "worker_driver_address",
    "worker_token",
]


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() not in ("0", "false", "no", "off")


def _number(name: str, default: float) -> float:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"environment variable {name} must be a number, got {value!r}") from None


def cuda_visible_devices() -> list[str]:
    """The device ids in ``CUDA_VISIBLE_DEVICES`` (empty when unset or empty)."""
    return [d.strip() for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]


def cuda_visible_devices_raw() -> str | None:
    """``CUDA_VISIBLE_DEVICES`` as set (None when unset), for code that tells unset from empty."""
    return os.environ.get("CUDA_VISIBLE_DEVICES")


def strict_metric_checking() -> bool:
    return not _flag("TUNE_DISABLE_STRICT_METRIC_CHECKING", False)


def auto_callback_loggers() -> bool:
    """False when ``TUNE_DISABLE_AUTO_CALLBACK_LOGGERS`` turns the default loggers off."""
    return not _flag("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", False)


def log_writer_enabled() -> bool:
    """Whether the default loggers write through a log writer process (POSIX, not ``TUNESMITH_LOG_WRITER=0``)."""
    return os.name == "posix" and _flag("TUNESMITH_LOG_WRITER", True)


def dated_subdir() -> bool:
    return not _flag("TUNE_DISABLE_DATED_SUBDIR", False)


def max_len_identifier() -> int:
    return int(_number("TUNE_MAX_LEN_IDENTIFIER", 130))


def restore_retry_num() -> int:
    value = _number("TUNE_RESTORE_RETRY_NUM", 0)
    if value < 0 or value != int(value):
        raise ValueError(f"environment variable TUNE_RESTORE_RETRY_NUM must be a whole number >= 0, got {value:g}")
    return int(value)


def chdir_to_trial_dir() -> bool:
    return _flag("RAY_CHDIR_TO_TRIAL_DIR", True)


def sigint_handler_enabled() -> bool:
    return not _flag("TUNE_DISABLE_SIGINT_HANDLER", False)


def default_storage_path() -> str:
    return os.environ.get("TUNESMITH_STORAGE_PATH") or os.path.join("~", "tunesmith_results")


def dashboard_cache_dir() -> str:
    """Where the dashboard keeps its trial indexes (an absolute path)."""
    explicit = os.environ.get("TUNESMITH_DASHBOARD_CACHE")
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tunesmith", "dashboard")


def driver_host() -> str:
    return driver_host_override() or "127.0.0.1"


def driver_host_override() -> str | None:
    """``TUNESMITH_DRIVER_HOST`` if set; cluster executors otherwise find the address themselves."""
    return os.environ.get("TUNESMITH_DRIVER_HOST") or None


def heartbeat_timeout_s() -> float:
    return _number("TUNESMITH_HEARTBEAT_TIMEOUT_S", 30.0)


def heartbeat_interval_s() -> float:
    return _number("TUNESMITH_HEARTBEAT_INTERVAL_S", min(1.0, heartbeat_timeout_s() / 4))


def stop_grace_s() -> float:
    return _number("TUNESMITH_STOP_GRACE_S", 5.0)


def worker_ack_fd() -> int:
    """The acknowledgement pipe of a forked worker process (-1: none)."""
    return int(os.environ.get("TUNESMITH_ACK_FD") or -1)


def worker_driver_address() -> str:
    """The driver address a worker process was started with (``TUNESMITH_DRIVER``)."""
    return os.environ["TUNESMITH_DRIVER"]


def worker_token() -> str | None:
    return os.environ.get("TUNESMITH_TOKEN")


def pending_timeout_s() -> float:
    return _number("TUNESMITH_PENDING_TIMEOUT_S", 600.0)
