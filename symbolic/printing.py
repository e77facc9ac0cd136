"""Readable one-line text for expressions (Iverson brackets, R(.) for ReLU) and for exact numbers."""

from __future__ import annotations

import decimal
import re
from collections.abc import Mapping
from fractions import Fraction

import sympy as sp
from sympy.printing.str import StrPrinter
from symbolic.exact import fraction_of


class _Printer(StrPrinter):
    def _print_Piecewise(self, expr):
        pieces = expr.args
        if len(pieces) == 2 and pieces[0][0] == 1 and pieces[1][0] == 0 and pieces[1][1] == sp.true:
            return f"[{self._print(pieces[0][1])}]"
        if len(pieces) == 2 and pieces[1][1] == sp.true:
            return f"if({self._print(pieces[0][1])}, {self._print(pieces[0][0])}, {self._print(pieces[1][0])})"
        parts = ", ".join(f"({self._print(value)}, {self._print(cond)})" for value, cond in pieces)
        return f"piecewise({parts})"


def show(expr: sp.Basic) -> str:
    """``expr`` as text that the whitelist parser reads back.

    >>> x = sp.Symbol('x', real=True)
    >>> show(sp.Piecewise((1, x < 10), (0, True)))
    '[x < 10]'
    >>> show(sp.Piecewise((x, x > 0), (-x, x < 0)))
    'piecewise((x, x > 0), (-x, x < 0))'
    """
    return _Printer().doprint(expr)


#: Numerators and denominators longer than this many digits are abbreviated (``22637...731``).
MAX_DIGITS = 12
_SIGNIFICANT = 4
_RATIONAL_TEXT = re.compile(r"^\s*-?[0-9]+(?:/[0-9]+)?\s*$")


def _digits(n: int) -> str:
    text = str(n)
    return text if len(text) <= MAX_DIGITS else f"{text[:5]}...{text[-3:]}"


def readable(value: object) -> str:
    """An exact number as people read it: an integer as is, any other rational as a short decimal
    with the exact fraction beside it, abbreviated when long (the full value belongs in JSON).

    A decimal with trailing zeros (``0.3333``, ``-1.000``) is rounded; one without (``0.5``) is
    exact. A mapping (a point, a multi-output value) is shown name by name, a list item by item
    (a list of pairs as ``a: b; c: d``), a boolean as true/false, None as none; text that spells a
    rational is read as one; anything else is shown as it prints.

    >>> readable(sp.Integer(19)), readable(Fraction(1, 2)), readable(Fraction(-1, 3))
    ('19', '0.5 (1/2)', '-0.3333 (-1/3)')
    >>> readable(Fraction(2263712345678901234731, 112581234567890123456624))
    '0.02011 (22637...731/11258...624)'
    >>> readable(sp.Rational(-1073741823, 1073741824)), readable("897/905"), readable(True)
    ('-1.000 (-1073741823/1073741824)', '0.9912 (897/905)', 'true')
    >>> readable({"y1": Fraction(1, 4), "y2": 3}), readable(10**40)
    ('y1 = 0.25 (1/4), y2 = 3', '1.000e+40 (10000...000)')
    >>> readable([[1, "refuted"], [10, "proved"]]), readable(["1/2", None])
    ('1: refuted; 10: proved', '0.5 (1/2), none')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, Mapping):
        return ", ".join(f"{k} = {readable(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, (list, tuple)) and len(v) == 2 for v in value):
            return "; ".join(f"{readable(k)}: {readable(v)}" for k, v in value)  # pairs, e.g. (q, verdict)
        return ", ".join(readable(v) for v in value)
    if isinstance(value, str):
        if not _RATIONAL_TEXT.match(value):
            return value
        value = Fraction(value.strip())
    if isinstance(value, sp.Basic):
        if not value.is_Rational:
            return show(value)
        value = fraction_of(value)
    if isinstance(value, int):
        value = Fraction(value)
    if not isinstance(value, Fraction):
        return str(value)
    if value.denominator == 1 and len(str(abs(value.numerator))) <= MAX_DIGITS:
        return str(value.numerator)
    with decimal.localcontext(decimal.Context(prec=_SIGNIFICANT, Emax=10**9, Emin=-10**9)):
        approx = decimal.Decimal(value.numerator) / decimal.Decimal(value.denominator)
    exact = Fraction(approx) == value
    shown = _decimal_text(approx.normalize() if exact else approx)
    sign = "-" if value < 0 else ""
    fraction = _digits(abs(value.numerator)) + ("" if value.denominator == 1 else f"/{_digits(value.denominator)}")
    return f"{shown} ({sign}{fraction})"


def _decimal_text(d: decimal.Decimal) -> str:
    """A decimal in plain notation between 1e-5 and 1e12, else ``1.234e+40``."""
    if d.is_zero():
        return "0"
    exponent = d.adjusted()
    if -5 <= exponent < MAX_DIGITS:
        return format(d, "f")
    return format(d, ".3e")
