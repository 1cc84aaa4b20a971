"""The resource ledger: what is free, and which GPU ids a trial gets."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Iterable

__all__ = ["Allocation", "ClusterLedger", "ResourceLedger"]

_EPS = 1e-9
_UNTRACKED = ("memory", "object_store_memory")


@dataclasses.dataclass
class Allocation:
    """Resources held by one attempt; ``gpu_ids`` become ``CUDA_VISIBLE_DEVICES``."""

    resources: dict[str, float]
    gpu_shares: list[tuple[int, float]]
    node: str | None = None  # which node of a ClusterLedger holds it

    @property
    def gpu_ids(self) -> list[int]:
        return [gpu_id for gpu_id, _ in self.gpu_shares]


class ResourceLedger:
    """CPU, GPU and custom resources on one node.

    Fractional GPU requests (``0 < gpu < 1``) are packed best-fit onto one device, so two
    trials asking for 0.5 share a device id; whole-number requests take whole devices.
    """

    def __init__(self, cpu: float, gpu: int = 0, custom: dict[str, float] | None = None) -> None:
        self.total = {"cpu": float(cpu), "gpu": float(gpu), **{k: float(v) for k, v in (custom or {}).items()}}
        self.free = dict(self.total)
        self._gpu_free = [1.0] * int(gpu)

    def infeasible_reason(self, request: dict[str, float]) -> str | None:
        """Why ``request`` could never be met here, or None if it can."""
        for key, amount in request.items():
            if key in _UNTRACKED or amount <= 0:
                continue
            have = self.total.get(key, 0.0)
            if amount > have + _EPS:
                return f"it asks for {key}={amount:g} but this machine has {key}={have:g}"
        gpu = request.get("gpu", 0.0)
        if gpu > 1 and not math.isclose(gpu, round(gpu)):
            return f"a GPU request above 1 must be a whole number of GPUs, got gpu={gpu:g}"
        return None

    def allocate(self, request: dict[str, float], *, avoid: str | None = None) -> Allocation | None:
        """Take ``request`` if it fits now; None otherwise (nothing is taken).

        ``avoid`` names a node to keep away from; one node has no choice, so it is ignored.
        """
        tracked = {k: v for k, v in request.items() if k not in _UNTRACKED and v > 0}
        if any(self.free.get(k, 0.0) + _EPS < v for k, v in tracked.items()):
            return None
        shares = self._pick_gpus(tracked.get("gpu", 0.0))
        if shares is None:
            return None
        for key, amount in tracked.items():
            self.free[key] -= amount
        for gpu_id, amount in shares:
            self._gpu_free[gpu_id] -= amount
        return Allocation(tracked, shares)

    def release(self, allocation: Allocation) -> None:
        for key, amount in allocation.resources.items():
            self.free[key] = min(self.total[key], self.free[key] + amount)
        for gpu_id, amount in allocation.gpu_shares:
            self._gpu_free[gpu_id] = min(1.0, self._gpu_free[gpu_id] + amount)

    def _pick_gpus(self, amount: float) -> list[tuple[int, float]] | None:
        if amount <= 0:
            return []
        if amount < 1:
            fits = [(free, i) for i, free in enumerate(self._gpu_free) if free + _EPS >= amount]
            if not fits:
                return None
            _, best = min(fits)
            return [(best, amount)]
        whole = [i for i, free in enumerate(self._gpu_free) if free > 1 - _EPS]
        count = int(round(amount))
        return [(i, 1.0) for i in whole[:count]] if len(whole) >= count else None


class ClusterLedger:
    """Resources on several nodes; each allocation is taken whole from one node.

    Nodes come and go while an experiment runs (``add_node``/``remove_node``). A request
    goes to the node that keeps the most room free, so trials spread over the cluster;
    ``avoid`` (the node where the trial's last attempt was lost) is used only when no
    other node fits, and ``prefer`` wins whenever it fits.

    Example:
        >>> ledger = ClusterLedger()
        >>> ledger.add_node("a", ResourceLedger(cpu=1, gpu=2))
        >>> ledger.add_node("b", ResourceLedger(cpu=1))
        >>> ledger.allocate({"cpu": 1, "gpu": 0.5}).node
        'a'
        >>> ledger.allocate({"cpu": 1}).node
        'b'
    """

    def __init__(self) -> None:
        self.nodes: dict[str, ResourceLedger] = {}

    def add_node(self, name: str, ledger: ResourceLedger) -> None:
        self.nodes[name] = ledger

    def remove_node(self, name: str) -> None:
        self.nodes.pop(name, None)

    @property
    def total(self) -> dict[str, float]:
        return _summed(node.total for node in self.nodes.values())

    @property
    def free(self) -> dict[str, float]:
        return _summed(node.free for node in self.nodes.values())

    def infeasible_reason(self, request: dict[str, float]) -> str | None:
        """Why no node could ever meet ``request`` (listing what the nodes have), or None."""
        if any(node.infeasible_reason(request) is None for node in self.nodes.values()):
            return None
        asked = ", ".join(f"{k}={v:g}" for k, v in request.items() if k not in _UNTRACKED and v > 0)
        if not self.nodes:
            return f"it asks for {asked or 'nothing'} but there are no workers"
        have = "; ".join(f"{name}: {_describe(node.total)}" for name, node in self.nodes.items())
        return f"it asks for {asked} but no worker has that much; the workers have {have}"

    def allocate(self, request: dict[str, float], *, avoid: str | None = None, prefer: str | None = None,
                 exclude: Collection[str] = ()) -> Allocation | None:
        """Take ``request`` from one node if one fits now (never from ``exclude``); None otherwise."""
        for name in self._order(request, avoid, prefer):
            if name in exclude:
                continue
            allocation = self.nodes[name].allocate(request)
            if allocation is not None:
                allocation.node = name
                return allocation
        return None

    def release(self, allocation: Allocation) -> None:
        node = self.nodes.get(allocation.node or "")
        if node is not None:  # a node that left took its allocations with it
            node.release(allocation)

    def _order(self, request: dict[str, float], avoid: str | None, prefer: str | None) -> list[str]:
        keys = [k for k, v in request.items() if k not in _UNTRACKED and v > 0] or ["cpu"]

        def room(name: str) -> tuple[bool, bool, float]:
            node = self.nodes[name]
            spare = sum(node.free.get(k, 0.0) / node.total[k] for k in keys if node.total.get(k, 0.0) > 0)
            return (name != prefer, name == avoid, -spare)

        return sorted(self.nodes, key=room)


def _summed(parts: Iterable[dict[str, float]]) -> dict[str, float]:
    total: dict[str, float] = {"cpu": 0.0, "gpu": 0.0}
    for part in parts:
        for key, amount in part.items():
            total[key] = total.get(key, 0.0) + amount
    return total


def _describe(resources: dict[str, float]) -> str:
    return " ".join(f"{k}={v:g}" for k, v in resources.items() if v > 0 or k == "cpu")
