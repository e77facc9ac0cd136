"""Exact evaluation of piecewise-linear sympy expressions at rational points, with Fractions."""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction

import sympy as sp

from symbolic import errors
from symbolic.relu import ReLU, Sigmoid

Value = Fraction | bool


def evaluate_expr(expr: sp.Basic, point: Mapping[str, object]) -> Value:
    """Value of ``expr`` at ``point`` (name -> exact number), as a ``Fraction`` or a ``bool``.

    Supports + - * (and integer powers), ``Abs``, ``Min``, ``Max``, ``Piecewise``, ``Heaviside``,
    ``ReLU``, ``floor``, ``ceiling``, ``Mod``, comparisons and ``And``/``Or``/``Not``. Anything
    else raises :class:`~symbolic.errors.UnsupportedExpressionError` naming the sub-expression.

    >>> import sympy as sp
    >>> x, y = sp.symbols('x y', real=True)
    >>> evaluate_expr(sp.Min(x, y) + sp.Abs(x) / 2, {'x': -3, 'y': 5})
    Fraction(-3, 2)
    >>> evaluate_expr(sp.Mod(x, 2), {'x': -1})
    Fraction(1, 1)
    """
    values = {name: _fraction(value, name) for name, value in point.items()}
    return _eval(expr, values)


def _fraction(value: object, name: str) -> Fraction:
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Fraction(value)
    if isinstance(value, sp.Rational):
        return Fraction(int(value.p), int(value.q))
    raise errors.UnsupportedExpressionError(f"value of {name} is {value!r}, not an exact rational")


def _num(value: Value, expr: sp.Basic) -> Fraction:
    if isinstance(value, bool):
        raise errors.UnsupportedExpressionError(f"{expr} is a condition where a number is needed")
    return value


def _bool(value: Value, expr: sp.Basic) -> bool:
    if not isinstance(value, bool):
        raise errors.UnsupportedExpressionError(f"{expr} is a number where a condition is needed")
    return value


_COMPARE = {
    sp.StrictLessThan: lambda a, b: a < b,
    sp.LessThan: lambda a, b: a <= b,
    sp.StrictGreaterThan: lambda a, b: a > b,
    sp.GreaterThan: lambda a, b: a >= b,
    sp.Equality: lambda a, b: a == b,
    sp.Unequality: lambda a, b: a != b,
}


def _eval(expr: sp.Basic, values: Mapping[str, Fraction]) -> Value:  # noqa: C901 - a dispatch table
    if expr.is_Rational:
        return Fraction(int(expr.p), int(expr.q))
    if expr.is_Symbol:
        try:
            return values[expr.name]
        except KeyError:
            raise errors.UnsupportedExpressionError(f"no value given for the variable {expr.name}") from None
    if expr is sp.true:
        return True
    if expr is sp.false:
        return False
    if isinstance(expr, sp.Add):
        return sum((_num(_eval(a, values), a) for a in expr.args), Fraction(0))
    if isinstance(expr, sp.Mul):
        return math.prod((_num(_eval(a, values), a) for a in expr.args), start=Fraction(1))
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer:
        base = _num(_eval(expr.base, values), expr.base)
        if base == 0 and expr.exp < 0:
            raise errors.UnsupportedExpressionError(f"{expr} divides by zero at this point")
        return base ** int(expr.exp)
    if isinstance(expr, ReLU):
        return max(Fraction(0), _num(_eval(expr.args[0], values), expr))
    if isinstance(expr, sp.Abs):
        return abs(_num(_eval(expr.args[0], values), expr))
    if isinstance(expr, sp.Min):
        return min(_num(_eval(a, values), a) for a in expr.args)
    if isinstance(expr, sp.Max):
        return max(_num(_eval(a, values), a) for a in expr.args)
    if isinstance(expr, sp.Heaviside):
        arg = _num(_eval(expr.args[0], values), expr)
        if arg != 0:
            return Fraction(int(arg > 0))
        if len(expr.args) < 2 or expr.args[1] is sp.nan:
            raise errors.UnsupportedExpressionError(f"{expr} is undefined at 0; give H(z, value)")
        return _num(_eval(expr.args[1], values), expr)
    if isinstance(expr, sp.floor):
        return Fraction(math.floor(_num(_eval(expr.args[0], values), expr)))
    if isinstance(expr, sp.ceiling):
        return Fraction(math.ceil(_num(_eval(expr.args[0], values), expr)))
    if isinstance(expr, sp.Mod):
        a = _num(_eval(expr.args[0], values), expr)
        m = _num(_eval(expr.args[1], values), expr)
        if m == 0:
            raise errors.UnsupportedExpressionError(f"{expr} takes a modulus of 0")
        return a - m * math.floor(a / m)
    if isinstance(expr, sp.Piecewise):
        for value, cond in expr.args:
            if _bool(_eval(cond, values), cond):
                return _eval(value, values)
        raise errors.UnsupportedExpressionError(f"{expr} is undefined: no condition holds")
    if type(expr) in _COMPARE:
        a = _num(_eval(expr.lhs, values), expr.lhs)
        b = _num(_eval(expr.rhs, values), expr.rhs)
        return _COMPARE[type(expr)](a, b)
    if isinstance(expr, sp.And):
        return all(_bool(_eval(a, values), a) for a in expr.args)
    if isinstance(expr, sp.Or):
        return any(_bool(_eval(a, values), a) for a in expr.args)
    if isinstance(expr, sp.Not):
        return not _bool(_eval(expr.args[0], values), expr)
    if isinstance(expr, Sigmoid):
        raise errors.UnsupportedExpressionError(f"{expr} is transcendental: no exact rational value")
    raise errors.UnsupportedExpressionError(f"cannot evaluate {expr} exactly (unsupported {type(expr).__name__})")
