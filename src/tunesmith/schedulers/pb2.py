"""Population Based Bandits (PB2; Parker-Holder et al. 2020, "Provably Efficient Online
Hyperparameter Optimization with Population-Based Bandits").

PB2 is :class:`~tunesmith.schedulers.PopulationBasedTraining` whose explore step is a
GP bandit: a Gaussian process models how fast the reward grows (reward change per unit of
``time_attr``) as a function of the time, the reward at the start of the interval and the
hyperparameters; the new hyperparameters maximise an upper confidence bound (GP-UCB) at
the donor's current time and reward. Points chosen earlier in the same round count as
pending evaluations, which lowers the uncertainty near them (as in batch GP-UCB), so one
round's suggestions spread out.

Needs scikit-learn and scipy: ``pip install "tunesmith[pb2]"``.
"""

from __future__ import annotations

import copy
import math
import numbers
import warnings
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

from tunesmith._imports import try_import
from tunesmith.error import TuneError
from tunesmith.schedulers._pbt import PopulationBasedTraining
from tunesmith.schedulers._pbt_explore import _lookup
from tunesmith.search.sample import Float, Integer

if TYPE_CHECKING:
    from tunesmith.experiment._trial import Trial
    from tunesmith.schedulers._pbt import _Member

__all__ = ["PB2", "pb2_training_data", "pb2_ucb_beta"]

_MAX_POINTS = 200  # the GP sees the most recent points only, so fitting stays fast
_CANDIDATES = 256  # random points scored at once; the best few start L-BFGS-B
_STARTS = 2
_MAX_ITER = 50

Observation = tuple[str, float, tuple[float, ...], float]  # trial_id, time, hyperparameters, score


def pb2_training_data(observations: Sequence[Observation]) -> tuple[np.ndarray, np.ndarray]:
    """The GP's data: one row per interval a trial trained with unchanged hyperparameters.

    Observations are ``(trial_id, time, hyperparameters, score)`` taken at perturbation
    points (score signed so that higher is better), in the order they were made. Two
    consecutive observations of one trial, later time and equal hyperparameters, give the row
    ``[time, previous score, *hyperparameters]`` and the target
    ``(score - previous score) / (time - previous time)``.

    Returns:
        ``(X, y)``: shapes ``(n, 2 + h)`` and ``(n,)``.

    Example:
        >>> X, y = pb2_training_data([("a", 1, (0.1,), 1.0), ("a", 3, (0.1,), 5.0)])
        >>> X.tolist(), y.tolist()
        ([[3.0, 1.0, 0.1]], [2.0])
    """
    last: dict[str, Observation] = {}
    rows, targets = [], []
    for obs in observations:
        trial_id, t, params, score = obs
        prev = last.get(trial_id)
        last[trial_id] = obs
        if prev is None or tuple(prev[2]) != tuple(params) or not t > prev[1]:
            continue
        rows.append([t, prev[3], *params])
        targets.append((score - prev[3]) / (t - prev[1]))
    width = 2 + (len(observations[0][2]) if observations else 0)
    return np.asarray(rows, dtype=float).reshape(-1, width), np.asarray(targets, dtype=float)


def pb2_ucb_beta(num_points: int, c1: float = 0.2, c2: float = 0.4) -> float:
    """The exploration weight ``beta_t = c1 + max(0, log(c2 * t))`` of GP-UCB; the bound is
    ``mean + sqrt(beta_t) * std``.

    Example:
        >>> round(pb2_ucb_beta(10), 4)
        1.5863
    """
    return c1 + max(0.0, math.log(c2 * max(num_points, 1)))


