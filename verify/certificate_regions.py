"""Check ``"kind": "regions"`` certificates: a 1- or 2-input box cut into cells on which the network is affine.

A certificate names the network (the claim folded in: ``d = N - f``, as for ``"bab"``), the closed
``box``, the ``unsafe`` set (Equality/Tolerance: ``d > eps`` or ``-d > eps``), a table of exact
``points`` and the ``cells``::

    {"format": "mathcircuits-certificate", "version": 1, "kind": "regions",
     "network": {...}, "box": {"x1": ["-1", "1"], "x2": ["-1", "1"]}, "unsafe": [[...], ...],
     "points": [["-1", "-1"], ["1", "-1"], ...],
     "cells": [{"pattern": "1001", "vertices": [0, 1, 5, 4]}, ...],
     "source": {...}, "stats": {...}}

A cell is the convex hull of its vertices (indices into ``points``): in 1-D two points ``a < b``; in
2-D a convex polygon listed counter-clockwise. Its ``pattern`` has one character per ReLU of the
network, in order: ``"1"`` active, ``"0"`` inactive.

What the checker verifies, with flint rationals only (``w`` is the number of inputs):

1. **Each cell's pattern holds on the whole cell.** Under the pattern every assignment is an affine
   function of the inputs (a ReLU is its pre-activation when active, 0 when inactive); the checker
   computes these affine forms itself, level by level, and requires at every vertex of the cell:
   ``pre >= 0`` for an active ReLU, with ``pre > 0`` at one vertex at least, and ``pre <= 0`` for an
   inactive one. An affine function that has a sign at the vertices has it on their convex hull, so
   by induction over the assignments the network's true values on the cell are the pattern's
   affine forms.
2. **The cells cover the box.** Each cell is non-degenerate and convex: in 1-D ``a < b``; in 2-D every
   turn ``v_i -> v_i+1 -> v_i+2`` is a strict left turn (cross product ``> 0``) and the edge directions
   wind exactly once around (counted by the edges whose direction passes the positive x axis), which
   makes the polygon strictly convex and counter-clockwise, hence its area is the shoelace sum.
   Every vertex lies in the box, so every cell does. Patterns are pairwise distinct, which makes the
   interiors pairwise disjoint: if cells ``C`` and ``C'`` with patterns ``P != P'`` shared an open set
   ``U``, let ``j`` be the first ReLU where they differ, say active in ``P``. On ``U`` both patterns
   are right for the ReLUs before ``j`` (point 1), so ``pre_j`` is one and the same affine function
   ``A`` under both, and ``A >= 0`` on ``C``, ``A <= 0`` on ``C'``: ``A = 0`` on the open set ``U``,
   hence ``A = 0`` everywhere, against ``A > 0`` at a vertex of ``C``. (This is why an active
   ReLU needs a strictly positive vertex: a pre-activation that is 0 on a whole cell must be written
   inactive, or two copies of that cell with the two patterns would count its area twice.) With
   disjoint interiors inside the box, the exact areas (1-D: lengths) summing to the box's area
   means the union of the cells is a closed subset of the box whose complement in the box has
   measure 0; a non-empty relatively open subset of a box has positive measure, so the cells cover
   the box.
3. **No cell reaches the unsafe set.** For every cell and every disjunct of ``unsafe``, one atom of
   the disjunct fails at every vertex of the cell: each atom is affine on the cell (outputs and
   inputs are), and an affine function is above (below) a value on a polygon when it is at its
   vertices. So no point of the cell satisfies the disjunct.

Hence no point of the box reaches the unsafe set: for a folded claim, ``|N - f| <= eps`` on the box.

>>> from verify.certificate import FORMAT, check
>>> net = {"inputs": ["x"], "outputs": ["d"],
...        "assignments": [{"name": "h", "terms": [["x", "1"]], "bias": "0", "activation": "relu"},
...                        {"name": "d", "terms": [["h", "2"], ["x", "-1"]], "bias": "0", "activation": "linear"}]}
>>> cert = {"format": FORMAT, "version": 1, "kind": "regions", "network": net, "box": {"x": ["-1", "2"]},
...         "unsafe": [[{"coeffs": {"d": "1"}, "op": ">", "rhs": "2"}]],
...         "points": [["-1"], ["0"], ["2"]],
...         "cells": [{"pattern": "0", "vertices": [0, 1]}, {"pattern": "1", "vertices": [1, 2]}]}
>>> report = check(cert)
>>> report.ok, report.leaves
(True, 2)
>>> cert["cells"][1]["vertices"] = [1, 1]
>>> check(cert).problems
('cells[1]: the interval is empty or reversed (from 0 to 0)', 'the cells have total length 1, the box 3')
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping

import flint

from symbolic.errors import CertificateError
from verify.certificate import (Atom, CheckReport, Limits, Network, array, fields, parse_box, parse_network,
                                parse_unsafe, rational)

MAX_VERTICES = 10_000  # of one cell
_ZERO, _ONE = flint.fmpq(0), flint.fmpq(1)


@dataclasses.dataclass(frozen=True)
class _Level:
    """Assignments whose sources are all at lower levels: ``pre = weights . [sources; 1]``."""

    names: tuple[str, ...]
    sources: tuple[str, ...]
    weights: flint.fmpq_mat          # len(names) x (len(sources) + 1), the last column the biases
    slots: tuple[int | None, ...]    # per assignment: its index in the pattern, None when linear


def _levels(network: Network) -> tuple[list[_Level], int]:
    """Group the assignments into levels; returns the levels and the number of ReLUs."""
    level = {n: 0 for n in network.inputs}
    groups: dict[int, list] = {}
    relus = 0
    for a in network.assignments:
        level[a.name] = 1 + max((level[s] for s, _ in a.terms), default=0)
        groups.setdefault(level[a.name], []).append((a, relus if a.relu else None))
        relus += a.relu
    levels = []
    for _, items in sorted(groups.items()):
        sources = tuple(sorted({s for a, _ in items for s, _ in a.terms}))
        column = {s: i for i, s in enumerate(sources)}
        entries = []
        for a, _ in items:
            row = [_ZERO] * (len(sources) + 1)
            for s, w in a.terms:
                row[column[s]] = w
            row[-1] = a.bias
            entries.extend(row)
        levels.append(_Level(tuple(a.name for a, _ in items), sources,
                             flint.fmpq_mat(len(items), len(sources) + 1, entries), tuple(s for _, s in items)))
    return levels, relus


def _parse_cells(cert: Mapping, network: Network, relus: int, limits: Limits) -> tuple[list, list]:
    width = len(network.inputs)
    raw_points = array(cert["points"], "points")
    if len(raw_points) > limits.max_nodes:
        raise CertificateError(f"points: more than {limits.max_nodes} points")
    points = [tuple(rational(v, f"points[{i}][{k}]", limits) for k, v in enumerate(array(p, f"points[{i}]", width)))
              for i, p in enumerate(raw_points)]
    raw_cells = array(cert["cells"], "cells")
    if not raw_cells:
        raise CertificateError("cells: a certificate needs at least one cell")
    if len(raw_cells) > limits.max_nodes:
        raise CertificateError(f"cells: more than {limits.max_nodes} cells")
    cells = []
    for k, item in enumerate(raw_cells):
        where = f"cells[{k}]"
        c = fields(item, where, ("pattern", "vertices"))
        pattern = c["pattern"]
        if not isinstance(pattern, str) or len(pattern) != relus or pattern.strip("01"):
            raise CertificateError(f"{where}.pattern: expected {relus} characters 0 or 1 (one per ReLU)")
        ids = array(c["vertices"], f"{where}.vertices")
        fewest, most = (2, 2) if width == 1 else (3, MAX_VERTICES)
        if not fewest <= len(ids) <= most:
            raise CertificateError(f"{where}.vertices: a cell in {width}-D has "
                                   f"{'2' if width == 1 else f'3 to {MAX_VERTICES}'} vertices, got {len(ids)}")
        for i in ids:
            if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(points):
                raise CertificateError(f"{where}.vertices: {str(i)[:40]} is not an index into points")
        cells.append((pattern, [points[i] for i in ids]))
    return cells, points


def _geometry(vertices: list, box: list, where: str, problems: list) -> flint.fmpq:
    """Check the cell's shape (see the module docstring); returns its length (1-D) or twice its area."""
    for j, v in enumerate(vertices):
        for x, (lo, hi) in zip(v, box):
            if not lo <= x <= hi:
                problems.append(f"{where}: vertex {j} ({', '.join(map(str, v))}) is outside the box")
                return _ZERO
    if len(vertices[0]) == 1:
        (a,), (b,) = vertices
        if not a < b:
            problems.append(f"{where}: the interval is empty or reversed (from {a} to {b})")
            return _ZERO
        return b - a
    n, crossings, area2 = len(vertices), 0, _ZERO
    for i in range(n):
        (x0, y0), (x1, y1), (x2, y2) = vertices[i], vertices[(i + 1) % n], vertices[(i + 2) % n]
        dx, dy, ex, ey = x1 - x0, y1 - y0, x2 - x1, y2 - y1
        if dx * ey - dy * ex <= 0:
            problems.append(f"{where}: the turn at vertex {(i + 1) % n} is not a strict left turn "
                            "(vertices must be in strictly convex, counter-clockwise order)")
            return _ZERO
        upper_d = dy > 0 or (dy == 0 and dx > 0)   # direction angle in [0, pi)
        upper_e = ey > 0 or (ey == 0 and ex > 0)
        crossings += (not upper_d) and upper_e     # passes angle 0 (mod 2 pi)
        area2 += x0 * y1 - x1 * y0
    if crossings != 1:
        problems.append(f"{where}: the polygon winds {crossings} times around (a convex cell winds once)")
        return _ZERO
    return area2


