"""``RunConfig(log_to_file=...)``: a trial's stdout and stderr written to files in its folder.

The redirection is done on file descriptors 1 and 2 (``os.dup2``), so output from C
extensions and child processes is captured too, and undone afterwards, because a trial
process runs later trials as well.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, Iterator

__all__ = ["captured_output", "log_files"]


def log_files(setting: Any) -> tuple[str | None, str | None] | None:
    """``(stdout file, stderr file)`` for a ``log_to_file`` value, or None when off.

    Args:
        setting: False/None (off), True (``stdout`` and ``stderr``), a file name (both
            streams into it), or a ``(stdout, stderr)`` pair of names (None leaves that
            stream alone). Relative names are inside the trial folder.

    Raises:
        ValueError: Any other value.

    Example:
        >>> log_files(True), log_files("out.log"), log_files(("o.txt", "e.txt"))
        (('stdout', 'stderr'), ('out.log', 'out.log'), ('o.txt', 'e.txt'))
    """
    if setting is None or setting is False:
        return None
    if setting is True:
        return ("stdout", "stderr")
    if isinstance(setting, (str, os.PathLike)) and str(setting):
        return (str(setting), str(setting))
    if isinstance(setting, (tuple, list)) and len(setting) == 2 and all(
        s is None or (isinstance(s, (str, os.PathLike)) and str(s)) for s in setting
    ):
        out, err = setting
        return (None if out is None else str(out), None if err is None else str(err))
    raise ValueError(
        "log_to_file must be True, a file name, or a (stdout, stderr) pair of file names, "
        f"got {setting!r}"
    )


@contextlib.contextmanager
def captured_output(files: tuple[str | None, str | None] | None, folder: str) -> Iterator[None]:
    """Send fd 1 and 2 (and ``sys.stdout``/``sys.stderr``) to ``files`` inside ``folder``.

    Files are appended to, so a retried trial adds to the same files. Nothing happens
    when ``files`` is None or ``folder`` is a URL.
    """
    if files is None or "://" in folder:
        yield
        return
    os.makedirs(folder, exist_ok=True)
    paths = [None if name is None else os.path.join(folder, name) for name in files]
    opened: dict[str, int] = {}
    saved: list[tuple[int, int]] = []
    streams = (sys.stdout, sys.stderr)
    _flush()
    try:
        for fd, path in zip((1, 2), paths):
            if path is None:
                continue
            if path not in opened:
                opened[path] = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            saved.append((fd, os.dup(fd)))
            os.dup2(opened[path], fd)
        _python_streams_to(paths)
        yield
    finally:
        _flush()
        sys.stdout, sys.stderr = streams
        for fd, copy in saved:
            os.dup2(copy, fd)
            os.close(copy)
        for handle in opened.values():
            os.close(handle)


def _python_streams_to(paths: list[str | None]) -> None:
    """Point ``sys.stdout``/``sys.stderr`` at fds 1 and 2, even if something had replaced them."""
    if paths[0] is not None:
        sys.stdout = open(1, "w", buffering=1, closefd=False, encoding="utf-8", errors="backslashreplace")
    if paths[1] is not None:
        sys.stderr = open(2, "w", buffering=1, closefd=False, encoding="utf-8", errors="backslashreplace")


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass
