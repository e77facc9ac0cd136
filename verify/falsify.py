"""Falsify first: cheap float search for a counterexample, every candidate replayed in exact arithmetic.

Random points, box corners and signed-gradient steps (projected to the box, many restarts batched
in numpy) minimise, per disjunct of the unsafe set, the largest atom ``max_i g_i(x)`` (the point
reaches the disjunct when it is <= 0). Unbounded domains are searched in growing boxes. A float hit
is only a candidate: it is turned into an exact rational point of the domain
(:func:`project`) and replayed exactly; the verdict is refuted only if that replay reaches the
unsafe set.
"""

from __future__ import annotations

import dataclasses
import time
from fractions import Fraction

import numpy as np

from verify.claim_to_problem import Problem
from verify.domain import FiniteSet, IntegerRange, RealInterval


FLOAT_MARGIN = 1e-9


@dataclasses.dataclass(frozen=True)
class Settings:
    """``restarts`` parallel descents of ``steps`` steps per box; ``scales`` for unbounded ends."""

    restarts: int = 512
    steps: int = 48
    samples: int = 512
    seed: int = 0
    scales: tuple[float, ...] = (1.0, 1e2, 1e4, 1e6)


@dataclasses.dataclass(frozen=True)
class Found:
    """An exact counterexample: the point, the disjunct it reaches and the float work it took."""

    point: dict[str, Fraction]
    reached: int
    evaluations: int


def project(problem: Problem, x: np.ndarray) -> dict[str, Fraction] | None:
    """An exact point of the domain near the float point ``x`` (clipped to closed ends, moved off
    open ends, rounded onto integer ranges and finite sets); None when there is none nearby.

    >>> from symbolic.circuit import from_layers
    >>> from verify.claim_to_problem import make_problem
    >>> from verify.output_set import Atom
    >>> p = make_problem(from_layers([([[1]], None)]), [[Atom((('y', 1),), '>', 0)]],
    ...                  [RealInterval(0, 1, lo_open=True), IntegerRange(0, 3)][:1])
    >>> project(p, np.array([-0.5]))['x'] > 0
    True
    """
    point = {}
    for name, s, v in zip(problem.inputs, problem.sets, x.tolist()):
        if not np.isfinite(v):
            return None
        value = Fraction(v)
        if isinstance(s, RealInterval):
            if s.lo is not None and value <= s.lo:
                value = s.lo
                if s.lo_open:
                    value = s.lo + _inside(s.lo, s.hi)
            if s.hi is not None and value >= s.hi:
                value = s.hi
                if s.hi_open:
                    value = s.hi - _inside(s.hi, s.lo)
        elif isinstance(s, IntegerRange):
            value = Fraction(round(value))
            if s.lo is not None:
                value = max(value, Fraction(s.lo))
            if s.hi is not None:
                value = min(value, Fraction(s.hi))
        elif isinstance(s, FiniteSet):
            value = min(s.values, key=lambda w: abs(w - value))
        point[name] = value
    return point


def _inside(end: Fraction, other: Fraction | None) -> Fraction:
    step = Fraction(1, 2**30)
    if other is not None:
        step = min(step, abs(other - end) / 2)
    return step


def gradients(problem: Problem, x: np.ndarray, out_coeffs: np.ndarray, in_coeffs: np.ndarray):
    """Values and input gradients of ``out_coeffs[r] . y(x[r]) + in_coeffs[r] . x[r]`` (rows r)."""
    layers = problem.layers
    values, pres = [x], []
    for lv in layers.levels:
        pre = lv.bias + sum((values[b.source] @ b.weights.T for b in lv.blocks), np.zeros((len(x), lv.size)))
        pres.append(pre)
        values.append(np.where(lv.relu, np.maximum(pre, 0.0), pre))
    y = np.stack([values[k][:, i] for k, i in layers.outputs], axis=1)
    adj = [np.zeros_like(v) for v in values]
    for o, (k, i) in enumerate(layers.outputs):
        adj[k][:, i] += out_coeffs[:, o]
    for k in range(len(layers.levels), 0, -1):
        lv = layers.level(k)
        a = adj[k] * np.where(lv.relu, pres[k - 1] > 0, True)
        for b in lv.blocks:
            adj[b.source] += a @ b.weights
    value = (out_coeffs * y).sum(axis=1) + (in_coeffs * x).sum(axis=1)
    return value, adj[0] + in_coeffs, y


def _boxes(problem: Problem, scales) -> list[tuple[np.ndarray, np.ndarray]]:
    lo = np.array([-np.inf if a is None else float(a) for a, _ in problem.box])
    hi = np.array([np.inf if b is None else float(b) for _, b in problem.box])
    if np.isfinite(lo).all() and np.isfinite(hi).all():
        return [(lo, hi)]
    out = []
    for s in scales:
        centre = np.where(np.isfinite(lo), lo, np.where(np.isfinite(hi), hi, 0.0))
        out.append((np.where(np.isfinite(lo), lo, centre - s), np.where(np.isfinite(hi), hi, centre + s)))
    return out


