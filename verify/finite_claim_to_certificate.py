"""Write ``"kind": "exhaustive"`` certificates: a claim, its domain and verdict (and a failing point).

The format and its checker are in :mod:`verify.certificate_finite`. A proof needs a finite domain
(integer ranges with both ends, finite sets), which the checker enumerates itself; a refutation
names one point, which may come from any method and any domain. The network is written as it is
(ReLU, linear and sigmoid assignments with exact rational weights), the target in the exact
expression format (:mod:`verify.expr_json`). Symbolic weights and targets the format lacks raise
:class:`~verify.result_to_certificate.NoCertificate` with the reason.

>>> import sympy as sp
>>> from symbolic.circuit import from_layers
>>> from symbolic.relu import sym
>>> from verify.claim import Claim
>>> from verify.domain import Domain, IntegerRange
>>> net = from_layers([([[1], [-1]], None), ([[1, 1]], None)])      # R(x) + R(-x)
>>> cert = exhaustive_certificate(Claim(net, sp.Abs(sym('x')), Domain({'x': IntegerRange(-3, 3)})))
>>> cert["claim"], cert["domain"], cert["verdict"]
({'kind': 'equality', 'output': 'y', 'target': ['abs', ['var', 'x']]}, {'x': {'integers': ['-3', '3']}}, 'holds')
>>> from verify.certificate import check
>>> check(cert).summary()[:30]
'certificate checked: 7 points '
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

from symbolic.circuit import Circuit
from symbolic.exact import fraction_of
from verify.claim import Claim, Equality, Predicate, Tolerance, Unreachable
from verify.expr_json import expr_to_json
from verify.result_to_certificate import FORMAT, VERSION, NoCertificate, _set_json
from verify.tree_to_certificate import exact_text

#: The activations the format has, by their serialised names (``Activation.value``).
_ACTIVATIONS = frozenset({"relu", "linear", "sigmoid"})


def network_json(circuit: Circuit) -> dict:
    """The ``network`` object, sigmoids included; NoCertificate for symbolic weights."""
    if circuit.parameters:
        raise NoCertificate("the network has symbolic weights (parameters): a certificate needs numbers")
    assignments = []
    for a in circuit.assignments:
        if a.activation.value not in _ACTIVATIONS:
            raise NoCertificate(f"the assignment {a.name} has the activation {a.activation.value}, "
                                "which certificates do not have")
        numbers = [c for _, c in a.terms] + [a.bias]
        if not all(c.is_Rational for c in numbers):
            raise NoCertificate(f"the assignment {a.name} has a weight that is not a rational number")
        assignments.append({"name": a.name, "terms": [[s, _text(c)] for s, c in a.terms], "bias": _text(a.bias),
                            "activation": a.activation.value})
    return {"inputs": list(circuit.inputs), "assignments": assignments, "outputs": list(circuit.outputs)}


def _text(c) -> str:
    return exact_text(fraction_of(c))


def claim_json(claim: Claim) -> dict:
    """The ``claim`` object: kind, output, target (exact expression) and eps / op and threshold / unsafe."""
    kind = claim.kind
    if isinstance(kind, Unreachable):
        if not kind.unsafe.disjuncts or not all(kind.unsafe.disjuncts):
            raise NoCertificate("the unsafe set is empty or has a disjunct without atoms (all of space), "
                                "which certificates do not write")
        return {"kind": "unreachable",
                "unsafe": [[{"coeffs": {n: exact_text(c) for n, c in atom.coeffs}, "op": atom.op,
                             "rhs": exact_text(atom.rhs)} for atom in disjunct] for disjunct in kind.unsafe.disjuncts]}
    out = {"kind": type(kind).__name__.lower(), "output": claim.output, "target": expr_to_json(claim.target)}
    if isinstance(kind, Tolerance):
        out["eps"] = exact_text(kind.eps)
    elif isinstance(kind, Predicate):
        out.update(op=kind.op, threshold=exact_text(kind.threshold))
    else:
        assert isinstance(kind, Equality)
    return out


def exhaustive_certificate(claim: Claim, point: Mapping[str, Fraction] | None = None) -> dict:
    """The certificate that ``claim`` holds at every point of its finite domain, or (``point``
    given, a replayed counterexample) that it fails at ``point``."""
    inputs = claim.circuit.inputs
    if claim.parameters:
        raise NoCertificate("the claim has parameters (symbolic weights): the exhaustive certificate needs numbers")
    if point is None and not claim.domain.is_finite(inputs):
        raise NoCertificate(f"the domain {claim.domain.describe(inputs)} is not finite: an exhaustive "
                            "certificate enumerates integer ranges and finite sets")
    cert = {
        "format": FORMAT, "version": VERSION, "kind": "exhaustive",
        "network": network_json(claim.circuit),
        "claim": claim_json(claim),
        "domain": {n: _set_json(claim.domain.of(n)) for n in inputs},
        "verdict": "holds" if point is None else "fails",
    }
    if point is not None:
        cert["point"] = {n: exact_text(point[n]) for n in inputs}
    cert["source"] = {"statement": claim.statement(), "domain": claim.domain.describe(inputs)}
    if point is None:
        cert["stats"] = {"points": int(claim.domain.size(inputs))}
    return cert
