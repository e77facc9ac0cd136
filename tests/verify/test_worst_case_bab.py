"""Exact worst-case error by branch and bound: hand-built nets with known maxima, the region method
on 2-input nets, a 3-input bench model, the exact leaf LP, certificates and the budget."""

from __future__ import annotations

import math
import time
from fractions import Fraction
from pathlib import Path

import flint
import pytest
import sympy as sp

from networks.json_to_circuit import load
from symbolic.budget import Deadline
from symbolic.expr_to_circuit import expr_to_circuit
from symbolic.relu import ReLU, sym
from verify import certificate, leaf_to_exact_max as leaf
from verify.domain import Domain, RealInterval
from verify.problem_to_max import Settings, round_up, unsafe_set
from verify.tree_to_certificate import certificate as make_certificate
from verify.worst_case import error_at, max_error
from verify.worst_case_bab import max_error_bab, maximise, problem_of

X1, X2, X3 = sym("x1"), sym("x2"), sym("x3")
MIN3 = sp.Min(X1, X2, X3)
BOX3 = Domain({n: RealInterval(-1, 1) for n in ("x1", "x2", "x3")})
BOX2 = Domain({n: RealInterval(-1, 1) for n in ("x1", "x2")})
SHARED = Path(__file__).resolve().parents[3] / "shared" / "bench" / "models"
BENCH = Path(__file__).resolve().parents[2] / "bench" / "models"


def absolute(t):
    return ReLU(t) + ReLU(-t)


def bump_net(corner: Fraction):
    """``min(x1, x2, x3) + R(1/2 - |x1 - 3/8| - |x2 + 1/4| - |x3 - 1/8|) - corner R(x1 + x2 + x3 - 5/2)``
    as a ReLU network over x1..x3: its error against ``min`` is the bump (largest, 1/2, only at
    (3/8, -1/4, 1/8), where six ReLU hyperplanes meet) minus a ramp that reaches ``-corner / 2``
    at the corner (1, 1, 1)."""
    bump = ReLU(Fraction(1, 2) - absolute(X1 - Fraction(3, 8)) - absolute(X2 + Fraction(1, 4))
                - absolute(X3 - Fraction(1, 8)))
    ramp = corner * ReLU(X1 + X2 + X3 - Fraction(5, 2))
    return expr_to_circuit(MIN3 + bump - ramp, ("x1", "x2", "x3"))


def run(circuit, target, domain, seconds: float, **settings):
    return maximise(problem_of(circuit, target, domain), time.monotonic() + seconds, Settings(**settings))


def test_interior_maximum_where_six_hyperplanes_meet_is_exact_and_certified():
    found = run(bump_net(Fraction(1, 2)), MIN3, BOX3, 30)
    assert found.exact and found.lower == found.upper == Fraction(1, 2)
    assert found.at == {"x1": Fraction(3, 8), "x2": Fraction(-1, 4), "x3": Fraction(1, 8)}
    assert found.report.ok and certificate.check(found.certificate).ok


def test_corner_maximum_of_minus_d_is_exact():
    found = run(bump_net(Fraction(3, 2)), MIN3, BOX3, 30)      # the ramp gives d = -3/4 at (1, 1, 1)
    assert found.exact and found.lower == Fraction(3, 4)
    assert found.at == {"x1": 1, "x2": 1, "x3": 1}


def test_certificate_is_tight_a_smaller_bound_is_rejected():
    found = run(bump_net(Fraction(1, 2)), MIN3, BOX3, 30)
    cert = dict(found.certificate)
    below = found.upper - Fraction(1, 10**9)
    cert["unsafe"] = [[{**atom, "rhs": str(below)} for atom in disjunct] for disjunct in cert["unsafe"]]
    report = certificate.check(cert)
    assert not report.ok and any("of phi is not" in p for p in report.problems)


def test_max_error_routes_three_inputs_to_branch_and_bound():
    worst = max_error(bump_net(Fraction(1, 2)), MIN3, BOX3, timeout_s=30)
    assert worst.method == "bab" and worst.value == Fraction(1, 2) and worst.attained
    assert error_at(bump_net(Fraction(1, 2)), MIN3, worst.at) == worst.value
    assert worst.certificate is not None and "certificate" in worst.note


TRAINED = Path(__file__).resolve().parents[2] / "networks" / "trained"


@pytest.mark.parametrize("name", ["hand_min", "mlp_w4", "mlp_w8", "minimum_seed0"])
def test_agrees_with_the_region_method_on_two_input_nets(name):
    path = TRAINED / f"{name}.json" if name == "minimum_seed0" else SHARED / f"{name}.json"
    if not path.exists():  # ../shared sits beside the repository here, not in every clone
        pytest.skip(f"{path} is missing")
    net = load(path)
    target = sp.Min(sym("x1"), sym("x2"))
    regions = max_error(net, target, BOX2, timeout_s=60)
    assert regions.method == "regions" and regions.value is not None
    found = run(net, target, BOX2, 20)
    assert found.lower <= regions.value and (found.upper is None or regions.value <= found.upper)
    assert error_at(net, target, found.at) == found.lower
    if found.exact:
        assert found.lower == regions.value
    assert found.exact or name != "hand_min"       # hand_min is min exactly: error 0


