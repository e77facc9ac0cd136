"""The exact relative error bound of bias-free networks on all of R^n (verify/homogeneous.py)."""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy as sp

from symbolic.circuit import from_layers
from symbolic.relu import sym
from verify.domain import Domain, RealInterval
from verify.homogeneous import bias_free, positively_homogeneous, relative_bound
from verify.worst_case import max_error

X1, X2 = sym("x1"), sym("x2")
OFF_MIN = from_layers([([[1, 0], [-1, 0], [1, -1]], None), ([[1, -1, sp.Rational(-9, 8)]], None)],
                      inputs=["x1", "x2"])  # x1 - (9/8) relu(x1 - x2)


def box(r) -> Domain:
    return Domain({"x1": RealInterval(-r, r), "x2": RealInterval(-r, r)})


def test_the_bound_scales_exactly_with_the_box():
    bound = relative_bound(OFF_MIN, sp.Min(X1, X2))
    assert bound.c == Fraction(1, 4)
    for r in (Fraction(1, 3), 3, 1000):  # homogeneity: the maximum on [-r, r]^2 is r * c
        assert max_error(OFF_MIN, sp.Min(X1, X2), box(r)).value == r * bound.c


def test_the_constant_is_attained_on_the_unit_sphere():
    bound = relative_bound(OFF_MIN, sp.Min(X1, X2))
    assert max(abs(v) for v in bound.at.values()) == 1
    x1, x2 = bound.at["x1"], bound.at["x2"]
    value = x1 - Fraction(9, 8) * max(x1 - x2, 0)
    assert abs(value - min(x1, x2)) == bound.c


@pytest.mark.parametrize("target", [X1 + 1, X1 * X2, sp.Piecewise((X1, X1 > 0), (0, True)), sp.exp(X1)])
def test_targets_that_are_not_positively_homogeneous_give_no_bound(target):
    assert not positively_homogeneous(target)
    assert relative_bound(OFF_MIN, target) is None


def test_a_network_with_a_bias_gives_no_bound():
    biased = from_layers([([[1, 0], [-1, 0], [1, -1]], [0, 0, 1]), ([[1, -1, -1]], None)], inputs=["x1", "x2"])
    assert not bias_free(biased) and bias_free(OFF_MIN)
    assert relative_bound(biased, sp.Min(X1, X2)) is None


def test_trained_catalogue_rows_state_the_trained_networks_own_error():
    from proofs.catalogue import select

    [theorem] = select(["trained_minimum_seed0"])
    result, facts = theorem.run_with_facts()
    assert result.verdict.value == "proved" and result.method.startswith("round(q<=")
    c = Fraction(facts["relative_error_c"])
    assert 0 < c < Fraction(1, 1000) and "positively homogeneous" in facts["trained_error"]
    # an independent check: the tolerance claim c * 2 on [-2, 2]^2 holds for the trained net, c * 2 * (1 - 1e-9) fails
    from verify.claim import Claim, Tolerance
    from verify.decide import decide

    claim = theorem.claim
    assert decide(Claim(claim.circuit, claim.target, box(2), Tolerance(2 * c))).verdict.value == "proved"
    assert decide(Claim(claim.circuit, claim.target, box(2), Tolerance(2 * c * (1 - Fraction(1, 10**9))))).verdict.value == "refuted"
