"""Choose a node's proof multipliers in floating point: atoms ``mu`` of each conjunction (a guide only).

For a disjunct with atoms g_1..g_m (each "g_i <= 0"), a node is safe when some mu >= 0 makes the
back-substitution bound of ``phi = sum mu_i g_i`` positive. Single atoms are tried first (one row
each, batched); where none works, projected supergradient ascent on the simplex improves mu: with
the relaxation choices of the current mu fixed, the bound is ``min_x mu . G F(x)`` for the relaxed
network F, whose supergradient in mu is ``G F(x*)`` at the minimising corner x*.
"""

from __future__ import annotations

import numpy as np

from verify import linear_bounds as lb
from verify.circuit_to_layers import Layers
from verify.claim_to_problem import Spec


def atom_bounds(layers: Layers, bounds: lb.NodeBounds, specs, pre: dict | None = None):
    """Bounds of every atom of every disjunct at once: ``values[d]`` (m_d, B), ``A[d]`` (m_d, B, n)."""
    out = np.concatenate([s.out for s in specs])
    inp = np.concatenate([s.inp for s in specs])
    rhs = np.concatenate([s.rhs for s in specs])
    if pre:
        total = out.shape[0]
        pre = {k: np.broadcast_to(v, (total,) + v.shape[-2:]) for k, v in pre.items()}
    values, A, _ = lb.objective_lower(layers, bounds, out, inp, -rhs, pre_coeffs=pre)
    cuts = np.cumsum([0] + [s.size for s in specs])
    return [values[a:b] for a, b in zip(cuts[:-1], cuts[1:])], [A[a:b] for a, b in zip(cuts[:-1], cuts[1:])]


def relaxed_forward(layers: Layers, bounds: lb.NodeBounds, x: np.ndarray, signs: list, alpha: dict | None = None):
    """Outputs (B, n_out) and pre-activations (per level) of the relaxed network at ``x`` (B, n):
    each unstable neuron follows its lower line (slope ``alpha[k]`` or the default) where
    ``signs[k - 1] > 0`` (positive objective coefficient) and its chord elsewhere."""
    relax = lb.relaxation(layers, bounds)
    values, pres = [x], []
    for k, lv in enumerate(layers.levels, start=1):
        pre = lv.bias + sum((values[b.source] @ b.weights.T for b in lv.blocks), np.zeros((len(x), lv.size)))
        slope = relax.s_low[k - 1]
        if alpha is not None and k in alpha:
            slope = np.where(relax.unstable[k - 1], alpha[k], slope)
        upper = relax.s_up[k - 1] * pre + relax.t_up[k - 1]
        values.append(np.where(signs[k - 1] > 0, slope * pre, upper))
        pres.append(pre)
    return np.stack([values[k][:, i] for k, i in layers.outputs], axis=1), pres


def optimise_mu(layers: Layers, bounds: lb.NodeBounds, spec: Spec, start: np.ndarray, steps: int = 12,
                pre: dict | None = None, with_alpha: bool = False):
    """Improve multipliers ``start`` (B, m) on the simplex (and, ``with_alpha``, the lower slopes of
    unstable neurons in [0, 1]) by projected supergradient ascent on the back-substitution bound.

    With the relaxation choices fixed, the bound is ``min_x mu . G F(x)`` for the relaxed network F;
    at the minimising corner x* its supergradient is ``G F(x*)`` in mu and ``lam_j pre_j(x*)`` in
    the slope of neuron j (``lam_j > 0`` its coefficient). Returns ``(mu, value, A, alpha)`` of the
    best iterate (``alpha`` None unless optimised).
    """
    B = start.shape[0]
    relax = lb.relaxation(layers, bounds)
    mu = start / start.sum(axis=1, keepdims=True)
    alpha = {k: relax.s_low[k - 1].copy() for k in range(1, len(layers.levels) + 1)} if with_alpha else None
    best_mu, best_val, best_A = mu.copy(), np.full(B, -np.inf), np.zeros((B, layers.n_inputs))
    best_alpha = None if alpha is None else {k: a.copy() for k, a in alpha.items()}
    step, a_step = 0.5, 0.5
    for _ in range(steps):
        signs: dict = {}
        value, A, _ = lb.objective_lower(layers, bounds, (mu @ spec.out)[None], (mu @ spec.inp)[None],
                                         -(mu @ spec.rhs)[None], None if alpha is None else
                                         {k: a[None] for k, a in alpha.items()}, pre, record=signs)
        value, A = value[0], A[0]
        better = value > best_val
        best_mu[better], best_val[better], best_A[better] = mu[better], value[better], A[better]
        if alpha is not None:
            for k in alpha:
                best_alpha[k][better] = alpha[k][better]
        if (best_val > 0).all():
            break
        x = np.where(A > 0, bounds.lo, bounds.hi)
        sign_list = [signs.get(k, np.zeros((B, lv.size))) for k, lv in enumerate(layers.levels, start=1)]
        y, pres = relaxed_forward(layers, bounds, x, sign_list, alpha)
        grad = y @ spec.out.T + x @ spec.inp.T - spec.rhs          # (B, m): g_i of the relaxed net at x*
        scale = np.abs(grad).max(axis=1, keepdims=True) + 1e-30
        if spec.size > 1:
            mu = _project(mu + step * grad / scale)
        if alpha is not None:
            for k in alpha:
                g = np.maximum(sign_list[k - 1], 0.0) * pres[k - 1]
                alpha[k] = np.where(relax.unstable[k - 1], np.clip(alpha[k] + a_step * np.sign(g), 0.0, 1.0), alpha[k])
        step *= 0.7
        a_step *= 0.7
    return best_mu, best_val, best_A, best_alpha


def _project(v: np.ndarray) -> np.ndarray:
    """Euclidean projection of each row onto the probability simplex."""
    u = -np.sort(-v, axis=1)
    css = np.cumsum(u, axis=1) - 1
    idx = np.arange(1, v.shape[1] + 1)
    cond = u - css / idx > 0
    rho = cond.shape[1] - 1 - np.argmax(cond[:, ::-1], axis=1)
    theta = css[np.arange(v.shape[0]), rho] / (rho + 1)
    return np.maximum(v - theta[:, None], 0.0)
