"""Search-space domains and samplers; their public home is :mod:`tunesmith.search.sample`.

A *domain* says which values a parameter may take (``Float``, ``Integer``, ``Categorical``,
``Function``); its *sampler* says how they are drawn (``Uniform``, ``LogUniform``,
``Normal``, ``Quantized``, ``Grid``). Every draw goes through an explicit generator: the
global numpy state is never read or changed.
"""

from __future__ import annotations

import copy
import inspect
import math
import numbers
from decimal import Decimal
from typing import Any, Callable, Sequence

import numpy as np

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
    "RandomState",
    "Sampler",
    "Uniform",
]

RandomState = int | np.random.Generator | np.random.RandomState | None


# --------------------------------------------------------------------------------------
# Random numbers: every draw goes through an explicit generator.


class _LegacyDraws:
    """Gives a ``numpy.random.RandomState`` the three ``Generator`` methods we draw with."""

    def __init__(self, state: np.random.RandomState) -> None:
        self._state = state

    def uniform(self, low: float, high: float, size: int | None) -> Any:
        return self._state.uniform(low, high, size)

    def normal(self, loc: float, scale: float, size: int | None) -> Any:
        return self._state.normal(loc, scale, size)

    def integers(self, low: int, high: int, size: int | None) -> Any:
        return self._state.randint(low, high, size, dtype=np.int64)


def _as_draws(random_state: Any) -> np.random.Generator | _LegacyDraws:
    """Turn a ``random_state`` argument into an object with ``uniform/normal/integers``."""
    if isinstance(random_state, (np.random.Generator, _LegacyDraws)):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return _LegacyDraws(random_state)
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.default_rng(int(random_state))
    raise ValueError(
        "random_state must be an int seed, a numpy Generator, a numpy RandomState or None; "
        f"got {random_state!r} ({type(random_state).__name__})"
    )


# --------------------------------------------------------------------------------------
# Samplers: how values are drawn.


class Sampler:
    """Draws values for a :class:`Domain`; subclasses implement :meth:`sample`."""

    def sample(
        self,
        domain: Domain,
        config: Any = None,
        size: int = 1,
        random_state: RandomState = None,
    ) -> Any:
        """Draw ``size`` values of ``domain``: one value, or a list when ``size > 1``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __str__(self) -> str:
        return type(self).__name__


class BaseSampler(Sampler):
    """A sampler that draws straight from the domain's bounds (not a wrapper like Quantized)."""

    def sample(
        self,
        domain: Domain,
        config: Any = None,
        size: int = 1,
        random_state: RandomState = None,
    ) -> Any:
        values = domain._draw(self, _as_draws(random_state), _count(size))
        return _pack(domain, values, size)

    def _raw(self, draws: Any, lower: float, upper: float, count: int | None) -> Any:
        """``count`` floats between ``lower`` and ``upper`` as this sampler spreads them (one
        numpy scalar for ``count=None``)."""
        raise ValueError(f"{type(self).__name__} does not draw numbers between bounds")


class Uniform(BaseSampler):
    """Every value in the domain equally likely."""

    def _raw(self, draws: Any, lower: float, upper: float, count: int | None) -> Any:
        return draws.uniform(lower, upper, count)


class LogUniform(BaseSampler):
    """Uniform in log space. ``base`` is kept for Ray compatibility; it does not change the draws."""

    def __init__(self, base: float = 10) -> None:
        self.base = base

    def _raw(self, draws: Any, lower: float, upper: float, count: int | None) -> Any:
        values = np.exp(draws.uniform(math.log(lower), math.log(upper), count))
        return np.minimum(np.maximum(values, lower), upper)

    def __repr__(self) -> str:
        return f"LogUniform(base={self.base!r})"


