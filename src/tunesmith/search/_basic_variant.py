"""``BasicVariantGenerator``: the default search algorithm (grids and random sampling)."""

from __future__ import annotations

import base64
import glob
import json
import logging
import numbers
import os
import uuid
from typing import Any

import numpy as np

from tunesmith.search._search_algorithm import SearchAlgorithm, TrialSuggestion, experiment_spaces
from tunesmith.search.sample import Categorical, Domain
from tunesmith.search.variant_generator import (
    Path,
    _copy_containers,
    _flatten_resolved_vars,
    _is_grid,
    _path_str,
    _SpaceTemplate,
    format_vars,
)

__all__ = ["BasicVariantGenerator"]

logger = logging.getLogger(__name__)

_STATE_FORMAT = 1


class BasicVariantGenerator(SearchAlgorithm):
    """Expands the param space: every grid point, ``num_samples`` times, with fresh draws.

    Trials come in sample-major order: for each sample, every grid point (the first grid by
    sorted path changes fastest). Random values are drawn again for each grid point unless
    ``constant_grid_search`` is set. ``points_to_evaluate`` come first, one sample each; a
    point that leaves a grid open expands over it. Variants are built one at a time, so
    ``num_samples=-1`` (no end) and huge grids cost nothing up front.

    Args:
        points_to_evaluate: Configs (possibly partial) to try first.
        max_concurrent: At most this many of its trials live at once; 0 means no limit.
        constant_grid_search: Share one sample's random values across its grid points.
        random_state: Seed (int), numpy ``Generator`` or ``RandomState`` (a seed is drawn
            from it), or None: then the seed is drawn from NumPy's global generator when the
            first variant is made (where Ray Tune starts drawing from it), so
            ``np.random.seed(0)`` before ``fit()`` repeats the configs. Either way the values
            come from this generator's own stream; the global one is read once.

    Example:
        >>> from tunesmith.search.sample import grid_search, randint
        >>> alg = BasicVariantGenerator(random_state=0)
        >>> alg.add_configurations({"a": grid_search([1, 2]), "c": randint(0, 100)}, 2)
        >>> alg.total_samples
        4
        >>> [alg.next_trial().config["a"] for _ in range(4)]
        [1, 2, 1, 2]
        >>> alg.is_finished()
        True
    """

    CKPT_FILE_TMPL = "basic-variant-state-{}.json"

    def __init__(
        self,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        max_concurrent: int = 0,
        constant_grid_search: bool = False,
        random_state: int | np.random.Generator | np.random.RandomState | None = None,
    ) -> None:
        self._points = _check_points(points_to_evaluate)
        self._max_concurrent = _check_max_concurrent(max_concurrent)
        self._constant_grid_search = bool(constant_grid_search)
        self._rng: np.random.Generator | None = None if random_state is None else _own_generator(random_state)
        self._id_prefix = uuid.uuid4().hex[:5]
        self._counter = 0
        self._live: set[str] = set()
        self._expansions: list[_Expansion] = []
        self._current = 0
        self._finished = False
        self._space_text: str | None = None

    def add_configurations(self, param_space: Any, num_samples: int | None = None) -> None:
        """Queue ``param_space`` for ``num_samples`` samples (-1: without end).

        ``param_space`` may also be what Ray Tune passes: an ``Experiment``, a list of them or
        a dict ``{name: spec}``, each queued with its own ``num_samples`` (see
        :func:`~tunesmith.search._search_algorithm.experiment_spaces`).

        Raises:
            ValueError: ``num_samples`` is 0 or below -1, the param space is not a dict, or
                a point of ``points_to_evaluate`` names a key the param space lacks.
        """
        for space, samples in experiment_spaces(param_space, num_samples):
            self._add_expansion(space, samples)

    def _add_expansion(self, param_space: Any, num_samples: int) -> None:
        _check_num_samples(num_samples)
        if param_space is not None and not isinstance(param_space, dict):
            raise ValueError(f"param_space must be a dict; got {type(param_space).__name__}")
        self._expansions.append(_Expansion(param_space or {}, int(num_samples), self._points))
        self._finished = False
        self._space_text = None

    @property
    def total_samples(self) -> int | None:
        """Trials this generator produces in all; None when ``num_samples`` is -1."""
        totals = [expansion.total() for expansion in self._expansions]
        return None if None in totals else sum(totals)

    def next_trial(self) -> TrialSuggestion | None:
        """The next variant, or None while ``max_concurrent`` trials are live or when done."""
        if self._max_concurrent and len(self._live) >= self._max_concurrent:
            return None
        expansion = self._active()
        if expansion is None:
            self.set_finished()
            return None
        resolved, spec = expansion.next_variant(self._generator(), self._constant_grid_search)
        if self._active() is None:
            self.set_finished()
        return self._suggestion(resolved, spec)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        self._live.discard(trial_id)

    def has_checkpoint(self, dirpath: str) -> bool:
        return _newest_state_file(dirpath, self.CKPT_FILE_TMPL) is not None

    def save_to_dir(self, dirpath: str, session_str: str = "default") -> None:
        """Write ``basic-variant-state-<session_str>.json`` (JSON; the param space inside is
        cloudpickled, since it may hold functions)."""
        os.makedirs(dirpath, exist_ok=True)
        path = os.path.join(dirpath, self.CKPT_FILE_TMPL.format(session_str))
        with open(path + ".tmp", "w", encoding="utf-8") as file:
            json.dump(self._get_state(), file)
        os.replace(path + ".tmp", path)

    def restore_from_dir(self, dirpath: str) -> None:
        """Continue from the newest state file in ``dirpath``.

        Raises:
            FileNotFoundError: ``dirpath`` holds no state file.
        """
        path = _newest_state_file(dirpath, self.CKPT_FILE_TMPL)
        if path is None:
            pattern = self.CKPT_FILE_TMPL.format("*")
            raise FileNotFoundError(
                f"BasicVariantGenerator.restore_from_dir: no {pattern} in {dirpath!r} "
                "(was save_to_dir called with this folder?)"
            )
        with open(path, encoding="utf-8") as file:
            self._set_state(json.load(file))

    def _generator(self) -> np.random.Generator:
        """The generator of the draws; without a seed, seeded from NumPy's global generator now."""
        if self._rng is None:
            self._rng = np.random.default_rng(int(np.random.randint(0, 2**62, dtype=np.int64)))
        return self._rng

    def _active(self) -> _Expansion | None:
        while self._current < len(self._expansions) and self._expansions[self._current].exhausted():
            self._current += 1
        return self._expansions[self._current] if self._current < len(self._expansions) else None

    def _suggestion(self, resolved: dict[Path, Any], spec: dict[str, Any]) -> TrialSuggestion:
        index = self._counter
        self._counter += 1
        trial_id = f"{self._id_prefix}_{index:05d}"
        self._live.add(trial_id)
        return TrialSuggestion(
            trial_id=trial_id,
            config=spec["config"],
            experiment_tag=f"{index}_{format_vars(resolved)}" if resolved else str(index),
            evaluated_params=_flatten_resolved_vars(resolved),
        )

    def _get_state(self) -> dict[str, Any]:
        if self._space_text is None:
            import cloudpickle

            spaces = [(e.param_space, e.num_samples) for e in self._expansions]
            try:
                blob = cloudpickle.dumps({"points": self._points, "spaces": spaces})
            except Exception as exc:
                raise ValueError(
                    "BasicVariantGenerator.save_to_dir: the param space and points_to_evaluate "
                    "must be picklable (cloudpickle) to be saved for resuming; got "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            self._space_text = base64.b64encode(blob).decode("ascii")
        return {
            "format": _STATE_FORMAT,
            "id_prefix": self._id_prefix,
            "counter": self._counter,
            "live": sorted(self._live),
            "current": self._current,
            "finished": self._finished,
            "max_concurrent": self._max_concurrent,
            "constant_grid_search": self._constant_grid_search,
            "rng": self._generator().bit_generator.state,
            "cursors": [expansion.cursor() for expansion in self._expansions],
            "space": self._space_text,
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        import cloudpickle

        if state.get("format") != _STATE_FORMAT:
            raise ValueError(
                f"BasicVariantGenerator state: format must be {_STATE_FORMAT}; got "
                f"{state.get('format')!r} (written by another tunesmith version?)"
            )
        space = cloudpickle.loads(base64.b64decode(state["space"]))
        self._points = space["points"]
        self._expansions = [_Expansion(p, n, self._points) for p, n in space["spaces"]]
        self._space_text = state["space"]
        for key in ("id_prefix", "counter", "current", "finished", "max_concurrent"):
            setattr(self, f"_{key}", state[key])
        self._constant_grid_search = state["constant_grid_search"]
        self._live = set(state["live"])
        self._rng = np.random.default_rng()
        for expansion, cursor in zip(self._expansions, state["cursors"], strict=True):
            expansion.set_cursor(cursor, self._rng, self._constant_grid_search)
        self._rng.bit_generator.state = state["rng"]


class _Expansion:
    """One ``add_configurations`` call: its samples x grid points, walked by a cursor.

    Samples ``0 .. len(points) - 1`` are the points to evaluate; the rest use the plain
    param space. Only the cursor changes as trials are produced.
    """

    def __init__(self, param_space: dict[str, Any], num_samples: int, points: list[dict]) -> None:
        self.param_space = param_space
        self.num_samples = num_samples
        base_spec = {"config": param_space}
        self.base = _SpaceTemplate(base_spec)
        self.presets = [
            _SpaceTemplate(_with_preset(base_spec, point, f"points_to_evaluate[{i}]"))
            for i, point in enumerate(points)
        ]
        self.sample = 0
        self.grid_index = 0
        self.shared: dict[Path, Any] | None = None
        self.shared_from: dict[str, Any] | None = None

    def template(self, sample: int) -> _SpaceTemplate:
        return self.presets[sample] if sample < len(self.presets) else self.base

    def total(self) -> int | None:
        if self.num_samples == -1:
            return None
        rest = max(self.num_samples - len(self.presets), 0)
        return sum(t.grid_size for t in self.presets) + rest * self.base.grid_size

    def exhausted(self) -> bool:
        if self.num_samples == -1:
            return False
        return self.sample >= max(self.num_samples, len(self.presets))

    def next_variant(
        self, rng: np.random.Generator, constant_grid_search: bool
    ) -> tuple[dict[Path, Any], dict[str, Any]]:
        """Build the variant under the cursor, then move the cursor on."""
        template = self.template(self.sample)
        if constant_grid_search and self.shared is None:
            self.shared_from = rng.bit_generator.state
            self.shared = template.presample(rng)
        resolved, spec = template.expand(self.grid_index, rng, self.shared)
        self.grid_index += 1
        if self.grid_index >= template.grid_size:
            self.sample, self.grid_index, self.shared = self.sample + 1, 0, None
        return resolved, spec

    def cursor(self) -> dict[str, Any]:
        shared_from = self.shared_from if self.shared is not None else None
        return {"sample": self.sample, "grid_index": self.grid_index, "shared_from": shared_from}

    def set_cursor(
        self, cursor: dict[str, Any], rng: np.random.Generator, constant_grid_search: bool
    ) -> None:
        """Move to ``cursor``; shared values are drawn again from the state they came from."""
        self.sample, self.grid_index = cursor["sample"], cursor["grid_index"]
        if constant_grid_search and cursor["shared_from"] is not None:
            rng.bit_generator.state = cursor["shared_from"]
            self.shared_from = cursor["shared_from"]
            self.shared = self.template(self.sample).presample(rng)


# --------------------------------------------------------------------------------------
# points_to_evaluate


def _with_preset(base_spec: dict[str, Any], point: dict[str, Any], label: str) -> dict[str, Any]:
    """A copy of ``base_spec`` with the point's values fixed (they are constants there)."""
    spec = _copy_containers(base_spec)
    _merge_slot(spec, "config", point, ("config",), label)
    return spec


def _merge_slot(container: Any, key: Any, value: Any, path: Path, label: str) -> None:
    current = container[key]
    if _is_plain_dict(current) and _is_plain_dict(value):
        for child_key, child in value.items():
            if child_key not in current:
                raise ValueError(
                    f"{label}: key '{_path_str(path[1:] + (child_key,))}' is not in the "
                    "param_space (add it to param_space, or fix its spelling); got keys "
                    f"{sorted(map(str, current))}"
                )
            _merge_slot(current, child_key, child, path + (child_key,), label)
    elif isinstance(current, list) and isinstance(value, list) and len(current) == len(value):
        for index, child in enumerate(value):
            _merge_slot(current, index, child, path + (index,), label)
    else:
        _warn_if_outside(current, value, path, label)
        container[key] = value


def _is_plain_dict(value: Any) -> bool:
    return isinstance(value, dict) and not _is_grid(value)


def _warn_if_outside(current: Any, value: Any, path: Path, label: str) -> None:
    domain = Categorical(current["grid_search"]) if _is_grid(current) else current
    if isinstance(domain, Domain) and not domain.is_valid(value):
        logger.warning(
            "%s: value %r for '%s' is outside its search space %s",
            label,
            value,
            _path_str(path[1:]),
            domain.domain_str,
        )


# --------------------------------------------------------------------------------------
# Argument checks


def _check_points(points: Any) -> list[dict[str, Any]]:
    if points is None:
        return []
    if not isinstance(points, (list, tuple)) or not all(isinstance(p, dict) for p in points):
        raise ValueError(f"points_to_evaluate must be a list of dicts (one config each); got {points!r}")
    return list(points)


def _check_max_concurrent(value: Any) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
        raise ValueError(f"max_concurrent must be an int >= 0 (0 means no limit); got {value!r}")
    return int(value)


def _check_num_samples(value: Any) -> None:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value == 0 or value < -1:
        raise ValueError(f"num_samples must be an int >= 1, or -1 to sample without end; got {value!r}")


def _own_generator(random_state: Any) -> np.random.Generator:
    """A PCG64 generator of our own (its state is JSON), seeded from ``random_state``."""
    if isinstance(random_state, np.random.Generator):
        return np.random.default_rng(int(random_state.integers(2**62)))
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(int(random_state.randint(0, 2**62, dtype=np.int64)))
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.default_rng(int(random_state))
    raise ValueError(
        "random_state must be an int seed, a numpy Generator, a numpy RandomState or None; "
        f"got {random_state!r}"
    )


def _newest_state_file(dirpath: str, template: str) -> str | None:
    pattern = os.path.join(glob.escape(dirpath), template.format("*"))
    paths = glob.glob(pattern)
    return max(paths, key=lambda p: (os.path.getmtime(p), p)) if paths else None
