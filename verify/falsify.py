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


@dataclasses.dataclass(frozen=True)
class Settings:
    """``restarts`` parallel descents of ``steps`` steps per box; ``scales`` for unbounded ends."""

    restarts: int = 128
    steps: int = 40
    samples: int = 512
    seed: int = 0
    scales: tuple[float, ...] = (1.0, 10.0, 1e2, 1e3, 1e4, 1e6)


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
        pre = lv.bias + sum(values[b.source] @ b.weights.T for b in lv.blocks)
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
    """Search for an exact counterexample until ``deadline`` (``time.perf_counter()``) or the work
    bound; None when none was found (which proves nothing).

    >>> import sympy as sp
    >>> from symbolic.circuit import from_layers
    >>> from symbolic.relu import sym
    >>> from verify.claim import Claim, Tolerance
    >>> from verify.claim_to_problem import claim_to_problem
    >>> from verify.domain import Domain
    >>> net = from_layers([([[1], [-1]], None), ([[1, 1]], None)])       # |x| on all of R
    >>> found = falsify(claim_to_problem(Claim(net, sym('x'), Domain(), Tolerance(1))), time.perf_counter() + 5)
    >>> found.point['x'] < 0, found.reached
    (True, 0)
    """
    rng = np.random.default_rng(settings.seed)
    n = problem.layers.n_inputs
    evaluations = 0
    for lo, hi in _boxes(problem, settings.scales):
        width = hi - lo
        corners = lo + width * rng.integers(0, 2, size=(min(settings.samples, 2 ** min(n, 20)), n))
        samples = lo + width * rng.random((settings.samples, n))
        x = np.concatenate([((lo + hi) / 2)[None], corners, samples])
        evaluations += len(x)
        found = _check(problem, x)
        if found is not None:
            return Found(*found, evaluations)
        if time.perf_counter() > deadline:
            return None
        for d, spec in enumerate(problem.specs):
            # start the descents from the best samples for this disjunct, plus random points
            g = _atoms(problem, x, d)
            order = np.argsort(g.max(axis=1))
            k = settings.restarts // 2
            starts = np.concatenate([x[order[:k]], lo + width * rng.random((settings.restarts - k, n))])
            found, count = _descend(problem, d, starts, lo, hi, settings.steps, deadline)
            evaluations += count
            if found is not None:
                return Found(*found, evaluations)
            if time.perf_counter() > deadline:
                return None
    return None


def _atoms(problem: Problem, x: np.ndarray, d: int) -> np.ndarray:
    spec = problem.specs[d]
    y = problem.layers.forward(x)
    return y @ spec.out.T + x @ spec.inp.T - spec.rhs


def _check(problem: Problem, x: np.ndarray):
    """Replay (exactly) the float points that reach some disjunct in floats, best first."""
    for d, spec in enumerate(problem.specs):
        g = _atoms(problem, x, d)
        worst = g.max(axis=1)
        for r in np.argsort(worst)[:8]:
            if worst[r] > 1e-9 * (1 + np.abs(g[r]).max()):
                break
            point = project(problem, x[r])
            if point is not None and problem.in_domain(point):
                reached = problem.reached(point)
                if reached is not None:
                    return point, reached
    return None


def _descend(problem: Problem, d: int, x: np.ndarray, lo, hi, steps: int, deadline: float):
    """Signed-gradient descent on ``max_i g_i`` inside [lo, hi]; replays hits exactly."""
    spec = problem.specs[d]
    width = hi - lo
    step = 0.25 * width
    count = 0
    rows = np.arange(len(x))
    for t in range(steps):
        g = _atoms(problem, x, d)
        count += len(x)
        if (g.max(axis=1) <= 0).any():
            found = _check(problem, x)
            if found is not None:
                return found, count
        worst = np.argmax(g, axis=1)
        _, grad, _ = gradients(problem, x, spec.out[worst], spec.inp[worst])
        x = np.clip(x - step * np.sign(grad), lo, hi)
        if t % 10 == 9:
            step = step * 0.5
            if time.perf_counter() > deadline:
                break
    found = _check(problem, x)
    return found, count + len(rows)
