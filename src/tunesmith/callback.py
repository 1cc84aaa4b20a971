"""``Callback``: hooks that are told about the experiment as it runs."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from tunesmith.error import StorageError

if TYPE_CHECKING:
    from tunesmith._checkpoint import Checkpoint
    from tunesmith.experiment._trial import Trial

__all__ = ["Callback", "CallbackList"]

logger = logging.getLogger("tunesmith")


class Callback:
    """Base class for experiment callbacks; override the hooks you need.

    Every hook also takes ``**info`` so new arguments can be added later. ``iteration``
    counts controller loop steps; ``trials`` is the list of all trials so far.

    Example:
        >>> class PrintResults(Callback):
        ...     def on_trial_result(self, iteration, trials, trial, result, **info):
        ...         print(trial.trial_id, result["training_iteration"])
    """

    def setup(self, stop: Any = None, num_samples: int | None = None, total_num_samples: int | None = None, **info: Any) -> None:
        """Called once before the first trial starts."""

    def on_step_begin(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        """Called at the start of every controller loop step."""

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        """Called at the end of every controller loop step."""

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        """A trial attempt started (also after each retry)."""

    def on_trial_restore(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        """A trial attempt started from a checkpoint (retry, pause, or ``Tuner.restore``)."""

    def on_trial_save(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        """A trial's checkpoint was persisted."""

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial, result: dict, **info: Any) -> None:
        """A trial reported a result (which may be changed in place for later callbacks)."""

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        """A trial finished normally or was stopped."""

    def on_trial_recover(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        """A trial failed and will be retried."""

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        """A trial failed for good."""

    def on_checkpoint(self, iteration: int, trials: list[Trial], trial: Trial, checkpoint: Checkpoint, **info: Any) -> None:
        """A checkpoint was registered for a trial."""

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        """All trials have ended."""

    def get_state(self) -> dict | None:
        """State to save with the experiment, restored through :meth:`set_state`."""
        return None

    def set_state(self, state: dict) -> None:
        """Restore what :meth:`get_state` returned."""


def _name_in_note(exc: BaseException, callback: Any, hook: str) -> None:
    note = f"raised in callback {type(callback).__name__}.{hook}"
    if note not in getattr(exc, "__notes__", ()):
        exc.add_note(note)


class CallbackList:
    """Calls a hook on every callback.

    An exception a user's callback raises propagates as itself (a note names the callback
    and hook); an ``OSError`` from one of tunesmith's own loggers becomes a ``StorageError``.
    """

    def __init__(self, callbacks: list[Callback]) -> None:
        for callback in callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(
                    f"callbacks must be tunesmith.Callback instances, got {type(callback).__name__}"
                )
        self.callbacks = list(callbacks)

    def call(self, hook: str, **kwargs: Any) -> None:
        for callback in self.callbacks:
            try:
                getattr(callback, hook)(**kwargs)
            except OSError as exc:
                if not type(callback).__module__.startswith("tunesmith."):
                    _name_in_note(exc, callback, hook)
                    raise
                raise StorageError(  # one of tunesmith's own loggers
                    f"{type(callback).__name__} cannot write: {exc}. The experiment stopped; "
                    "what was recorded so far can be restored with Tuner.restore"
                ) from exc
            except Exception as exc:
                # The user's own exception, as in Ray Tune; the experiment state is saved on the
                # way out (Tuner.restore resumes it).
                _name_in_note(exc, callback, hook)
                raise

    def __iter__(self):
        return iter(self.callbacks)
