"""Verdicts on the shared table: expected verdicts, independent replay, sampling and mutation."""

from __future__ import annotations

import itertools
import random
import re
from fractions import Fraction

import pytest
import sympy as sp

from symbolic import errors
from symbolic.circuit import Assignment, Circuit
from symbolic.relu import sym
from tests.cases import CASES, CATALOGUE, LIBRARY
from verify.claim import Claim, Equality, Predicate, Tolerance
from verify.decide import Config, decide
from verify.domain import Domain, IntegerRange
from verify.realizability import Unrealizable, decide_unrealizable
from verify.result import Result, Verdict


def independent_value(expr: sp.Basic, point: dict) -> sp.Basic:
    """Evaluate with sympy's own machinery (not the toolkit's evaluators): substituting numbers
    rebuilds the expression bottom-up, and ReLU, Min, Abs, Mod, Piecewise evaluate on numbers."""
    subs = {sym(k): sp.Rational(v.numerator, v.denominator) for k, v in point.items()}
    value = expr.xreplace(subs)
    assert value.is_number or value in (sp.true, sp.false), value
    return value


def assert_replays(result: Result) -> None:
    """A refuted verdict's counterexample really violates the claim (checked here, independently)."""
    claim, cex = result.claim, result.counterexample
    assert cex is not None
    assert claim.domain.contains(cex.point)
    if not isinstance(claim, Claim):
        return
    network = independent_value(claim.circuit.to_expr(claim.output), cex.point)
    target = independent_value(claim.target, cex.point)
    assert network == sp.Rational(cex.network_value.numerator, cex.network_value.denominator) \
        if isinstance(cex.network_value, Fraction) else True
    if isinstance(claim.kind, Equality):
        assert network != target
    elif isinstance(claim.kind, Tolerance):
        assert abs(network - target) > sp.Rational(claim.kind.eps.numerator, claim.kind.eps.denominator)
    else:
        fires = {">": network > claim.kind.threshold, ">=": network >= claim.kind.threshold,
                 "<": network < claim.kind.threshold, "<=": network <= claim.kind.threshold}[claim.kind.op]
        assert bool(fires) != bool(target)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_table_case_gets_its_expected_verdict(case):
    result = decide(case.claim())
    assert result.verdict is case.expected, result.reason
    if result.verdict is Verdict.REFUTED:
        assert_replays(result)


@pytest.mark.parametrize("theorem", CATALOGUE, ids=lambda t: t.name)
def test_catalogue_theorem_gets_its_expected_verdict(theorem):
    result = theorem.run()
    assert result.verdict is theorem.expected, result.reason
    if result.verdict is Verdict.REFUTED:
        assert_replays(result)


def _grid(names, count=7):
    values = [Fraction(v, 2) for v in range(-count, count + 1)] + [Fraction(1, 3), Fraction(-22, 7)]
    if len(names) > 2:
        rng = random.Random(0)
        return [dict(zip(names, rng.sample(values, len(names)))) for _ in range(60)]
    return [dict(zip(names, combo)) for combo in itertools.product(values, repeat=len(names))]


@pytest.mark.parametrize("name,make,target", LIBRARY, ids=[n for n, _, _ in LIBRARY])
def test_library_circuit_matches_target_on_dense_samples(name, make, target):
    """Differential: exact circuit evaluation vs sympy's evaluation of the target."""
    circuit = make()
    for point in _grid(circuit.inputs):
        (value,) = circuit.evaluate(point)
        assert sp.Rational(value.numerator, value.denominator) == independent_value(target, point), point


def _mutants(circuit: Circuit, delta=sp.Rational(1, 2)):
    """Every copy of ``circuit`` with one weight or bias moved by ``delta``."""
    for i, a in enumerate(circuit.assignments):
        slots = [("bias", None)] + [("term", j) for j in range(len(a.terms))]
        for slot, j in slots:
            if slot == "bias":
                new = Assignment(a.name, a.terms, a.bias + delta, a.activation)
            else:
                terms = list(a.terms)
                terms[j] = (terms[j][0], terms[j][1] + delta)
                new = Assignment(a.name, tuple(terms), a.bias, a.activation)
            yield f"{a.name}.{slot}{'' if j is None else j}", Circuit(
                circuit.inputs, circuit.assignments[:i] + (new,) + circuit.assignments[i + 1:], circuit.outputs)


MUTATION_CASES = [(t.name, t) for t in CATALOGUE
                  if isinstance(t.claim, Claim) and t.expected is Verdict.PROVED and isinstance(t.claim.kind, Equality)
                  and not t.claim.circuit.parameters and t.claim.domain.sets == {} or t.name.startswith("is_even_4bit")
                  and t.expected is Verdict.PROVED]


#: Weights where neither +1/2 nor -1/2 changes the function, each proved so here (findings):
#: - first-version minimum: R(m) may read R(-x1) with any weight <= 0 (for x1 < 0 both sides are 0);
#: - is_even: the last pair's R(s - 1) never fires on the domain (s is 0 or 1 there), so its output
#:   weight is irrelevant.
REDUNDANT = {
    ("minimum_two_layer", "h2_1.term1"),
    ("minimum_two_layer_closed_form", "h2_1.term1"),
    ("is_even_4bit", "y.term1"),
    ("is_even_4bit_signed", "y.term1"),
}
DELTAS = (sp.Rational(1, 2), -sp.Rational(1, 2))


