"""Population based training (Jaderberg et al. 2017, "Population Based Training of Neural
Networks").

Every ``perturbation_interval`` of ``time_attr``, a trial in the bottom quantile of the
population *exploits* a trial of the top quantile (takes its checkpoint and config) and
*explores* (perturbs that config). The exploit is prepared on the ``Trial`` -- new
``config``, ``restore_checkpoint`` = the donor's checkpoint, a ``@perturbed[...]`` tag --
and the trial is PAUSED; the controller restarts it from that checkpoint.
"""

from __future__ import annotations

import bisect
import copy
import dataclasses
import json
import os
import warnings
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from tunesmith._flatten import json_default
from tunesmith.error import TuneError
from tunesmith.experiment._trial import TrialStatus
from tunesmith.schedulers._pbt_explore import (
    explore,
    fill_missing,
    pbt_quantile_size,
    perturbed_tag,
    rank_key,
    validate_mutations,
)
from tunesmith.schedulers._scheduler_base import _FINISHED, _SchedulerBase, logger
from tunesmith.schedulers._trial_scheduler import Decision

if TYPE_CHECKING:
    from tunesmith.experiment._trial import Trial

__all__ = ["PopulationBasedTraining"]

_WAITING = frozenset((TrialStatus.PENDING, TrialStatus.PAUSED))


@dataclasses.dataclass
class _Member:
    """What PBT knows about one trial of the population."""

    orig_tag: str
    last_score: float | None = None
    last_perturbation_time: float = 0.0
    last_train_time: float = 0.0
    last_iteration: int = 0
    checkpoint_iteration: int | None = None
    seen_checkpoint: Any = None
    progress: dict[str, Any] | None = None  # training_iteration and time_total_s at the last perturbation point


