"""Exact numbers: the one home of the conversions between the exact rational types (docs/design-notes.md)."""

from __future__ import annotations

import math
from fractions import Fraction

import sympy as sp

from symbolic import errors

try:  # gmpy2's rationals are about 6x faster than Fraction; both are exact
    from gmpy2 import mpq as Q
except ImportError:  # pragma: no cover - gmpy2 is a dependency, but stay correct without it
    Q = Fraction


def fraction_of(value) -> Fraction:
    """An exact rational of any of the exact types (``Fraction``, ``int``, sympy ``Rational``,
    gmpy2 ``mpq``, flint ``fmpq``) as a ``Fraction``, the core's type for values.

    >>> import flint, gmpy2
    >>> fraction_of(sp.Rational(-3, 4)), fraction_of(gmpy2.mpq(1, 3)), fraction_of(flint.fmpq(5, 2))
    (Fraction(-3, 4), Fraction(1, 3), Fraction(5, 2))
    """
    if type(value) is Fraction:
        return value
    return Fraction(int(value.numerator), int(value.denominator))


def rational_of(value) -> sp.Rational:
    """An exact rational (as for :func:`fraction_of`) as a sympy ``Rational``, the type of a
    circuit's weights and of numbers inside formulas.

    >>> rational_of(Fraction(1, 3)), rational_of(7)
    (1/3, 7)
    """
    return sp.Rational(int(value.numerator), int(value.denominator))


def q_of(value):
    """An exact rational as :data:`Q` (gmpy2 ``mpq``), the fast type of the search's inner loops.

    >>> q_of(sp.Rational(2, 6)) == Fraction(1, 3)
    True
    """
    return Q(int(value.numerator), int(value.denominator))


def fmpq_of(value):
    """An exact rational, or a float taken exactly (the search's float multipliers), as a
    python-flint ``fmpq`` (the search's exact matrices; the certificate checker reads its own
    numbers, see :func:`verify.certificate.rational`).

    >>> fmpq_of(Fraction(-1, 2)), fraction_of(fmpq_of(0.1)) == Fraction(0.1)
    (-1/2, True)
    """
    import flint

    if not hasattr(value, "denominator"):  # a float or numpy float: its exact binary value
        value = Fraction(value)
    return flint.fmpq(int(value.numerator), int(value.denominator))


def to_exact(value: object, what: str = "weight") -> sp.Expr:
    """Turn a number into an exact sympy value: a float (or float32) becomes its exact rational.

    >>> to_exact(0.5), to_exact(Fraction(1, 3)), to_exact(0.1)
    (1/2, 1/3, 3602879701896397/36028797018963968)
    """
    if isinstance(value, sp.Rational):  # Integer or Rational: exact and finite already (the fast path)
        return value
    if isinstance(value, sp.Basic):
        expr = value
    elif isinstance(value, bool):
        raise errors.InvalidCircuitError(f"{what} must be a number, got the boolean {value!r}")
    elif isinstance(value, (int, Fraction)):
        expr = sp.Rational(value)
    elif isinstance(value, float) or hasattr(value, "dtype"):
        try:
            number = float(value)  # numpy / torch scalars: float32 -> float64 is exact
        except (TypeError, ValueError) as exc:
            raise errors.InvalidCircuitError(f"{what} {value!r} is not a number") from exc
        if not math.isfinite(number):
            raise errors.InvalidCircuitError(f"{what} is {number!r}: weights must be finite")
        expr = sp.Rational(*number.as_integer_ratio())
    else:
        raise errors.InvalidCircuitError(
            f"{what} must be an int, Fraction, float or sympy number, got {type(value).__name__}"
        )
    if expr.has(sp.oo, -sp.oo, sp.zoo, sp.nan):
        raise errors.InvalidCircuitError(f"{what} {expr} is not finite")
    return expr


def to_fraction(value: object, what: str = "value") -> Fraction:
    """Exact conversion of an int, Fraction, float, decimal string-free number or sympy Rational.

    >>> to_fraction(sp.Rational(3, 4)), to_fraction(0.25)
    (Fraction(3, 4), Fraction(1, 4))
    """
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Fraction(value)
    expr = to_exact(value, what)
    if not expr.is_Rational:
        raise errors.InvalidCircuitError(f"{what} {expr} is not a rational number")
    return fraction_of(expr)