class Normal(BaseSampler):
    """Normal distribution with ``mean`` and standard deviation ``sd``."""

    def __init__(self, mean: float = 0.0, sd: float = 0.0) -> None:
        self.mean = mean
        self.sd = sd

    def _raw(self, draws: Any, lower: float, upper: float, count: int | None) -> Any:
        return draws.normal(self.mean, self.sd, count)

    def __repr__(self) -> str:
        return f"Normal(mean={self.mean!r}, sd={self.sd!r})"


class Grid(Sampler):
    """Marks a domain whose values are all used, one trial each (``grid_search``)."""

    def sample(
        self,
        domain: Domain,
        config: Any = None,
        size: int = 1,
        random_state: RandomState = None,
    ) -> Any:
        raise RuntimeError(
            "Grid.sample: a grid domain is expanded, not sampled; use grid_search() in a "
            "param space and let the variant generator enumerate it"
        )


class Quantized(Sampler):
    """Rounds what ``sampler`` draws to a multiple of ``q``.

    With a ``Uniform`` sampler every multiple of ``q`` within the bounds (``upper`` included)
    is equally likely. With ``LogUniform`` or ``Normal`` the draw is rounded to the nearest
    multiple. Float results are rounded to the decimals of ``q`` so ``0.1`` steps give
    ``0.3``, not ``0.30000000000000004``.
    """

    def __init__(self, sampler: Sampler, q: float) -> None:
        if not isinstance(sampler, BaseSampler):
            raise ValueError(
                "Quantized(sampler, q): sampler must be a Uniform, LogUniform or Normal "
                f"instance; got {sampler!r}"
            )
        self.sampler = sampler
        self.q = q

    def get_sampler(self) -> Sampler:
        """The sampler whose draws are rounded."""
        return self.sampler

    def sample(
        self,
        domain: Domain,
        config: Any = None,
        size: int = 1,
        random_state: RandomState = None,
    ) -> Any:
        draws = _as_draws(random_state)
        if isinstance(domain, Integer) and self.q == 1:
            # Ray keeps randint's exclusive upper bound when q == 1 (qrandint's default).
            return self.sampler.sample(domain, config, size, random_state=draws)
        low, high = _step_range(domain, self.q)
        if isinstance(self.sampler, Uniform):
            steps = draws.integers(low, high + 1, _count(size))
        else:
            raw = self.sampler._raw(draws, low * self.q, high * self.q, _count(size))
            steps = np.minimum(np.maximum(np.round(raw / self.q), low), high)
        return _pack(domain, _times_q(steps, self.q, domain), size)

    def __repr__(self) -> str:
        return f"Quantized({self.sampler!r}, q={self.q!r})"


class _CallSampler(BaseSampler):
    """Calls a :class:`Function` domain's function."""

    def sample(
        self,
        domain: Domain,
        config: Any = None,
        size: int = 1,
        random_state: RandomState = None,
    ) -> Any:
        func, with_spec = domain.func, domain.pass_config
        if with_spec:
            items = [func(config[i] if isinstance(config, list) else config) for i in range(size)]
        else:
            items = [func() for _ in range(size)]
        return items if size > 1 else items[0]


def _step_range(domain: Domain, q: float) -> tuple[float, float]:
    """First and last multiple of ``q`` (as step counts) inside the domain's bounds."""
    low = math.ceil(domain.lower / q - 1e-9) if math.isfinite(domain.lower) else -math.inf
    high = math.floor(domain.upper / q + 1e-9) if math.isfinite(domain.upper) else math.inf
    if low > high:
        raise ValueError(
            f"quantized domain: no multiple of q lies within the bounds; got "
            f"lower={domain.lower!r}, upper={domain.upper!r}, q={q!r} (widen the bounds or "
            "lower q)"
        )
    return low, high


def _times_q(steps: Any, q: float, domain: Domain) -> Any:
    """Multiply step counts by ``q``; floats are rounded to the decimals ``q`` has."""
    if isinstance(domain, Integer):
        return np.round(steps) * int(q)
    exponent = Decimal(repr(float(q))).as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return np.round(steps * q, decimals)


