"""The arithmetic of population based training: quantiles, explore, tags. Pure functions.

Random draws come from the ``numpy.random.Generator`` passed in, so a seeded scheduler
repeats itself.
"""

from __future__ import annotations

import copy
import math
import numbers
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from tunesmith.search.sample import Categorical, Domain
from tunesmith.search.variant_generator import format_vars

__all__ = ["explore", "fill_missing", "pbt_quantile_size", "pbt_quantiles", "perturbed_tag", "rank_key", "validate_mutations"]

_TOLERANCE = 1e-9


def pbt_quantiles(scores: Mapping[str, float], quantile_fraction: float) -> tuple[list[str], list[str]]:
    """Split trial ids into the bottom and top quantiles by score (higher is better).

    Each quantile holds ``ceil(n * quantile_fraction)`` trials, but never more than half of
    them; with fewer than two trials both are empty. Ties keep the mapping's order; a NaN
    score ranks below every number.

    Returns:
        ``(bottom, top)``, each sorted from worst to best.

    Example:
        >>> pbt_quantiles({"a": 1.0, "b": 4.0, "c": 2.0, "d": 3.0}, 0.25)
        (['a'], ['b'])
    """
    ranked = sorted(scores, key=lambda trial_id: rank_key(scores[trial_id]))
    size = pbt_quantile_size(len(ranked), quantile_fraction)
    if size <= 0:
        return [], []
    return ranked[:size], ranked[-size:]


