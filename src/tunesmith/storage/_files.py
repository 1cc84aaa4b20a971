"""Small whole writes to local files, straight through ``os``.

The logs of an experiment are many tiny writes to many files. Python's ``open()`` adds
an ``fstat``, an ``lseek`` and, in text mode, an ``isatty`` call and three wrapper
objects to each one, which is most of the cost per trial when trials are short. One
``os.write`` per record also keeps the rule that a crash can cut only the last record
short.
"""

from __future__ import annotations

import os

__all__ = ["append_file", "write_all", "write_file"]

_APPEND = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
_WRITE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to the file descriptor ``fd`` (a disk may take less per call)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def append_file(path: str, data: bytes) -> None:
    """Append ``data`` to ``path`` (created if missing) in one write.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "log")
        >>> append_file(path, b"one\\n"); append_file(path, b"two\\n")
        >>> open(path).read()
        'one\\ntwo\\n'
    """
    fd = os.open(path, _APPEND, 0o666)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)


def write_file(path: str, data: bytes) -> None:
    """Replace the contents of ``path`` with ``data``."""
    fd = os.open(path, _WRITE, 0o666)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)
