"""Readable one-line text for expressions: Iverson brackets, R(.) for ReLU, exact rationals."""

from __future__ import annotations

import sympy as sp
from sympy.printing.str import StrPrinter


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
