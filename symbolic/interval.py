"""Rigorous interval enclosures (mpmath's ``iv``) for exact but transcendental values such as S(1/2)."""

from __future__ import annotations

from fractions import Fraction

import mpmath
import sympy as sp

from symbolic import errors
from symbolic.activation import Activation
from symbolic.exact import fraction_of
from symbolic.relu import Sigmoid

#: Working precisions tried in turn (bits) before a comparison is declared undecidable.
PRECISIONS = (64, 256, 1024)


class Undecided(errors.MathCircuitsError):
    """Interval arithmetic could not separate two values (they may be equal)."""


def _enclose(expr: sp.Basic, ctx) -> object:
    if expr.is_Rational:
        return ctx.mpf(int(expr.p)) / ctx.mpf(int(expr.q))
    if isinstance(expr, sp.Add):
        total = ctx.mpf(0)
        for a in expr.args:
            total = total + _enclose(a, ctx)
        return total
    if isinstance(expr, sp.Mul):
        total = ctx.mpf(1)
        for a in expr.args:
            total = total * _enclose(a, ctx)
        return total
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer:
        return _enclose(expr.base, ctx) ** int(expr.exp)
    activation = Activation.of_function(expr)
    if activation is not None:
        return activation.enclose(ctx, _enclose(expr.args[0], ctx))
    if isinstance(expr, sp.exp):
        return ctx.exp(_enclose(expr.args[0], ctx))
    raise errors.UnsupportedExpressionError(f"no interval enclosure for {expr}")


def compare(value: sp.Basic, other: Fraction) -> int:
    """Sign of ``value - other`` (-1, 0 or 1), decided exactly or by a rigorous enclosure.

    >>> compare(Sigmoid(sp.Rational(1, 2)), Fraction(62, 100)), compare(Sigmoid(0), Fraction(1, 2))
    (1, 0)
    """
    if isinstance(value, Fraction):
        return (value > other) - (value < other)
    if not isinstance(value, sp.Basic):
        raise errors.UnsupportedExpressionError(f"cannot compare {value!r}: not an exact number")
    if value.is_Rational:
        exact = fraction_of(value)
        return (exact > other) - (exact < other)
    for bits in PRECISIONS:
        ctx = mpmath.iv
        saved = ctx.prec
        try:
            ctx.prec = bits
            box = _enclose(value, ctx) - ctx.mpf(other.numerator) / ctx.mpf(other.denominator)
        finally:
            ctx.prec = saved
        if box.a > 0:
            return 1
        if box.b < 0:
            return -1
    raise Undecided(f"cannot separate {value} from {other} at {PRECISIONS[-1]} bits")


def approximate(value: object, digits: int = 20) -> str:
    """A decimal approximation for display (never used to decide anything)."""
    if isinstance(value, Fraction):
        return str(value)
    return sp.sstr(sp.N(value, digits))
