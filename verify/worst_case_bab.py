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
budget runs out, the open nodes are closed at ``U`` = the largest of their sound upper bounds,
padded by the margin and rounded up to 12 significant digits. Either way the split tree is a
certificate of ``|N - f| <= U`` (docs/certificates.md) that :func:`verify.certificate.check`
re-checks with rationals only; a leaf it rejects is reopened and solved exactly, and the
certificate is checked again. ``U`` (and an exact value) is reported only once the check accepts.
"""

from __future__ import annotations

import dataclasses
import math
import time
from fractions import Fraction

from symbolic import budget, errors
from symbolic.circuit import Activation, Circuit
from symbolic.expr_to_circuit import circuits_difference, difference_circuit
from verify import certificate
from verify.claim_to_problem import Problem, make_problem
from verify.domain import Domain, RealInterval
from verify.problem_to_max import MaxSearch, Settings, unsafe_set
from verify.tree_to_certificate import certificate as make_certificate
from verify.worst_case import MaxError, error_at

@dataclasses.dataclass(frozen=True, eq=False)
class Maximum:
    """``lower = |d(at)|`` exactly; ``upper`` a bound of ``|d|`` on the box whose certificate
    ``certificate`` (of ``|d| <= upper``) the checker accepted (``report``), or None.
    ``exact``: ``upper == lower``."""

    lower: Fraction
    at: dict[str, Fraction]
    upper: Fraction | None
    certificate: dict | None
    report: certificate.CheckReport | None
    stats: dict
    reason: str = ""

    @property
    def exact(self) -> bool:
        return self.upper is not None and self.upper == self.lower


def maximise(problem: Problem, end: float, settings: Settings = Settings()) -> Maximum:
    """Maximise ``|d|`` (the problem's only output) over its bounded box before ``end``
    (``time.monotonic()``; ``math.inf`` for no limit). Weights must be float64 numbers.

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
    rounds = 0
    while True:
        closed_at = search.close_open()
        if closed_at is not None:
            floor = max(floor, closed_at)
        upper = max(search.lower, floor)
        t0 = time.monotonic()
        cert = make_certificate(problem.circuit, problem.box, unsafe_set(problem.circuit.output, upper),
                                search.tree, problem.source,
                                {"leaves": len(search.tree.leaves), "max_depth": search.tree.max_depth})
        search.t["certificate"] += time.monotonic() - t0
        if not settings.check:
            return _result(search, upper, cert, None, reason)
        report = _check(problem, cert, end, search)
        if report.ok or report.timed_out or time.monotonic() >= end:
            return _result(search, upper if report.ok else None, cert, report, reason)
        paths = [p.split(":")[0] for p in report.problems if p.startswith("tree")]
        rounds += 1
        if not paths or rounds > 20 or not search.reopen(paths):
            return _result(search, None, cert, report, reason)
        search.counts["repaired"] = search.counts.get("repaired", 0) + len(paths)
        more = search.search(end - settings.certify_share / 2 * max(0.0, end - time.monotonic()))
        reason = more or reason


def _check(problem: Problem, cert: dict, end: float, search: MaxSearch) -> certificate.CheckReport:
    """Check the certificate within the budget; the unrounded re-check covers every ReLU, since a
    leaf of an exact maximum has a bound of exactly 0."""
    t0 = time.monotonic()
    relus = sum(1 for a in problem.circuit.assignments if a.activation is Activation.RELU)
    left = None if not math.isfinite(end) else max(0.05, end - time.monotonic())
    report = certificate.check(cert, timeout_s=left, limits=certificate.Limits(exact_relus=max(128, relus)))
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
    done = (f"branch and bound: {s['leaves']} leaves ({s['exact_leaves']} solved exactly), certificate "
            f"of |N - f| <= {found.upper} checked in {s['check_s']:.3g} s" if found.upper is not None else "")
    if found.exact:
        return MaxError(found.lower, at, found.lower, found.lower, "bab", elapsed, note=done,
                        certificate=found.certificate)
    reason = found.reason or "branch and bound did not close the gap"
    return MaxError(None, at, found.lower, found.upper, "bab", elapsed,
                    reason=f"{reason}; {done}" if done else reason,
                    certificate=found.certificate if found.upper is not None else None)

