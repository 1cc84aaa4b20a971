"""``Checkpoint``: a directory of files that a trial can resume from."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from typing import Any, Iterator

__all__ = ["Checkpoint"]

_METADATA_FILE = ".metadata.json"


def _filesystem_for(path: str) -> tuple[Any, str]:
    """Return ``(fsspec filesystem, path without protocol)`` for a local path or URL."""
    import fsspec.core

    fs, stripped = fsspec.core.url_to_fs(path)
    return fs, stripped


def _is_local(fs: Any) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol in ("file", "local")


class Checkpoint:
    """A checkpoint: a directory on a local disk or any fsspec filesystem.

    Args:
        path: A local folder or a URL such as ``s3://bucket/exp/trial/checkpoint_000003``.
        filesystem: An ``fsspec`` filesystem; inferred from ``path`` when omitted.

    Example:
        >>> import tempfile, tunesmith
        >>> folder = tempfile.mkdtemp()
        >>> ckpt = tunesmith.Checkpoint.from_directory(folder)
        >>> with ckpt.as_directory() as d:
        ...     d == folder
        True
    """

    def __init__(self, path: str | os.PathLike, filesystem: Any = None) -> None:
        path = os.fspath(path)
        if filesystem is None:
            filesystem, stripped = _filesystem_for(path)
            path = path if "://" in path else stripped
        elif "://" not in path and not _is_local(filesystem):
            protocol = filesystem.protocol if isinstance(filesystem.protocol, str) else filesystem.protocol[0]
            path = f"{protocol}://{path}"
        self._url = path
        self.filesystem = filesystem
        self.path = path.split("://", 1)[1] if "://" in path else path

    @classmethod
    def from_directory(cls, path: str | os.PathLike) -> Checkpoint:
        """A checkpoint of the local folder ``path`` (nothing is copied)."""
        return cls(os.path.abspath(os.fspath(path)))

    @property
    def url(self) -> str:
        """The path with its protocol (``s3://...``), or the plain local path."""
        return self._url

    def _is_local(self) -> bool:
        return _is_local(self.filesystem)

    def to_directory(self, path: str | os.PathLike | None = None) -> str:
        """Copy the checkpoint's files into ``path`` (a new temporary folder by default)."""
        target = os.fspath(path) if path is not None else tempfile.mkdtemp(prefix="checkpoint_")
        os.makedirs(target, exist_ok=True)
        if self._is_local():
            shutil.copytree(self.path, target, dirs_exist_ok=True)
        else:
            self.filesystem.get(self.path.rstrip("/") + "/", target, recursive=True)
        return target

    @contextlib.contextmanager
    def as_directory(self) -> Iterator[str]:
        """Yield a local folder with the checkpoint's files (the folder itself if local)."""
        if self._is_local():
            yield self.path
            return
        target = self.to_directory()
        try:
            yield target
        finally:
            shutil.rmtree(target, ignore_errors=True)

    def get_metadata(self) -> dict[str, Any]:
        """The metadata dict stored with the checkpoint (``{}`` if none)."""
        meta_path = f"{self.path.rstrip('/')}/{_METADATA_FILE}"
        if not self.filesystem.exists(meta_path):
            return {}
        with self.filesystem.open(meta_path, "r") as f:
            return json.load(f)

    def set_metadata(self, metadata: dict[str, Any]) -> None:
        """Replace the stored metadata with ``metadata`` (must be JSON-serialisable)."""
        meta_path = f"{self.path.rstrip('/')}/{_METADATA_FILE}"
        with self.filesystem.open(meta_path, "w") as f:
            json.dump(metadata, f)

    def update_metadata(self, metadata: dict[str, Any]) -> None:
        """Merge ``metadata`` into the stored metadata."""
        merged = self.get_metadata()
        merged.update(metadata)
        self.set_metadata(merged)

    def __fspath__(self) -> str:
        raise TypeError(
            "a Checkpoint is not a path: use `checkpoint.path`, or "
            "`with checkpoint.as_directory() as folder:` to read its files"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Checkpoint) and other._url == self._url

    def __hash__(self) -> int:
        return hash(self._url)

    def __repr__(self) -> str:
        kind = "local" if self._is_local() else self.filesystem.protocol
        if not isinstance(kind, str):
            kind = kind[0]
        return f"Checkpoint(filesystem={kind}, path={self.path})"

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self._url, "filesystem": None if self._is_local() else self.filesystem}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"], filesystem=state.get("filesystem"))
