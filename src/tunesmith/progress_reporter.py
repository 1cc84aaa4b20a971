"""Progress reporters, at Ray Tune's ``ray.tune.progress_reporter`` path.

Pass one as ``RunConfig(progress_reporter=...)``; tunesmith always uses it (Ray Tune's
default output engine ignores it).
"""

from tunesmith._reporter import CLIReporter, JupyterNotebookReporter, ProgressReporter, TuneReporterBase

__all__ = ["CLIReporter", "JupyterNotebookReporter", "ProgressReporter", "TuneReporterBase"]
