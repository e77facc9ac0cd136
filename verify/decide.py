"""Decide a claim by the cheapest sound method: exhaustive evaluation, region enumeration, or z3.

Every method runs under one wall-clock budget (:class:`symbolic.budget.Deadline`): the
totality check, each point, each region, the z3 encoding and z3 itself check it, and when it
runs out the verdict is ``unknown`` with the reason ``timeout after T s in <method>``.
"""

from __future__ import annotations

import dataclasses
import time
from fractions import Fraction

import z3

from symbolic import errors, interval
from symbolic.budget import Deadline
from verify import bounds, claim_to_smtlib, engine, regions, totality, z3_check
from verify.circuit_to_z3 import Encoder, model_value, z3_number
from verify.claim import Claim, Equality, Predicate, Tolerance, Unreachable
from verify.lazy_certificate import Deferred
from verify.result import Result, Verdict, confirmed, replay


@dataclasses.dataclass(frozen=True)
class Config:
    """Options for deciding claims.

    ``timeout_s``: the wall-clock budget of one :func:`decide` call, all methods together (the
    verdict is ``unknown`` when it runs out).
    ``max_points``: finite domains with at most this many points are checked point by point.
    ``max_cells``: budget of linear regions for 1- or 2-input claims on a bounded box (0: never
    enumerate regions); past it the claim goes to z3.
    ``deadline``: a budget already running, shared by every step of a command (see
    :meth:`started`); when None each :func:`decide` call starts its own ``timeout_s``.
    ``engine``: run falsification and branch and bound (:mod:`verify.engine`) before z3.
    ``workers``, ``scheduler``: None (both): the sequential branch and bound; otherwise branch and
    bound over a fixed frontier of sub-boxes (:mod:`verify.parallel_bab`) in ``workers`` local
    processes (1: this one) or on the Dask scheduler at this address, with the same verdict and
    the same proved certificate for every ``workers`` and ``scheduler``.

    >>> config = Config(timeout_s=2).started()
    >>> config.deadline.timeout_s, config.started() is config
    (2, True)
    """

    timeout_s: float = 10.0
    max_points: int = 4096
    max_cells: int = 200_000
    deadline: Deadline | None = None
    engine: bool = True
    workers: int | None = None
    scheduler: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.timeout_s, bool) or not isinstance(self.timeout_s, (int, float)) \
                or not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be a positive number, got {self.timeout_s!r}")
        if self.max_points < 0 or self.max_cells < 0:
            raise ValueError(f"max_points and max_cells must be >= 0, got {self.max_points}, {self.max_cells}")
        if self.deadline is not None and not isinstance(self.deadline, Deadline):
            raise ValueError(f"deadline must be a symbolic.budget.Deadline, got {self.deadline!r}")
        if self.workers is not None and (isinstance(self.workers, bool) or not isinstance(self.workers, int)
                                         or self.workers < 1):
            raise ValueError(f"workers must be None or a positive integer, got {self.workers!r}")

    def started(self) -> Config:
        """This config with its budget running: itself if it has one, else a new ``timeout_s`` one."""
        if self.deadline is not None:
            return self
        return dataclasses.replace(self, deadline=Deadline(self.timeout_s))


#: Before branch and bound, an exact equality on more inputs than regions take (1-2 inputs are
#: decided by regions first) and a network of at most this many neurons gets a
#: first z3 attempt of at most ``Z3_FIRST_S`` seconds or ``Z3_FIRST_SHARE`` of the budget: bab has
#: no margin to close its leaves at the kinks of ``N - f = 0`` (on the minimum of four, z3 proves
#: it in 0.03 s while bab certifies 96.5% of the box in 60 s).
Z3_FIRST_NEURONS = 200
Z3_FIRST_S = 2.0
Z3_FIRST_SHARE = 0.2


