"""What the terminal shows while an experiment runs: the status table, errors, a summary.

The controller talks to :class:`Progress` only. It picks the reporter (the user's from
``RunConfig(progress_reporter=...)``, else a live table on a terminal, HTML in a notebook,
plain status lines otherwise), prints per-trial lines at higher verbosity, shows failed
trials compactly, and prints the final summary.
"""

from __future__ import annotations

import logging
import math
import os
import re
import sysconfig
import time
from typing import Any, TextIO

from tunesmith._flatten import lookup
from tunesmith._reporter import (
    CLIReporter,
    JupyterNotebookReporter,
    ProgressReporter,
    _format,
    _in_notebook,
    _scanned,
    _Screen,
    _status_counts,
    _StatusLineReporter,
)
from tunesmith.experiment._trial import Trial

__all__ = ["Progress", "summarize_traceback"]

logger = logging.getLogger("tunesmith")

_TTY_PERIOD_S = 0.5
_RELAY_PERIOD_S = 0.1
_NOTEBOOK_PERIOD_S = 1.0
_PLAIN_PERIOD_S = 30.0
_MAX_SUMMARY_ERRORS = 20
_HIDDEN_RESULT_KEYS = ("config", "date", "hostname", "node_ip", "pid", "timestamp")
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<function>.+)$')
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_LIBRARY_DIRS = tuple({os.path.abspath(p) + os.sep for k, p in sysconfig.get_paths().items()
                       if k in ("stdlib", "platstdlib", "purelib", "platlib")})


def summarize_traceback(traceback_text: str) -> tuple[str, str, str]:
    """``(exception line, "file:line in function", source line)`` of a formatted traceback.

    The location is the last frame in the user's own code (not tunesmith, the standard
    library or installed packages), else the last frame; empty strings when unknown.

    Example:
        >>> text = ('Traceback (most recent call last):\\n  File "/tmp/t.py", line 3, in f\\n'
        ...         '    raise ValueError("bad")\\nValueError: bad\\n')
        >>> summarize_traceback(text)
        ('ValueError: bad', '/tmp/t.py:3 in f', 'raise ValueError("bad")')
    """
    lines = traceback_text.rstrip().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
    section = lines[starts[-1] + 1:] if starts else lines
    frames: list[tuple[str, str, str, str]] = []
    exception = ""
    for i, line in enumerate(section):
        match = _FRAME.match(line)
        if match:
            following = section[i + 1] if i + 1 < len(section) else ""
            source = following.strip() if following.startswith("    ") and not _FRAME.match(following) else ""
            frames.append((match["file"], match["line"], match["function"], source))
        elif line and not line.startswith(" "):
            exception = line
            break
    if not exception:
        exception = next((line for line in reversed(lines) if line and not line.startswith(" ")), "")
    frame = next((f for f in reversed(frames) if _is_user_file(f[0])), frames[-1] if frames else None)
    if frame is None:
        return exception, "", ""
    return exception, f"{frame[0]}:{frame[1]} in {frame[2]}", frame[3]


def _is_user_file(path: str) -> bool:
    if path.startswith("<"):
        return False
    full = os.path.abspath(path)
    return not full.startswith(_PACKAGE_DIR) and not full.startswith(_LIBRARY_DIRS)


def _error_lines(trial: Trial, traceback_text: str) -> list[str]:
    exception, where, source = summarize_traceback(traceback_text)
    if not exception and trial.error is not None:
        exception = f"{type(trial.error).__name__}: {trial.error}"
    lines = [f"Trial {trial} errored: {exception or 'unknown error'}"]
    if where:
        lines.append(f"  at {where}")
    if source:
        lines.append(f"    {source}")
    if trial.path:
        lines.append(f"  full traceback: {os.path.join(trial.path, 'error.txt')}")
    return lines


