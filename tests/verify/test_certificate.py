"""The exact certificate checker: hand-made and generated certificates check, tampered ones are rejected.

An independent reference (Fractions, one assignment at a time, straight from the format text)
computes the same bounds; a tiny generator bisects boxes (and splits ReLUs) until that reference
proves every leaf, and writes the multipliers it used.
"""

from __future__ import annotations

import copy
import itertools
import json
import random
from fractions import Fraction as F

import flint
import pytest

from symbolic.errors import CertificateError
from verify import certificate, certificate_exact

# -- building certificates ------------------------------------------------------------------------


def net(inputs, assignments, outputs):
    """``assignments``: (name, {source: weight}, bias, activation) with numbers as Fractions/ints."""
    return {"inputs": list(inputs), "outputs": list(outputs),
            "assignments": [{"name": n, "terms": [[s, str(F(w))] for s, w in terms.items()],
                             "bias": str(F(b)), "activation": act} for n, terms, b, act in assignments]}


def atom(coeffs, op, rhs):
    return {"coeffs": {v: str(F(c)) for v, c in coeffs.items()}, "op": op, "rhs": str(F(rhs))}


def cert(network, box, unsafe, tree):
    return {"format": "mathcircuits-certificate", "version": 1, "kind": "bab", "network": network,
            "box": {x: [str(F(lo)), str(F(hi))] for x, (lo, hi) in box.items()}, "unsafe": unsafe,
            "tree": tree, "source": {"statement": "test", "model": None}, "stats": {"search_s": 0.5}}


def leaf(*proofs):
    return {"leaf": list(proofs)}


def proof(mu, beta=None, alpha=None):
    p = {"mu": {str(i): str(F(m)) for i, m in mu.items()}}
    if beta:
        p["beta"] = {n: str(F(b)) for n, b in beta.items()}
    if alpha:
        p["alpha"] = {n: str(F(a)) for n, a in alpha.items()}
    return p


def input_split(x, at, lo, hi):
    return {"split": {"input": x, "at": str(F(at))}, "children": [lo, hi]}


def relu_split(h, active, inactive):
    return {"split": {"relu": h}, "children": [active, inactive]}


# y = x - relu(x) = min(x, 0) <= 0: "y > 0" is unreachable on [-1, 1]
MIN0 = net(["x"], [("h", {"x": 1}, 0, "relu"), ("y", {"x": 1, "h": -1}, 0, "linear")], ["y"])
NEVER_POSITIVE = [[atom({"y": 1}, ">", 0)]]
# d = relu(x) - relu(-x) - x = 0: "|d| > 1/100" is unreachable
ZERO = net(["x"], [("p", {"x": 1}, 0, "relu"), ("n", {"x": -1}, 0, "relu"),
                   ("d", {"p": 1, "n": -1, "x": -1}, 0, "linear")], ["d"])
TOLERANCE = [[atom({"d": 1}, ">", F(1, 100))], [atom({"d": -1}, ">", F(1, 100))]]


def check(c, **kw):
    return certificate.check(json.loads(json.dumps(c)), **kw)


# -- the independent reference --------------------------------------------------------------------


def ref_lower(coeffs, const, assignments, relax, box, alpha):
    """Lower bound of ``coeffs . v + const`` by back-substitution, one assignment at a time."""
    coeffs = dict(coeffs)
    for a in reversed(assignments):
        c = coeffs.pop(a["name"], F(0))
        kind = relax[a["name"]]
        if c == 0 or kind[0] == "zero":
            continue
        if kind[0] == "unstable":
            lo, up = kind[1], kind[2]
            s = up / (up - lo)
            if c > 0:
                c *= alpha.get(a["name"], F(1) if up > -lo else F(0))
            else:
                const -= c * s * lo
                c *= s
        for src, w in a["terms"]:
            coeffs[src] = coeffs.get(src, F(0)) + c * F(w)
        const += c * F(a["bias"])
    return const + sum((c * (box[x][0] if c > 0 else box[x][1]) for x, c in coeffs.items()), F(0))