def _fails_everywhere(values: list, op: str, rhs) -> bool:
    """Whether ``value op rhs`` is false at every vertex (then on the cell: the values are affine)."""
    if op == ">":
        return all(v <= rhs for v in values)
    if op == ">=":
        return all(v < rhs for v in values)
    if op == "<":
        return all(v >= rhs for v in values)
    return all(v > rhs for v in values)


def _check_cell(pattern: str, vertices: list, levels: list[_Level], network: Network,
                unsafe: tuple[tuple[Atom, ...], ...], where: str, problems: list) -> None:
    """Points 1 and 3 of the module docstring on one cell: the network under ``pattern`` (a ReLU is
    its pre-activation when active, 0 when inactive) evaluated exactly at every vertex, one matrix
    product per level; these are the values of the pattern's affine forms at the vertices."""
    nv = len(vertices)
    values: dict[str, list] = {n: [v[i] for v in vertices] for i, n in enumerate(network.inputs)}
    ones, zeros = [_ONE] * nv, [_ZERO] * nv
    for level in levels:
        gathered = [x for s in level.sources for x in values[s]] + ones
        computed = (level.weights * flint.fmpq_mat(len(level.sources) + 1, nv, gathered)).entries()
        for r, (n, slot) in enumerate(zip(level.names, level.slots)):
            at = computed[r * nv:(r + 1) * nv]
            if slot is None:
                values[n] = at
                continue
            signs = [v.p for v in at]  # the sign of a rational is its numerator's
            if pattern[slot] == "1":
                bad = next((j for j, p in enumerate(signs) if p < 0), None)
                if bad is not None or not any(signs):
                    why = (f"pre({n}) = {at[bad]} < 0 at vertex {bad}" if bad is not None
                           else f"pre({n}) is 0 at every vertex (write it inactive)")
                    problems.append(f"{where}: the pattern says {n} is active but {why}")
                    return
                values[n] = at
            else:
                bad = next((j for j, p in enumerate(signs) if p > 0), None)
                if bad is not None:
                    problems.append(f"{where}: the pattern says {n} is inactive but pre({n}) = {at[bad]} > 0 "
                                    f"at vertex {bad}")
                    return
                values[n] = zeros
    for d, atoms in enumerate(unsafe):
        for atom in atoms:
            at = [sum((c * values[v][j] for v, c in atom.coeffs), _ZERO) for j in range(nv)]
            if _fails_everywhere(at, atom.op, atom.rhs):
                break
        else:
            problems.append(f"{where}: no atom of disjunct {d} of the unsafe set fails at every vertex "
                            "(the cell may reach it)")
            return


