"""``ray.tune.utils``: dict helpers and checks for trainables."""

from tunesmith._utils import (
    date_str,
    deep_update,
    diagnose_serialization,
    flatten_dict,
    merge_dicts,
    unflattened_lookup,
    validate_save_restore,
    warn_if_slow,
)

__all__ = [
    "date_str", "deep_update", "diagnose_serialization", "flatten_dict", "merge_dicts", "unflattened_lookup",
    "validate_save_restore", "warn_if_slow",
]
