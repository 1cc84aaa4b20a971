"""Progress reporters, with Ray Tune's names and arguments: when and how the status table shows.

``ProgressReporter`` is the interface (``should_report`` and ``report``). ``CLIReporter``
prints a table, redrawn in place on a terminal; ``JupyterNotebookReporter`` shows it as
HTML that updates in one notebook output. Both share the table logic of
``TuneReporterBase``: which rows and columns, in what order, abbreviated how.
"""

from __future__ import annotations

import abc
import collections
import datetime
import html
import logging
import math
import numbers
import shutil
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from tunesmith._flatten import lookup
from tunesmith._result_keys import AUTO_FILLED
from tunesmith.experiment._trial import FinishedTrial, Trial

__all__ = ["CLIReporter", "JupyterNotebookReporter", "ProgressReporter", "TuneReporterBase"]

logger = logging.getLogger("tunesmith")

# Fields every result has, and Ray Tune's other automatic ones: never guessed as the user's metrics.
_AUTO_RESULT_KEYS = AUTO_FILLED | {"experiment_id", "timesteps_since_restore", "warmup_time"}
_STATUS_ORDER = ("RUNNING", "PAUSED", "PENDING", "ERROR", "TERMINATED")


def _status_counts(trials: list[Trial]) -> str:
    counts = collections.Counter(t.status.value for t in trials)
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no trials"


def _scanned(trial: Trial) -> dict[str, Any]:
    """A trial's last result, for a scan over every trial: a finished trial's summary (its
    metric), which does not read its folder, as its full result would (see ``FinishedTrial``)."""
    return trial.summary if isinstance(trial, FinishedTrial) else trial.last_result


def _abbreviate(text: str, max_len: int) -> str:
    return text if len(text) <= max_len else text[: max(1, max_len - 3)] + "..."


def _format(value: Any, max_len: int) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return _abbreviate(str(value), max_len)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _columns_dict(columns: list[str] | dict[str, str] | None, what: str) -> dict[str, str] | None:
    if columns is None:
        return None
    if isinstance(columns, dict):
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in columns.items()):
            raise TypeError(f"{what} must map result keys to column names (str to str), got {columns!r}")
        return dict(columns)
    if isinstance(columns, (list, tuple)) and all(isinstance(c, str) for c in columns):
        return {c: c for c in columns}
    raise TypeError(f"{what} must be a list of keys or a dict of key -> column name, got {type(columns).__name__}")


