"""``ray.tune.search.ax.ax_search``: re-exported from where tunesmith keeps the code."""

from tunesmith.search.ax._ax_search import AxSearch

__all__ = ["AxSearch"]
