"""The Dask worker's side of ``DaskExecutor``: two worker plugins and the task functions.

This module imports ``distributed`` and is only imported where Dask is installed: on the
workers, and by :mod:`tunesmith.execution._dask` once a ``DaskExecutor`` is made.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from distributed import WorkerPlugin, get_worker, secede

from tunesmith import _settings
from tunesmith.execution._trial_processes import TrialProcesses, attempt_environment

__all__ = ["GpuSlots", "TrialRunner", "kill_attempt", "prewarm", "probe_driver", "run_attempt", "sees"]


class GpuSlots(WorkerPlugin):
    """The names of a worker's GPUs, so a trial gets ``CUDA_VISIBLE_DEVICES`` right.

    Dask counts resources (``--resources "GPU=2"``) but gives out no device ids. The
    driver's ledger decides which of a worker's GPU slots (0, 1, ...) an attempt gets,
    packing fractional requests; this plugin turns slots into the device names the worker
    owns: its own ``CUDA_VISIBLE_DEVICES`` (``"3,5"`` gives slots 0 and 1 the names 3 and
    5), else ``0..GPU-1``.

    Args:
        devices_by_worker: Device names per worker name, for workers that share one
            process and so one environment (``DaskExecutor.local``).
    """

    name = "tunesmith-gpu-slots"
    idempotent = True  # one per worker, whichever driver registers it first

    def __init__(self, devices_by_worker: dict[str, list[str]] | None = None) -> None:
        self.devices_by_worker = devices_by_worker or {}
        self.devices: list[str] = []

    def setup(self, worker: Any) -> None:
        given = self.devices_by_worker.get(str(worker.name))
        names = given if given is not None else [d for d in _settings.cuda_visible_devices() if d != "-1"]
        count = int(worker.state.total_resources.get("GPU", len(names)))
        self.devices = names[:count] + [str(i) for i in range(len(names), count)]

    def cuda_visible_devices(self, slots: list[int]) -> str:
        return ",".join(self.devices[i] for i in slots)


class TrialRunner(WorkerPlugin):
    """Starts, watches and kills the trial processes of one worker."""

    name = "tunesmith-trial-runner"
    idempotent = True  # shared by every driver using the cluster; attempts are keyed by driver run

    def __init__(self) -> None:
        self.processes: TrialProcesses | None = None

    def setup(self, worker: Any) -> None:
        self.processes = TrialProcesses(fork_server=True)  # hundreds of attempts at once: forks, not new Pythons

    def teardown(self, worker: Any) -> None:
        if self.processes is not None:
            self.processes.close()


def run_attempt(spec: dict[str, Any]) -> int | None:
    """The Dask task of one attempt: run it to its end; its process's exit code if it died.

    The task leaves the worker's thread pool first (``secede``), so attempts never wait
    for threads: the driver's ledger alone decides how many run on a worker.
    """
    worker = get_worker()
    secede()
    slots: GpuSlots = worker.plugins[GpuSlots.name]
    runner: TrialRunner = worker.plugins[TrialRunner.name]
    env = _environment(spec, slots.cuda_visible_devices(spec["gpu_slots"]))
    attempt = {"trial_id": spec["trial_id"], "attempt": spec["attempt"], "ticket": spec["ticket"],
               "certificate": spec.get("certificate")}
    return runner.processes.run(spec["key"], attempt, env, spec["cwd"], tuple(spec["python_path"]),
                                reuse=spec.get("reuse", False))


def _environment(spec: dict[str, Any], cuda: str) -> dict[str, str]:
    return attempt_environment(spec["driver"], "", spec["heartbeat_s"], cuda)  # no token: tickets


def prewarm(spec: dict[str, Any], dask_worker: Any = None) -> None:
    """Run on a worker by ``Client.run``: start a spare trial process per CPU for GPU-less attempts."""
    runner: TrialRunner = dask_worker.plugins[TrialRunner.name]
    slots = max(1, int(dask_worker.state.total_resources.get("CPU", dask_worker.state.nthreads)))
    runner.processes.prewarm(_environment(spec, ""), spec["cwd"], tuple(spec["python_path"]), count=min(slots, 4))


def kill_attempt(key: str, dask_worker: Any = None) -> bool:
    """Run on a worker by ``Client.run``: kill attempt ``key``'s process, even a late one."""
    runner: TrialRunner | None = dask_worker.plugins.get(TrialRunner.name)
    return runner is not None and runner.processes is not None and runner.processes.kill(key)


def probe_driver(host: str, port: int, timeout: float, dask_worker: Any = None) -> str | None:
    """Run on a worker by ``Client.run``: None if the driver's TrialServer answers, else why not."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def sees(path: str, dask_worker: Any = None) -> tuple[str, bool]:
    """Run on a worker by ``Client.run``: its host name, and whether ``path`` exists there."""
    return socket.gethostname(), os.path.exists(path)
