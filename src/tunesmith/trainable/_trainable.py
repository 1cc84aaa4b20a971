"""The class API: subclass ``Trainable`` and implement ``setup`` and ``step``."""

from __future__ import annotations

import copy
import os
import pickle
import tempfile
from typing import Any

from tunesmith.trainable import _session

__all__ = ["Trainable"]

_DICT_CHECKPOINT_FILE = "_dict_checkpoint.pkl"


class Trainable:
    """Base class for class-based trainables, as in Ray Tune.

    Override :meth:`setup` (once per trial), :meth:`step` (one iteration, returns a dict of
    metrics), and optionally :meth:`save_checkpoint`, :meth:`load_checkpoint`,
    :meth:`reset_config` and :meth:`cleanup`.

    Example:
        >>> class Quadratic(Trainable):
        ...     def setup(self, config):
        ...         self.x = config["x"]
        ...     def step(self):
        ...         self.x *= 0.5
        ...         return {"loss": self.x ** 2}
        >>> Quadratic({"x": 2.0}).train()["loss"]
        1.0
    """

    _name: str | None = None

    def __init__(self, config: dict[str, Any] | None = None, **setup_kwargs: Any) -> None:
        self.config = config if config is not None else {}
        self._iteration = 0
        self._time_total = 0.0
        self.setup(copy.deepcopy(self.config), **setup_kwargs)

    # -- methods users override ------------------------------------------------------
    def setup(self, config: dict[str, Any]) -> None:
        """Initialise the trial (called once, with a copy of the config)."""

    def step(self) -> dict[str, Any]:
        """Run one training iteration and return its metrics."""
        raise TypeError(f"{type(self).__name__} must implement step() and return a dict of metrics")

    def save_checkpoint(self, checkpoint_dir: str) -> dict[str, Any] | None:
        """Write state into ``checkpoint_dir`` and return None, or return a dict to be pickled."""
        return None

    def load_checkpoint(self, checkpoint: dict[str, Any] | str) -> None:
        """Restore from the dict :meth:`save_checkpoint` returned, or from its folder."""

    def reset_config(self, new_config: dict[str, Any]) -> bool:
        """Switch to ``new_config`` in place; return True if supported (needed for actor reuse)."""
        return False

    def cleanup(self) -> None:
        """Release resources when the trial ends."""

    def log_result(self, result: dict[str, Any]) -> None:
        """Called in the trial process with every result."""

    @classmethod
    def default_resource_request(cls, config: dict[str, Any]) -> Any:
        """The trial's resource request; None means the default (1 CPU)."""
        return None

    @classmethod
    def resource_help(cls, config: dict[str, Any]) -> str:
        return ""

    # -- framework methods -----------------------------------------------------------
    def train(self) -> dict[str, Any]:
        """Run :meth:`step` once and return its result, with ``training_iteration`` filled in."""
        result = self.step()
        if not isinstance(result, dict):
            raise TypeError(f"{type(self).__name__}.step() must return a dict of metrics, got {type(result).__name__}")
        self._iteration += 1
        result = dict(result)
        result.setdefault("training_iteration", self._iteration)
        self.log_result(result)
        return result

    def save(self, checkpoint_dir: str | None = None) -> str:
        """Save a checkpoint into ``checkpoint_dir`` (a new temporary folder by default)."""
        checkpoint_dir = checkpoint_dir or tempfile.mkdtemp(prefix="trainable_checkpoint_")
        os.makedirs(checkpoint_dir, exist_ok=True)
        state = self.save_checkpoint(checkpoint_dir)
        if isinstance(state, dict):
            with open(os.path.join(checkpoint_dir, _DICT_CHECKPOINT_FILE), "wb") as f:
                pickle.dump(state, f)
        elif state is not None and not isinstance(state, str):
            raise TypeError(
                f"{type(self).__name__}.save_checkpoint() must return None or a dict, got {type(state).__name__}"
            )
        return checkpoint_dir

    def restore(self, checkpoint: Any) -> None:
        """Load a checkpoint folder, :class:`tunesmith.Checkpoint`, or checkpoint path."""
        from tunesmith._checkpoint import Checkpoint

        if not isinstance(checkpoint, Checkpoint):
            checkpoint = Checkpoint(checkpoint)
        with checkpoint.as_directory() as folder:
            dict_file = os.path.join(folder, _DICT_CHECKPOINT_FILE)
            if os.path.exists(dict_file):
                with open(dict_file, "rb") as f:
                    self.load_checkpoint(pickle.load(f))
            else:
                self.load_checkpoint(folder)

    def reset(self, new_config: dict[str, Any]) -> bool:
        ok = self.reset_config(new_config)
        if ok:
            self.config = new_config
            self._iteration = 0
        return ok

    def stop(self) -> None:
        self.cleanup()

    def get_config(self) -> dict[str, Any]:
        return self.config

    @property
    def iteration(self) -> int:
        return self._iteration

    training_iteration = iteration

    @property
    def trial_id(self) -> str:
        return _session.get_context().get_trial_id() or "default"

    @property
    def trial_name(self) -> str:
        return _session.get_context().get_trial_name() or "default"

    @property
    def logdir(self) -> str | None:
        return _session.get_context().get_trial_dir()

    @property
    def trial_resources(self) -> Any:
        return _session.get_context().get_trial_resources()