def _count(size: int) -> int | None:
    """numpy's ``size`` argument: None draws one scalar, several times faster than ``1``."""
    return None if size == 1 else size


def _pack(domain: Domain, values: Any, size: int) -> Any:
    """Cast drawn values: one value (from a scalar draw) for ``size == 1``, else a list."""
    if size == 1:
        return domain.cast(values)
    return [domain.cast(value) for value in values]


# --------------------------------------------------------------------------------------
# Domains: which values a parameter may take.


class Domain:
    """Base of the search-space domains; holds at most one :class:`Sampler`.

    Attributes:
        sampler: The sampler set with :meth:`set_sampler`, or None for the default.
        default_sampler_cls: Used by :meth:`get_sampler` when no sampler was set.
    """

    sampler: Sampler | None = None
    default_sampler_cls: type[Sampler] | None = None

    def cast(self, value: Any) -> Any:
        """Convert a drawn value to the domain's type."""
        return value

    def set_sampler(self, sampler: Sampler, allow_override: bool = False) -> None:
        """Use ``sampler`` for this domain.

        Raises:
            ValueError: A sampler is already set and ``allow_override`` is False.
        """
        if self.sampler is not None and not allow_override:
            raise ValueError(
                "Domain.set_sampler: a domain has one sampler; this "
                f"{type(self).__name__} already uses {self.sampler!r}, got {sampler!r} "
                "(build a new domain instead, e.g. tune.loguniform rather than "
                "tune.uniform(...).loguniform())"
            )
        self.sampler = sampler

    def get_sampler(self) -> Sampler:
        """The sampler in use: the one set, else an instance of ``default_sampler_cls``."""
        if self.sampler is not None:
            return self.sampler
        return self.default_sampler_cls()

    def sample(self, config: Any = None, size: int = 1, random_state: RandomState = None) -> Any:
        """Draw ``size`` values: one value, or a list when ``size > 1``.

        Args:
            config: The (partly resolved) trial spec, passed to ``sample_from`` functions.
            size: How many values to draw.
            random_state: An int seed, numpy ``Generator``, numpy ``RandomState`` or None.
        """
        exact_int = type(size) is int
        if (not exact_int and (isinstance(size, bool) or not isinstance(size, numbers.Integral))) or size < 1:
            raise ValueError(f"Domain.sample: size must be an int >= 1; got {size!r}")
        sampler = self.get_sampler()
        return sampler.sample(self, config=config, size=int(size), random_state=random_state)

    def is_grid(self) -> bool:
        """True for a grid domain (``Categorical.grid()``)."""
        return isinstance(self.sampler, Grid)

    def is_function(self) -> bool:
        """True for ``sample_from`` domains."""
        return False

    def is_valid(self, value: Any) -> bool:
        """Whether ``value`` lies within the domain."""
        raise NotImplementedError

    @property
    def domain_str(self) -> str:
        """The domain's values in short, e.g. ``(0, 1)`` or ``[1, 'a', None]``."""
        return "(unknown)"

    def _with_sampler(self, sampler: Sampler, allow_override: bool = False) -> Domain:
        new = copy.copy(self)
        new.set_sampler(sampler, allow_override=allow_override)
        return new

    def _draw(self, sampler: BaseSampler, draws: Any, count: int | None) -> Any:
        """``count`` raw values drawn with ``sampler`` (one for ``count=None``)."""
        raise ValueError(f"{type(self).__name__} cannot be drawn with {sampler!r}")

    def __repr__(self) -> str:
        sampler = self.sampler if self.sampler is not None else self.default_sampler_cls
        sampler_text = repr(sampler() if isinstance(sampler, type) else sampler)
        return f"{type(self).__name__}({self._repr_args()}, sampler={sampler_text})"

    def _repr_args(self) -> str:
        return ""