def ref_bounds(network, box, phases):
    """Format step 1: ``(relax, pre bounds, contradiction)`` with Fractions."""
    post = dict(box)
    relax, pre, contradiction = {}, {}, False
    done = []
    for a in network["assignments"]:
        terms = [(s, F(w)) for s, w in a["terms"]]
        b = F(a["bias"])
        lo = b + sum((w * post[s][0 if w > 0 else 1] for s, w in terms), F(0))
        hi = b + sum((w * post[s][1 if w > 0 else 0] for s, w in terms), F(0))
        if a["activation"] == "linear":
            post[a["name"]], relax[a["name"]] = (lo, hi), ("pass",)
        else:
            lo = max(lo, ref_lower(dict(terms), b, done, relax, box, {}))
            hi = min(hi, -ref_lower({s: -w for s, w in terms}, -b, done, relax, box, {}))
            phase = phases.get(a["name"], 0)
            contradiction |= (phase > 0 and hi < 0) or (phase < 0 and lo > 0)
            lo, hi = (max(lo, F(0)), hi) if phase > 0 else (lo, min(hi, F(0))) if phase < 0 else (lo, hi)
            if phase > 0 or lo >= 0:
                relax[a["name"]] = ("pass",)
            elif phase < 0 or hi <= 0:
                relax[a["name"]] = ("zero",)
            else:
                relax[a["name"]] = ("unstable", lo, hi)
            pre[a["name"]] = (lo, hi)
            post[a["name"]] = (max(lo, F(0)), max(hi, F(0)))
        done.append(a)
    return relax, pre, contradiction


def ref_phi(network, atoms, p, phases):
    """``phi`` of a proof as (coefficients on variables, constant, strict)."""
    coeffs, const = {}, F(0)
    for i, m in p["mu"].items():
        a = atoms[int(i)]
        sign = 1 if a["op"] in ("<=", "<") else -1
        for v, c in a["coeffs"].items():
            coeffs[v] = coeffs.get(v, F(0)) + sign * F(m) * F(c)
        const -= sign * F(m) * F(a["rhs"])
    by_name = {a["name"]: a for a in network["assignments"]}
    for n, b in p.get("beta", {}).items():
        c = -F(b) * phases[n]
        for s, w in by_name[n]["terms"]:
            coeffs[s] = coeffs.get(s, F(0)) + c * F(w)
        const += c * F(by_name[n]["bias"])
    strict = all(atoms[int(i)]["op"] in ("<", ">") for i, m in p["mu"].items() if F(m) > 0)
    return coeffs, const, strict


def ref_leaf_ok(network, unsafe, box, phases, proofs):
    relax, _, contradiction = ref_bounds(network, box, phases)
    if proofs == "empty":
        return contradiction
    if len(proofs) != len(unsafe):
        return False
    relus = {a["name"] for a in network["assignments"] if a["activation"] == "relu"}
    for atoms, p in zip(unsafe, proofs):
        mu = {int(i): F(m) for i, m in p["mu"].items()}
        alpha = {n: F(a) for n, a in p.get("alpha", {}).items()}
        if (any(m < 0 or i >= len(atoms) for i, m in mu.items()) or not any(m > 0 for m in mu.values())
                or any(F(b) < 0 or n not in phases for n, b in p.get("beta", {}).items())
                or any(not 0 <= a <= 1 or n not in relus for n, a in alpha.items())):
            return False
        coeffs, const, strict = ref_phi(network, atoms, p, phases)
        value = ref_lower(coeffs, const, network["assignments"], relax, box, alpha)
        if not (value > 0 or (value == 0 and strict)):
            return False
    return True


def ref_check(c) -> bool:
    """The whole format, recursively, with Fractions; False for anything malformed."""
    try:
        network = c["network"]
        box = {x: (F(lo), F(hi)) for x, (lo, hi) in c["box"].items()}
        if set(box) != set(network["inputs"]) or any(lo > hi for lo, hi in box.values()):
            return False
        relus = {a["name"] for a in network["assignments"] if a["activation"] == "relu"}

        def walk(node, box, phases):
            if "leaf" in node:
                return ref_leaf_ok(network, c["unsafe"], box, phases, node["leaf"])
            a, b = node["children"]
            split = node["split"]
            if "relu" in split:
                h = split["relu"]
                return (h in relus and h not in phases and walk(a, box, {**phases, h: 1})
                        and walk(b, box, {**phases, h: -1}))
            x, at = split["input"], F(split["at"])
            lo, hi = box[x]
            return lo < at < hi and walk(a, {**box, x: (lo, at)}, phases) and walk(b, {**box, x: (at, hi)}, phases)

        return walk(c["tree"], box, {})
    except (KeyError, ValueError, ZeroDivisionError, TypeError):
        return False


def evaluate(network, point):
    env = {x: F(v) for x, v in point.items()}
    for a in network["assignments"]:
        pre = F(a["bias"]) + sum((F(w) * env[s] for s, w in a["terms"]), F(0))
        env[a["name"]] = max(pre, F(0)) if a["activation"] == "relu" else pre
    return env


def reaches(network, box, unsafe, steps=24):
    """A grid point of ``box`` in the unsafe set (a concrete counterexample), else None."""
    names = list(box)
    axes = [[lo + (hi - lo) * F(i, steps) for i in range(steps + 1)] for lo, hi in (box[n] for n in names)]
    ops = {"<=": lambda a, b: a <= b, "<": lambda a, b: a < b, ">=": lambda a, b: a >= b, ">": lambda a, b: a > b}
    for values in itertools.product(*axes):
        env = evaluate(network, dict(zip(names, values)))
        for atoms in unsafe:
            if all(ops[a["op"]](sum(F(c) * env[v] for v, c in a["coeffs"].items()), F(a["rhs"])) for a in atoms):
                return dict(zip(names, values))
    return None