def falsify(problem: Problem, deadline: float, settings: Settings = Settings()) -> Found | None:
    """Search for an exact counterexample until ``deadline`` (``time.monotonic()``) or the work
    bound; None when none was found (which proves nothing). All boxes (growing ones on unbounded
    domains) and all disjuncts are searched in one batch, so the cost is a few dozen numpy passes.

    >>> import sympy as sp
    >>> from symbolic.circuit import from_layers
    >>> from symbolic.relu import sym
    >>> from verify.claim import Claim, Tolerance
    >>> from verify.claim_to_problem import claim_to_problem
    >>> from verify.domain import Domain
    >>> net = from_layers([([[1], [-1]], None), ([[1, 1]], None)])       # |x| on all of R
    >>> found = falsify(claim_to_problem(Claim(net, sym('x'), Domain(), Tolerance(1))), time.monotonic() + 5)
    >>> found.point['x'] < 0, found.reached
    (True, 0)
    """
    rng = np.random.default_rng(settings.seed)
    n = problem.layers.n_inputs
    boxes = _boxes(problem, settings.scales)
    specs = problem.specs
    # one batch of samples per box: centre, corners, random points
    xs, los, his = [], [], []
    for lo, hi in boxes:
        width = hi - lo
        count = settings.samples // len(boxes) + 1
        corners = lo + width * rng.integers(0, 2, size=(min(count, 2 ** min(n, 20)), n))
        x = np.concatenate([((lo + hi) / 2)[None], corners, lo + width * rng.random((count, n))])
        xs.append(x)
        los.append(np.broadcast_to(lo, x.shape))
        his.append(np.broadcast_to(hi, x.shape))
    x, lo, hi = np.concatenate(xs), np.concatenate(los), np.concatenate(his)
    evaluations = len(x)
    g_all = _all_atoms(problem, x)
    found = _check(problem, x, g_all)
    if found is not None or time.monotonic() > deadline:
        return None if found is None else Found(*found, evaluations)
    # descents: for each disjunct, start from the best samples of each box and from random points
    starts, s_lo, s_hi, which = [], [], [], []
    per = max(1, settings.restarts // max(1, len(boxes)))
    cut = np.cumsum([0] + [s.size for s in specs])
    box_of = np.repeat(np.arange(len(boxes)), [len(v) for v in xs])
    for d in range(len(specs)):
        worst = g_all[:, cut[d]:cut[d + 1]].max(axis=1)
        for b in range(len(boxes)):
            rows = np.nonzero(box_of == b)[0]
            best = rows[np.argsort(worst[rows])[:per // 2]]
            b_lo, b_hi = boxes[b]
            fresh = b_lo + (b_hi - b_lo) * rng.random((per - len(best), n))
            starts += [x[best], fresh]
            s_lo.append(np.broadcast_to(b_lo, (per, n)))
            s_hi.append(np.broadcast_to(b_hi, (per, n)))
            which.append(np.full(per, d))
    found, count = _descend(problem, np.concatenate(starts), np.concatenate(s_lo), np.concatenate(s_hi),
                            np.concatenate(which), settings.steps, deadline)
    evaluations += count
    return None if found is None else Found(*found, evaluations)


def _all_atoms(problem: Problem, x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """Every atom of every disjunct at each point: (points, total atoms)."""
    if y is None:
        y = problem.layers.forward(x)
    out = np.concatenate([s.out for s in problem.specs])
    inp = np.concatenate([s.inp for s in problem.specs])
    rhs = np.concatenate([s.rhs for s in problem.specs])
    return y @ out.T + x @ inp.T - rhs


def _check(problem: Problem, x: np.ndarray, g_all: np.ndarray):
    """Replay (exactly) the points that reach some disjunct in floats by a margin, best first."""
    cut = np.cumsum([0] + [s.size for s in problem.specs])
    for d in range(len(problem.specs)):
        g = g_all[:, cut[d]:cut[d + 1]]
        # clear hits first, then float ties (a non-strict atom met exactly on the box's boundary,
        # e.g. at a corner): the exact replay below decides either way
        hit = np.all(g <= FLOAT_MARGIN * (1 + np.abs(g)), axis=1)
        if not hit.any():
            continue
        worst = np.where(hit, g.max(axis=1), np.inf)
        for r in np.argsort(worst)[:4]:
            if not hit[r]:
                break
            point = project(problem, x[r])
            if point is not None and problem.in_domain(point):
                reached = problem.reached(point)
                if reached is not None:
                    return point, reached
    return None


def _descend(problem: Problem, x: np.ndarray, lo, hi, which, steps: int, deadline: float):
    """Signed-gradient descent, row r on ``max_i g_i`` of disjunct ``which[r]`` inside its box;
    replays float hits exactly."""
    specs = problem.specs
    cut = np.cumsum([0] + [s.size for s in specs])
    out = np.concatenate([s.out for s in specs])
    inp = np.concatenate([s.inp for s in specs])
    rhs = np.concatenate([s.rhs for s in specs])
    own = np.zeros((len(x), out.shape[0]), dtype=bool)
    for d in range(len(specs)):
        own[which == d, cut[d]:cut[d + 1]] = True
    rows = np.arange(len(x))
    step = 0.25 * (hi - lo)
    count = 0
    g = _all_atoms(problem, x)
    for t in range(steps):
        worst = np.argmax(np.where(own, g, -np.inf), axis=1)
        _, grad, _ = gradients(problem, x, out[worst], inp[worst])
        x = np.clip(x - step * np.sign(grad), lo, hi)
        y = problem.layers.forward(x)
        g = y @ out.T + x @ inp.T - rhs
        count += len(rows)
        if (np.where(own, g, -np.inf).max(axis=1) <= FLOAT_MARGIN).any():
            found = _check(problem, x, g)
            if found is not None:
                return found, count
        if t % 8 == 7:
            step = step * 0.5
            if time.monotonic() > deadline:
                break
    return None, count
