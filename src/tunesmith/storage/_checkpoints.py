"""Which checkpoints of a trial to keep: the best ``num_to_keep`` and always the latest."""

from __future__ import annotations

import math
import shutil
from typing import Any, Callable

from tunesmith._checkpoint import Checkpoint

__all__ = ["CheckpointBook", "delete_checkpoint"]


def _score(metrics: dict[str, Any], attribute: str | None, order: str, index: int) -> tuple[int, float]:
    """Sort key, higher is better; checkpoints without the score rank lowest, NaN too."""
    if attribute is None:
        return (1, float(index))
    value = metrics.get(attribute)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
        return (0, 0.0)
    return (1, float(value) if order == "max" else -float(value))


class CheckpointBook:
    """The retained checkpoints of one trial, in the order they were reported.

    Args:
        num_to_keep: Best checkpoints to keep (None: all). The latest is never deleted.
        score_attribute: Flattened metric that ranks checkpoints (None: recency).
        score_order: ``"max"`` or ``"min"``.
    """

    def __init__(self, num_to_keep: int | None = None, score_attribute: str | None = None, score_order: str = "max") -> None:
        self.num_to_keep = num_to_keep
        self.score_attribute = score_attribute
        self.score_order = score_order
        self.entries: list[tuple[Checkpoint, dict[str, Any], int]] = []
        self._count = 0
        # Another trial's checkpoint this trial last started from (PBT's exploit), until it
        # saves one of its own: a retry or a restore starts from it again.
        self.borrowed: Checkpoint | None = None

    @property
    def latest(self) -> Checkpoint | None:
        return self.entries[-1][0] if self.entries else None

    def add(self, checkpoint: Checkpoint, metrics: dict[str, Any],
            in_use: Callable[[Checkpoint], bool] | None = None) -> list[Checkpoint]:
        """Register a new checkpoint; return the ones dropped.

        Their folders are deleted, except those ``in_use`` says another trial still needs
        (PBT's exploit); the caller deletes those later with :func:`delete_checkpoint`.
        """
        self.borrowed = None
        self.entries.append((checkpoint, metrics, self._count))
        self._count += 1
        if self.num_to_keep is None or len(self.entries) <= self.num_to_keep:
            return []
        latest = self.entries[-1]
        ranked = sorted(
            self.entries[:-1],
            key=lambda e: _score(e[1], self.score_attribute, self.score_order, e[2]),
            reverse=True,
        )
        # The latest counts towards num_to_keep when it is among the best.
        keep_count = self.num_to_keep
        if _score(latest[1], self.score_attribute, self.score_order, latest[2]) >= _score(
            ranked[keep_count - 1][1], self.score_attribute, self.score_order, ranked[keep_count - 1][2]
        ):
            keep_count -= 1
        kept = {id(e) for e in ranked[:keep_count]}
        dropped = [e for e in self.entries[:-1] if id(e) not in kept]
        self.entries = [e for e in self.entries if id(e) not in {id(d) for d in dropped}]
        for checkpoint, _, _ in dropped:
            if in_use is None or not in_use(checkpoint):
                delete_checkpoint(checkpoint)
        return [d[0] for d in dropped]

    def adopt(self, checkpoint: Checkpoint, metrics: dict[str, Any]) -> None:
        """Take back a checkpoint the journal says was kept (nothing is deleted)."""
        self.entries.append((checkpoint, metrics, self._count))
        self._count += 1

    @property
    def next_index(self) -> int:
        """The number the trial's next checkpoint folder gets (``checkpoint_NNNNNN``)."""
        return self._count

    def skip_to_index(self, index: int) -> None:
        """Number the next checkpoint folder at least ``index`` (a restore: what the journal saw)."""
        self._count = max(self._count, index)

    def skip_index(self) -> None:
        """Never hand out the next number: a failed attempt may still be writing that folder."""
        self._count += 1

    def forget_latest(self) -> None:
        """Drop the latest entry (its folder has vanished)."""
        self.entries.pop()

    def best_checkpoints(self) -> list[tuple[Checkpoint, dict[str, Any]]]:
        """The best ``num_to_keep`` ``(checkpoint, metrics)`` pairs, worst to best by the retention key.

        As in Ray Tune, the latest checkpoint, kept on disk for resuming, is listed only when
        it is among the best.
        """
        ranked = sorted(self.entries, key=lambda e: _score(e[1], self.score_attribute, self.score_order, e[2]))
        if self.num_to_keep is not None:
            ranked = ranked[len(ranked) - self.num_to_keep :] if self.num_to_keep > 0 else []
        return [(c, m) for c, m, _ in ranked]


def delete_checkpoint(checkpoint: Checkpoint) -> None:
    """Remove a checkpoint's folder (local or remote)."""
    if checkpoint._is_local():
        shutil.rmtree(checkpoint.path, ignore_errors=True)
    else:
        checkpoint.filesystem.rm(checkpoint.path, recursive=True)
