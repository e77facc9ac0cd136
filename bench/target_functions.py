"""The bench's target functions, each exactly as a ReLU network (for the ``N - f`` ONNX files) and as plain math.

A target is ``f(x1, ..., xn)`` on ``[-1, 1]^n``: ``min2``, ``min3``, ``min4``, ``median3`` and
``range4`` (max minus min of four). Each :class:`Target` gives

* ``exact(xs)``: the value in exact rationals (the reference; used to test the rest);
* ``program``: the same function as ReLU layers with integer weights, built from
  ``min(a, b) = a - R(a - b)``, ``max(a, b) = a + R(b - a)`` and ``a = R(a) - R(-a)``:
  ``min3 = m1 - R(m1 - c)`` with ``m1 = min(a, b)``; ``min4 = m1 - R(m1 - m2)`` with
  ``m2 = min(c, d)``; ``median3 = c + R(m1 - c) - R(c - M1)`` with ``M1 = max(a, b)`` (since
  ``min(a, b) + max(a, b) = a + b``, ``a + b + c - min - max`` collapses to this); ``range4 =
  |a - b| + |c - d| ... `` precisely ``R(a - b) + R(b - a) + R(M2 - M1) + R(m1 - m2)``
  (``max4 - min4 = (M1 - m1) + R(M2 - M1) + R(m1 - m2)``);
* ``sympy()`` and ``z3(xs)``: the target for the toolkit's claim and for the z3 baseline (imports
  are local, so a z3 worker never loads sympy and vice versa).

>>> from fractions import Fraction as F
>>> xs = [F(1, 3), F(-1, 2), F(1, 5), F(0)]
>>> [TARGETS[n].exact(xs[:TARGETS[n].inputs]) for n in ("min3", "min4", "median3", "range4")]
[Fraction(-1, 2), Fraction(-1, 2), Fraction(1, 5), Fraction(5, 6)]
>>> all(TARGETS[n].evaluate_program(xs[:TARGETS[n].inputs]) == TARGETS[n].exact(xs[:TARGETS[n].inputs])
...     for n in TARGETS)
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from fractions import Fraction

Row = tuple[dict[int, int], int]  # one neuron: {index of a previous feature: integer weight}, bias


@dataclasses.dataclass(frozen=True)
class Target:
    """One target function: its arity, text, exact value and exact ReLU program."""

    name: str
    inputs: int
    text: str  # e.g. "min(x1, x2, x3)"
    exact: Callable[[Sequence[Fraction]], Fraction]
    hidden: tuple[tuple[Row, ...], ...]  # ReLU layers; layer 0 reads the inputs
    output: dict[int, int]  # linear output over the last hidden layer (no bias)

    def evaluate_program(self, xs: Sequence[Fraction]) -> Fraction:
        """The ReLU program at ``xs``, exactly (equals :attr:`exact` everywhere)."""
        values = list(xs)
        for layer in self.hidden:
            values = [max(Fraction(0), sum(w * values[i] for i, w in row.items()) + b) for row, b in layer]
        return sum(w * values[i] for i, w in self.output.items())

    def dense(self) -> list[tuple[list[list[int]], list[int]]]:
        """The program as dense layers ``[(W [out, in], b), ...]``; the last one is the linear output."""
        out, width = [], self.inputs
        for layer in self.hidden:
            out.append(([[row.get(i, 0) for i in range(width)] for row, _ in layer], [b for _, b in layer]))
            width = len(layer)
        out.append(([[self.output.get(i, 0) for i in range(width)]], [0]))
        return out

    def sympy(self):
        """The target as a sympy expression over ``x1 .. xn`` (for the toolkit's claim)."""
        import sympy as sp

        from symbolic.relu import sym

        xs = [sym(f"x{i + 1}") for i in range(self.inputs)]
        if self.name.startswith("min"):
            return sp.Min(*xs)
        if self.name == "median3":
            return sum(xs) - sp.Min(*xs) - sp.Max(*xs)
        if self.name == "range4":
            return sp.Max(*xs) - sp.Min(*xs)
        raise ValueError(f"no sympy form for {self.name}")

    def z3(self, xs):
        """The target over z3 terms ``xs``, written as ``If`` chains (the baseline's encoding)."""
        import z3

        def lo(a, b):
            return z3.If(a < b, a, b)

        def hi(a, b):
            return z3.If(a > b, a, b)

        def fold(f, items):
            acc = items[0]
            for item in items[1:]:
                acc = f(acc, item)
            return acc

        if self.name.startswith("min"):
            return fold(lo, xs)
        if self.name == "median3":
            return sum(xs) - fold(lo, xs) - fold(hi, xs)
        if self.name == "range4":
            return fold(hi, xs) - fold(lo, xs)
        raise ValueError(f"no z3 form for {self.name}")


def _row(*pairs, bias: int = 0) -> Row:
    return {i: w for i, w in pairs}, bias


def _median(xs):
    return sorted(xs)[1]


# Layer-0 features are named in the comments; a = x1, b = x2, c = x3, d = x4 (indices 0..3).
TARGETS = {
    "min2": Target("min2", 2, "min(x1, x2)", min,
                   # R(a), R(-a), R(a - b)
                   ((_row((0, 1)), _row((0, -1)), _row((0, 1), (1, -1))),),
                   {0: 1, 1: -1, 2: -1}),
    "min3": Target("min3", 3, "min(x1, x2, x3)", min,
                   # 0 R(a), 1 R(-a), 2 R(a-b), 3 R(c), 4 R(-c); then carry 0-2 and R(m1 - c)
                   ((_row((0, 1)), _row((0, -1)), _row((0, 1), (1, -1)), _row((2, 1)), _row((2, -1))),
                    (_row((0, 1)), _row((1, 1)), _row((2, 1)), _row((0, 1), (1, -1), (2, -1), (3, -1), (4, 1)))),
                   {0: 1, 1: -1, 2: -1, 3: -1}),
    "min4": Target("min4", 4, "min(x1, x2, x3, x4)", min,
                   # 0 R(a), 1 R(-a), 2 R(a-b), 3 R(c), 4 R(-c), 5 R(c-d); then carry 0-2 and R(m1 - m2)
                   ((_row((0, 1)), _row((0, -1)), _row((0, 1), (1, -1)), _row((2, 1)), _row((2, -1)),
                     _row((2, 1), (3, -1))),
                    (_row((0, 1)), _row((1, 1)), _row((2, 1)),
                     _row((0, 1), (1, -1), (2, -1), (3, -1), (4, 1), (5, 1)))),
                   {0: 1, 1: -1, 2: -1, 3: -1}),
    "median3": Target("median3", 3, "x1 + x2 + x3 - min(x1, x2, x3) - max(x1, x2, x3)", _median,
                      # 0 R(c), 1 R(-c), 2 R(a), 3 R(-a), 4 R(a-b), 5 R(b-a); then carry 0-1, R(m1 - c), R(c - M1)
                      ((_row((2, 1)), _row((2, -1)), _row((0, 1)), _row((0, -1)), _row((0, 1), (1, -1)),
                        _row((1, 1), (0, -1))),
                       (_row((0, 1)), _row((1, 1)), _row((2, 1), (3, -1), (4, -1), (0, -1), (1, 1)),
                        _row((0, 1), (1, -1), (2, -1), (3, 1), (5, -1)))),
                      {0: 1, 1: -1, 2: 1, 3: -1}),
    "range4": Target("range4", 4, "max(x1, x2, x3, x4) - min(x1, x2, x3, x4)", lambda xs: max(xs) - min(xs),
                     # 0 R(a-b), 1 R(b-a), 2 R(c-d), 3 R(d-c), 4 R(a), 5 R(-a), 6 R(c), 7 R(-c);
                     # then carry 0-1, R(M2 - M1), R(m1 - m2)
                     ((_row((0, 1), (1, -1)), _row((1, 1), (0, -1)), _row((2, 1), (3, -1)), _row((3, 1), (2, -1)),
                       _row((0, 1)), _row((0, -1)), _row((2, 1)), _row((2, -1))),
                      (_row((0, 1)), _row((1, 1)),
                       _row((6, 1), (7, -1), (3, 1), (4, -1), (5, 1), (1, -1)),
                       _row((4, 1), (5, -1), (0, -1), (6, -1), (7, 1), (2, 1)))),
                     {0: 1, 1: 1, 2: 1, 3: 1}),
}
