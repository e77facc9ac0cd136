"""Circuits: validation, exact evaluation, inlining, builders, canonical and closed forms."""

import random
from fractions import Fraction

import pytest
import sympy as sp

from networks import library as lib
from symbolic import errors
from symbolic.circuit import Activation, Assignment, Builder, Circuit, from_layers, to_exact
from symbolic.circuit_to_canonical import canonicalize
from symbolic.circuit_to_closed_form import closed_form, combine_relu_pairs, to_min_max
from symbolic.evaluate import evaluate_expr
from symbolic.expr_to_circuit import expr_to_circuit
from symbolic.relu import ReLU, sym
from tests.cases import LIBRARY
from verify.claim import Claim
from verify.decide import decide
from verify.result import Verdict

x1, x2 = sym("x1"), sym("x2")


def test_float_weights_become_their_exact_binary_value():
    assert to_exact(0.1) == sp.Rational(3602879701896397, 36028797018963968)
    with pytest.raises(errors.InvalidCircuitError, match="nan"):
        to_exact(float("nan"))
    with pytest.raises(errors.InvalidCircuitError):
        to_exact("1/2")


@pytest.mark.parametrize("build,fragment", [
    (lambda: Circuit(("x",), (Assignment("h", (("y", 1),)),), ("h",)), "reads y before"),
    (lambda: Circuit(("x",), (Assignment("x", (("x", 1),)),), ("x",)), "assigned twice"),
    (lambda: Circuit(("x",), (Assignment("h", (("x", 1),)),), ("z",)), "output 'z'"),
    (lambda: Circuit(("x", "x"), (), ("x",)), "declared twice"),
    (lambda: Assignment("1bad", ()), "not an identifier"),
])
def test_malformed_circuits_are_rejected_with_the_name(build, fragment):
    with pytest.raises(errors.InvalidCircuitError, match=fragment):
        build()


def test_all_problems_reported_at_once():
    with pytest.raises(errors.InvalidCircuitError) as info:
        Circuit(("x",), (Assignment("h", (("y", 1),)),), ("z",))
    assert "reads y" in str(info.value) and "output 'z'" in str(info.value)


def test_from_layers_shapes_and_names():
    c = from_layers([([[1, 2], [3, 4], [5, 6]], [0, 1, 2]), ([[1, 1, 1]], [sp.Rational(1, 2)])])
    assert c.inputs == ("x1", "x2") and c.outputs == ("y",)
    assert [a.name for a in c.neurons] == ["h1_1", "h1_2", "h1_3"]
    assert c.evaluate({"x1": 1, "x2": -1}) == (Fraction(1, 2) + 0 + 0 + 1,)
    with pytest.raises(errors.InvalidCircuitError, match="2 entries for 1"):
        from_layers([([[1, 2]], None), ([[1, 2]], None)])


def test_evaluation_matches_inlined_expression():
    rng = random.Random(1)
    for _ in range(20):
        layers = [([[Fraction(rng.randint(-5, 5), rng.randint(1, 4)) for _ in range(2)] for _ in range(3)],
                   [Fraction(rng.randint(-3, 3), 2) for _ in range(3)]),
                  ([[rng.randint(-3, 3) for _ in range(3)]], [1])]
        c = from_layers(layers)
        point = {"x1": Fraction(rng.randint(-9, 9), 3), "x2": Fraction(rng.randint(-9, 9), 7)}
        assert sp.Rational(c.evaluate(point)[0]) == c.to_expr().subs({x1: point["x1"], x2: point["x2"]})


def test_first_version_minimum_simplifies_to_the_short_formula():
    assert closed_form(lib.make_minimum_two_layer()) == x1 - ReLU(x1 - x2)
    assert closed_form(lib.make_minimum_two_layer(), minmax=True) == sp.Min(x1, x2)
    assert closed_form(lib.make_equation_one(), minmax=True) == sp.Min(sym("a"), sym("b"))
    assert closed_form(lib.make_identity()) == sym("x")
    assert closed_form(lib.make_absolute_value()) == sp.Abs(sym("x"))
    assert closed_form(lib.make_subtraction()) == x1 - x2
    assert closed_form(lib.make_minimum_of_four(), minmax=True) == sp.Min(x1, x2, sym("x3"), sym("x4"))


@pytest.mark.parametrize("name,make,target", LIBRARY, ids=[n for n, _, _ in LIBRARY])
def test_closed_form_is_proved_equal_to_the_circuit(name, make, target):
    circuit = make()
    for minmax in (False, True):
        result = decide(Claim(circuit, closed_form(circuit, minmax=minmax)))
        assert result.verdict is Verdict.PROVED


def test_pair_rules():
    z = x1 - x2
    assert combine_relu_pairs(3 * ReLU(z) - 3 * ReLU(-z)) == 3 * z
    assert combine_relu_pairs(ReLU(z) + ReLU(-z) + 1) == sp.Abs(z) + 1
    assert combine_relu_pairs(2 * ReLU(z) + ReLU(-z)) == 3 * ReLU(z) - z
    assert to_min_max(x1 + ReLU(x2 - x1)) == sp.Max(x1, x2)


