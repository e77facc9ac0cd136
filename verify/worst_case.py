"""Exact worst-case error ``max |N(x) - f(x)|`` over a bounded domain, with the point attaining it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from fractions import Fraction

import sympy as sp
import z3

from symbolic import errors
from symbolic.circuit import Circuit
from symbolic.evaluate import evaluate_expr
from verify import regions
from verify.circuit_to_z3 import Encoder, model_value
from verify.domain import Domain, RealInterval


@dataclasses.dataclass(frozen=True)
class MaxError:
    """The exact maximum (``value``, attained ``at``), or proved bounds when the solver gave up.

    ``lower`` is always attained at ``at`` (replayed exactly); ``upper`` is None when no upper
    bound was proved. ``exact`` means ``lower == upper == value``.
    """

    value: Fraction | None
    at: Mapping[str, Fraction] | None
    lower: Fraction | None
    upper: Fraction | None
    method: str
    elapsed_s: float
    reason: str = ""

    @property
    def exact(self) -> bool:
        return self.value is not None

    def to_json(self) -> dict:
        return {
            "max_error": None if self.value is None else str(self.value),
            "max_error_at": None if self.at is None else {k: str(v) for k, v in self.at.items()},
            "max_error_lower": None if self.lower is None else str(self.lower),
            "max_error_upper": None if self.upper is None else str(self.upper),
            "max_error_method": self.method,
            "max_error_s": round(self.elapsed_s, 6),
        }


def _closure(domain: Domain, names) -> Domain:
    """The same domain with every real interval closed (the sup of a continuous error is attained there)."""
    sets = dict(domain.sets)
    for name in names:
        s = domain.of(name)
        if not s.bounded:
            raise errors.DomainError(f"the worst-case error needs a bounded domain, but {name} ranges over {s}")
        if isinstance(s, RealInterval):
            sets[name] = RealInterval(s.lo, s.hi)
    return Domain(sets)


def error_at(circuit: Circuit, target: sp.Expr, point: Mapping[str, Fraction], output: str | None = None) -> Fraction:
    """``|N(point) - f(point)|`` exactly."""
    network = circuit.evaluate_all(point)[output or circuit.output]
    return abs(network - evaluate_expr(target, point))


def max_error(
    circuit: Circuit,
    target: sp.Expr,
    domain: Domain,
    timeout_s: float = 60.0,
    max_points: int = 4096,
    output: str | None = None,
    max_cells: int = 200_000,
) -> MaxError:
    """``max |N(x) - f(x)|`` over ``domain`` (bounded), exactly.

    Small finite domains are evaluated point by point. A box over 1 or 2 inputs with a continuous
    piecewise-linear target is split into the linear regions of ``N - f``; the maximum of an
    affine function on a cell is at a vertex, so the largest vertex value is the exact maximum.
    Otherwise z3's optimiser maximises ``N - f`` and ``f - N`` exactly. Both work on the closure
    of the domain (the error is continuous, so the sup over an open box is that maximum).

    >>> from networks.library import make_minimum
    >>> from symbolic.relu import sym
    >>> box = Domain({'x1': RealInterval(-1, 1), 'x2': RealInterval(-1, 1)})
    >>> max_error(make_minimum(), sym('x1'), box).value
    Fraction(2, 1)
    """
    start = time.perf_counter()
    if circuit.parameters:
        raise errors.ClaimError("the worst-case error needs numeric weights, not symbolic parameters")
    output = output or circuit.output
    inputs = circuit.inputs
    if domain.size(inputs) <= max_points:
        best, at = None, None
        for point in domain.points(inputs):
            value = error_at(circuit, target, point, output)
            if best is None or value > best:
                best, at = value, point
        return MaxError(best, at, best, best, "exhaustive", time.perf_counter() - start)
    closed = _closure(domain, inputs)
    box = regions.applicable_box(inputs, closed)
    if box is not None and max_cells:
        try:
            found = regions.difference_cells(circuit, target, box, output, max_cells)
        except regions.TooManyRegions:
            found = None
        if found is not None:
            cells, name = found
            worst, vertex, _ = regions.vertex_extremes(cells, name)
            at = {n: regions.to_fraction(x) for n, x in zip(inputs, vertex)}
            value = error_at(circuit, target, at, output)
            if value != regions.to_fraction(worst):
                raise errors.ReplayError(f"region maximum {worst} does not replay at {at}")
            return MaxError(value, at, value, value, "regions", time.perf_counter() - start)
    enc = Encoder(closed, inputs)
    network = enc.encode_circuit(circuit)[output]
    difference = network - enc.expr(target)
    best, at, reasons = Fraction(-1), None, []
    for sign in (1, -1):
        opt = z3.Optimize()
        opt.set("timeout", max(1, int(timeout_s * 1000)))
        opt.add(*enc.constraints)
        objective = z3.Real("__objective")
        opt.add(objective == sign * difference)
        handle = opt.maximize(objective)
        answer = opt.check()
        if answer == z3.sat:
            point = {n: model_value(opt.model(), enc.raw[n])[0] for n in inputs}
            value = error_at(circuit, target, point, output)
            bound = _bound(opt.upper(handle))
            if bound is None or sign * (circuit.evaluate_all(point)[output] - evaluate_expr(target, point)) != bound:
                raise errors.ReplayError(f"z3's optimum {opt.upper(handle)} does not replay at {point}")
        else:
            reasons.append(f"z3 optimise ({'+' if sign > 0 else '-'}): {opt.reason_unknown()}")
            value, point = _best_seen(opt, enc, circuit, target, inputs, output)
        if value is not None and value > best:
            best, at = value, point
    elapsed = time.perf_counter() - start
    if reasons:
        return MaxError(None, at, best if at is not None else None, None, "z3-optimize", elapsed, "; ".join(reasons))
    return MaxError(best, at, best, best, "z3-optimize", elapsed)


def _bound(value: z3.ArithRef) -> Fraction | None:
    if z3.is_rational_value(value):
        return value.as_fraction()
    if z3.is_int_value(value):
        return Fraction(value.as_long())
    return None


def _best_seen(opt, enc, circuit, target, inputs, output):
    try:
        model = opt.model()
    except z3.Z3Exception:
        return None, None
    point = {n: model_value(model, enc.raw[n])[0] for n in inputs}
    return error_at(circuit, target, point, output), point
