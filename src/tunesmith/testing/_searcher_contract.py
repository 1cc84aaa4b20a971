"""Conformance checks every ``Searcher`` should pass; usable from any pytest suite.

Each ``check_*`` function takes a *searcher factory*: a callable that accepts ``metric`` and
``mode`` keyword arguments and returns a new searcher **without** a space (the checks give
it the param space through ``set_search_properties``, as the Tuner does). A failed check
raises AssertionError saying what the contract expected.

Example (in a plug-in's test file)::

    from tunesmith.testing import check_searcher

    def test_my_searcher_contract(tmp_path):
        check_searcher(lambda **kw: MySearcher(seed=0, **kw), tmp_path)
"""

from __future__ import annotations

import copy
import math
import numbers
import os
from typing import Any, Callable

from tunesmith.search import Searcher
from tunesmith.search.sample import (
    Categorical,
    Domain,
    Float,
    Integer,
    Normal,
    Quantized,
    choice,
    grid_search,
    loguniform,
    qrandint,
    quniform,
    randint,
    uniform,
)

__all__ = [
    "SearcherFactory",
    "assert_in_space",
    "check_bad_spaces",
    "check_metric_mode",
    "check_save_restore",
    "check_searcher",
    "check_suggestions_in_space",
    "check_trial_lifecycle",
    "contract_space",
    "toy_loss",
]

#: ``factory(metric=..., mode=...) -> Searcher`` with no search space of its own.
SearcherFactory = Callable[..., Searcher]


def contract_space() -> dict[str, Any]:
    """A fresh param space with each common domain kind, a nested dict and a constant."""
    return {
        "x": uniform(-5.0, 5.0),
        "lr": loguniform(1e-4, 1e-1),
        "units": randint(1, 10),
        "step": qrandint(0, 20, 5),
        "act": choice(["relu", "tanh", "gelu"]),
        "nested": {"dropout": quniform(0.0, 0.5, 0.1)},
        "const": 7,
    }


def toy_loss(config: dict[str, Any]) -> float:
    """A deterministic loss over a config: squared numeric values plus string lengths."""
    total = 0.0
    for value in _leaves(config):
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, numbers.Real):
            total += (float(value) - 1.0) ** 2
        else:
            total += len(str(value))
    return total


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    return [value]


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def _configured(make_searcher: SearcherFactory, space: dict[str, Any], mode: str = "min") -> Searcher:
    searcher = make_searcher(metric="loss", mode=mode)
    accepted = searcher.set_search_properties(None, None, copy.deepcopy(space))
    _expect(
        accepted is True,
        f"set_search_properties(None, None, space) must return True for a searcher without a space; got {accepted!r}",
    )
    return searcher


def _run(searcher: Searcher, space: dict[str, Any], ids: list[str], check_quantization: bool) -> list[dict[str, Any]]:
    configs = []
    for trial_id in ids:
        config = searcher.suggest(trial_id)
        _expect(isinstance(config, dict), f"suggest({trial_id!r}) must return a dict here; got {config!r}")
        assert_in_space(config, space, check_quantization=check_quantization)
        searcher.on_trial_result(trial_id, {"loss": toy_loss(config), "training_iteration": 1})
        searcher.on_trial_complete(trial_id, {"loss": toy_loss(config), "training_iteration": 1})
        configs.append(config)
    return configs


# -- checks ----------------------------------------------------------------------------------


def check_suggestions_in_space(
    make_searcher: SearcherFactory,
    space: dict[str, Any] | None = None,
    num_trials: int = 6,
    check_quantization: bool = True,
) -> list[dict[str, Any]]:
    """Suggestions are dicts within the space, and the loop suggest/complete keeps going.

    Returns:
        The configs suggested.
    """
    space = space if space is not None else contract_space()
    searcher = _configured(make_searcher, space)
    return _run(searcher, space, [f"trial{i:04d}" for i in range(num_trials)], check_quantization)


def check_trial_lifecycle(
    make_searcher: SearcherFactory, space: dict[str, Any] | None = None, check_quantization: bool = True
) -> None:
    """Errored trials, trials without a result and unknown ids are accepted quietly.

    Each trial is suggested and ended before the next one is suggested, so a searcher that
    runs one trial at a time passes too.

    Args:
        make_searcher: The factory.
        space: The param space (default :func:`contract_space`).
        check_quantization: Passed to :func:`assert_in_space`.
    """
    space = space if space is not None else contract_space()
    searcher = _configured(make_searcher, space)
    endings: list[tuple[str, dict[str, Any] | None, bool]] = [
        ("ok", {"loss": 0.5, "training_iteration": 2}, False),
        ("error", None, True),
        ("no-result", None, False),
        ("no-metric", {"other": 1.0}, False),
    ]
    for trial_id, result, error in endings:
        config = searcher.suggest(trial_id)
        _expect(isinstance(config, dict), f"suggest({trial_id!r}) must return a dict; got {config!r}")
        assert_in_space(config, space, check_quantization=check_quantization)
        if trial_id == "ok":
            searcher.on_trial_result(trial_id, {"loss": 1.0, "training_iteration": 1})
            searcher.on_trial_result(trial_id, {"loss": 0.5, "training_iteration": 2})
        searcher.on_trial_complete(trial_id, result, error=error)
    searcher.on_trial_complete("never-suggested", {"loss": 1.0})
    assert_in_space(searcher.suggest("after"), space, check_quantization=check_quantization)


