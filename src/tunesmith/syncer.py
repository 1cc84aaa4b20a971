"""``ray.tune.syncer``: re-exported from where tunesmith keeps the code."""

from tunesmith._config import SyncConfig

__all__ = ["SyncConfig"]
