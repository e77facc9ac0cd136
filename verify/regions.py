"""Exact linear-region enumeration for 1 or 2 inputs: split a box into the cells where a circuit is affine."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from fractions import Fraction

from symbolic import budget, errors
from symbolic.activation import RELU_AND_LINEAR
from symbolic.circuit import Activation, Assignment, Circuit
from symbolic.exact import Q, fraction_of, q_of


MAX_INPUTS = 2


class TooManyRegions(errors.MathCircuitsError):
    """The enumeration exceeded its cell budget (the caller falls back to another method)."""


to_fraction = fraction_of  # symbolic.exact.fraction_of under the name callers of this module use


@dataclasses.dataclass
class Cell:
    """A convex cell (interval in 1-D, polygon in 2-D, by its vertices) and the affine form of
    every live name on it: ``forms[name] = (a_1, ..., a_d, c)`` means ``a . x + c``."""

    vertices: list[tuple]
    forms: dict[str, tuple]


def form_value(form: tuple, vertex: tuple):
    """The value of the affine ``form`` at ``vertex``."""
    total = form[-1]
    for a, x in zip(form, vertex):
        total += a * x
    return total


def _combine(a: Assignment, forms: Mapping[str, tuple], coeffs: Sequence, bias, width: int) -> tuple:
    out = [Q(0)] * width + [bias]
    for (source, _), c in zip(a.terms, coeffs):
        form = forms[source]
        for i in range(width + 1):
            out[i] += c * form[i]
    return tuple(out)


def _split_interval(vertices, values):
    (lo,), (hi,) = vertices
    f_lo, f_hi = values
    root = (lo + (hi - lo) * f_lo / (f_lo - f_hi),)
    low, high = [vertices[0], root], [root, vertices[1]]
    return (high, low) if f_hi > 0 else (low, high)


def _area2(poly) -> object:
    total = Q(0)
    for i, (x1, y1) in enumerate(poly):
        x2, y2 = poly[(i + 1) % len(poly)]
        total += x1 * y2 - x2 * y1
    return total


def _split_polygon(vertices, values):
    """Sutherland-Hodgman for one line: the parts where the form is >= 0 and <= 0."""
    pos, neg = [], []
    n = len(vertices)
    for i in range(n):
        v, fv = vertices[i], values[i]
        w, fw = vertices[(i + 1) % n], values[(i + 1) % n]
        if fv >= 0:
            pos.append(v)
        if fv <= 0:
            neg.append(v)
        if (fv > 0 > fw) or (fv < 0 < fw):
            t = fv / (fv - fw)
            p = (v[0] + t * (w[0] - v[0]), v[1] + t * (w[1] - v[1]))
            pos.append(p)
            neg.append(p)
    return pos, neg


def _proper(poly, width: int) -> bool:
    if width == 1:
        return poly[0][0] != poly[1][0]
    return len(poly) >= 3 and _area2(poly) != 0


def enumerate_regions(circuit: Circuit, box: Mapping[str, tuple[Fraction, Fraction]],
                      max_cells: int = 200_000, deadline: budget.Deadline | None = None) -> list[Cell]:
    """The cells of the closed box on which every neuron has a fixed state, with the affine form
    of each output on each cell. Cells of lower dimension are dropped: the circuit is continuous,
    so its values there are limits of values on the full-dimensional cells around them.
    ``deadline`` is checked for every cell (:class:`~symbolic.errors.TimeoutExpired`).

    >>> from networks.library import make_absolute_value
    >>> cells = enumerate_regions(make_absolute_value(), {'x': (Fraction(-1), Fraction(2))})
    >>> sorted((str(c.vertices[0][0]), str(c.vertices[1][0]), str(c.forms['y'][0])) for c in cells)
    [('-1', '0', '-1'), ('0', '2', '1')]
    """
    inputs = circuit.inputs
    width = len(inputs)
    if not 1 <= width <= MAX_INPUTS:
        raise errors.ClaimError(f"region enumeration handles 1 or {MAX_INPUTS} inputs, not {width}")
    if circuit.parameters:
        raise errors.ClaimError("region enumeration needs numeric weights")
    lo = [Q(int(box[n][0].numerator), int(box[n][0].denominator)) for n in inputs]
    hi = [Q(int(box[n][1].numerator), int(box[n][1].denominator)) for n in inputs]
    if width == 1:
        vertices = [(lo[0],), (hi[0],)]
    else:
        vertices = [(lo[0], lo[1]), (hi[0], lo[1]), (hi[0], hi[1]), (lo[0], hi[1])]
    forms = {}
    for i, name in enumerate(inputs):
        unit = [Q(0)] * (width + 1)
        unit[i] = Q(1)
        forms[name] = tuple(unit)
    zero = tuple([Q(0)] * (width + 1))
    last_use = {name: len(circuit.assignments) for name in circuit.outputs}
    for index, a in enumerate(circuit.assignments):
        for source in a.sources:
            last_use.setdefault(source, index)
            last_use[source] = max(last_use[source], index)
    split = _split_interval if width == 1 else _split_polygon
    cells = [Cell(vertices, forms)]
    for index, a in enumerate(circuit.assignments):
        if a.activation not in RELU_AND_LINEAR:
            raise errors.ClaimError(f"region enumeration cannot handle the {a.activation.value} neuron {a.name}")
        coeffs = [q_of(c) for _, c in a.terms]
        bias = q_of(a.bias)
        dead = [s for s in set(a.sources) if last_use.get(s) == index]
        next_cells = []
        for cell in cells:
            budget.check(deadline, "region enumeration")
            pre = _combine(a, cell.forms, coeffs, bias, width)
            for s in dead:
                del cell.forms[s]
            if a.activation is Activation.LINEAR:
                cell.forms[a.name] = pre
                next_cells.append(cell)
                continue
            values = [form_value(pre, v) for v in cell.vertices]
            if all(v >= 0 for v in values):
                cell.forms[a.name] = pre
                next_cells.append(cell)
            elif all(v <= 0 for v in values):
                cell.forms[a.name] = zero
                next_cells.append(cell)
            else:
                pos, neg = split(cell.vertices, values)
                if _proper(pos, width):
                    next_cells.append(Cell(pos, {**cell.forms, a.name: pre}))
                if _proper(neg, width):
                    cell.vertices = neg
                    cell.forms[a.name] = zero
                    next_cells.append(cell)
        cells = next_cells
        if len(cells) > max_cells:
            raise TooManyRegions(f"more than {max_cells} linear regions after {a.name}")
    return cells


# -- claims and worst-case errors by regions -----------------------------------------------------
def applicable_box(claim_inputs: Sequence[str], domain) -> dict[str, tuple[Fraction, Fraction]] | None:
    """The bounds of a bounded real box over 1 or 2 inputs, or None when regions do not apply."""
    from verify.domain import RealInterval

    if not 1 <= len(claim_inputs) <= MAX_INPUTS:
        return None
    box = {}
    for name in claim_inputs:
        s = domain.of(name)
        if not isinstance(s, RealInterval) or not s.bounded or s.lo == s.hi:
            return None
        box[name] = (s.lo, s.hi)
    return box


def difference_cells(circuit: Circuit, target, box, output=None, max_cells: int = 200_000,
                     deadline: budget.Deadline | None = None):
    """Cells of ``N - f`` on the closed box, and the name of the difference; None if ``f`` is not
    continuous piecewise-linear (it cannot be lowered to ReLUs)."""
    from symbolic.expr_to_circuit import difference_circuit

    try:
        diff = difference_circuit(circuit, target, output)
    except (errors.NonPiecewiseLinearError, errors.InvalidCircuitError, errors.UnsupportedExpressionError):
        return None
    if any(a.activation not in RELU_AND_LINEAR for a in diff.assignments):
        return None
    return enumerate_regions(diff, box, max_cells, deadline), diff.output


def vertex_extremes(cells, name: str, deadline: budget.Deadline | None = None):
    """``(max |D|, vertex attaining it, vertex count)`` over all cell vertices (exact)."""
    best, at, count = None, None, 0
    for cell in cells:
        budget.check(deadline, "region enumeration")
        form = cell.forms[name]
        for v in cell.vertices:
            count += 1
            value = abs(form_value(form, v))
            if best is None or value > best:
                best, at = value, v
    return best, at, count


def interior_witness(cells, name: str, bad, domain, inputs, deadline: budget.Deadline | None = None):
    """A point of the domain where ``bad(D)`` holds, near a violating vertex (for open boxes)."""
    for cell in cells:
        budget.check(deadline, "region enumeration")
        form = cell.forms[name]
        centre = tuple(sum(v[i] for v in cell.vertices) / len(cell.vertices) for i in range(len(inputs)))
        for v in cell.vertices:
            if not bad(form_value(form, v)):
                continue
            t = Q(1, 2)
            for _ in range(64):
                p = tuple(x + t * (c - x) for x, c in zip(v, centre))
                point = {n: to_fraction(x) for n, x in zip(inputs, p)}
                if domain.contains(point) and bad(form_value(form, p)):
                    return point
                t /= 2
    return None
