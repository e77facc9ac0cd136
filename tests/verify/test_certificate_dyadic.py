"""The fixed-point leaf bounds of the certificate checker (verify.certificate_dyadic) are sound and cheap.

Sound: on random networks, boxes and phases every bound lies below the truth (exact evaluation at
many points of the leaf) and, where the format's computation is the same one (up to two ReLU
levels, every lower slope given), below the format's exact bound; tampered certificates checked
with this attempt alone are rejected whenever the independent Fraction reference rejects them.
Cheap enough to come first: it accepts the leaves the rounded exact attempt accepts.
"""

from __future__ import annotations

import itertools
import json
import random
from fractions import Fraction as F

import flint
import pytest

from tests.verify.test_certificate import (_accepts, _leaves, _mutations, _set, _splits, atom, cert, evaluate,
                                           generate, leaf, net, proof, random_claim, reaches, ref_check, relu_split)
from verify import certificate, certificate_bab, certificate_dyadic as dyadic, certificate_exact as exact


def _q(x) -> flint.fmpq:
    x = F(x)
    return flint.fmpq(x.numerator, x.denominator)


def _network(rng: random.Random, inputs: int, widths: tuple, dyadic_weights: bool):
    """A random network (weights with odd denominators unless ``dyadic_weights``) and its program."""
    names, layers, previous = [f"x{i + 1}" for i in range(inputs)], [], None
    previous = list(names)

    def number(scale):
        return F(rng.randint(-64, 64), 32 * scale) if dyadic_weights else F(rng.randint(-60, 60), rng.choice((21, 33, 35)))

    for k, width in enumerate(widths):
        layer = [f"h{k + 1}_{j + 1}" for j in range(width)]
        layers += [(h, {s: number(1) for s in previous}, number(2), "relu") for h in layer]
        previous = layer
    layers.append(("y", {s: number(1) for s in previous + names[:1]}, F(1, 3), "linear"))
    network = net(names, layers, ["y"])
    return network, exact.Program(certificate.parse_network(json.loads(json.dumps(network)), certificate.Limits()))


def _pre(network, env, name):
    a = next(a for a in network["assignments"] if a["name"] == name)
    return F(a["bias"]) + sum(F(w) * env[s] for s, w in a["terms"])


@pytest.mark.parametrize("seed", range(8))
def test_bounds_are_below_the_truth_and_the_exact_bound(seed):
    rng = random.Random(seed)
    widths = ((3,), (3, 3), (4, 3), (3, 3, 2))[seed % 4]
    network, program = _network(rng, 2 + seed % 2, widths, dyadic_weights=seed % 3 == 0)
    compiled = dyadic.compile_program(program)
    relus = [a["name"] for a in network["assignments"] if a["activation"] == "relu"]
    inputs = network["inputs"]
    for _ in range(3):
        box = {x: tuple(sorted((F(rng.randint(-9, 9), 7), F(rng.randint(-9, 9), 7) + F(1, 5)))) for x in inputs}
        phases = {h: rng.choice((1, -1)) for h in rng.sample(relus, min(2, len(relus)))} if rng.random() < 0.5 else {}
        boxq = [(_q(lo), _q(hi)) for lo, hi in box.values()]
        bt = dyadic.node_bounds(compiled, [boxq], [phases], [False])
        reference = exact.node_bounds(program, boxq, phases, None)
        points = [dict(zip(inputs, p)) for p in itertools.product(*[[lo + (hi - lo) * F(i, 5) for i in range(6)]
                                                                  for lo, hi in box.values()])]
        envs = [env for env in map(lambda p: evaluate(network, p), points)
                if all(_pre(network, env, h) * s >= 0 for h, s in phases.items())]
        for name in relus:
            k, i = program.position[name]
            lo, hi = F(bt.lower[k][i], 2 ** dyadic.E), F(bt.upper[k][i], 2 ** dyadic.E)
            for env in envs:
                assert lo <= _pre(network, env, name) <= hi or phases.get(name), name
            if len(widths) <= 2 and not (bt.contradiction[0] or reference.contradiction):
                assert _q(lo) <= reference.lower[k][i] and _q(hi) >= reference.upper[k][i], name
        if bt.contradiction[0]:  # the phases contradict: no point of the box lies in the leaf
            assert not envs and reference.contradiction is not None
            continue
        coeffs = {"y": F(rng.choice((1, -1))), inputs[0]: F(rng.randint(-2, 2), 3)}
        pre = {h: F(rng.randint(0, 3), 2) * -s for h, s in phases.items()}  # beta terms: -beta s pre
        alpha = {h: F(rng.randint(0, 4), 4) for h in relus}
        const = F(rng.randint(-5, 5), 7)
        got = dyadic.phi_lower(compiled, bt, [(0, {v: _q(c) for v, c in coeffs.items()}, _q(const),
                                               {h: _q(c) for h, c in pre.items()}, {h: _q(a) for h, a in alpha.items()})])[0]
        got = F(got, 2 ** dyadic.E)
        for env in envs:
            value = sum(c * env[v] for v, c in coeffs.items()) + const + sum(c * _pre(network, env, h) for h, c in pre.items())
            assert got <= value
        if len(widths) <= 2 and reference.contradiction is None:
            want = exact.lower_bound(program, reference, {v: _q(c) for v, c in coeffs.items()}, _q(const),
                                     {h: _q(c) for h, c in pre.items()}, {h: _q(a) for h, a in alpha.items()}, None)
            assert _q(got) <= want
            assert want - _q(got) < flint.fmpq(1, 10 ** 5)  # and not much below