# -- a tiny independent generator -------------------------------------------------------------------


def generate(network, box, unsafe, depth=16, relu_first=False):
    """Split until the reference proves each leaf with one of a few simple multipliers."""
    relus = [a["name"] for a in network["assignments"] if a["activation"] == "relu"]

    def candidates(atoms):
        for i in range(len(atoms)):
            yield {i: 1}
        yield {i: 1 for i in range(len(atoms))}

    def prove(box, phases, depth):
        relax, _, contradiction = ref_bounds(network, box, phases)
        if contradiction:
            return {"leaf": "empty"}
        proofs = []
        for atoms in unsafe:
            found = next((proof(mu) for mu in candidates(atoms)
                          if ref_leaf_ok(network, [atoms], box, phases, [proof(mu)])), None)
            if found is None:
                break
            proofs.append(found)
        else:
            return leaf(*proofs)
        assert depth > 0, "the generator needs a deeper tree"
        open_ = [h for h in relus if relax[h][0] == "unstable" and h not in phases]
        if relu_first and open_ and len(phases) < 2:
            h = open_[0]
            return relu_split(h, prove(box, {**phases, h: 1}, depth - 1), prove(box, {**phases, h: -1}, depth - 1))
        x = max(box, key=lambda n: box[n][1] - box[n][0])
        lo, hi = box[x]
        mid = (lo + hi) / 2
        return input_split(x, mid, prove({**box, x: (lo, mid)}, phases, depth - 1),
                           prove({**box, x: (mid, hi)}, phases, depth - 1))

    return cert(network, box, unsafe, prove(dict(box), {}, depth))


def random_net(seed, inputs=2, widths=(3, 3)):
    rng = random.Random(seed)
    names, layers, previous = [f"x{i + 1}" for i in range(inputs)], [], None
    previous = list(names)
    for k, width in enumerate(widths):
        layer = []
        for j in range(width):
            terms = {s: F(rng.randint(-4, 4), 2) for s in previous}
            layers.append((f"h{k + 1}_{j + 1}", terms, F(rng.randint(-2, 2), 4), "relu"))
            layer.append(f"h{k + 1}_{j + 1}")
        previous = layer
    layers.append(("y", {s: F(rng.randint(-3, 3), 2) for s in previous}, F(1, 3), "linear"))
    return net(names, layers, ["y"])


def random_claim(seed):
    """A true claim "y > c never" with c a quarter above the grid maximum over [-1, 1]^2."""
    network = random_net(seed)
    box = {"x1": (F(-1), F(1)), "x2": (F(-1), F(1))}
    top = max(evaluate(network, {"x1": F(i, 10), "x2": F(j, 10)})["y"]
              for i in range(-10, 11) for j in range(-10, 11))
    return network, box, [[atom({"y": 1}, ">", top + F(1, 4))]]


# -- certificates that check ------------------------------------------------------------------------


def test_alpha_proves_min_at_the_root():
    c = cert(MIN0, {"x": (-1, 1)}, NEVER_POSITIVE, leaf(proof({0: 1}, alpha={"h": 1})))
    report = check(c)
    assert report.ok and report.leaves == 1 and report.splits == 0, report.problems
    c["tree"] = leaf(proof({0: 1}))  # default alpha is 0 here (u = -l): the bound is -1
    assert not check(c).ok


def test_beta_proves_the_inactive_phase():
    tree = relu_split("h", leaf(proof({0: 1})), leaf(proof({0: 1}, beta={"h": 1})))
    report = check(cert(MIN0, {"x": (-1, 1)}, NEVER_POSITIVE, tree))
    assert report.ok and report.leaves == 2 and report.splits == 1, report.problems
    for beta in ({"h": 0}, {"h": 3}, {"h": F(1, 2)}):
        tree["children"][1] = leaf(proof({0: 1}, beta=beta))
        assert not check(cert(MIN0, {"x": (-1, 1)}, NEVER_POSITIVE, tree)).ok, beta


def test_input_split_and_two_disjuncts():
    tree = input_split("x", 0, leaf(proof({0: 1}), proof({0: 1})), leaf(proof({0: 1}), proof({0: 1})))
    report = check(cert(ZERO, {"x": (-1, 1)}, TOLERANCE, tree))
    assert report.ok, report.problems
    assert not check(cert(ZERO, {"x": (-1, 1)}, TOLERANCE, leaf(proof({0: 1}), proof({0: 1})))).ok