def _check_count(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


@dataclass
class _Table:
    columns: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    note: str = ""


@dataclass
class _View:
    """What one report shows, before it is rendered as text or HTML."""

    header: list[str]
    trials: _Table | None = None
    errors: _Table | None = None
    error_title: str = ""
    footer: list[str] = field(default_factory=list)


class ProgressReporter(abc.ABC):
    """Decides when and how an experiment's progress is shown.

    Subclass it and implement :meth:`should_report` and :meth:`report` (a subclass
    without them cannot be instantiated), then pass an instance as
    ``RunConfig(progress_reporter=...)``. Unlike Ray Tune's default output engine,
    tunesmith always uses the reporter you pass.

    Example:
        >>> class EveryStep(ProgressReporter):
        ...     def should_report(self, trials, done=False):
        ...         return True
        ...     def report(self, trials, done, *sys_info):
        ...         print(len(trials), "trials", "(done)" if done else "")
    """

    def setup(self, start_time: float | None = None, total_samples: int | None = None,
              metric: str | None = None, mode: str | None = None, **kwargs: Any) -> None:
        """Called once before the experiment starts.

        Raises:
            ValueError: :meth:`set_search_properties` refused the experiment's metric and mode.
        """
        self.set_start_time(start_time)
        self.set_total_samples(total_samples)
        if not self.set_search_properties(metric=metric, mode=mode):
            raise ValueError(
                f"the progress reporter {type(self).__name__} refused the experiment's metric={metric!r}, "
                f"mode={mode!r}; set them in TuneConfig or in the reporter, not both"
            )

    @abc.abstractmethod
    def should_report(self, trials: list[Trial], done: bool = False) -> bool:
        """Whether to call :meth:`report` now (``done`` at the very end)."""

    @abc.abstractmethod
    def report(self, trials: list[Trial], done: bool, *sys_info: str) -> None:
        """Show progress; ``sys_info`` are extra lines such as the results folder."""

    def set_search_properties(self, metric: str | None, mode: str | None) -> bool:
        """Receive the experiment's metric and mode; return True when accepted."""
        return True

    def set_total_samples(self, total_samples: int | None) -> None:
        """Receive the number of trials the search will create (None if unknown)."""

    def set_start_time(self, timestamp: float | None = None) -> None:
        """Receive the experiment's start time (seconds since the epoch)."""


class TuneReporterBase(ProgressReporter):
    """The table logic shared by :class:`CLIReporter` and :class:`JupyterNotebookReporter`.

    Args:
        metric_columns: Result keys to show, as a list or a dict ``{key: column name}``.
            Default: Ray Tune's default columns that some trial reported, plus up to
            ``infer_limit`` other numeric metrics.
        parameter_columns: Config keys to show (``"a/b"`` for nested ones), as a list or
            dict. Default: every sampled parameter.
        total_samples: How many trials the search creates, shown as ``done/total``.
        max_progress_rows: Most trial rows; the rest are counted by status.
        max_error_rows: Most rows in the errored-trials table.
        max_column_length: Longer headers and values are cut, ending in ``...``.
        max_report_frequency: Least seconds between two reports.
        infer_limit: Most metrics picked up automatically.
        print_intermediate_tables: Show the trial table in every report (default) or only
            in the final one.
        metric: The metric for "Current best trial" and ``sort_by_metric``.
        mode: ``"min"`` or ``"max"``.
        sort_by_metric: List finished trials best first.

    Raises:
        ValueError: A count or ``mode`` is out of range.
        TypeError: ``metric_columns`` or ``parameter_columns`` has the wrong type.
    """

    DEFAULT_COLUMNS = {
        "mean_accuracy": "acc",
        "mean_loss": "loss",
        "training_iteration": "iter",
        "time_total_s": "total time (s)",
        "timesteps_total": "ts",
        "episode_reward_mean": "reward",
    }

    def __init__(
        self,
        *,
        metric_columns: list[str] | dict[str, str] | None = None,
        parameter_columns: list[str] | dict[str, str] | None = None,
        total_samples: int | None = None,
        max_progress_rows: int = 20,
        max_error_rows: int = 20,
        max_column_length: int = 20,
        max_report_frequency: float = 5,
        infer_limit: int = 3,
        print_intermediate_tables: bool | None = None,
        metric: str | None = None,
        mode: str | None = None,
        sort_by_metric: bool = False,
    ) -> None:
        self._validate(max_progress_rows, max_error_rows, max_column_length, max_report_frequency,
                       infer_limit, metric, mode)
        self._metric_columns = _columns_dict(metric_columns, "metric_columns") or dict(self.DEFAULT_COLUMNS)
        self._metric_columns_set = metric_columns is not None
        self._parameter_columns = _columns_dict(parameter_columns, "parameter_columns") or {}
        self._parameter_columns_set = parameter_columns is not None
        self._total_samples = total_samples
        self._max_progress_rows = max_progress_rows
        self._max_error_rows = max_error_rows
        self._max_column_length = max_column_length
        self._max_report_frequency = max_report_frequency
        self._infer_limit = infer_limit
        self._print_intermediate_tables = True if print_intermediate_tables is None else print_intermediate_tables
        self._metric = metric
        self._mode = mode
        self._sort_by_metric = sort_by_metric
        self._start_time = time.time()
        self._last_report = -math.inf

    @staticmethod
    def _validate(max_progress_rows: Any, max_error_rows: Any, max_column_length: Any, max_report_frequency: Any,
                  infer_limit: Any, metric: Any, mode: Any) -> None:
        _check_count("max_progress_rows", max_progress_rows, 1)
        _check_count("max_error_rows", max_error_rows, 1)
        _check_count("max_column_length", max_column_length, 4)
        _check_count("infer_limit", infer_limit, 0)
        if not _is_number(max_report_frequency) or max_report_frequency < 0:
            raise ValueError(f"max_report_frequency must be a number of seconds >= 0, got {max_report_frequency!r}")
        if mode not in (None, "min", "max"):
            raise ValueError(f"mode must be 'min', 'max' or None, got {mode!r}")
        if metric is not None and not isinstance(metric, str):
            raise TypeError(f"metric must be a result key (str) or None, got {type(metric).__name__}")

    # -- Ray Tune's public methods ---------------------------------------------------------------
    def add_metric_column(self, metric: str, representation: str | None = None) -> None:
        """Show ``metric`` as a column, headed ``representation`` (default: the key).

        Raises:
            ValueError: The column is already shown.
        """
        self._metric_columns_set = True
        self._add_column(self._metric_columns, metric, representation)

    def add_parameter_column(self, parameter: str, representation: str | None = None) -> None:
        """Show config key ``parameter`` as a column, headed ``representation``.

        Raises:
            ValueError: The column is already shown.
        """
        self._parameter_columns_set = True
        self._add_column(self._parameter_columns, parameter, representation)

    @staticmethod
    def _add_column(columns: dict[str, str], key: str, representation: str | None) -> None:
        if key in columns:
            raise ValueError(f"column {key!r} is already shown; each key can be a column once")
        columns[key] = representation or key

    def set_search_properties(self, metric: str | None, mode: str | None) -> bool:
        """Take the experiment's metric and mode unless this reporter already has others.

        Raises:
            ValueError: The reporter was made with a different metric or mode.
        """
        if (metric and self._metric and metric != self._metric) or (mode and self._mode and mode != self._mode):
            raise ValueError(
                f"the progress reporter has metric={self._metric!r}, mode={self._mode!r} but the experiment has "
                f"metric={metric!r}, mode={mode!r}; set them in TuneConfig or in the reporter, not both"
            )
        self._metric = self._metric or metric
        self._mode = self._mode or mode
        if self._mode and not self._metric:
            self._metric = "_metric"
        return True

    def set_total_samples(self, total_samples: int | None) -> None:
        self._total_samples = total_samples

    def set_start_time(self, timestamp: float | None = None) -> None:
        self._start_time = timestamp if timestamp is not None else time.time()

    def should_report(self, trials: list[Trial], done: bool = False) -> bool:
        now = time.monotonic()
        if done or now - self._last_report >= self._max_report_frequency:
            self._last_report = now
            return True
        return False

    # -- what a report shows -----------------------------------------------------------------------
    def _view(self, trials: list[Trial], done: bool, sys_info: tuple[str, ...]) -> _View:
        view = _View(header=self._header(trials, sys_info))
        if done or self._print_intermediate_tables:
            view.trials = self._trial_table(trials)
            view.errors = self._error_table(trials)
            errored = sum(t.status.value == "ERROR" for t in trials)
            view.error_title = f"Number of errored trials: {errored}" if errored else ""
        return view

    def _header(self, trials: list[Trial], sys_info: tuple[str, ...]) -> list[str]:
        minutes, seconds = divmod(max(0.0, time.time() - self._start_time), 60)
        elapsed = f"{int(minutes // 60):02d}:{int(minutes % 60):02d}:{seconds:05.2f}"
        lines = ["== Status ==", f"Current time: {datetime.datetime.now():%Y-%m-%d %H:%M:%S} (running for {elapsed})"]
        lines += [str(line) for line in sys_info if line]
        best = self._best_trial(trials)
        if best is not None:
            value = lookup(best.last_result, self._metric)
            params = {k: best.config.get(k, v) for k, v in best.evaluated_params.items()}
            lines.append(f"Current best trial: {best.trial_id} with {self._metric}={_format(value, 40)} "
                         f"and parameters={params or best.config}")
        total = self._total_samples
        shown = f"{len(trials)}/{total}" if isinstance(total, int) and 0 < total < 2**31 else f"{len(trials)}"
        lines.append(f"Number of trials: {shown} ({_status_counts(trials)})")
        return lines

    def _best_trial(self, trials: list[Trial]) -> Trial | None:
        if not self._metric or self._mode not in ("min", "max"):
            return None
        scored = [t for t in trials if _is_number(lookup(_scanned(t), self._metric))
                  and not math.isnan(lookup(_scanned(t), self._metric))]
        if not scored:
            return None
        pick = max if self._mode == "max" else min
        return pick(scored, key=lambda t: lookup(_scanned(t), self._metric))

    def _metric_keys(self, trials: list[Trial], rows: list[Trial]) -> dict[str, str]:
        """The metric columns: those some trial has a value of (the trials in ``rows`` with
        their whole last result, the other finished ones with their summary)."""
        full = {id(t) for t in rows}
        results = [t.last_result if id(t) in full else _scanned(t) for t in trials]
        shown = {k: v for k, v in self._metric_columns.items()
                 if any(lookup(r, k) is not None for r in results)}
        if self._metric and self._metric not in shown and any(lookup(r, self._metric) is not None
                                                              for r in results):
            shown[self._metric] = self._metric
        if not self._metric_columns_set:
            for key in self._inferred_metrics(results, exclude=shown):
                shown[key] = key
        return shown

    def _inferred_metrics(self, results: list[dict[str, Any]], exclude: dict[str, str]) -> list[str]:
        found: list[str] = []
        for result in results:
            for key, value in result.items():
                if len(found) >= self._infer_limit:
                    return found
                if (key not in _AUTO_RESULT_KEYS and key not in exclude and key not in self.DEFAULT_COLUMNS
                        and key not in found and _is_number(value)):
                    found.append(key)
        return found

    def _parameter_keys(self, trials: list[Trial]) -> dict[str, str]:
        if self._parameter_columns_set:
            return dict(self._parameter_columns)
        keys: dict[str, str] = {}
        for trial in trials:  # a finished trial's names without reading its folder
            for key in (trial.param_names if isinstance(trial, FinishedTrial) else trial.evaluated_params):
                keys.setdefault(key, key)
        return keys

    def _trial_table(self, trials: list[Trial]) -> _Table:
        shown, hidden = self._rows(trials)
        params, metrics = self._parameter_keys(trials), self._metric_keys(trials, shown)
        cut = self._max_column_length
        columns = ["Trial name", "status"] + [_abbreviate(v, cut) for v in (*params.values(), *metrics.values())]
        rows = []
        for trial in shown:
            values = [lookup(trial.config, k) if lookup(trial.config, k) is not None else trial.evaluated_params.get(k)
                      for k in params]
            values += [lookup(trial.last_result, k) for k in metrics]
            rows.append([str(trial), trial.status.value, *(_format(v, cut) for v in values)])
        numeric = [False, False] + [all(_is_number(lookup(t.config, k)) for t in shown) for k in params]
        numeric += [True] * len(metrics)
        note = f"... {len(hidden)} more trials not shown ({_status_counts(hidden)})" if hidden else ""
        return _Table(columns, rows, numeric, note)

    def _rows(self, trials: list[Trial]) -> tuple[list[Trial], list[Trial]]:
        """``(shown, hidden)``: running trials first in line for a row; shown in a stable order."""
        ordered = list(trials)
        if self._sort_by_metric and self._best_trial(trials) is not None:
            ordered = self._sorted_by_metric(trials)
        limit = self._max_progress_rows
        if len(ordered) <= limit:
            return ordered, []
        chosen: set[int] = set()
        for status in _STATUS_ORDER:
            for trial in ordered:
                if len(chosen) < limit and trial.status.value == status:
                    chosen.add(id(trial))
        return [t for t in ordered if id(t) in chosen], [t for t in ordered if id(t) not in chosen]

    def _sorted_by_metric(self, trials: list[Trial]) -> list[Trial]:
        def score(trial: Trial) -> float:
            value = lookup(_scanned(trial), self._metric)
            if not _is_number(value) or math.isnan(value):
                return math.inf
            return -value if self._mode == "max" else value

        finished = [t for t in trials if t.status.value == "TERMINATED"]
        return [t for t in trials if t.status.value != "TERMINATED"] + sorted(finished, key=score)

    def _error_table(self, trials: list[Trial]) -> _Table | None:
        errored = [t for t in trials if t.status.value == "ERROR"]
        if not errored:
            return None
        rows = [[str(t), str(t.num_failures), f"{t.path}/error.txt" if t.path else ""]
                for t in errored[: self._max_error_rows]]
        hidden = len(errored) - len(rows)
        note = f"... {hidden} more errored trials not shown" if hidden > 0 else ""
        return _Table(["Trial name", "# failures", "error file"], rows, [False, True, False], note)


def _text_table(table: _Table) -> list[str]:
    """A psql-style table."""
    widths = [max(len(row[i]) for row in [table.columns, *table.rows]) for i in range(len(table.columns))]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(cells: list[str], header: bool = False) -> str:
        parts = [c.rjust(w) if numeric and not header else c.ljust(w)
                 for c, w, numeric in zip(cells, widths, table.numeric)]
        return "| " + " | ".join(parts) + " |"

    lines = [rule, line(table.columns, header=True), rule.replace("+", "|", 1)[:-1] + "|"]
    lines += [line(row) for row in table.rows] + [rule]
    return lines + ([table.note] if table.note else [])


def _text_lines(view: _View) -> list[str]:
    lines = list(view.header)
    if view.trials is not None:
        lines += _text_table(view.trials)
    if view.errors is not None:
        lines += [view.error_title, *_text_table(view.errors)]
    return lines + view.footer


def _html(view: _View) -> str:
    def table(t: _Table) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in t.columns)
        body = "".join(
            "<tr>" + "".join(f'<td style="text-align:{"right" if n else "left"}">{html.escape(c)}</td>'
                             for c, n in zip(row, t.numeric)) + "</tr>"
            for row in t.rows
        )
        note = f"<p>{html.escape(t.note)}</p>" if t.note else ""
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"

    parts = ['<div class="tunesmith-progress">', "<h3>Trial Progress</h3>",
             "<p>" + "<br>".join(html.escape(line) for line in view.header[1:]) + "</p>"]
    if view.trials is not None:
        parts.append(table(view.trials))
    if view.errors is not None:
        parts += [f"<h4>{html.escape(view.error_title)}</h4>", table(view.errors)]
    parts += [f"<p>{html.escape(line)}</p>" for line in view.footer] + ["</div>"]
    return "".join(parts)


