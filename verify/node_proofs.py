"""Find a proof for each node of a batch: single atoms, optimised atom multipliers, then LP duals.

Every candidate (mu per disjunct, and from the LP also split multipliers beta and lower slopes
alpha) is checked on the node's sound bounds (:func:`verify.confirm_leaves.proof_values`); only a
checked proof closes a node. Floats propose, the sound bound decides.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from verify import confirm_leaves, linear_bounds as lb, lp_relaxation, multipliers
from verify.claim_to_problem import Problem
from verify.rigorous_bounds import Sound


@dataclasses.dataclass
class Proofs:
    """Per disjunct d: ``mu[d]`` (B, m_d); ``beta[d]``/``alpha[d]``: {node: per-level arrays} for the
    nodes whose proof uses them. ``value[d]`` (B,) the best sound bound, ``ok[d]`` (B,) proved,
    ``A[d]`` (B, n) its final input coefficients (a guide for splitting and counterexamples)."""

    mu: list[np.ndarray]
    beta: list[dict]
    alpha: list[dict]
    value: list[np.ndarray]
    ok: list[np.ndarray]
    A: list[np.ndarray]

    @property
    def proved(self) -> np.ndarray:
        return np.all(self.ok, axis=0)


def _quantise(values: np.ndarray) -> np.ndarray:
    """Round to float32 (24-bit mantissas): short exact rationals in the certificate."""
    return np.asarray(values, dtype=np.float32).astype(np.float64)


def atom_proofs(problem: Problem, sb: Sound) -> tuple[Proofs, list[np.ndarray]]:
    """Each disjunct's best single atom per node (one sound pass for all atoms)."""
    B = sb.lo.shape[0]
    out = Proofs([], [], [], [], [], [])
    atoms = []
    for d, spec in enumerate(problem.specs):
        eye = np.broadcast_to(np.eye(spec.size)[:, None, :], (spec.size, B, spec.size))
        values, A, safe = confirm_leaves.proof_values(problem, sb, d, eye, want_a=True)
        atoms.append(values)
        best = np.argmax(np.where(safe, np.inf, values), axis=0)
        cols = np.arange(B)
        mu = np.zeros((B, spec.size))
        mu[cols, best] = 1.0
        out.mu.append(mu)
        out.beta.append({})
        out.alpha.append({})
        out.value.append(values[best, cols])
        out.ok.append(safe[best, cols])
        out.A.append(A[best, cols])
    return out, atoms


def improve_mu(problem: Problem, sb: Sound, fb: lb.NodeBounds, proofs: Proofs, atoms, empty, steps: int) -> None:
    """Optimise the atom multipliers of conjunctions where no single atom works (in place)."""
    B = sb.lo.shape[0]
    for d, spec in enumerate(problem.specs):
        todo = np.nonzero(~proofs.ok[d] & ~empty)[0] if spec.size > 1 and steps else []
        if len(todo) == 0:
            continue
        v = atoms[d][:, todo].T
        top = v.max(axis=1, keepdims=True)
        start = np.exp(np.clip((v - top) / (np.abs(top) + 1e-12), -30, 0))
        m2, _, _, _ = multipliers.optimise_mu(problem.layers, lb.take(fb, todo), spec, start, steps)
        q = _quantise(m2)
        q = np.where(q.sum(axis=1, keepdims=True) > 0, q, 1.0 / spec.size)
        trial = proofs.mu[d].copy()
        trial[todo] = q
        values, A, safe = confirm_leaves.proof_values(problem, sb, d, trial[None], want_a=True)
        better = np.zeros(B, dtype=bool)
        better[todo] = (safe[0][todo] & ~proofs.ok[d][todo]) | (values[0][todo] > proofs.value[d][todo])
        proofs.mu[d][better], proofs.value[d][better], proofs.A[d][better] = trial[better], values[0][better], A[0][better]
        proofs.ok[d] = proofs.ok[d] | (better & safe[0])


