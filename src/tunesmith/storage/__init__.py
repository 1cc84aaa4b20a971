"""What is remembered: experiment and trial folders, the journal, checkpoints."""

from tunesmith.storage._storage import JOURNAL_FILE, ExperimentStorage

__all__ = ["ExperimentStorage", "JOURNAL_FILE"]
