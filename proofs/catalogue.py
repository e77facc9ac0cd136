"""The seed catalogue: every claim of SEEDS.md stated as a theorem with its expected verdict."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from fractions import Fraction

import sympy as sp

from networks import library as lib
from symbolic import errors
from symbolic.circuit import Activation, Builder, Circuit
from symbolic.relu import ReLU, sym
from proofs.theorem import Theorem  # noqa: F401 - re-exported: catalogue.Theorem
from proofs.trained_catalogue import trained_theorems
from verify.claim import Claim, Predicate, Tolerance, indicator
from verify.domain import Domain, FiniteSet, IntegerRange, RealInterval
from verify.realizability import Unrealizable, grid
from verify.result import Verdict

PROVED, REFUTED = Verdict.PROVED, Verdict.REFUTED


X, X1, X2, X3, X4, A, B = (sym(n) for n in ("x", "x1", "x2", "x3", "x4", "a", "b"))
MIN = sp.Min(X1, X2)


def _on(**sets) -> Domain:
    return Domain(sets)


def _examples(values: dict[tuple, int], names: Sequence[str]) -> tuple[sp.Expr, Domain]:
    """A target that is the table ``values`` (point -> value) and the finite domain of its points."""
    pieces = [(v, sp.And(*(sp.Eq(sym(n), c) for n, c in zip(names, point)))) for point, v in values.items()]
    target = sp.Piecewise(*pieces[:-1], (pieces[-1][0], True))
    sets = {n: FiniteSet(tuple({p[i] for p in values})) for i, n in enumerate(names)}
    return target, Domain(sets)


def _template_one_neuron() -> Circuit:
    """``c R(w x)``: one hidden neuron, no biases (the identity's 1-neuron competitor)."""
    b = Builder(["x"])
    h = b.relu({"x": sym("w")})
    return b.build([b.linear({h: sym("c")}, name="y")])


def _template_two_neurons_2d() -> Circuit:
    """``c1 R(a1 x1 + b1 x2) + c2 R(a2 x1 + b2 x2)``: two hidden neurons, no biases."""
    b = Builder(["x1", "x2"])
    h1 = b.relu({"x1": sym("a1"), "x2": sym("b1")})
    h2 = b.relu({"x1": sym("a2"), "x2": sym("b2")})
    return b.build([b.linear({h1: sym("c1"), h2: sym("c2")}, name="y")])


def _template_parity(neurons: int) -> Circuit:
    """One hidden layer of ``neurons`` ReLUs with biases, affine output with a linear skip from x."""
    b = Builder(["x"])
    hidden = [b.relu({"x": sym(f"a{i}")}, sym(f"b{i}")) for i in range(1, neurons + 1)]
    out = {h: sym(f"c{i}") for i, h in enumerate(hidden, start=1)}
    out["x"] = sym("e")
    return b.build([b.linear(out, sym("d"), name="y")])


def _sigmoid_neuron(weight, bias) -> Circuit:
    b = Builder(["x"])
    return b.build([b.add({"x": weight}, bias, Activation.SIGMOID, name="y")])


def _section_a() -> list[Theorem]:
    src = "SEEDS A"
    t = [
        Theorem("positiveness_detector", f"{src}: feature +(x) = R(x)",
                Claim(lib.make_positiveness_detector(), X > 0, kind=Predicate(">", 0)), PROVED),
        Theorem("negativeness_detector", f"{src}: feature -(x) = R(-x)",
                Claim(lib.make_negativeness_detector(), X < 0, kind=Predicate(">", 0)), PROVED),
        Theorem("greaterness_detector", f"{src}: feature x1 > x2 = R(x1 - x2)",
                Claim(lib.make_greaterness_detector(), X1 > X2, kind=Predicate(">", 0)), PROVED),
        Theorem("identity", f"{src}: identity R(x) - R(-x)", Claim(lib.make_identity(), X), PROVED),
        Theorem("identity_examples", f"{src}: slides' worked examples 3 -> 3, -5 -> -5",
                Claim(lib.make_identity(), *_examples({(3,): 3, (-5,): -5}, ["x"])), PROVED),
        Theorem("identity_needs_two_neurons", f"{src}: '2 hidden nodes are required' (no biases)",
                Unrealizable(_template_one_neuron(), X, grid(["x"], [1, -1])), PROVED),
        Theorem("identity_family", f"{src}: (1/w1) R(w1 x) + (1/w2) R(w2 x) for all w1 > 0 > w2",
                Claim(lib.make_identity_family(), X,
                      _on(w1=RealInterval(0, None, lo_open=True), w2=RealInterval(None, 0, hi_open=True))),
                PROVED),
        Theorem("identity_family_needs_opposite_signs", f"{src}: the family fails when w2 > 0 too",
                Claim(lib.make_identity_family(), X,
                      _on(w1=RealInterval(0, None, lo_open=True), w2=RealInterval(0, None, lo_open=True))),
                REFUTED),
        Theorem("negative_identity", f"{src}: -R(x) + R(-x)", Claim(lib.make_negative_identity(), -X), PROVED),
        Theorem("absolute_value", f"{src}: R(x) + R(-x)", Claim(lib.make_absolute_value(), sp.Abs(X)), PROVED),
        Theorem("addition", f"{src}: R(x1 + x2) - R(-x1 - x2)", Claim(lib.make_addition(), X1 + X2), PROVED),
        Theorem("addition_examples", f"{src}: slides' worked examples (3, 5) -> 8, (3, -5) -> -2",
                Claim(lib.make_addition(), *_examples({(3, 5): 8, (3, -5): -2}, ["x1", "x2"])), PROVED),
        Theorem("subtraction", f"{src}: R(x1 - x2) - R(x2 - x1)", Claim(lib.make_subtraction(), X1 - X2), PROVED),
        Theorem("subtraction_examples", f"{src}: slides' worked examples (3, 5) -> -2, (3, -5) -> 8",
                Claim(lib.make_subtraction(), *_examples({(3, 5): -2, (3, -5): 8}, ["x1", "x2"])), PROVED),
        Theorem("minimum", f"{src}: R(x1) - R(-x1) - R(x1 - x2), 3 neurons", Claim(lib.make_minimum(), MIN), PROVED),
        Theorem("minimum_examples", f"{src}: slides' worked examples (3, 5) -> 3, (3, -5) -> -5",
                Claim(lib.make_minimum(), *_examples({(3, 5): 3, (3, -5): -5}, ["x1", "x2"])), PROVED),
        Theorem("minimum_needs_three_neurons", f"{src}: '3 hidden neurons, claimed optimal' (no biases)",
                Unrealizable(_template_two_neurons_2d(), MIN, grid(["x1", "x2"], [-1, 0, 1, 2])), PROVED),
        Theorem("minimum_two_layer", f"{src}: first version, two hidden layers",
                Claim(lib.make_minimum_two_layer(), MIN), PROVED),
        Theorem("minimum_two_layer_closed_form", f"{src}: first version simplifies to x1 - R(x1 - x2)",
                Claim(lib.make_minimum_two_layer(), X1 - ReLU(X1 - X2)), PROVED),
        Theorem("minimum_of_four", f"{src}: min(min(x1, x2), min(x3, x4)) by composition",
                Claim(lib.make_minimum_of_four(), sp.Min(X1, X2, X3, X4)), PROVED),
        Theorem("wrong_minimum", f"{src}: x1 - R(x2 - x1) is not the minimum",
                Claim(lib.make_wrong_minimum(("x1", "x2")), MIN), REFUTED),
    ]
    return t


def _section_b() -> list[Theorem]:
    src = "SEEDS B"
    step = indicator(X < 10)
    train = _on(x=IntegerRange(-20, 39))
    scaled = _sigmoid_neuron(-100, 1000)
    any_sigmoid = _sigmoid_neuron(sym("a"), sym("b"))
    return [
        Theorem("sigmoid_step_at_9_5", f"{src}.1: S(10 - x) at 9.5 is about 0.62",
                Claim(_sigmoid_neuron(-1, 10), sp.Rational(5, 8), _on(x=FiniteSet((Fraction(19, 2),))),
                      Tolerance(Fraction(1, 200))), PROVED),
        Theorem("sigmoid_step_scaled_at_9_5", f"{src}.1: S(100 (10 - x)) at 9.5 is about 1",
                Claim(scaled, sp.S.One, _on(x=FiniteSet((Fraction(19, 2),))), Tolerance(Fraction(1, 10**21))),
                PROVED),
        Theorem("sigmoid_output_positive", f"{src}.1: zero loss is impossible: S(a x + b) > 0 for all a, b, x",
                Claim(any_sigmoid, sp.true, train, Predicate(">", 0)), PROVED),
        Theorem("sigmoid_output_below_one", f"{src}.1: zero loss is impossible: S(a x + b) < 1 for all a, b, x",
                Claim(any_sigmoid, sp.true, train, Predicate("<", 1)), PROVED),
        Theorem("sigmoid_step_margin", f"{src}.1: S(100 (10 - x)) is within 1/2 of [x < 10] on -20..39",
                Claim(scaled, step, train, Tolerance(Fraction(1, 2))), PROVED),
        Theorem("sigmoid_step_margin_strict", f"{src}.1: ... but not within 49/100: S(0) = 1/2 at x = 10",
                Claim(scaled, step, train, Tolerance(Fraction(49, 100))), REFUTED),
        Theorem("equation_one", f"{src}.2: min(a, b) = 0.5 (a + b - R(b - a) - R(a - b))",
                Claim(lib.make_equation_one(), sp.Min(A, B)), PROVED),
        Theorem("min_a_minus_relu", f"{src}.2: the trained formula min(a, b) = a - R(a - b)",
                Claim(lib.make_min_via_relu(), sp.Min(A, B)), PROVED),
        Theorem("is_even_4bit", f"{src}.3: the [1,2,2,2,2,2,1] net gives x mod 2 on 0..15",
                Claim(lib.make_is_even(4), sp.Mod(X, 2), _on(x=IntegerRange(0, 15))), PROVED),
        Theorem("is_even_4bit_0_31", f"{src}.3: ... and does not generalise to 0..31",
                Claim(lib.make_is_even(4), sp.Mod(X, 2), _on(x=IntegerRange(0, 31))), REFUTED),
        Theorem("is_even_4bit_Z", f"{src}.3: ... nor to all of Z",
                Claim(lib.make_is_even(4), sp.Mod(X, 2), _on(x=IntegerRange())), REFUTED),
        Theorem("is_even_8bit", f"{src}.3: the construction for 8 bits on 0..255",
                Claim(lib.make_is_even(8), sp.Mod(X, 2), _on(x=IntegerRange(0, 255))), PROVED),
        Theorem("is_even_4bit_signed", f"{src}.3: with |x| first, parity on -15..15",
                Claim(lib.make_is_even(4, signed=True), sp.Mod(X, 2), _on(x=IntegerRange(-15, 15))), PROVED),
        Theorem("parity_needs_2_neurons_for_4", f"{src}.3: n = 2: one ReLU cannot give parity on 0..3",
                Unrealizable(_template_parity(1), sp.Mod(X, 2), grid(["x"], range(4))), PROVED),
        Theorem("parity_needs_3_neurons_for_8", f"{src}.3: n = 3: one layer of two ReLUs cannot on 0..7",
                Unrealizable(_template_parity(2), sp.Mod(X, 2), grid(["x"], range(8))), PROVED),
        Theorem("step_on_Z", f"{src}.1: R(10 - x) - R(9 - x) = [x < 10] on Z",
                Claim(lib.make_step(10), step, _on(x=IntegerRange())), PROVED),
        Theorem("step_on_R", f"{src}.1: ... but not on R (9 < x < 10 interpolates)",
                Claim(lib.make_step(10), step), REFUTED),
    ]


@functools.cache
def seed_theorems() -> tuple[Theorem, ...]:
    """Every theorem of the catalogue, in a stable order, with unique names."""
    theorems = _section_a() + _section_b() + trained_theorems()
    names = [t.name for t in theorems]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise errors.MathCircuitsError(f"duplicate theorem names: {duplicates}")
    return tuple(theorems)


def select(names: Sequence[str] = ()) -> list[Theorem]:
    """The theorems called ``names`` (all when empty); unknown names are one error listing them all."""
    theorems = seed_theorems()
    if not names:
        return list(theorems)
    by_name = {t.name: t for t in theorems}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise errors.ClaimError(f"no theorem named {', '.join(unknown)} (see `mathcircuits prove --list`)")
    return [by_name[n] for n in names]



