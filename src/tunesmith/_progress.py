"""What the terminal shows while an experiment runs: a status table, errors, a summary."""

from __future__ import annotations

import collections
import math
import sys
import time
from typing import Any, TextIO

from tunesmith.experiment import Trial

__all__ = ["Progress"]

_TTY_PERIOD_S = 0.5
_PLAIN_PERIOD_S = 30.0
_MAX_ROWS = 20


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = str(value)
    return text if len(text) <= 20 else text[:19] + "…"


class Progress:
    """Prints progress at the given verbosity.

    ``verbose`` 0 prints only trial errors; 1 adds a status table (redrawn in place on a
    terminal, a plain line every 30 s otherwise) and a final summary; 2 adds a line per
    finished trial; 3 adds a line per result.
    """

    def __init__(self, verbose: int, *, metric: Any = None, mode: Any = None, stream: TextIO | None = None) -> None:
        self.verbose = verbose
        self.metric = metric if isinstance(metric, str) else None
        self.mode = mode if isinstance(mode, str) else None
        self.stream = stream or sys.stdout
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._start = time.monotonic()
        self._next = self._start + (_TTY_PERIOD_S if self.tty else _PLAIN_PERIOD_S)
        self._drawn_lines = 0
        self.experiment_path = ""

    def begin(self, experiment_path: str) -> None:
        self.experiment_path = experiment_path
        self._start = time.monotonic()

    def warn(self, message: str) -> None:
        self._clear()
        print(f"tunesmith: {message}", file=sys.stderr)

    def trial_error(self, trial: Trial, traceback_text: str) -> None:
        self._clear()
        print(f"Trial {trial} failed. Its traceback:\n{traceback_text.rstrip()}\n"
              f"(also in {trial.path}/error.txt)", file=sys.stderr)

    def trial_result(self, trial: Trial, result: dict) -> None:
        if self.verbose >= 3:
            shown = {k: result[k] for k in result if k not in ("config", "date", "hostname", "node_ip", "pid", "timestamp")}
            self._print(f"{trial} result: {shown}")

    def trial_complete(self, trial: Trial) -> None:
        if self.verbose >= 2:
            self._print(f"{trial} {trial.status.value} after {trial.last_result.get('training_iteration', 0)} iterations")

    def update(self, trials: list[Trial]) -> None:
        if self.verbose < 1:
            return
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + (_TTY_PERIOD_S if self.tty else _PLAIN_PERIOD_S)
        if self.tty:
            self._draw(self._table(trials))
        else:
            print(self._status_line(trials), file=self.stream, flush=True)

    def finish(self, trials: list[Trial], *, interrupted: bool = False) -> None:
        self._clear()
        if self.verbose < 1:
            return
        lines = [self._status_line(trials, final=True)]
        best = self._best(trials)
        if best is not None:
            value = best.last_result.get(self.metric)
            lines.append(f"Best trial: {best} with {self.metric}={_fmt(value)}, config {best.evaluated_params or best.config}")
        lines.append(f"Results: {self.experiment_path}")
        if interrupted:
            lines.append(f"Interrupted. Resume with: Tuner.restore({self.experiment_path!r}, trainable=...)")
        print("\n".join(lines), file=self.stream, flush=True)

    # -- helpers -----------------------------------------------------------------------------
    def _status_line(self, trials: list[Trial], final: bool = False) -> str:
        counts = collections.Counter(t.status.value for t in trials)
        parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no trials"
        elapsed = time.monotonic() - self._start
        head = "Finished" if final else "Running"
        return f"{head}: {len(trials)} trials ({parts}) in {elapsed:.1f} s"

    def _best(self, trials: list[Trial]) -> Trial | None:
        if not self.metric or not self.mode:
            return None
        scored = [t for t in trials if _finite(t.last_result.get(self.metric))]
        if not scored:
            return None
        pick = max if self.mode == "max" else min
        return pick(scored, key=lambda t: t.last_result[self.metric])

    def _table(self, trials: list[Trial]) -> list[str]:
        rows = [t for t in trials if t.status.value == "RUNNING"][:_MAX_ROWS]
        rows += [t for t in trials[-_MAX_ROWS:] if t not in rows][: _MAX_ROWS - len(rows)]
        params = sorted({k for t in rows for k in t.evaluated_params})[:5]
        metric = [self.metric] if self.metric else []
        header = ["trial", "status", *params, "iter", *metric]
        body = [
            [str(t), t.status.value, *(_fmt(t.evaluated_params.get(p, "")) for p in params),
             str(t.last_result.get("training_iteration", "")), *(_fmt(t.last_result.get(m, "")) for m in metric)]
            for t in rows
        ]
        widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
        lines = [self._status_line(trials)] + ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in [header, *body]]
        return lines

    def _draw(self, lines: list[str]) -> None:
        self._clear()
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
        self._drawn_lines = len(lines)

    def _clear(self) -> None:
        if self._drawn_lines and self.tty:
            self.stream.write(f"\x1b[{self._drawn_lines}F\x1b[J")
            self.stream.flush()
        self._drawn_lines = 0

    def _print(self, line: str) -> None:
        self._clear()
        print(line, file=self.stream, flush=True)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
