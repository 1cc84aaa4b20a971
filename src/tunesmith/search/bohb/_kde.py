"""The model behind BOHB (Falkner, Klein & Hutter, 2018): two kernel density estimates.

Written for tunesmith with NumPy only (no statsmodels, no hpbandster).

Configurations are vectors in ConfigSpace's normalized encoding: numeric parameters lie in
``[0, 1]``, a categorical parameter holds its category index. The observations made at one
budget are split into the best ``top_n_percent`` ("good") and the rest ("bad"); a product
kernel density is fitted to each (Gaussian kernels for numeric dimensions,
Aitchison-Aitken kernels for categorical ones, Scott's rule for the bandwidths). New
candidates are drawn around good points (numeric bandwidths widened by
``bandwidth_factor``), and the one with the
highest density ratio ``good(x) / bad(x)`` is proposed.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> vectors = np.array([[0.1], [0.2], [0.8], [0.9], [0.15], [0.85]])
    >>> losses = np.array([1.0, 1.1, 5.0, 5.2, 0.9, 4.8])
    >>> model = fit_model(vectors, losses, sizes=[0], top_n_percent=50, min_points=2)
    >>> best = propose(model, rng, num_samples=32, bandwidth_factor=3.0)
    >>> bool(best[0] < 0.5)
    True
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

__all__ = ["DensityModel", "Kde", "fit_kde", "fit_model", "log_density", "propose", "split_good_bad"]


@dataclasses.dataclass(frozen=True)
class Kde:
    """A product-kernel density: its data points, per-dimension bandwidths and kinds.

    Attributes:
        data: ``(n, d)`` observed vectors.
        bandwidths: ``(d,)`` standard deviations (numeric) or mixing weights (categorical).
        sizes: ``(d,)`` number of categories per dimension; 0 marks a numeric dimension.
    """

    data: np.ndarray
    bandwidths: np.ndarray
    sizes: np.ndarray


@dataclasses.dataclass(frozen=True)
class DensityModel:
    """The good and bad densities of one budget."""

    good: Kde
    bad: Kde


def split_good_bad(losses: np.ndarray, top_n_percent: float, min_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the good (lowest losses) and bad (highest losses) observations.

    Each side holds at least ``min_points`` indices, so the two may overlap when there are
    few observations (as in the paper's implementation).

    Example:
        >>> split_good_bad(np.array([3.0, 1.0, 2.0, 4.0]), 50, 1)
        (array([1, 2]), array([0, 3]))
    """
    order = np.argsort(losses, kind="stable")
    count = len(order)
    n_good = max(min_points, int(math.ceil(top_n_percent / 100.0 * count)))
    n_bad = max(min_points, count - n_good)
    return np.sort(order[:n_good]), np.sort(order[count - n_bad :])


def fit_kde(data: np.ndarray, sizes: Sequence[int], min_bandwidth: float) -> Kde:
    """Fit a product-kernel density to ``data`` with Scott's rule per dimension.

    Args:
        data: ``(n, d)`` vectors without NaN.
        sizes: Categories per dimension (0: numeric).
        min_bandwidth: Floor for every bandwidth, so repeated values keep some spread.
    """
    data = np.asarray(data, dtype=float)
    sizes_arr = np.asarray(sizes, dtype=int)
    n, d = data.shape
    scott = n ** (-1.0 / (d + 4))
    spread = data.std(axis=0, ddof=1) if n > 1 else np.zeros(d)
    numeric = np.maximum(1.06 * spread * scott, min_bandwidth)
    # Aitchison-Aitken weight: (k-1)/k makes the kernel flat (no information), so shrink it
    # towards 0 with the same n^(-1/(d+4)) rate as the numeric bandwidths.
    flat = (sizes_arr - 1) / np.maximum(sizes_arr, 1)
    categorical = np.maximum(flat * scott, np.minimum(min_bandwidth, flat))
    return Kde(data=data, bandwidths=np.where(sizes_arr > 0, categorical, numeric), sizes=sizes_arr)


def log_density(kde: Kde, points: np.ndarray) -> np.ndarray:
    """Log density of each row of ``points`` (``(m, d)``) under ``kde``."""
    points = np.atleast_2d(np.asarray(points, dtype=float))
    diff = points[:, None, :] - kde.data[None, :, :]  # (m, n, d)
    numeric = kde.sizes == 0
    bw = kde.bandwidths
    log_k = np.empty_like(diff)
    log_k[..., numeric] = -0.5 * (diff[..., numeric] / bw[numeric]) ** 2 - np.log(bw[numeric] * math.sqrt(2 * math.pi))
    categorical = ~numeric
    if categorical.any():
        same = np.isclose(diff[..., categorical], 0.0)
        other = bw[categorical] / np.maximum(kde.sizes[categorical] - 1, 1)
        log_k[..., categorical] = np.where(same, np.log1p(-bw[categorical]), np.log(other))
    per_point = log_k.sum(axis=2)  # (m, n)
    top = per_point.max(axis=1, keepdims=True)
    return (top + np.log(np.exp(per_point - top).mean(axis=1, keepdims=True)))[:, 0]


def fit_model(
    vectors: np.ndarray,
    losses: np.ndarray,
    sizes: Sequence[int],
    top_n_percent: float,
    min_points: int,
    min_bandwidth: float = 1e-3,
) -> DensityModel:
    """Fit the good and bad densities of one budget's observations."""
    good, bad = split_good_bad(np.asarray(losses, dtype=float), top_n_percent, min_points)
    return DensityModel(
        good=fit_kde(vectors[good], sizes, min_bandwidth),
        bad=fit_kde(vectors[bad], sizes, min_bandwidth),
    )


def propose(model: DensityModel, rng: np.random.Generator, num_samples: int, bandwidth_factor: float) -> np.ndarray:
    """Draw ``num_samples`` candidates around good points; return the best ``good/bad`` ratio."""
    candidates = _draw_candidates(model.good, rng, num_samples, bandwidth_factor)
    score = log_density(model.good, candidates) - log_density(model.bad, candidates)
    return candidates[int(np.argmax(score))]


def _draw_candidates(kde: Kde, rng: np.random.Generator, count: int, factor: float) -> np.ndarray:
    centers = kde.data[rng.integers(0, len(kde.data), count)]
    numeric = kde.sizes == 0
    out = centers.copy()
    out[:, numeric] = _truncated_normal(rng, centers[:, numeric], kde.bandwidths[numeric] * factor)
    for dim in np.flatnonzero(~numeric):
        switch = rng.random(count) < kde.bandwidths[dim]  # leave the centre's category
        out[switch, dim] = rng.integers(0, kde.sizes[dim], int(switch.sum()))
    return out


def _truncated_normal(rng: np.random.Generator, mean: np.ndarray, sd: np.ndarray, tries: int = 20) -> np.ndarray:
    """Normal draws kept inside ``[0, 1]``: redraw the ones outside, then clip what is left."""
    values = rng.normal(mean, sd)
    for _ in range(tries):
        outside = (values < 0) | (values > 1)
        if not outside.any():
            break
        values[outside] = rng.normal(mean, np.broadcast_to(sd, mean.shape))[outside]
    return np.clip(values, 0.0, 1.0)