class _Screen:
    """Writes lines to a stream; on a terminal one block of lines is redrawn in place.

    Other output (a finished trial, an error) is written above the live block, which is
    then drawn again below it. The live block is cut to the terminal's size, since the
    cursor cannot move back over lines that scrolled off the top or wrapped.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._live: list[str] = []
        self._drawn = 0

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdout

    def is_tty(self) -> bool:
        try:
            return bool(self.stream.isatty())
        except (AttributeError, ValueError):
            return False

    def live(self, lines: list[str]) -> None:
        """Show ``lines`` as the live block (plainly printed when not on a terminal)."""
        if not self.is_tty():
            self.print("\n".join(lines))
            return
        self._erase()
        self._live = list(lines)
        self._draw()

    def print(self, text: str, *, err: bool = False) -> None:
        """Write ``text`` above the live block (to stderr when ``err``)."""
        self._erase()
        target = sys.stderr if err else self.stream
        target.write(text.rstrip("\n") + "\n")
        target.flush()
        self._draw()

    def end_live(self) -> None:
        """Remove the live block from the screen and forget it."""
        self._erase()
        self._live = []

    def _draw(self) -> None:
        if not self._live or not self.is_tty():
            return
        lines = self._fit(self._live)
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
        self._drawn = len(lines)

    def _erase(self) -> None:
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self.stream.flush()
            self._drawn = 0

    @staticmethod
    def _fit(lines: list[str]) -> list[str]:
        size = shutil.get_terminal_size((120, 40))
        width, height = max(20, size.columns - 1), max(3, size.lines - 2)
        fitted = [line if len(line) <= width else line[: width - 1] + "…" for line in lines]
        if len(fitted) > height:
            fitted = fitted[: height - 1] + [f"... {len(fitted) - height + 1} more lines (enlarge the terminal)"]
        return fitted


class CLIReporter(TuneReporterBase):
    """Prints the status table: redrawn in place on a terminal, printed anew otherwise.

    Takes the arguments of :class:`TuneReporterBase` (Ray Tune's ``CLIReporter``
    arguments).

    Example:
        >>> import tunesmith as tune
        >>> reporter = tune.CLIReporter(metric_columns=["loss", "acc"], max_report_frequency=10)
        >>> reporter.add_parameter_column("lr", "learning rate")
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._screen = _Screen()

    def _attach(self, screen: _Screen) -> None:
        """Share the screen of the experiment's other output, so live redraws stay in place."""
        self._screen = screen

    def report(self, trials: list[Trial], done: bool, *sys_info: str) -> None:
        lines = _text_lines(self._view(trials, done, sys_info))
        if done:
            self._screen.end_live()
            self._screen.print("\n".join(lines))
        else:
            self._screen.live(lines)


