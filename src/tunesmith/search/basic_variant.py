"""``ray.tune.search.basic_variant``: re-exported from where tunesmith keeps the code."""

from tunesmith.search._basic_variant import BasicVariantGenerator

__all__ = ["BasicVariantGenerator"]
