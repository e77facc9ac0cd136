"""Name what each hidden neuron computes: positiveness, negativeness, greaterness, thresholds, reconstructors."""

from __future__ import annotations

import dataclasses

import sympy as sp

from symbolic.circuit import Activation, Assignment, Circuit
from symbolic.printing import show
from symbolic.relu import ReLU, sym


@dataclasses.dataclass(frozen=True)
class Feature:
    """What neuron ``neuron`` computes: ``neuron = scale * R(direction)`` with ``scale > 0`` and
    the direction's largest weight (or bias) of size 1. ``kind`` is ``positiveness``,
    ``negativeness``, ``greaterness``, ``threshold``, ``detector`` (a linear combination whose
    mirror image is also a neuron) or ``unnamed`` (nothing known matches)."""

    neuron: str
    kind: str
    description: str
    direction: sp.Expr
    scale: sp.Expr = sp.S.One

    @property
    def named(self) -> bool:
        return self.kind != "unnamed"

    def claim_expr(self) -> sp.Expr:
        """``scale * R(direction)``: the neuron equals it (over its sources), a provable claim."""
        return self.scale * ReLU(self.direction)


@dataclasses.dataclass(frozen=True)
class Reconstructor:
    """A pair ``R(z)``, ``R(-z)`` read by ``consumer``, which rebuilds ``rebuilds`` from them
    (``a z`` when the weights are ``a, -a``; ``a |z|`` when they are equal)."""

    positive: str
    negative: str
    consumer: str
    rebuilds: sp.Expr

    @property
    def description(self) -> str:
        return f"{self.consumer} rebuilds {show(self.rebuilds)} from {self.positive} and {self.negative}"


def _normalised(a: Assignment) -> tuple[sp.Expr, sp.Expr]:
    """``(direction, scale)`` with ``pre-activation = scale * direction`` and ``scale > 0``."""
    values = [c for _, c in a.terms] + [a.bias]
    scale = sp.S.One
    if all(v.is_Rational for v in values) and any(v != 0 for v in values):
        scale = max(abs(v) for v in values)
    direction = sp.Add(*(c / scale * sym(s) for s, c in a.terms), a.bias / scale)
    return direction, scale


def _hidden(circuit: Circuit) -> list[Assignment]:
    outputs = set(circuit.outputs)
    return [a for a in circuit.assignments if a.activation is Activation.RELU and a.name not in outputs]


def reconstructors(circuit: Circuit) -> list[Reconstructor]:
    """Pairs of hidden neurons with opposite directions and the assignments recombining them."""
    hidden = _hidden(circuit)
    by_direction = {sp.expand(_normalised(a)[0]): a for a in hidden}
    found = []
    for a in hidden:
        z, scale_a = _normalised(a)
        mirror = by_direction.get(sp.expand(-z))
        if mirror is None or mirror.name < a.name:
            continue
        scale_b = _normalised(mirror)[1]
        for consumer in circuit.assignments:
            wa = consumer.coefficient(a.name) * scale_a
            wb = consumer.coefficient(mirror.name) * scale_b
            if wa != 0 and wa == -wb:
                found.append(Reconstructor(a.name, mirror.name, consumer.name, wa * z))
            elif wa != 0 and wa == wb:
                found.append(Reconstructor(a.name, mirror.name, consumer.name, wa * sp.Abs(z)))
    return found


def _name_one(a: Assignment, mirrored: bool) -> Feature:
    z, scale = _normalised(a)
    terms = {s: c / scale for s, c in a.terms}
    bias = a.bias / scale
    if bias == 0 and len(terms) == 1:
        (source, c), = terms.items()
        kind = "positiveness" if c > 0 else "negativeness"
        return Feature(a.name, kind, f"{kind} detector of {source}", z, scale)
    if bias == 0 and len(terms) == 2:
        (s1, c1), (s2, c2) = terms.items()
        if c1 == -c2:
            big, small = (s1, s2) if c1 > 0 else (s2, s1)
            return Feature(a.name, "greaterness", f"greaterness detector {big} > {small}", z, scale)
    if len(terms) == 1:
        (source, c), = terms.items()
        op = ">" if c > 0 else "<"
        return Feature(a.name, "threshold", f"threshold detector {source} {op} {show(-bias / c)}", z, scale)
    if mirrored:
        return Feature(a.name, "detector", f"positiveness detector of {show(z)}", z, scale)
    return Feature(a.name, "unnamed", f"matches no known feature: R({show(z)})", z, scale)


def name_features(circuit: Circuit) -> list[Feature]:
    """A name for every hidden ReLU neuron of ``circuit``, in order; a neuron that matches
    nothing is reported as ``unnamed``, never forced into a name. Directions are over the
    neuron's own sources (inputs, or earlier neurons in deeper nets).

    >>> from networks.library import make_minimum
    >>> [f.description for f in name_features(make_minimum())]
    ['positiveness detector of x1', 'negativeness detector of x1', 'greaterness detector x1 > x2']
    """
    mirrored = {n for r in reconstructors(circuit) for n in (r.positive, r.negative)}
    return [_name_one(a, a.name in mirrored) for a in _hidden(circuit)]
