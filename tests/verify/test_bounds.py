"""Interval bounds are sound, and neurons of fixed sign are encoded without a case split."""

from __future__ import annotations

import random
from fractions import Fraction

import sympy as sp

from symbolic.circuit import from_layers
from symbolic.relu import sym
from verify.bounds import interval_bounds, stable_signs
from verify.claim import Claim, Tolerance
from verify.decide import Config, decide
from verify.domain import Domain, IntegerRange, RealInterval
from verify.result import Verdict


def _random_net(rng: random.Random):
    def layer(n_out, n_in):
        return ([[Fraction(rng.randint(-9, 9), 4) for _ in range(n_in)] for _ in range(n_out)],
                [Fraction(rng.randint(-9, 9), 4) for _ in range(n_out)])
    return from_layers([layer(6, 2), layer(5, 6), layer(1, 5)])


def test_bounds_contain_every_value_on_the_box():
    rng = random.Random(0)
    box = Domain({"x1": RealInterval(-1, 2), "x2": RealInterval(Fraction(-1, 2), 1)})
    for _ in range(10):
        net = _random_net(rng)
        bounds = interval_bounds(net, box)
        for _ in range(50):
            point = {"x1": Fraction(rng.randint(-100, 200), 100), "x2": Fraction(rng.randint(-50, 100), 100)}
            for name, value in net.evaluate_all(point).items():
                lo, hi = bounds[name]
                assert (lo is None or lo <= value) and (hi is None or value <= hi), name


def test_unbounded_inputs_give_infinite_bounds_and_no_stable_neurons():
    net = _random_net(random.Random(1))
    signs = stable_signs(net, Domain())
    first_layer = [a for a in net.assignments if a.name.startswith("h1_") and a.terms]
    assert first_layer and all(signs[a.name] == 0 for a in first_layer)
    lo, hi = interval_bounds(net, Domain())["x1"]
    assert lo is None and hi is None
    one_sided = from_layers([([[1, 0]], [0]), ([[-1]], [-1]), ([[1]], None)])  # R(-R(x1) - 1) = 0
    assert stable_signs(one_sided, Domain()) == {"h1_1": 0, "h2_1": -1}


def test_stable_neurons_are_reported_and_verdicts_unchanged():
    net = from_layers([([[1, 0], [-1, 0], [1, -1]], None), ([[1, -1, -1]], None)])
    domain = Domain({"x1": RealInterval(1, 2), "x2": IntegerRange(-3, 10**6)})
    claim = Claim(net, sp.Min(sym("x1"), sym("x2")), domain)
    result = decide(claim, Config(max_points=0, max_cells=0))
    assert result.verdict is Verdict.PROVED and "2 of fixed sign" in result.evidence
    wrong = decide(Claim(net, sym("x1"), domain, Tolerance(Fraction(1, 2))), Config(max_points=0, max_cells=0))
    assert wrong.verdict is Verdict.REFUTED
