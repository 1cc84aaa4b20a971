"""Replaying the config schedule one PBT trial followed (``PopulationBasedTrainingReplay``)."""

from __future__ import annotations

import copy
import json
import os
from typing import TYPE_CHECKING, Any, Sequence

from tunesmith.schedulers._pbt_explore import perturbed_tag
from tunesmith.schedulers._trial_scheduler import Decision, FIFOScheduler

if TYPE_CHECKING:
    from tunesmith.experiment._trial import Trial

__all__ = ["PopulationBasedTrainingReplay", "pbt_policy_schedule"]


def pbt_policy_schedule(lines: Sequence[Sequence[Any]]) -> tuple[dict[str, Any], list[tuple[int, dict[str, Any]]]]:
    """Read a ``pbt_policy_<trial_id>.txt`` (as parsed JSON lines) into a config schedule.

    Each line is ``[trial_tag, donor_tag, trial_iteration, donor_iteration, donor_config,
    new_config]``. Walking back from the last line while each line's trial is the next
    line's donor gives the lineage of the last trial: it starts with the root's config and
    switches to ``new_config`` at ``donor_iteration`` (where the checkpoint was taken).

    Returns:
        ``(initial_config, [(iteration, config), ...])`` with iterations ascending.

    Raises:
        ValueError: ``lines`` is empty.

    Example:
        >>> pbt_policy_schedule([["b", "a", 5, 4, {"x": 1}, {"x": 2}], ["c", "b", 9, 8, {"x": 2}, {"x": 3}]])
        ({'x': 1}, [(4, {'x': 2}), (8, {'x': 3})])
    """
    if not lines:
        raise ValueError("pbt_policy_schedule: the policy must have at least one line, got none.")
    changes = []
    expected_tag = None
    initial: dict[str, Any] = {}
    for trial_tag, donor_tag, _, donor_iteration, donor_config, new_config in reversed(lines):
        if expected_tag is not None and trial_tag != expected_tag:
            break
        changes.append((donor_iteration, new_config))
        initial = donor_config
        expected_tag = donor_tag
    return initial, changes[::-1]


class PopulationBasedTrainingReplay(FIFOScheduler):
    """Replay the config schedule one PBT trial followed, on a single new trial.

    The trial starts with the lineage's first config and, whenever it reaches an iteration
    where its ancestor was exploited, is paused and restarted from its own checkpoint with
    the next config. Train it with ``num_samples=1``.

    Args:
        policy_file: A ``pbt_policy_<trial_id>.txt`` written by
            :class:`PopulationBasedTraining`.

    Raises:
        ValueError: The file does not exist or holds no policy; at :meth:`on_trial_add`,
            a second trial.

    Example:
        >>> import json, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "pbt_policy_x.txt")
        >>> with open(path, "w") as f:
        ...     print(json.dumps(["1", "0", 4, 4, {"lr": 0.1}, {"lr": 0.12}]), file=f)
        >>> PopulationBasedTrainingReplay(path).debug_string()
        'PopulationBasedTraining replay: 1 config changes, next at iteration 4'
    """

    def __init__(self, policy_file: str) -> None:
        path = os.path.expanduser(policy_file)
        if not os.path.isfile(path):
            raise ValueError(
                f"PopulationBasedTrainingReplay: policy_file must be an existing "
                f"pbt_policy_<trial_id>.txt file, got {policy_file!r}."
            )
        with open(path, encoding="utf-8") as f:
            lines = [json.loads(line) for line in f if line.strip()]
        if not lines:
            raise ValueError(f"PopulationBasedTrainingReplay: policy_file must hold at least one policy line; {policy_file!r} is empty.")
        self._initial_config, self._changes = pbt_policy_schedule(lines)
        self._next = 0
        self._trial_id: str | None = None
        self._orig_tag = ""

    def on_trial_add(self, trial: Trial) -> None:
        if self._trial_id is not None and self._trial_id != trial.trial_id:
            raise ValueError(
                "PopulationBasedTrainingReplay replays the schedule of one trial; a second trial "
                f"({trial.trial_id}) was added after {self._trial_id}. Set num_samples=1."
            )
        if self._trial_id is None:
            self._trial_id = trial.trial_id
            self._orig_tag = trial.experiment_tag
            trial.config = copy.deepcopy(self._initial_config)

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        iteration = result.get("training_iteration")
        if iteration is None:
            return Decision.CONTINUE
        due = 0
        while self._next + due < len(self._changes) and self._changes[self._next + due][0] <= iteration:
            due += 1
        if not due:
            return Decision.CONTINUE
        self._next += due
        new_config = copy.deepcopy(self._changes[self._next - 1][1])
        trial.config = new_config
        trial.experiment_tag = perturbed_tag(self._orig_tag, new_config, new_config)
        return Decision.PAUSE

    def debug_string(self) -> str:
        upcoming = self._changes[self._next][0] if self._next < len(self._changes) else None
        return f"PopulationBasedTraining replay: {len(self._changes) - self._next} config changes, next at iteration {upcoming}"

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "w", encoding="utf-8") as f:
            json.dump({"next": self._next, "trial_id": self._trial_id, "orig_tag": self._orig_tag}, f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, encoding="utf-8") as f:
            state = json.load(f)
        self._next, self._trial_id, self._orig_tag = state["next"], state["trial_id"], state["orig_tag"]
