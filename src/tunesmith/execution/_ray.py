"""``RayExecutor``: trial attempts on a Ray cluster, for users who already run one.

Ray places *runner actors*; each attempt runs as a child process of one, exactly as under
Dask (:mod:`tunesmith.execution._trial_processes`), and talks to the driver's
``TrialServer`` over its own connection. An actor holds its trial's resources in Ray
(``cpu`` -> ``num_cpus``, ``gpu`` -> ``num_gpus``, ``memory`` -> ``memory``, the rest ->
``resources``) and is reused for the next attempt that asks for the same resources on the
same node, because starting an actor takes about a second.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from typing import Any

from tunesmith import _protocol, _settings
from tunesmith._imports import try_import
from tunesmith.error import TuneError
from tunesmith.execution._executor import AttemptHandle, Executor
from tunesmith.execution._resources import Allocation, ClusterLedger, ResourceLedger
from tunesmith.execution._trial_processes import TrialProcesses, attempt_environment, driver_source_folders

__all__ = ["RayExecutor"]

_KILLED = -signal.SIGKILL
_NODE_REFRESH_S = 1.0
_NOT_RESOURCES = ("CPU", "GPU", "memory", "object_store_memory")


class RunnerActor:
    """The Ray actor that hosts trial processes (made a Ray actor class on first use)."""

    def __init__(self) -> None:
        self.processes = TrialProcesses(max_idle=2)

    def run(self, key: str, attempt: dict[str, Any], env: dict[str, str], cwd: str,
            python_path: tuple[str, ...], reuse: bool = False) -> int | None:
        import ray

        gpu_ids = ray.get_runtime_context().get_accelerator_ids().get("GPU", [])
        env = dict(env, CUDA_VISIBLE_DEVICES=",".join(str(i) for i in gpu_ids))
        return self.processes.run(key, attempt, env, cwd, tuple(python_path), reuse=reuse)


@dataclasses.dataclass(eq=False)
class _Runner:
    actor: Any
    node: str
    signature: tuple
    ref: Any = None


class RayExecutor(Executor):
    """Runs trial attempts on a Ray cluster.

    Args:
        address: ``"auto"`` (the cluster this machine belongs to), ``"ray://host:10001"``
            (Ray Client), or None: a Ray already initialised in this process, else a new
            local one.
        num_cpus: For a new local Ray only.
        num_gpus: For a new local Ray only; may exceed the real count to test GPU logic.
        resources: Custom resources of a new local Ray.
        heartbeat_timeout_s: Seconds a running trial may stay silent before it is
            declared lost; default ``TUNESMITH_HEARTBEAT_TIMEOUT_S`` (30).
        trial_tls: Trials talk to the driver over TLS (a certificate made per experiment,
            which trials pin) instead of plain TCP.

    Raises:
        TypeError: ``trial_tls`` is not True or False.
        ImportError: Ray is not installed (``pip install "tunesmith[ray]"``).
        TuneError: The cluster at ``address`` cannot be reached.

    Example::

        executor = RayExecutor(num_cpus=2)
        tune.Tuner(objective, tune_config=tune.TuneConfig(executor=executor)).fit()
        executor.close()
    """

    more_resources_hint = "add Ray nodes that have it (ray start --num-cpus=... --num-gpus=...)"

    def __init__(self, address: str | None = None, *, num_cpus: float | None = None, num_gpus: int | None = None,
                 resources: dict[str, float] | None = None, heartbeat_timeout_s: float | None = None,
                 trial_tls: bool = False) -> None:
        super().__init__(heartbeat_timeout_s=heartbeat_timeout_s)
        if not isinstance(trial_tls, bool):
            raise TypeError(f"trial_tls must be True or False, got {trial_tls!r}")
        self._trial_tls = trial_tls
        self._ray = try_import("ray", extra="ray", needed_by="RayExecutor")
        self._owns_ray = not self._ray.is_initialized()
        if self._owns_ray:
            local = {k: v for k, v in (("num_cpus", num_cpus), ("num_gpus", num_gpus), ("resources", resources))
                     if v is not None}
            try:
                self._ray.init(address=address, include_dashboard=False, **local)
            except (ConnectionError, TimeoutError) as exc:
                raise TuneError(f"cannot reach the Ray cluster at {address!r} ({exc}); check the address and "
                                "that the cluster runs (`ray status`)") from exc
        self._actor_class = self._ray.remote(RunnerActor)
        self._idle: dict[tuple[str, tuple], list[_Runner]] = {}
        self._nodes: dict[str, str] = {}  # node id -> its IP address
        self._nodes_at = 0.0
        self._closed = False

    # -- where the driver listens, and what the workers see ---------------------------------------
    def driver_host(self) -> str:
        return _settings.driver_host_override() or self._ray.util.get_node_ip_address()

    def trial_tls(self) -> bool:
        return self._trial_tls

    def spans_hosts(self) -> bool:
        driver = self.driver_host()
        return any(ip != driver for ip in self._alive_nodes().values())

    def hosts_without(self, path: str) -> list[str]:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        probe = self._ray.remote(num_cpus=0)(_path_exists)
        refs = {ip: probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)).remote(path)
                for node, ip in self._alive_nodes().items()}
        return sorted(ip for ip, ref in refs.items() if not self._ray.get(ref, timeout=60))

    # -- engine hooks ------------------------------------------------------------------------------
    def _start(self) -> ClusterLedger:
        if self._closed:
            raise RuntimeError("this RayExecutor was closed; make a new one")
        self._ledger = ClusterLedger()
        self._nodes.clear()
        self._refresh_nodes(force=True)
        return self._ledger

    def _allocate(self, resources: dict[str, float], avoid: str | None) -> Allocation | None:
        signature = _signature(resources)
        prefer = next((node for (node, sig), idle in self._idle.items() if sig == signature and idle), None)
        ledger: ClusterLedger = self._require_ledger()  # type: ignore[assignment]
        return ledger.allocate(resources, avoid=avoid, prefer=prefer)

    def _launch(self, handle: AttemptHandle) -> None:
        node, signature = handle.allocation.node, _signature(handle.allocation.resources)
        idle = self._idle.get((node, signature))
        runner = idle.pop() if idle else self._new_runner(node, signature, handle.allocation.resources)
        # The actor's arguments carry the attempt's one-time ticket, never the experiment's
        # token: other clients of the cluster can read them.
        env = attempt_environment(self.driver_address, "", min(1.0, self.heartbeat_timeout() / 4))
        key = f"{self.driver_address}-{handle.trial_id}-{handle.attempt}"
        ticket = _protocol.attempt_ticket(self.token, handle.trial_id, handle.attempt)
        attempt = {"trial_id": handle.trial_id, "attempt": handle.attempt, "ticket": ticket,
                   "certificate": self.certificate}
        runner.ref = runner.actor.run.remote(key, attempt, env, os.getcwd(), driver_source_folders(),
                                             self.reuse_processes)
        handle.engine_ref = runner

    def _exited(self, handle: AttemptHandle) -> int | None:
        runner: _Runner = handle.engine_ref
        ready, _ = self._ray.wait([runner.ref], timeout=0)
        return self._exit_code(runner) if ready else None

    def exit_code(self, handle: AttemptHandle, timeout: float = 1.0) -> int | None:
        runner: _Runner | None = handle.engine_ref
        if runner is None:
            return None
        ready, _ = self._ray.wait([runner.ref], timeout=min(timeout, 0.5))
        return self._exit_code(runner) if ready else None

    def _finished(self, handle: AttemptHandle) -> None:
        runner: _Runner = handle.engine_ref
        if runner.node in self._nodes:
            self._idle.setdefault((runner.node, runner.signature), []).append(runner)

    def _kill(self, handle: AttemptHandle) -> int | None:
        # The actor goes with its attempt: its trial process dies with it, at once.
        self._ray.kill(handle.engine_ref.actor, no_restart=True)
        return None

    def poll(self) -> list[tuple[AttemptHandle, int | None]]:
        self._refresh_nodes()
        return super().poll()

    def close(self) -> None:
        """Shut down, end the runner actors, and stop Ray if this executor started it."""
        if self._closed:
            return
        self.shutdown()
        self._closed = True
        for runners in self._idle.values():
            for runner in runners:
                self._ray.kill(runner.actor, no_restart=True)
        self._idle.clear()
        if self._owns_ray and self._ray.is_initialized():
            self._ray.shutdown()

    # -- helpers -----------------------------------------------------------------------------------
    def _new_runner(self, node: str, signature: tuple, resources: dict[str, float]) -> _Runner:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        # Idle actors on this node hold resources in Ray that the ledger already counts as free.
        for key in [k for k in self._idle if k[0] == node]:
            for runner in self._idle.pop(key):
                self._ray.kill(runner.actor, no_restart=True)
        custom = {k: v for k, v in resources.items() if k not in ("cpu", "gpu", "memory") and v > 0}
        options: dict[str, Any] = {
            "num_cpus": resources.get("cpu", 0.0), "num_gpus": resources.get("gpu", 0.0),
            "scheduling_strategy": NodeAffinitySchedulingStrategy(node, soft=False),
            "max_restarts": 0, "max_concurrency": 4,
        }
        if custom:
            options["resources"] = custom
        if resources.get("memory"):
            options["memory"] = resources["memory"]
        return _Runner(self._actor_class.options(**options).remote(), node, signature)

    def _exit_code(self, runner: _Runner) -> int | None:
        """The attempt's exit code; None if it ended as trials end and its process lives on."""
        try:
            return self._ray.get(runner.ref)
        except Exception:  # the actor died (killed, or its node was lost)
            return _KILLED

    def _alive_nodes(self) -> dict[str, str]:
        return {n["NodeID"]: n["NodeManagerAddress"] for n in self._ray.nodes() if n.get("Alive")}

    def _refresh_nodes(self, force: bool = False) -> None:
        """Add nodes that joined, drop those that left (at most once a second)."""
        now = time.monotonic()
        ledger = self._ledger
        if ledger is None or (not force and now - self._nodes_at < _NODE_REFRESH_S):
            return
        self._nodes_at = now
        alive = {n["NodeID"]: n for n in self._ray.nodes() if n.get("Alive")}
        for node in set(self._nodes) - set(alive):
            ledger.remove_node(node)
            del self._nodes[node]
            for key in [k for k in self._idle if k[0] == node]:
                del self._idle[key]
        for node, info in alive.items():
            if node not in self._nodes:
                ledger.add_node(node, _node_ledger(info.get("Resources", {})))
                self._nodes[node] = info["NodeManagerAddress"]


def _signature(resources: dict[str, float]) -> tuple:
    return tuple(sorted((k, float(v)) for k, v in resources.items() if v))


def _node_ledger(resources: dict[str, float]) -> ResourceLedger:
    custom = {k: v for k, v in resources.items()
              if k not in _NOT_RESOURCES and not k.startswith(("node:", "accelerator_type:"))}
    return ResourceLedger(resources.get("CPU", 0.0), int(resources.get("GPU", 0)), custom)


def _path_exists(path: str) -> bool:
    return os.path.exists(path)
