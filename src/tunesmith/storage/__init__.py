"""What is remembered: experiment and trial folders, the journal, checkpoints."""

from tunesmith.storage._journal import ExperimentRecord, TrialRecord, read_journal, replay
from tunesmith.storage._storage import JOURNAL_FILE, ExperimentStorage, truncate_trial_logs

__all__ = [
    "ExperimentRecord",
    "ExperimentStorage",
    "JOURNAL_FILE",
    "TrialRecord",
    "read_journal",
    "replay",
    "truncate_trial_logs",
]
