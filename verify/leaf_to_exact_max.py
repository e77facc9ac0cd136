"""The exact maximum of ``d = N - f`` on a leaf whose ReLUs are all fixed: a float LP, then an exact vertex and duals.

A leaf is a box and ReLU phases. When the certificate checker's own unrounded bounds
(:func:`verify.certificate_exact.node_bounds` with ``prec=None``) fix every ReLU (phase-split, or
shown active or inactive), ``d`` is affine on the leaf, ``d(x) = c . x + c0``, and the leaf is the
polytope ``P = box ∩ {s_j pre_j(x) >= 0}`` over its phase-split neurons ``j`` (``pre_j`` affine too).
HiGHS proposes an optimal basis of ``max d`` over ``P``; the basis is then checked in exact
rationals (python-flint), so no float decides anything:

* the vertex ``v`` solves the basis' active constraints exactly and satisfies every constraint;
* the multipliers solve ``c + sum_j y_j s_j grad pre_j = z`` with ``y_j >= 0`` and ``z_i >= 0``
  (``<= 0``) only where ``v_i`` is at the upper (lower) end of the box.

Then ``max_P d = d(v)`` (weak duality), and ``y`` is the certificate's ``beta`` for this leaf:
``phi = eps - d - sum_j y_j s_j pre_j`` is affine with gradient ``-z``, so its minimum over the box
is taken at ``v`` and equals ``eps - d(v)`` (``y_j > 0`` only where ``pre_j(v) = 0``). The
checker computes exactly this minimum, so the leaf checks for every ``eps >= d(v)``.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from fractions import Fraction

import flint
import highspy
import numpy as np

from symbolic.exact import fmpq_of, fraction_of
from verify import certificate_exact as exact, lp_relaxation
from verify.circuit_to_layers import Layers

MAX_COMBINATIONS = 400  # active sets tried when HiGHS's basis does not check exactly


@dataclasses.dataclass(frozen=True)
class Vertex:
    """``max`` of an affine function over the leaf, attained at ``x``; ``beta`` the split multipliers."""

    value: Fraction
    x: tuple[Fraction, ...]
    beta: tuple[tuple[str, Fraction], ...]


@dataclasses.dataclass(frozen=True)
class LeafMax:
    """``status``: "max" (``upper`` = max of d, ``lower`` = max of -d), "empty" (phases contradict the
    checker's bounds), "split" (``neuron`` is not fixed: split it), "infeasible" (the LP says the
    leaf is empty, with no single contradiction the checker sees) or "unverified" (no basis checked)."""

    status: str
    upper: Vertex | None = None
    lower: Vertex | None = None
    neuron: str | None = None


def _f(v: flint.fmpq) -> Fraction:
    return fraction_of(v)


def affine_forms(layers: Layers, kinds: Mapping[str, int]) -> list[flint.fmpq_mat]:
    """Per level 0..K the post-activation forms as an ``(n_k, n + 1)`` matrix ``[A | b]`` (value
    ``A x + b``); ``kinds[name]`` is :data:`verify.certificate_exact.ZERO` for ReLUs fixed at 0, any
    other value for ReLUs that pass their input. Pre-activation forms come from :func:`pre_form`.

    >>> from symbolic.circuit import from_layers
    >>> from verify.circuit_to_layers import circuit_to_layers
    >>> layers = circuit_to_layers(from_layers([([[1], [-1]], [0, 1]), ([[2, 3]], None)]))
    >>> affine_forms(layers, {'h1_1': exact.PASS, 'h1_2': exact.ZERO})[-1].entries()
    [2, 0]
    """
    n = layers.n_inputs
    posts = [flint.fmpq_mat(n, n + 1, [1 if j == i else 0 for i in range(n) for j in range(n + 1)])]
    for lv in layers.levels:
        pre = _pre(lv, posts, n)
        keep = [0 if r and kinds.get(name) == exact.ZERO else 1 for name, r in zip(lv.names, lv.relu)]
        posts.append(flint.fmpq_mat(lv.size, lv.size, [keep[i] if i == j else 0 for i in range(lv.size)
                                                        for j in range(lv.size)]) * pre)
    return posts


def _pre(lv, posts, n: int) -> flint.fmpq_mat:
    pre = flint.fmpq_mat(lv.size, n + 1, [(fmpq_of(lv.bias_exact[i]) if j == n else 0) for i in range(lv.size)
                                          for j in range(n + 1)])
    for b in lv.blocks:
        pre += b.exact * posts[b.source]
    return pre


def pre_form(layers: Layers, posts: Sequence[flint.fmpq_mat], name: str) -> list[flint.fmpq]:
    """The pre-activation of ``name`` as ``[a_1, ..., a_n, b]`` from the post forms."""
    k, i = layers.position[name]
    lv = layers.level(k)
    row = _pre(lv, posts, layers.n_inputs)
    return [row[i, j] for j in range(layers.n_inputs + 1)]


def leaf_max(layers: Layers, program: exact.Program, box: Sequence[tuple[Fraction, Fraction]],
             phases: Mapping[str, int], time_limit: float = 5.0) -> LeafMax:
    """``max d`` and ``max -d`` over the leaf ``box`` with ``phases``, exactly (``d``: the only output)."""
    qbox = [(fmpq_of(lo), fmpq_of(hi)) for lo, hi in box]
    bounds = exact.node_bounds(program, qbox, dict(phases), None, True)
    if bounds.contradiction is not None:
        return LeafMax("empty")
    kinds = {}
    for k in range(1, program.depth + 1):
        level = program.levels[k]
        for i in level.relu_rows:
            name, kind = level.names[i], bounds.kinds[k][i]
            if name not in phases and (kind == exact.UNSTABLE or bounds.lower[k][i] > bounds.upper[k][i]):
                return LeafMax("split", neuron=name)
            kinds[name] = kind
    posts = affine_forms(layers, kinds)
    (k, i), n = layers.outputs[0], layers.n_inputs
    d = [posts[k][i, j] for j in range(n + 1)]
    split = sorted(phases)
    rows = []
    for name in split:
        form = pre_form(layers, posts, name)
        rows.append(([phases[name] * a for a in form[:n]], -phases[name] * form[n]))
    found = []
    for sign in (1, -1):
        top = maximise([sign * a for a in d[:n]], rows, qbox, time_limit)
        if isinstance(top, str):
            return LeafMax(top)
        x, y = top
        value = sign * (sum((a * v for a, v in zip(d[:n], x)), flint.fmpq(0)) + d[n])
        found.append(Vertex(_f(value), tuple(_f(v) for v in x),
                            tuple((name, _f(b)) for name, b in zip(split, y) if b != 0)))
    return LeafMax("max", found[0], found[1])


def region_max(layers: Layers, box: Sequence[tuple[Fraction, Fraction]], x: np.ndarray, sign: int,
               time_limit: float = 5.0) -> tuple[Fraction, tuple[Fraction, ...]] | None:
    """The maximum of ``sign * d`` over the closed linear region of the float point ``x`` (its
    ReLU pattern: a polytope on which ``d`` is affine) within ``box``, and an exact vertex attaining
    it; None when the LP does not check. A local maximum, found exactly: it proves nothing about
    other regions.

    >>> from symbolic.circuit import from_layers
    >>> from verify.circuit_to_layers import circuit_to_layers
    >>> layers = circuit_to_layers(from_layers([([[1], [-1]], [0, 0]), ([[1, 1]], None)]))  # |x|
    >>> region_max(layers, [(Fraction(-1), Fraction(2))], np.array([0.5]), 1)
    (Fraction(2, 1), (Fraction(2, 1),))
    """
    n, values, kinds = layers.n_inputs, [np.asarray(x, dtype=np.float64)[None]], {}
    for lv in layers.levels:
        pre = lv.bias + sum((values[b.source] @ b.weights.T for b in lv.blocks), np.zeros((1, lv.size)))
        values.append(np.where(lv.relu, np.maximum(pre, 0.0), pre))
        kinds.update((name, exact.PASS if p > 0 else exact.ZERO) for name, p, r in zip(lv.names, pre[0], lv.relu) if r)
    posts = affine_forms(layers, kinds)
    rows = []
    for lv in layers.levels:
        pre = _pre(lv, posts, n)
        for i, name in enumerate(lv.names):
            if lv.relu[i]:
                s = 1 if kinds[name] == exact.PASS else -1
                rows.append(([s * pre[i, j] for j in range(n)], -s * pre[i, n]))
    (k, i) = layers.outputs[0]
    d = [sign * posts[k][i, j] for j in range(n + 1)]
    top = maximise(d[:n], rows, [(fmpq_of(lo), fmpq_of(hi)) for lo, hi in box], time_limit)
    if isinstance(top, str):
        return None
    point = top[0]
    return _f(sum((a * v for a, v in zip(d[:n], point)), flint.fmpq(0)) + d[n]), tuple(_f(v) for v in point)


def maximise(c: Sequence[flint.fmpq], rows: Sequence[tuple[Sequence[flint.fmpq], flint.fmpq]],
             box: Sequence[tuple[flint.fmpq, flint.fmpq]], time_limit: float = 5.0):
    """An exactly checked optimal vertex of ``max c . x`` subject to ``g . x >= h`` for each
    ``(g, h)`` of ``rows`` and ``x`` in ``box``: ``(x, y)`` with the row multipliers ``y >= 0``,
    or "infeasible" (HiGHS's word: a guide only) or "unverified".

    >>> q = flint.fmpq
    >>> box = [(q(-1), q(1)), (q(-1), q(1))]
    >>> x, y = maximise([q(1), q(1)], [([q(-1), q(-2)], q(-1))], box)   # x1 + 2 x2 <= 1
    >>> x, y
    ([1, 0], [1/2])
    """
    n = len(c)
    if not rows:  # a box: each coordinate at the end its coefficient favours
        return [hi if a > 0 else lo for a, (lo, hi) in zip(c, box)], []
    solved = _highs(c, rows, box, time_limit)
    if isinstance(solved, str):
        return solved
    active, x_float = solved
    tried = set()
    if len(active) == n:
        tried.add(tuple(sorted(active)))
        checked = _check(c, rows, box, active)
        if checked is not None:
            return checked
    # a degenerate or inexact basis: try the constraints that are (nearly) tight at HiGHS's point
    slack = []
    for i, (lo, hi) in enumerate(box):
        slack.append((abs(x_float[i] - float(lo)), ("lo", i)))
        slack.append((abs(float(hi) - x_float[i]), ("hi", i)))
    for r, (g, h) in enumerate(rows):
        value = float(sum(float(a) * v for a, v in zip(g, x_float)) - float(h))
        scale = 1.0 + sum(abs(float(a)) for a in g) + abs(float(h))
        slack.append((abs(value) / scale, ("row", r)))
    near = [key for s, key in sorted(slack) if s <= 1e-7][:n + 8]
    for combo in itertools.islice(itertools.combinations(near, n), MAX_COMBINATIONS):
        key = tuple(sorted(combo))
        if key in tried or any(a[0] != "row" and b[0] != "row" and a[1] == b[1] for a, b in itertools.combinations(combo, 2)):
            continue
        tried.add(key)
        checked = _check(c, rows, box, list(combo))
        if checked is not None:
            return checked
    return "unverified"


def _highs(c, rows, box, time_limit: float):
    """HiGHS on the float LP: the nonbasic (active) constraints of its optimal basis and its point."""
    n, m = len(c), len(rows)
    h = lp_relaxation._solver()  # the shared, silenced HiGHS instance
    h.clearModel()
    h.setOptionValue("time_limit", float(time_limit))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, m
    lp.col_cost_ = np.array([-float(a) for a in c])
    lp.col_lower_ = np.array([float(lo) for lo, _ in box])
    lp.col_upper_ = np.array([float(hi) for _, hi in box])
    lp.row_lower_ = np.array([float(hh) for _, hh in rows])
    lp.row_upper_ = np.full(m, highspy.kHighsInf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    index, value, starts = [], [], [0]
    for g, _ in rows:
        for j, a in enumerate(g):
            if a != 0:
                index.append(j)
                value.append(float(a))
        starts.append(len(index))
    lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
    lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
    lp.a_matrix_.value_ = np.array(value, dtype=np.float64)
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, m
    h.passModel(lp)
    h.run()
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        return "infeasible"
    if status != highspy.HighsModelStatus.kOptimal:
        return "unverified"
    basis = h.getBasis()
    S = highspy.HighsBasisStatus
    active = []
    for i, s in enumerate(basis.col_status):
        if s == S.kLower:
            active.append(("lo", i))
        elif s == S.kUpper:
            active.append(("hi", i))
    for r, s in enumerate(basis.row_status):
        if s in (S.kLower, S.kUpper):
            active.append(("row", r))
    return active, list(h.getSolution().col_value)


def _check(c, rows, box, active):
    """The vertex and multipliers of the active set ``active`` if they prove optimality exactly."""
    n = len(c)
    M = flint.fmpq_mat(n, n)
    rhs = flint.fmpq_mat(n, 1)
    for t, (kind, i) in enumerate(active):
        if kind == "row":
            g, h = rows[i]
            for j in range(n):
                M[t, j] = g[j]
            rhs[t, 0] = h
        else:
            M[t, i] = 1
            rhs[t, 0] = box[i][0] if kind == "lo" else box[i][1]
    try:
        x = M.solve(rhs).entries()
        w = M.transpose().solve(flint.fmpq_mat(n, 1, list(c))).entries()
    except ZeroDivisionError:
        return None
    if any(not lo <= v <= hi for v, (lo, hi) in zip(x, box)):
        return None
    if any(sum((a * v for a, v in zip(g, x)), flint.fmpq(0)) < h for g, h in rows):
        return None
    y = [flint.fmpq(0)] * len(rows)
    for (kind, i), v in zip(active, w):
        if kind == "row":
            if v > 0:
                return None
            y[i] = -v
        elif (kind == "lo" and v > 0 or kind == "hi" and v < 0) and box[i][0] != box[i][1]:
            return None
    return list(x), y
