"""Largest-Triangle-Three-Buckets: a curve of any length cut to ``n`` points that keep its shape."""

from __future__ import annotations

import numpy as np

__all__ = ["lttb"]


def lttb(x: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` points of ``(x, y)`` (sorted by ``x``) that best keep its shape.

    The first and last points are kept; each bucket between keeps the point that makes the
    largest triangle with the point kept before it and the mean of the next bucket.

    Example:
        >>> import numpy as np
        >>> x = np.arange(10.0); y = np.array([0, 0, 0, 9, 0, 0, 0, 0, 0, 0.0])
        >>> lttb(x, y, 3).tolist()
        [0, 3, 9]
    """
    size = len(x)
    if n >= size or n < 3:
        return np.arange(size)
    edges = np.linspace(1, size - 1, n - 1).astype(int)  # n-2 buckets over the inner points
    kept = [0]
    for b in range(n - 2):
        start, stop = edges[b], max(edges[b + 1], edges[b] + 1)
        nxt_start, nxt_stop = edges[b + 1], edges[b + 2] if b + 2 < len(edges) else size
        if nxt_stop <= nxt_start:
            nxt_x, nxt_y = x[-1], y[-1]
        else:
            nxt_x, nxt_y = x[nxt_start:nxt_stop].mean(), y[nxt_start:nxt_stop].mean()
        ax, ay = x[kept[-1]], y[kept[-1]]
        area = np.abs((ax - nxt_x) * (y[start:stop] - ay) - (ax - x[start:stop]) * (nxt_y - ay))
        kept.append(start + int(np.argmax(area)))
    kept.append(size - 1)
    return np.asarray(kept)
