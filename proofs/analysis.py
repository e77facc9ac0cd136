"""Understand a circuit: match it to library circuits, find sub-circuits, ablate and edit neurons with proofs."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable

import sympy as sp

from networks import library as lib
from symbolic import errors
from symbolic.circuit import Assignment, Circuit, to_exact
from symbolic.circuit_to_canonical import canonicalize
from symbolic.circuit_to_closed_form import closed_form, to_min_max
from symbolic.printing import show
from symbolic.relu import ReLU
from verify.claim import Claim
from verify.decide import Config, decide
from verify.domain import Domain
from verify.result import Result, Verdict

#: Library circuits a trained network is compared with: name -> builder taking input names.
LIBRARY: dict[str, Callable[..., Circuit]] = {
    "identity": lambda n: lib.make_identity(*n),
    "negative_identity": lambda n: lib.make_negative_identity(*n),
    "absolute_value": lambda n: lib.make_absolute_value(*n),
    "positiveness_detector": lambda n: lib.make_positiveness_detector(*n),
    "negativeness_detector": lambda n: lib.make_negativeness_detector(*n),
    "addition": lambda n: lib.make_addition(n),
    "subtraction": lambda n: lib.make_subtraction(n),
    "greaterness_detector": lambda n: lib.make_greaterness_detector(n),
    "minimum": lambda n: lib.make_minimum(n),
    "minimum_two_layer": lambda n: lib.make_minimum_two_layer(n),
    "equation_one": lambda n: lib.make_equation_one(n),
    "min_via_relu": lambda n: lib.make_min_via_relu(n),
    "minimum_of_four": lambda n: lib.make_minimum_of_four(n),
}
ARITY = {"identity": 1, "negative_identity": 1, "absolute_value": 1, "positiveness_detector": 1,
         "negativeness_detector": 1, "minimum_of_four": 4}


@dataclasses.dataclass(frozen=True)
class Match:
    """``circuit`` computes library circuit ``name`` with its inputs bound to ``inputs`` (proved);
    ``same_shape`` when the canonical forms agree too (equal up to rescaling, order, dead neurons)."""

    name: str
    inputs: tuple[str, ...]
    same_shape: bool
    result: Result

    @property
    def description(self) -> str:
        shape = "same circuit up to scaling/permutation" if self.same_shape else "same function, other circuit"
        return f"{self.name}({', '.join(self.inputs)}): {shape} (proved, {self.result.method})"


def match_library(circuit: Circuit, config: Config = Config(), domain: Domain | None = None) -> list[Match]:
    """Every library circuit that ``circuit`` provably equals on ``domain`` (default all of R^n),
    trying each ordering of the inputs.

    >>> [m.description for m in match_library(lib.make_min_via_relu(('x1', 'x2')))][:1]
    ['minimum(x1, x2): same function, other circuit (proved, z3)']
    """
    found = []
    n = len(circuit.inputs)
    for name, build in LIBRARY.items():
        if ARITY.get(name, 2) != n:
            continue
        seen = set()
        for order in itertools.permutations(circuit.inputs):
            candidate = build(order)
            key = canonicalize(candidate.renamed({}))
            if key in seen:
                continue
            seen.add(key)
            claim = Claim(circuit, candidate.to_expr(), domain or Domain())
            result = decide(claim, config)
            if result.verdict is Verdict.PROVED:
                same = canonicalize(circuit) == canonicalize(candidate.renamed({candidate.output: circuit.output}))
                found.append(Match(name, tuple(order), same, result))
                break
    return found


def sub_circuits(circuit: Circuit) -> list[str]:
    """Minimum/maximum sub-circuits: assignments whose closed form is a ``Min``/``Max`` written
    with ReLUs, e.g. ``Min(x1, x2) via x1 - R(x1 - x2) (at y)``.

    >>> sub_circuits(lib.make_minimum())
    ['Min(x1, x2) via x1 - R(x1 - x2) (at y)']
    >>> len(sub_circuits(lib.make_minimum_of_four()))
    3
    """
    found = []
    for a in circuit.assignments:
        form = closed_form(circuit, output=a.name)
        pretty = to_min_max(form)
        if isinstance(pretty, (sp.Min, sp.Max)) and pretty != form and not pretty.has(ReLU):
            found.append(f"{show(pretty)} via {show(form)} (at {a.name})")
    return found


def ablate(circuit: Circuit, neuron: str) -> Circuit:
    """The circuit with ``neuron`` removed (every weight reading it set to 0).

    >>> closed_form(ablate(lib.make_minimum(), 'h3'))
    x1
    """
    if neuron not in circuit.by_name or neuron in circuit.outputs:
        raise errors.InvalidCircuitError(f"{neuron!r} is not a hidden neuron (neurons: "
                                         f"{', '.join(a.name for a in circuit.neurons)})")
    kept = tuple(Assignment(a.name, tuple((s, c) for s, c in a.terms if s != neuron), a.bias, a.activation)
                 for a in circuit.assignments if a.name != neuron)
    return Circuit(circuit.inputs, kept, circuit.outputs)


def edit(circuit: Circuit, neuron: str, source: str, value: object) -> Circuit:
    """The circuit with the weight from ``source`` into ``neuron`` set to ``value`` (``source``
    may be ``"bias"``).

    >>> closed_form(edit(lib.make_minimum(), 'y', 'h3', 1), minmax=True)
    x1 + R(x1 - x2)
    """
    if neuron not in circuit.by_name:
        raise errors.InvalidCircuitError(f"{neuron!r} is not an assignment of the circuit")
    a = circuit.by_name[neuron]
    value = to_exact(value, f"new weight of {source} in {neuron}")
    if source == "bias":
        new = Assignment(a.name, a.terms, value, a.activation)
    else:
        known = set(circuit.inputs) | {b.name for b in circuit.assignments[:circuit.assignments.index(a)]}
        if source not in known:
            raise errors.InvalidCircuitError(f"{neuron} cannot read {source!r}: it is not defined before it")
        terms = dict(a.terms)
        terms[source] = value
        new = Assignment(a.name, tuple(terms.items()), a.bias, a.activation)
    return Circuit(circuit.inputs, tuple(new if b is a else b for b in circuit.assignments), circuit.outputs)


def explain(circuit: Circuit, config: Config = Config()) -> tuple[sp.Expr, Result]:
    """The closed form of ``circuit`` and the proof that the circuit computes it on all of R^n
    (inlining and deciding share ``config``'s budget)."""
    config = config.started()
    form = closed_form(circuit, minmax=True, deadline=config.deadline)
    return form, decide(Claim(circuit, form), config)
