"""Falsification: float search, exact replay; a counterexample is always in the domain and real."""

from __future__ import annotations

import time
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from symbolic.circuit import from_layers
from symbolic.relu import sym
from tests.verify.test_linear_bounds import random_net
from verify import falsify
from verify.claim import Claim, Equality, Tolerance, unreachable_claim
from verify.claim_to_problem import claim_to_problem
from verify.decide import Config, decide
from verify.domain import Domain, IntegerRange, RealInterval
from verify.output_set import Atom, OutputSet
from verify.result import Verdict, replay

X, X1, X2, X3 = sym("x"), sym("x1"), sym("x2"), sym("x3")


def run(claim, seconds=10.0):
    return falsify.falsify(claim_to_problem(claim), time.monotonic() + seconds)


def test_counterexample_on_a_box_is_exact_and_inside():
    net = from_layers([([[1, -1], [-1, 1]], None), ([[1, 1]], None)])      # |x1 - x2|
    claim = Claim(net, X1 - X2, Domain({"x1": RealInterval(-1, 1), "x2": RealInterval(-1, 1)}), Tolerance(1))
    found = run(claim)
    assert found is not None and claim.domain.contains(found.point)
    assert replay(claim, found.point) is not None and found.point["x1"] - found.point["x2"] < Fraction(-1, 2)


def test_unbounded_domain_is_searched_in_growing_boxes():
    net = from_layers([([[1]], [-1000])])                                  # R(x - 1000)
    claim = Claim(net, sp.Integer(0), Domain({"x": RealInterval(0, None)}), Tolerance(1))
    found = run(claim)
    assert found is not None and found.point["x"] > 1001 and replay(claim, found.point) is not None


def test_open_ends_and_integers_are_respected():
    net = from_layers([([[1]], None)], activations=[__import__("symbolic.circuit", fromlist=["x"]).Activation.LINEAR])
    open_end = Claim(net, sp.Integer(0), Domain({"x": RealInterval(0, 1, lo_open=True)}), Tolerance(Fraction(1, 2)))
    found = run(open_end)
    assert found is not None and Fraction(1, 2) < found.point["x"] <= 1
    integers = Claim(net, X / 2, Domain({"x": IntegerRange(-10**6, 10**6)}), Tolerance(1000))
    found = run(integers)
    assert found is not None and found.point["x"].denominator == 1 and abs(found.point["x"]) > 2000


def test_strict_atoms_are_not_reached_on_their_boundary():
    net = from_layers([([[1]], None)])                                     # y = R(x) on [-1, 1]
    box = Domain({"x": RealInterval(-1, 1)})
    strict = unreachable_claim(net, OutputSet(((Atom((("y", 1),), ">", 1),),)), box)
    assert run(strict, 1.0) is None                                        # y = 1 is not > 1
    weak = unreachable_claim(net, OutputSet(((Atom((("y", 1),), ">=", Fraction(9, 10)),),)), box)
    found = run(weak, 5.0)
    assert found is not None and found.point["x"] >= Fraction(9, 10) and found.reached == 0


def test_exact_claims_yield_no_false_candidates():
    """An equality that holds: float rounding noise must never become a counterexample."""
    net = from_layers([([[1, -1], [-1, 1], [1, 0], [-1, 0]], None), ([[-1, 0, 1, -1]], None)])  # x1 - R(x1 - x2)
    claim = Claim(net, sp.Min(X1, X2), Domain({"x1": RealInterval(-3, 3), "x2": RealInterval(-3, 3)}), Equality())
    assert run(claim, 2.0) is None


@pytest.mark.parametrize("seed", range(6))
def test_found_counterexamples_agree_with_z3(seed):
    """Differential: whenever the falsifier refutes a claim on a random net, z3 refutes it too, and
    claims far from true are refuted by the falsifier."""
    rng = np.random.default_rng(100 + seed)
    net = random_net(rng, (3, 6, 1))
    box = Domain({n: RealInterval(-1, 1) for n in net.inputs})
    pts = rng.uniform(-1, 1, (2000, 3))
    y = np.array([net.evaluate_float(dict(zip(net.inputs, p)))[0] for p in pts[:300]])
    target = sp.Min(X1, X2, X3)
    err = np.abs(y - np.min(pts[:300], axis=1)).max()
    for eps, expect_found in ((err * 0.5, True), (err * 3, None)):
        claim = Claim(net, target, box, Tolerance(Fraction(float(eps)).limit_denominator(10**6)))
        found = run(claim, 3.0)
        if expect_found:
            assert found is not None
        if found is not None:
            assert replay(claim, found.point) is not None
            assert decide(claim, Config(max_cells=0, engine=False, timeout_s=60)).verdict is Verdict.REFUTED


def test_decide_runs_falsification_first_on_unbounded_domains():
    net = from_layers([([[1], [-1]], None), ([[1, 1]], None)])
    result = decide(Claim(net, X, Domain(), Tolerance(1)))
    assert result.verdict is Verdict.REFUTED and result.method == "falsification"
