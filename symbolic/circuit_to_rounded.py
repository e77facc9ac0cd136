"""Round a circuit's exact weights to the simplest nearby rationals (bounded denominators)."""

from __future__ import annotations


import sympy as sp

from symbolic import budget, errors
from symbolic.budget import Deadline
from symbolic.circuit import Assignment, Circuit
from symbolic.circuit_to_canonical import canonicalize
from symbolic.exact import fraction_of, rational_of

#: Denominator bounds tried in turn, smallest first.
DENOMINATORS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 25, 32, 50, 64, 100, 128, 256, 1000)


def simplest(value: sp.Expr, max_denominator: int) -> sp.Rational:
    """The closest rational with denominator at most ``max_denominator`` (continued fractions).

    >>> simplest(sp.Rational(333, 1000), 3), simplest(sp.Rational(-9999, 10000), 1)
    (1/3, -1)
    """
    if not value.is_Rational:
        raise errors.InvalidCircuitError(f"cannot round the symbolic weight {value}")
    exact = fraction_of(value).limit_denominator(max_denominator)
    return rational_of(exact)


def round_weights(circuit: Circuit, max_denominator: int, deadline: Deadline | None = None) -> Circuit:
    """Canonicalise, round every weight and bias with :func:`simplest`, and canonicalise again
    (weights that round to 0 disappear, neurons that become equal merge).

    >>> from symbolic.circuit import from_layers
    >>> net = from_layers([([[0.98, -1.01], [-0.51, 0.0]], None), ([[1.02, -2.03]], None)])
    >>> print(round_weights(net, 1))
    inputs: x1, x2
    h1_1 = R(x1 - x2)
    h1_2 = R(-x1)
    y = h1_1 - h1_2
    outputs: y
    """
    if max_denominator < 1:
        raise errors.InvalidCircuitError(f"max_denominator must be >= 1, got {max_denominator}")
    canonical = canonicalize(circuit, deadline)
    rounded = []
    for a in canonical.assignments:
        budget.check(deadline, "rounding")
        rounded.append(Assignment(a.name, tuple((s, simplest(c, max_denominator)) for s, c in a.terms),
                                  simplest(a.bias, max_denominator), a.activation))
    return canonicalize(Circuit(canonical.inputs, tuple(rounded), canonical.outputs), deadline)


def rounding_shift(circuit: Circuit, max_denominator: int, deadline: Deadline | None = None) -> sp.Rational:
    """How far rounding moves the weights of ``circuit`` (pass its canonical form, which is what
    :func:`round_weights` rounds): the largest ``|rounded - w|`` relative to the largest ``|w|``
    (bias included) of the same assignment.

    >>> from symbolic.circuit import from_layers
    >>> rounding_shift(from_layers([([[1], [-1]], None), ([[sp.Rational(1, 2), -1]], None)]), 1)
    1/2
    """
    worst = sp.S.Zero
    for a in circuit.assignments:
        budget.check(deadline, "rounding")
        values = [c for _, c in a.terms] + [a.bias]
        if not all(v.is_Rational for v in values):
            continue
        scale = max(abs(v) for v in values)
        if scale == 0:
            continue
        worst = max(worst, max(abs(simplest(v, max_denominator) - v) for v in values) / scale)
    return worst


def largest_denominator(circuit: Circuit) -> int:
    """The largest denominator among the weights and biases (1 for integer weights)."""
    values = [c for a in circuit.assignments for _, c in a.terms] + [a.bias for a in circuit.assignments]
    return max((int(v.q) for v in values if v.is_Rational), default=1)
