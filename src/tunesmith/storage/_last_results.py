"""The last result of every trial of an experiment, as columns.

``ExperimentAnalysis`` and ``ResultGrid`` over 100,000 trials keep these instead of
100,000 result dicts (or 100,000 ``Trial`` objects): one column per result key, filled in
one pass of the journal, whose ``trial_finished`` records carry each trial's last result.
A column of floats is an ``array('d')`` and one of ints an ``array('q')`` (8 bytes a value,
no Python object each); any other column is a list. A dataframe is built from the
columns, one array or list per column, never from one dict per row.
"""

from __future__ import annotations

import array
import math
from typing import TYPE_CHECKING, Any, Callable, Hashable, Iterable, Sequence

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["LastResults"]

_INT64 = (-(2 ** 63), 2 ** 63 - 1)
_BATCH = 4096  # results held as tuples before they are moved into the columns, a batch at a time
_CHUNK = 10_000  # strings handed to pandas at a time: converting 100,000 at once peaks 30 MB higher


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


def _storage_for(values: Sequence[Any], kinds: set[type]) -> array.array | list:
    """An empty column that can hold ``values`` (of types ``kinds``): typed when they are all
    floats or all int64s."""
    if kinds == {float}:
        return array.array("d")
    if kinds == {int}:
        return array.array("q")  # put() turns it into a list if a value is past int64
    return []


def _fits(data: array.array, kinds: set[type]) -> bool:
    return kinds <= ({float} if data.typecode == "d" else {int})


class _Column:
    """One result key's values, by row. A row whose result lacks the key holds a filler
    (0 or None), masked by the row's set of keys (see ``LastResults``)."""

    __slots__ = ("data",)

    def __init__(self, values: Sequence[Any], kinds: set[type]) -> None:
        self.data: array.array | list = _storage_for(values, kinds)

    def put(self, rows: list[int], values: Sequence[Any], kinds: set[type], fits: bool = False) -> None:
        """Set the value of each of ``rows`` (ascending) to the matching one of ``values``
        (whose types are ``kinds``; ``fits``: known to fit the column's storage)."""
        data = self.data
        if not fits and type(data) is not list and not _fits(data, kinds):
            data = self.data = data.tolist()  # a value of another type: every value as an object
        if rows[0] >= len(data) and rows[-1] - rows[0] == len(rows) - 1:  # new rows, one after another
            self._pad(rows[0])
            length = len(data)
            try:
                data.extend(values)
            except OverflowError:  # an int past int64: every value as an object
                del data[length:]
                data = self.data = data.tolist()
                data.extend(values)
            return
        if type(data) is not list and kinds == {int} and not _INT64[0] <= min(values) <= max(values) <= _INT64[1]:
            data = self.data = data.tolist()
        for row, value in zip(rows, values):
            if row < len(data):
                data[row] = value
            else:
                self._pad(row)
                data.append(value)

    def _pad(self, length: int) -> None:
        data = self.data
        if length > len(data):
            if type(data) is list:
                data.extend([None] * (length - len(data)))
            else:
                data.frombytes(bytes(data.itemsize * (length - len(data))))

    def take(self, rows: np.ndarray, lacking: np.ndarray) -> Any:
        """The values at ``rows`` with NaN where ``lacking``: a numpy array for a typed
        column, else a list (pandas infers its dtype as it would from rows)."""
        import numpy as np

        data = self.data
        if type(data) is list:
            if not lacking.any() and len(rows) == len(data) and (rows == np.arange(len(rows))).all():
                return data
            return [math.nan if lacks else data[row] for row, lacks in zip(rows.tolist(), lacking.tolist())]
        if not len(data):
            return np.full(len(rows), np.nan)
        view = np.frombuffer(data, dtype=np.float64 if data.typecode == "d" else np.int64)
        values = view[np.clip(rows, 0, len(data) - 1)]  # a copy: the array may still grow
        del view
        if lacking.any():
            values = values.astype(np.float64)
            values[lacking] = np.nan
        return values


