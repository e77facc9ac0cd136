"""Write ``"kind": "regions"`` certificates from the cells of an exact region enumeration.

The format and its checker are in :mod:`verify.certificate_regions`. The network, box and unsafe
set are the claim's engine form (:func:`verify.claim_to_problem.claim_to_problem`: ``d = N - f``),
the same as in a ``"bab"`` certificate. Each cell of :func:`verify.regions.enumerate_regions` (run
on that same difference network) is written with its vertices, counter-clockwise without repeated
or collinear points, shared through one ``points`` table, and its activation pattern, read off
the network at the average of its vertices (an interior point): ``"1"`` where the pre-activation
is positive there, else ``"0"``. On a cell of the enumeration every pre-activation has one sign,
so it is positive at an interior point exactly when it is positive somewhere on the cell, which
is the checker's rule; two cells of the enumeration part at a split whose ReLU is positive inside
one and not the other, so their patterns differ.

>>> import sympy as sp
>>> from fractions import Fraction

import numpy as np
>>> from symbolic.relu import sym
>>> from networks.library import make_minimum
>>> from verify import regions
>>> from verify.claim import Claim, Tolerance
>>> from verify.domain import Domain, RealInterval
>>> claim = Claim(make_minimum(), sp.Min(sym('x1'), sym('x2')),
...               Domain({'x1': RealInterval(-1, 1), 'x2': RealInterval(-1, 1)}), Tolerance(0))
>>> box = regions.applicable_box(claim.circuit.inputs, claim.domain)
>>> cells, _ = regions.difference_cells(claim.circuit, claim.target, box)
>>> cert = regions_certificate(claim, cells)
>>> from verify.certificate import check
>>> check(cert).ok, len(cert["cells"]) == len(cells)
(True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from symbolic.activation import RELU_AND_LINEAR
from symbolic.circuit import Activation
from symbolic.exact import fraction_of, q_of
from verify.claim import Claim
from verify.claim_to_problem import claim_to_problem
from verify.result_to_certificate import FORMAT, VERSION, NoCertificate, _unsafe_json
from verify.tree_to_certificate import exact_text, network_json


def _text(q) -> str:
    return exact_text(fraction_of(q))


def _polygon(vertices: Sequence[tuple]) -> list[tuple]:
    """Counter-clockwise, without repeated points or points inside an edge (exact)."""
    if len(vertices[0]) == 1:
        return sorted(vertices)
    out = []
    for v in vertices:
        if not out or out[-1] != v:
            out.append(v)
    while len(out) > 1 and out[0] == out[-1]:
        out.pop()
    changed = True
    while changed and len(out) >= 3:
        changed = False
        for i in range(len(out)):
            (x0, y0), (x1, y1), (x2, y2) = out[i - 1], out[i], out[(i + 1) % len(out)]
            if (x1 - x0) * (y2 - y1) - (y1 - y0) * (x2 - x1) == 0:
                del out[i]
                changed = True
                break
    area2 = sum(out[i - 1][0] * out[i][1] - out[i][0] * out[i - 1][1] for i in range(len(out)))
    return out[::-1] if area2 < 0 else out


class _Patterns:
    """Activation patterns at a point: floats with a running error bound decide a sign when
    ``|pre| > 2 err`` (a level of the network is one numpy product), else exact rationals. The
    checker re-derives every sign exactly, so this only has to be right, not trusted."""

    def __init__(self, circuit) -> None:
        self.inputs = circuit.inputs
        self.exact = [(a.name, [(s, q_of(c)) for s, c in a.terms], q_of(a.bias),
                       a.activation is Activation.RELU) for a in circuit.assignments]
        index = {n: i for i, n in enumerate(self.inputs)}
        level = {n: 0 for n in self.inputs}
        groups: dict[int, list] = {}
        for a in circuit.assignments:
            index[a.name] = len(index)
            level[a.name] = 1 + max((level[s] for s, _ in a.terms), default=0)
            groups.setdefault(level[a.name], []).append(a)
        self.size, self.levels = len(index), []
        for _, items in sorted(groups.items()):
            sources = sorted({index[s] for a in items for s, _ in a.terms})
            column = {j: k for k, j in enumerate(sources)}
            weights = np.zeros((len(items), len(sources)))
            for r, a in enumerate(items):
                for s, c in a.terms:
                    weights[r, column[index[s]]] = float(c)
            bias = np.array([float(a.bias) for a in items])
            relu = np.array([a.activation is Activation.RELU for a in items])
            gamma = (max((len(a.terms) for a in items), default=0) + 2) * 2.0 ** -52
            self.levels.append((np.array([index[a.name] for a in items]), np.array(sources, dtype=int),
                                weights, np.abs(weights), bias, np.abs(bias), relu, gamma))
        self.relus = [index[a.name] for a in circuit.assignments if a.activation is Activation.RELU]

    def pattern(self, vertices: Sequence[tuple]) -> str:
        """The pattern ("1" where the pre-activation is positive) at the average of ``vertices``."""
        n = len(vertices)
        values, err = np.zeros(self.size), np.zeros(self.size)
        for i in range(len(self.inputs)):
            coords = [float(v[i]) for v in vertices]
            values[i] = sum(coords) / n
            err[i] = 4 * n * 2.0 ** -53 * max(abs(c) for c in coords)
        bits = {}
        for rows, sources, weights, absw, bias, absb, relu, gamma in self.levels:
            x = values[sources]
            pre = weights @ x + bias
            bound = absw @ err[sources] + gamma * (absw @ np.abs(x) + absb)
            if np.any(relu & (np.abs(pre) <= 2 * bound)):
                return self._exact(vertices)
            for r in np.flatnonzero(relu):
                bits[int(rows[r])] = "1" if pre[r] > 0 else "0"
            values[rows] = np.where(relu, np.maximum(pre, 0.0), pre)
            err[rows] = bound
        return "".join(bits[r] for r in self.relus)

    def _exact(self, vertices: Sequence[tuple]) -> str:
        env = {n: sum(v[i] for v in vertices) / len(vertices) for i, n in enumerate(self.inputs)}
        pattern = []
        for name, terms, bias, relu in self.exact:
            pre = bias
            for s, c in terms:
                pre += c * env[s]
            if relu:
                pattern.append("1" if pre > 0 else "0")
                pre = pre if pre > 0 else 0 * pre
            env[name] = pre
        return "".join(pattern)


def regions_certificate(claim: Claim, cells: Sequence) -> dict:
    """The ``"regions"`` certificate of a claim proved on these cells (of its difference network)."""
    problem = claim_to_problem(claim)
    if problem is None or not problem.bounded:
        raise NoCertificate("the claim has no engine form on a bounded box for a regions certificate")
    circuit = problem.circuit
    if any(a.activation not in RELU_AND_LINEAR for a in circuit.assignments):
        raise NoCertificate("the difference network has an activation other than ReLU and linear")
    patterns = _Patterns(circuit)
    inputs = circuit.inputs
    table: dict[tuple, int] = {}
    out_cells = []
    for cell in cells:
        vertices = _polygon(cell.vertices)
        ids = [table.setdefault(v, len(table)) for v in vertices]
        out_cells.append({"pattern": patterns.pattern(vertices), "vertices": ids})
    return {
        "format": FORMAT, "version": VERSION, "kind": "regions",
        "network": network_json(circuit),
        "box": {n: [exact_text(lo), exact_text(hi)] for n, (lo, hi) in zip(inputs, problem.box)},
        "unsafe": _unsafe_json(problem.unsafe),
        "points": [[_text(x) for x in v] for v in table],
        "cells": out_cells,
        "source": dict(problem.source or {}),
        "stats": {"cells": len(out_cells), "points": len(table)},
    }