class _Range(Domain):
    """A numeric domain between ``lower`` and ``upper`` (None: unbounded)."""

    default_sampler_cls = Uniform

    def __init__(self, lower: float | None, upper: float | None) -> None:
        self.lower = -math.inf if lower is None else _number("lower", lower)
        self.upper = math.inf if upper is None else _number("upper", upper)
        if self.lower > self.upper:
            raise ValueError(
                f"{type(self).__name__}(lower, upper): lower must not exceed upper (swap "
                f"them); got lower={lower!r}, upper={upper!r}"
            )

    def is_valid(self, value: Any) -> bool:
        try:
            return bool(self.lower <= value <= self.upper)
        except TypeError:
            return False

    @property
    def domain_str(self) -> str:
        return f"({self.lower}, {self.upper})"

    def _repr_args(self) -> str:
        return f"lower={self.lower!r}, upper={self.upper!r}"

    def _require_finite(self, what: str) -> None:
        if not (math.isfinite(self.lower) and math.isfinite(self.upper)):
            raise ValueError(
                f"{type(self).__name__}.{what}(): needs finite lower and upper bounds; got "
                f"lower={self.lower!r}, upper={self.upper!r}"
            )

    def _require_log_bounds(self) -> None:
        self._require_finite("loguniform")
        if self.lower <= 0:
            raise ValueError(
                "loguniform bounds: lower must be > 0 (a log scale cannot reach 0 or "
                f"negatives; use uniform() for such ranges); got lower={self.lower!r}"
            )


class Float(_Range):
    """Real numbers between ``lower`` and ``upper``; None means unbounded on that side."""

    def cast(self, value: Any) -> float:
        return float(value)

    def uniform(self) -> Float:
        """Uniform in ``[lower, upper)``."""
        self._require_finite("uniform")
        return self._with_sampler(Uniform())

    def loguniform(self, base: float = 10) -> Float:
        """Uniform in log space; both bounds must be > 0 and finite."""
        self._require_log_bounds()
        return self._with_sampler(LogUniform(base))

    def normal(self, mean: float = 0.0, sd: float = 1.0) -> Float:
        """Normal with ``mean`` and ``sd`` (> 0); the domain must be unbounded."""
        if math.isfinite(self.lower) or math.isfinite(self.upper):
            raise ValueError(
                "Float.normal(): a normal distribution has no bounds; use "
                f"Float(None, None).normal(...); got lower={self.lower!r}, upper={self.upper!r}"
            )
        mean = _number("mean", mean)
        if not _number("sd", sd) > 0:
            raise ValueError(f"randn/normal: sd must be > 0; got sd={sd!r}")
        return self._with_sampler(Normal(mean, sd))

    def quantized(self, q: float) -> Float:
        """Round draws to multiples of ``q``; finite bounds must be multiples of ``q``."""
        q = _positive_q(q)
        for name, bound in (("lower", self.lower), ("upper", self.upper)):
            if math.isfinite(bound) and not math.isclose(bound / q, round(bound / q), abs_tol=1e-9):
                raise ValueError(
                    f"quantized float: the {name} bound must be a multiple of q (pick bounds "
                    f"divisible by q); got {name}={bound!r}, q={q!r}"
                )
        return self._with_sampler(Quantized(self.get_sampler(), q), allow_override=True)

    def _draw(self, sampler: BaseSampler, draws: Any, count: int | None) -> Any:
        return sampler._raw(draws, self.lower, self.upper, count)