class LastResults:
    """Trials' last results, flattened with ``/``, held as one column per key.

    Each trial has a row; each row remembers which set of keys its result had (most
    trials of an experiment share one), so a key its result lacked reads as missing.

    Args:
        share_strings: Hold each distinct string value once (a host name or a date
            repeats in every trial's result); off for columns of unique strings.

    Example:
        >>> last = LastResults()
        >>> last.add("t1", {"loss": 0.5, "config": {"lr": 0.1}})
        >>> last.add("t2", {"loss": 0.25})
        >>> last.values("loss", ["t2", "t1", "t3"]), "t3" in last
        ([0.25, 0.5, None], False)
    """

    def __init__(self, share_strings: bool = True) -> None:
        self._row: dict[Hashable, int] = {}  # trial id -> its row
        self._schema_of = array.array("i")  # row -> the index of its set of keys in _schemas
        self._schemas: list[tuple[str, ...]] = []
        self._schema_ids: dict[tuple[str, ...], int] = {}
        self._columns: dict[str, _Column] = {}
        self._pending: list[tuple[int, int, tuple[Any, ...], Hashable]] = []  # (row, schema, values, trial id)
        self._strings: dict[str, str] | None = {} if share_strings else None

    def __contains__(self, trial_id: object) -> bool:
        return trial_id in self._row

    def __len__(self) -> int:
        return len(self._row)

    def add(self, trial_id: Hashable, result: dict[str, Any]) -> None:
        """Record ``result`` as ``trial_id``'s last result (replacing one recorded before)."""
        flat = _flat(result) if dict in set(map(type, result.values())) else result
        keys = tuple(flat)
        schema = self._schema_ids.get(keys)
        if schema is None:
            schema = self._schema_ids[keys] = len(self._schemas)
            self._schemas.append(keys)
        rows = self._row
        row = rows.setdefault(trial_id, len(rows))
        if row < len(self._schema_of):  # a replacement: what is pending goes first, so that the newer result wins
            self._flush()
            self._schema_of[row] = schema
        else:
            self._schema_of.append(schema)
        self._pending.append((row, schema, tuple(flat.values()), trial_id))
        if len(self._pending) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        """Move the pending results into the columns, a column and a set of keys at a time."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        all_rows, schemas, all_tuples, all_ids = zip(*pending)
        groups: dict[int, tuple[list[int], list[tuple[Any, ...]], list[Hashable]]] = {}
        if len(set(schemas)) == 1:  # one set of keys (the usual case)
            groups[schemas[0]] = (list(all_rows), list(all_tuples), list(all_ids))
        else:
            for row, schema, values, trial_id in pending:
                rows, tuples, ids = groups.setdefault(schema, ([], [], []))
                rows.append(row)
                tuples.append(values)
                ids.append(trial_id)
        columns = self._columns
        for schema, (rows, tuples, ids) in groups.items():
            trial_ids = tuple(ids)
            for key, values in zip(self._schemas[schema], zip(*tuples)):
                kinds = set(map(type, values))
                if str in kinds and self._strings is not None:
                    values = self._shared(values, kinds, trial_ids)
                column = columns.get(key)
                if column is None:
                    column = columns[key] = _Column(values, kinds)
                    column.put(rows, values, kinds, fits=True)
                else:
                    column.put(rows, values, kinds)

    def _shared(self, values: tuple[Any, ...], kinds: set[type], ids: tuple[Hashable, ...]) -> tuple[Any, ...]:
        """``values`` (some strings) with each string held once: a trial's own id as the
        trial id object, a string that repeats (a host name, a date) as the one in ``_strings``."""
        if values[0] == ids[0] and values == ids:
            return ids
        strings = self._strings
        if kinds <= {str, type(None)}:
            distinct = set(values)
            if 2 * len(distinct) > len(values):  # mostly unique: nothing to share
                return values
            shared = {v: strings.setdefault(v, v) if v is not None else None for v in distinct}
            return tuple(map(shared.__getitem__, values))
        return tuple(strings.setdefault(v, v) if type(v) is str else v for v in values)

    def values(self, key: str, trial_ids: Iterable[Hashable]) -> list[Any]:
        """The value of ``key`` for each of ``trial_ids`` (None where there is none)."""
        self._flush()
        column = self._columns.get(key)
        rows = self._row
        if column is None:
            return [None for _ in trial_ids]
        has = [key in keys for keys in self._schemas]
        data, schema_of = column.data, self._schema_of
        out: list[Any] = []
        for trial_id in trial_ids:
            row = rows.get(trial_id)
            out.append(data[row] if row is not None and has[schema_of[row]] else None)
        return out

    def frame(self, trial_ids: Sequence[Hashable], *, index: bool = True, missing: bool = False,
              extra: dict[str, Sequence[Any]] | None = None, tail: tuple[str, ...] = (),
              missing_tail: tuple[str, ...] = ()) -> pd.DataFrame:
        """The trials' results as a DataFrame, one column per key: what
        ``pd.DataFrame([flattened result, ...])`` gives, built column by column.

        Args:
            trial_ids: The rows, in order.
            index: Index the rows by trial id (named ``trial_id``); else 0, 1, ...
            missing: Keep a row for a trial without a result (all NaN but ``missing_tail``);
                else such trials are left out.
            extra: Columns to add, one value per trial of ``trial_ids``; a row shows its
                value when the key is one of that row's (its result's keys and ``tail``,
                or ``missing_tail`` for a trial without a result), and it wins over the
                result's own value of that key.
            tail: Keys every result's row has after its own (e.g. ``logdir``).
            missing_tail: The keys of a row without a result.
        """
        import numpy as np
        import pandas as pd

        self._flush()
        extra = extra or {}
        rows_of = self._row
        picked = list(trial_ids) if missing else [t for t in trial_ids if t in rows_of]
        rows = np.fromiter((rows_of.get(t, -1) for t in picked), dtype=np.intp, count=len(picked))
        nothing = len(self._schemas)  # the set of keys of a row without a result
        schemas = [*self._schemas, ()]
        view = np.frombuffer(self._schema_of, dtype=np.intc)  # array("i"): a C int
        schema_ids = np.where(rows >= 0, view[np.clip(rows, 0, None)], nothing) if len(view) else np.full(
            len(rows), nothing)
        del view
        row_keys = [(*keys, *(k for k in tail if k not in keys)) if keys else missing_tail for keys in schemas]
        columns: dict[str, None] = {}  # every key, in the order the rows first show it
        firsts = np.unique(schema_ids, return_index=True)[1] if len(rows) else []
        for first in sorted(firsts):
            columns.update(dict.fromkeys(row_keys[schema_ids[first]]))
        data: dict[str, Any] = {}
        for key in columns:
            lacking = ~np.array([key in keys for keys in row_keys])[schema_ids]
            if key in extra:
                values = extra[key]
                data[key] = [math.nan if lacks else v for v, lacks in zip(values, lacking.tolist())] \
                    if lacking.any() else values
            else:
                data[key] = self._columns[key].take(rows, lacking)
            if type(data[key]) is list and len(data[key]) > _CHUNK and set(map(type, data[key])) == {str}:
                data[key] = strings_column(data[key].__getitem__, len(data[key]))
        labels = pd.Index(picked, name="trial_id") if index else None
        if not len(rows):  # as pandas builds a frame of no rows
            return pd.DataFrame([], index=labels)
        return pd.DataFrame(data, index=labels, copy=False)


def strings_column(strings: Callable[[slice], list[str]], count: int) -> Any:
    """The column pandas makes of ``count`` strings (``strings(slice)`` gives some of them),
    handed over ``_CHUNK`` at a time: with every value a string, each piece gets the dtype
    the whole would (``str``), and a piece's Python strings can go once it is converted."""
    import pandas as pd

    pieces = [pd.Series(strings(slice(i, i + _CHUNK)), copy=False) for i in range(0, count, _CHUNK)]
    return pd.concat(pieces, ignore_index=True).array


def rows_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """``pd.DataFrame(rows)`` for flat result rows, built column by column (no rows kept)."""
    builder = LastResults(share_strings=False)
    for i, row in enumerate(rows):
        builder.add(i, row)
    return builder.frame(range(len(builder)), index=False)


def grid_frame(last: LastResults, trial_ids: Sequence[str], tags: Sequence[str]) -> pd.DataFrame:
    """``ResultGrid.get_dataframe()``: a row per trial, its last result with its
    ``experiment_tag`` and, as ``logdir``, its id (a trial without a result: ``logdir`` only)."""
    return last.frame(trial_ids, index=False, missing=True, extra={"experiment_tag": tags, "logdir": trial_ids},
                      tail=("experiment_tag", "logdir"), missing_tail=("logdir",))