def test_three_input_bench_model_gives_certified_bounds():
    net = load(BENCH / "min3_16.json")
    found = run(net, MIN3, BOX3, 8)
    assert found.upper is not None and found.lower <= found.upper and found.report.ok
    assert error_at(net, MIN3, found.at) == found.lower
    assert found.upper - found.lower <= Fraction(1, 100)


def test_tiny_budget_gives_bounds_not_a_crash():
    net = load(BENCH / "min4_32.json")
    target = sp.Min(X1, X2, X3, sym("x4"))
    box = Domain({f"x{i}": RealInterval(-1, 1) for i in range(1, 5)})
    start = time.monotonic()
    worst = max_error(net, target, box, deadline=Deadline(0.5))
    assert time.monotonic() - start <= 1.1 * 0.5 + 1.0       # the project's budget rule (test_budget)
    assert worst.method == "bab" and worst.lower is not None and worst.lower > 0
    assert worst.value is None and worst.reason.startswith("timeout after 0.5 s in the worst-case error")
    assert error_at(net, target, worst.at) == worst.lower
    if worst.upper is not None:
        assert worst.lower <= worst.upper


def test_budget_holds_on_a_large_network():
    net = load(BENCH / "min3_64x64.json")
    start = time.monotonic()
    worst = max_error(net, MIN3, BOX3, deadline=Deadline(1.0))
    assert time.monotonic() - start <= 1.1 * 1.0 + 1.0
    assert worst.value is None and worst.reason.startswith("timeout after 1 s")


def test_open_ends_and_irrational_weights_are_left_to_other_methods():
    half_open = Domain({"x1": RealInterval(-1, 1, hi_open=True), "x2": RealInterval(-1, 1),
                        "x3": RealInterval(-1, 1)})
    assert max_error_bab(bump_net(Fraction(1, 2)), MIN3, half_open, Deadline(5)) is None
    thirds = expr_to_circuit(ReLU(X1 / 3 - X2) + X3, ("x1", "x2", "x3"))
    assert problem_of(thirds, MIN3, BOX3) is None                 # 1/3 is not a float64 number


def test_leaf_lp_degenerate_vertex_gives_exact_point_and_multipliers():
    q = flint.fmpq
    box = [(q(-1), q(1))] * 2
    # x1 + x2 <= 1, x1 - x2 <= 1, 2 x1 <= 2 (all tight at (1, 0)); maximise x1
    rows = [([q(-1), q(-1)], q(-1)), ([q(-1), q(1)], q(-1)), ([q(-2), q(0)], q(-2))]
    c = [q(1), q(0)]
    x, y = leaf.maximise(c, rows, box)
    assert x == [1, 0] and all(v >= 0 for v in y)
    grad = [c[j] + sum(yy * g[j] for yy, (g, _) in zip(y, rows)) for j in range(2)]
    assert grad[1] == 0 and grad[0] >= 0            # the rest is carried by x1 <= 1 (x2 = 0 is inside)
    assert leaf.maximise([q(1), q(1)], [([q(1), q(1)], q(3))], box) == "infeasible"


def test_round_up_and_unsafe_set():
    assert round_up(Fraction(1, 3), 3) == Fraction(167, 500)
    assert round_up(Fraction(2, 10**15)) == Fraction(2, 10**15)
    d = unsafe_set("d", Fraction(1, 4))
    assert [str(a[0]) for a in d] == ["d > 1/4", "d < -1/4"]
    assert math.isclose(float(round_up(Fraction(math.pi))), math.pi, rel_tol=1e-11)


def test_cut_certificate_is_coarser_and_still_checks():
    """A tree too big to check in time is cut to its split nodes of largest bound: fewer leaves,
    a larger (still certified) bound."""
    from verify.problem_to_max import MaxSearch
    from verify.worst_case_bab import _close_open, _cut

    problem = problem_of(bump_net(Fraction(1, 2)), MIN3, BOX3)
    search = MaxSearch(problem, time.monotonic() + 30, Settings())
    search.ascent()
    search.bound(search.root_items())
    assert search.search(time.monotonic() + 20) == "" and _close_open(search) is None
    assert len(search.tree.leaves) > 20
    tree, eps = _cut(search, 8, Fraction(0))
    assert 2 <= len(tree.leaves) <= 10 and eps > search.lower == Fraction(1, 2)
    cert = make_certificate(problem.circuit, problem.box, unsafe_set(problem.circuit.output, eps), tree,
                            None, {})
    assert certificate.check(cert).ok


def test_two_inputs_with_too_many_regions_go_to_branch_and_bound():
    path = SHARED / "mlp_w8.json"
    net = load(path if path.exists() else TRAINED / "minimum_seed0.json")  # ../shared is not in every clone
    target = sp.Min(sym("x1"), sym("x2"))
    by_regions = max_error(net, target, BOX2, timeout_s=60)
    worst = max_error(net, target, BOX2, max_cells=1, timeout_s=30)
    assert worst.method == "bab" and worst.value == by_regions.value and worst.attained