def check_regions(cert: Mapping, limits: Limits, workers: int, deadline: float | None) -> CheckReport:
    """Check a ``"kind": "regions"`` certificate (see :func:`verify.certificate.check`)."""
    start = time.perf_counter()
    fields(cert, "certificate", ("format", "version", "kind", "network", "box", "unsafe", "points", "cells"),
           ("source", "stats"))
    network = parse_network(cert["network"], limits)
    if len(network.inputs) not in (1, 2):
        raise CertificateError(f"network.inputs: a regions certificate has 1 or 2 inputs, not {len(network.inputs)}")
    box = parse_box(cert["box"], network, limits)
    for n, (lo, hi) in box.items():
        if not lo < hi:
            raise CertificateError(f"box.{n}: a regions certificate needs lo < hi, got [{lo}, {hi}]")
    unsafe = parse_unsafe(cert["unsafe"], network, limits)
    levels, relus = _levels(network)
    cells, _ = _parse_cells(cert, network, relus, limits)
    bounds = [box[n] for n in network.inputs]
    problems: list[str] = []
    seen: dict[str, int] = {}
    total, late, checked = _ZERO, False, 0
    for k, (pattern, vertices) in enumerate(cells):
        if deadline is not None and time.monotonic() > deadline:
            late = True
            problems.append(f"timed out after {k} of {len(cells)} cells")
            break
        where = f"cells[{k}]"
        if pattern in seen:
            problems.append(f"{where}: the same pattern as cells[{seen[pattern]}] (patterns must be distinct)")
        seen.setdefault(pattern, k)
        size = _geometry(vertices, bounds, where, problems)
        total += size
        if size > 0:
            _check_cell(pattern, vertices, levels, network, unsafe, where, problems)
        checked += 1
        if len(problems) >= limits.max_problems:
            break
    if not late and len(problems) < limits.max_problems:
        want = flint.fmpq(1)
        for lo, hi in bounds:
            want *= hi - lo
        if len(bounds) == 2:
            total /= 2  # the shoelace sums are twice the areas
        if total != want:
            what = "length" if len(bounds) == 1 else "area"
            problems.append(f"the cells have total {what} {total}, the box {want}")
    return CheckReport(not problems, tuple(problems), checked, 0, time.perf_counter() - start, "regions",
                       timed_out=late and len(problems) == 1)
