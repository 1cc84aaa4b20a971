"""``DaskExecutor``: trial attempts on the workers of a Dask cluster.

The cluster only places and kills processes. Each attempt is one Dask task, pinned to the
worker this executor's ledger chose; the task starts the trial process (a child of the
worker that dies with it) and waits for it. Results and decisions travel on the trial's
own connection to the driver's ``TrialServer``, as with the local executor.

Why not leave placement to Dask: its resource counters over-commit workers (measured 2x
slower), never fail an impossible request (it pends forever) and hand out no GPU ids. The
executor reads each worker's ``--resources`` instead, rejects impossible requests at once,
and keeps its own ledger, with GPU slots that the worker's ``GpuSlots`` plugin names.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import logging
import os
import signal
import socket
import threading
import time
import uuid
from typing import Any

from tunesmith import _protocol, _settings
from tunesmith._imports import try_import
from tunesmith.error import TuneError
from tunesmith.execution._executor import AttemptHandle, Executor
from tunesmith.execution._resources import Allocation, ClusterLedger, ResourceLedger
from tunesmith.execution._trial_processes import driver_source_folders

__all__ = ["DaskExecutor"]

logger = logging.getLogger("tunesmith")

_KILLED = -signal.SIGKILL
_NODE_REFRESH_S = 1.0
_STARVED_GAP_S = 5.0  # a trial that found no worker this long ago waited in an earlier, separate spell


@dataclasses.dataclass(eq=False)
class _Task:
    """The Dask side of one attempt: its task's future, worker and key."""

    future: Any
    worker: str
    key: str
    attempt: tuple[str, int] = ("", 0)  # (trial_id, attempt)
    exit_code: int | None = None
    ended: threading.Event = dataclasses.field(default_factory=threading.Event)
    done: collections.deque | None = None  # where it goes once ended, for the executor's poll

    def record(self, future: Any) -> None:
        """Done-callback (a Dask thread): keep the exit code, so polling never blocks.

        A task that returns None ran its attempt in a process that lives on: the attempt
        ended through the data plane (DONE or ERROR), and there is no exit to report.
        """
        if future.status == "finished":
            try:
                code = future.result()
                self.exit_code = None if code is None else int(code)
            except Exception:
                self.exit_code = 1
        else:  # the worker died ("error": KilledWorker) or the task was cancelled
            self.exit_code = _KILLED
        self.ended.set()
        if self.done is not None:
            self.done.append(self)


