"""The shared table of named cases (circuit, target, domain, kind, expected verdict) for all tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from fractions import Fraction

import sympy as sp

from networks import library as lib
from proofs.catalogue import seed_theorems
from symbolic.circuit import Circuit
from symbolic.relu import ReLU, sym
from verify.claim import Claim, Equality, Predicate, Tolerance
from verify.domain import Domain, FiniteSet, IntegerRange, RealInterval
from verify.result import Verdict

X, X1, X2 = sym("x"), sym("x1"), sym("x2")
MIN = sp.Min(X1, X2)


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[], Circuit]
    target: sp.Basic
    domain: Domain
    expected: Verdict
    kind: object = dataclasses.field(default_factory=Equality)

    def claim(self) -> Claim:
        return Claim(self.make(), self.target, self.domain, self.kind)


R_, P, F = Domain(), Verdict.PROVED, Verdict.REFUTED
BOX = Domain({"x1": RealInterval(-1, 1), "x2": RealInterval(-1, 1)})

#: Hand-built circuits of the library with the function they compute on all of R^n.
LIBRARY = [
    ("identity", lib.make_identity, X),
    ("negative_identity", lib.make_negative_identity, -X),
    ("absolute_value", lib.make_absolute_value, sp.Abs(X)),
    ("addition", lib.make_addition, X1 + X2),
    ("subtraction", lib.make_subtraction, X1 - X2),
    ("minimum", lib.make_minimum, MIN),
    ("minimum_two_layer", lib.make_minimum_two_layer, MIN),
    ("minimum_of_four", lib.make_minimum_of_four, sp.Min(X1, X2, sym("x3"), sym("x4"))),
    ("equation_one", lib.make_equation_one, sp.Min(sym("a"), sym("b"))),
    ("min_via_relu", lib.make_min_via_relu, sp.Min(sym("a"), sym("b"))),
    ("positiveness", lib.make_positiveness_detector, sp.Max(0, X)),
    ("negativeness", lib.make_negativeness_detector, sp.Max(0, -X)),
    ("greaterness", lib.make_greaterness_detector, sp.Max(0, X1 - X2)),
]

CASES = [Case(f"library_{n}", m, t, R_, P) for n, m, t in LIBRARY] + [
    Case("min_on_box", lib.make_minimum, MIN, BOX, P),
    Case("min_open_box", lib.make_minimum, MIN,
         Domain({"x1": RealInterval(0, 1, True, True), "x2": RealInterval(None, 0, hi_open=True)}), P),
    Case("min_is_not_max", lib.make_minimum, sp.Max(X1, X2), R_, F),
    Case("min_is_not_x1_on_box", lib.make_minimum, X1, BOX, F),
    Case("min_tolerance_true", lib.make_minimum, MIN + sp.Rational(1, 10), BOX, P, Tolerance(Fraction(1, 10))),
    Case("min_tolerance_false", lib.make_minimum, MIN + sp.Rational(1, 10), BOX, F, Tolerance(Fraction(1, 20))),
    Case("greaterness_predicate", lib.make_greaterness_detector, X1 > X2, R_, P, Predicate(">", 0)),
    Case("greaterness_predicate_wrong", lib.make_greaterness_detector, X1 >= X2, R_, F, Predicate(">", 0)),
    Case("identity_on_finite_set", lib.make_identity, X, Domain({"x": FiniteSet((Fraction(1, 3), -7, 0))}), P),
    Case("abs_is_not_identity_on_N", lib.make_absolute_value, X, Domain({"x": IntegerRange(0, None)}), P),
    Case("abs_is_not_identity_on_Z", lib.make_absolute_value, X, Domain({"x": IntegerRange()}), F),
    Case("step_on_Z", lib.make_step, sp.Piecewise((1, X < 10), (0, True)), Domain({"x": IntegerRange()}), P),
    Case("step_heaviside_on_Z", lib.make_step, sp.Heaviside(sp.Rational(19, 2) - X, 0), Domain({"x": IntegerRange()}), P),
    Case("step_on_R", lib.make_step, sp.Piecewise((1, X < 10), (0, True)), R_, F),
    Case("is_even_floor", lambda: lib.make_is_even(4), X - 2 * sp.floor(X / 2), Domain({"x": IntegerRange(0, 15)}), P),
    Case("is_even_big_range_z3", lambda: lib.make_is_even(4), sp.Mod(X, 2), Domain({"x": IntegerRange(0, 10**6)}), F),
    Case("is_even_5bit", lambda: lib.make_is_even(5), sp.Mod(X, 2), Domain({"x": IntegerRange(0, 31)}), P),
    Case("relu_max_rewrite", lambda: lib.make_positiveness_detector(), ReLU(X), R_, P),
]

#: The catalogue's own theorems are cases too (their expected verdicts are part of the product).
CATALOGUE = list(seed_theorems())
