"""The ``tunesmith`` command: ``ls``, ``show`` and ``dashboard`` over experiment folders.

Needs the ``dashboard`` extra (click, and for ``dashboard`` the web server):
``pip install "tunesmith[dashboard]"``. ``python -m tunesmith`` runs it too.
"""

from tunesmith.cli._main import main

__all__ = ["main"]
