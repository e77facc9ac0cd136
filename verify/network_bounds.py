"""Bounds of a network's neurons over a box: exact intervals, exact ranges by the worst-case engine, sensitivities.

Used by :mod:`verify.simplification` to justify each step, and by :mod:`proofs.extract`.

>>> from symbolic.circuit import from_layers
>>> net = from_layers([([[1], [-2]], None), ([[3, -1]], None)])
>>> {k: str(v) for k, v in sensitivities(net).items()}
{'y': '1', 'h1_1': '3', 'h1_2': '1', 'x': '5'}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from fractions import Fraction

from symbolic import errors
from symbolic.activation import RELU_AND_LINEAR
from symbolic.budget import Deadline
from symbolic.circuit import Activation, Assignment, Circuit, to_fraction
from symbolic.exact import rational_of
from verify.domain import Domain, FiniteSet, IntegerRange, RealInterval

Box = Mapping[str, tuple[Fraction, Fraction]]

def bounding_box(domain: Domain, inputs) -> dict[str, tuple[Fraction, Fraction]]:
    """The smallest closed box containing ``domain`` over ``inputs``; DomainError when unbounded."""
    box = {}
    for name in inputs:
        s = domain.of(name)
        if isinstance(s, (RealInterval, IntegerRange)) and s.bounded:
            box[name] = (Fraction(s.lo), Fraction(s.hi))
        elif isinstance(s, FiniteSet):
            box[name] = (s.values[0], s.values[-1])
        else:
            raise errors.DomainError(f"{name} ranges over {s}: simplifying needs a bounded domain, "
                                     "e.g. --domain \"[-1, 1]^2\"")
    return box


def _weights(a: Assignment) -> tuple[dict[str, Fraction], Fraction]:
    try:
        return {s: to_fraction(c) for s, c in a.terms}, to_fraction(a.bias)
    except errors.InvalidCircuitError:
        raise errors.ClaimError(f"{a.name} has a symbolic weight: simplifying needs numeric weights") from None


def intervals(circuit: Circuit, box: Box, exact: dict | None = None, deadline: Deadline | None = None,
              refine: set | frozenset = frozenset()) -> dict[str, tuple[Fraction, Fraction]]:
    """An exact enclosure of every pre-activation (and of every input) over ``box``.

    Interval arithmetic is exact for neurons that read only inputs, and loose deeper (it forgets
    that the neurons it adds are correlated). With ``exact`` (a cache, a dict) the pre-activations
    of the deeper ReLU neurons named in ``refine`` are instead bounded by their exact extremes over
    the box, computed by :func:`exact_range`.

    >>> from symbolic.circuit import from_layers
    >>> net = from_layers([([[1, -1]], [Fraction(1, 2)]), ([[2]], None)], inputs=['a', 'b'])
    >>> {k: tuple(map(str, v)) for k, v in intervals(net, {'a': (0, 1), 'b': (0, 1)}).items()}
    {'a': ('0', '1'), 'b': ('0', '1'), 'h1_1': ('-1/2', '3/2'), 'y': ('0', '3')}
    """
    pre = {name: (Fraction(lo), Fraction(hi)) for name, (lo, hi) in box.items()}
    value = dict(pre)
    inputs = set(circuit.inputs)
    for a in circuit.assignments:
        if a.activation not in RELU_AND_LINEAR:
            raise errors.ClaimError(f"{a.name} is a {a.activation.value}: simplifying works on ReLU and linear networks")
        weights, bias = _weights(a)
        lo = hi = bias
        for s, c in weights.items():
            vlo, vhi = value[s]
            lo, hi = (lo + c * vlo, hi + c * vhi) if c > 0 else (lo + c * vhi, hi + c * vlo)
        if exact is not None and a.name in refine and lo < 0 < hi and not set(weights) <= inputs:
            lo, hi = exact_range(circuit, a.name, box, (lo, hi), exact, deadline)
        pre[a.name] = (lo, hi)
        value[a.name] = a.activation.interval(lo, hi)
    return pre


#: Wall-clock budget of one exact range (two maxima); when it ends the proved bounds so far are used.
RANGE_SECONDS = 2.0


def exact_range(circuit: Circuit, name: str, box: Box, enclosure: tuple[Fraction, Fraction], cache: dict,
                deadline: Deadline | None = None) -> tuple[Fraction, Fraction]:
    """Bounds on ``name``'s pre-activation over ``box``: its exact minimum and maximum when the
    worst-case engine finds them within the budget, else its proved bounds (never looser than
    ``enclosure``, an interval already known to contain it).

    With ``L <= z <= U`` known, ``max z = L + sup |z - L|`` and ``min z = U - sup |z - U|``, and
    :func:`verify.worst_case.max_error` computes those suprema exactly (regions for 1-2 inputs,
    branch and bound beyond), or a proved upper bound when its budget ends.
    """
    import sympy as sp

    from symbolic.budget import Deadline as Budget
    from verify.domain import Domain as Dom
    from verify.worst_case import max_error

    cone = circuit.cone([name])
    key = (name, cone)
    if key in cache:
        return cache[key]
    pre = dataclasses.replace(cone[-1], activation=Activation.LINEAR)
    sub = dataclasses.replace(circuit, assignments=(*cone[:-1], pre), outputs=(name,))
    domain = Dom({n: RealInterval(lo, hi) for n, (lo, hi) in box.items()})
    lo, hi = enclosure
    budget = Budget(RANGE_SECONDS if deadline is None else max(min(RANGE_SECONDS, deadline.remaining()), 0.01))
    found = []
    for end, sign in ((lo, 1), (hi, -1)):
        worst = max_error(sub, rational_of(end), domain, deadline=budget)
        bound = worst.value if worst.value is not None else worst.upper
        found.append(None if bound is None else end + sign * Fraction(bound))
    top, bottom = found
    result = (lo if bottom is None else max(lo, bottom), hi if top is None else min(hi, top))
    cache[key] = result
    return result


def sensitivities(circuit: Circuit) -> dict[str, Fraction]:
    """For every name, a bound on how much the output moves per unit its value moves: the sum
    over paths to the output of the products of absolute weights.

    >>> from symbolic.circuit import from_layers
    >>> net = from_layers([([[1], [-2]], None), ([[3, -1]], None)])
    >>> {k: str(v) for k, v in sensitivities(net).items()}
    {'y': '1', 'h1_1': '3', 'h1_2': '1', 'x': '5'}
    """
    out = {circuit.output: Fraction(1)}
    for a in reversed(circuit.assignments):
        s = out.get(a.name, Fraction(0))
        out.setdefault(a.name, s)
        if s == 0:
            continue
        for source, c in _weights(a)[0].items():
            out[source] = out.get(source, Fraction(0)) + abs(c) * s
    return out


def forward(circuit: Circuit, points: Mapping, zeroed=frozenset(), pre: dict | None = None) -> dict:
    """Float values (numpy arrays) of every name at a batch of points given as one array per input;
    neurons in ``zeroed`` are forced to 0 (an ablation) and ``pre``, a dict, receives every
    pre-activation. Floating point: it guides and describes, it never decides."""
    import numpy as np

    env = dict(points)
    size = len(next(iter(points.values()))) if points else 1
    for a in circuit.assignments:
        z = np.full(size, float(a.bias))
        for source, c in a.terms:
            z = z + float(c) * env[source]
        if pre is not None:
            pre[a.name] = z
        env[a.name] = np.zeros(size) if a.name in zeroed else a.activation.numpy(z)
    return env


def sampled_ranges(circuit: Circuit, box: Box, count: int = 512, seed: int = 0) -> dict[str, tuple[float, float]]:
    """Smallest and largest pre-activation of every assignment over seeded sample points of the
    box (corners included): floating point, only to choose where exact bounds are worth computing."""
    import itertools

    import numpy as np

    names = list(circuit.inputs)
    rng = np.random.default_rng(seed)
    env = {n: rng.uniform(float(box[n][0]), float(box[n][1]), count) for n in names}
    if len(names) <= 6:
        corners = np.array(list(itertools.product(*[(float(box[n][0]), float(box[n][1])) for n in names])))
        env = {n: np.concatenate([env[n], corners[:, k]]) for k, n in enumerate(names)}
    pre: dict = {}
    forward(circuit, env, pre=pre)
    return {name: (float(np.min(z)), float(np.max(z))) for name, z in pre.items()}
