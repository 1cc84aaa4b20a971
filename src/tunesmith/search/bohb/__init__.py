"""BOHB's model-based search (``pip install "tunesmith[bohb]"``); pair it with ``HyperBandForBOHB``.

Importing this package does not import ConfigSpace; creating a :class:`TuneBOHB` does.
"""

from tunesmith.search.bohb._tune_bohb import BOHB, TuneBOHB

__all__ = ["BOHB", "TuneBOHB"]
