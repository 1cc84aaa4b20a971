"""The last result of every trial of an experiment, as columns.

``ExperimentAnalysis`` and ``ResultGrid`` over 100,000 trials keep these instead of
100,000 result dicts (or 100,000 ``Trial`` objects): one list per result key, filled in
one pass of the journal, whose ``trial_finished`` records carry each trial's last result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence


if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LastResults"]


def _flat(result: dict[str, Any]) -> dict[str, Any]:
    """``flatten_dict`` for a result whose keys are strings (every JSON object's are)."""
    flat: dict[str, Any] = {}
    for key, value in result.items():
        if type(value) is dict and value:
            for inner, item in _flat(value).items():
                flat[f"{key}/{inner}"] = item
        else:
            flat[key] = value
    return flat


class LastResults:
    """Trials' last results, flattened with ``/``: each trial's values in a tuple, its keys
    shared with every trial that reported the same keys (most trials of an experiment do).

    Example:
        >>> last = LastResults()
        >>> last.add("t1", {"loss": 0.5, "config": {"lr": 0.1}})
        >>> last.add("t2", {"loss": 0.25})
        >>> last.values("loss", ["t2", "t1", "t3"]), "t3" in last
        ([0.25, 0.5, None], False)
    """

    def __init__(self) -> None:
        self._rows: dict[str, tuple[Any, ...]] = {}  # trial id -> (keys, *values): one tuple per trial
        self._keys: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._strings: dict[str, str] = {}  # a host name or a date is held once, not once per trial

    def __contains__(self, trial_id: object) -> bool:
        return trial_id in self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, trial_id: str, result: dict[str, Any]) -> None:
        """Record ``result`` as ``trial_id``'s last result (replacing one recorded before)."""
        flat = _flat(result) if any(type(v) is dict for v in result.values()) else result
        keys = tuple(flat)
        keys = self._keys.setdefault(keys, keys)
        strings = self._strings
        self._rows[trial_id] = (keys, *(
            (trial_id if v == trial_id else strings.setdefault(v, v)) if type(v) is str else v for v in flat.values()
        ))

    def values(self, key: str, trial_ids: Sequence[str]) -> list[Any]:
        """The value of ``key`` for each of ``trial_ids`` (None where there is none)."""
        where = {keys: keys.index(key) for keys in self._keys if key in keys}
        out: list[Any] = []
        for trial_id in trial_ids:
            row = self._rows.get(trial_id)
            i = where.get(row[0]) if row is not None else None
            out.append(row[i + 1] if i is not None else None)
        return out

    def frame(self, trial_ids: Sequence[str]) -> pd.DataFrame:
        """One row per trial of ``trial_ids`` that has a result, in that order, indexed by trial id."""
        import pandas as pd

        present = [t for t in trial_ids if t in self._rows]
        columns: dict[str, None] = {}  # every key, in the order first seen
        for keys in self._keys:
            columns.update(dict.fromkeys(keys))
        if len(self._keys) == 1:
            frame = pd.DataFrame.from_records([self._rows[t][1:] for t in present], columns=list(columns))
        else:
            rows = [dict(zip(self._rows[t][0], self._rows[t][1:])) for t in present]
            frame = pd.DataFrame.from_records(rows, columns=list(columns))
        frame.index = pd.Index(present, name="trial_id")
        return frame
