"""The resource ledger: what is free, and which GPU ids a trial gets."""

from __future__ import annotations

import dataclasses
import math

__all__ = ["Allocation", "ResourceLedger"]

_EPS = 1e-9
_UNTRACKED = ("memory", "object_store_memory")


@dataclasses.dataclass
class Allocation:
    """Resources held by one attempt; ``gpu_ids`` become ``CUDA_VISIBLE_DEVICES``."""

    resources: dict[str, float]
    gpu_shares: list[tuple[int, float]]

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

    def allocate(self, request: dict[str, float]) -> Allocation | None:
        """Take ``request`` if it fits now; None otherwise (nothing is taken)."""
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