class Integer(_Range):
    """Integers from ``lower`` to ``upper`` (``upper`` excluded when sampled uniformly)."""

    def __init__(self, lower: int | None, upper: int | None) -> None:
        super().__init__(_integer("lower", lower), _integer("upper", upper))

    def cast(self, value: Any) -> int:
        return int(value)

    def uniform(self) -> Integer:
        """Uniform over ``lower .. upper - 1``."""
        self._require_finite("uniform")
        return self._with_sampler(Uniform())

    def loguniform(self, base: float = 10) -> Integer:
        """Log-uniform over ``lower .. upper - 1``; ``lower`` must be > 0."""
        self._require_log_bounds()
        return self._with_sampler(LogUniform(base))

    def quantized(self, q: int) -> Integer:
        """Round draws to multiples of the integer ``q``; ``upper`` is included when q > 1."""
        q = _positive_q(q)
        if q != int(q):
            raise ValueError(f"quantized integer: q must be a whole number; got q={q!r}")
        return self._with_sampler(Quantized(self.get_sampler(), int(q)), allow_override=True)

    def _draw(self, sampler: BaseSampler, draws: Any, count: int | None) -> Any:
        if isinstance(sampler, Uniform):
            return draws.integers(self.lower, self.upper, count)
        raw = np.floor(sampler._raw(draws, self.lower, self.upper, count))
        return np.minimum(raw, self.upper - 1)


class Categorical(Domain):
    """One of a list of values; element types are kept as given."""

    default_sampler_cls = Uniform

    def __init__(self, categories: Sequence[Any]) -> None:
        self.categories = list(categories)

    def uniform(self) -> Categorical:
        """Each category equally likely."""
        return self._with_sampler(Uniform())

    def grid(self) -> Categorical:
        """Use every category once (what ``grid_search`` builds)."""
        return self._with_sampler(Grid())

    def __len__(self) -> int:
        return len(self.categories)

    def __getitem__(self, index: int) -> Any:
        return self.categories[index]

    def is_valid(self, value: Any) -> bool:
        try:
            return any(value is c or bool(value == c) for c in self.categories)
        except (TypeError, ValueError):
            return False

    @property
    def domain_str(self) -> str:
        return str(self.categories)

    def _repr_args(self) -> str:
        return repr(self.categories)

    def _draw(self, sampler: BaseSampler, draws: Any, count: int | None) -> Any:
        if not isinstance(sampler, Uniform):
            return super()._draw(sampler, draws, count)
        picks = draws.integers(0, len(self.categories), count)
        if count is None:
            return self.categories[int(picks)]
        return [self.categories[int(i)] for i in picks]


class Function(Domain):
    """Values computed by ``func()`` or ``func(spec)`` (what ``sample_from`` builds)."""

    default_sampler_cls = _CallSampler

    def __init__(self, func: Callable[..., Any]) -> None:
        if not callable(func):
            raise ValueError(f"sample_from(func): func must be callable; got {func!r}")
        self.func = func
        self.pass_config = _takes_one_argument(func)

    def is_function(self) -> bool:
        return True

    def is_valid(self, value: Any) -> bool:
        return True

    @property
    def domain_str(self) -> str:
        return f"{self.func}()"

    def _repr_args(self) -> str:
        return getattr(self.func, "__qualname__", repr(self.func))

    def __repr__(self) -> str:
        return f"Function({self._repr_args()})"


def _takes_one_argument(func: Callable[..., Any]) -> bool:
    """True if ``func(spec)`` is a valid call; False if only ``func()`` is."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return False  # builtins without a signature: call them without arguments
    try:
        signature.bind({})
        return True
    except TypeError:
        pass
    try:
        signature.bind()
    except TypeError as exc:
        raise ValueError(
            "sample_from(func): func must accept no arguments or exactly one (the trial "
            f"spec); got {func!r} with signature {signature}"
        ) from exc
    return False


# --------------------------------------------------------------------------------------
# Argument checks.


def _number(name: str, value: Any) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or math.isnan(value):
        raise ValueError(f"search space: {name} must be a real number; got {value!r}")
    return value


def _integer(name: str, value: Any) -> int | None:
    if value is None or not math.isfinite(_number(name, value)):
        return value
    if value != int(value):
        raise ValueError(f"integer search space: {name} must be a whole number; got {value!r}")
    return int(value)


def _positive_q(q: Any) -> float:
    if not _number("q", q) > 0:
        raise ValueError(f"quantization: q must be > 0 (the step between values); got q={q!r}")
    return q
