"""Interval bounds of every neuron over a domain, so that neurons of fixed sign need no case split."""

from __future__ import annotations

from collections.abc import Mapping

from symbolic import budget
from symbolic.budget import Deadline
from symbolic.circuit import Activation, Assignment, Circuit
from symbolic.exact import Q, q_of
from verify.domain import Domain, FiniteSet, IntegerRange, RealInterval

Bound = tuple[object | None, object | None]  # (lo, hi); None is -oo / +oo


def _input_bound(s) -> Bound:
    if isinstance(s, FiniteSet):
        return q_of(s.values[0]), q_of(s.values[-1])
    if isinstance(s, IntegerRange):
        return (None if s.lo is None else Q(s.lo)), (None if s.hi is None else Q(s.hi))
    assert isinstance(s, RealInterval)
    lo = None if s.lo is None else q_of(s.lo)
    hi = None if s.hi is None else q_of(s.hi)
    return lo, hi


def _scale(c, bound: Bound) -> Bound:
    lo, hi = bound
    if c >= 0:
        return (None if lo is None else c * lo), (None if hi is None else c * hi)
    return (None if hi is None else c * hi), (None if lo is None else c * lo)


def interval_bounds(circuit: Circuit, domain: Domain, deadline: Deadline | None = None) -> dict[str, Bound] | None:
    """Sound interval bounds of every name over ``domain`` (None when weights are symbolic).

    >>> from networks.library import make_minimum
    >>> b = interval_bounds(make_minimum(), Domain({'x1': RealInterval(0, 1), 'x2': RealInterval(2, 3)}))
    >>> [str(v) for v in b['h2']], [str(v) for v in b['h3']]
    (['0', '0'], ['0', '0'])
    """
    if circuit.parameters:
        return None
    bounds: dict[str, Bound] = {n: _input_bound(domain.of(n)) for n in circuit.inputs}
    for a in circuit.assignments:
        budget.check(deadline, "interval bounds")
        bounds[a.name] = a.activation.interval(*_pre_bound(a, bounds))
    return bounds


def _pre_bound(a: Assignment, bounds: Mapping[str, Bound]) -> Bound:
    """Interval of ``a``'s affine pre-activation from the intervals of its sources."""
    lo = hi = q_of(a.bias)
    for source, c in a.terms:
        s_lo, s_hi = _scale(q_of(c), bounds[source])
        lo = None if lo is None or s_lo is None else lo + s_lo
        hi = None if hi is None or s_hi is None else hi + s_hi
    return lo, hi


def stable_signs(circuit: Circuit, domain: Domain, deadline: Deadline | None = None) -> dict[str, int]:
    """For each ReLU neuron: +1 if its pre-activation is >= 0 on all of ``domain`` (the neuron is
    the identity there), -1 if it is <= 0 (the neuron is 0), 0 if it may change sign.

    >>> from networks.library import make_minimum
    >>> stable_signs(make_minimum(), Domain({'x1': RealInterval(0, 1)}))
    {'h1': 1, 'h2': -1, 'h3': 0}
    """
    bounds = interval_bounds(circuit, domain, deadline)
    if bounds is None:
        return {}
    signs = {}
    for a in circuit.assignments:
        budget.check(deadline, "interval bounds")
        if a.activation is Activation.RELU:
            lo, hi = _pre_bound(a, bounds)
            signs[a.name] = 1 if lo is not None and lo >= 0 else -1 if hi is not None and hi <= 0 else 0
    return signs