def check_save_restore(
    make_searcher: SearcherFactory,
    directory: str | os.PathLike[str],
    space: dict[str, Any] | None = None,
    num_trials: int = 4,
    same_suggestions: bool = False,
    check_quantization: bool = True,
) -> None:
    """A restored searcher keeps suggesting; a trial pending at save time can still complete.

    The original searcher runs ``num_trials`` trials, suggests one more (``"pending"``) and
    is saved. Each restored searcher (through :meth:`~Searcher.restore` and through
    :meth:`~Searcher.restore_from_dir`) completes ``"pending"`` and runs ``num_trials``
    more trials, one at a time.

    Args:
        make_searcher: The factory.
        directory: An empty folder for the state files.
        space: The param space (default :func:`contract_space`).
        num_trials: Trials run before saving and again after restoring.
        same_suggestions: Also require the restored searcher to make the very suggestion
            the original makes next, once both have completed ``"pending"`` with the same
            result (for seeded, deterministic searchers).
        check_quantization: Passed to :func:`assert_in_space`.
    """
    space = space if space is not None else contract_space()
    directory = os.fspath(directory)
    original = _configured(make_searcher, space)
    _run(original, space, [f"before{i}" for i in range(num_trials)], check_quantization)
    pending = original.suggest("pending")
    _expect(isinstance(pending, dict), f"suggest('pending') must return a dict here; got {pending!r}")
    path = os.path.join(directory, "searcher.pkl")
    original.save(path)
    original.save_to_dir(directory, session_str="contract")
    _expect(
        os.path.exists(os.path.join(directory, "searcher-state-contract.pkl")),
        "save_to_dir must write searcher-state-<session>.pkl",
    )
    # The original goes on exactly as each restored searcher will: complete "pending", then
    # suggest "next". Saving must not have changed what it does.
    expected = _next_after_pending(original, pending) if same_suggestions else None
    for restored in (_restored(make_searcher, space, lambda s: s.restore(path)),
                     _restored(make_searcher, space, lambda s: s.restore_from_dir(directory))):
        _expect(
            restored.metric == "loss" and restored.mode == "min",
            f"restored metric/mode must be 'loss'/'min'; got {restored.metric!r}/{restored.mode!r}",
        )
        if same_suggestions:
            got = _next_after_pending(restored, pending)
            _expect(
                expected == got,
                f"a restored seeded searcher must continue the same sequence; expected {expected!r}, got {got!r}",
            )
        else:
            restored.on_trial_complete("pending", {"loss": toy_loss(pending)})
        _run(restored, space, [f"after{i}" for i in range(num_trials)], check_quantization)


def _next_after_pending(searcher: Searcher, pending: dict[str, Any]) -> Any:
    """Complete ``"pending"``, then suggest and complete ``"next"``; return that suggestion."""
    searcher.on_trial_complete("pending", {"loss": toy_loss(pending)})
    suggestion = searcher.suggest("next")
    if isinstance(suggestion, dict):
        searcher.on_trial_complete("next", {"loss": toy_loss(suggestion)})
    return suggestion


def _restored(make_searcher: SearcherFactory, space: dict[str, Any], load: Callable[[Searcher], None]) -> Searcher:
    searcher = make_searcher(metric="loss", mode="min")
    searcher.set_search_properties(None, None, copy.deepcopy(space))
    load(searcher)
    return searcher


def check_metric_mode(
    make_searcher: SearcherFactory, space: dict[str, Any] | None = None, check_quantization: bool = True
) -> None:
    """Metric/mode: adopted from the experiment when unset, conflicts refused, bad modes rejected.

    Args:
        make_searcher: The factory.
        space: The param space (default :func:`contract_space`).
        check_quantization: Passed to :func:`assert_in_space`.
    """
    space = space if space is not None else contract_space()
    adopting = make_searcher()
    _expect(
        adopting.set_search_properties("score", "max", copy.deepcopy(space)) is True,
        "a searcher without metric/mode must accept the experiment's",
    )
    _expect(
        (adopting.metric, adopting.mode) == ("score", "max"),
        f"metric/mode must be adopted; got {adopting.metric!r}/{adopting.mode!r}",
    )
    assert_in_space(adopting.suggest("t"), space, check_quantization=check_quantization)
    conflicting = make_searcher(metric="a", mode="min")
    _expect(
        conflicting.set_search_properties("b", "min", copy.deepcopy(space)) is False,
        "a conflicting metric must make set_search_properties return False",
    )
    _expect(
        make_searcher(mode="max").metric == "_metric",
        "a mode without metric must mean the metric '_metric'",
    )
    _expect_raises(
        ValueError,
        lambda: make_searcher(metric="loss", mode="maximize"),
        "mode='maximize' must raise ValueError",
    )
    unset = make_searcher()
    unset.set_search_properties(None, None, copy.deepcopy(space))
    _expect_raises(
        RuntimeError,
        lambda: unset.suggest("t"),
        "suggest without metric/mode must raise RuntimeError",
    )


