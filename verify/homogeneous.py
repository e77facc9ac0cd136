"""The exact error of a bias-free network against a positively homogeneous target, on all of R^n.

If every assignment of N has bias 0 (ReLU and linear activations only, no symbolic weights), then
``N(t x) = t N(x)`` for every ``t >= 0``: ReLU commutes with positive scaling. If the target f is
built from the inputs by sums, constant multiples, ``min``, ``max`` and ``abs``, then
``f(t x) = t f(x)`` too. So ``d = N - f`` is positively homogeneous of degree 1, and for ``x != 0``
with ``m = max_i |x_i|`` the point ``x / m`` lies on the unit box ``[-1, 1]^n``:

    |d(x)| = m |d(x / m)| <= m c,   c = max over [-1, 1]^n of |d|.

So ``|N(x) - f(x)| <= c * max_i |x_i|`` on all of R^n (at ``x = 0`` both sides are 0), and ``c``
is the best such constant: it is attained at a point ``x*`` of the box, and ``|d(x*)| = c`` with
``max_i |x*_i| <= 1`` gives ``|d(x*)| >= c * max_i |x*_i|``. The exact ``c`` comes from
:func:`verify.worst_case.max_error` on the unit box (exact regions for 1-2 inputs, certified branch
and bound beyond).

>>> import sympy as sp
>>> from symbolic.circuit import from_layers
>>> from symbolic.relu import sym
>>> x1, x2 = sym('x1'), sym('x2')
>>> positively_homogeneous(sp.Min(x1, x2) + 2 * sp.Abs(x1)), positively_homogeneous(x1 + 1)
(True, False)
>>> net = from_layers([([[1, 0], [-1, 0], [1, -1]], None), ([[1, -1, sp.Rational(-9, 8)]], None)],
...                   inputs=['x1', 'x2'])            # x1 - (9/8) relu(x1 - x2): min(x1, x2) off by 1/8
>>> bound = relative_bound(net, sp.Min(x1, x2))
>>> str(bound.c), {k: str(v) for k, v in bound.at.items()}
('1/4', {'x1': '1', 'x2': '-1'})
>>> bound.statement(['x1', 'x2'])
'|N - f| <= 1/4 * max(|x1|, |x2|) on all of R^2'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from fractions import Fraction

import sympy as sp

from symbolic.budget import Deadline
from symbolic.circuit import Circuit


@dataclasses.dataclass(frozen=True)
class RelativeBound:
    """``|N(x) - f(x)| <= c * max_i |x_i|`` on all of R^n, with ``c`` exact and attained at ``at``
    (a point of the unit box with ``max_i |at_i| = 1``, where the bound is an equality)."""

    c: Fraction
    at: Mapping[str, Fraction]
    method: str

    def statement(self, inputs) -> str:
        norm = f"|{inputs[0]}|" if len(inputs) == 1 else f"max(|{'|, |'.join(inputs)}|)"
        return f"|N - f| <= {self.c} * {norm} on all of R^{len(inputs)}"


def bias_free(circuit: Circuit) -> bool:
    """Every assignment has bias 0, exact numeric weights, and a ReLU or linear activation."""
    return not circuit.parameters and all(
        a.bias == 0 and a.activation.positively_homogeneous
        and all(getattr(w, "is_Rational", False) for _, w in a.terms) for a in circuit.assignments)


def positively_homogeneous(expr: sp.Expr) -> bool:
    """``expr(t x) = t expr(x)`` for ``t >= 0``, read off the syntax: symbols, sums, a numeric multiple
    of one such term, min, max and abs (no constants, powers or conditions)."""
    stack = [expr]
    while stack:
        e = stack.pop()
        if isinstance(e, sp.Symbol) or e == 0:
            continue
        if isinstance(e, (sp.Add, sp.Min, sp.Max)):
            stack.extend(e.args)
        elif isinstance(e, sp.Abs):
            stack.append(e.args[0])
        elif isinstance(e, sp.Mul):
            terms = [a for a in e.args if not a.is_Number]
            if len(terms) != 1:
                return False
            stack.append(terms[0])
        else:
            return False
    return True


def relative_bound(circuit: Circuit, target: sp.Expr, output: str | None = None,
                   deadline: Deadline | None = None) -> RelativeBound | None:
    """The exact bound on all of R^n (module docstring), or None when N has biases, ``target`` is not
    positively homogeneous, or the exact maximum on the unit box is not reached within ``deadline``."""
    from verify.domain import Domain, RealInterval
    from verify.worst_case import max_error

    if not bias_free(circuit) or not positively_homogeneous(sp.sympify(target)):
        return None
    box = Domain({n: RealInterval(-1, 1) for n in circuit.inputs})
    worst = max_error(circuit, target, box, deadline=deadline, output=output)
    if worst.value is None or worst.at is None or not getattr(worst, "attained", True):
        return None
    point = {k: Fraction(v) for k, v in worst.at.items()}
    peak = max(abs(v) for v in point.values())
    if worst.value > 0 and peak != 1:  # homogeneity puts a positive maximum on the box's boundary
        raise AssertionError(f"the maximum {worst.value} of a homogeneous error is inside the box at {point}")
    return RelativeBound(Fraction(worst.value), point, worst.method)
