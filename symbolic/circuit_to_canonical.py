"""Canonical form of a circuit modulo the ReLU symmetries: scaling, dead and duplicate neurons, order."""

from __future__ import annotations

import re
from fractions import Fraction

import sympy as sp

from symbolic import budget
from symbolic.budget import Deadline
from symbolic.circuit import Activation, Assignment, Circuit
from symbolic.exact import fraction_of

Affine = dict[str, sp.Expr]  # source -> coefficient; the bias lives under the key "" (empty name)
_BIAS = ""


def _affine(a: Assignment, env: dict[str, Affine]) -> Affine:
    """``a``'s pre-activation with every inlined (linear or folded) source substituted."""
    out: Affine = {_BIAS: a.bias}
    for source, coeff in a.terms:
        for name, c in env.get(source, {source: sp.S.One}).items():
            out[name] = out.get(name, sp.S.Zero) + coeff * c
    return {k: v for k, v in out.items() if v != 0 or k == _BIAS}


def _scale(affine: Affine) -> sp.Expr:
    """The largest absolute weight (bias included), or 1 when a weight is symbolic or all are 0."""
    values = list(affine.values())
    if not all(v.is_Rational for v in values):
        return sp.S.One
    largest = max(abs(v) for v in values)
    return largest if largest != 0 else sp.S.One


def _sort_value(value: sp.Expr):
    if value.is_Rational:
        return (0, fraction_of(value), "")
    return (1, Fraction(0), sp.sstr(value))


def canonicalize(circuit: Circuit, deadline: Deadline | None = None) -> Circuit:
    """The canonical representative of ``circuit``'s symmetry class.

    - linear assignments that are not outputs are inlined into their readers;
    - each ReLU neuron ``R(w.u + b)`` is rescaled so that ``max(|w|, |b|) = 1``, the positive
      factor moving into its outgoing weights (``R(c z) = c R(z)``);
    - a ReLU with no incoming weights is the constant ``R(b)``, folded into its readers' biases;
    - neurons with identical (rescaled) pre-activations merge, adding their outgoing weights;
    - neurons that nothing reads (zero outgoing weights) are dropped;
    - neurons are sorted by depth, then by their weights, and renamed ``h{depth}_{index}``
      (``hh...`` when an input or output already has such a name).

    Two circuits that differ only by these symmetries get identical canonical forms. ``deadline``
    is checked per assignment.

    >>> from symbolic.circuit import from_layers
    >>> a = from_layers([([[2], [-3]], None), ([[sp.Rational(1, 2), -sp.Rational(1, 3)]], None)])
    >>> b = from_layers([([[-1], [1], [5]], None), ([[-1, 1, 0]], None)])
    >>> canonicalize(a) == canonicalize(b)
    True
    >>> print(canonicalize(a))
    inputs: x
    h1_1 = R(x)
    h1_2 = R(-x)
    y = h1_1 - h1_2
    outputs: y
    """
    outputs = set(circuit.outputs)
    env: dict[str, Affine] = {}  # names replaced by an affine form over kept names
    kept: list[Assignment] = []
    seen: dict[tuple, str] = {}
    for a in circuit.assignments:
        budget.check(deadline, "canonicalisation")
        affine = _affine(a, env)
        bias = affine.pop(_BIAS)
        if a.activation is Activation.LINEAR and a.name not in outputs:
            env[a.name] = {**affine, _BIAS: bias}
            continue
        if a.activation.piecewise_linear and not affine and bias.is_Rational:  # a constant neuron
            value = a.activation.exact(bias)
            if a.name not in outputs:
                env[a.name] = {_BIAS: value}
                continue
        factor = sp.S.One
        if a.activation.positively_homogeneous and a.name not in outputs:  # f(c z) = c f(z)
            factor = _scale({**affine, _BIAS: bias})
            affine = {k: v / factor for k, v in affine.items()}
            bias = bias / factor
        key = (a.activation, tuple(sorted(affine.items(), key=lambda kv: kv[0])), bias)
        if a.name not in outputs and key in seen:
            env[a.name] = {seen[key]: factor}
            continue
        if a.name not in outputs:
            seen[key] = a.name
        kept.append(Assignment(a.name, tuple(affine.items()), bias, a.activation))
        if factor != 1:
            env[a.name] = {a.name: factor}
    return _order_and_rename(_drop_dead(circuit, kept, env))


def _drop_dead(circuit: Circuit, kept: list[Assignment], env: dict[str, Affine]) -> Circuit:
    """Drop neurons nothing reads; outputs that were inlined become linear outputs again."""
    assignments = list(kept)
    for name in circuit.outputs:
        if name in env and all(a.name != name for a in assignments):
            form = env[name]
            terms = tuple((k, v) for k, v in form.items() if k != _BIAS)
            assignments.append(Assignment(name, terms, form.get(_BIAS, 0), Activation.LINEAR))
    needed = set(circuit.outputs)
    alive = []
    for a in reversed(assignments):
        if a.name in needed:
            alive.append(a)
            needed.update(a.sources)
    return Circuit(circuit.inputs, tuple(reversed(alive)), circuit.outputs)


def hidden_stem(names) -> str:
    """The stem of generated hidden names ``{stem}{layer}_{index}``: ``h``, or ``hh``, ``hhh``, ...
    when a given name (an input or output) already has that shape.

    >>> hidden_stem(['x', 'y']), hidden_stem(['h1_1', 'y'])
    ('h', 'hh')
    """
    stem = "h"
    while any(re.fullmatch(re.escape(stem) + r"\d+_\d+", n) for n in names):
        stem += "h"
    return stem


def _order_and_rename(circuit: Circuit) -> Circuit:
    depth = circuit.depth()
    outputs = set(circuit.outputs)
    stem = hidden_stem([*circuit.inputs, *circuit.outputs])
    rename: dict[str, str] = {name: name for name in circuit.inputs}
    position: dict[str, int] = {name: i for i, name in enumerate(circuit.inputs)}
    layers: dict[int, list[Assignment]] = {}
    for a in circuit.assignments:
        if a.name not in outputs:
            layers.setdefault(depth[a.name], []).append(a)
    result: list[Assignment] = []
    for level in sorted(layers):
        layer = layers[level]
        layer.sort(key=lambda a: _weight_key(a, rename, position))
        for index, a in enumerate(layer, start=1):
            result.append(_relabel(a, f"{stem}{level}_{index}", rename, position))
        for index, a in enumerate(layer, start=1):
            rename[a.name] = f"{stem}{level}_{index}"
            position[rename[a.name]] = len(position)
    for a in circuit.assignments:
        if a.name in outputs:
            result.append(_relabel(a, a.name, rename, position))
            rename[a.name] = a.name
            position[a.name] = len(position)
    return Circuit(circuit.inputs, tuple(result), circuit.outputs)


def _weight_key(a: Assignment, rename: dict[str, str], position: dict[str, int]) -> tuple:
    weights = {rename[s]: c for s, c in a.terms}
    ordered = sorted(weights, key=lambda n: position[n])
    return (
        a.activation.value,
        tuple((position[n], _sort_value(-weights[n])) for n in ordered),
        _sort_value(-a.bias),
    )


def _relabel(a: Assignment, name: str, rename: dict[str, str], position: dict[str, int]) -> Assignment:
    terms = sorted(((rename[s], c) for s, c in a.terms), key=lambda t: position[t[0]])
    return Assignment(name, tuple(terms), a.bias, a.activation)
