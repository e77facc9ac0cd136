"""Branch and bound: verdicts agree with z3, proofs are confirmed soundly, certificates check."""

from __future__ import annotations

import time
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from symbolic.circuit import from_layers
from symbolic.relu import sym
from tests.verify.test_linear_bounds import random_net
from verify import branch_and_bound as bab, certificate, confirm_leaves, multipliers, node_proofs
from verify.claim import Claim, Equality, Tolerance, unreachable_claim
from verify.claim_to_problem import claim_to_problem
from verify.decide import Config, decide
from verify.domain import Domain, RealInterval
from verify.output_set import Atom, OutputSet
from verify.result import Verdict, replay

X1, X2, X3 = sym("x1"), sym("x2"), sym("x3")


def search(claim, seconds=20.0, **settings):
    return bab.search(claim_to_problem(claim), time.monotonic() + seconds, bab.Settings(**settings))


def z3_verdict(claim):
    return decide(claim, Config(max_cells=0, engine=False, timeout_s=60)).verdict


def agrees_with_z3(claim, verdict) -> bool:
    """A refutation carries a counterexample replayed exactly (no correct solver can disagree);
    a proof is compared with z3's verdict."""
    return verdict is Verdict.REFUTED or z3_verdict(claim) is verdict


def check_outcome(claim, out):
    """Proved: the certificate checks exactly. Refuted: the point replays in the domain."""
    if out.verdict == "proved":
        report = certificate.check(out.certificate)
        assert report.ok, report.problems[:3]
        return Verdict.PROVED
    if out.verdict == "refuted":
        assert claim.domain.contains(out.point) and replay(claim, out.point) is not None
        return Verdict.REFUTED
    return Verdict.UNKNOWN


def sampled_error(net, target_fn, n, rng):
    pts = rng.uniform(-1, 1, (400, n))
    y = np.array([net.evaluate_float(dict(zip(net.inputs, p)))[0] for p in pts])
    return float(np.abs(y - target_fn(pts)).max())


@pytest.mark.parametrize("seed", range(8))
def test_tolerance_verdicts_match_z3_on_random_nets(seed):
    rng = np.random.default_rng(seed)
    n = 2 + seed % 2
    net = random_net(rng, (n, 6, 5, 1) if seed % 3 == 0 else (n, 8, 1))
    target = sp.Min(*[X1, X2, X3][:n])
    box = Domain({name: RealInterval(-1, 1) for name in net.inputs})
    err = sampled_error(net, lambda p: p.min(axis=1), n, rng)
    for eps in (err * 1.3, err * 0.7):
        claim = Claim(net, target, box, Tolerance(Fraction(eps).limit_denominator(1000)))
        verdict = check_outcome(claim, search(claim))
        assert verdict is not Verdict.UNKNOWN and agrees_with_z3(claim, verdict)


@pytest.mark.parametrize("seed", range(4))
def test_output_set_verdicts_match_z3(seed):
    """Conjunctions and disjunctions over two outputs and an input (strict and non-strict)."""
    rng = np.random.default_rng(50 + seed)
    net = random_net(rng, (3, 7, 2))
    box = Domain({name: RealInterval(-1, 1) for name in net.inputs})
    pts = rng.uniform(-1, 1, (500, 3))
    y = np.array([net.evaluate_float(dict(zip(net.inputs, p))) for p in pts])
    c = Fraction(float(np.quantile(y[:, 0] - y[:, 1], 0.9 + 0.1 * (seed % 2)))).limit_denominator(100)
    unsafe = OutputSet(((Atom((("y1", 1), ("y2", -1)), ">" if seed % 2 else ">=", c),
                         Atom((("y1", 1), ("x1", Fraction(1, 2))), "<=", Fraction(1))),
                        (Atom((("y2", 1),), ">", Fraction(float(y[:, 1].max() + 0.05)).limit_denominator(100)),)))
    claim = unreachable_claim(net, unsafe, box)
    verdict = check_outcome(claim, search(claim))
    assert verdict is not Verdict.UNKNOWN and agrees_with_z3(claim, verdict)


def test_duplicated_neurons_need_relu_splits_and_split_multipliers():
    """N = min(x1, x2) written with the target's own neuron: bounds are exactly 0 across the
    diagonal; ReLU splits with beta multipliers (from LP duals) close it."""
    net = from_layers([([[1, 0], [-1, 0], [1, -1]], None), ([[1, -1, -1]], None)])
    claim = Claim(net, sp.Min(X1, X2), Domain({"x1": RealInterval(1, 2), "x2": RealInterval(-3, 10)}), Equality())
    out = search(claim)
    assert check_outcome(claim, out) is Verdict.PROVED and out.stats.relu_splits > 0
    assert "beta" in str(out.certificate["tree"])


def test_weights_that_are_not_floats_are_confirmed_in_exact_rationals():
    third = Fraction(1, 3)
    net = from_layers([([[third, -third], [-third, third]], None), ([[3, -3]], None)])   # x1 - x2
    claim = Claim(net, X1 - X2, Domain({"x1": RealInterval(-1, 1), "x2": RealInterval(0, 1)}), Tolerance(Fraction(1, 100)))
    out = search(claim)
    assert check_outcome(claim, out) is Verdict.PROVED and out.stats.exact_s > 0


