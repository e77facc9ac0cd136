"""Exact numbers: the converters from the edges' number types into the core's exact values."""

from __future__ import annotations

import math
from fractions import Fraction

import sympy as sp

from symbolic import errors


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
    return Fraction(int(expr.p), int(expr.q))
