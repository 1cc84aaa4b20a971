"""``ray.tune.utils.mock_trainable``: a small ``Trainable`` for examples and tests.

``MyTrainableClass`` needs no library: each step reports ``episode_reward_mean``, which
rises from 0 towards ``config["height"]`` (default 1) along ``tanh(step / config["width"])``
(width default 1). Its state (the step count) is checkpointed, so it pauses, resumes and is
exploited by PBT like a real model.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

from tunesmith.trainable._registry import register_trainable
from tunesmith.trainable._trainable import Trainable

__all__ = ["MOCK_ERROR_KEY", "MOCK_TRAINABLE_NAME", "MyTrainableClass", "register_mock_trainable"]

MOCK_TRAINABLE_NAME = "mock_trainable"
MOCK_ERROR_KEY = "mock_error"  # a config key: when true, the trial raises at its second step
_STATE_FILE = "mock_state.json"


class MyTrainableClass(Trainable):
    """A trainable whose reward follows ``height * tanh(step / width)``."""

    def setup(self, config: dict[str, Any]) -> None:
        self.timestep = 0

    def step(self) -> dict[str, Any]:
        self.timestep += 1
        if self.timestep > 1 and self.config.get(MOCK_ERROR_KEY):
            raise RuntimeError(f"{MOCK_ERROR_KEY} is set in the config")
        width = self.config.get("width", 1)
        height = self.config.get("height", 1)
        return {"episode_reward_mean": height * math.tanh(self.timestep / width), "timesteps_this_iter": 1}

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        with open(os.path.join(checkpoint_dir, _STATE_FILE), "w", encoding="utf-8") as f:
            json.dump({"timestep": self.timestep}, f)

    def load_checkpoint(self, checkpoint: Any) -> None:
        with open(os.path.join(checkpoint, _STATE_FILE), encoding="utf-8") as f:
            self.timestep = json.load(f)["timestep"]


def register_mock_trainable() -> None:
    """Register :class:`MyTrainableClass` as ``"mock_trainable"``."""
    register_trainable(MOCK_TRAINABLE_NAME, MyTrainableClass)