def test_empty_leaf_needs_a_contradiction():
    network = net(["x"], [("h", {"x": 1}, -2, "relu"), ("y", {"h": 1, "x": 1}, 0, "linear")], ["y"])
    unsafe = [[atom({"y": 1}, ">", 1)]]
    tree = relu_split("h", {"leaf": "empty"}, leaf(proof({0: 1}, beta={"h": 0})))
    assert check(cert(network, {"x": (-1, 1)}, unsafe, tree)).ok
    tree["children"] = [tree["children"][1], {"leaf": "empty"}]  # inactive is consistent
    report = check(cert(network, {"x": (-1, 1)}, unsafe, tree))
    assert not report.ok and any("empty" in p for p in report.problems)


@pytest.mark.parametrize("seed", [1, 2, 3, 5])
def test_generated_certificates_check(seed):
    network, box, unsafe = random_claim(seed)
    for relu_first in (False, True):
        c = generate(network, box, unsafe, relu_first=relu_first)
        report = check(c)
        assert report.ok, report.problems
        assert report.leaves == json.dumps(c["tree"]).count('"leaf"')


def test_workers_give_the_same_report():
    network, box, unsafe = random_claim(2)
    c = generate(network, box, unsafe)
    bad = copy.deepcopy(c)
    bad["unsafe"][0][0]["rhs"] = str(F(bad["unsafe"][0][0]["rhs"]) - 1)
    for good in (c, bad):
        one, two = check(good), check(good, workers=2)
        assert (one.ok, one.problems, one.leaves, one.splits) == (two.ok, two.problems, two.leaves, two.splits)
    assert not check(bad, workers=2).ok


# -- the arithmetic against the reference -----------------------------------------------------------


def _program(network):
    return certificate_exact.Program(certificate.parse_network(network, certificate.Limits()))


def _q(x):
    return flint.fmpq(x.numerator, x.denominator)


@pytest.mark.parametrize("seed", range(6))
def test_exact_bounds_equal_the_reference_and_rounded_ones_are_sound(seed):
    rng = random.Random(seed)
    network = random_net(seed, inputs=2, widths=(3, 2, 2))
    program = _program(network)
    relus = [a["name"] for a in network["assignments"] if a["activation"] == "relu"]
    for _ in range(4):
        box = {x: tuple(sorted((F(rng.randint(-8, 8), 4), F(rng.randint(-8, 8), 4) + F(1, 8)))) for x in ("x1", "x2")}
        phases = {h: rng.choice((1, -1)) for h in rng.sample(relus, 2)}
        relax, pre, contradiction = ref_bounds(network, box, phases)
        boxq = [(_q(lo), _q(hi)) for lo, hi in box.values()]
        exact = certificate_exact.node_bounds(program, boxq, phases, None)
        for h, (lo, hi) in pre.items():
            k, i = program.position[h]
            assert (exact.lower[k][i], exact.upper[k][i]) == (_q(lo), _q(hi)), h
        assert (exact.contradiction is not None) == contradiction
        coeffs = {"y": F(1), "x1": F(rng.randint(-2, 2))}
        want = ref_lower(coeffs, F(1, 3), network["assignments"], relax, box, {})
        got = certificate_exact.lower_bound(program, exact, {v: _q(c) for v, c in coeffs.items()}, _q(F(1, 3)),
                                            {}, None, None)
        assert got == _q(want)
        if contradiction:
            continue
        rounded = certificate_exact.node_bounds(program, boxq, phases, 20, all_rows=rng.random() < 0.5)
        low = certificate_exact.lower_bound(program, rounded, {v: _q(c) for v, c in coeffs.items()}, _q(F(1, 3)),
                                            {}, None, 20)
        for values in itertools.product(*[[lo + (hi - lo) * F(i, 6) for i in range(7)] for lo, hi in box.values()]):
            env = evaluate(network, dict(zip(box, values)))
            inside = all((sum(F(w) * env[s] for s, w in _terms(network, h)) + _bias(network, h)) * p >= 0
                         for h, p in phases.items())
            if inside:
                assert low <= _q(sum(c * env[v] for v, c in coeffs.items()) + F(1, 3))


def _terms(network, h):
    return next(a["terms"] for a in network["assignments"] if a["name"] == h)


def _bias(network, h):
    return next(F(a["bias"]) for a in network["assignments"] if a["name"] == h)


def test_rounding_is_outward_and_keeps_the_sign():
    for x in (F(1, 3), F(-1, 3), F(10**30 + 1, 7), F(-1, 10**40), F(0), F(5)):
        q = _q(x)
        lo, hi = certificate_exact.round_down(q, 8), certificate_exact.round_up(q, 8)
        assert lo <= q <= hi and (lo > 0) == (x > 0) and (hi < 0) == (x < 0)
        assert int(lo.q) & (int(lo.q) - 1) == 0  # a power of two


# -- tampering ----------------------------------------------------------------------------------------


