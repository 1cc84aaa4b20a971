"""Resource requests: ``PlacementGroupFactory`` and ``with_resources``."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["PlacementGroupFactory", "normalize_resources"]

_STRATEGIES = ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD")


class PlacementGroupFactory:
    """A trial's resource request as a list of bundles, as in Ray Tune.

    The first bundle is where the trainable runs. On one machine all bundles are summed;
    ``strategy`` matters to cluster executors.

    Args:
        bundles: A list of dicts such as ``[{"CPU": 1, "GPU": 0.5}, {"CPU": 2}]``.
        strategy: ``"PACK"``, ``"SPREAD"``, ``"STRICT_PACK"`` or ``"STRICT_SPREAD"``.

    Example:
        >>> PlacementGroupFactory([{"CPU": 1, "GPU": 0.5}, {"CPU": 2}]).required_resources
        {'CPU': 3.0, 'GPU': 0.5}
    """

    def __init__(self, bundles: list[dict[str, float]], strategy: str = "PACK", *args: Any, **kwargs: Any) -> None:
        if not isinstance(bundles, list) or not bundles or not all(isinstance(b, dict) for b in bundles):
            raise ValueError(f"bundles must be a non-empty list of dicts, got {bundles!r}")
        if strategy not in _STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(_STRATEGIES)}, got {strategy!r}")
        self._bundles = [{_ray_key(k): float(v) for k, v in b.items()} for b in bundles]
        for bundle in self._bundles:
            for key, value in bundle.items():
                if value < 0 or math.isnan(value):
                    raise ValueError(f"resource {key!r} must be >= 0, got {value}")
        self._strategy = strategy

    @property
    def bundles(self) -> list[dict[str, float]]:
        return [dict(b) for b in self._bundles]

    @property
    def strategy(self) -> str:
        return self._strategy

    @property
    def required_resources(self) -> dict[str, float]:
        total: dict[str, float] = {}
        for bundle in self._bundles:
            for key, value in bundle.items():
                total[key] = total.get(key, 0.0) + value
        return {k: v for k, v in total.items() if v}

    @property
    def head_cpus(self) -> float:
        return self._bundles[0].get("CPU", 0.0)

    @property
    def head_bundle_is_empty(self) -> bool:
        return not any(self._bundles[0].values())

    def to_dict(self) -> dict[str, float]:
        """The summed request in tunesmith's lower-case keys: ``{"cpu": 3.0, "gpu": 0.5}``."""
        return {_our_key(k): v for k, v in self.required_resources.items()}

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, PlacementGroupFactory)
            and other._bundles == self._bundles
            and other._strategy == self._strategy
        )

    def __hash__(self) -> int:
        return hash((tuple(tuple(sorted(b.items())) for b in self._bundles), self._strategy))

    def __repr__(self) -> str:
        return f"PlacementGroupFactory({self._bundles}, strategy={self._strategy!r})"


def _ray_key(key: str) -> str:
    return {"cpu": "CPU", "gpu": "GPU"}.get(key, key)


def _our_key(key: str) -> str:
    return {"CPU": "cpu", "GPU": "gpu"}.get(key, key)


def normalize_resources(request: Any, config: dict | None = None) -> dict[str, float]:
    """Turn a dict, a ``PlacementGroupFactory`` or a callable of the config into ``{"cpu": .., "gpu": .., ...}``.

    Raises:
        ValueError: for negative amounts or a type that is not a resource request.
    """
    if request is None:
        return {"cpu": 1.0}
    if callable(request) and not isinstance(request, PlacementGroupFactory):
        request = request(config or {})
    if isinstance(request, PlacementGroupFactory):
        resources = request.to_dict()
    elif isinstance(request, dict):
        resources = {}
        for key, value in request.items():
            if key == "custom_resources":
                resources.update({k: float(v) for k, v in (value or {}).items()})
                continue
            resources[_our_key(key.upper()) if key.lower() in ("cpu", "gpu") else key] = float(value)
    else:
        raise ValueError(
            "resources must be a dict like {'cpu': 2, 'gpu': 0.5}, a PlacementGroupFactory, or a "
            f"function of the config returning one; got {type(request).__name__}"
        )
    for key, value in resources.items():
        if value < 0 or math.isnan(value):
            raise ValueError(f"resource {key!r} must be >= 0, got {value}")
    resources.setdefault("cpu", 0.0 if isinstance(request, PlacementGroupFactory) else 1.0)
    resources.setdefault("gpu", 0.0)
    return resources


def resource_request_of(trainable: Any) -> Any:
    """The request attached by ``with_resources`` or ``default_resource_request``, if any."""
    return getattr(trainable, "_resources", None)

