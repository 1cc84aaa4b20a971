"""Rewrite a Ray Tune program's imports for tunesmith: the change a user makes, and nothing else.

Usage::

    python tests/compat/ray_rewrite.py ray_program.py > tunesmith_program.py

The rules, in order (``docs/compatibility.md`` lists them too):

1. ``from ray import tune`` -> ``import tunesmith as tune``
2. ``ray.tune.examples.X`` -> ``X`` (Ray's examples import each other; they sit side by side)
3. ``ray.tune.X``, ``ray.train.X``, ``ray.tune``, ``ray.train`` -> ``tunesmith.X``, ``tunesmith``
4. ``ray.air.integrations.X`` -> ``tunesmith.integration.X``
5. ``import ray`` -> ``import tunesmith``, and ``ray.init``, ``ray.shutdown``, ``ray.is_initialized``,
   ``ray.cluster_resources``, ``ray.available_resources``, ``ray.get_gpu_ids`` -> ``tunesmith.*``

Anything else of Ray's (``ray.get``, ``ray.rllib``, ...) is left as it is, and fails.
"""

from __future__ import annotations

import re
import sys

__all__ = ["rewrite"]

_CALLS = "init|shutdown|is_initialized|cluster_resources|available_resources|get_gpu_ids"
RULES = [
    (re.compile(r"^(\s*)from ray import tune\s*$", re.M), r"\1import tunesmith as tune"),
    (re.compile(r"\bray\.tune\.examples\."), ""),
    (re.compile(r"\bray\.(?:tune|train)\."), "tunesmith."),
    (re.compile(r"\bray\.(?:tune|train)\b"), "tunesmith"),
    (re.compile(r"\bray\.air\.integrations\."), "tunesmith.integration."),
    (re.compile(r"^(\s*)import ray\s*$", re.M), r"\1import tunesmith"),
    (re.compile(rf"\bray\.({_CALLS})\b"), r"tunesmith.\1"),
]


def rewrite(source: str) -> str:
    """``source`` with Ray's imports and calls replaced by tunesmith's (see the module docstring)."""
    for pattern, replacement in RULES:
        source = pattern.sub(replacement, source)
    return source


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        sys.stdout.write(rewrite(f.read()))
