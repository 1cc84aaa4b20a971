"""``LocalExecutor``: trial attempts in worker processes on this machine (the default)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tunesmith import _settings
from tunesmith.execution import _forkserver
from tunesmith.execution._executor import AttemptHandle, Executor
from tunesmith.execution._pool import ProcessPool, WarmProcess
from tunesmith.execution._resources import ResourceLedger

__all__ = ["LocalExecutor"]

_POLL_PERIOD_S = 0.05


class LocalExecutor(Executor):
    """Runs each trial attempt in a local worker process.

    Worker processes are kept warm and reused for later attempts that need the same
    environment (the same ``CUDA_VISIBLE_DEVICES``). A worker runs each attempt in a child
    it forks for it (a few milliseconds), so nothing one trial leaves (module globals,
    ``os.environ``, threads) reaches the next; only with ``TuneConfig(reuse_actors=True)``
    do attempts run in the worker itself, one after another. A process that is killed,
    crashes, or runs a trial that is stopped without unwinding is replaced by a fresh one.
    ``reuse_workers=False`` gives every attempt a fresh worker. The processes come from a
    :class:`~tunesmith.execution._pool.ProcessPool`: on Linux they are forked from a warm
    template process (:mod:`tunesmith.execution._forkserver`), which costs milliseconds
    instead of Python's start-up and imports. This class decides which worker runs which
    attempt; the pool starts and keeps them.

    Args:
        num_cpus: CPUs to hand out (default: all of this machine's).
        num_gpus: GPUs to hand out; may exceed the real count to test GPU logic.
        resources: Custom resources, e.g. ``{"license": 2}``.
        reuse_workers: Keep worker processes for later attempts.
        heartbeat_timeout_s: Seconds a running trial may stay silent before it is declared
            lost (default ``TUNESMITH_HEARTBEAT_TIMEOUT_S``, 30).
    """

    def __init__(
        self,
        num_cpus: float | None = None,
        num_gpus: int | None = None,
        resources: dict[str, float] | None = None,
        *,
        reuse_workers: bool = True,
        heartbeat_timeout_s: float | None = None,
    ) -> None:
        super().__init__(heartbeat_timeout_s=heartbeat_timeout_s)
        if num_cpus is not None and num_cpus <= 0:
            raise ValueError(f"num_cpus must be > 0, got {num_cpus}")
        if num_gpus is not None and (num_gpus < 0 or int(num_gpus) != num_gpus):
            raise ValueError(f"num_gpus must be a whole number >= 0, got {num_gpus}")
        self.num_cpus = float(num_cpus) if num_cpus is not None else float(os.cpu_count() or 1)
        self.num_gpus = int(num_gpus) if num_gpus is not None else _detect_gpus()
        self.custom = dict(resources or {})
        self.reuse_workers = reuse_workers
        visible = _settings.cuda_visible_devices()
        # Ledger ids index into the devices this process may use (a driver restricted to
        # CUDA_VISIBLE_DEVICES=2,3 hands out "2" and "3"); fake GPUs beyond them keep their index.
        self._device_names = visible + [str(i) for i in range(len(visible), self.num_gpus)]
        self.pool = ProcessPool(self._env, max_idle=max(1, int(self.num_cpus)))  # at most one idle worker per CPU
        self._busy: dict[tuple[str, int], WarmProcess] = {}
        self._polled_at = 0.0
        # Idle workers outlive an experiment only for the executor tunesmith.init() (or the
        # default) made, which shutdown() closes; one a user made may never be closed.
        self.keep_warm = False

    def prestart(self) -> None:
        """Start the CPU workers now (``tunesmith.init`` does), so the first experiment
        does not wait for Python to start; they stay warm between experiments."""
        if not self.reuse_workers:
            return
        if self.pool.environment_changed():  # workers (and the template) must see the new one
            self._stop_idle()
        self.pool.prestart(max(1, int(self.num_cpus)))

    def _start(self) -> ResourceLedger:
        self.prestart()  # interpreter start-up overlaps the driver's setup
        return ResourceLedger(self.num_cpus, self.num_gpus, self.custom)

    def _env(self, cuda: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            CUDA_VISIBLE_DEVICES=cuda,
            PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
            TUNESMITH_HEARTBEAT_INTERVAL_S=f"{min(1.0, self.heartbeat_timeout() / 4):g}",
        )
        return env

    def _launch(self, handle: AttemptHandle) -> None:
        cuda = ",".join(self._device_names[i] for i in handle.allocation.gpu_ids)
        worker = self.pool.take(cuda)
        self._busy[(handle.trial_id, handle.attempt)] = worker
        worker.run(handle.trial_id, handle.attempt, self.driver_address, self.token, fresh=not self.reuse_processes)

    def fork_server(self) -> _forkserver.ForkServer | None:
        """The warm process new trial processes (and the log writer) are forked from; None
        where there is none (not Linux)."""
        return self.pool.template()

    def _finished(self, handle: AttemptHandle) -> None:
        worker = self._busy.pop((handle.trial_id, handle.attempt), None)
        if worker is None:
            return
        if self.reuse_workers:
            self.pool.give_back(worker)
        else:
            worker.stop()

    def _kill(self, handle: AttemptHandle) -> int | None:
        worker = self._busy.pop((handle.trial_id, handle.attempt), None)
        return worker.kill() if worker is not None else None

    def poll(self) -> list[tuple[AttemptHandle, int | None]]:
        # A process that dies closes its socket, which the controller sees at once; this
        # check only finds exit codes, so it runs at most every _POLL_PERIOD_S, not once
        # per loop (a waitpid per worker, per loop, was a tenth of the driver's system time).
        now = time.monotonic()
        if now - self._polled_at < _POLL_PERIOD_S:
            return []
        self._polled_at = now
        # The fork server tells every child's exit code on one socket: read it once here,
        # not once per worker (a recv() per worker per poll was 8% of a core at 1,000 trials).
        template = self.pool.running_template
        if template is not None:
            template.pump(0)
        return super().poll()

    def _exited(self, handle: AttemptHandle) -> int | None:
        worker = self._busy.get((handle.trial_id, handle.attempt))
        if worker is None:
            return None
        process = worker.process
        pumped = isinstance(process, _forkserver.ForkedProcess) and process.server is self.pool.running_template
        code = process.returncode if pumped else process.poll()
        if code is not None:
            del self._busy[(handle.trial_id, handle.attempt)]
        return code

    def exit_code(self, handle: AttemptHandle, timeout: float = 1.0) -> int | None:
        """Wait up to ``timeout`` for the attempt's process to end; its exit code, or None."""
        worker = self._busy.get((handle.trial_id, handle.attempt))
        if worker is None:
            return None
        try:
            return worker.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def _shutdown(self) -> None:
        if not self.keep_warm:
            self._stop_idle()
            return
        self.pool.disconnect_idle()  # before the server closes, or their heartbeats would find the driver gone

    def close(self) -> None:
        """End the experiment's attempts and stop every worker process (idempotent)."""
        self.shutdown()
        self._stop_idle()

    def _stop_idle(self) -> None:
        """Stop the idle workers, and the template when no attempt runs (its children die with it)."""
        self.pool.stop_idle()
        if not self._busy:
            self.pool.close_template()


def _detect_gpus() -> int:
    """GPUs visible to this process, from ``CUDA_VISIBLE_DEVICES`` or ``nvidia-smi``'s device files."""
    visible = _settings.cuda_visible_devices_raw()
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    try:
        return len([n for n in os.listdir("/dev") if n.startswith("nvidia") and n[6:].isdigit()])
    except OSError:
        return 0