class PopulationBasedTraining(_SchedulerBase):
    """Population based training: the worst trials copy the best ones, then perturb.

    Args:
        time_attr: The result key that measures progress (``time_total_s``,
            ``training_iteration``, ...).
        metric: The result key to optimise; None takes ``TuneConfig.metric``.
        mode: ``"min"`` or ``"max"``; None takes ``TuneConfig.mode``.
        perturbation_interval: A trial is considered for exploit/explore every this much
            ``time_attr``.
        burn_in_period: No perturbation before ``time_attr`` reaches it.
        hyperparam_mutations: ``{key: list | domain | function | nested dict}``: how each
            hyperparameter is resampled and perturbed (see :func:`explore`). Keys missing
            from a trial's config are sampled when the trial is added.
        quantile_fraction: Size of the bottom and top quantiles, in ``[0, 0.5]``.
        resample_probability: Chance of resampling instead of perturbing a value.
        perturbation_factors: Factors a numeric value is multiplied by.
        custom_explore_fn: ``fn(config) -> config`` applied after the built-in rules.
        log_config: Write ``pbt_global.txt`` and ``pbt_policy_<trial_id>.txt`` into the
            experiment folder (given as ``experiment_dir`` to :meth:`set_search_properties`).
        require_attrs: A result without ``time_attr`` or the metric raises RuntimeError;
            False lets such results pass.
        synch: Wait for the whole population at each interval (early trials are paused),
            then exploit/explore all at once.
        seed: Seed of the scheduler's random generator (tunesmith addition).

    Raises:
        TuneError: Neither ``hyperparam_mutations`` nor ``custom_explore_fn`` is given.
        ValueError: ``quantile_fraction`` outside ``[0, 0.5]``, ``perturbation_interval
            <= 0``, ``burn_in_period < 0``, ``resample_probability`` outside ``[0, 1]``,
            no ``perturbation_factors``, a bad ``mode``, or a mutation that cannot be
            perturbed (``sample_from``, ``grid_search``, an empty list).
        TypeError: ``hyperparam_mutations`` that is not a dict, or a mutation that is not a
            list, dict, domain or function.

    Beyond Ray Tune: a donor without a checkpoint is never exploited (the trial keeps its
    own weights and config until the next interval; a UserWarning says so once if no trial
    has any checkpoint), and each perturbation is kept in :meth:`policy_records`.

    Example:
        >>> from tunesmith import uniform
        >>> from tunesmith.schedulers import PopulationBasedTraining
        >>> pbt = PopulationBasedTraining(
        ...     metric="acc", mode="max", perturbation_interval=2,
        ...     hyperparam_mutations={"lr": uniform(1e-4, 1e-1), "batch": [16, 32, 64]})
        >>> pbt.debug_string()
        'PopulationBasedTraining: 0 perturbs'
    """

    def __init__(
        self,
        time_attr: str = "time_total_s",
        metric: str | None = None,
        mode: str | None = None,
        perturbation_interval: float = 60.0,
        burn_in_period: float = 0.0,
        hyperparam_mutations: Mapping[str, Any] | None = None,
        quantile_fraction: float = 0.25,
        resample_probability: float = 0.25,
        perturbation_factors: Sequence[float] = (1.2, 0.8),
        custom_explore_fn: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        log_config: bool = True,
        require_attrs: bool = True,
        synch: bool = False,
        *,
        seed: int | None = None,
    ) -> None:
        name = type(self).__name__
        if hyperparam_mutations is not None and not isinstance(hyperparam_mutations, Mapping):
            raise TypeError(
                f"{name}: hyperparam_mutations must be a dict of {{key: list | domain | function | dict}}, "
                f"got {type(hyperparam_mutations).__name__}: {hyperparam_mutations!r}."
            )
        mutations = dict(hyperparam_mutations or {})
        validate_mutations(name, mutations)
        if not mutations and custom_explore_fn is None:
            raise TuneError(
                f"{name} needs hyperparam_mutations or custom_explore_fn to explore (a dict with at least "
                f"one key, or a function); got hyperparam_mutations={hyperparam_mutations!r} and no custom_explore_fn."
            )
        if not 0 <= quantile_fraction <= 0.5:
            raise ValueError(f"{name}: quantile_fraction must be in [0, 0.5], got {quantile_fraction!r}.")
        if not perturbation_interval > 0:
            raise ValueError(f"{name}: perturbation_interval must be > 0, got {perturbation_interval!r}.")
        if burn_in_period < 0:
            raise ValueError(f"{name}: burn_in_period must be >= 0, got {burn_in_period!r}.")
        if not 0 <= resample_probability <= 1:
            raise ValueError(f"{name}: resample_probability must be in [0, 1], got {resample_probability!r}.")
        if not perturbation_factors:
            raise ValueError(f"{name}: perturbation_factors must hold at least one factor, got {perturbation_factors!r}.")
        super().__init__(metric, mode)
        self._time_attr = time_attr
        self._interval = perturbation_interval
        self._burn_in_period = burn_in_period
        self._mutations = mutations
        self._quantile_fraction = quantile_fraction
        self._resample_probability = resample_probability
        self._perturbation_factors = tuple(perturbation_factors)
        self._custom_explore_fn = custom_explore_fn
        self._log_config = log_config
        self._require_attrs = require_attrs
        self._synch = synch
        self._experiment_dir: str | None = None
        self._rng = np.random.default_rng(seed)
        self._members: dict[str, _Member] = {}
        self._prefer: list[str] = []  # exploited trials: restart these first
        self._next_sync = max(perturbation_interval, burn_in_period)
        self._records: list[dict[str, Any]] = []
        self._policies: dict[str, list[list[Any]]] = {}
        self._num_perturbations = 0
        self._warned_no_checkpoint = False
        self._checkpointing: str | None = None  # the reporting trial, when its result brings a checkpoint
        self._order: dict[str, int] = {}  # the order trials were bound: ties rank by it
        self._ranking: _Ranking | None = _Ranking()  # None: rebuild from the members (after restore)
        self._behind: set[str] | None = set()  # synch: live trials short of _next_sync (None: recount)
        self._by_time: _Ranking | None = _Ranking()  # live trials by last_train_time (None: rebuild)

    def _receive_spec(self, spec: dict[str, Any]) -> None:
        if spec.get("experiment_dir"):
            self._experiment_dir = str(spec["experiment_dir"])

    # -- trials come and go ----------------------------------------------------------------
    def _bind(self, trial: Trial) -> None:
        super()._bind(trial)
        self._order.setdefault(trial.trial_id, len(self._order))

    def on_trial_add(self, trial: Trial) -> None:
        """Sample the mutated keys the trial's config lacks (sets ``trial.config``)."""
        self._require_metric_and_mode()
        self._bind(trial)
        if trial.trial_id in self._members:
            return  # added again after a restore
        filled = fill_missing(trial.config, self._mutations, self._rng)
        if filled is not None:
            trial.config = filled
        member = self._members[trial.trial_id] = _Member(orig_tag=trial.experiment_tag, seen_checkpoint=trial.checkpoint)
        self._set_train_time(trial.trial_id, member, 0.0)

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        self._on_trial_end(trial)

    def on_trial_remove(self, trial: Trial) -> None:
        self._on_trial_end(trial)

    def on_trial_error(self, trial: Trial) -> None:
        self._on_trial_end(trial)

    def _on_trial_end(self, trial: Trial) -> None:
        self._checkpointing = None
        self._live.pop(trial.trial_id, None)
        if trial.trial_id in self._prefer:
            self._prefer.remove(trial.trial_id)
        if self._ranking is not None:
            self._ranking.discard(trial.trial_id)
        if self._behind is not None:
            self._behind.discard(trial.trial_id)
        if self._by_time is not None:
            self._by_time.discard(trial.trial_id)
        if not self._synch:
            return
        others_live = any(t is not trial and t.status not in _FINISHED for t in self._live.values())
        if others_live and not self._someone_behind(exclude=trial):
            # the population now waits only for those that arrived (Ray Tune would wait for ever)
            self._sync_round(self._next_sync, exclude=trial)

    # -- results ---------------------------------------------------------------------------
    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        if self._time_attr not in result or self._metric not in result:
            if self._require_attrs:
                raise RuntimeError(
                    f"{type(self).__name__}: every result must contain time_attr "
                    f"{self._time_attr!r} and metric {self._metric!r} (or pass require_attrs=False); "
                    f"trial {trial.trial_id} reported {sorted(k for k in result if not k.startswith('config/'))}."
                )
            return Decision.CONTINUE
        if trial.trial_id not in self._members:
            self.on_trial_add(trial)
        self._bind(trial)
        if trial.trial_id in self._prefer:
            self._prefer.remove(trial.trial_id)
        member = self._members[trial.trial_id]
        self._track_checkpoint(trial, member, result)
        # a checkpoint that came with this result is stored after the decision, and an exploit of
        # this trial now gets it (as Ray Tune saves the donor at the perturbation)
        self._checkpointing = trial.trial_id if result.get("checkpoint_dir_name") else None
        t = result[self._time_attr]
        if t < self._burn_in_period or t - member.last_perturbation_time < self._interval:
            return Decision.CONTINUE
        member.progress = _progress(result)
        self._record_score(trial, member, t, self._score(result))
        if self._synch:
            return self._on_result_synch(trial, t)
        member.last_perturbation_time = t
        lower, upper = self._quantiles()
        if trial.trial_id in lower and self._exploit(trial, upper, t):
            return Decision.PAUSE
        return Decision.PAUSE if self._others_waiting(trial) else Decision.CONTINUE

    def _on_result_synch(self, trial: Trial, t: float) -> Decision:
        """As Ray Tune: a trial at the perturbation point waits (PAUSE) until every live trial
        is there; the last one to arrive perturbs the whole population and pauses too, and
        :meth:`choose_trial_to_run` restarts them, least trained first."""
        if not self._someone_behind(exclude=trial):
            self._sync_round(t)
        return Decision.PAUSE

    def _track_checkpoint(self, trial: Trial, member: _Member, result: dict[str, Any]) -> None:
        # The controller stores a result's checkpoint after asking the scheduler, so a new
        # checkpoint seen now came with the previous result.
        if trial.checkpoint is not member.seen_checkpoint:
            member.seen_checkpoint = trial.checkpoint
            member.checkpoint_iteration = member.last_iteration
        member.last_iteration = int(result.get("training_iteration", member.last_iteration + 1))

    def _checkpoint_iteration(self, trial: Trial, member: _Member) -> int:
        if trial.trial_id == self._checkpointing:
            return member.last_iteration
        if trial.checkpoint is not member.seen_checkpoint or member.checkpoint_iteration is None:
            return member.last_iteration
        return member.checkpoint_iteration

    def _record_score(self, trial: Trial, member: _Member, t: float, score: float) -> None:
        """Remember the trial's score at a perturbation point (PB2 also keeps the data)."""
        member.last_score = score
        self._set_train_time(trial.trial_id, member, t)
        if self._ranking is not None:
            self._ranking.set(trial.trial_id, self._order[trial.trial_id], score)

    def _quantiles(self, exclude: Trial | None = None) -> tuple[list[str], list[str]]:
        """``pbt_quantiles`` of the live trials' last scores (kept ranked as they come in)."""
        if self._ranking is None:
            self._ranking = _Ranking()
            for t in self._live_trials():
                member = self._members.get(t.trial_id)
                if member is not None and member.last_score is not None:
                    self._ranking.set(t.trial_id, self._order[t.trial_id], member.last_score)
        if exclude is not None:
            self._ranking.discard(exclude.trial_id)
        lower, upper = self._ranking.quantiles(self._quantile_fraction)
        if any(self._trials[i].status in _FINISHED for i in (*lower, *upper)):
            self._ranking = None  # a trial ended without a hook telling us: rank again
            return self._quantiles(exclude)
        return lower, upper

    def _set_train_time(self, trial_id: str, member: _Member, t: float) -> None:
        member.last_train_time = t
        if self._by_time is not None:
            self._by_time.set(trial_id, self._order[trial_id], t)
        if self._behind is not None:
            if t < self._next_sync:
                self._behind.add(trial_id)
            else:
                self._behind.discard(trial_id)

    def _someone_behind(self, exclude: Trial | None = None) -> bool:
        """Whether a live trial other than ``exclude`` has not reached ``_next_sync`` yet."""
        if self._behind is None:
            self._behind = {
                t.trial_id
                for t in self._live_trials()
                if t.trial_id in self._members and self._members[t.trial_id].last_train_time < self._next_sync
            }
        ended, found = [], False
        for trial_id in self._behind:
            if exclude is not None and trial_id == exclude.trial_id:
                continue
            if self._trials[trial_id].status in _FINISHED:  # ended without a hook telling us
                ended.append(trial_id)
                continue
            found = True
            break
        self._behind.difference_update(ended)
        return found

    def _sync_round(self, t: float, exclude: Trial | None = None) -> set[str]:
        """Everyone is at the interval: as Ray Tune, every trial's perturbation time becomes
        ``t``, the bottom quantile exploits/explores the top, and the next meeting is an
        interval later (or at the furthest trial, if one went past it)."""
        lower, upper = self._quantiles(exclude)
        for member in self._members.values():
            member.last_perturbation_time = t
        exploited = {i for i in lower if self._exploit(self._trials[i], upper, t)}
        times = [m.last_train_time for i, m in self._members.items() if exclude is None or i != exclude.trial_id]
        self._next_sync = max([self._next_sync + self._interval, *times])
        self._behind = None  # everyone is behind the new _next_sync: recount when asked
        return exploited

    # -- exploit and explore -----------------------------------------------------------------
    def _exploit(self, trial: Trial, upper: Sequence[str], t: float) -> bool:
        """Prepare ``trial`` to restart from a top trial's checkpoint with an explored config."""
        donors = [self._trials[i] for i in upper if i != trial.trial_id and self._trials[i].checkpoint is not None]
        if not donors:
            self._warn_no_checkpoints(trial)
            return False
        donor = donors[int(self._rng.integers(len(donors)))]
        member, donor_member = self._members[trial.trial_id], self._members[donor.trial_id]
        new_config, operations = self._get_new_config(trial, donor)
        donor_iteration = self._checkpoint_iteration(donor, donor_member)
        logger.info("PBT: trial %s exploits %s and explores %s", trial.trial_id, donor.trial_id, operations)
        self._log_exploit(trial, donor, new_config, t, donor_iteration)
        trial.config = new_config
        trial.restore_checkpoint = donor.checkpoint
        # as in Ray Tune, the trial takes over the donor's iteration count and time (its
        # history goes on from there, instead of repeating the iterations since the checkpoint)
        trial.restore_progress = dict(donor_member.progress) if donor_member.progress else None
        trial.experiment_tag = perturbed_tag(member.orig_tag, new_config, self._mutations)
        member.last_perturbation_time = donor_member.last_perturbation_time
        self._set_train_time(trial.trial_id, member, donor_member.last_train_time)
        member.last_iteration = donor_iteration
        self._prefer.append(trial.trial_id)
        self._num_perturbations += 1
        return True

    def _warn_no_checkpoints(self, trial: Trial) -> None:
        """Say once, loudly, when no trial of the population has saved a checkpoint by now."""
        if self._warned_no_checkpoint or any(t.checkpoint is not None for t in self._trials.values()):
            logger.info("PBT: no top-quantile trial has a checkpoint yet; trial %s keeps its own", trial.trial_id)
            return
        self._warned_no_checkpoint = True
        warnings.warn(
            f"{type(self).__name__}: trial {trial.trial_id} should exploit a better trial, but no trial has "
            "saved a checkpoint, so nothing is copied and the trials train on unchanged. PBT needs "
            "checkpoints: report them with tune.report(..., checkpoint=...) (or save_checkpoint in a "
            "Trainable) at least every perturbation_interval.",
            UserWarning,
            stacklevel=2,
        )

    def _get_new_config(self, trial: Trial, donor: Trial) -> tuple[dict[str, Any], dict[str, Any]]:
        """The explored config for ``trial``, starting from ``donor``'s (PB2 overrides this)."""
        return explore(
            donor.config,
            self._mutations,
            self._rng,
            resample_probability=self._resample_probability,
            perturbation_factors=self._perturbation_factors,
            custom_explore_fn=self._custom_explore_fn,
        )

    # -- the record of perturbations ---------------------------------------------------------
    def policy_records(self) -> list[dict[str, Any]]:
        """Every exploit so far, oldest first.

        Each record has ``time`` (of ``time_attr``), ``trial_id``, ``donor_id``,
        ``trial_tag``, ``donor_tag``, ``trial_iteration``, ``donor_iteration`` (the
        iteration of the donor's checkpoint), ``old_config`` (the donor's) and
        ``new_config``.
        """
        return copy.deepcopy(self._records)

    def _log_exploit(self, trial: Trial, donor: Trial, new_config: dict[str, Any], t: float, donor_iteration: int) -> None:
        member, donor_member = self._members[trial.trial_id], self._members[donor.trial_id]
        record = {
            "time": t,
            "trial_id": trial.trial_id,
            "donor_id": donor.trial_id,
            "trial_tag": member.orig_tag,
            "donor_tag": donor_member.orig_tag,
            "trial_iteration": member.last_iteration,
            "donor_iteration": donor_iteration,
            "old_config": copy.deepcopy(donor.config),
            "new_config": copy.deepcopy(new_config),
        }
        self._records.append(record)
        line = [record[k] for k in ("trial_tag", "donor_tag", "trial_iteration", "donor_iteration", "old_config", "new_config")]
        self._policies[trial.trial_id] = self._policies.get(donor.trial_id, []) + [line]
        if self._log_config and self._experiment_dir:
            self._write_policy_files(trial.trial_id, line)

    def _write_policy_files(self, trial_id: str, line: list[Any]) -> None:
        text = json.dumps(line, default=json_default) + "\n"
        policy = "".join(json.dumps(item, default=json_default) + "\n" for item in self._policies[trial_id])
        _write_text(_join(self._experiment_dir, "pbt_global.txt"), text, append=True)
        _write_text(_join(self._experiment_dir, f"pbt_policy_{trial_id}.txt"), policy, append=False)

    # -- who runs next ---------------------------------------------------------------------
    def choose_trial_to_run(self, trials: Sequence[Trial]) -> Trial | None:
        """Exploited trials first (not with ``synch``, as Ray Tune), then the one that trained least
        (synch: only those short of the next meeting).

        Ties go to the trial added first, as in Ray Tune.
        """
        for trial_id in () if self._synch else self._prefer:  # synch: least trained first only, as Ray Tune
            trial = self._trials.get(trial_id)
            if trial is not None and trial in trials and self._may_run(trial):
                return trial
        if self._by_time is None:
            self._by_time = _Ranking()
            for t in self._live_trials():
                if t.trial_id in self._members:
                    self._by_time.set(t.trial_id, self._order[t.trial_id], self._members[t.trial_id].last_train_time)
        # Walk the live trials from the least trained: past the few running ones to the first
        # waiting one (a pass over every waiting trial before each start costs O(n^2) in all).
        for trial_id in self._by_time:
            trial = self._trials[trial_id]
            if self._synch and not self._members[trial_id].last_train_time < self._next_sync:
                break
            if trial.status in _WAITING and trial in trials:
                return trial
        # a trial never added (so never ranked) counts as untrained
        return next((t for t in trials if t.trial_id not in self._members and t.status in _WAITING), None)

    def _may_run(self, trial: Trial) -> bool:
        if trial.status not in _WAITING:
            return False
        return not self._synch or self._members[trial.trial_id].last_train_time < self._next_sync

    def debug_string(self) -> str:
        return f"PopulationBasedTraining: {self._num_perturbations} perturbs"

    def _state(self) -> dict[str, Any]:
        members = {i: dataclasses.replace(m, seen_checkpoint=None) for i, m in self._members.items()}
        return {
            **super()._state(),
            "members": members,
            "prefer": list(self._prefer),
            "next_sync": self._next_sync,
            "records": self._records,
            "policies": self._policies,
            "num_perturbations": self._num_perturbations,
            "rng": self._rng,
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        super()._set_state(state)
        self._members = state["members"]
        self._prefer = state["prefer"]
        self._next_sync = state["next_sync"]
        self._records = state["records"]
        self._policies = state["policies"]
        self._num_perturbations = state["num_perturbations"]
        self._rng = state["rng"]
        self._ranking = None
        self._behind = None
        self._by_time = None


class _Ranking:
    """Live trials by a number (last score, last train time), least first; ties in the order
    the trials were added; NaN first.

    PBT asks for the quantiles after every perturbation-interval result, and for the least
    trained waiting trial before every start; keeping the trials sorted as the numbers
    change makes each O(quantile) or O(running trials) instead of a pass over the
    population. Its quantiles are :func:`pbt_quantiles`'s.
    """

    def __init__(self) -> None:
        self._keys: list[tuple[float, int, str]] = []
        self._key_of: dict[str, tuple[float, int, str]] = {}

    def set(self, trial_id: str, order: int, score: float) -> None:
        self.discard(trial_id)
        key = (rank_key(score), order, trial_id)
        bisect.insort(self._keys, key)
        self._key_of[trial_id] = key

    def discard(self, trial_id: str) -> None:
        key = self._key_of.pop(trial_id, None)
        if key is not None:
            del self._keys[bisect.bisect_left(self._keys, key)]

    def __iter__(self) -> Iterator[str]:
        return (key[2] for key in self._keys)

    def quantiles(self, quantile_fraction: float) -> tuple[list[str], list[str]]:
        size = pbt_quantile_size(len(self._keys), quantile_fraction)
        if size <= 0:
            return [], []
        return [k[2] for k in self._keys[:size]], [k[2] for k in self._keys[-size:]]


def _progress(result: dict[str, Any]) -> dict[str, Any]:
    return {key: result[key] for key in ("training_iteration", "time_total_s") if key in result}


def _join(folder: str, name: str) -> str:
    return f"{folder.rstrip('/')}/{name}" if "://" in folder else os.path.join(folder, name)


def _write_text(path: str, text: str, append: bool) -> None:
    if "://" not in path:
        with open(path, "a" if append else "w", encoding="utf-8") as f:
            f.write(text)
        return
    import fsspec  # remote experiment folders: object stores cannot append, so rewrite

    if append:
        fs, _, (stripped,) = fsspec.get_fs_token_paths(path)
        text = (fs.cat_file(stripped).decode("utf-8") if fs.exists(stripped) else "") + text
    with fsspec.open(path, "w", encoding="utf-8") as f:
        f.write(text)
