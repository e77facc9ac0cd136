"""The certificate a Result stands on: branch and bound's split tree, a counterexample's point, or a bundle.

:func:`certificate_of` returns the JSON-ready certificate (docs/certificates.md) of a decided
claim, or raises :class:`NoCertificate` saying why there is none: a proof without one, an unknown
verdict, or a claim the formats cannot write (symbolic weights, a target outside the expression
format). Proofs by regions, exhaustive evaluation and z3 (its SMT-LIB query, ``"kind": "smt"``,
:mod:`verify.claim_to_smtlib`) carry their certificate in ``Result.certificate``, built when first
read; a refutation of a claim without
the engine's network form (a predicate, a sigmoid, a ``Mod`` or ``Piecewise`` target) is written as
an ``"exhaustive"`` certificate with its point. :func:`bundle` makes one
``"kind": "all"`` certificate from several (a property with several input boxes).

>>> import sympy as sp
>>> from symbolic.circuit import from_layers
>>> from symbolic.relu import sym
>>> from verify.claim import Claim, Equality
>>> from verify.domain import Domain, RealInterval
>>> from verify.result import Result, Verdict, confirmed
>>> net = from_layers([([[1], [-1]], None), ([[1, 1]], None)])   # relu(x) + relu(-x)
>>> claim = Claim(net, sym('x'), Domain({'x': RealInterval(-1, 1)}), Equality())
>>> refuted = Result(claim, Verdict.REFUTED, "falsification", 0.0, confirmed(claim, {'x': Fraction(-1, 2)}, "test"))
>>> cert = certificate_of(refuted)
>>> cert["kind"], cert["point"], cert["domain"]
('counterexample', {'x': '-1/2'}, {'x': {'interval': ['-1', '1'], 'open': [False, False]}})
>>> from verify.certificate import check
>>> check(cert).ok
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction

from verify.claim_to_problem import Problem, claim_to_problem
from verify.domain import FiniteSet, IntegerRange, RealInterval
from verify.result import Result, Verdict
from verify.tree_to_certificate import exact_text, network_json

FORMAT, VERSION = "mathcircuits-certificate", 1


class NoCertificate(Exception):
    """The result has no certificate; the message says why (for people)."""


def certificate_of(result: Result) -> dict:
    """The certificate of ``result`` (proved by branch and bound, or refuted), else NoCertificate."""
    if result.verdict is Verdict.PROVED:
        if result.certificate is None:
            raise NoCertificate(f"the proof by {result.method} has no certificate (branch and bound, regions, "
                                "exhaustive evaluation and z3 write them)")
        return dict(result.certificate)
    if result.verdict is Verdict.REFUTED:
        problem = claim_to_problem(result.claim)
        if problem is None:  # no network form (a predicate, a sigmoid, Mod, Piecewise): the point, exhaustive kind
            from verify.finite_claim_to_certificate import exhaustive_certificate

            try:
                return exhaustive_certificate(result.claim, result.counterexample.point)
            except NoCertificate as exc:  # e.g. symbolic weights: the negation query, satisfiable
                return _sat_query(result, exc)
        return counterexample_certificate(problem, result.counterexample.point)
    raise NoCertificate(f"an {result.verdict.value} verdict has no certificate")


def _sat_query(result: Result, why: NoCertificate) -> dict:
    """A refutation by z3 that no point certificate can hold: its negation query, expected ``sat``."""
    if not result.method.endswith("z3"):
        raise why
    from symbolic import errors
    from verify.claim_to_smtlib import Certificate, claim_query

    try:
        query = claim_query(result.claim)
    except errors.MathCircuitsError as exc:
        raise NoCertificate(f"{why}; and the claim has no SMT-LIB query ({exc})") from None
    return dict(Certificate(result.claim, query.assertions, result.method, "sat"))


def counterexample_certificate(problem: Problem, point: Mapping[str, Fraction]) -> dict:
    """The ``"kind": "counterexample"`` certificate of ``point`` for ``problem`` (replayed first)."""
    reached = problem.reached(point)
    if reached is None or not problem.in_domain(point):
        raise ValueError("the point is not a counterexample of the problem")  # a toolkit bug: callers replay first
    return {
        "format": FORMAT, "version": VERSION, "kind": "counterexample",
        "network": network_json(problem.circuit),
        "domain": {n: _set_json(s) for n, s in zip(problem.inputs, problem.sets)},
        "unsafe": _unsafe_json(problem.unsafe),
        "point": {n: exact_text(point[n]) for n in problem.inputs},
        "reached": reached,
        "source": dict(problem.source or {}),
    }


def bundle(certificates: Sequence[Mapping], source: Mapping | None = None) -> dict:
    """One certificate that holds when every one of ``certificates`` does (a single one is returned as is)."""
    if len(certificates) == 1:
        return dict(certificates[0])
    return {"format": FORMAT, "version": VERSION, "kind": "all", "parts": [dict(c) for c in certificates],
            "source": dict(source or {})}


def _set_json(s) -> dict:
    if isinstance(s, RealInterval):
        return {"interval": [_end(s.lo), _end(s.hi)], "open": [bool(s.lo_open), bool(s.hi_open)]}
    if isinstance(s, IntegerRange):
        return {"integers": [_end(s.lo), _end(s.hi)]}
    assert isinstance(s, FiniteSet)
    return {"values": [exact_text(v) for v in s.values]}


def _end(value) -> str | None:
    return None if value is None else exact_text(value)


def _unsafe_json(unsafe) -> list:
    return [[{"coeffs": {n: exact_text(c) for n, c in atom.coeffs}, "op": atom.op, "rhs": exact_text(atom.rhs)}
             for atom in disjunct] for disjunct in unsafe]
