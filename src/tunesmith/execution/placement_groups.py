"""``ray.tune.execution.placement_groups``: a trial's resource request as bundles."""

from __future__ import annotations

from tunesmith.trainable._resources import PlacementGroupFactory

__all__ = ["PlacementGroupFactory", "resource_dict_to_pg_factory"]


def resource_dict_to_pg_factory(spec: dict[str, float] | None = None) -> PlacementGroupFactory:
    """One bundle from a resource dict, as ``tune.with_resources`` takes it.

    ``cpu``/``CPU``, ``gpu``/``GPU`` and ``memory`` become the bundle's ``CPU``, ``GPU`` and
    ``memory`` (0 when not given); other keys, or the dict under ``custom_resources``, are
    custom resources. ``None`` means one CPU.

    Example:
        >>> resource_dict_to_pg_factory({"cpu": 2, "gpu": 1}).bundles
        [{'CPU': 2.0, 'GPU': 1.0, 'memory': 0.0}]
    """
    rest = dict(spec or {"cpu": 1})
    cpus = rest.pop("cpu", rest.pop("CPU", 0.0))
    gpus = rest.pop("gpu", rest.pop("GPU", 0.0))
    memory = rest.pop("memory", 0.0)
    bundle = dict(rest.pop("custom_resources", None) or rest)
    bundle.update(CPU=cpus, GPU=gpus, memory=memory)
    return PlacementGroupFactory([bundle])