def decide(claim: Claim, config: Config = Config()) -> Result:
    """Prove or refute ``claim``; ``unknown`` (with the reason) when the solver gives up or the
    budget runs out. A target undefined somewhere on the domain is refused first
    (:class:`~symbolic.errors.PartialTargetError`, naming such a point).

    >>> import sympy as sp
    >>> from symbolic.circuit import from_layers
    >>> from symbolic.relu import sym
    >>> net = from_layers([([[1], [-1]], None), ([[1, -1]], None)])
    >>> decide(Claim(net, sym('x'))).verdict
    <Verdict.PROVED: 'proved'>
    """
    config = config.started()
    start = time.perf_counter()
    method = "totality"
    try:
        why = _check_total(claim, config)
        if why is not None:
            return Result(claim, Verdict.UNKNOWN, method, time.perf_counter() - start, reason=why)
        if not claim.parameters and claim.domain.size(claim.circuit.inputs) <= config.max_points:
            method = "exhaustive"
            return _exhaustive(claim, start, config.deadline)
        if config.max_cells:
            method = "regions"
            result = _regions(claim, config, start)
            if result is not None:
                return result
        problem = None if claim.parameters or not config.engine else engine.problem_of(claim)
        if problem is not None:  # the engine: falsify first, then branch and bound on a box
            end = time.monotonic() + config.deadline.remaining()
            method = "falsification"
            result = engine.falsify_claim(claim, problem, end, start)
            if result is not None:
                return result
            if isinstance(claim.kind, Equality) and len(claim.circuit.inputs) > regions.MAX_INPUTS \
                    and 0 < len(claim.circuit.neurons) <= Z3_FIRST_NEURONS:
                # exact equality leaves bab no margin at the kinks; z3 often settles it at once
                method = "z3"
                first = dataclasses.replace(config, deadline=Deadline(
                    max(min(Z3_FIRST_SHARE * config.deadline.remaining(), Z3_FIRST_S), 0.01)))
                try:
                    result = _solve(claim, first, start)
                except errors.TimeoutExpired:
                    result = None
                if result is not None and result.verdict is not Verdict.UNKNOWN:
                    return result
            if engine.applicable(problem):
                method = "bab"
                result = engine.bab_claim(claim, problem, end, start, workers=config.workers,
                                          scheduler=config.scheduler)
                if result.verdict is not Verdict.UNKNOWN or config.deadline.expired():
                    return result
        method = "z3"
        return _solve(claim, config, start)
    except interval.Undecided as exc:
        return Result(claim, Verdict.UNKNOWN, "interval", time.perf_counter() - start, reason=str(exc))
    except errors.TimeoutExpired as exc:
        return Result(claim, Verdict.UNKNOWN, method, time.perf_counter() - start, reason=str(exc))


def _check_total(claim: Claim, config: Config) -> str | None:
    """The totality check of the target and of the symbolic weights (see :mod:`verify.totality`)."""
    weights = [(a.name, c) for a in claim.circuit.assignments
               for c in (*(c for _, c in a.terms), a.bias) if not c.is_Rational]
    target = None if isinstance(claim.kind, Unreachable) else claim.target  # output sets are total
    return totality.check_total(target, weights, claim.domain, claim.circuit.inputs, claim.parameters,
                                config.max_points, config.deadline)


def _exhaustive(claim: Claim, start: float, deadline: Deadline) -> Result:
    count = 0
    for point in claim.domain.points(claim.circuit.inputs):
        deadline.check("exhaustive evaluation")
        count += 1
        found = replay(claim, point)
        if found is not None:
            return Result(claim, Verdict.REFUTED, "exhaustive", time.perf_counter() - start, found,
                          evidence=f"exact evaluation; {found.fails_at()} (point {count} of the domain)")
    return Result(claim, Verdict.PROVED, "exhaustive", time.perf_counter() - start,
                  evidence=f"exact evaluation of all {count} points",
                  certificate=Deferred(lambda: _finite_certificate(claim)), stats={"points": count})


def _finite_certificate(claim: Claim) -> dict:
    from verify.finite_claim_to_certificate import exhaustive_certificate

    return exhaustive_certificate(claim)


def _regions_certificate(claim: Claim, cells: list) -> dict:
    from verify.cells_to_certificate import regions_certificate

    return regions_certificate(claim, cells)


