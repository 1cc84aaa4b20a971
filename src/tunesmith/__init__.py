"""tunesmith: experiments and hyperparameter tuning, with Ray Tune's API and no Ray.

A Ray Tune program switches by changing its import::

    import tunesmith as tune
"""

from typing import TYPE_CHECKING

from tunesmith._imports import lazy_exports

if TYPE_CHECKING:
    from tunesmith._analysis import ExperimentAnalysis
    from tunesmith._checkpoint import Checkpoint
    from tunesmith._config import CheckpointConfig, FailureConfig, RunConfig, SyncConfig, TuneConfig
    from tunesmith._init import available_resources, cluster_resources, get_gpu_ids, init, is_initialized, shutdown
    from tunesmith._legacy import run, run_experiments
    from tunesmith.experiment._experiment import Experiment
    from tunesmith._result import Result, ResultGrid
    from tunesmith.callback import Callback
    from tunesmith.error import TuneError
    from tunesmith.progress_reporter import CLIReporter, JupyterNotebookReporter, ProgressReporter
    from tunesmith.schedulers import create_scheduler
    from tunesmith.search import BasicVariantGenerator, SearchAlgorithm, Searcher, create_searcher
    from tunesmith.search.sample import (
        choice,
        grid_search,
        lograndint,
        loguniform,
        qlograndint,
        qloguniform,
        qrandint,
        qrandn,
        quniform,
        randint,
        randn,
        sample_from,
        uniform,
    )
    from tunesmith.stopper import Stopper
    from tunesmith.trainable import (
        PlacementGroupFactory,
        Trainable,
        TuneContext,
        get_checkpoint,
        get_context,
        register_env,
        register_trainable,
        report,
        with_parameters,
        with_resources,
    )
    from tunesmith.tuner import Tuner

__version__ = "0.1.0"

# Names load on first use, so ``import tunesmith`` stays cheap (trial processes import it too).
_EXPORTS = {
    "available_resources": "tunesmith._init",
    "cluster_resources": "tunesmith._init",
    "get_gpu_ids": "tunesmith._init",
    "BasicVariantGenerator": "tunesmith.search",
    "Callback": "tunesmith.callback",
    "Checkpoint": "tunesmith._checkpoint",
    "CheckpointConfig": "tunesmith._config",
    "choice": "tunesmith.search.sample",
    "CLIReporter": "tunesmith.progress_reporter",
    "create_scheduler": "tunesmith.schedulers",
    "create_searcher": "tunesmith.search",
    "Experiment": "tunesmith.experiment._experiment",
    "ExperimentAnalysis": "tunesmith._analysis",
    "FailureConfig": "tunesmith._config",
    "get_checkpoint": "tunesmith.trainable",
    "get_context": "tunesmith.trainable",
    "grid_search": "tunesmith.search.sample",
    "init": "tunesmith._init",
    "is_initialized": "tunesmith._init",
    "JupyterNotebookReporter": "tunesmith.progress_reporter",
    "lograndint": "tunesmith.search.sample",
    "loguniform": "tunesmith.search.sample",
    "PlacementGroupFactory": "tunesmith.trainable",
    "ProgressReporter": "tunesmith.progress_reporter",
    "qlograndint": "tunesmith.search.sample",
    "qloguniform": "tunesmith.search.sample",
    "qrandint": "tunesmith.search.sample",
    "qrandn": "tunesmith.search.sample",
    "quniform": "tunesmith.search.sample",
    "randint": "tunesmith.search.sample",
    "randn": "tunesmith.search.sample",
    "register_env": "tunesmith.trainable",
    "register_trainable": "tunesmith.trainable",
    "report": "tunesmith.trainable",
    "Result": "tunesmith._result",
    "ResultGrid": "tunesmith._result",
    "run": "tunesmith._legacy",
    "run_experiments": "tunesmith._legacy",
    "RunConfig": "tunesmith._config",
    "sample_from": "tunesmith.search.sample",
    "SearchAlgorithm": "tunesmith.search",
    "Searcher": "tunesmith.search",
    "shutdown": "tunesmith._init",
    "Stopper": "tunesmith.stopper",
    "SyncConfig": "tunesmith._config",
    "Trainable": "tunesmith.trainable",
    "TuneConfig": "tunesmith._config",
    "TuneContext": "tunesmith.trainable",
    "TuneError": "tunesmith.error",
    "Tuner": "tunesmith.tuner",
    "uniform": "tunesmith.search.sample",
    "with_parameters": "tunesmith.trainable",
    "with_resources": "tunesmith.trainable",
}


# Subpackages reachable as attributes, as in Ray Tune (``tune.schedulers.ASHAScheduler``).
_SUBMODULES = frozenset((
    "analysis", "callback", "context", "error", "execution", "experiment", "integration", "logger",
    "progress_reporter", "registry", "result", "result_grid", "schedulers", "search", "stopper", "storage", "syncer",
    "trainable", "tune", "tune_config", "utils",
))


__getattr__, __dir__ = lazy_exports("tunesmith", globals(), _EXPORTS, _SUBMODULES)


__all__ = [
    "BasicVariantGenerator",
    "CLIReporter",
    "Callback",
    "Checkpoint",
    "CheckpointConfig",
    "Experiment",
    "ExperimentAnalysis",
    "FailureConfig",
    "JupyterNotebookReporter",
    "PlacementGroupFactory",
    "ProgressReporter",
    "Result",
    "ResultGrid",
    "RunConfig",
    "SearchAlgorithm",
    "Searcher",
    "Stopper",
    "SyncConfig",
    "Trainable",
    "TuneConfig",
    "TuneContext",
    "TuneError",
    "Tuner",
    "available_resources",
    "choice",
    "cluster_resources",
    "create_scheduler",
    "create_searcher",
    "get_checkpoint",
    "get_context",
    "get_gpu_ids",
    "grid_search",
    "init",
    "is_initialized",
    "lograndint",
    "loguniform",
    "qlograndint",
    "qloguniform",
    "qrandint",
    "qrandn",
    "quniform",
    "randint",
    "randn",
    "register_env",
    "register_trainable",
    "report",
    "run",
    "run_experiments",
    "sample_from",
    "shutdown",
    "uniform",
    "with_parameters",
    "with_resources",
]
