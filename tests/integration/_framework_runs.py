"""What the framework callback tests share: the boosting tests' two experiments, and
checks of a trial stopped after two rounds or epochs."""

from __future__ import annotations

import os
from typing import Any, Callable

import tunesmith as tune


def grid_and_stopped(fit: Callable[..., Any], storage: str) -> dict[str, Any]:
    """Run the two experiments, back to back (the second reuses the warm worker processes).

    ``fit(storage, name, param_space, **run_config)`` runs one. "grid": 3 rounds with the
    "default" and the "renamed" callback; "stopped": 50 rounds with a checkpoint every round,
    stopped after 2. Returns the results by callback name, and the stopped experiment's grid.
    """
    grid = fit(storage, "grid", {"rounds": 3, "callback": tune.grid_search(["default", "renamed"])})
    stopped = fit(storage, "stopped", {"rounds": 50, "callback": "every_round"}, stop={"training_iteration": 2})
    return {**{r.config["callback"]: r for r in grid}, "stopped": stopped}


def checkpoints(result: Any) -> list[str]:
    """The checkpoint folders a trial kept, in order."""
    return sorted(name for name in os.listdir(result.path) if name.startswith("checkpoint_"))


def assert_stopped_after_two(stopped: Any, finished_marker: str) -> None:
    """The one trial of ``stopped`` (stop at ``training_iteration`` 2) reported two rounds and
    ended there: the framework's loop was unwound, so the trainable never wrote ``finished_marker``."""
    result = stopped[0]
    assert result.error is None and stopped.num_terminated == 1
    assert list(result.metrics_dataframe["training_iteration"]) == [1, 2]
    assert not os.path.exists(os.path.join(result.path, finished_marker))
