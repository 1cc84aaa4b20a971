"""The control plane: where trial attempts run. One ``Executor`` per engine."""

from __future__ import annotations

import abc
import dataclasses
from typing import Any

from tunesmith import _settings
from tunesmith.execution._resources import Allocation, ClusterLedger, ResourceLedger

__all__ = ["AttemptHandle", "Executor"]


@dataclasses.dataclass(eq=False)
class AttemptHandle:
    """One launched attempt of a trial, as its executor knows it."""

    trial_id: str
    attempt: int
    allocation: Allocation
    engine_ref: Any = None


class Executor(abc.ABC):
    """Places, launches, kills and watches trial attempts.

    The public methods keep the resource ledger; engines implement the private hooks
    :meth:`_start`, :meth:`_launch`, :meth:`_kill`, :meth:`_finished`, :meth:`_exited`
    and :meth:`_shutdown`. Results never pass through the executor: the attempt connects
    to the driver's ``TrialServer`` itself, at ``driver_address`` with ``token``, over TLS
    with the server's ``certificate`` where the executor asks for it (:meth:`trial_tls`).

    Args:
        heartbeat_timeout_s: Seconds a running attempt may stay silent (no message, no
            heartbeat) before it is declared lost; default ``TUNESMITH_HEARTBEAT_TIMEOUT_S``
            (30). Trial processes send a heartbeat every second or faster.
    """

    #: How to get more resources on this engine; ends the error for a request no node can meet.
    more_resources_hint = "declare more with tunesmith.init(num_cpus=..., num_gpus=...)"

    def __init__(self, *, heartbeat_timeout_s: float | None = None) -> None:
        if heartbeat_timeout_s is not None and heartbeat_timeout_s <= 0:
            raise ValueError(f"heartbeat_timeout_s must be > 0, got {heartbeat_timeout_s}")
        self._ledger: ResourceLedger | ClusterLedger | None = None
        self._handles: dict[tuple[str, int], AttemptHandle] = {}
        self._lost_on: dict[str, str] = {}  # trial id -> node of its last killed attempt
        self._heartbeat_timeout_s = heartbeat_timeout_s
        self._heartbeat_s: float | None = None  # fixed when an experiment starts
        self.driver_address = ""
        self.token = ""
        self.certificate: str | None = None
        self.reuse_processes = False

    # -- public bookkeeping ------------------------------------------------------------
    def start(self, driver_address: str, token: str, *, reuse_processes: bool = False,
              certificate: str | None = None) -> None:
        """Begin an experiment whose trials connect to ``driver_address`` with ``token``.

        Args:
            driver_address: The ``TrialServer``'s ``host:port``.
            token: The secret trial processes present.
            reuse_processes: Whether attempts may run in the worker process itself, one
                after another (``TuneConfig(reuse_actors=True)``). False, the default, runs
                each in a child the worker forks for it, so one trial's module globals,
                environment changes and threads never reach the next.
            certificate: The ``TrialServer``'s TLS certificate (PEM), which trials pin;
                None when the server speaks plain TCP.
        """
        self.driver_address, self.token, self.certificate = driver_address, token, certificate
        self._heartbeat_s = self._heartbeat_timeout_s or _settings.heartbeat_timeout_s()
        self.reuse_processes = reuse_processes
        self._ledger = self._start()

    def total_resources(self) -> dict[str, float]:
        return dict(self._require_ledger().total)

    def free_resources(self) -> dict[str, float]:
        return dict(self._require_ledger().free)

    def infeasible_reason(self, resources: dict[str, float]) -> str | None:
        return self._require_ledger().infeasible_reason(resources)

    def launch(self, trial_id: str, attempt: int, resources: dict[str, float]) -> AttemptHandle | None:
        """Start an attempt if its resources are free now; None if it must wait."""
        allocation = self._allocate(resources, avoid=self._lost_on.get(trial_id))
        if allocation is None:
            return None
        self._lost_on.pop(trial_id, None)
        handle = AttemptHandle(trial_id, attempt, allocation)
        self._handles[(trial_id, attempt)] = handle
        self._launch(handle)
        return handle

    def finished(self, handle: AttemptHandle) -> None:
        """The attempt ended by itself (DONE or ERROR); free its resources."""
        if self._handles.pop((handle.trial_id, handle.attempt), None) is not None:
            self._ledger.release(handle.allocation)
            self._finished(handle)

    def kill(self, handle: AttemptHandle) -> int | None:
        """Stop the attempt's process now; idempotent. Returns its exit code if known."""
        if self._handles.pop((handle.trial_id, handle.attempt), None) is None:
            return None
        if handle.allocation.node is not None:
            self._lost_on[handle.trial_id] = handle.allocation.node  # the retry prefers another node
        self._ledger.release(handle.allocation)
        return self._kill(handle)

    def poll(self) -> list[tuple[AttemptHandle, int | None]]:
        """Attempts whose process ended on its own, with their exit codes."""
        ended = []
        for handle in list(self._handles.values()):
            exit_code = self._exited(handle)
            if exit_code is not None:
                self._handles.pop((handle.trial_id, handle.attempt))
                self._ledger.release(handle.allocation)
                ended.append((handle, exit_code))
        return ended

    def exit_code(self, handle: AttemptHandle, timeout: float = 1.0) -> int | None:
        """Wait up to ``timeout`` s for the attempt's process to end; its exit code if known."""
        return None

    def shutdown(self) -> None:
        """End the experiment's attempts; the executor can be started again."""
        for handle in list(self._handles.values()):
            self.kill(handle)
        self._lost_on.clear()
        self._shutdown()

    def close(self) -> None:
        """Shut down and release the engine (clients and clusters this executor started)."""
        self.shutdown()

    def driver_host(self) -> str:
        """The address the driver's ``TrialServer`` binds to, reachable from trial processes."""
        return _settings.driver_host()

    def trial_tls(self) -> bool:
        """Whether the trial connection must be TLS (it crosses a network the cluster encrypts)."""
        return False

    def heartbeat_timeout(self) -> float:
        """Seconds a running attempt may stay silent before it is declared lost."""
        return self._heartbeat_s or self._heartbeat_timeout_s or _settings.heartbeat_timeout_s()

    def fork_server(self) -> Any:
        """The warm process helper processes (the log writer) are forked from; None if the
        executor has none."""
        return None

    def spans_hosts(self) -> bool:
        """Whether trials may run on a machine other than the driver's."""
        return False

    def hosts_without(self, path: str) -> list[str]:
        """The hosts trials may run on that cannot see the driver's file ``path``.

        Used before an experiment starts to check that a local ``storage_path`` is a
        shared mount; an executor that runs trials on this machine only returns ``[]``.
        """
        return []

    def _allocate(self, resources: dict[str, float], avoid: str | None) -> Allocation | None:
        """Take ``resources`` from the ledger, away from node ``avoid`` if another fits."""
        return self._require_ledger().allocate(resources, avoid=avoid)

    def _require_ledger(self) -> ResourceLedger | ClusterLedger:
        if self._ledger is None:
            raise RuntimeError("the executor has not been started")
        return self._ledger

    # -- engine hooks ------------------------------------------------------------------
    @abc.abstractmethod
    def _start(self) -> ResourceLedger:
        """Connect to the engine; return a ledger of its resources."""

    @abc.abstractmethod
    def _launch(self, handle: AttemptHandle) -> None:
        """Start the attempt's process (non-blocking)."""

    @abc.abstractmethod
    def _kill(self, handle: AttemptHandle) -> int | None:
        """End the attempt's process now; return its exit code if known."""

    def _finished(self, handle: AttemptHandle) -> None:
        """The attempt ended by itself: its worker process may take a later attempt."""

    @abc.abstractmethod
    def _exited(self, handle: AttemptHandle) -> int | None:
        """The exit code if the attempt's process has ended, else None."""

    def _shutdown(self) -> None:
        """Release everything the executor started."""