def _accepts(c) -> bool:
    try:
        return check(c).ok
    except CertificateError:
        return False


def _fields(node, path=()):
    """Every (path, value) of a JSON tree whose value is a string or a number."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _fields(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _fields(v, path + (i,))
    else:
        yield path, node


def _set(c, path, value):
    c = copy.deepcopy(c)
    node = c
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return c


def _mutations(c):
    """Every single-field change the test knows how to make, with a label."""
    relus = [a["name"] for a in c["network"]["assignments"] if a["activation"] == "relu"]
    for path, value in _fields(c):
        if path[0] in ("format", "version", "kind", "source", "stats"):
            continue
        if isinstance(value, str) and value != "empty" and path[-1] not in ("name", "op", "activation", "input",
                                                                            "relu") and not (len(path) > 1 and path[-2] == "inputs"):
            if path[0] == "network" and path[-2:] != ("bias",) and isinstance(path[-1], int) and path[-1] == 0:
                continue  # a source name
            x = F(value)
            for new in (x + 1, -x, x - F(1, 3), F(0)):
                if new != x:
                    yield f"{'.'.join(map(str, path))} := {new}", _set(c, path, str(new))
        elif path[-1] == "op":
            for op in ("<=", "<", ">=", ">"):
                if op != value:
                    yield f"{'.'.join(map(str, path))} := {op}", _set(c, path, op)
        elif path[-1] == "relu":
            for h in relus:
                if h != value:
                    yield f"{'.'.join(map(str, path))} := {h}", _set(c, path, h)
        elif path[-1] == "activation":
            yield f"{'.'.join(map(str, path))} flipped", _set(c, path, "linear" if value == "relu" else "relu")


@pytest.fixture(scope="module")
def generated():
    network, box, unsafe = random_claim(2)
    c = generate(network, box, unsafe, relu_first=True)
    assert ref_check(c) and check(c).ok
    return c


def test_every_single_field_mutation_agrees_with_the_reference(generated):
    """Each change to a number, operator, split neuron or activation is accepted exactly when the
    independent reference accepts it; every change that makes the claim false is rejected."""
    total = rejected = false_claims = 0
    for label, mutated in _mutations(generated):
        got = _accepts(mutated)
        assert got == ref_check(mutated), label
        if reaches(mutated["network"], {x: (F(lo), F(hi)) for x, (lo, hi) in mutated["box"].items()},
                   mutated["unsafe"], steps=4):
            false_claims += 1
            assert not got, label
        total += 1
        rejected += not got
    assert total > 150 and rejected > 0.5 * total and false_claims > 10, (total, rejected, false_claims)


def _leaves(node, path=("tree",)):
    if "leaf" in node:
        yield path, node
    else:
        for i, child in enumerate(node["children"]):
            yield from _leaves(child, path + ("children", i))


def _splits(node, path=("tree",)):
    if "split" in node:
        yield path, node
        for i, child in enumerate(node["children"]):
            yield from _splits(child, path + ("children", i))


def _get(c, path):
    for key in path:
        c = c[key]
    return c


def test_changed_multipliers_are_rejected(generated):
    for path, node in _leaves(generated["tree"]):
        if node["leaf"] == "empty":
            continue
        path = ("tree",) + path[1:]
        for value in ("0", "-1", "-1/3"):
            assert not _accepts(_set(generated, path + ("leaf", 0, "mu", "0"), value))
        for alpha in ("3/2", "-1/2"):
            assert not _accepts(_set(generated, path + ("leaf", 0, "alpha"), {"h1_1": alpha}))
        assert not _accepts(_set(generated, path + ("leaf", 0, "beta"), {"h2_2": "-1"}))
        assert not _accepts(_set(generated, path + ("leaf", 0, "mu"), {"1": "1"}))  # no such atom


def test_dropped_leaves_are_rejected(generated):
    count = 0
    for path, node in _splits(generated["tree"]):
        for i in (0, 1):
            child = node["children"][i]
            with pytest.raises(CertificateError):
                check(_set(generated, path + ("children",), [child]))
            if "leaf" in child:  # the split replaced by one child: that child's proof must fail on more
                count += 1
                assert not _accepts(_set(generated, path, child) if path != ("tree",) else {**generated, "tree": child})
    assert count >= 4


def test_split_points_outside_the_box_and_repeated_relu_splits_are_rejected(generated):
    moved = 0
    for path, node in _splits(generated["tree"]):
        if "input" in node["split"]:
            for at in ("1", "-1", "5/2", "-3"):  # the ends of the root box and beyond
                assert not _accepts(_set(generated, path + ("split", "at"), at))
            moved += 1
        else:
            h = node["split"]["relu"]
            child = node["children"][0]
            again = {"split": {"relu": h}, "children": [child, copy.deepcopy(child)]}
            report = check(_set(generated, path + ("children", 0), again))
            assert not report.ok and any("split twice" in p for p in report.problems)
    assert moved >= 2


def test_changed_claims_are_rejected(generated):
    lowered = _set(generated, ("unsafe", 0, 0, "rhs"), str(F(generated["unsafe"][0][0]["rhs"]) - 1))
    widened = _set(generate(*random_claim(5)), ("box", "x1"), ["-4", "4"])
    flipped = _set(generated, ("unsafe", 0, 0, "op"), "<")
    shifted = _set(generated, ("network", "assignments", -1, "bias"), str(F(generated["network"]["assignments"][-1]["bias"]) + 1))
    for c in (lowered, widened, flipped, shifted):
        box = {x: (F(lo), F(hi)) for x, (lo, hi) in c["box"].items()}
        assert reaches(c["network"], box, c["unsafe"]) is not None  # the changed claim is false
        assert not _accepts(c)


def test_wrong_disjunct_counts_and_false_empty_leaves_are_rejected():
    good = cert(ZERO, {"x": (-1, 1)}, TOLERANCE,
                input_split("x", 0, leaf(proof({0: 1}), proof({0: 1})), leaf(proof({0: 1}), proof({0: 1}))))
    assert check(good).ok
    for proofs in ([proof({0: 1})], [proof({0: 1})] * 3, []):
        report = check(_set(good, ("tree", "children", 0, "leaf"), proofs))
        assert not report.ok and any("disjuncts" in p for p in report.problems)
    report = check(_set(good, ("tree", "children", 1), {"leaf": "empty"}))
    assert not report.ok and "tree/1" in report.problems[0]


# -- malformed input ----------------------------------------------------------------------------------


GOOD = cert(MIN0, {"x": (-1, 1)}, NEVER_POSITIVE, leaf(proof({0: 1}, alpha={"h": 1})))


@pytest.mark.parametrize("path,value", [
    (("box", "x", 0), "0.5"), (("box", "x", 0), "1/0"), (("box", "x", 0), "0x10"), (("box", "x", 0), "\u0661"),
    (("box", "x", 0), " 1"), (("box", "x", 0), "+1"), (("box", "x", 0), "--1"), (("box", "x", 0), "1/-2"),
    (("box", "x", 0), 1), (("box", "x", 0), 0.5), (("box", "x", 0), True), (("box", "x", 0), None),
    (("box", "x", 0), "1" * 3000), (("box", "x", 0), "1\n"), (("box", "x"), ["1", "-1"]), (("box", "x"), ["1"]),
    (("box",), {}), (("box",), {"x": ["0", "1"], "z": ["0", "1"]}),
    (("network", "assignments", 0, "terms", 0, 0), "y"), (("network", "assignments", 0, "terms", 0, 0), "x y"),
    (("network", "assignments", 0, "activation"), "sigmoid"), (("network", "assignments", 1, "name"), "h"),
    (("network", "assignments", 0, "terms"), [["x", "1"], ["x", "2"]]), (("network", "outputs"), ["z"]),
    (("network", "outputs"), []), (("network", "inputs"), []), (("network", "assignments", 0, "extra"), 1),
    (("unsafe",), []), (("unsafe", 0), []), (("unsafe", 0, 0, "op"), "=="), (("unsafe", 0, 0, "coeffs"), {"h": "1"}),
    (("unsafe", 0, 0, "coeffs"), ["y", "1"]), (("tree",), {"leaf": [], "split": {}}), (("tree",), {}),
    (("tree",), {"split": {"input": "x", "at": "0"}, "children": [{"leaf": "empty"}]}),
    (("tree", "leaf", 0, "mu"), {"a": "1"}), (("tree", "leaf", 0, "mu"), {"01": "1"}),
    (("tree", "leaf", 0, "mu"), ["1"]), (("tree", "leaf", 0, "gamma"), {}), (("tree", "leaf"), "full"),
    (("tree", "leaf", 0, "alpha"), {"h": 1}), (("version",), 2), (("version",), True), (("format",), "other"),
    (("kind",), "magic"), (("surprise",), 1),
])
def test_malformed_certificates_raise_a_clear_error(path, value):
    with pytest.raises(CertificateError) as info:
        check(_set(GOOD, path, value))
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


def _objects(node, path=()):
    if isinstance(node, dict):
        yield path, node
    for key, child in (node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()):
        yield from _objects(child, path + (key,))


def test_missing_fields_raise():
    optional = {"source", "stats", "alpha", "beta"}
    count = 0
    for path, obj in _objects(GOOD):
        if path and path[-1] in ("source", "stats", "coeffs", "mu", "alpha", "beta"):
            continue  # free-form, or tables whose entries may be missing
        for key in obj:
            if key not in optional:
                c = copy.deepcopy(GOOD)
                del _get(c, path)[key]
                with pytest.raises(CertificateError):
                    check(c)
                count += 1
    assert count >= 15


def test_caps_bound_the_work():
    deep = {"leaf": [proof({0: 1}, alpha={"h": 1})]}
    for k in range(30, 0, -1):  # x <= 2**-k, nested
        deep = {"split": {"input": "x", "at": str(F(1, 2 ** k))}, "children": [deep, leaf(proof({0: 1}))]}
    with pytest.raises(CertificateError, match="deeper"):
        certificate.check(cert(MIN0, {"x": (-1, 1)}, NEVER_POSITIVE, deep), limits=certificate.Limits(max_depth=10))
    with pytest.raises(CertificateError, match="nodes"):
        certificate.check(cert(MIN0, {"x": (-1, 1)}, NEVER_POSITIVE, deep), limits=certificate.Limits(max_nodes=10))
    with pytest.raises(CertificateError, match="digits"):
        certificate.check(_set(GOOD, ("box", "x", 0), "-" + "1" * 40), limits=certificate.Limits(max_digits=20))


def test_timeout_is_neither_accepted_nor_rejected():
    network, box, unsafe = random_claim(1)
    report = check(generate(network, box, unsafe), timeout_s=0)
    assert not report.ok and report.timed_out and "timed out" in report.summary()


def test_load_reads_files_strictly(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(GOOD))
    assert certificate.check(certificate.load(path)).ok
    for text, message in (("{", "not valid JSON"), ('{"a": NaN}', "NaN"), ('{"a": 1, "a": 2}', "repeats"),
                          ("[1]", "JSON object"), (b"\xff\xfe", "UTF-8")):
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        with pytest.raises(CertificateError, match=message):
            certificate.load(path)
    with pytest.raises(CertificateError, match="cannot read"):
        certificate.load(tmp_path / "missing.json")
    path.write_text(json.dumps(GOOD))
    with pytest.raises(CertificateError, match="cap"):
        certificate.load(path, certificate.Limits(max_bytes=10))
    deep = '{"tree": ' + '{"split": {"relu": "h"}, "children": [' * 3000 + "1" + "]}" * 3000 + "}"
    path.write_text(deep)
    with pytest.raises(CertificateError, match="deeper"):
        certificate.load(path, certificate.Limits(max_depth=1000))


def test_report_is_frozen():
    report = check(GOOD)
    with pytest.raises(AttributeError):
        report.ok = False
    assert report.summary().startswith("certificate checked")


# -- certificates written by the engine -----------------------------------------------------------------


def _engine_certificates():
    """Certificates the branch-and-bound engine writes for small claims (input and ReLU splits)."""
    import time

    import sympy as sp

    from symbolic.circuit import Activation, Assignment, Circuit, from_layers
    from symbolic.relu import sym
    from verify.branch_and_bound import Settings, search
    from verify.claim import Claim, Tolerance, unreachable_claim
    from verify.claim_to_problem import claim_to_problem
    from verify.domain import Domain, RealInterval
    from verify.output_set import Atom, OutputSet

    square = Domain({"x1": RealInterval(-1, 1), "x2": RealInterval(-1, 1)})
    minimum = from_layers([([[1, 0], [-1, 0], [1, -1]], None), ([[1, -1, -1]], None)])
    two = from_layers([([[1, -1], [-1, 2], [1, 1]], [0, F(1, 4), 0]), ([[1, 1, -1], [-1, 0, 1]], [0, 0])])
    unsafe = OutputSet(((Atom((("y1", 1), ("y2", 1)), ">", F(5)),),
                        (Atom((("y1", 1),), "<", F(-3)), Atom((("x1", 1),), ">=", F(0)))))
    out = {}
    for seed in (1, 3):
        network, _, (atoms,) = random_claim(seed)
        out[seed] = (Circuit(("x1", "x2"), tuple(
            Assignment(a["name"], tuple((s, F(w)) for s, w in a["terms"]), F(a["bias"]),
                       Activation.RELU if a["activation"] == "relu" else Activation.LINEAR)
            for a in network["assignments"]), ("y",)), OutputSet(((Atom((("y", 1),), ">", F(atoms[0]["rhs"])),),)))
    cases = [(Claim(minimum, sp.Min(sym("x1"), sym("x2")), square, Tolerance(F(1, 4))), "auto"),
             (unreachable_claim(two, unsafe, square), "input"), (unreachable_claim(two, unsafe, square), "relu"),
             (unreachable_claim(*out[1], square), "input"), (unreachable_claim(*out[3], square), "relu")]
    out = []
    for claim, split in cases:
        outcome = search(claim_to_problem(claim), time.monotonic() + 10, Settings(split=split))
        if outcome.verdict == "proved":  # the engine may also say unknown; it never says refuted here
            out.append(outcome.certificate)
        assert outcome.verdict != "refuted"
    return out


@pytest.fixture(scope="module")
def engine_certificates():
    return _engine_certificates()


def test_engine_certificates_check(engine_certificates):
    kinds = set()
    assert len(engine_certificates) >= 2
    for c in engine_certificates:
        report = check(c)
        assert report.ok, report.problems
        kinds |= {k for k in ("input", "relu", "empty", "beta", "alpha") if f'"{k}"' in json.dumps(c["tree"])}
    assert {"input", "relu"} <= kinds, kinds  # today also "empty", "beta" and "alpha"


def test_tampered_engine_certificates_fail(engine_certificates):
    for c in engine_certificates:
        rejected = 0
        box = {x: (F(lo), F(hi)) for x, (lo, hi) in c["box"].items()}
        lowered = copy.deepcopy(c)
        for atoms in lowered["unsafe"]:
            for a in atoms:  # loosen every atom by a lot: the unsafe set is now reached
                a["rhs"] = str(F(a["rhs"]) + (-10 if a["op"] in (">", ">=") else 10))
        assert reaches(c["network"], box, lowered["unsafe"], steps=4) is not None
        assert not _accepts(lowered)
        for path, node in _leaves(c["tree"]):
            if node["leaf"] == "empty":
                continue
            for d, p in enumerate(node["leaf"]):
                for i in p["mu"]:
                    rejected += not _accepts(_set(c, path + ("leaf", d, "mu", i), "-1"))
                assert not _accepts(_set(c, path + ("leaf", d, "mu"), {}))
                for table, value in (("alpha", "2"), ("alpha", "-1/2"), ("beta", "-1")):
                    for n in p.get(table, {}):
                        assert not _accepts(_set(c, path + ("leaf", d, table, n), value))
            break
        for path, node in itertools.islice(_splits(c["tree"]), 3):
            with pytest.raises(CertificateError):
                check(_set(c, path + ("children",), node["children"][:1]))
            if "input" in node["split"]:
                x = node["split"]["input"]
                assert not _accepts(_set(c, path + ("split", "at"), str(F(c["box"][x][1]) + 1)))
        assert rejected > 0


def test_a_rejection_stops_after_max_problems_and_workers_agree():
    c = generate(*random_claim(1))
    c["unsafe"][0][0]["rhs"] = "-10"
    limits = certificate.Limits(max_problems=3)
    one = certificate.check(c, limits=limits)
    two = certificate.check(c, workers=2, limits=limits)
    assert not one.ok and not one.timed_out and "stopped after 3 problems" in one.problems[-1]
    assert one.problems == two.problems


def test_the_unrounded_attempt_decides_what_rounding_cannot(monkeypatch):
    """A margin below the rounding's resolution: rounded attempts fail, the exact one accepts; with
    the exact attempt skipped (a big network) the rejection says it was rounded."""
    from verify import certificate_bab

    network = net(["x"], [("h", {"x": 1}, F(1, 3), "relu"), ("y", {"h": 1, "x": -1}, 0, "linear")], ["y"])
    # y = relu(x + 1/3) - x on [-1, 1]: h >= x + 1/3 (alpha = 1) gives y >= 1/3 > 1/3 - 2**-70
    c = cert(network, {"x": (-1, 1)}, [[atom({"y": 1}, "<=", F(1, 3) - F(1, 2 ** 70))]],
             leaf(proof({0: 1}, alpha={"h": 1})))
    assert check(c).ok
    monkeypatch.setattr(certificate_bab, "ATTEMPTS", ((3, True), (None, True)))
    assert check(c).ok
    report = certificate.check(json.loads(json.dumps(c)), limits=certificate.Limits(exact_relus=0))
    assert not report.ok and "rounded outward to 3 bits" in report.problems[0]


def test_rounded_attempts_lose_only_their_resolution():
    """Above Limits.exact_relus only the rounded attempts run: they must accept a leaf whose exact
    margin (1/1000) is far above 2**-62. They once rounded each relaxed product of the objective's own
    small integer coefficients to a whole unit (here the chord's -2/3 to -1), losing about 0.08 per
    leaf on a 131-ReLU bench network, so that certificates of true proofs were rejected."""
    network = net(["x"], [("h", {"x": 1}, 0, "relu"), ("y", {"h": -1, "x": F(1, 3)}, 0, "linear")], ["y"])
    # on [-1, 2]: h <= (2/3)(x + 1), so y >= x/3 - (2/3)(x + 1) = -x/3 - 2/3 >= -4/3
    c = cert(network, {"x": (-1, 2)}, [[atom({"y": 1}, "<", F(-4, 3) - F(1, 1000))]], leaf(proof({0: 1})))
    assert check(c).ok
    assert certificate.check(json.loads(json.dumps(c)), limits=certificate.Limits(exact_relus=0)).ok