def _regions(claim: Claim, config: Config, start: float) -> Result | None:
    """Decide an equality/tolerance claim on a 1-2 input box by exact region enumeration, or None."""
    if claim.parameters or not isinstance(claim.kind, (Equality, Tolerance)):
        return None
    box = regions.applicable_box(claim.circuit.inputs, claim.domain)
    if box is None:
        return None
    try:
        found = regions.difference_cells(claim.circuit, claim.target, box, claim.output, config.max_cells,
                                         config.deadline)
    except regions.TooManyRegions:
        return None
    if found is None:
        return None
    cells, name = found
    eps = claim.kind.eps if isinstance(claim.kind, Tolerance) else 0
    worst, vertex, count = regions.vertex_extremes(cells, name, config.deadline)
    if worst <= eps:
        return Result(claim, Verdict.PROVED, "regions", time.perf_counter() - start,
                      evidence=f"N - f is affine on each of {len(cells)} linear regions of the box and "
                               f"|N - f| <= {eps} at all {count} of their vertices",
                      certificate=Deferred(lambda: _regions_certificate(claim, cells)),  # built when asked for
                      stats={"cells": len(cells), "vertices": count})
    point = {n: regions.to_fraction(x) for n, x in zip(claim.circuit.inputs, vertex)}
    if not claim.domain.contains(point):
        point = regions.interior_witness(cells, name, lambda d: abs(d) > eps, claim.domain, claim.circuit.inputs,
                                         config.deadline)
        if point is None:
            return None
    found_cex = confirmed(claim, point, "region enumeration")
    return Result(claim, Verdict.REFUTED, "regions", time.perf_counter() - start, found_cex,
                  evidence=f"vertex of one of {len(cells)} linear regions, replayed exactly")


def negation(claim: Claim, enc: Encoder) -> z3.BoolRef:
    """The z3 formula that holds exactly where the claim fails."""
    signs = bounds.stable_signs(claim.circuit, claim.domain, enc.deadline)
    values = enc.encode_circuit(claim.circuit, signs=signs)
    kind = claim.kind
    if isinstance(kind, Unreachable):  # fails where some disjunct of the output set is reached
        ops = {"<=": lambda a, b: a <= b, "<": lambda a, b: a < b, ">=": lambda a, b: a >= b, ">": lambda a, b: a > b}
        return z3.Or(*(z3.And(*(ops[a.op](z3.Sum(*(z3_number(c) * values[n] for n, c in a.coeffs)), z3_number(a.rhs))
                                for a in d)) for d in kind.unsafe.disjuncts), z3.BoolVal(False))
    network = values[claim.output]
    if isinstance(kind, Predicate):
        fires = {">": network > z3_number(kind.threshold), ">=": network >= z3_number(kind.threshold),
                 "<": network < z3_number(kind.threshold), "<=": network <= z3_number(kind.threshold)}[kind.op]
        return fires != enc.expr(claim.target)
    target = enc.expr(claim.target)
    if isinstance(kind, Tolerance):
        eps = z3_number(kind.eps)
        return z3.Or(network - target > eps, target - network > eps)
    assert isinstance(kind, Equality)
    return network != target


def _solve(claim: Claim, config: Config, start: float) -> Result:
    enc = Encoder(claim.domain, claim.circuit.inputs, claim.parameters, config.deadline)
    solver = z3.Solver()
    formula = negation(claim, enc)
    solver.add(*enc.constraints)
    solver.add(formula)
    raws = [enc.raw[name] for name in claim.variables]

    def extract(s, answer):  # runs where the solver answered (maybe a forked child): plain data
        if answer != z3.sat:
            return None
        return [[str(value), exact] for value, exact in (model_value(s.model(), r) for r in raws)]

    answer, reason, values = z3_check.run(solver, config.deadline, "z3", extract, enc.neuron_vars)
    elapsed = time.perf_counter() - start
    neurons = len(claim.circuit.neurons)
    method = "z3+sigmoid-bounds" if enc.abstracted else "z3"
    if answer == z3.unsat:
        facts = " with each sigmoid bounded in (0, 1)" if enc.abstracted else ""
        stable = f", {enc.stable} of fixed sign on the domain" if enc.stable else ""
        return Result(claim, Verdict.PROVED, method, elapsed,
                      evidence=f"z3 found the negation unsatisfiable ({neurons} neurons, "
                               f"{enc.neuron_vars} variables{stable}{facts})",
                      certificate=claim_to_smtlib.Certificate(claim, (*enc.constraints, formula), method))
    if answer == z3.unknown:
        return Result(claim, Verdict.UNKNOWN, method, elapsed, reason=reason)
    point = {name: Fraction(value) for name, (value, _) in zip(claim.variables, values)}
    exact = all(ok for _, ok in values)
    if not exact or claim.parameters or enc.abstracted:
        found = replay(claim, point)
        if found is None:
            return Result(claim, Verdict.UNKNOWN, method, time.perf_counter() - start,
                          reason="z3's candidate counterexample (irrational, nonlinear or from the "
                                 "sigmoid bounds) does not replay exactly")
    else:
        found = confirmed(claim, point, "z3")
    return Result(claim, Verdict.REFUTED, method, time.perf_counter() - start, found,
                  evidence="z3 model, replayed exactly through the circuit and the target")