def check_bad_spaces(make_searcher: SearcherFactory) -> None:
    """``grid_search`` in the param space is a ValueError; suggesting without a space a RuntimeError."""
    searcher = make_searcher(metric="loss", mode="min")
    _expect_raises(
        ValueError,
        lambda: searcher.set_search_properties(None, None, {"x": grid_search([1, 2])}),
        "grid_search in the param space must raise ValueError",
        "grid_search",
    )
    spaceless = make_searcher(metric="loss", mode="min")
    _expect_raises(
        RuntimeError,
        lambda: spaceless.suggest("t"),
        "suggest without a space must raise RuntimeError",
        "space",
    )


def check_searcher(
    make_searcher: SearcherFactory,
    directory: str | os.PathLike[str],
    space: dict[str, Any] | None = None,
    same_suggestions: bool = False,
    check_quantization: bool = True,
) -> None:
    """Run every check of this module (see each one for what it asserts)."""
    check_suggestions_in_space(make_searcher, space, check_quantization=check_quantization)
    check_trial_lifecycle(make_searcher, space, check_quantization=check_quantization)
    check_save_restore(
        make_searcher,
        directory,
        space,
        same_suggestions=same_suggestions,
        check_quantization=check_quantization,
    )
    check_metric_mode(make_searcher, space, check_quantization=check_quantization)
    check_bad_spaces(make_searcher)


def _expect_raises(error: type[Exception], call: Callable[[], Any], message: str, text: str = "") -> None:
    try:
        call()
    except error as exc:
        _expect(text.lower() in str(exc).lower(), f"{message}, with {text!r} in the message; got {exc}")
        return
    raise AssertionError(f"{message}; nothing was raised")


# -- membership ------------------------------------------------------------------------------


def assert_in_space(config: Any, space: dict[str, Any], check_quantization: bool = True) -> None:
    """Assert every domain of ``space`` has a valid value in ``config`` (constants are not checked).

    Args:
        config: A suggested (nested) config.
        space: The param space it should come from.
        check_quantization: Also require quantized values to be multiples of ``q``; turn
            off for searchers that document dropping quantization.
    """
    _expect(isinstance(config, dict), f"a config must be a dict; got {config!r}")
    for key, domain in space.items():
        if isinstance(domain, dict) and _has_domain(domain):
            _expect(key in config, f"config misses nested key {key!r}: {config!r}")
            assert_in_space(config[key], domain, check_quantization)
        elif isinstance(domain, Domain):
            _expect(key in config, f"config misses key {key!r}: {config!r}")
            _expect_valid(key, config[key], domain, check_quantization)


def _has_domain(value: Any) -> bool:
    if isinstance(value, Domain):
        return True
    return isinstance(value, dict) and any(_has_domain(v) for v in value.values())


def _expect_valid(key: str, value: Any, domain: Domain, check_quantization: bool) -> None:
    sampler = domain.get_sampler()
    q = sampler.q if isinstance(sampler, Quantized) else None
    inner = sampler.get_sampler() if isinstance(sampler, Quantized) else sampler
    if isinstance(domain, Categorical):
        _expect(
            any(_category_matches(value, c, check_quantization) for c in domain.categories),
            f"{key}={value!r} is none of {domain.categories!r}",
        )
        return
    if isinstance(domain, Integer):
        _expect(
            isinstance(value, numbers.Integral) and not isinstance(value, bool),
            f"{key} must be an int; got {value!r}",
        )
    elif isinstance(domain, Float):
        _expect(
            isinstance(value, numbers.Real) and not isinstance(value, bool),
            f"{key} must be a float; got {value!r}",
        )
    if isinstance(inner, Normal):
        _expect(math.isfinite(value), f"{key} must be finite; got {value!r}")
    else:
        _expect_bounds(key, value, domain, q)
    if check_quantization and q is not None:
        steps = value / q
        _expect(
            math.isclose(steps, round(steps), abs_tol=1e-6),
            f"{key}={value!r} must be a multiple of q={q}",
        )


def _expect_bounds(key: str, value: float, domain: Float | Integer, q: float | None) -> None:
    exclusive = isinstance(domain, Integer) and (q is None or q == 1)
    upper_ok = value < domain.upper if exclusive else value <= domain.upper + 1e-9
    _expect(domain.lower - 1e-9 <= value and upper_ok, f"{key}={value!r} is outside {domain.domain_str}")


def _category_matches(value: Any, category: Any, check_quantization: bool) -> bool:
    if isinstance(category, dict) and _has_domain(category):
        try:
            assert_in_space(value, category, check_quantization)
        except AssertionError:
            return False
        return all(value.get(k) == v for k, v in category.items() if not _has_domain(v))
    if isinstance(category, Domain):
        try:
            _expect_valid("category", value, category, check_quantization)
        except AssertionError:
            return False
        return True
    try:
        return value is category or bool(value == category)
    except (TypeError, ValueError):
        return False