class DaskExecutor(Executor):
    """Runs trial attempts on an existing Dask cluster.

    Workers declare what they have with ``dask worker --resources "CPU=4,GPU=2"`` (a
    worker without ``CPU`` counts its threads). Each attempt is pinned to one worker and
    runs as a child process of it, so a worker that dies takes its trials with it; their
    loss is seen at once and they are retried (``FailureConfig``) on another worker, from
    their last checkpoint. Workers that join while an experiment runs get trials too.

    Args:
        address: The scheduler's address (``"tcp://host:8786"``), or a
            ``distributed.Client`` to use (it is not closed by :meth:`close`).
        timeout_s: How long to wait for the scheduler, and for the first workers.
        min_workers: Workers to wait for before the first trial is placed.
        heartbeat_timeout_s: Seconds a running trial may stay silent before it is
            declared lost (a hung or cut-off host); default
            ``TUNESMITH_HEARTBEAT_TIMEOUT_S`` (30).
        pending_timeout_s: Seconds trials may wait while no worker could run them (every
            worker gone, or none with the resources they ask for): a warning after the
            heartbeat timeout, then a ``TuneError`` ends the experiment; default
            ``TUNESMITH_PENDING_TIMEOUT_S`` (600).
        trial_tls: Whether trials talk to the driver over TLS (a certificate made per
            experiment, which trials pin). None, the default: when the scheduler is at
            ``tls://``.

    Raises:
        ImportError: Dask is not installed (``pip install "tunesmith[dask]"``).
        TuneError: The scheduler does not answer within ``timeout_s``.
        TypeError: ``trial_tls`` is not True, False or None.

    Example:
        >>> import tunesmith as tune
        >>> from tunesmith.execution import DaskExecutor
        >>> executor = DaskExecutor.local(n_workers=2)
        >>> def objective(config):
        ...     return {"score": config["x"] ** 2}
        >>> results = tune.Tuner(objective, param_space={"x": tune.grid_search([1, 2])},
        ...     tune_config=tune.TuneConfig(executor=executor),
        ...     run_config=tune.RunConfig(storage_path="/tmp/tunesmith_doctest", verbose=0)).fit()
        >>> sorted(r.metrics["score"] for r in results)
        [1, 4]
        >>> executor.close()
    """

    more_resources_hint = ('start Dask workers that have it, e.g. `dask worker SCHEDULER --nthreads 1 '
                           '--resources "CPU=4,GPU=1"`')

    def __init__(self, address: Any = None, *, timeout_s: float = 10.0, min_workers: int = 1,
                 heartbeat_timeout_s: float | None = None, pending_timeout_s: float | None = None,
                 trial_tls: bool | None = None) -> None:
        super().__init__(heartbeat_timeout_s=heartbeat_timeout_s)
        if trial_tls is not None and not isinstance(trial_tls, bool):
            raise TypeError(f"trial_tls must be True, False or None (TLS when the scheduler is at tls://), "
                            f"got {trial_tls!r}")
        self._trial_tls = trial_tls
        distributed = try_import("distributed", extra="dask", needed_by="DaskExecutor")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        if pending_timeout_s is not None and not pending_timeout_s > 0:
            raise ValueError(f"pending_timeout_s must be > 0 seconds, got {pending_timeout_s!r}")
        self.pending_timeout_s = pending_timeout_s or _settings.pending_timeout_s()
        self._starved_since: float | None = None  # since when no worker could run a waiting trial
        self._starved_seen = 0.0  # when that was last seen
        self._starved_warned = False
        if min_workers < 0:
            raise ValueError(f"min_workers must be >= 0, got {min_workers}")
        self.timeout_s = float(timeout_s)
        self.min_workers = int(min_workers)
        self._owns_client = not isinstance(address, distributed.Client)
        self.client = _connect(distributed, address, self.timeout_s) if self._owns_client else address
        self._cluster: Any = None
        self._tasks: dict[str, set[_Task]] = {}  # worker -> killed attempts whose process may still run
        self._live: set[_Task] = set()  # attempts whose task has not ended
        self._background = concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="tunesmith-dask")
        self._run_id = ""
        self._nodes_at = 0.0
        self._done: collections.deque[_Task] = collections.deque()  # tasks ended since the last poll
        self._hosts: dict[str, str] = {}  # worker address -> host
        self._closed = False

    @classmethod
    def local(cls, n_workers: int = 2, *, cpus_per_worker: float = 1, gpus_per_worker: int = 0,
              resources_per_worker: dict[str, float] | None = None,
              heartbeat_timeout_s: float | None = None, pending_timeout_s: float | None = None,
              trial_tls: bool = False) -> DaskExecutor:
        """Start a Dask ``LocalCluster`` on 127.0.0.1 and an executor on it.

        The workers are threads of this process (no ``if __name__ == "__main__"`` guard is
        needed); trials still run in their own processes. GPUs are split between workers:
        with ``gpus_per_worker=2``, worker 0 owns devices 0 and 1, worker 1 owns 2 and 3.
        :meth:`close` stops the cluster. ``trial_tls=True`` runs the trial connections over
        TLS, as on a ``tls://`` cluster (the cluster itself stays ``tcp://`` on 127.0.0.1).
        """
        if n_workers < 1:
            raise ValueError(f"n_workers must be >= 1, got {n_workers}")
        distributed = try_import("distributed", extra="dask", needed_by="DaskExecutor")
        from tunesmith.execution._dask_worker import GpuSlots, TrialRunner

        resources = {"CPU": float(cpus_per_worker), "GPU": int(gpus_per_worker), **(resources_per_worker or {})}
        # The workers share this process with the controller: no memory limit (it would
        # measure the driver), and fewer health checks and metrics, which cost GIL time.
        quiet = {"distributed.admin.tick.interval": "1s", "distributed.admin.system-monitor.interval": "5s",
                 "distributed.admin.system-monitor.gil.enabled": False, "distributed.worker.profile.enabled": False}
        with try_import("dask", extra="dask", needed_by="DaskExecutor").config.set(quiet):
            cluster = distributed.LocalCluster(
                n_workers=n_workers, processes=False, threads_per_worker=max(1, int(cpus_per_worker)),
                protocol="tcp://", host="127.0.0.1", dashboard_address="127.0.0.1:0", resources=resources,
                memory_limit=0,
            )
        visible = _settings.cuda_visible_devices()
        names = visible + [str(i) for i in range(len(visible), n_workers * gpus_per_worker)]
        devices = {str(w): names[w * gpus_per_worker:(w + 1) * gpus_per_worker] for w in range(n_workers)}
        client = distributed.Client(cluster, set_as_default=False)
        client.register_plugin(GpuSlots(devices), name=GpuSlots.name)
        client.register_plugin(TrialRunner(), name=TrialRunner.name)
        executor = cls(client, min_workers=n_workers, heartbeat_timeout_s=heartbeat_timeout_s,
                       pending_timeout_s=pending_timeout_s, trial_tls=trial_tls)
        executor._cluster, executor._owns_client = cluster, True
        return executor

    # -- where the driver listens, and what the workers see ---------------------------------------
    def driver_host(self) -> str:
        """``TUNESMITH_DRIVER_HOST``, else this machine's address on the route to the scheduler."""
        override = _settings.driver_host_override()
        if override:
            return override
        scheduler = self.client.scheduler.address
        if not scheduler.startswith("tcp://") and not scheduler.startswith("tls://"):
            return "127.0.0.1"  # in-process workers
        host, port = scheduler.split("://", 1)[1].rsplit(":", 1)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect((host.strip("[]"), int(port)))  # picks a route; sends nothing
                return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"

    def trial_tls(self) -> bool:
        """``trial_tls`` as given, else whether the scheduler is at ``tls://``."""
        if self._trial_tls is not None:
            return self._trial_tls
        return self.client.scheduler.address.startswith("tls://")

    def spans_hosts(self) -> bool:
        driver = self.driver_host()
        return any(host not in (driver, "") for host in self._worker_hosts().values())

    def hosts_without(self, path: str) -> list[str]:
        from tunesmith.execution._dask_worker import sees

        answers = self._on_workers(sees, path)
        return sorted({worker if isinstance(a, Exception) else a[0]
                       for worker, a in answers.items() if isinstance(a, Exception) or not a[1]})

    # -- engine hooks ------------------------------------------------------------------------------
    def _start(self) -> ClusterLedger:
        if self._closed:
            raise RuntimeError("this DaskExecutor was closed; make a new one")
        from tunesmith.execution._dask_worker import GpuSlots, TrialRunner

        self.client.register_plugin(GpuSlots(), name=GpuSlots.name)
        self.client.register_plugin(TrialRunner(), name=TrialRunner.name)
        self._wait_for_workers()
        self._run_id = uuid.uuid4().hex[:8]
        self._check_driver_reachable()
        from tunesmith.execution._dask_worker import prewarm

        self._on_workers(prewarm, self._process_spec())  # trial processes start while the experiment sets up
        ledger = ClusterLedger()
        self._ledger = ledger
        self._refresh_nodes(force=True)
        return ledger

    def _allocate(self, resources: dict[str, float], avoid: str | None) -> Allocation | None:
        ledger: ClusterLedger = self._require_ledger()  # type: ignore[assignment]
        allocation = ledger.allocate(resources, avoid=avoid, exclude=self._suspect_workers())
        reason = None if allocation is not None else ledger.infeasible_reason(resources)
        if reason is None:  # placed, or a worker that could run it is busy
            self._starved_since = None
            self._starved_warned = False
        else:
            self._starving(reason)
        return allocation

    def _starving(self, reason: str) -> None:
        """A waiting trial fits no worker: warn after the heartbeat timeout, fail after ``pending_timeout_s``."""
        now = time.monotonic()
        if self._starved_since is None or now - self._starved_seen > _STARVED_GAP_S:  # a new wait
            self._starved_since, self._starved_warned = now, False
        self._starved_seen = now
        waited = now - self._starved_since
        if waited >= self.pending_timeout_s:
            raise TuneError(
                f"a pending trial waited {waited:.0f} s with no Dask worker able to run it: {reason}. Start workers "
                f"(or ones with the resources), or wait longer with DaskExecutor(pending_timeout_s=...) or "
                "TUNESMITH_PENDING_TIMEOUT_S"
            )
        if waited >= min(self.heartbeat_timeout(), self.pending_timeout_s) and not self._starved_warned:
            self._starved_warned = True
            logger.warning(
                "trials are pending and no Dask worker can run them: %s. The experiment ends with an error "
                "if none joins within %g s (pending_timeout_s)", reason, self.pending_timeout_s,
            )

    def _launch(self, handle: AttemptHandle) -> None:
        from tunesmith.execution._dask_worker import run_attempt

        worker = handle.allocation.node
        key = f"tunesmith-{self._run_id}-{handle.trial_id}-{handle.attempt}"
        # The task carries the attempt's one-time ticket, never the experiment's token: any
        # client of the scheduler can read a task's arguments.
        ticket = _protocol.attempt_ticket(self.token, handle.trial_id, handle.attempt)
        spec = dict(self._process_spec(), key=key, trial_id=handle.trial_id, attempt=handle.attempt,
                    ticket=ticket, gpu_slots=handle.allocation.gpu_ids)
        future = self.client.submit(run_attempt, spec, key=key, workers=[worker], allow_other_workers=False,
                                    pure=False, retries=0)
        task = _Task(future, worker, key, (handle.trial_id, handle.attempt), done=self._done)
        self._live.add(task)
        future.add_done_callback(task.record)
        handle.engine_ref = task

    def _exited(self, handle: AttemptHandle) -> int | None:
        task: _Task = handle.engine_ref
        if task.ended.is_set():
            return task.exit_code
        if task.worker not in self._hosts:
            return _KILLED  # its worker left the cluster; the trial died with it
        return None

    def exit_code(self, handle: AttemptHandle, timeout: float = 1.0) -> int | None:
        task: _Task | None = handle.engine_ref
        if task is None or not task.ended.wait(min(timeout, 0.5)):
            return None
        return task.exit_code

    def _kill(self, handle: AttemptHandle) -> int | None:
        task: _Task = handle.engine_ref
        if not task.ended.is_set():
            # No new trial goes to this worker until the old process is known to be gone:
            # on a hung host the kill waits until the host wakes up.
            self._tasks.setdefault(task.worker, set()).add(task)
            self._background.submit(self._kill_on_worker, task)
        return task.exit_code

    def poll(self) -> list[tuple[AttemptHandle, int | None]]:
        """The attempts whose task ended since the last poll, from their done-callbacks; every
        attempt once a second, when the workers are refreshed (one may have left). Not a look
        at each of 1,000 running attempts per loop step."""
        if self._refresh_nodes():
            self._done.clear()  # the scan sees these: each task is queued after it has ended
            return super().poll()
        ended = []
        while self._done:
            task = self._done.popleft()
            handle = self._handles.get(task.attempt)
            if handle is None or handle.engine_ref is not task or task.exit_code is None:
                continue  # killed or finished already, or its process lives on (no exit to report)
            del self._handles[task.attempt]
            self._ledger.release(handle.allocation)
            ended.append((handle, task.exit_code))
        return ended

    def _shutdown(self) -> None:
        # Trial processes end right after their DONE; wait a moment so their tasks finish
        # rather than being cancelled by a closing cluster.
        deadline = time.monotonic() + 2.0
        for task in list(self._live):
            if task.worker in self._hosts and task not in self._tasks.get(task.worker, ()):
                task.ended.wait(max(0.0, deadline - time.monotonic()))
        self._live = {t for t in self._live if not t.ended.is_set()}
        self._tasks.clear()
        self._hosts.clear()

    def close(self) -> None:
        """Shut down; close the client and cluster this executor started (idempotent)."""
        if self._closed:
            return
        self.shutdown()
        self._closed = True
        self._background.shutdown(wait=False, cancel_futures=True)
        if self._owns_client:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    # -- helpers -----------------------------------------------------------------------------------
    def _process_spec(self) -> dict[str, Any]:
        """What every trial process of this experiment is started with."""
        return {"driver": self.driver_address, "certificate": self.certificate, "cwd": os.getcwd(),
                "heartbeat_s": min(1.0, self.heartbeat_timeout() / 4), "python_path": driver_source_folders(),
                "reuse": self.reuse_processes}

    def _kill_on_worker(self, task: _Task) -> None:
        from tunesmith.execution._dask_worker import kill_attempt

        try:
            self.client.run(kill_attempt, task.key, workers=[task.worker], on_error="ignore")
        except Exception:
            pass  # the worker is gone, and its processes with it
        if task.worker not in self._hosts and not task.future.done():
            task.future.cancel()  # pinned to a worker that left: it can never run

    def _suspect_workers(self) -> set[str]:
        """Workers holding a killed attempt whose process is not known to have ended."""
        for worker in list(self._tasks):
            self._tasks[worker] = {t for t in self._tasks[worker] if not t.ended.is_set()}
            if not self._tasks[worker] or worker not in self._hosts:
                del self._tasks[worker]
        return set(self._tasks)

    def _refresh_nodes(self, force: bool = False) -> bool:
        """Add workers that joined and drop those that left (at most once a second); whether it did."""
        now = time.monotonic()
        ledger = self._ledger
        if ledger is None or (not force and now - self._nodes_at < _NODE_REFRESH_S):
            return False
        self._nodes_at = now
        self._live = {t for t in self._live if not t.ended.is_set()}
        workers = self._workers()
        for address in (set(self._hosts) | set(ledger.nodes)) - set(workers):
            ledger.remove_node(address)
            self._hosts.pop(address, None)
        for address, info in workers.items():
            # Membership is the ledger's: the storage check fills _hosts before any ledger exists.
            if address not in ledger.nodes:
                ledger.add_node(address, _worker_ledger(info))
            self._hosts[address] = str(info.get("host", ""))
        return True

    def _worker_hosts(self) -> dict[str, str]:
        if not self._hosts:
            self._hosts = {a: str(i.get("host", "")) for a, i in self._workers().items()}
        if not self.client.scheduler.address.startswith(("tcp://", "tls://")):
            return {}  # in-process workers
        return self._hosts

    def _workers(self) -> dict[str, Any]:
        """Every worker the scheduler knows, with its resources and host."""
        # Asked of the scheduler directly: Client.scheduler_info() returns a cache that the
        # client's periodic refresh overwrites with a worker-less summary, which made a
        # freshly started executor see no workers now and then.
        try:
            info = self.client.sync(self.client.scheduler.identity, n_workers=-1)
        except TypeError:  # older Dask: identity() takes no arguments and lists every worker
            info = self.client.sync(self.client.scheduler.identity)
        return dict(info.get("workers", {}))

    def _wait_for_workers(self) -> None:
        try:
            self.client.wait_for_workers(self.min_workers, timeout=self.timeout_s)
        except (TimeoutError, OSError) as exc:
            raise TuneError(
                f"no Dask worker joined the scheduler at {self.client.scheduler.address} within {self.timeout_s:g} s "
                f"(waiting for {self.min_workers}); start workers with `dask worker {self.client.scheduler.address}`, "
                "or raise DaskExecutor(timeout_s=...)"
            ) from exc

    def _check_driver_reachable(self) -> None:
        from tunesmith.execution._dask_worker import probe_driver

        host, port = self.driver_address.rsplit(":", 1)
        answers = self._on_workers(probe_driver, host, int(port), 5.0)
        failures = {w: f"{type(a).__name__}: {a}" if isinstance(a, Exception) else a for w, a in answers.items() if a}
        if failures:
            listed = "; ".join(f"{w}: {why}" for w, why in sorted(failures.items()))
            raise TuneError(
                f"Dask workers cannot reach the driver at {self.driver_address} ({listed}). Set "
                "TUNESMITH_DRIVER_HOST to an address of this machine that the workers can reach"
            )

    def _on_workers(self, function: Any, *args: Any) -> dict[str, Any]:
        """``Client.run`` on every worker, bounded by ``timeout_s`` (a hung worker must not hang us)."""
        call = self._background.submit(self.client.run, function, *args, on_error="return")
        try:
            answers = call.result(timeout=self.timeout_s + 5)
        except concurrent.futures.TimeoutError:
            raise TuneError(f"Dask workers did not answer within {self.timeout_s + 5:g} s") from None
        return answers


def _connect(distributed: Any, address: Any, timeout_s: float) -> Any:
    if address is None:
        raise ValueError(
            "DaskExecutor needs the scheduler's address (DaskExecutor('tcp://host:8786')) or a distributed.Client; "
            "for a cluster on this machine use DaskExecutor.local()"
        )
    if not isinstance(address, str):
        raise TypeError(f"address must be a string or a distributed.Client, got {type(address).__name__}")
    try:
        return distributed.Client(address, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise TuneError(
            f"cannot reach the Dask scheduler at {address} within {timeout_s:g} s ({exc}); check the address "
            "and that `dask scheduler` runs there"
        ) from exc


def _worker_ledger(info: dict[str, Any]) -> ResourceLedger:
    resources = dict(info.get("resources") or {})
    cpu = resources.pop("CPU", info.get("nthreads", 1))
    gpu = resources.pop("GPU", 0)
    return ResourceLedger(cpu, int(gpu), resources)