def _random_symmetric_copy(circuit: Circuit, rng: random.Random) -> Circuit:
    """Rescale every ReLU by a random positive factor, add a dead neuron, shuffle each layer."""
    b = Builder(circuit.inputs)
    scale = {}
    for a in circuit.assignments:
        terms = {s: c / scale.get(s, 1) for s, c in a.terms}
        if a.activation is Activation.RELU and a.name not in circuit.outputs:
            k = sp.Rational(rng.randint(1, 9), rng.randint(1, 9))
            scale[a.name] = k
            b.relu({s: c * k for s, c in terms.items()}, a.bias * k, name=a.name)
        else:
            b.add(terms, a.bias, a.activation, name=a.name)
    dead = b.relu({circuit.inputs[0]: 3}, 1, name="dead")
    assert dead
    order = list(b.assignments)
    depth = Circuit(circuit.inputs, tuple(order), circuit.outputs).depth()
    outputs = [a for a in order if a.name in circuit.outputs]
    rest = [a for a in order if a.name not in circuit.outputs]
    rng.shuffle(rest)
    rest.sort(key=lambda a: (depth[a.name], a.activation is Activation.LINEAR))
    return Circuit(circuit.inputs, tuple(rest + outputs), circuit.outputs)


@pytest.mark.parametrize("name,make,target", LIBRARY, ids=[n for n, _, _ in LIBRARY])
def test_canonical_form_ignores_scaling_permutation_and_dead_neurons(name, make, target):
    rng = random.Random(name)
    circuit = make()
    canonical = canonicalize(circuit)
    for _ in range(3):
        assert canonicalize(_random_symmetric_copy(circuit, rng)) == canonical
    assert decide(Claim(circuit, canonical.to_expr())).verdict is Verdict.PROVED


def test_canonical_form_tells_different_circuits_apart():
    assert canonicalize(lib.make_minimum()) != canonicalize(lib.make_wrong_minimum(("x1", "x2")))
    assert canonicalize(lib.make_identity()) != canonicalize(lib.make_absolute_value())


def test_canonical_merges_duplicate_neurons():
    b = Builder(["x"])
    h1, h2 = b.relu({"x": 1}), b.relu({"x": 2})
    c = canonicalize(b.build([b.linear({h1: 1, h2: 1}, name="y")]))
    assert len(c.neurons) == 1 and c.evaluate({"x": 1}) == (Fraction(3),)


def test_expr_to_circuit_shares_repeated_relus_and_rejects_products():
    c = expr_to_circuit(ReLU(x1) + 2 * ReLU(x1) - ReLU(x1 - x2))
    assert len(c.neurons) == 2
    with pytest.raises(errors.NonPiecewiseLinearError, match=r"x1\*x2"):
        expr_to_circuit(x1 * x2)
    with pytest.raises(errors.NonPiecewiseLinearError):
        expr_to_circuit(sp.floor(x1))


@pytest.mark.parametrize("expr", [
    sp.Min(x1, x2) - sp.Abs(x1) / 3, sp.Piecewise((x1, x1 > x2), (2, True)), sp.Mod(x1, 3),
    sp.floor(x1 / 2) + sp.ceiling(x2), sp.Heaviside(x1 - x2, sp.Rational(1, 2)), sp.Max(x1, 2 * x2, -1),
])
def test_exact_evaluator_agrees_with_sympy(expr):
    rng = random.Random(3)
    for _ in range(30):
        point = {"x1": Fraction(rng.randint(-20, 20), rng.randint(1, 5)), "x2": Fraction(rng.randint(-20, 20), 3)}
        expected = expr.subs({x1: sp.Rational(point["x1"]), x2: sp.Rational(point["x2"])})
        assert sp.Rational(evaluate_expr(expr, point)) == expected


def test_notebook_display_shows_every_assignment():
    c = lib.make_minimum()
    latex, html = c._repr_latex_(), c._repr_html_()
    assert latex.count("&=") == 4 and r"\operatorname{R}" in latex
    assert html.count("<math>") == 4 and "<mi>R</mi>" in html


def test_float_evaluation_agrees_with_exact_evaluation():
    rng = random.Random(5)
    for _ in range(10):
        layers = [([[rng.uniform(-2, 2) for _ in range(2)] for _ in range(6)], [rng.uniform(-1, 1) for _ in range(6)]),
                  ([[rng.uniform(-2, 2) for _ in range(6)]], [0.5])]
        c = from_layers(layers)
        for _ in range(20):
            point = {"x1": Fraction(rng.randint(-50, 50), 17), "x2": Fraction(rng.randint(-50, 50), 13)}
            exact = c.evaluate(point)[0]
            assert abs(c.evaluate_float(point)[0] - float(exact)) <= 1e-9 * max(1.0, abs(float(exact)))
