"""``ray.tune.search.bohb.bohb_search``: re-exported from where tunesmith keeps the code."""

from tunesmith.search.bohb._tune_bohb import BOHB, TuneBOHB

__all__ = ["BOHB", "TuneBOHB"]