def _scale(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    span = np.where(high - low > 0, high - low, 1.0)
    return (values - low) / span


def _suggest(
    X: np.ndarray,
    y: np.ndarray,
    state: np.ndarray,
    pending: Sequence[np.ndarray],
    rng: np.random.Generator,
) -> np.ndarray:
    """Maximise GP-UCB over the unit hypercube of hyperparameters, at the fixed ``state``.

    ``X`` holds ``[time, reward, *unit hyperparameters]`` rows; ``state`` is the donor's
    ``[time, reward]``; ``pending`` are unit hyperparameters chosen earlier this round.
    Returns unit hyperparameters.
    """
    threadpoolctl = try_import("threadpoolctl", extra="pb2", needed_by="PB2")
    # the matrices are tiny: BLAS threads cost more than they save (3-4x slower measured)
    with threadpoolctl.threadpool_limits(1):
        ucb = _fit_ucb(X, y, state, pending, rng)
        return _maximise(ucb, X.shape[1] - 2, rng)


def _fit_ucb(
    X: np.ndarray,
    y: np.ndarray,
    state: np.ndarray,
    pending: Sequence[np.ndarray],
    rng: np.random.Generator,
) -> Callable[[np.ndarray], np.ndarray]:
    """Fit the GP; return ``ucb(unit_rows) -> values`` at the donor's state."""
    gp_module = try_import("sklearn.gaussian_process", extra="pb2", needed_by="PB2", package="scikit-learn")
    kernels = try_import("sklearn.gaussian_process.kernels", extra="pb2", needed_by="PB2", package="scikit-learn")
    stacked = np.vstack([X[:, :2], state])
    low, high = stacked.min(axis=0), stacked.max(axis=0)
    features = np.hstack([_scale(X[:, :2], low, high), X[:, 2:]])
    fixed = _scale(state, low, high)
    targets = (y - y.mean()) / (y.std() or 1.0)
    dims = features.shape[1]
    kernel = kernels.ConstantKernel(1.0, (1e-2, 1e2)) * kernels.RBF(np.ones(dims), (1e-2, 1e2))
    kernel += kernels.WhiteKernel(1e-2, (1e-6, 1.0))
    model = gp_module.GaussianProcessRegressor(kernel, random_state=int(rng.integers(2**31 - 1)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings on tiny data sets say nothing useful
        model.fit(features, targets)
    uncertainty = model
    if pending:
        # batch GP-UCB: points chosen this round count as observed (at the predicted mean),
        # which shrinks the uncertainty around them and spreads the round's suggestions
        hallucinated = np.array([np.concatenate([fixed, p]) for p in pending])
        uncertainty = gp_module.GaussianProcessRegressor(model.kernel_, optimizer=None)
        uncertainty.fit(np.vstack([features, hallucinated]), np.concatenate([targets, model.predict(hallucinated)]))
    kappa = math.sqrt(pb2_ucb_beta(len(targets)))

    def ucb(unit: np.ndarray) -> np.ndarray:
        rows = np.hstack([np.tile(fixed, (len(unit), 1)), unit])
        return model.predict(rows) + kappa * uncertainty.predict(rows, return_std=True)[1]

    return ucb


def _maximise(ucb: Callable[[np.ndarray], np.ndarray], width: int, rng: np.random.Generator) -> np.ndarray:
    """Score random points, then polish the best few with L-BFGS-B within ``[0, 1]**width``."""
    optimize = try_import("scipy.optimize", extra="pb2", needed_by="PB2", package="scipy")
    candidates = rng.random((_CANDIDATES, width))
    values = ucb(candidates)
    best, best_value = candidates[int(np.argmax(values))], float(np.max(values))
    for start in candidates[np.argsort(values)[-_STARTS:]]:
        found = optimize.minimize(
            lambda u: -float(ucb(u.reshape(1, -1))[0]),
            start,
            method="L-BFGS-B",
            bounds=[(0.0, 1.0)] * width,
            options={"maxiter": _MAX_ITER},
        )
        if -found.fun > best_value:
            best, best_value = found.x, -float(found.fun)
    return np.clip(best, 0.0, 1.0)


def _flatten_bounds(bounds: Mapping[str, Any], prefix: tuple = ()) -> list[tuple[tuple, Any]]:
    leaves = []
    for key, value in bounds.items():
        if isinstance(value, Mapping):
            leaves.extend(_flatten_bounds(value, prefix + (key,)))
        else:
            leaves.append((prefix + (key,), value))
    return leaves


def _check_bounds(bounds: Mapping[str, Any] | None) -> list[tuple[tuple, float, float]]:
    if bounds is not None and not isinstance(bounds, Mapping):
        raise TypeError(f"PB2: hyperparam_bounds must be a dict like {{'lr': [1e-4, 1e-1]}}, got {type(bounds).__name__}: {bounds!r}.")
    if not bounds:
        raise TuneError(f"PB2 needs hyperparam_bounds, e.g. {{'lr': [1e-4, 1e-1]}}; got {bounds!r}.")
    checked = []
    for path, value in _flatten_bounds(bounds):
        where = f"PB2: hyperparam_bounds[{']['.join(map(repr, path))}]"
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise ValueError(f"{where} must be a [min, max] list or tuple, got {value!r}.")
        low, high = value
        if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value):
            raise ValueError(f"{where} must hold two numbers, got {value!r}.")
        if not low < high:
            raise ValueError(f"{where} must be in (min, max) order with min < max, got {value!r}.")
        checked.append((path, low, high))
    return checked


def _bounds_as_mutations(bounds: list[tuple[tuple, float, float]]) -> dict[str, Any]:
    """Domains that sample uniformly within each bound (used to fill missing keys)."""
    mutations: dict[str, Any] = {}
    for path, low, high in bounds:
        node = mutations
        for key in path[:-1]:
            node = node.setdefault(key, {})
        both_ints = isinstance(low, numbers.Integral) and isinstance(high, numbers.Integral)
        node[path[-1]] = Integer(low, high + 1).uniform() if both_ints else Float(low, high).uniform()
    return mutations


class PB2(PopulationBasedTraining):
    """Population Based Bandits: PBT whose explore step is a GP-UCB bandit over ``hyperparam_bounds``.

    Args:
        time_attr: The result key that measures progress.
        metric: The result key to optimise; None takes ``TuneConfig.metric``.
        mode: ``"min"`` or ``"max"``; None takes ``TuneConfig.mode``.
        perturbation_interval: A trial is considered for exploit/explore every this much
            ``time_attr``.
        hyperparam_bounds: ``{key: [min, max]}``, possibly nested like the config. Integer
            bounds give integer values. Keys missing from a config are sampled uniformly.
        quantile_fraction: Size of the bottom and top quantiles, in ``[0, 0.5]``.
        log_config: Write ``pbt_global.txt`` / ``pbt_policy_<trial_id>.txt`` (see PBT).
        require_attrs: A result without ``time_attr`` or the metric raises RuntimeError.
        synch: Wait for the whole population at each interval.
        custom_explore_fn: ``fn(config) -> config`` applied after the GP's suggestion.
        seed: Seed of the scheduler's random generator (tunesmith addition).

    Raises:
        ImportError: scikit-learn or scipy is missing (``pip install "tunesmith[pb2]"``).
        TuneError: No ``hyperparam_bounds``.
        TypeError: ``hyperparam_bounds`` that is not a dict.
        ValueError: A bound that is not ``[min, max]`` with ``min < max``, or the PBT
            checks (quantile_fraction, perturbation_interval, mode).

    Until the GP has two intervals of data (the first perturbations), suggestions are
    drawn uniformly within the bounds.

    Example:
        >>> from tunesmith.schedulers.pb2 import PB2
        >>> pb2 = PB2(metric="reward", mode="max", perturbation_interval=5,
        ...           hyperparam_bounds={"lr": [1e-4, 1e-1], "opt": {"batch": [16, 256]}})
        >>> pb2.debug_string()
        'PopulationBasedTraining: 0 perturbs'
    """

    def __init__(
        self,
        time_attr: str = "time_total_s",
        metric: str | None = None,
        mode: str | None = None,
        perturbation_interval: float = 60.0,
        hyperparam_bounds: Mapping[str, Any] | None = None,
        quantile_fraction: float = 0.25,
        log_config: bool = True,
        require_attrs: bool = True,
        synch: bool = False,
        custom_explore_fn: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        *,
        seed: int | None = None,
    ) -> None:
        try_import("sklearn", extra="pb2", needed_by="PB2", package="scikit-learn")
        try_import("scipy", extra="pb2", needed_by="PB2")
        self._bounds = _check_bounds(hyperparam_bounds)
        super().__init__(
            time_attr=time_attr,
            metric=metric,
            mode=mode,
            perturbation_interval=perturbation_interval,
            hyperparam_mutations=_bounds_as_mutations(self._bounds),
            quantile_fraction=quantile_fraction,
            custom_explore_fn=custom_explore_fn,
            log_config=log_config,
            require_attrs=require_attrs,
            synch=synch,
            seed=seed,
        )
        self._observations: list[Observation] = []
        self._pending: list[np.ndarray] = []
        self._last_explore_time = -math.inf

    def _unit_params(self, config: dict[str, Any]) -> tuple[float, ...] | None:
        values = []
        for path, low, high in self._bounds:
            value = _lookup(config, path)
            if not isinstance(value, numbers.Real) or isinstance(value, bool):
                return None
            values.append((float(value) - low) / (high - low))
        return tuple(values)

    def _record_score(self, trial: Trial, member: _Member, t: float, score: float) -> None:
        super()._record_score(trial, member, t, score)
        params = self._unit_params(trial.config)
        if params is not None:
            self._observations.append((trial.trial_id, float(t), params, float(score)))

    def _get_new_config(self, trial: Trial, donor: Trial) -> tuple[dict[str, Any], dict[str, Any]]:
        donor_member = self._members[donor.trial_id]
        newest = max((o[1] for o in self._observations), default=-math.inf)
        if newest > self._last_explore_time:
            self._pending = []  # a new round: earlier suggestions have data of their own now
        X, y = pb2_training_data(self._observations[-_MAX_POINTS:])
        state = np.array([donor_member.last_train_time, donor_member.last_score or 0.0], dtype=float)
        if len(y) >= 2:
            unit, how = _suggest(X, y, state, self._pending, self._rng), "gp-ucb"
        else:
            unit, how = self._rng.random(len(self._bounds)), "random"
        self._pending.append(unit)
        self._last_explore_time = newest
        new_config = copy.deepcopy(donor.config)
        operations = {}
        for (path, low, high), u in zip(self._bounds, unit):
            value = low + float(u) * (high - low)
            if isinstance(low, numbers.Integral) and isinstance(high, numbers.Integral):
                value = int(min(max(round(value), low), high))
            _assign(new_config, path, value)
            operations["/".join(map(str, path))] = how
        if self._custom_explore_fn is not None:
            new_config = self._custom_explore_fn(new_config)
            if not isinstance(new_config, dict):
                raise TypeError(f"custom_explore_fn must return the new config (a dict), got {type(new_config).__name__}.")
        params = self._unit_params(new_config)
        if params is not None and donor_member.last_score is not None:
            # the trial continues from the donor's state with new hyperparameters
            self._observations.append((trial.trial_id, donor_member.last_train_time, params, donor_member.last_score))
        return new_config, operations

    def _state(self) -> dict[str, Any]:
        return {
            **super()._state(),
            "observations": self._observations,
            "pending": self._pending,
            "last_explore_time": self._last_explore_time,
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        super()._set_state(state)
        self._observations = state["observations"]
        self._pending = state["pending"]
        self._last_explore_time = state["last_explore_time"]


def _assign(config: dict[str, Any], path: tuple, value: Any) -> None:
    for key in path[:-1]:
        if not isinstance(config.get(key), dict):
            config[key] = {}
        config = config[key]
    config[path[-1]] = value
