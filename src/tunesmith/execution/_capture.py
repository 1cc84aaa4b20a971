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

__all__ = ["OutputRelay", "captured_output", "log_files"]

_RELAY_SUFFIX = ".out"


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
    paths = [None if name is None else os.path.join(folder, _placeholders(name, folder)) for name in files]
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


def _placeholders(name: str, folder: str) -> str:
    """``{trial}`` and ``{pid}`` in a name: the trial folder's name and this process's id
    (how the driver's :class:`OutputRelay` knows whose output a file holds)."""
    return name.replace("{trial}", os.path.basename(folder.rstrip(os.sep))).replace("{pid}", str(os.getpid()))


class OutputRelay:
    """Trial output, shown on the driver's terminal above the live table, each line
    prefixed with its trial: ``(train_a1b2c_00000 pid=4242) epoch 3: loss 0.12``.

    Used when the driver writes to a terminal and ``log_to_file`` is off. Each attempt's
    stdout and stderr go (by :func:`captured_output`, on fds 1 and 2) into a file of a
    local temporary folder; the driver reads new whole lines from them by offset and
    prints them through the progress screen, which redraws the table below. A trial on a
    machine without this folder (a remote Dask or Ray worker) writes it there instead, as
    its output went to that machine's console before.
    """

    def __init__(self) -> None:
        import tempfile

        self.folder = tempfile.mkdtemp(prefix="tunesmith_output_")
        self._offsets: dict[str, int] = {}

    @property
    def files(self) -> tuple[str, str]:
        """The ``log_to_file`` value that sends each attempt's output here."""
        name = os.path.join(self.folder, "{trial}.{pid}" + _RELAY_SUFFIX)
        return (name, name)

    def read(self, names: dict[str, str], final: bool = False) -> list[str]:
        """New whole lines (every line when ``final``), prefixed; ``names`` maps trial folder
        names to trial names."""
        try:
            entries = sorted(os.listdir(self.folder))
        except OSError:
            return []
        lines: list[str] = []
        for entry in entries:
            if entry.endswith(_RELAY_SUFFIX):
                lines += self._read_file(entry, names, final)
        return lines

    def _read_file(self, entry: str, names: dict[str, str], final: bool) -> list[str]:
        offset = self._offsets.get(entry, 0)
        try:
            with open(os.path.join(self.folder, entry), "rb") as f:
                f.seek(offset)
                data = f.read()
        except OSError:
            return []
        cut = len(data) if final else data.rfind(b"\n") + 1
        if cut <= 0:
            return []
        self._offsets[entry] = offset + cut
        folder, pid = entry[: -len(_RELAY_SUFFIX)].rsplit(".", 1)
        prefix = f"({names.get(folder, folder)} pid={pid}) "
        text = data[:cut].decode("utf-8", errors="replace")
        return [prefix + line for line in text.splitlines()]

    def close(self) -> None:
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)


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
