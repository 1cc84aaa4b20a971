"""Errors raised by tunesmith.

Every error tunesmith raises itself derives from :class:`TuneError`::

    TuneError
    ├── TrialError            a trial failed; ``__cause__`` is the user's own exception
    ├── TrialLostError        a trial's process died (exit code, signal) or went silent
    ├── StorageError          the storage path cannot be read or written
    └── TuneValueError        bad input where Ray Tune raises TuneError (also a ValueError)

    ArgumentTypeError         an argument of the wrong type where Ray Tune raises TypeError
                              (a TypeError that is also a ValueError)

A user's exception raised inside a trial comes back as itself (same type, same message,
with its remote traceback attached as ``__cause__`` text); it is not wrapped, so
``except ValueError:`` in user code keeps working.
"""

from __future__ import annotations

__all__ = ["ArgumentTypeError", "StorageError", "TrialError", "TrialLostError", "TuneError", "TuneValueError"]


class TuneError(Exception):
    """Base class of every error tunesmith raises itself."""


class TrialError(TuneError):
    """A trial failed and its original exception could not be rebuilt."""


class TrialLostError(TuneError):
    """A trial's process ended without reporting why (killed, crashed, or silent)."""


class StorageError(TuneError):
    """The storage path cannot be created, written or read."""


class TuneValueError(TuneError, ValueError):
    """Bad input that Ray Tune rejects with ``TuneError``: ``except TuneError`` (as for Ray) and
    ``except ValueError`` (as tunesmith raised before) both catch it."""


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type where Ray Tune raises ``TypeError``: ``except TypeError``
    (as for Ray) and ``except ValueError`` (as tunesmith raised before) both catch it."""
