"""What the built-in schedulers share: metric and mode, the trials they track, saved state.

Private: users subclass :class:`~tunesmith.schedulers.TrialScheduler`. This base adds

- metric/mode handling as in Ray Tune (a mode without a metric means ``"_metric"``; both
  are required before the first trial is added);
- a registry of the trials seen, keyed by id, so a restored scheduler re-binds the live
  ``Trial`` objects when the controller adds them again;
- :meth:`pop_trials_to_stop` for decisions about trials *other* than the one reporting
  (HyperBand stops paused losers of a halving);
- :meth:`save` / :meth:`restore` of whatever :meth:`_state` returns, with cloudpickle.
"""

from __future__ import annotations

import logging
import pickle
from typing import TYPE_CHECKING, Any

import cloudpickle

from tunesmith.error import TuneError
from tunesmith.experiment._trial import TrialStatus
from tunesmith.schedulers._trial_scheduler import FIFOScheduler

if TYPE_CHECKING:
    from tunesmith.experiment._trial import Trial

__all__ = ["DEFAULT_METRIC", "missing_keys_message", "mode_sign", "validate_mode"]

logger = logging.getLogger("tunesmith.schedulers")

DEFAULT_METRIC = "_metric"
_WAITING = frozenset((TrialStatus.PENDING, TrialStatus.PAUSED))
_FINISHED = frozenset((TrialStatus.TERMINATED, TrialStatus.ERROR))


def validate_mode(owner: str, mode: str | None) -> None:
    """Raise ValueError unless ``mode`` is None, ``"min"`` or ``"max"``."""
    if mode not in (None, "min", "max"):
        raise ValueError(f"{owner}: mode must be 'min' or 'max', got {mode!r}.")


def mode_sign(mode: str | None) -> float:
    """``+1`` for ``"max"``, ``-1`` for ``"min"``: multiply a metric by it and higher is better."""
    return -1.0 if mode == "min" else 1.0


def missing_keys_message(owner: str, time_attr: str, metric: str | None, missing: list[str], result: dict[str, Any]) -> str:
    """The error for a first result without the scheduler's ``time_attr`` or metric.

    Example:
        >>> missing_keys_message("ASHAScheduler", "epoch", "loss", ["epoch"], {"loss": 1.0, "trial_id": "a"})
        "ASHAScheduler needs time_attr 'epoch' in the results, but the first result (trial a) lacks it; it reported: loss, trial_id. Report 'epoch' with tune.report, or give the scheduler one of the reported keys."
    """
    roles = {metric: "metric", time_attr: "time_attr"}
    named = " and ".join(f"{roles[key]} {key!r}" for key in missing)
    reported = ", ".join(sorted(k for k in result if not k.startswith("config/"))) or "nothing"
    return (
        f"{owner} needs {named} in the results, but the first result (trial {result.get('trial_id', '?')}) "
        f"lacks {'it' if len(missing) == 1 else 'them'}; it reported: {reported}. Report "
        f"{' and '.join(repr(k) for k in missing)} with tune.report, or give the scheduler one of the reported keys."
    )


