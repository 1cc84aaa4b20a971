"""The trial table, shared by ``tunesmith show`` and the dashboard: rows, filters, sorting.

Pure functions over :class:`~tunesmith.dashboard._source.ExperimentSource` entries.
Filters are parsed, never evaluated as code.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import re
from typing import Any, Callable

from tunesmith.dashboard._source import ExperimentSource, TrialEntry

__all__ = ["TableFilter", "columns", "parse_filter", "select", "trial_row"]

_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt,
    "=": operator.eq, "~": lambda value, text: str(text).lower() in str(value).lower(),
}
_FILTER = re.compile(r"^\s*([^=!<>~\s]+)\s*(==|!=|<=|>=|=|<|>|~)\s*(.*?)\s*$")


@dataclasses.dataclass(frozen=True)
class TableFilter:
    """``column OP value``: OP is one of ``== != < <= > >= ~`` (``~``: contains)."""

    column: str
    op: str
    value: Any

    def __call__(self, row: dict[str, Any]) -> bool:
        have = row.get(self.column)
        if have is None:
            return False
        want = self.value
        if isinstance(want, float) and not isinstance(have, (int, float)):
            want = str(self.value)
        try:
            return bool(_OPERATORS[self.op](have, want))
        except TypeError:
            return bool(_OPERATORS[self.op](str(have), str(want)))


def parse_filter(text: str) -> TableFilter:
    """Parse ``"loss<0.1"``, ``"status==ERROR"``, ``"model/lr >= 1e-3"``, ``"tag~lr=0.1"``.

    Raises:
        ValueError: the text is not ``column OP value``.
    """
    match = _FILTER.match(text)
    if not match or not match.group(3):
        raise ValueError(f"a filter is 'COLUMN OP VALUE' with OP one of == != < <= > >= ~, got {text!r}")
    column, op, raw = match.groups()
    value: Any = raw.strip("'\"")
    try:
        value = float(value)
    except ValueError:
        pass
    return TableFilter(column, op, value)


def trial_row(source: ExperimentSource, trial: TrialEntry) -> dict[str, Any]:
    """One trial as a flat row: name, status, params, iterations, time, metrics."""
    row: dict[str, Any] = {
        "trial_id": trial.trial_id, "trial_name": source.trial_name(trial), "status": trial.status.value,
        "iter": trial.iterations, "total time (s)": round(trial.time_total_s, 3),
    }
    if trial.stopped_by:
        row["stopped_by"] = trial.stopped_by  # TERMINATED early, by the scheduler or a stopper
    row.update({f"config/{k}": v for k, v in trial.params().items()})
    row.update(trial.last_metrics)
    if source.metric:
        row[f"best {source.metric}"] = trial.best
    row["num_failures"] = trial.num_failures
    return row


def columns(source: ExperimentSource, rows: list[dict[str, Any]]) -> list[str]:
    """Column order: identity, status, config, iterations and time, metrics."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    fixed = ["trial_name", "status"] + (["stopped_by"] if "stopped_by" in seen else [])
    config = [c for c in seen if c.startswith("config/")]
    metrics = [m for m in source.metric_names() if m in seen]
    tail = ["iter", "total time (s)"] + metrics + ([f"best {source.metric}"] if source.metric else [])
    rest = [c for c in seen if c not in set(fixed + config + tail) | {"trial_id", "num_failures"}]
    return fixed + config + tail + rest


def cell(source: ExperimentSource, trial: TrialEntry, column: str) -> Any:
    """One cell of :func:`trial_row`, without building the row (sorting and filtering 100,000 trials)."""
    if column.startswith("config/"):
        return trial.params().get(column[7:])
    if column in trial.last_metrics:
        return trial.last_metrics[column]
    if source.metric and column == f"best {source.metric}":
        return trial.best
    getter = _CELLS.get(column)
    return getter(source, trial) if getter else None


_CELLS: dict[str, Callable[[ExperimentSource, TrialEntry], Any]] = {
    "trial_id": lambda s, t: t.trial_id, "trial_name": lambda s, t: s.trial_name(t), "status": lambda s, t: t.status.value,
    "iter": lambda s, t: t.iterations, "total time (s)": lambda s, t: round(t.time_total_s, 3),
    "num_failures": lambda s, t: t.num_failures, "stopped_by": lambda s, t: t.stopped_by,
}


def sort_key(values: list[Any], descending: bool) -> Callable[[int], tuple]:
    """Missing and NaN values last, whichever the direction."""

    def key(i: int) -> tuple:
        value = values[i]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return (1, 0, "")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return (0, -value if descending else value, "")
        return (0, 0, str(value)) if not descending else (0, 0, "".join(chr(0x10FFFF - ord(c)) for c in str(value)))

    return key


def select(
    source: ExperimentSource,
    *,
    filters: list[TableFilter] = (),  # type: ignore[assignment]
    sort: str | None = None,
    descending: bool | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """``(number of matching trials, the rows of the asked page)``.

    Sorting by the experiment's metric (or its ``best`` column) puts the best first
    unless ``descending`` says otherwise; any other column sorts ascending by default.
    Only the cells that filters and sorting need are computed for every trial; whole rows
    only for the page.
    """
    trials = source.trials
    for table_filter in filters:
        trials = [t for t in trials if table_filter({table_filter.column: cell(source, t, table_filter.column)})]
    if sort:
        if descending is None:
            descending = sort in (source.metric, f"best {source.metric}") and source.mode == "max"
        values = [cell(source, t, sort) for t in trials]
        order = sorted(range(len(trials)), key=sort_key(values, descending))
        trials = [trials[i] for i in order]
    end = None if limit is None else offset + limit
    return len(trials), [trial_row(source, t) for t in trials[offset:end]]
