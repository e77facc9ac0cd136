"""Exact worst-case error ``sup |N(x) - f(x)|`` over a bounded domain, and whether it is attained."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Mapping
from fractions import Fraction

import sympy as sp
import z3

from symbolic import budget, errors
from symbolic.activation import RELU_AND_LINEAR
from symbolic.circuit import Circuit
from symbolic.evaluate import evaluate_expr
from symbolic.expr_to_circuit import circuits_difference
from verify import bounds, regions, totality, z3_check
from verify.circuit_to_z3 import Encoder, model_value
from verify.domain import Domain, RealInterval

Target = sp.Basic | Circuit


@dataclasses.dataclass(frozen=True)
class MaxError:
    """The exact supremum ``value`` of ``|N - f|``, or proved bounds when the budget ran out.

    ``attained``: some point of the domain has error ``value``; ``at`` is then such a point. When
    the supremum is not attained (open ends, or a jump of the target), ``at`` is a point of the
    domain's closure where the error extends continuously to ``value`` (None if there is none, for
    a target with a jump) and ``note`` says where the supremum is approached.
    Without an exact value (the budget ran out, z3 gave up), ``lower`` is the error at a replayed
    point (``at``) and ``upper`` a proved bound or None. ``exact`` means ``lower == value == upper``.
    """

    value: Fraction | None
    at: Mapping[str, Fraction] | None
    lower: Fraction | None
    upper: Fraction | None
    method: str
    elapsed_s: float
    reason: str = ""
    attained: bool = True
    note: str = ""
    certificate: Mapping | None = dataclasses.field(default=None, compare=False, repr=False)  # bab: of |N - f| <= upper

    @property
    def exact(self) -> bool:
        return self.value is not None

    def to_json(self) -> dict:
        return {
            "max_error": None if self.value is None else str(self.value),
            "max_error_at": None if self.at is None else {k: str(v) for k, v in self.at.items()},
            "max_error_attained": self.attained if self.value is not None else None,
            "max_error_note": self.note or None,
            "max_error_lower": None if self.lower is None else str(self.lower),
            "max_error_upper": None if self.upper is None else str(self.upper),
            "max_error_method": self.method,
            "max_error_s": round(self.elapsed_s, 6),
            "max_error_reason": self.reason or None,
        }


def _closure(domain: Domain, names) -> Domain:
    """The same domain with every real interval closed."""
    sets = dict(domain.sets)
    for name in names:
        s = domain.of(name)
        if not s.bounded:
            raise errors.DomainError(f"the worst-case error needs a bounded domain, but {name} ranges over {s}")
        if isinstance(s, RealInterval):
            sets[name] = RealInterval(s.lo, s.hi)
    return Domain(sets)


def target_value(target: Target, point: Mapping[str, Fraction]) -> Fraction:
    """``f(point)`` exactly, for a target expression or a (single-output) target circuit."""
    if isinstance(target, Circuit):
        return target.evaluate_all(point)[target.output]
    return evaluate_expr(target, point)


def error_at(circuit: Circuit, target: Target, point: Mapping[str, Fraction], output: str | None = None) -> Fraction:
    """``|N(point) - f(point)|`` exactly."""
    return abs(_signed(circuit, target, point, output))


def _signed(circuit, target, point, output=None) -> Fraction:
    return circuit.evaluate_all(point)[output or circuit.output] - target_value(target, point)


def _show(point) -> str:
    return ", ".join(f"{k} = {v}" for k, v in point.items())


#: On networks of at most this many neurons (both sides), branch and bound gets ``BAB_SHARE`` of
#: the budget and, if its gap does not close, z3's optimiser the rest.
Z3_OPTIMIZE_NEURONS = 48
BAB_SHARE = 0.5


def max_error(
    circuit: Circuit,
    target: Target,
    domain: Domain,
    timeout_s: float = 60.0,
    max_points: int = 4096,
    output: str | None = None,
    max_cells: int = 200_000,
    deadline: budget.Deadline | None = None,
) -> MaxError:
    """``sup |N(x) - f(x)|`` over ``domain`` (bounded), exactly; ``f`` is an expression or a circuit
    over the same inputs (the rounding error of a circuit is measured without inlining it).

    Small finite domains are evaluated point by point. A box over 1 or 2 inputs with a continuous
    piecewise-linear target is split into the linear regions of ``N - f`` on its closure; the
    maximum of an affine function on a cell is at a vertex, and it is attained in the domain
    exactly when some maximising face of a cell meets the domain (the centroid test below).
    A closed box over more inputs (or with too many regions) goes to branch and bound
    (:mod:`verify.worst_case_bab`, method "bab": exact when its gap closes, else the replayed lower
    end and a certified upper end; ``certificate`` then proves ``|N - f| <= upper``).
    Otherwise z3's optimiser maximises ``N - f`` and ``f - N`` over the domain itself; an optimum
    ``v - k*epsilon`` means the supremum ``v`` is not attained. The budget is ``deadline`` or,
    without one, ``timeout_s`` from now; when it ends the answer keeps the bounds proved so far.

    >>> from networks.library import make_minimum
    >>> from symbolic.relu import sym
    >>> box = Domain({'x1': RealInterval(-1, 1), 'x2': RealInterval(-1, 1)})
    >>> max_error(make_minimum(), sym('x1'), box).value
    Fraction(2, 1)
    >>> half_open = Domain({'x1': RealInterval(-1, 1, hi_open=True), 'x2': RealInterval(-1, 1)})
    >>> worst = max_error(make_minimum(), sym('x1'), half_open)
    >>> worst.value, worst.attained, worst.note
    (Fraction(2, 1), False, 'not attained: approached as the input tends to x1 = 1, x2 = -1')
    """
    start = time.perf_counter()
    deadline = deadline or budget.Deadline(timeout_s)
    if circuit.parameters or (isinstance(target, Circuit) and target.parameters):
        raise errors.ClaimError("the worst-case error needs numeric weights, not symbolic parameters")
    for c in (circuit, target):
        if isinstance(c, Circuit) and any(a.activation not in RELU_AND_LINEAR for a in c.assignments):
            raise errors.ClaimError("the worst-case error is computed for ReLU and linear networks only")
    output = output or circuit.output
    inputs = circuit.inputs
    if isinstance(target, Circuit) and set(target.inputs) != set(inputs):
        raise errors.ClaimError(f"the target network reads {target.inputs}, the network {inputs}")
    method = "totality"
    try:
        if not isinstance(target, Circuit):
            why = totality.check_total(target, (), domain, inputs, (), max_points, deadline)
            if why is not None:
                return MaxError(None, None, None, None, method, time.perf_counter() - start, why)
        if domain.size(inputs) <= max_points:
            method = "exhaustive"
            best, at = None, None
            for point in domain.points(inputs):
                deadline.check("the worst-case error (exhaustive)")
                value = error_at(circuit, target, point, output)
                if best is None or value > best:
                    best, at = value, point
            return MaxError(best, at, best, best, method, time.perf_counter() - start)
        closed = _closure(domain, inputs)
        box = regions.applicable_box(inputs, closed)
        if box is not None and max_cells:
            method = "regions"
            found = _by_regions(circuit, target, domain, box, output, max_cells, deadline)
            if found is not None:
                return dataclasses.replace(found, elapsed_s=time.perf_counter() - start)
        if len(inputs) > 2 or (box is not None and max_cells):  # more inputs, or too many regions
            from verify import worst_case_bab  # branch and bound; it imports this module

            method = "bab"
            small = len(circuit.neurons) + (len(target.neurons) if isinstance(target, Circuit) else 0) \
                <= Z3_OPTIMIZE_NEURONS
            share = budget.Deadline(max(deadline.remaining() * BAB_SHARE, 0.01)) if small else deadline
            found = worst_case_bab.max_error_bab(circuit, target, domain, share, output)
            if found is not None and found.value is None and small and deadline.remaining() > 0:
                # the gap did not close: on a small network z3's optimiser often finds the exact
                # maximum at once (12 + 2 ReLUs on 4 inputs: 20 s, where bab left [0.0081, 0.034])
                try:
                    exact = _by_z3(circuit, target, domain, closed, output, deadline, start)
                except errors.TimeoutExpired:
                    exact = None
                if exact is not None and exact.value is not None:
                    return dataclasses.replace(exact, method="bab+z3-optimize")
            if found is not None:
                reason = found.reason
                if share is not deadline and reason.startswith("timeout after"):  # the whole budget is spent
                    reason = re.sub(r"^timeout after [0-9.e+-]+ s", f"timeout after {deadline.timeout_s:g} s", reason)
                return dataclasses.replace(found, elapsed_s=time.perf_counter() - start, reason=reason)
        method = "z3-optimize"
        return _by_z3(circuit, target, domain, closed, output, deadline, start)
    except errors.TimeoutExpired as exc:
        return MaxError(None, None, None, None, method, time.perf_counter() - start, str(exc))


# -- regions -----------------------------------------------------------------------------------
def _by_regions(circuit, target, domain, box, output, max_cells, deadline) -> MaxError | None:
    try:
        if isinstance(target, Circuit):
            diff = circuits_difference(circuit, target, output)
            found = regions.enumerate_regions(diff, box, max_cells, deadline), diff.output
        else:
            found = regions.difference_cells(circuit, target, box, output, max_cells, deadline)
    except regions.TooManyRegions:
        return None
    if found is None:
        return None
    cells, name = found
    worst, vertex, _ = regions.vertex_extremes(cells, name, deadline)
    value = regions.to_fraction(worst)
    inputs = circuit.inputs
    limit = {n: regions.to_fraction(x) for n, x in zip(inputs, vertex)}
    if error_at(circuit, target, limit, output) != value:
        raise errors.ReplayError(f"region maximum {value} does not replay at {_show(limit)}")
    at = _attaining_point(cells, name, worst, domain, inputs, deadline)
    if at is None:
        return MaxError(value, limit, value, value, "regions", 0.0, attained=False,
                        note=f"not attained: approached as the input tends to {_show(limit)}")
    if error_at(circuit, target, at, output) != value:
        raise errors.ReplayError(f"region maximum {value} does not replay at {_show(at)}")
    return MaxError(value, at, value, value, "regions", 0.0)


def _attaining_point(cells, name, worst, domain, inputs, deadline):
    """A point of ``domain`` where ``|D| = worst``, or None. On a cell D is affine, so ``D = worst``
    (or ``-worst``) holds on the face spanned by the vertices where it holds; that face meets the
    domain (a box whose ends may be open) exactly when the centroid of those vertices lies in it."""
    for cell in cells:
        budget.check(deadline, "the worst-case error (regions)")
        form = cell.forms[name]
        values = [regions.form_value(form, v) for v in cell.vertices]
        for target in (worst, -worst):
            face = [v for v, d in zip(cell.vertices, values) if d == target]
            if not face:
                continue
            centroid = {n: regions.to_fraction(sum(v[i] for v in face) / len(face)) for i, n in enumerate(inputs)}
            if domain.contains(centroid):
                return centroid
    return None


# -- z3 ------------------------------------------------------------------------------------------
def _continuous(target: Target) -> bool:
    """Whether the target is continuous (so the error extends continuously to the closure)."""
    if isinstance(target, Circuit):
        return True
    stack = [target]
    while stack:
        e = stack.pop()
        if isinstance(e, (sp.Piecewise, sp.Heaviside, sp.floor, sp.ceiling, sp.Mod, sp.Rel)):
            return False
        if isinstance(e, sp.Pow) and e.exp.is_negative and not e.base.is_number:
            return False
        stack.extend(e.args)
    return True


def _by_z3(circuit, target, domain, closed, output, deadline, start) -> MaxError:
    """The larger of the suprema of ``N - f`` and ``f - N``; bounds only if z3 gives up."""
    best: tuple | None = None  # (sup, attained, at, note)
    lower, lower_at, reasons = None, None, []
    for sign in (1, -1):
        kind, data = _optimise(circuit, target, domain, output, sign, deadline)
        point = data["point"]
        if point is not None:  # any model point gives a replayed lower bound
            value = error_at(circuit, target, point, output)
            if lower is None or value > lower:
                lower, lower_at = value, point
        if kind == "unknown":
            reasons.append(data["reason"])
            continue
        sup = data["sup"]
        if data["attained"]:
            if sign * _signed(circuit, target, point, output) != sup:
                reasons.append(f"z3's optimum {sup} does not replay at {_show(point)}")
                continue
            candidate = (sup, True, point, "")
        else:
            candidate = (sup, False, *_approach(circuit, target, domain, closed, output, sign, sup, deadline))
        if best is None or candidate[0] > best[0] or (candidate[0] == best[0] and candidate[1]):
            best = candidate
    elapsed = time.perf_counter() - start
    if reasons or best is None:
        upper = None if reasons else (best[0] if best else None)
        return MaxError(None, lower_at, lower, upper, "z3-optimize", elapsed, "; ".join(reasons))
    sup, attained, at, note = best
    return MaxError(sup, at, sup, sup, "z3-optimize", elapsed, attained=attained, note=note)


def _encode(circuit, target, domain, output, deadline):
    enc = Encoder(domain, circuit.inputs, (), deadline)
    network = enc.encode_circuit(circuit, signs=bounds.stable_signs(circuit, domain, deadline))[output]
    if isinstance(target, Circuit):
        signs = bounds.stable_signs(target, domain, deadline)
        f = enc.encode_circuit(target, prefix="t", signs=signs)[target.output]
    else:
        f = enc.expr(target)
    return enc, network - f


def _optimise(circuit, target, domain, output, sign, deadline):
    """Maximise ``sign * (N - f)`` over ``domain``: ("ok", {sup, attained, point}) or ("unknown", ...)."""
    enc, difference = _encode(circuit, target, domain, output, deadline)
    opt = z3.Optimize()
    opt.add(*enc.constraints)
    handle = opt.maximize(sign * difference)
    raws = [enc.raw[n] for n in circuit.inputs]

    def extract(o, answer):
        try:
            model = o.model()
        except z3.Z3Exception:
            return None
        point = [str(model_value(model, r)[0]) for r in raws]
        if answer != z3.sat:
            return {"point": point}
        infinite, standard, epsilon = (str(v) for v in o.upper_values(handle))
        return {"point": point, "upper": [infinite, standard, epsilon]}

    answer, reason, data = z3_check.run(opt, deadline, "z3 optimisation", extract, enc.neuron_vars)
    point = None if not data else dict(zip(circuit.inputs, (Fraction(v) for v in data["point"])))
    if answer != z3.sat or not data or "upper" not in data:
        return "unknown", {"reason": reason or "z3 optimisation gave no optimum", "point": point}
    infinite, standard, epsilon = (_exact(v) for v in data["upper"])
    if infinite is None or standard is None or epsilon is None or infinite != 0 or epsilon > 0:
        return "unknown", {"reason": f"z3 optimum {data['upper']} is not a finite supremum", "point": point}
    return "ok", {"sup": standard, "attained": epsilon == 0, "point": point}


def _exact(text: str) -> Fraction | None:
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None


def _approach(circuit, target, domain, closed, output, sign, sup, deadline):
    """``(at, note)`` for a supremum ``sup`` of ``sign * (N - f)`` that is not attained."""
    if _continuous(target):  # the closure's maximum is the sup; z3 finds where
        kind, data = _optimise(circuit, target, closed, output, sign, deadline)
        if kind == "ok" and data["attained"] and data["sup"] == sup \
                and sign * _signed(circuit, target, data["point"], output) == sup:
            return data["point"], f"not attained: approached as the input tends to {_show(data['point'])}"
    enc, difference = _encode(circuit, target, domain, output, deadline)
    delta = max(abs(sup), Fraction(1)) / 2**20
    solver = z3.Solver()
    solver.add(*enc.constraints, sign * difference > z3.RealVal(f"{(sup - delta).numerator}/{(sup - delta).denominator}"))
    raws = [enc.raw[n] for n in circuit.inputs]
    answer, _, values = z3_check.run(solver, deadline, "z3 optimisation",
                                     lambda s, a: [str(model_value(s.model(), r)[0]) for r in raws]
                                     if a == z3.sat else None, enc.neuron_vars)
    if answer == z3.sat:
        near = dict(zip(circuit.inputs, (Fraction(v) for v in values)))
        return None, (f"not attained: approached near {_show(near)}, where the error is "
                      f"{error_at(circuit, target, near, output)}")
    return None, "not attained"