def test_wrong_float_guides_never_close_a_node(monkeypatch):
    """Sabotage the float guides (multipliers that are garbage, an LP that claims every node is
    safe with nonsense duals): the verdicts must not change, only the work."""
    rng = np.random.default_rng(7)
    net = random_net(rng, (3, 8, 1))
    box = Domain({name: RealInterval(-1, 1) for name in net.inputs})
    err = sampled_error(net, lambda p: p.min(axis=1), 3, rng)
    claim = Claim(net, sp.Min(X1, X2, X3), box, Tolerance(Fraction(err * 0.8).limit_denominator(1000)))
    expected = z3_verdict(claim)

    def bad_mu(layers, bounds, spec, start, steps=0, pre=None, with_alpha=False):
        B = start.shape[0]
        alpha = {k: np.full((B, lv.size), 0.9) for k, lv in enumerate(layers.levels, start=1)} if with_alpha else None
        return np.full((B, spec.size), 7.0), np.full(B, 1e9), np.zeros((B, layers.n_inputs)), alpha

    class Liar:
        def __init__(self, n_levels, sizes):
            self.value, self.status, self.x = 1e9, "Optimal", None
            self.mu = np.array([1.0])
            self.alpha = tuple(np.full(s, 0.5) for s in sizes)
            self.beta = tuple(np.full(s, 3.0) for s in sizes)

    monkeypatch.setattr(multipliers, "optimise_mu", bad_mu)
    sizes = [lv.size for lv in claim_to_problem(claim).layers.levels]
    monkeypatch.setattr(node_proofs.lp_relaxation, "solve", lambda *a, **k: Liar(len(sizes), sizes))
    assert check_outcome(claim, search(claim)) is expected


def test_a_leaf_containing_a_counterexample_is_never_confirmed():
    rng = np.random.default_rng(11)
    net = random_net(rng, (2, 6, 1))
    box = Domain({name: RealInterval(-1, 1) for name in net.inputs})
    problem = claim_to_problem(Claim(net, sp.Min(X1, X2), box, Tolerance(Fraction(1, 1000))))
    root = confirm_leaves.RootBox.of(problem.box)
    lo, hi = root.lo[None], root.hi[None]
    for mu in (np.array([[1.0]]), np.array([[1e-3]]), np.array([[123.0]])):
        ok, empty, _ = confirm_leaves.confirm(problem, root, lo, hi, None, [mu, mu])
        assert not ok[0] and not empty[0]


def test_exact_zero_is_not_confirmed_by_floats_but_by_rationals():
    net = from_layers([([[1], [-1]], None), ([[1, -1]], None)])                       # N(x) = x
    problem = claim_to_problem(Claim(net, sym("x"), Domain({"x": RealInterval(1, 2)}), Equality()))
    root = confirm_leaves.RootBox.of(problem.box)
    ok, _, values = confirm_leaves.confirm(problem, root, root.lo[None], root.hi[None], None,
                                           [np.ones((1, 1)), np.ones((1, 1))])
    assert not ok[0] and all(v[0] <= 0 for v in values)
    proofs = [({0: Fraction(1)}, {}, {}), ({0: Fraction(1)}, {}, {})]
    assert confirm_leaves.confirm_exact(problem, list(problem.box), {}, proofs) is True


def test_time_budget_gives_unknown_with_the_certified_fraction():
    rng = np.random.default_rng(3)
    net = random_net(rng, (3, 16, 16, 1))
    box = Domain({name: RealInterval(-1, 1) for name in net.inputs})
    err = sampled_error(net, lambda p: p.min(axis=1), 3, rng)
    out = search(Claim(net, sp.Min(X1, X2, X3), box, Tolerance(Fraction(err * 1.02).limit_denominator(1000))), 0.3)
    if out.verdict == "unknown":
        assert "time budget" in out.reason and "% of the box certified" in out.reason
        assert 0 <= out.stats.certified_fraction < 1


def test_decide_uses_branch_and_bound_on_boxes_with_three_inputs():
    rng = np.random.default_rng(5)
    net = random_net(rng, (3, 8, 1))
    box = Domain({name: RealInterval(-1, 1) for name in net.inputs})
    err = sampled_error(net, lambda p: p.min(axis=1), 3, rng)
    result = decide(Claim(net, sp.Min(X1, X2, X3), box, Tolerance(Fraction(err * 1.5).limit_denominator(1000))))
    assert result.method == "bab" and result.verdict is Verdict.PROVED
    assert certificate.check(result.certificate).ok and result.to_json()["stats"]["leaves"] >= 1


def test_a_relu_with_u_equal_to_minus_l_gets_its_slope_written_into_the_certificate():
    """At a tie u = -l the certificate's default lower slope is 0, but outward-rounded floats may
    read u > -l and use 1: the search then proved leaves whose certificate the checker rejected
    (median3_32, target neuron with exact bounds [-1/4, 1/4]). The slope used is now written out."""
    from pathlib import Path

    from networks.json_to_circuit import load
    from proofs.text_to_domain import parse_domain
    from proofs.text_to_expr import parse_expression
    from verify import certificate
    from verify.claim import Claim, Tolerance
    from verify.decide import Config, decide

    net = load(Path(__file__).resolve().parents[2] / "bench" / "models" / "median3_32.json")
    target = parse_expression("max(min(x1, x2), min(max(x1, x2), x3))")
    domain = parse_domain("x1 in [-1, 0], x2 in [-1/2, 0], x3 in [-1, 0]", list(net.inputs))
    result = decide(Claim(net, target, domain, Tolerance(Fraction(284126, 911397))), Config(timeout_s=60))
    assert result.verdict.value == "proved" and result.method == "bab"
    report = certificate.check(result.certificate)
    assert report.ok, report.problems[:2]
