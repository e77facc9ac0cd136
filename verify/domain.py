"""Domains of claims: products of real intervals, integer ranges and finite sets, per variable."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterator, Mapping
from fractions import Fraction

from symbolic import errors
from symbolic.circuit import to_fraction


def _bound(value: object, what: str) -> Fraction | None:
    if value is None:
        return None
    return to_fraction(value, what)


def _show(value: Fraction | None, sign: str) -> str:
    if value is None:
        return f"{sign}oo"
    return str(value)


@dataclasses.dataclass(frozen=True)
class RealInterval:
    """A real interval; ``None`` ends are infinite. ``RealInterval()`` is all of R.

    >>> str(RealInterval(-1, 1)), str(RealInterval(0, None, lo_open=True))
    ('[-1, 1]', '(0, oo)')
    """

    lo: Fraction | None = None
    hi: Fraction | None = None
    lo_open: bool = False
    hi_open: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "lo", _bound(self.lo, "lower bound"))
        object.__setattr__(self, "hi", _bound(self.hi, "upper bound"))
        if self.lo is None:
            object.__setattr__(self, "lo_open", True)
        if self.hi is None:
            object.__setattr__(self, "hi_open", True)
        if self.lo is not None and self.hi is not None:
            if self.lo > self.hi or (self.lo == self.hi and (self.lo_open or self.hi_open)):
                raise errors.DomainError(f"the interval {self} is empty")

    @property
    def bounded(self) -> bool:
        return self.lo is not None and self.hi is not None

    def contains(self, value: Fraction) -> bool:
        """Exact membership test."""
        if self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo)):
            return False
        if self.hi is not None and (value > self.hi or (self.hi_open and value == self.hi)):
            return False
        return True

    def __str__(self) -> str:
        if self.lo is None and self.hi is None:
            return "R"
        left = "(" if self.lo_open else "["
        right = ")" if self.hi_open else "]"
        return f"{left}{_show(self.lo, '-')}, {_show(self.hi, '')}{right}"


@dataclasses.dataclass(frozen=True)
class IntegerRange:
    """The integers ``lo..hi`` inclusive; ``None`` ends are unbounded. ``IntegerRange()`` is Z.

    >>> str(IntegerRange(0, 15)), len(IntegerRange(0, 15)), str(IntegerRange())
    ('{0..15}', 16, 'Z')
    """

    lo: int | None = None
    hi: int | None = None

    def __post_init__(self) -> None:
        for end in (self.lo, self.hi):
            if end is not None and (isinstance(end, bool) or not isinstance(end, int)):
                raise errors.DomainError(f"integer range end {end!r} is not an integer")
        if self.lo is not None and self.hi is not None and self.lo > self.hi:
            raise errors.DomainError(f"the integer range {self.lo}..{self.hi} is empty")

    @property
    def bounded(self) -> bool:
        return self.lo is not None and self.hi is not None

    def __len__(self) -> int:
        if not self.bounded:
            raise errors.DomainError(f"{self} is infinite")
        return self.hi - self.lo + 1

    def points(self) -> Iterator[Fraction]:
        return (Fraction(v) for v in range(self.lo, self.hi + 1))

    def contains(self, value: Fraction) -> bool:
        if value.denominator != 1:
            return False
        return (self.lo is None or value >= self.lo) and (self.hi is None or value <= self.hi)

    def __str__(self) -> str:
        if self.lo is None and self.hi is None:
            return "Z"
        if self.bounded:
            return f"{{{self.lo}..{self.hi}}}"
        return f"Z ∩ [{_show(self.lo and Fraction(self.lo), '-')}, {_show(self.hi and Fraction(self.hi), '')}]"


@dataclasses.dataclass(frozen=True)
class FiniteSet:
    """A finite set of exact rationals.

    >>> str(FiniteSet((3, 1, Fraction(1, 2))))
    '{1/2, 1, 3}'
    """

    values: tuple[Fraction, ...]

    def __post_init__(self) -> None:
        values = tuple(sorted({to_fraction(v, "set element") for v in self.values}))
        if not values:
            raise errors.DomainError("the finite set {} is empty")
        object.__setattr__(self, "values", values)

    bounded = True

    @property
    def integral(self) -> bool:
        return all(v.denominator == 1 for v in self.values)

    def __len__(self) -> int:
        return len(self.values)

    def points(self) -> Iterator[Fraction]:
        return iter(self.values)

    def contains(self, value: Fraction) -> bool:
        return value in self.values

    def __str__(self) -> str:
        return "{" + ", ".join(str(v) for v in self.values) + "}"


VarSet = RealInterval | IntegerRange | FiniteSet
REALS = RealInterval()
INTEGERS = IntegerRange()


@dataclasses.dataclass(frozen=True)
class Domain:
    """A product of per-variable sets; variables not listed range over all of R.

    >>> d = Domain({'x1': RealInterval(-1, 1), 'x2': RealInterval(0, None, lo_open=True)})
    >>> str(d)
    'x1 in [-1, 1], x2 in (0, oo)'
    >>> Domain.reals(2).describe(['x1', 'x2'])
    'R^2'
    """

    sets: Mapping[str, VarSet] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, value in self.sets.items():
            if not isinstance(value, (RealInterval, IntegerRange, FiniteSet)):
                raise errors.DomainError(f"the set of {name} is {value!r}, not a domain set")
        object.__setattr__(self, "sets", dict(sorted(self.sets.items())))

    def __hash__(self) -> int:
        return hash(tuple(self.sets.items()))

    @staticmethod
    def reals(n: int = 1) -> Domain:
        """All of R^n (an empty product: every variable is real)."""
        return Domain({})

    def of(self, name: str) -> VarSet:
        """The set of variable ``name`` (R when not listed)."""
        return self.sets.get(name, REALS)

    def is_integer(self, name: str) -> bool:
        s = self.of(name)
        return isinstance(s, IntegerRange) or (isinstance(s, FiniteSet) and s.integral)

    def is_finite(self, names) -> bool:
        return all(isinstance(self.of(n), FiniteSet) or (isinstance(self.of(n), IntegerRange) and self.of(n).bounded) for n in names)

    def is_bounded(self, names) -> bool:
        return all(self.of(n).bounded for n in names)

    def size(self, names) -> float:
        """Number of points of the product over ``names`` (``inf`` if not finite)."""
        if not self.is_finite(names):
            return math.inf
        sets = [self.of(n) for n in names]  # no len(): an integer range may be longer than sys.maxsize
        return math.prod(len(s.values) if isinstance(s, FiniteSet) else s.hi - s.lo + 1 for s in sets)

    def points(self, names) -> Iterator[dict[str, Fraction]]:
        """Every point of a finite product, as ``{name: Fraction}``."""
        names = list(names)
        for values in itertools.product(*(list(self.of(n).points()) for n in names)):
            yield dict(zip(names, values))

    def contains(self, point: Mapping[str, Fraction]) -> bool:
        """Exact membership of a point (only the variables it names are checked)."""
        return all(self.of(n).contains(Fraction(v)) for n, v in point.items())

    def describe(self, names) -> str:
        """Human text for the domain over ``names``, e.g. ``R^2`` or ``x in {0..15}``."""
        names = list(names)
        unlisted = [n for n in names if n not in self.sets]
        parts = [f"{n} in {s}" for n, s in self.sets.items()]
        if not parts:
            return "R" if len(names) == 1 else f"R^{len(names)}"
        if unlisted:
            parts += [f"{n} in R" for n in unlisted]
        return ", ".join(parts)

    def __str__(self) -> str:
        return self.describe(list(self.sets))
