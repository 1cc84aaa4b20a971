"""Change a trial's resources while it trains (``ray.tune.schedulers.resource_changing_scheduler``).

:class:`ResourceChangingScheduler` wraps another scheduler. After each result the wrapped
scheduler decides first; when it says CONTINUE, an *allocation function* may return a new
resource request. The scheduler then sets ``trial.resources`` to it and returns PAUSE; the
controller restarts the trial from its checkpoint with the new resources, and the trainable
reads them with ``tune.get_context().get_trial_resources()``.

An allocation function is called as ``fn(context, trial, result, scheduler)``: Ray Tune
passes its controller first; tunesmith passes an :class:`AllocationContext` there, which
answers the questions such functions ask (``get_trials()``, ``get_live_trials()``) and
adds ``total_resources``, the executor's totals. It returns a dict such as
``{"cpu": 4, "gpu": 1}`` (Ray's ``"CPU"``/``"GPU"`` keys and objects with a
``required_resources`` dict, like ``PlacementGroupFactory``, are accepted), or None to
keep the trial as it is.
"""

from __future__ import annotations

import dataclasses
import math
import os
import pickle
import tempfile
import warnings
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import cloudpickle

from tunesmith._flatten import flatten_dict
from tunesmith.experiment._trial import TrialStatus
from tunesmith.schedulers._scheduler_base import mode_sign
from tunesmith.schedulers._trial_scheduler import Decision, FIFOScheduler, TrialScheduler
from tunesmith.trainable._resources import PlacementGroupFactory

if TYPE_CHECKING:
    from tunesmith.experiment._trial import Trial

__all__ = [
    "AllocationContext",
    "DistributeResources",
    "DistributeResourcesToTopJob",
    "ResourceChangingScheduler",
    "grow_resources",
]

_GROWING = ("cpu", "gpu")
_FINISHED = frozenset((TrialStatus.TERMINATED, TrialStatus.ERROR))
_TOLERANCE = 1e-9


def as_resource_dict(request: Any) -> dict[str, float]:
    """``{"cpu": .., "gpu": .., ...}`` from a dict (either key case) or an object with ``required_resources``."""
    if hasattr(request, "required_resources"):
        request = request.required_resources
    if not isinstance(request, dict) and not isinstance(request, Mapping):  # dict first: typing's check is slow
        raise TypeError(
            "a resource request must be a dict like {'cpu': 2, 'gpu': 1} or an object with "
            f"required_resources (PlacementGroupFactory), got {type(request).__name__}: {request!r}."
        )
    return {(k.lower() if k.lower() in _GROWING else k): float(v) for k, v in request.items()}


def _requested(trials: Sequence[Trial]) -> dict[str, float]:
    """The CPUs and GPUs ``trials`` request together (one pass: it runs after every result)."""
    cpu = gpu = 0.0
    for trial in trials:
        request = trial.resources
        if type(request) is not dict or "CPU" in request or "GPU" in request:
            request = as_resource_dict(request)
        cpu += request.get("cpu", 0.0)
        gpu += request.get("gpu", 0.0)
    return {"cpu": cpu, "gpu": gpu}