def improve_alpha(problem: Problem, sb: Sound, fb: lb.NodeBounds, proofs: Proofs, empty, steps: int) -> None:
    """Optimise lower slopes (and atom multipliers) where the bounds still fail (in place)."""
    B = sb.lo.shape[0]
    for d, spec in enumerate(problem.specs):
        todo = np.nonzero(~proofs.ok[d] & ~empty)[0] if steps else []
        if len(todo) == 0:
            continue
        m2, _, _, a2 = multipliers.optimise_mu(problem.layers, lb.take(fb, todo), spec, proofs.mu[d][todo] + 1e-3,
                                               steps, with_alpha=True)
        q = _quantise(m2)
        q = np.where(q.sum(axis=1, keepdims=True) > 0, q, 1.0 / spec.size)
        trial = proofs.mu[d].copy()
        trial[todo] = q
        alpha = {}
        for k, a in a2.items():
            full = np.full((B, a.shape[1]), np.nan)
            full[todo] = np.where(sb.unstable[k - 1][todo], _quantise(a), np.nan)
            alpha[k] = full[None]
        values, A, safe = confirm_leaves.proof_values(problem, sb, d, trial[None], alpha=alpha, want_a=True)
        better = np.zeros(B, dtype=bool)
        better[todo] = safe[0][todo] | (values[0][todo] > proofs.value[d][todo])
        for b in np.nonzero(better)[0]:
            proofs.mu[d][b] = trial[b]
            proofs.alpha[d][b] = {k: a[0, b] for k, a in alpha.items()}
            proofs.value[d][b], proofs.A[d][b], proofs.ok[d][b] = values[0][b], A[0][b], bool(safe[0][b])


def lp_proofs(problem: Problem, sb: Sound, lo, hi, phases, proofs: Proofs, nodes, deadline: float,
              time_limit: float = 5.0) -> list[np.ndarray]:
    """Solve the node LP for the unproved disjuncts of ``nodes`` and check its duals soundly.
    Returns candidate points (inputs of LP optima with t* <= 0) for the counterexample search."""
    layers = problem.layers
    points = []
    for b in nodes:
        empty = None
        for d, spec in enumerate(problem.specs):
            if proofs.ok[d][b] or time.monotonic() > deadline:
                continue
            node_phases = None if phases is None else [p[b] for p in phases]
            bounds = ([x[b] for x in sb.lower], [x[b] for x in sb.upper])
            res = lp_relaxation.solve(layers, spec, lo[b], hi[b], *bounds, node_phases, time_limit)
            if res.value is None and res.status == "Infeasible" and phases is not None:
                # the split phases contradict each other: weigh them (beta) and add a tiny atom term
                empty = empty or lp_relaxation.solve(layers, None, lo[b], hi[b], *bounds, node_phases, time_limit)
                if empty.value is not None and empty.value > 0:
                    mu = np.zeros(spec.size)
                    mu[0] = 2.0 ** -30
                    res = dataclasses.replace(empty, value=empty.value, mu=mu)
            if res.value is None:
                continue
            if res.value <= 0:
                points.append(res.x)
            mu = res.mu if res.mu[res.mu > 0].min(initial=1.0) < 2.0 ** -20 else _quantise(res.mu)
            if res.value < -1e-9 or not (mu > 0).any():
                continue
            one = _take(sb, b)
            alpha = {k: np.where(np.isnan(a) | ~one.unstable[k - 1][0], np.nan, np.clip(_quantise(a), 0, 1))[None, None]
                     for k, a in enumerate(res.alpha, start=1)}   # NaN: the default slope
            beta = None if phases is None else [_quantise(x)[None, None] for x in res.beta]
            ph = None if phases is None else [p[b:b + 1] for p in phases]
            value, A, safe = confirm_leaves.proof_values(problem, one, d, mu[None, None], beta, alpha, ph,
                                                         want_a=True)
            if safe[0, 0] or value[0, 0] > proofs.value[d][b]:  # proved, or the best try for exact rationals
                proofs.mu[d][b] = mu
                proofs.alpha[d][b] = {k: a[0, 0] for k, a in alpha.items()}
                if beta is not None:
                    proofs.beta[d][b] = [x[0, 0] for x in beta]
                proofs.value[d][b], proofs.A[d][b], proofs.ok[d][b] = value[0, 0], A[0, 0], bool(safe[0, 0])
    return points


def _take(sb: Sound, b: int) -> Sound:
    """The sound bounds of node b alone."""
    pick = slice(b, b + 1)
    return Sound(sb.lo[pick], sb.hi[pick], *(tuple(x[pick] for x in part) for part in (
        sb.lower, sb.upper, sb.s_low, sb.s_up, sb.t_up, sb.unstable, sb.pre_mag, sb.post_mag)),
        sb.empty[pick], tuple(x[pick] for x in sb.pre_err))
