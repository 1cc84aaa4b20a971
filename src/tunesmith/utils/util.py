"""``ray.tune.utils.util``: re-exported from where tunesmith keeps the code."""

from tunesmith._utils import date_str, diagnose_serialization, validate_save_restore, warn_if_slow

__all__ = ["date_str", "diagnose_serialization", "validate_save_restore", "warn_if_slow"]