def test_a_batch_gives_each_leaf_its_own_result():
    network, box, unsafe = random_claim(2)
    c = generate(network, box, unsafe, relu_first=True)
    parsed = certificate.parse_network(c["network"], certificate.Limits())
    boxes = certificate.parse_box(c["box"], parsed, certificate.Limits())
    atoms = certificate.parse_unsafe(c["unsafe"], parsed, certificate.Limits())
    leaves, _, _ = certificate_bab.walk(c["tree"], parsed, boxes, atoms, certificate.Limits())
    program = exact.Program(parsed)
    together = dyadic.check_leaves(program, atoms, leaves)
    assert together == [dyadic.check_leaf(program, atoms, one) for one in leaves]
    assert sum(not found for found in together) >= 0.7 * len(leaves)
    for one, found in zip(leaves, together):  # only the rounding is lost: rejected leaves have no margin
        if found:
            phases = dict(one.phases)
            bounds = exact.node_bounds(program, one.box, phases, None)
            assert any(certificate_bab._refutes(program, bounds, atoms[d], p, phases, None, d) or
                       _margin(program, bounds, atoms[d], p, phases) < flint.fmpq(1, 2 ** 40)
                       for d, p in enumerate(one.proofs)), one.where


def _margin(program, bounds, atoms, p, phases):
    coeffs, const = {}, flint.fmpq(0)
    for i, m in p.mu:
        sign = 1 if atoms[i].op in ("<=", "<") else -1
        for v, c in atoms[i].coeffs:
            coeffs[v] = coeffs.get(v, flint.fmpq(0)) + sign * m * c
        const -= sign * m * atoms[i].rhs
    pre = {n: -b * phases[n] for n, b in p.beta}
    return exact.lower_bound(program, bounds, coeffs, const, pre, dict(p.alpha), None)


@pytest.fixture()
def dyadic_only(monkeypatch):
    """Leaves are checked by the fixed-point attempt alone: nothing else can accept them."""
    monkeypatch.setattr(certificate_bab, "ATTEMPTS", (certificate_bab.DYADIC,))


def test_empty_leaves_and_phases(dyadic_only):
    # h = relu(x) with x in [1/2, 1]: the inactive phase contradicts, the active one makes y = h - x = 0
    network = net(["x"], [("h", {"x": 1}, 0, "relu"), ("y", {"h": 1, "x": -1}, 0, "linear")], ["y"])
    unsafe = [[atom({"y": 1}, ">", F(1, 100))]]
    good = cert(network, {"x": (F(1, 2), 1)}, unsafe, relu_split("h", leaf(proof({0: 1})), {"leaf": "empty"}))
    report = certificate.check(json.loads(json.dumps(good)))
    assert report.ok and 0 <= report.seconds < 60
    wrong = cert(network, {"x": (F(1, 2), 1)}, unsafe, relu_split("h", {"leaf": "empty"}, leaf(proof({0: 1}))))
    report = certificate.check(json.loads(json.dumps(wrong)))
    assert not report.ok and "fixed-point" in report.problems[0]