def pbt_quantile_size(num_trials: int, quantile_fraction: float) -> int:
    """How many trials each quantile holds: ``ceil(n * fraction)``, at most ``n // 2``; 0 below 2 trials.

    Example:
        >>> pbt_quantile_size(10, 0.25), pbt_quantile_size(3, 0.5), pbt_quantile_size(1, 0.5)
        (3, 1, 0)
    """
    if num_trials <= 1:
        return 0
    return max(0, min(math.ceil(num_trials * quantile_fraction - _TOLERANCE), num_trials // 2))


def rank_key(score: float) -> float:
    """The score to sort by: NaN (a failed evaluation) ranks worst."""
    return -math.inf if math.isnan(score) else score


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _sample(spec: Any, rng: np.random.Generator) -> Any:
    if isinstance(spec, Domain):
        return spec.sample(random_state=rng)
    if isinstance(spec, (list, tuple)):
        return spec[int(rng.integers(len(spec)))]
    return spec()


def _explore_value(value: Any, spec: Any, rng: np.random.Generator, p: float, factors: Sequence[float]) -> tuple[Any, str]:
    """The explored value of one key and a word on what happened."""
    if isinstance(spec, (list, tuple)) or isinstance(spec, Categorical):
        values = list(spec.categories if isinstance(spec, Categorical) else spec)
        if rng.random() < p or value not in values:
            return values[int(rng.integers(len(values)))], "resample"
        old = values.index(value)
        shift = -1 if rng.integers(2) == 0 else 1
        new = min(max(old + shift, 0), len(values) - 1)
        return values[new], f"shift {'left' if shift < 0 else 'right'}{' (noop)' if new == old else ''}"
    if isinstance(value, bool):
        return value, "keep (bool)"
    if rng.random() < p or not _is_number(value):
        new, operation = _sample(spec, rng), "resample"
    else:
        factor = factors[int(rng.integers(len(factors)))]
        new, operation = value * factor, f"* {factor}"
    if isinstance(value, numbers.Integral) and _is_number(new):
        new = int(round(new))
    return new, operation


def explore(
    config: dict[str, Any],
    mutations: Mapping[str, Any],
    rng: np.random.Generator,
    *,
    resample_probability: float = 0.25,
    perturbation_factors: Sequence[float] = (1.2, 0.8),
    custom_explore_fn: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Perturb ``config`` along ``mutations``; the input is not changed.

    Rules per key of ``mutations``: a list or tuple (or a ``tune.choice`` domain) moves the
    value to a neighbouring entry, or resamples an entry with ``resample_probability`` (also
    when the value is not in the list); a domain or a function of no arguments multiplies
    the value by one of ``perturbation_factors``, or resamples with ``resample_probability``
    (always for non-numbers); ints stay ints (rounded), bools are kept; a dict recurses into
    the sub-config. ``custom_explore_fn`` then gets the new config and returns the final one.

    Returns:
        ``(new_config, operations)``; ``operations`` says per key what happened.

    Raises:
        TypeError: ``custom_explore_fn`` returned something other than a dict.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> explore({"lr": 0.1}, {"lr": [0.001, 0.01]}, rng, resample_probability=0)[1]
        {'lr': 'resample'}
    """
    new_config = copy.deepcopy(config)
    operations = _explore_into(new_config, mutations, rng, resample_probability, perturbation_factors)
    if custom_explore_fn is not None:
        new_config = custom_explore_fn(new_config)
        if not isinstance(new_config, dict):
            raise TypeError(
                "custom_explore_fn must return the new config (a dict), "
                f"got {type(new_config).__name__}: {new_config!r}."
            )
    return new_config, operations


def _explore_into(config: dict, mutations: Mapping[str, Any], rng: np.random.Generator, p: float, factors: Sequence[float]) -> dict:
    operations: dict[str, Any] = {}
    for key, spec in mutations.items():
        if isinstance(spec, Mapping):
            if not isinstance(config.get(key), dict):
                config[key] = {}
            operations[key] = _explore_into(config[key], spec, rng, p, factors)
        elif key not in config:
            config[key], operations[key] = _sample(spec, rng), "resample"
        else:
            config[key], operations[key] = _explore_value(config[key], spec, rng, p, factors)
    return operations


def fill_missing(config: dict[str, Any], mutations: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any] | None:
    """A copy of ``config`` with every key of ``mutations`` it lacks sampled; None if none lacks.

    Example:
        >>> fill_missing({"a": 1}, {"a": [1, 2], "b": [3]}, np.random.default_rng(0))
        {'a': 1, 'b': 3}
    """
    filled = copy.deepcopy(config)
    return filled if _fill_into(filled, mutations, rng) else None


def _fill_into(config: dict, mutations: Mapping[str, Any], rng: np.random.Generator) -> bool:
    changed = False
    for key, spec in mutations.items():
        if isinstance(spec, Mapping):
            if not isinstance(config.get(key), dict):
                config[key], changed = {}, True
            changed = _fill_into(config[key], spec, rng) or changed
        elif key not in config:
            config[key], changed = _sample(spec, rng), True
    return changed


def _leaf_paths(mutations: Mapping[str, Any], prefix: tuple = ()) -> list[tuple]:
    paths = []
    for key, spec in mutations.items():
        if isinstance(spec, Mapping):
            paths.extend(_leaf_paths(spec, prefix + (key,)))
        else:
            paths.append(prefix + (key,))
    return paths


def _lookup(config: Any, path: tuple) -> Any:
    for key in path:
        if not isinstance(config, dict) or key not in config:
            return None
        config = config[key]
    return config


def perturbed_tag(orig_tag: str, config: dict[str, Any], mutations: Mapping[str, Any]) -> str:
    """``"<orig_tag>@perturbed[k=v,...]"`` over the mutated keys (formatted as experiment tags).

    Example:
        >>> perturbed_tag("3_lr=0.1000", {"lr": 0.12, "opt": {"m": 0.9}}, {"lr": [], "opt": {"m": []}})
        '3_lr=0.1000@perturbed[lr=0.1200,m=0.9000]'
    """
    values = {("config",) + path: _lookup(config, path) for path in _leaf_paths(mutations)}
    return f"{orig_tag}@perturbed[{format_vars(values)}]"


def validate_mutations(owner: str, mutations: Mapping[str, Any], prefix: str = "") -> None:
    for key, spec in mutations.items():
        where = f"{owner}: hyperparam_mutations[{prefix}{key!r}]"
        if isinstance(spec, Mapping):
            if "grid_search" in spec:
                raise ValueError(f"{where} must not be a grid_search; use a list to perturb between values, got {spec!r}.")
            validate_mutations(owner, spec, f"{prefix}{key!r}][")
        elif isinstance(spec, Domain):
            if spec.is_function():
                raise ValueError(
                    f"{where} must not be a sample_from domain (it cannot be perturbed); use a "
                    "list, tune.uniform/loguniform/randint/..., or a function of no arguments, "
                    f"got {spec!r}."
                )
        elif isinstance(spec, (list, tuple)):
            if not spec:
                raise ValueError(f"{where} must list at least one value, got {spec!r}.")
        elif not callable(spec):
            raise TypeError(
                f"{where} must be a list, a dict, a search-space domain or a function of no "
                f"arguments, got {type(spec).__name__}: {spec!r}."
            )
