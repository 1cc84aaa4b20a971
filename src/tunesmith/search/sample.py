"""Search-space domains and the functions that build them (``tune.uniform``, ``tune.choice``, ...).

The public path mirrors ``ray.tune.search.sample``. A *domain* says which values a parameter
may take (``Float``, ``Integer``, ``Categorical``, ``Function``); its *sampler* says how they
are drawn (``Uniform``, ``LogUniform``, ``Normal``, ``Quantized``, ``Grid``)::

    >>> from tunesmith.search.sample import quniform, randint
    >>> randint(0, 3).sample(random_state=7) in {0, 1, 2}
    True
    >>> sorted(set(quniform(0, 1, 0.25).sample(size=200, random_state=0)))
    [0.0, 0.25, 0.5, 0.75, 1.0]

Bounds follow Ray Tune: ``randint``/``lograndint`` exclude ``upper``; ``qrandint`` (q > 1),
``quniform``, ``qloguniform`` and ``qlograndint`` include it. ``random_state`` may be an int
seed, a ``numpy.random.Generator``, a ``numpy.random.RandomState`` or None; None draws from
fresh operating-system entropy (the global numpy state is never read or changed).
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Iterable, Sequence

from tunesmith.search._domain import (
    BaseSampler,
    Categorical,
    Domain,
    Float,
    Function,
    Grid,
    Integer,
    LogUniform,
    Normal,
    Quantized,
    Sampler,
    Uniform,
    _number,
    _step_range,
)
from tunesmith.search._domain import (
    RandomState as RandomState,  # the type of random_state arguments, as in Ray
)

__all__ = [
    "BaseSampler",
    "Categorical",
    "Domain",
    "Float",
    "Function",
    "Grid",
    "Integer",
    "LogUniform",
    "Normal",
    "Quantized",
    "Sampler",
    "Uniform",
    "choice",
    "grid_search",
    "lograndint",
    "loguniform",
    "qlograndint",
    "qloguniform",
    "qrandint",
    "qrandn",
    "quniform",
    "randint",
    "randn",
    "sample_from",
    "uniform",
]


def _strictly_below(func: str, lower: Any, upper: Any) -> None:
    if lower is not None and upper is not None and _number("lower", lower) >= _number("upper", upper):
        raise ValueError(
            f"{func}(lower, upper): upper is excluded, so lower must be < upper; got "
            f"lower={lower!r}, upper={upper!r}"
        )


def _warn_base(func: str, base: Any) -> None:
    # FutureWarning rather than DeprecationWarning: users see it by default, and the
    # project's test settings turn DeprecationWarnings raised from tunesmith into errors.
    if base is not None:
        warnings.warn(
            f"{func}(base=...) is deprecated and ignored: a log-uniform distribution is the "
            "same in every base",
            FutureWarning,
            stacklevel=3,
        )


# --------------------------------------------------------------------------------------
# The sampling functions (``tune.uniform`` and friends).


def uniform(lower: float, upper: float) -> Float:
    """A float drawn uniformly from ``[lower, upper)``.

    Example:
        >>> 2 <= uniform(2, 4).sample(random_state=0) < 4
        True
    """
    return Float(lower, upper).uniform()


def quniform(lower: float, upper: float, q: float) -> Float:
    """A multiple of ``q`` in ``[lower, upper]``; both bounds must be multiples of ``q``.

    Example:
        >>> quniform(0, 1, 0.5).sample(random_state=3) in {0.0, 0.5, 1.0}
        True
    """
    return Float(lower, upper).uniform().quantized(q)


def loguniform(lower: float, upper: float, base: float | None = None) -> Float:
    """A float uniform in log space between ``lower`` and ``upper`` (both > 0).

    ``base`` is deprecated and ignored (it does not change the distribution).

    Example:
        >>> 1e-4 <= loguniform(1e-4, 1e-1).sample(random_state=0) < 1e-1
        True
    """
    _warn_base("loguniform", base)
    return Float(lower, upper).loguniform()


def qloguniform(lower: float, upper: float, q: float, base: float | None = None) -> Float:
    """A log-uniform float rounded to a multiple of ``q``; ``upper`` is included.

    Example:
        >>> qloguniform(1, 100, 1).sample(random_state=0) in range(1, 101)
        True
    """
    _warn_base("qloguniform", base)
    return Float(lower, upper).loguniform().quantized(q)


def randn(mean: float = 0.0, sd: float = 1.0) -> Float:
    """A float from a normal distribution (``sd`` > 0).

    Example:
        >>> isinstance(randn(10, 2).sample(random_state=0), float)
        True
    """
    return Float(None, None).normal(mean, sd)


def qrandn(mean: float, sd: float, q: float) -> Float:
    """A normal draw rounded to a multiple of ``q``.

    Example:
        >>> qrandn(0, 1, 0.5).sample(random_state=0) % 0.5
        0.0
    """
    return Float(None, None).normal(mean, sd).quantized(q)


def randint(lower: int, upper: int) -> Integer:
    """An int from ``lower`` to ``upper - 1`` (``upper`` excluded).

    Example:
        >>> sorted(set(randint(0, 3).sample(size=100, random_state=0)))
        [0, 1, 2]
    """
    _strictly_below("randint", lower, upper)
    return Integer(lower, upper).uniform()


def qrandint(lower: int, upper: int, q: int = 1) -> Integer:
    """A multiple of ``q`` from ``lower`` to ``upper``; ``upper`` is included unless q == 1.

    Example:
        >>> sorted(set(qrandint(0, 10, 5).sample(size=100, random_state=0)))
        [0, 5, 10]
    """
    if q == 1:
        _strictly_below("qrandint", lower, upper)
    domain = Integer(lower, upper).uniform().quantized(q)
    _step_range(domain, domain.get_sampler().q)
    return domain


def lograndint(lower: int, upper: int, base: float | None = None) -> Integer:
    """An int log-uniform from ``lower`` (> 0) to ``upper - 1``.

    Example:
        >>> 1 <= lograndint(1, 100).sample(random_state=0) <= 99
        True
    """
    _warn_base("lograndint", base)
    _strictly_below("lograndint", lower, upper)
    return Integer(lower, upper).loguniform()


def qlograndint(lower: int, upper: int, q: int, base: float | None = None) -> Integer:
    """A log-uniform int rounded to a multiple of ``q``; ``upper`` is included.

    Example:
        >>> qlograndint(1, 100, 10).sample(random_state=0) % 10
        0
    """
    _warn_base("qlograndint", base)
    domain = Integer(lower, upper).loguniform().quantized(q)
    _step_range(domain, domain.get_sampler().q)
    return domain


def choice(categories: Sequence[Any]) -> Categorical:
    """One of ``categories``, each equally likely; values keep their types.

    Example:
        >>> choice([None, 1, "a"]).sample(random_state=0) in (None, 1, "a")
        True
    """
    if isinstance(categories, (str, bytes)) or not isinstance(categories, Iterable):
        raise ValueError(
            "choice(categories): categories must be a list of values (wrap a single "
            f"value in a list); got {categories!r}"
        )
    domain = Categorical(categories).uniform()
    if not domain.categories:
        raise ValueError(
            "choice(categories): categories must not be empty (give at least one value, "
            f"e.g. choice([1, 2])); got {categories!r}"
        )
    return domain


def sample_from(func: Callable[..., Any]) -> Function:
    """A value computed per trial by ``func()`` or ``func(spec)``.

    ``spec`` is the trial spec: read other parameters as ``spec.config.x`` or
    ``spec["config"]["x"]``; a parameter that is not resolved yet is retried later.

    Example:
        >>> sample_from(lambda: 42).sample()
        42
    """
    return Function(func)


def grid_search(values: Iterable[Any]) -> dict[str, Any]:
    """Try every one of ``values``: one trial (per sample) for each.

    Example:
        >>> grid_search([1, 2])
        {'grid_search': [1, 2]}
    """
    if isinstance(values, (str, bytes, dict)) or not isinstance(values, Iterable):
        raise ValueError(f"grid_search(values): values must be a list; got {values!r}")
    if not hasattr(values, "__len__"):
        values = list(values)
    if len(values) == 0:
        raise ValueError(
            "grid_search(values): the grid is empty, so it would produce no trials (give at "
            f"least one value); got {values!r}"
        )
    return {"grid_search": values}
