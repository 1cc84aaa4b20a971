"""Parameter importances by functional ANOVA over a random forest (Hutter et al., 2014).

A random forest is fitted to (config, metric); each tree cuts the configuration space into
boxes with a constant prediction, which makes its functional ANOVA exact: a parameter's
importance is the variance of the tree's prediction averaged over every other parameter
(its main effect), as a share of the tree's total variance, averaged over the trees and
normalised to sum to 1. Categorical parameters are coded as integers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tunesmith._imports import try_import

__all__ = ["encode_params", "param_importances"]


def encode_params(configs: list[dict[str, Any]], params: list[str]) -> np.ndarray:
    """A float matrix of the ``params`` of each config: numbers as they are, anything else
    as the index of its value among the sorted distinct values."""
    columns = []
    for name in params:
        values = [config.get(name) for config in configs]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            columns.append(np.asarray(values, dtype=float))
        else:
            levels = sorted({str(v) for v in values})
            columns.append(np.asarray([levels.index(str(v)) for v in values], dtype=float))
    return np.column_stack(columns) if columns else np.zeros((len(configs), 0))


def param_importances(x: np.ndarray, y: np.ndarray, *, n_trees: int = 64, seed: int = 0) -> np.ndarray:
    """Each column's share of the variance of ``y`` it explains on its own (sums to 1).

    Raises:
        ValueError: fewer than 2 rows, or ``y`` is constant.
    """
    if len(y) < 2 or np.ptp(y) == 0:
        raise ValueError(f"parameter importances need at least 2 trials with different metric values, got {len(y)}")
    ensemble = try_import("sklearn.ensemble", extra="dashboard", needed_by="plot_param_importances")
    forest = ensemble.RandomForestRegressor(n_estimators=n_trees, max_depth=64, min_samples_leaf=1,
                                            max_features=None, random_state=seed).fit(x, y)
    lo, hi = x.min(axis=0), x.max(axis=0)
    shares = [_tree_shares(tree.tree_, lo, hi) for tree in forest.estimators_]
    total = np.nanmean(np.asarray(shares), axis=0)
    return total / total.sum() if total.sum() > 0 else np.full(x.shape[1], 1.0 / max(x.shape[1], 1))


def _leaves(tree: Any, lo: np.ndarray, hi: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Every leaf as (lower corner, upper corner, prediction) within the box ``[lo, hi]``."""
    out, stack = [], [(0, lo.copy(), hi.copy())]
    while stack:
        node, low, high = stack.pop()
        left, right = tree.children_left[node], tree.children_right[node]
        if left == right:  # a leaf
            out.append((low, high, float(tree.value[node].ravel()[0])))
            continue
        feature, threshold = tree.feature[node], tree.threshold[node]
        left_high, right_low = high.copy(), low.copy()
        left_high[feature] = min(high[feature], threshold)
        right_low[feature] = max(low[feature], threshold)
        stack += [(left, low, left_high), (right, right_low, high)]
    return out


def _tree_shares(tree: Any, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    width = np.where(hi > lo, hi - lo, 1.0)
    leaves = _leaves(tree, lo, hi)
    lows = np.array([leaf[0] for leaf in leaves])
    highs = np.array([leaf[1] for leaf in leaves])
    values = np.array([leaf[2] for leaf in leaves])
    fractions = np.where(hi > lo, np.clip(highs - lows, 0, None) / width, 1.0)  # (leaves, params)
    weight = fractions.prod(axis=1)
    mean = float(weight @ values)
    variance = float(weight @ (values - mean) ** 2)
    if variance <= 0:
        return np.full(len(lo), np.nan)
    return np.array([_main_effect(j, lows, highs, values, fractions, weight, mean, lo, hi) for j in range(len(lo))]) / variance


def _main_effect(j: int, lows: np.ndarray, highs: np.ndarray, values: np.ndarray, fractions: np.ndarray,
                 weight: np.ndarray, mean: float, lo: np.ndarray, hi: np.ndarray) -> float:
    """Variance over parameter ``j`` of the prediction averaged over all other parameters."""
    if hi[j] <= lo[j]:
        return 0.0
    cuts = np.unique(np.concatenate([lows[:, j], highs[:, j], [lo[j], hi[j]]]))
    mids, share = (cuts[:-1] + cuts[1:]) / 2, np.diff(cuts) / (hi[j] - lo[j])
    other = weight / np.where(fractions[:, j] > 0, fractions[:, j], 1.0)  # each leaf's weight over the other params
    inside = (lows[:, j][None, :] <= mids[:, None]) & (mids[:, None] < highs[:, j][None, :])
    marginal = inside.astype(float) @ (other * values)
    return float(share @ (marginal - mean) ** 2)
