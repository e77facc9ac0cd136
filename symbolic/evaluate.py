"""Exact evaluation of piecewise-linear sympy expressions at rational points, with Fractions."""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction

import sympy as sp

from symbolic import errors
from symbolic.activation import Activation
from symbolic.exact import fraction_of
from symbolic.printing import show
from symbolic.relu import Sigmoid

Value = Fraction | bool


def evaluate_expr(expr: sp.Basic, point: Mapping[str, object]) -> Value:
    """Value of ``expr`` at ``point`` (name -> exact number), as a ``Fraction`` or a ``bool``.

    Supports + - * (and integer powers), ``Abs``, ``Min``, ``Max``, ``Piecewise``, ``Heaviside``,
    ``ReLU``, ``floor``, ``ceiling``, ``Mod``, comparisons and ``And``/``Or``/``Not``. Anything
    else raises :class:`~symbolic.errors.UnsupportedExpressionError` naming the sub-expression;
    where ``expr`` has no value (no piece of a Piecewise holds, ``H(0)`` without a value, a
    division or modulo by 0) it raises :class:`~symbolic.errors.UndefinedValueError`.

    Every operand is evaluated (``And``/``Or`` do not short-circuit; only the chosen piece of a
    Piecewise and the value of ``H`` at 0 matter), so that "defined" here means exactly what
    :func:`verify.totality.definedness` encodes. The walk is iterative: the depth of ``expr`` is
    not limited by Python's recursion limit.

    >>> import sympy as sp
    >>> x, y = sp.symbols('x y', real=True)
    >>> evaluate_expr(sp.Min(x, y) + sp.Abs(x) / 2, {'x': -3, 'y': 5})
    Fraction(-3, 2)
    >>> evaluate_expr(sp.Mod(x, 2), {'x': -1})
    Fraction(1, 1)
    >>> evaluate_expr(sp.Piecewise((x, x > 0), (-x, x < 0)), {'x': 0})
    Traceback (most recent call last):
    symbolic.errors.UndefinedValueError: no condition of piecewise((x, x > 0), (-x, x < 0)) holds
    """
    values = {name: _fraction(value, name) for name, value in point.items()}
    memo: dict[sp.Basic, object] = {}
    stack = [(expr, False)]
    while stack:
        node, ready = stack.pop()
        if node in memo:
            continue
        children = operands(node)
        if not ready:
            stack.append((node, True))
            stack.extend((c, False) for c in children if c not in memo)
            continue
        args = [memo[c] for c in children]
        undefined = next((a for a in args if isinstance(a, _Undefined)), None)
        if undefined is not None and not isinstance(node, (sp.Piecewise, sp.Heaviside)):
            memo[node] = undefined
        else:
            memo[node] = _node(node, args, values)
    out = memo[expr]
    if isinstance(out, _Undefined):
        raise errors.UndefinedValueError(out.why)
    return out


class _Undefined:
    """The value of a sub-expression that has none (kept, since an unchosen piece may not matter)."""

    def __init__(self, why: str) -> None:
        self.why = why


def operands(e: sp.Basic) -> list[sp.Basic]:
    """The sub-expressions whose values ``e``'s value is built from, in the order every
    bottom-up walk (exact evaluation, the z3 encoding, the totality query) expects them.

    >>> import sympy as sp
    >>> x = sp.Symbol('x')
    >>> operands(sp.Piecewise((x, x > 0), (0, True)))
    [x, x > 0, 0, True]
    """
    if e.is_Atom:
        return []
    if isinstance(e, sp.Pow):
        return [e.base]
    if isinstance(e, sp.Piecewise):
        return [part for pair in e.args for part in pair.args]
    if isinstance(e, sp.Heaviside):
        return [e.args[0]] + ([e.args[1]] if len(e.args) > 1 and e.args[1] is not sp.nan else [])
    if isinstance(e, sp.Rel):
        return [e.lhs, e.rhs]
    return list(e.args)


def _fraction(value: object, name: str) -> Fraction:
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Fraction(value)
    if isinstance(value, sp.Rational):
        return fraction_of(value)
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


def _node(expr: sp.Basic, args: list, values: Mapping[str, Fraction]) -> Value | _Undefined:  # noqa: C901
    """The value of ``expr`` from the values ``args`` of its children (see :func:`operands`)."""
    if expr.is_Rational:
        return fraction_of(expr)
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
        return sum((_num(a, c) for a, c in zip(args, expr.args)), Fraction(0))
    if isinstance(expr, sp.Mul):
        return math.prod((_num(a, c) for a, c in zip(args, expr.args)), start=Fraction(1))
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer:
        base = _num(args[0], expr.base)
        if base == 0 and expr.exp < 0:
            return _Undefined(f"{show(expr)} divides by zero")
        return base ** int(expr.exp)
    activation = Activation.of_function(expr)
    if activation is not None and activation.piecewise_linear:
        return activation.exact(_num(args[0], expr))
    if isinstance(expr, sp.Abs):
        return abs(_num(args[0], expr))
    if isinstance(expr, sp.Min):
        return min(_num(a, c) for a, c in zip(args, expr.args))
    if isinstance(expr, sp.Max):
        return max(_num(a, c) for a, c in zip(args, expr.args))
    if isinstance(expr, sp.Heaviside):
        if isinstance(args[0], _Undefined):
            return args[0]
        arg = _num(args[0], expr)
        if arg != 0:
            return Fraction(int(arg > 0))
        if len(args) < 2:
            return _Undefined(f"{show(expr)} has no value at 0 (give H(z, value))")
        return args[1] if isinstance(args[1], _Undefined) else _num(args[1], expr)
    if isinstance(expr, sp.floor):
        return Fraction(math.floor(_num(args[0], expr)))
    if isinstance(expr, sp.ceiling):
        return Fraction(math.ceil(_num(args[0], expr)))
    if isinstance(expr, sp.Mod):
        a, m = _num(args[0], expr), _num(args[1], expr)
        if m == 0:
            return _Undefined(f"{show(expr)} takes a modulus of 0")
        return a - m * math.floor(a / m)
    if isinstance(expr, sp.Piecewise):
        for i in range(0, len(args), 2):
            cond = args[i + 1]
            if isinstance(cond, _Undefined):
                return cond
            if _bool(cond, expr.args[i // 2].cond):
                return args[i]
        return _Undefined(f"no condition of {show(expr)} holds")
    if type(expr) in _COMPARE:
        return _COMPARE[type(expr)](_num(args[0], expr.lhs), _num(args[1], expr.rhs))
    if isinstance(expr, sp.And):
        return all([_bool(a, c) for a, c in zip(args, expr.args)])
    if isinstance(expr, sp.Or):
        return any([_bool(a, c) for a, c in zip(args, expr.args)])
    if isinstance(expr, sp.Not):
        return not _bool(args[0], expr)
    if isinstance(expr, Sigmoid):
        raise errors.UnsupportedExpressionError(f"{expr} is transcendental: no exact rational value")
    raise errors.UnsupportedExpressionError(f"cannot evaluate {expr} exactly (unsupported {type(expr).__name__})")
