"""Exact worst-case error for any number of inputs: maximise ``|N - f|`` over a box by branch and bound.

The target is folded into the network (``d = N - f``, as :mod:`verify.claim_to_problem` does) and
:class:`verify.problem_to_max.MaxSearch` keeps two ends, both exact rationals:

* the lower end ``L = |d(a)|`` at a point ``a`` of the box, evaluated exactly; points come from
  signed-gradient ascent on ``d`` and ``-d`` (floats only propose), from the corners where each
  node's linear bound is largest, and from the exact maxima of leaves whose ReLUs are all fixed;
* the upper end: best-first branch and bound on the sound upper bound of ``|d|``; a node is closed
  when its sound bound shows ``|d| <= L`` with the engine's margin, or when its ReLUs are all
  fixed and its maximum is found exactly (:mod:`verify.leaf_to_exact_max`).

When no node is left open, ``|d| <= L`` on the whole box: ``L`` is the exact maximum. When the
search's share of the budget runs out, the open nodes are closed at ``U`` = the largest of their
sound upper bounds, padded by the margin and rounded up to 12 significant digits. Either way the
split tree is a certificate of ``|N - f| <= U`` (docs/certificates.md) that
:func:`verify.certificate.check` re-checks with rationals only, within the same budget: a leaf it
rejects is reopened and solved exactly, and a tree too big to check in time is cut to a coarser
certificate (a larger ``U``). ``U`` (and an exact value) is reported only once the check accepts.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import random
import time
from fractions import Fraction

import numpy as np

from symbolic import budget, errors
from symbolic.circuit import Activation, Circuit
from symbolic.exact import fmpq_of
from symbolic.expr_to_circuit import circuits_difference, difference_circuit
from verify import certificate, certificate_bab
from verify.claim_to_problem import Problem, make_problem
from verify.domain import Domain, RealInterval
from verify.problem_to_max import MaxSearch, Settings, round_up, unsafe_set
from verify.tree_to_certificate import Tree, certificate as make_certificate, network_json
from verify.worst_case import MaxError, error_at


@dataclasses.dataclass(frozen=True, eq=False)
class Maximum:
    """``lower = |d(at)|`` exactly; ``upper`` a bound of ``|d|`` on the box whose certificate
    ``certificate`` (of ``|d| <= upper``) the checker accepted (``report``), or None (with
    ``Settings(check=False)``: proved by the search alone, unchecked). ``exact``: ``upper == lower``
    with a checked certificate."""

    lower: Fraction
    at: dict[str, Fraction]
    upper: Fraction | None
    certificate: dict | None
    report: certificate.CheckReport | None
    stats: dict
    reason: str = ""

    @property
    def exact(self) -> bool:
        return self.upper == self.lower and self.report is not None and self.report.ok


def maximise(problem: Problem, end: float, settings: Settings = Settings()) -> Maximum:
    """Maximise ``|d|`` (the problem's only output) over its bounded box before ``end``
    (``time.monotonic()``; ``math.inf`` for no limit). Weights must be float64 numbers.

    The search gets ``1 - certify_share`` of the budget; checking its certificate usually costs
    more than the search (the checker is exact). When the whole tree would not be checked in the
    time left (the cost per leaf is timed on 24 leaves), a coarse cut of it (the split nodes of
    largest bound become leaves, at a larger ``U``) sized for an eighth of that time is checked,
    then finer cuts sized by the measured speed; the reported ``U`` is the finest one accepted.

    >>> from symbolic.circuit import from_layers
    >>> from verify.domain import RealInterval
    >>> net = from_layers([([[1, 1, 0], [0, 1, -1]], [0, 0]), ([[1, -2]], [0])])  # R(x1 + x2) - 2 R(x2 - x3)
    >>> found = maximise(make_problem(net, unsafe_set('y', Fraction(0)), [RealInterval(-1, 1)] * 3), math.inf)
    >>> found.lower, found.upper, found.exact, found.report.ok
    (Fraction(4, 1), Fraction(4, 1), True, True)
    """
    if not problem.bounded or len(problem.circuit.outputs) != 1:
        raise ValueError("maximise needs a bounded box and a network with one output")
    if not problem.layers.exact_floats:
        raise ValueError("maximise needs float64 weights and biases (sound float bounds)")
    start = time.monotonic()
    search = MaxSearch(problem, end, settings)
    search.ascent()
    search.bound(search.root_items())
    reason = search.search(start + (1 - settings.certify_share) * (end - start))
    floor = Fraction(0)  # the certificate's eps must cover open nodes closed at their bounds
    for _ in range(20):
        floor = max(floor, _close_open(search) or 0)
        whole = max(search.lower, floor)
        if not settings.check:
            return _result(search, whole, _certificate(search, search.tree, whole), None, reason)
        best, report, leaves = None, None, len(search.tree.leaves)
        if time.monotonic() >= end:
            return _result(search, None, None, None, (reason + "; " if reason else "")
                           + "no time was left to check a certificate")
        per_leaf = _sample_cost(search, end) if math.isfinite(end) else 0.0
        size = leaves if per_leaf * leaves * 1.3 <= end - time.monotonic() else \
            max(1, int((end - time.monotonic()) / (8 * per_leaf)))
        while True:  # progressively finer certificates, each sized by the last check's speed
            tree, upper = (search.tree, whole) if size >= leaves else _cut(search, size, floor)
            t0, cert = time.monotonic(), _certificate(search, tree, upper)
            report = _check(problem, cert, end, search, exact=upper == search.lower)
            if not report.ok:
                break
            best = (upper, cert, report)
            per_leaf = (time.monotonic() - t0) / len(tree.leaves)
            room = end - time.monotonic()
            if size >= leaves or per_leaf * len(tree.leaves) * 1.5 > room:
                break
            size = leaves if per_leaf * leaves * 1.3 <= room else int(0.7 * room / per_leaf)
            if size < 1.5 * len(tree.leaves):
                break
        if best is not None and best[0] == whole:
            return _result(search, *best, reason)
        paths = [p.split(":")[0] for p in report.problems if p.startswith("tree")] if not report.ok else []
        if size < leaves or report.timed_out or time.monotonic() >= end or not paths or not _reopen(search, paths):
            break
        search.counts["repaired"] = search.counts.get("repaired", 0) + len(paths)
        reason = search.search(end - (end - time.monotonic()) / 2) or reason
    if best is None:
        return _result(search, None, cert, report, reason)
    search.counts["cut_leaves"] = best[1]["stats"]["leaves"]
    return _result(search, *best, reason or "the certificate of the whole tree was not checked in time")


def _certificate(search: MaxSearch, tree: Tree, upper: Fraction) -> dict:
    t0 = time.monotonic()
    p = search.p
    cert = make_certificate(p.circuit, p.box, unsafe_set(p.circuit.output, upper), tree, p.source,
                            {"leaves": len(tree.leaves), "max_depth": tree.max_depth})
    search.t["certificate"] += time.monotonic() - t0
    return cert


def _sample_cost(search: MaxSearch, end: float, k: int = 24) -> float:
    """Seconds the checker takes per leaf of the current tree, timed on up to ``k`` random leaves
    (within a tenth of the time left; its rounded attempts only, as for a certificate with margins)."""
    closed = [n for n in search.tree.leaves if search.tree.leaves[n] != "empty"]
    if not closed:
        return 0.0
    t0 = time.monotonic()
    network = certificate.parse_network(network_json(search.p.circuit), certificate.Limits())
    unsafe = certificate.parse_unsafe(_unsafe_json(search.p.circuit.output, search.lower), network,
                                      certificate.Limits())
    picked = set(random.Random(0).sample(closed, min(k, len(closed))))
    items = list(_walk(search, picked))
    t1, done = time.monotonic(), 0
    for node, _, lo, hi, flat in items:
        if done and time.monotonic() > t1 + 0.1 * (end - t1):
            break
        done += 1
        box = tuple((fmpq_of(a), fmpq_of(b)) for a, b in search.root.exact_box(lo, hi))
        phases = tuple(sorted((search.names[i], int(flat[i])) for i in np.nonzero(flat)[0]))
        proofs = tuple(certificate_bab.Proof(tuple((i, fmpq_of(v)) for i, v in p.mu), tuple((n, fmpq_of(v)) for n, v in p.beta),
                                             tuple((n, fmpq_of(v)) for n, v in p.alpha)) for p in search.tree.leaves[node])
        certificate_bab.check_leaf(search.program, unsafe, certificate_bab.Leaf("tree", box, phases, proofs), False)
    search.t["check"] += time.monotonic() - t0
    return (time.monotonic() - t1) / done


def _unsafe_json(d: str, eps: Fraction) -> list:
    return [[{"coeffs": {n: str(c) for n, c in atom.coeffs}, "op": atom.op, "rhs": str(atom.rhs)} for atom in disj]
            for disj in unsafe_set(d, eps)]


def _close_open(search: MaxSearch) -> Fraction | None:
    """Close every open node with its proof; the smallest ``eps`` (rounded up) at which they all
    hold, or None when nothing was open."""
    nodes = [item[2] for item in search.queue] + search.stuck
    search.queue, search.stuck = [], []
    for node in nodes:
        search.tree.close(node.id, node.proofs)
        search.wide[node.id] = node.upper() + 2 * Fraction(node.need)
    return round_up(max(search.wide[node.id] for node in nodes)) if nodes else None


def _cut(search: MaxSearch, budget: int, floor: Fraction) -> tuple[Tree, Fraction]:
    """A certificate tree of at most about ``budget`` leaves: the split nodes are expanded largest
    bound first, and those left unexpanded become leaves with their own proofs; its ``eps``."""
    tree, new = search.tree, Tree()
    eps = max(search.lower, floor) if 0 in tree.leaves else search.lower
    heap, ids, size = [], {0: 0}, 1
    if 0 in tree.leaves:
        new.close(0, tree.leaves[0])
    else:
        heap.append((-search.inner[0][0], 0))
    while heap and size < budget:
        _, node = heapq.heappop(heap)
        for old, fresh in zip(tree.children[node], new.split(ids[node], tree.splits[node])):
            ids[old] = fresh
            if old in tree.leaves:
                new.close(fresh, tree.leaves[old])
                eps = max(eps, search.wide.get(old, eps))
            else:
                heapq.heappush(heap, (-search.inner[old][0], old))
        size += 1
    for _, node in heap:
        new.close(ids[node], search.inner[node][1])
        eps = max(eps, search.inner[node][0])
    return new, round_up(eps)


def _walk(search: MaxSearch, wanted: set[int] | None = None):
    """``(node, path, lo, hi, flat)`` for every node of the tree (or those in ``wanted``)."""
    stack = [(0, "tree", search.root.lo, search.root.hi, np.zeros(int(search.offsets[-1]), dtype=np.int8))]
    while stack:
        node, path, lo, hi, flat = stack.pop()
        if wanted is None or node in wanted:
            yield node, path, lo, hi, flat
        if search.tree.children[node] is None:
            continue
        how, (c0, c1) = search.tree.splits[node], search.tree.children[node]
        if how[0] == "input":
            j = search.p.inputs.index(how[1])
            hi0, lo1 = hi.copy(), lo.copy()
            hi0[j], lo1[j] = how[2], how[2]
            stack += [(c1, path + "/1", lo1, hi, flat), (c0, path + "/0", lo, hi0, flat)]
        else:
            pos = search.names.index(how[1])
            on, off = flat.copy(), flat.copy()
            on[pos], off[pos] = 1, -1
            stack += [(c1, path + "/1", lo, hi, off), (c0, path + "/0", lo, hi, on)]


def _reopen(search: MaxSearch, paths: list[str]) -> int:
    """Reopen the leaves at ``paths`` (``tree/0/1``, as the checker names them), distrusted: they
    are closed again only exactly. Returns how many were reopened."""
    ids = set()
    for path in paths:
        node = 0
        for step in path.split("/")[1:]:
            node = search.tree.children[node][int(step)]
        ids.add(node)
    items = [(node, lo, hi, flat) for node, _, lo, hi, flat in _walk(search, ids) if node in search.tree.leaves]
    for node, *_ in items:
        del search.tree.leaves[node]
        search.wide.pop(node, None)
        search.distrust.add(node)
    search.bound(items)
    return len(items)


def _check(problem: Problem, cert: dict, end: float, search: MaxSearch, exact: bool) -> certificate.CheckReport:
    """Check the certificate within the budget. A certificate of the exact maximum has leaves whose
    bound is exactly 0: the checker's unrounded attempt then covers every ReLU. Other certificates
    have a margin on every leaf and skip that slow attempt (a check the default limits would pass
    too: they only add attempts)."""
    t0 = time.monotonic()
    relus = sum(1 for a in problem.circuit.assignments if a.activation is Activation.RELU)
    left = None if not math.isfinite(end) else max(0.01, end - time.monotonic())
    limits = certificate.Limits(exact_relus=max(128, relus) if exact else 0)
    report = certificate.check(cert, timeout_s=left, limits=limits)
    search.t["check"] += time.monotonic() - t0
    return report


def _result(search: MaxSearch, upper, cert, report, reason: str) -> Maximum:
    stats = {**search.counts, "leaves": len(search.tree.leaves), "max_depth": search.tree.max_depth,
             **{f"{k}_s": round(v, 4) for k, v in search.t.items()}}
    if report is not None and not report.ok:
        why = "the certificate check ran out of time" if report.timed_out else \
            f"the certificate was rejected ({report.problems[0]})"
        reason = f"{reason}; {why}" if reason else why
    return Maximum(search.lower, search.at, upper, cert, report, stats, reason)


def problem_of(circuit: Circuit, target, domain: Domain, output: str | None = None) -> Problem | None:
    """The problem ``max |N - f|`` over the closure of a bounded box of real intervals, or None
    when branch and bound does not apply (other sets, a target that is not continuous
    piecewise-linear, sigmoids, or weights that are not float64 numbers)."""
    sets = []
    for name in circuit.inputs:
        s = domain.of(name)
        if not isinstance(s, RealInterval) or not s.bounded:
            return None
        sets.append(RealInterval(s.lo, s.hi))
    try:
        if isinstance(target, Circuit):
            diff = circuits_difference(circuit, target, output)
        else:
            diff = difference_circuit(circuit, target, output)
        problem = make_problem(diff, unsafe_set(diff.output, Fraction(0)), sets)
    except (errors.NonPiecewiseLinearError, errors.InvalidCircuitError):
        return None
    return problem if problem.layers.exact_floats else None


def max_error_bab(circuit: Circuit, target, domain: Domain, deadline: budget.Deadline,
                  output: str | None = None, settings: Settings = Settings()) -> MaxError | None:
    """``sup |N - f|`` over ``domain`` by branch and bound, as a :class:`~verify.worst_case.MaxError`
    (method "bab"): exact when the gap closes, else the replayed lower end and the certified upper
    end. None when the method does not apply (see :func:`problem_of`; also domains with an open
    end, where whether the supremum is attained would be left open)."""
    if any(isinstance(domain.of(n), RealInterval) and (domain.of(n).lo_open or domain.of(n).hi_open)
           for n in circuit.inputs):
        return None
    problem = problem_of(circuit, target, domain, output)
    if problem is None:
        return None
    deadline.check("the worst-case error (branch and bound)")
    start = time.perf_counter()
    found = maximise(problem, deadline.end, settings)
    at = found.at
    if error_at(circuit, target, at, output) != found.lower or not domain.contains(at):
        raise errors.ReplayError(f"the branch-and-bound maximum {found.lower} does not replay at {at}")
    elapsed = time.perf_counter() - start
    s = found.stats
    if found.reason.startswith("the time budget ran out"):
        found = dataclasses.replace(found, reason=deadline.reason("the worst-case error (branch and bound)")
                                    + found.reason[len("the time budget ran out"):])
    done = "" if found.upper is None else (
        f"branch and bound: certificate of |N - f| <= {found.upper} with {found.certificate['stats']['leaves']} "
        f"leaves ({s['exact_leaves']} solved exactly) checked in {s['check_s']:.3g} s")
    if found.exact:
        return MaxError(found.lower, at, found.lower, found.lower, "bab", elapsed, note=done,
                        certificate=found.certificate)
    reason = found.reason or "branch and bound did not close the gap"
    return MaxError(None, at, found.lower, found.upper, "bab", elapsed,
                    reason=f"{reason}; {done}" if done else reason,
                    certificate=found.certificate if found.upper is not None else None)

