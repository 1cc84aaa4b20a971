"""What is remembered: experiment and trial folders, the journal, checkpoints."""

from tunesmith.storage._experiment import (
    OpenedExperiment,
    RebuiltTrial,
    last_results,
    last_values,
    open_experiment,
    rebuild_trial,
)
from tunesmith.storage._journal import (
    JOURNAL_VERSION,
    Event,
    ExperimentRecord,
    Journal,
    JournalVersionError,
    TrialRecord,
    read_journal,
    replay,
)
from tunesmith.storage._last_results import LastResults
from tunesmith.storage._lock import DriverLock, ExperimentLockedError
from tunesmith.storage._storage import JOURNAL_FILE, ExperimentStorage, unique_name
from tunesmith.storage._trial_files import TrialFiles, checkpoint_exists

__all__ = [
    "DriverLock",
    "Event",
    "ExperimentLockedError",
    "ExperimentRecord",
    "ExperimentStorage",
    "JOURNAL_FILE",
    "JOURNAL_VERSION",
    "Journal",
    "JournalVersionError",
    "LastResults",
    "OpenedExperiment",
    "RebuiltTrial",
    "TrialFiles",
    "TrialRecord",
    "checkpoint_exists",
    "last_results",
    "last_values",
    "open_experiment",
    "read_journal",
    "rebuild_trial",
    "replay",
    "unique_name",
]