class Progress:
    """Prints an experiment's progress at the given verbosity.

    ``verbose`` 0 prints nothing (failed trials go to the ``tunesmith`` logger as
    warnings); 1 shows the status table (redrawn in place on a terminal, HTML in a
    notebook, a status line every 30 s otherwise) and a final summary; 2 adds a line per
    finished trial; 3 adds a line per result.

    Args:
        verbose: 0 to 3.
        metric: The experiment's metric (for the best trial), if a single one.
        mode: ``"min"`` or ``"max"``.
        stream: Where to write (default: ``sys.stdout`` at the time of writing).
        reporter: A :class:`ProgressReporter` to use instead of the default one.
        total_samples: How many trials the search will create, if known.

    Raises:
        TypeError: ``reporter`` is not a ``ProgressReporter``.
        ValueError: ``reporter`` has a metric or mode other than the experiment's.
    """

    def __init__(self, verbose: int, *, metric: Any = None, mode: Any = None, stream: TextIO | None = None,
                 reporter: ProgressReporter | None = None, total_samples: int | None = None) -> None:
        if reporter is not None and not isinstance(reporter, ProgressReporter):
            raise TypeError(
                "progress_reporter must be a tunesmith ProgressReporter (CLIReporter, JupyterNotebookReporter "
                f"or a subclass), got {type(reporter).__name__}"
            )
        self.verbose = verbose
        self.metric = metric if isinstance(metric, str) else None
        self.mode = mode if isinstance(mode, str) else None
        self._screen = _Screen(stream)
        self.stream = self._screen.stream
        self.tty = self._screen.is_tty()
        self.reporter, self._period = self._choose_reporter(reporter, stream)
        self.reporter.setup(start_time=time.time(), total_samples=total_samples, metric=self.metric, mode=self.mode)
        self._start = time.monotonic()
        self._next = self._start + self._period
        self._errors: list[list[str]] = []
        self._reporter_failed = False
        self.experiment_path = ""
        self._relay: Any = None
        self._next_relay = 0.0

    def relay_output(self, log_to_file: Any) -> Any:
        """The ``log_to_file`` setting for trials: theirs if set; otherwise, on a terminal,
        one that relays trial output here (printed above the live table, prefixed)."""
        if log_to_file is not None or not self.tty or self.verbose < 1:
            return log_to_file
        from tunesmith.execution._capture import OutputRelay

        self._relay = OutputRelay()
        return self._relay.files

    def _print_trial_output(self, trials: list[Trial], final: bool = False) -> None:
        if self._relay is None:
            return
        now = time.monotonic()
        if not final and now < self._next_relay:
            return
        self._next_relay = now + _RELAY_PERIOD_S
        names = {os.path.basename(t.path.rstrip("/")): str(t) for t in trials if t.path}
        lines = self._relay.read(names, final=final)
        if lines:
            self._screen.print("\n".join(lines))

    def _choose_reporter(self, reporter: ProgressReporter | None, stream: TextIO | None) -> tuple[Any, float]:
        if reporter is not None:
            if isinstance(reporter, CLIReporter):
                reporter._attach(self._screen)
            return reporter, 0.0
        if self.tty:
            default = CLIReporter(max_report_frequency=0, sort_by_metric=False)
            default._attach(self._screen)
            return default, _TTY_PERIOD_S
        if stream is None and _in_notebook():
            return JupyterNotebookReporter(max_report_frequency=0), _NOTEBOOK_PERIOD_S
        return _StatusLineReporter(self._screen, max_report_frequency=0), _PLAIN_PERIOD_S

    def begin(self, experiment_path: str) -> None:
        self.experiment_path = experiment_path
        self._start = time.monotonic()

    def warn(self, message: str) -> None:
        self._screen.end_live()
        logger.warning(message)

    def trial_error(self, trial: Trial, traceback_text: str) -> None:
        lines = _error_lines(trial, traceback_text)
        self._errors.append(lines)
        if self.verbose < 1:
            logger.warning("\n".join(lines))
        else:
            self._screen.print("\n".join(lines), err=True)

    def trial_result(self, trial: Trial, result: dict) -> None:
        if self.verbose >= 3:
            shown = {k: result[k] for k in result if k not in _HIDDEN_RESULT_KEYS}
            self._screen.print(f"{trial} result: {shown}")

    def trial_complete(self, trial: Trial) -> None:
        if self.verbose >= 2:
            line = f"{trial} {trial.status.value} after {trial.last_result.get('training_iteration', 0)} iterations"
            if self.metric and lookup(trial.last_result, self.metric) is not None:
                line += f" with {self.metric}={_format(lookup(trial.last_result, self.metric), 40)}"
            self._screen.print(line)

    def update(self, trials: list[Trial]) -> None:
        if self.verbose < 1:
            return
        self._print_trial_output(trials)
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self._period
        self._report(trials, done=False)

    def finish(self, trials: list[Trial], *, interrupted: bool = False) -> None:
        self._print_trial_output(trials, final=True)
        if self._relay is not None:
            self._relay.close()
        if self.verbose < 1:
            self._screen.end_live()
            return
        self._report(trials, done=True)
        self._screen.end_live()
        self._screen.print("\n".join(self._summary(trials, interrupted)))

    # -- helpers -----------------------------------------------------------------------------
    def _report(self, trials: list[Trial], done: bool) -> None:
        if self._reporter_failed:
            return
        try:
            if self.reporter.should_report(trials, done=done):
                self.reporter.report(trials, done, *self._sys_info(trials))
        except Exception:  # a broken reporter must not end the experiment
            self._reporter_failed = True
            logger.warning("the progress reporter %s failed; progress is no longer shown",
                           type(self.reporter).__name__, exc_info=True)

    def _sys_info(self, trials: list[Trial]) -> list[str]:
        running = [t for t in trials if t.status.value == "RUNNING"]
        cpus = sum(float(t.resources.get("cpu", 0)) for t in running)
        gpus = sum(float(t.resources.get("gpu", 0)) for t in running)
        lines = [f"Resources requested: {cpus:g} CPUs, {gpus:g} GPUs"]
        if self.experiment_path:
            lines.append(f"Result logdir: {self.experiment_path}")
        return lines

    def _summary(self, trials: list[Trial], interrupted: bool) -> list[str]:
        elapsed = time.monotonic() - self._start
        lines = [f"Finished: {len(trials)} trials ({_status_counts(trials)}) in {elapsed:.1f} s"]
        best = self._best(trials)
        if best is not None:
            value = lookup(best.last_result, self.metric)
            lines.append(f"Best trial: {best} with {self.metric}={_format(value, 40)}, "
                         f"config {best.evaluated_params or best.config}")
        lines += self._error_summary()
        lines.append(f"Results: {self.experiment_path}")
        if interrupted:
            lines.append(f"Interrupted. Resume with: Tuner.restore({self.experiment_path!r}, trainable=...)")
        return lines

    def _error_summary(self) -> list[str]:
        if not self._errors:
            return []
        lines = [f"{len(self._errors)} trial{'s' if len(self._errors) > 1 else ''} errored:"]
        for block in self._errors[:_MAX_SUMMARY_ERRORS]:
            lines += ["  " + line for line in block]
        hidden = len(self._errors) - _MAX_SUMMARY_ERRORS
        if hidden > 0:
            lines.append(f"  ... and {hidden} more (see ResultGrid.errors)")
        return lines

    def _best(self, trials: list[Trial]) -> Trial | None:
        if not self.metric or self.mode not in ("min", "max"):
            return None
        scored = [t for t in trials if _finite(lookup(_scanned(t), self.metric))]
        if not scored:
            return None
        pick = max if self.mode == "max" else min
        return pick(scored, key=lambda t: lookup(_scanned(t), self.metric))


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