def _in_notebook() -> bool:
    """Whether code runs in a Jupyter kernel (where ``display`` renders HTML)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell is not None and getattr(shell, "kernel", None) is not None


class JupyterNotebookReporter(TuneReporterBase):
    """Shows the status table as HTML that updates in place in one notebook output.

    Args:
        overwrite: Update one output (default) instead of adding one per report.
        **kwargs: The arguments of :class:`TuneReporterBase`.

    Outside a Jupyter kernel it says so once and prints plain text tables instead (a
    terminal would only show ``<IPython.core.display.HTML object>``).
    """

    def __init__(self, *, overwrite: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._overwrite = overwrite
        self._handle: Any = None
        self._text = _Screen()
        if not _in_notebook():
            logger.warning("JupyterNotebookReporter shows HTML in a Jupyter notebook; outside one it prints "
                           "plain text tables. Use CLIReporter in a terminal.")

    def report(self, trials: list[Trial], done: bool, *sys_info: str) -> None:
        view = self._view(trials, done, sys_info)
        if not _in_notebook():
            self._text.print("\n".join(_text_lines(view)))
            return
        from IPython.display import HTML, display

        content = HTML(_html(view))
        if self._handle is not None and self._overwrite:
            self._handle.update(content)
        else:
            self._handle = display(content, display_id=True)


class _StatusLineReporter(TuneReporterBase):
    """The default away from a terminal: one status line now and then, the table at the end."""

    def __init__(self, screen: _Screen, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._screen = screen

    def report(self, trials: list[Trial], done: bool, *sys_info: str) -> None:
        if done:
            self._screen.print("\n".join(_text_lines(self._view(trials, done, ()))))
            return
        line = f"Running: {len(trials)} trials ({_status_counts(trials)}) in {time.time() - self._start_time:.1f} s"
        best = self._best_trial(trials)
        if best is not None:
            line += f"; best {self._metric}={_format(lookup(best.last_result, self._metric), 20)} ({best})"
        self._screen.print(line)
