"""The keys tunesmith fills into every reported result, defined once.

A trial's session adds :data:`SESSION_FILLED` to each result it reports, in Ray Tune's
column order (``tunesmith.trainable._session``); the driver adds ``config``, and the
results a user reads carry ``experiment_tag``; ``should_checkpoint`` is the key a callback
sets to ask for a checkpoint. None of them is a metric the user reported:
:data:`AUTO_FILLED` is what the controller leaves out when it lists the reported metrics
and what ``Result``'s repr hides.
"""

from __future__ import annotations

__all__ = ["AUTO_FILLED", "SESSION_FILLED"]

SESSION_FILLED = (
    "timestamp", "checkpoint_dir_name", "done", "training_iteration", "trial_id", "date", "time_this_iter_s",
    "time_total_s", "pid", "hostname", "node_ip", "time_since_restore", "iterations_since_restore",
)
AUTO_FILLED = frozenset(SESSION_FILLED + ("config", "experiment_tag", "should_checkpoint"))