@pytest.mark.parametrize("name,theorem", MUTATION_CASES, ids=[n for n, _ in MUTATION_CASES])
def test_every_weight_matters(name, theorem):
    """Moving a weight or bias by +1/2 or -1/2 is refuted (with a replayed counterexample) for
    at least one of the two moves; one-hidden-layer circuits on R^n fail under both moves."""
    claim = theorem.claim
    one_layer = max(claim.circuit.depth().values()) <= 1 and not claim.domain.sets
    verdicts: dict[str, list[Verdict]] = {}
    for delta in DELTAS:
        for where, mutant in _mutants(claim.circuit, delta):
            result = decide(Claim(mutant, claim.target, claim.domain, claim.kind))
            assert result.verdict is not Verdict.UNKNOWN, where
            if result.verdict is Verdict.REFUTED:
                assert_replays(result)
            verdicts.setdefault(where, []).append(result.verdict)
    for where, found in verdicts.items():
        if (name, where) in REDUNDANT:
            assert found == [Verdict.PROVED, Verdict.PROVED], f"{where} was expected to be redundant"
        elif one_layer:
            assert found == [Verdict.REFUTED, Verdict.REFUTED], f"moving {where} went unnoticed"
        else:
            assert Verdict.REFUTED in found, f"moving {where} by +-1/2 went unnoticed"
    assert len(verdicts) >= 3


def test_mutation_of_identity_family_is_refuted_with_parameters():
    theorem = next(t for t in CATALOGUE if t.name == "identity_family")
    circuit = theorem.claim.circuit
    for where, mutant in _mutants(circuit):
        result = decide(Claim(mutant, theorem.claim.target, theorem.claim.domain))
        assert result.verdict is not Verdict.PROVED, where


def test_timeout_gives_unknown_never_proved():
    """A hard query under a tiny budget is 'unknown' (never 'proved')."""
    from symbolic.circuit import Builder

    b = Builder(["x"])
    h1 = b.relu({"x": sym("a1")}, sym("b1"))
    h2 = b.add({h1: sym("a2"), "x": sym("e")}, sym("b2"))
    circuit = b.build([b.linear({h1: sym("c1"), h2: sym("c2"), "x": sym("f")}, sym("d"), name="y")])
    points = tuple({"x": Fraction(i)} for i in range(8))
    result = decide_unrealizable(Unrealizable(circuit, sp.Mod(sym("x"), 2), points), timeout_s=0.05)
    assert result.verdict is Verdict.UNKNOWN
    assert result.reason


def test_exhaustive_and_z3_agree_on_finite_domains():
    case = next(c for c in CASES if c.name == "is_even_5bit")
    small = decide(case.claim(), Config(max_points=4096))
    forced = decide(case.claim(), Config(max_points=0))
    assert (small.method, forced.method) == ("exhaustive", "z3")
    assert small.verdict is forced.verdict is Verdict.PROVED


def test_refuted_verdict_without_counterexample_is_impossible():
    case = CASES[0]
    with pytest.raises(ValueError):
        Result(case.claim(), Verdict.REFUTED, "z3", 0.0)


@pytest.mark.parametrize("target,error,fragment", [
    (sym("x1") * sym("x2"), errors.NonPiecewiseLinearError, "x1*x2"),
    (sp.sin(sym("x1")), errors.UnsupportedExpressionError, "sin(x1)"),
    (sym("x1") ** 2, errors.NonPiecewiseLinearError, "x1**2"),
])
def test_unencodable_target_is_a_clear_error_naming_the_subexpression(target, error, fragment):
    from networks.library import make_minimum

    with pytest.raises(error, match=re.escape(fragment)):
        decide(Claim(make_minimum(), target + 1))


def test_claim_rejects_unknown_target_variables():
    from networks.library import make_minimum

    with pytest.raises(errors.ClaimError, match="y"):
        Claim(make_minimum(), sym("y"))


def test_predicate_needs_condition_and_equality_needs_number():
    from networks.library import make_minimum

    with pytest.raises(errors.ClaimError):
        Claim(make_minimum(), sym("x1"), kind=Predicate())
    with pytest.raises(errors.ClaimError):
        Claim(make_minimum(), sym("x1") > 0)


def test_integer_domain_refutation_is_an_integer():
    from networks.library import make_absolute_value

    result = decide(Claim(make_absolute_value(), sym("x"), Domain({"x": IntegerRange(-50, None)})),
                    Config(max_points=0))
    assert result.verdict is Verdict.REFUTED
    assert result.counterexample.point["x"].denominator == 1 and result.counterexample.point["x"] < 0


def test_result_notebook_display_names_verdict_and_escapes_text():
    from networks.library import make_minimum

    result = decide(Claim(make_minimum(), sp.Max(sym("x1"), sym("x2"))))
    html = result._repr_html_()
    assert "refuted" in html and "replayed exactly" in html and "<script" not in html
    assert "refuted" in result._repr_latex_()
