"""Output sets and the Unreachable claim kind: exact atoms, strictness, DNF, z3 and exhaustive verdicts."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
import sympy as sp

from symbolic import errors
from symbolic.circuit import Activation, Builder, from_layers
from symbolic.relu import sym
from verify.claim import Claim, Unreachable, unreachable_claim
from verify.decide import Config, decide
from verify.domain import Domain, FiniteSet, IntegerRange, RealInterval
from verify.output_set import Atom, OutputSet, from_condition, linear_form
from verify.result import Verdict, replay

F = Fraction
Y0, Y1, Y2, X = sym("Y_0"), sym("Y_1"), sym("Y_2"), sym("x")


def abs_and_identity():
    """y1 = |x| = R(x) + R(-x), y2 = x = R(x) - R(-x): two outputs."""
    return from_layers([([[1], [-1]], None), ([[1, 1], [1, -1]], None)])


def atom(op, rhs, **coeffs):
    return Atom(tuple(coeffs.items()), op, rhs)


def test_atom_normalises_coefficients():
    a = Atom((("Y_10", 1), ("Y_2", F(1, 2)), ("Y_2", F(-1, 2)), ("Y_1", -3)), "<=", F(1, 3))
    assert a.coeffs == (("Y_1", F(-3)), ("Y_10", F(1)))  # merged, zero dropped, natural order
    assert a.names() == {"Y_1", "Y_10"}
    assert str(a) == "Y_10 <= 3*Y_1 + 1/3"


@pytest.mark.parametrize("coeffs,op", [((), "<="), ((("Y_0", 0),), "<="), ((("Y_0", 1),), "=<"),
                                       ((("1x", 1),), "<")])
def test_bad_atoms_are_refused(coeffs, op):
    with pytest.raises(errors.ClaimError):
        Atom(coeffs, op, 0)


@pytest.mark.parametrize("op,value,expected", [("<=", 1, True), ("<", 1, False), (">=", 1, True), (">", 1, False),
                                               ("<", F(999, 1000), True), (">", F(1001, 1000), True)])
def test_strict_and_non_strict_are_kept_exactly(op, value, expected):
    assert atom(op, 1, Y_0=1).holds({"Y_0": F(value)}) is expected


def test_atom_needs_every_value():
    with pytest.raises(errors.ClaimError, match="Y_1"):
        atom("<=", 0, Y_0=1, Y_1=-1).holds({"Y_0": F(0)})


def test_reached_is_the_first_disjunct_that_holds():
    s = OutputSet(((atom(">", 5, Y_0=1),), (atom(">=", 0, Y_0=1), atom("<=", 0, Y_1=1)), (atom(">=", 0, Y_0=1),)))
    assert s.reached({"Y_0": F(1), "Y_1": F(0)}) == 1
    assert s.reached({"Y_0": F(6), "Y_1": F(0)}) == 0
    assert s.reached({"Y_0": F(1), "Y_1": F(1)}) == 2
    assert s.reached({"Y_0": F(-1), "Y_1": F(1)}) is None
    assert OutputSet(()).reached({}) is None and str(OutputSet(())) == "false"
    assert OutputSet(((),)).reached({}) == 0 and str(OutputSet(((),))) == "true"


def test_from_condition_handles_not_eq_ne_and_refuses_nonlinear():
    assert str(from_condition(sp.Eq(Y0, 1))) == "Y_0 <= 1 and Y_0 >= 1"
    assert len(from_condition(sp.Ne(Y0, Y1)).disjuncts) == 2
    assert str(from_condition(sp.Not(Y0 <= 2))) == "Y_0 > 2"
    assert from_condition(sp.Not((Y0 < 1) & (Y1 < 1))).disjuncts == ((atom(">=", 1, Y_0=1),), (atom(">=", 1, Y_1=1),))
    assert linear_form(3 * (Y0 - 2 * Y1) / 4 + 1) == ({"Y_0": F(3, 4), "Y_1": F(-3, 2)}, F(1))
    for bad in (Y0 * Y1 <= 1, sp.Abs(Y0) <= 1, Y0 + 1):
        with pytest.raises(errors.ClaimError):
            from_condition(bad)


def test_to_sympy_round_trips_through_from_condition():
    s = OutputSet(((atom("<=", 0, Y_1=1, Y_0=-1), atom("<", F(-1, 2), Y_2=2)), (atom(">", 3, Y_0=1),)))
    again = from_condition(s.to_sympy())
    assert {frozenset(d) for d in again.disjuncts} == {frozenset(d) for d in s.disjuncts}


def test_claim_checks_names_target_and_output():
    net = abs_and_identity()
    unsafe = OutputSet(((atom("<", 0, y1=1),),))
    claim = unreachable_claim(net, unsafe)
    assert claim.output is None and isinstance(claim.kind, Unreachable)
    assert claim.statement() == "N(x) never reaches y1 < 0"
    with pytest.raises(errors.ClaimError, match="z"):
        unreachable_claim(net, OutputSet(((atom("<", 0, z=1),),)))
    with pytest.raises(errors.ClaimError, match="condition"):
        Claim(net, Y0 < 0, Domain(), Unreachable(unsafe))
    with pytest.raises(errors.ClaimError, match="all outputs"):
        Claim(net, unsafe.to_sympy(), Domain(), Unreachable(unsafe), output="y1")
    with pytest.raises(errors.ClaimError, match="domain"):
        unreachable_claim(net, unsafe, Domain({"q": RealInterval(0, 1)}))


def test_holds_at_evaluates_every_output():
    claim = unreachable_claim(abs_and_identity(), OutputSet(((atom(">", 0, y1=1, y2=1),),)))
    assert claim.holds_at({"x": F(-3)}) == (True, {"y1": F(3), "y2": F(-3)}, None)
    assert claim.holds_at({"x": F(1, 3)}) == (False, {"y1": F(1, 3), "y2": F(1, 3)}, 0)


def test_z3_proves_and_refutes_with_strictness():
    net = abs_and_identity()
    box = Domain({"x": RealInterval(0, 1)})
    holds = decide(unreachable_claim(net, OutputSet(((atom(">", 1, y2=1),),)), box), Config(engine=False))
    assert holds.verdict is Verdict.PROVED and holds.method == "z3"
    violated = decide(unreachable_claim(net, OutputSet(((atom(">=", 1, y2=1),),)), box))
    assert violated.verdict is Verdict.REFUTED
    cex = violated.counterexample
    assert cex.point == {"x": F(1)} and cex.network_value == {"y1": F(1), "y2": F(1)} and cex.reached == 0
    open_box = Domain({"x": RealInterval(0, 1, hi_open=True)})
    assert decide(unreachable_claim(net, OutputSet(((atom(">=", 1, y2=1),),)), open_box)).verdict is Verdict.PROVED


def test_refuted_point_is_in_the_box_and_reaches_the_set():
    net = abs_and_identity()
    unsafe = OutputSet(((atom(">", 10, y1=1),), (atom(">=", F(1, 2), y1=1, x=-1), atom("<", 0, x=1))))
    claim = unreachable_claim(net, unsafe, Domain({"x": RealInterval(-1, 1)}))
    result = decide(claim)
    assert result.verdict is Verdict.REFUTED
    point = result.counterexample.point
    assert claim.domain.contains(point) and result.counterexample.reached == 1
    assert replay(claim, point) == result.counterexample
    data = json.loads(json.dumps(result.to_json()))
    assert data["reached_disjunct"] == 1 and set(data["outputs"]) == {"y1", "y2"}
    assert data["target_value"] == "true" and data["network_value"].startswith("y1 = ")


def test_empty_and_full_output_sets():
    net = abs_and_identity()
    assert decide(unreachable_claim(net, OutputSet(()))).verdict is Verdict.PROVED
    full = decide(unreachable_claim(net, OutputSet(((),)), Domain({"x": RealInterval(2, 3)})))
    assert full.verdict is Verdict.REFUTED and 2 <= full.counterexample.point["x"] <= 3


@pytest.mark.parametrize("domain,verdict", [(Domain({"x": IntegerRange(-3, 3)}), Verdict.PROVED),
                                            (Domain({"x": FiniteSet((F(1, 2), 4))}), Verdict.REFUTED)])
def test_exhaustive_on_finite_domains(domain, verdict):
    result = decide(unreachable_claim(abs_and_identity(), OutputSet(((atom(">", 3, y1=1),),)), domain))
    assert result.method == "exhaustive" and result.verdict is verdict


def test_sigmoid_outputs_are_compared_rigorously():
    b = Builder(["x"])
    s = b.add({"x": 1}, 0, Activation.SIGMOID, name="s")
    net = b.build([s, b.linear({"x": 1}, name="y")])
    on_points = Domain({"x": FiniteSet((-2, 0, 2))})
    assert decide(unreachable_claim(net, OutputSet(((atom(">=", 1, s=1),),)), on_points)).verdict is Verdict.PROVED
    half = decide(unreachable_claim(net, OutputSet(((atom(">", F(88, 100), s=1),),)), on_points))
    assert half.verdict is Verdict.REFUTED and half.counterexample.point == {"x": F(2)}


def test_unknown_is_never_proved(monkeypatch):
    import z3

    net = abs_and_identity()
    monkeypatch.setattr(z3.Solver, "check", lambda self, *a: z3.unknown)
    result = decide(unreachable_claim(net, OutputSet(((atom("<", 0, y1=1),),))), Config(timeout_s=0.1))
    assert result.verdict is Verdict.UNKNOWN and result.counterexample is None
