"""Turn a claim into the engine's Problem: a network, an input box and an unsafe set of linear atoms.

Equality and Tolerance claims fold the target into the network (``d = N - f``, the target compiled
to ReLU neurons by :func:`symbolic.expr_to_circuit.difference_circuit`) and become "``d`` never
exceeds ``eps`` in absolute value": unsafe = ``(d > eps) or (-d > eps)`` (Equality: eps = 0).
Unreachable claims map directly. Predicates, sigmoids, symbolic weights and targets that are not
continuous piecewise-linear (``Piecewise``, ``floor``, ...) give ``None``: the method chooser then
uses another method.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from fractions import Fraction

import numpy as np

from symbolic import errors
from symbolic.activation import RELU_AND_LINEAR
from symbolic.circuit import Circuit
from symbolic.expr_to_circuit import difference_circuit
from verify.circuit_to_layers import Layers, circuit_to_layers
from verify.claim import Claim, Equality, Tolerance, Unreachable
from verify.domain import FiniteSet, IntegerRange, RealInterval
from verify.output_set import Atom


@dataclasses.dataclass(frozen=True, eq=False)
class Spec:
    """One disjunct's atoms normalised to ``g_i(v) <= 0`` (or ``< 0`` when strict), as arrays:
    ``g = G_out . outputs + G_in . inputs - r``, in float64 (nearest) and exactly."""

    out: np.ndarray                 # (m, n_outputs)
    inp: np.ndarray                 # (m, n_inputs)
    rhs: np.ndarray                 # (m,)
    strict: np.ndarray              # (m,) bool
    exact_out: tuple[tuple[Fraction, ...], ...]
    exact_inp: tuple[tuple[Fraction, ...], ...]
    exact_rhs: tuple[Fraction, ...]

    @property
    def size(self) -> int:
        return len(self.exact_rhs)


@dataclasses.dataclass(frozen=True, eq=False)
class Problem:
    """"No point of ``box`` makes ``circuit`` reach ``unsafe``", ready for the engine.

    ``box[i] = (lo, hi)`` per input (``None`` for an infinite end); ``sets[i]`` is the input's
    domain set (the falsifier keeps integer and finite-set inputs on their points; bounds work on
    the closed hull, which is sound for "never reaches"). ``claim`` is the claim counterexamples are
    replayed against; ``source`` describes it for certificates.
    """

    circuit: Circuit
    layers: Layers
    box: tuple[tuple[Fraction | None, Fraction | None], ...]
    sets: tuple[object, ...]
    unsafe: tuple[tuple[Atom, ...], ...]
    specs: tuple[Spec, ...]
    claim: Claim | None = None
    source: Mapping | None = None

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.circuit.inputs

    @property
    def bounded(self) -> bool:
        return all(lo is not None and hi is not None for lo, hi in self.box)

    def in_domain(self, point: Mapping[str, Fraction]) -> bool:
        """Exact membership of ``point`` in the domain (not only its hull)."""
        return all(s.contains(Fraction(point[n])) for n, s in zip(self.inputs, self.sets))

    def reached(self, point: Mapping[str, Fraction]) -> int | None:
        """Exactly: the first disjunct of ``unsafe`` that ``point`` reaches, else None."""
        env = self.circuit.evaluate_all(point)
        values = {n: env[n] for n in self.circuit.outputs} | {n: Fraction(point[n]) for n in self.inputs}
        for index, atoms in enumerate(self.unsafe):
            if all(atom.holds(values) for atom in atoms):
                return index
        return None


def compile_spec(atoms: Sequence[Atom], inputs: Sequence[str], outputs: Sequence[str]) -> Spec:
    """Normalise atoms to ``g <= 0`` / ``g < 0`` (``a.v >= r`` becomes ``r - a.v``) as arrays.

    >>> s = compile_spec([Atom((('y', 1),), '>', Fraction(1, 10))], ['x'], ['y'])
    >>> s.exact_out, s.exact_rhs, s.strict
    (((Fraction(-1, 1),),), (Fraction(-1, 10),), array([ True]))
    """
    rows_out, rows_in, rhs, strict = [], [], [], []
    for atom in atoms:
        sign = 1 if atom.op in ("<=", "<") else -1
        out = [Fraction(0)] * len(outputs)
        inp = [Fraction(0)] * len(inputs)
        for name, c in atom.coeffs:
            if name in outputs:
                out[list(outputs).index(name)] += sign * c
            elif name in inputs:
                inp[list(inputs).index(name)] += sign * c
            else:
                raise errors.ClaimError(f"the unsafe set names {name}, which is neither an input nor an output")
        rows_out.append(tuple(out))
        rows_in.append(tuple(inp))
        rhs.append(sign * atom.rhs)
        strict.append(atom.op in ("<", ">"))
    m = len(rhs)
    to_float = np.vectorize(float, otypes=[np.float64])
    return Spec(to_float(np.array(rows_out, dtype=object)).reshape(m, len(outputs)),
                to_float(np.array(rows_in, dtype=object)).reshape(m, len(inputs)),
                to_float(np.array(rhs, dtype=object)).reshape(m), np.array(strict, dtype=bool),
                tuple(rows_out), tuple(rows_in), tuple(rhs))


def _hull(s) -> tuple[Fraction | None, Fraction | None]:
    if isinstance(s, RealInterval):
        return s.lo, s.hi
    if isinstance(s, IntegerRange):
        return (None if s.lo is None else Fraction(s.lo)), (None if s.hi is None else Fraction(s.hi))
    assert isinstance(s, FiniteSet)
    return s.values[0], s.values[-1]


def make_problem(circuit: Circuit, unsafe: Sequence[Sequence[Atom]], sets: Sequence[object],
                 claim: Claim | None = None, source: Mapping | None = None) -> Problem:
    """A Problem from its parts (the circuit must have numeric ReLU/linear weights)."""
    layers = circuit_to_layers(circuit)
    unsafe = tuple(tuple(d) for d in unsafe)
    specs = tuple(compile_spec(d, circuit.inputs, circuit.outputs) for d in unsafe)
    box = tuple(_hull(s) for s in sets)
    return Problem(circuit, layers, box, tuple(sets), unsafe, specs, claim, source)


def claim_to_problem(claim: Claim) -> Problem | None:
    """The engine's Problem for ``claim``, or None when the engine cannot express it.

    >>> import sympy as sp
    >>> from symbolic.circuit import from_layers
    >>> from symbolic.relu import sym
    >>> from verify.domain import Domain
    >>> net = from_layers([([[1], [-1]], None), ([[1, 1]], None)])
    >>> p = claim_to_problem(Claim(net, sp.Abs(sym('x')), Domain({'x': RealInterval(-1, 1)}), Tolerance(Fraction(1, 8))))
    >>> p.circuit.outputs, [str(a) for d in p.unsafe for a in d], p.box
    (('difference',), ['difference > 1/8', 'difference < -1/8'], ((Fraction(-1, 1), Fraction(1, 1)),))
    """
    circuit = claim.circuit
    if claim.parameters or any(a.activation not in RELU_AND_LINEAR for a in circuit.assignments):
        return None
    kind = claim.kind
    if isinstance(kind, Unreachable):
        unsafe = kind.unsafe.disjuncts
        if not unsafe or not all(unsafe):  # empty set, or a disjunct without atoms (all of space)
            return None
    elif isinstance(kind, (Equality, Tolerance)):
        try:
            circuit = difference_circuit(circuit, claim.target, claim.output)
        except (errors.NonPiecewiseLinearError, errors.InvalidCircuitError):
            return None
        if circuit.parameters:
            return None
        d = circuit.output
        eps = kind.eps if isinstance(kind, Tolerance) else Fraction(0)
        unsafe = ((Atom(((d, 1),), ">", eps),), (Atom(((d, -1),), ">", eps),))
    else:
        return None
    sets = tuple(claim.domain.of(n) for n in circuit.inputs)
    source = {"statement": claim.statement(), "kind": type(kind).__name__}
    return make_problem(circuit, unsafe, sets, claim, source)