def test_tampered_certificates_are_rejected(dyadic_only):
    network, box, unsafe = random_claim(2)
    generated = generate(network, box, unsafe, relu_first=True)
    assert ref_check(generated)
    total = rejected = 0
    for label, mutated in itertools.islice(_mutations(generated), 0, None, 3):
        got = _accepts(mutated)
        assert not got or ref_check(mutated), label  # never accepts what the reference rejects
        if reaches(mutated["network"], {x: (F(lo), F(hi)) for x, (lo, hi) in mutated["box"].items()},
                   mutated["unsafe"], steps=4):
            assert not got, label
        total += 1
        rejected += not got
    assert total > 50 and rejected > 0.4 * total
    for path, node in _leaves(generated["tree"]):  # a multiplier changed
        if node["leaf"] != "empty":
            for value in ("0", "-1"):
                assert not _accepts(_set(generated, path + ("leaf", 0, "mu", "0"), value))
    count = 0
    for path, node in _splits(generated["tree"]):  # a split dropped: one child must cover its parent
        for child in node["children"]:
            if "leaf" in child:
                count += 1
                replaced = _set(generated, path, child) if path != ("tree",) else {**generated, "tree": child}
                assert not _accepts(replaced) or ref_check(replaced)
        if "input" in node["split"]:  # a split point moved to the end of the box
            assert not _accepts(_set(generated, path + ("split", "at"), generated["box"][node["split"]["input"]][1]))
    assert count >= 4


def test_engine_certificates_are_accepted_by_this_attempt_alone():
    """Certificates of the branch-and-bound engine: the fixed-point attempt alone accepts every leaf the
    rounded exact attempt (62 bits, back-substitution for the intervals' unstable ReLUs) accepts."""
    from tests.verify.test_certificate import _engine_certificates

    old = new = both = 0
    for c in _engine_certificates():
        parsed = certificate.parse_network(c["network"], certificate.Limits())
        atoms = certificate.parse_unsafe(c["unsafe"], parsed, certificate.Limits())
        leaves, _, _ = certificate_bab.walk(c["tree"], parsed, certificate.parse_box(c["box"], parsed, certificate.Limits()),
                                            atoms, certificate.Limits())
        program = exact.Program(parsed)
        for leaf_, found in zip(leaves, dyadic.check_leaves(program, atoms, leaves)):
            phases = dict(leaf_.phases)
            bounds = exact.node_bounds(program, leaf_.box, phases, certificate_bab.PREC, False)
            rounded = bool(bounds.contradiction) if leaf_.proofs is None else not any(
                certificate_bab._refutes(program, bounds, atoms[d], p, phases, certificate_bab.PREC, d)
                for d, p in enumerate(leaf_.proofs))
            old += rounded
            new += not found
            both += rounded and not found
    assert old > 10 and both >= 0.95 * old, (old, new, both)


@pytest.mark.parametrize("network, target", [("0", "0"), ("3", "3"), ("relu(s1) + 1", "1 + relu(s1)")])
def test_constant_assignments_and_point_boxes(network, target):
    """Fuzz claim 7938 (seed 2024): a network whose assignment has no terms crashed the dyadic attempt."""
    from proofs.text_to_domain import parse_domain
    from proofs.text_to_expr import parse_expression
    from symbolic.expr_to_circuit import expr_to_circuit
    from verify.claim import Claim
    from verify.decide import Config, decide

    circuit = expr_to_circuit(parse_expression(network), ["s1"], [])
    for domain in ("s1 in [(1/200000000), (1/200000000)]", "s1 in [-1, 2]"):
        claim = Claim(circuit, parse_expression(target), parse_domain(domain, ["s1"]))
        result = decide(claim, Config(timeout_s=20, max_cells=0))
        assert result.verdict.value == "proved" and result.method == "bab", result
        assert certificate.check(dict(result.certificate)).ok