def _same(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    return all(abs(a.get(k, 0.0) - b.get(k, 0.0)) <= _TOLERANCE for k in set(a) | set(b))


def grow_resources(
    base: Mapping[str, float],
    current: Mapping[str, float],
    free: Mapping[str, float],
    upper: Mapping[str, float],
    *,
    increase_by: Mapping[str, float] | None = None,
    increase_by_times: int = -1,
    add_bundles: bool = False,
) -> dict[str, float]:
    """A trial's new request: its CPUs and GPUs plus the free ones, kept within ``[base, upper]``.

    For each of ``cpu`` and ``gpu`` the target is ``current + free`` (``free`` may be
    negative when the cluster is oversubscribed, which shrinks the trial), clipped to
    ``[base, upper]``. Without ``increase_by`` the trial grows from ``base`` in whole units
    (in multiples of ``base`` with ``add_bundles``); a resource the base does not request
    stays 0. With ``increase_by`` it grows by whole multiples of that dict, at most
    ``increase_by_times`` of them when that is >= 1. Other keys are kept from ``current``.

    Example:
        >>> grow_resources({"cpu": 1}, {"cpu": 1, "gpu": 0}, {"cpu": 3}, {"cpu": 2})
        {'cpu': 2.0, 'gpu': 0.0}
    """
    limit = {}
    for r in _GROWING:
        b = base.get(r, 0.0)
        limit[r] = max(b, min(upper.get(r, b), current.get(r, b) + free.get(r, 0.0)))
    new = dict(current)
    units = {r: v for r, v in (increase_by or {}).items() if r in _GROWING and v > 0}
    if units:
        steps = min(math.floor((limit[r] - base.get(r, 0.0)) / v + _TOLERANCE) for r, v in units.items())
        steps = max(0, steps if increase_by_times < 1 else min(steps, increase_by_times))
        for r in _GROWING:
            new[r] = float(base.get(r, 0.0) + steps * units.get(r, 0.0))
        return new
    for r in _GROWING:
        b = base.get(r, 0.0)
        unit = b if add_bundles else 1.0
        new[r] = float(b + math.floor((limit[r] - b) / unit + _TOLERANCE) * unit) if b > 0 else 0.0
    return new


@dataclasses.dataclass(frozen=True)
class AllocationContext:
    """What an allocation function sees besides the trial (where Ray passes its controller).

    Attributes:
        total_resources: The executor's total resources, e.g. ``{"cpu": 8, "gpu": 2}``.
        trials: Every trial the scheduler knows, oldest first.
    """

    total_resources: Mapping[str, float]
    trials: tuple[Trial, ...]

    def get_trials(self) -> list[Trial]:
        return list(self.trials)

    def get_live_trials(self) -> list[Trial]:
        return [t for t in self.trials if t.status not in _FINISHED]

    @property
    def _resource_updater(self) -> _TotalResources:
        """The totals as Ray Tune's allocation functions read them from its controller
        (``tune_controller._resource_updater.get_num_cpus()``, as in Ray's own example)."""
        return _TotalResources(self.total_resources)


@dataclasses.dataclass(frozen=True)
class _TotalResources:
    total_resources: Mapping[str, float]

    def get_num_cpus(self) -> int:
        return int(self.total_resources.get("cpu", 0))

    def get_num_gpus(self) -> int:
        return int(self.total_resources.get("gpu", 0))


class DistributeResources:
    """Share the free CPUs and GPUs evenly among the live trials.

    A trial gets its current resources plus the free ones, but no more than
    ``ceil(total / number of live trials)`` and no less than its base request (the first
    trial's). Trials that are waiting (PENDING/PAUSED) count with their requests, so growth
    never takes what they need.

    Args:
        add_bundles: Grow in multiples of the base request rather than in single units.
        increase_by: Grow by whole multiples of this dict, e.g. ``{"cpu": 2, "gpu": 1}``.
        increase_by_times: The most multiples of ``increase_by`` added (< 1: no limit).
        reserve_resources: Resources never handed out, e.g. ``{"cpu": 1}``.

    Example:
        >>> from tunesmith.experiment import Trial
        >>> trial = Trial("f", trial_id="t0", config={}, resources={"cpu": 1})
        >>> context = AllocationContext({"cpu": 4}, (trial,))
        >>> scheduler = ResourceChangingScheduler()
        >>> scheduler.on_trial_add(trial)
        >>> DistributeResources()(context, trial, {"training_iteration": 1}, scheduler)
        {'cpu': 4.0, 'gpu': 0.0}
    """

    def __init__(
        self,
        add_bundles: bool = False,
        increase_by: Mapping[str, float] | None = None,
        increase_by_times: int = -1,
        reserve_resources: Mapping[str, float] | None = None,
    ) -> None:
        self.add_bundles = add_bundles
        self.increase_by = as_resource_dict(increase_by or {})
        self.increase_by_times = increase_by_times
        self.reserve_resources = as_resource_dict(reserve_resources or {})

    def __call__(
        self, context: AllocationContext, trial: Trial, result: Mapping[str, Any], scheduler: ResourceChangingScheduler
    ) -> dict[str, float] | None:
        if result.get("training_iteration", 1) < 1:
            return None
        base = as_resource_dict(scheduler.base_trial_resources or trial.resources)
        total = as_resource_dict(context.total_resources)
        total = {r: total.get(r, 0.0) - self.reserve_resources.get(r, 0.0) for r in _GROWING}
        live = context.get_live_trials()
        if trial not in live and all(t.trial_id != trial.trial_id for t in live):
            live.append(trial)
        used = _requested(live)
        free = {r: total[r] - used[r] for r in _GROWING}
        upper = self._upper_limits(base, total, live, trial, result, scheduler)
        return grow_resources(
            base,
            as_resource_dict(trial.resources),
            free,
            upper,
            increase_by=self.increase_by,
            increase_by_times=self.increase_by_times,
            add_bundles=self.add_bundles,
        )

    def _upper_limits(
        self,
        base: Mapping[str, float],
        total: Mapping[str, float],
        live: Sequence[Trial],
        trial: Trial,
        result: Mapping[str, Any],
        scheduler: ResourceChangingScheduler,
    ) -> dict[str, float]:
        upper = {}
        for r in _GROWING:
            b = base.get(r, 0.0)
            if b <= 0:
                upper[r] = 0.0
                continue
            share = math.ceil(total[r] / max(len(live), 1) - _TOLERANCE)
            if self.add_bundles:
                share = math.ceil(share / b - _TOLERANCE) * b
            upper[r] = max(b, share)
        return upper


class DistributeResourcesToTopJob(DistributeResources):
    """Give the free CPUs and GPUs to the best live trial.

    The best trial (by ``metric``/``mode``, taken from the base scheduler or TuneConfig
    when None) may grow up to the totals; the others keep what they have, shrinking only
    when the cluster is oversubscribed.

    Args:
        add_bundles: See :class:`DistributeResources`.
        increase_by: See :class:`DistributeResources`.
        increase_by_times: See :class:`DistributeResources`.
        reserve_resources: See :class:`DistributeResources`.
        metric: Ranks the trials; None takes the scheduler's.
        mode: ``"min"`` or ``"max"``; None takes the scheduler's.

    Raises:
        ValueError: When called with no metric or mode known anywhere.
    """

    def __init__(
        self,
        add_bundles: bool = False,
        increase_by: Mapping[str, float] | None = None,
        increase_by_times: int = -1,
        reserve_resources: Mapping[str, float] | None = None,
        metric: str | None = None,
        mode: str | None = None,
    ) -> None:
        super().__init__(add_bundles, increase_by, increase_by_times, reserve_resources)
        if mode not in (None, "min", "max"):
            raise ValueError(f"DistributeResourcesToTopJob: mode must be 'min' or 'max', got {mode!r}.")
        self.metric = metric
        self.mode = mode

    def _upper_limits(
        self,
        base: Mapping[str, float],
        total: Mapping[str, float],
        live: Sequence[Trial],
        trial: Trial,
        result: Mapping[str, Any],
        scheduler: ResourceChangingScheduler,
    ) -> dict[str, float]:
        metric = self.metric or scheduler.metric
        mode = self.mode or scheduler.mode
        if not metric or mode not in ("min", "max"):
            raise ValueError(
                "DistributeResourcesToTopJob needs a metric and a mode; set them here, on the base "
                f"scheduler or in TuneConfig. Got metric={metric!r}, mode={mode!r}."
            )
        if self._best(live, trial, result, metric, mode) is trial:
            return {r: max(base.get(r, 0.0), total[r]) if base.get(r, 0.0) > 0 else 0.0 for r in _GROWING}
        current = as_resource_dict(trial.resources)
        return {r: max(base.get(r, 0.0), current.get(r, 0.0)) for r in _GROWING}

    @staticmethod
    def _best(live: Sequence[Trial], trial: Trial, result: Mapping[str, Any], metric: str, mode: str) -> Trial | None:
        sign = mode_sign(mode)
        best, best_score = None, -math.inf
        for candidate in live:
            flat = result if candidate is trial else flatten_dict(candidate.last_result or {})
            value = flat.get(metric)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and sign * value > best_score:
                best, best_score = candidate, sign * value
        return best


_DEFAULT_ALLOCATION = DistributeResources()


class ResourceChangingScheduler(TrialScheduler):
    """Wrap a scheduler and let an allocation function change trials' resources as they train.

    Args:
        base_scheduler: The scheduler that decides continue/pause/stop (FIFO when None).
        resources_allocation_function: ``fn(context, trial, result, scheduler)`` returning
            the trial's new resources or None (see the module docstring). None never changes
            anything (with a warning).

    The executor's totals come from ``set_search_properties(..., total_resources={...})``
    or :meth:`set_total_resources`; until they are known, resources stay unchanged.

    Raises:
        RuntimeError: At :meth:`on_trial_add`, a trial whose resources differ from the
            first trial's (all trials must start from the same base request).

    Example:
        >>> from tunesmith.schedulers import ASHAScheduler, ResourceChangingScheduler
        >>> scheduler = ResourceChangingScheduler(ASHAScheduler(metric="loss", mode="min"))
        >>> scheduler.set_total_resources({"cpu": 8})
        >>> scheduler.debug_string().splitlines()[0]
        '(ResourceChangingScheduler) Using AsyncHyperBand: num_stopped=0'
    """

    def __init__(
        self,
        base_scheduler: TrialScheduler | None = None,
        resources_allocation_function: Callable[..., Any] | None = _DEFAULT_ALLOCATION,
    ) -> None:
        if resources_allocation_function is None:
            warnings.warn(
                "ResourceChangingScheduler: resources_allocation_function is None, so no trial's "
                "resources will change; pass DistributeResources() or your own function.",
                UserWarning,
                stacklevel=2,
            )
        self._base = base_scheduler or FIFOScheduler()
        self._allocate = resources_allocation_function
        self._base_resources: dict[str, float] | None = None
        self._reallocated: set[str] = set()
        self._resizing: list[str] = []  # paused only to change resources: resume these first
        self._trials: dict[str, Trial] = {}
        self._total_resources: dict[str, float] | None = None
        self._warned_no_totals = False

    @property
    def metric(self) -> str | None:
        return self._base.metric

    @property
    def mode(self) -> str | None:
        return getattr(self._base, "_mode", None)

    @property
    def supports_buffered_results(self) -> bool:
        return self._base.supports_buffered_results

    @property
    def base_trial_resources(self) -> dict[str, float] | None:
        """The first trial's resources: every trial's floor."""
        return self._base_resources

    @property
    def _base_trial_resources(self) -> PlacementGroupFactory | None:
        """The floor as Ray Tune's allocation functions read it (``scheduler._base_trial_resources``,
        a ``PlacementGroupFactory``), so Ray's own examples run unchanged."""
        if self._base_resources is None:
            return None
        return PlacementGroupFactory([dict(self._base_resources)])

    def set_total_resources(self, total_resources: Mapping[str, float]) -> None:
        """Tell the scheduler the executor's totals, e.g. ``{"cpu": 8, "gpu": 2}``."""
        self._total_resources = as_resource_dict(total_resources)

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        """Pass metric and mode to the base scheduler; keep ``spec["total_resources"]`` if given."""
        if spec.get("total_resources"):
            self.set_total_resources(spec["total_resources"])
        return self._base.set_search_properties(metric, mode, **spec)

    def on_trial_add(self, trial: Trial) -> None:
        resources = as_resource_dict(trial.resources)
        if self._base_resources is None:
            self._base_resources = resources
        elif trial.trial_id not in self._reallocated and not _same(resources, self._base_resources):
            raise RuntimeError(
                "ResourceChangingScheduler needs every trial to start with the same resources; the "
                f"first trial had {self._base_resources}, trial {trial.trial_id} has {resources}."
            )
        self._trials[trial.trial_id] = trial
        self._base.on_trial_add(trial)

    def on_trial_error(self, trial: Trial) -> None:
        self._forget_resizing(trial)
        self._base.on_trial_error(trial)

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        self._forget_resizing(trial)
        decision = self._base.on_trial_result(trial, result)
        if decision != Decision.CONTINUE:
            return decision
        new_resources = self.reallocate_trial_resources_if_needed(trial, result)
        if new_resources is None:
            return decision
        trial.resources = new_resources
        self._reallocated.add(trial.trial_id)
        self._resizing.append(trial.trial_id)
        return Decision.PAUSE

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        self._forget_resizing(trial)
        self._base.on_trial_complete(trial, result)

    def on_trial_remove(self, trial: Trial) -> None:
        self._forget_resizing(trial)
        self._base.on_trial_remove(trial)

    def _forget_resizing(self, trial: Trial) -> None:
        if trial.trial_id in self._resizing:
            self._resizing.remove(trial.trial_id)

    def choose_trial_to_run(self, trials: Sequence[Trial]) -> Trial | None:
        """Trials paused only for new resources first (the base scheduler wanted them to
        continue, and may not resume a trial it did not pause itself), then the base's pick."""
        for trial_id in self._resizing:
            for trial in trials:
                if trial.trial_id == trial_id and trial.status == TrialStatus.PAUSED:
                    return trial
        return self._base.choose_trial_to_run(trials)

    def pop_trials_to_stop(self) -> list[Trial]:
        """The base scheduler's :meth:`pop_trials_to_stop`."""
        return self._base.pop_trials_to_stop()

    def reallocate_trial_resources_if_needed(self, trial: Trial, result: dict[str, Any]) -> dict[str, float] | None:
        """Ask the allocation function; return the new resources, or None when they stay."""
        if self._allocate is None:
            return None
        if self._total_resources is None:
            if not self._warned_no_totals:
                self._warned_no_totals = True
                warnings.warn(
                    "ResourceChangingScheduler: the executor's total resources are unknown "
                    "(set_total_resources was not called), so resources stay unchanged.",
                    UserWarning,
                    stacklevel=2,
                )
            return None
        context = AllocationContext(dict(self._total_resources), tuple(self._trials.values()))
        new = self._allocate(context, trial, result, self)
        if new is None:
            return None
        new = as_resource_dict(new)
        return None if _same(new, as_resource_dict(trial.resources)) else new

    def debug_string(self) -> str:
        return f"(ResourceChangingScheduler) {self._base.debug_string()}"

    def save(self, checkpoint_path: str) -> None:
        """Save this scheduler's and the base scheduler's state into ``checkpoint_path``."""
        folder = os.path.dirname(os.path.abspath(checkpoint_path))
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            base_path = os.path.join(tmp, "base")
            self._base.save(base_path)
            base_state = None
            if os.path.exists(base_path):
                with open(base_path, "rb") as f:
                    base_state = f.read()
        own = {
            "base_trial_resources": self._base_resources,
            "reallocated": self._reallocated,
            "resizing": self._resizing,
            "total_resources": self._total_resources,
            "base_state": base_state,
        }
        with open(checkpoint_path, "wb") as f:
            cloudpickle.dump(own, f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            own = pickle.load(f)
        self._base_resources = own["base_trial_resources"]
        self._reallocated = own["reallocated"]
        self._resizing = own["resizing"]
        self._total_resources = self._total_resources or own["total_resources"]
        if own["base_state"] is not None:
            folder = os.path.dirname(os.path.abspath(checkpoint_path))
            with tempfile.TemporaryDirectory(dir=folder) as tmp:
                base_path = os.path.join(tmp, "base")
                with open(base_path, "wb") as f:
                    f.write(own["base_state"])
                self._base.restore(base_path)