class _SchedulerBase(FIFOScheduler):
    """Metric/mode, trial registry, stop queue and save/restore for the built-in schedulers."""

    def __init__(self, metric: str | None, mode: str | None) -> None:
        validate_mode(type(self).__name__, mode)
        self._metric = metric
        self._mode = mode
        self._trials: dict[str, Trial] = {}
        self._live: dict[str, Trial] = {}  # _trials less (some of) the finished ones
        self._stop_queue: list[str] = []
        self._seen_keys = False  # time_attr and metric were in a result (see _has_keys)

    # -- metric and mode ------------------------------------------------------------------
    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        """Take the experiment's metric and mode unless the scheduler has its own.

        Args:
            metric: The experiment's metric (``TuneConfig.metric``), or None.
            mode: ``"min"``, ``"max"`` or None.
            **spec: Further facts about the experiment; ``experiment_dir`` and
                ``total_resources`` are used by the schedulers that need them.

        Returns:
            False if the scheduler already has a different metric or mode.
        """
        validate_mode(type(self).__name__, mode)
        if not super().set_search_properties(metric, mode, **spec):
            return False
        if self._metric is None and self._mode:
            self._metric = DEFAULT_METRIC
        self._receive_spec(spec)
        return True

    def _receive_spec(self, spec: dict[str, Any]) -> None:
        """Keep the spec entries a subclass needs (default: none)."""

    @property
    def _sign(self) -> float:
        return mode_sign(self._mode)

    def _require_metric_and_mode(self) -> None:
        if not self._metric or self._mode not in ("min", "max"):
            raise ValueError(
                f"{type(self).__name__} needs a metric and a mode ('min' or 'max') before trials "
                "are added; pass them to the scheduler or to TuneConfig(metric=..., mode=...). "
                f"Got metric={self._metric!r}, mode={self._mode!r}."
            )

    def _has_keys(self, result: dict[str, Any], time_attr: str) -> bool:
        """Whether ``result`` has ``time_attr`` and the metric, which the scheduler needs to act.

        The first result the scheduler sees must have both: a key missing there is a
        misconfiguration every trial shares (a typo in ``time_attr``, a metric the trainable
        never reports), so it ends the experiment instead of being skipped silently for
        ever. Once both were seen, a later result without them is skipped (CONTINUE).

        Raises:
            TuneError: The first result lacks ``time_attr`` or the metric (not for the
                default metric ``"_metric"``, which only a returned number reports).
        """
        missing = [key for key in (time_attr, self._metric) if key not in result]
        if not missing:
            self._seen_keys = True
            return True
        if not self._seen_keys and missing != [DEFAULT_METRIC]:
            raise TuneError(missing_keys_message(type(self).__name__, time_attr, self._metric, missing, result))
        return False

    def _score(self, result: dict[str, Any]) -> float:
        """The result's metric, signed so that higher is better."""
        return self._sign * float(result[self._metric])

    # -- trials ---------------------------------------------------------------------------
    def _bind(self, trial: Trial) -> None:
        self._trials[trial.trial_id] = trial
        self._live[trial.trial_id] = trial

    def _live_trials(self) -> list[Trial]:
        """The trials that have not finished, in the order they were added."""
        live = [t for t in self._live.values() if t.status not in _FINISHED]
        if len(live) < len(self._live):  # forget finished ones: later calls get cheaper
            self._live = {t.trial_id: t for t in live}
        return live

    def _others_waiting(self, trial: Trial) -> bool:
        """Whether another live trial is PENDING or PAUSED (and could use this one's slot)."""
        return any(t is not trial and t.status in _WAITING for t in self._live.values())

    def _request_stop(self, trial_id: str) -> None:
        if trial_id not in self._stop_queue:
            self._stop_queue.append(trial_id)

    def pop_trials_to_stop(self) -> list[Trial]:
        """Trials, other than the one reporting, that this scheduler has decided to end.

        Returns the queue and empties it. The controller calls this after every scheduler
        hook and ends each returned trial that is not finished yet as TERMINATED (as if the
        scheduler had returned ``STOP`` for it), calling :meth:`on_trial_complete`. HyperBand
        uses it for PAUSED trials that lost a halving.
        """
        trials = [self._trials[i] for i in self._stop_queue if i in self._trials]
        self._stop_queue.clear()
        return [t for t in trials if not t.status.is_finished()]

    # -- saved state ----------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        """What :meth:`save` writes; subclasses extend it."""
        return {"stop_queue": list(self._stop_queue)}

    def _set_state(self, state: dict[str, Any]) -> None:
        self._stop_queue = list(state["stop_queue"])

    def save(self, checkpoint_path: str) -> None:
        """Write the scheduler's progress (rungs, brackets, population) to ``checkpoint_path``.

        Constructor arguments are not saved: restore onto a scheduler built with the same
        arguments, then let the controller add the unfinished trials again
        (:meth:`on_trial_add` re-binds known trial ids without changing them).
        """
        with open(checkpoint_path, "wb") as f:
            cloudpickle.dump({"class": type(self).__name__, "state": self._state()}, f)

    def restore(self, checkpoint_path: str) -> None:
        """Read what :meth:`save` wrote.

        Raises:
            ValueError: The file was written by another scheduler class.
        """
        with open(checkpoint_path, "rb") as f:
            saved = pickle.load(f)
        if saved.get("class") != type(self).__name__:
            raise ValueError(
                f"{type(self).__name__}.restore: the state file must come from the same scheduler "
                f"class; {checkpoint_path!r} was written by {saved.get('class')!r}."
            )
        self._set_state(saved["state"])
