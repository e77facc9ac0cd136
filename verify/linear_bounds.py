"""Interval and linear (CROWN / DeepPoly back-substitution) bounds, batched over many boxes in float64.

Floating point here only *guides* the search: a node found safe is re-checked by
:mod:`verify.rigorous_bounds` (outward rounding) before anything is claimed.

Shapes: ``B`` boxes (``lo``, ``hi`` of shape (B, n)), ``m`` objective rows, level ``k`` of width
``n_k``. Bounds are on *pre-activations*; a phase (+1 active, -1 inactive, 0 free) per ReLU and box
clips them (active: ``l := max(l, 0)``, inactive: ``u := min(u, 0)``). The relaxation is the one
of the certificate format (docs/certificates.md): exact for stable neurons, otherwise the lower
line ``h >= alpha * pre`` (default ``alpha = 1`` if ``u > -l`` else 0) and the upper chord.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from verify.circuit_to_layers import Layers


@dataclasses.dataclass(frozen=True, eq=False)
class NodeBounds:
    """Pre-activation bounds of every level for a batch of boxes, and the boxes themselves."""

    lo: np.ndarray                 # (B, n) input box
    hi: np.ndarray
    lower: tuple[np.ndarray, ...]  # lower[k - 1]: (B, n_k)
    upper: tuple[np.ndarray, ...]
    phases: tuple[np.ndarray, ...] | None  # per level (B, n_k) int8, or None

    @property
    def empty(self) -> np.ndarray:
        """(B,) boxes whose phase constraints contradict a neuron's bounds (l > u)."""
        out = np.zeros(self.lo.shape[0], dtype=bool)
        for lo, up in zip(self.lower, self.upper):
            out |= (lo > up).any(axis=1)
        return out


@dataclasses.dataclass(frozen=True)
class Relaxation:
    """Per level: lower slope, upper slope and upper intercept of each neuron (lower intercept 0)."""

    s_low: tuple[np.ndarray, ...]
    s_up: tuple[np.ndarray, ...]
    t_up: tuple[np.ndarray, ...]
    unstable: tuple[np.ndarray, ...]


def clip_phase(lower: np.ndarray, upper: np.ndarray, phase: np.ndarray | None):
    """Apply the split phases to the bounds of one level."""
    if phase is None:
        return lower, upper
    return np.where(phase > 0, np.maximum(lower, 0.0), lower), np.where(phase < 0, np.minimum(upper, 0.0), upper)


def relax_level(relu: np.ndarray, lower: np.ndarray, upper: np.ndarray, phase: np.ndarray | None = None):
    """Slopes and intercepts of the certificate's relaxation for one level (default alpha)."""
    active = ~relu | (lower >= 0)
    if phase is not None:
        active |= phase > 0
    inactive = ~active & ((upper <= 0) | (phase < 0 if phase is not None else False))
    unstable = ~active & ~inactive
    width = np.where(unstable, upper - lower, 1.0)
    chord = np.where(unstable, upper / width, 0.0)
    s_up = np.where(active, 1.0, chord)
    t_up = np.where(unstable, -chord * lower, 0.0)
    s_low = np.where(active, 1.0, np.where(unstable & (upper > -lower), 1.0, 0.0))
    return s_low, s_up, t_up, unstable


def relaxation(layers: Layers, bounds: NodeBounds) -> Relaxation:
    """The relaxation of every level from the (phase-clipped) bounds."""
    parts = [relax_level(lv.relu, lo, up, None if bounds.phases is None else bounds.phases[k])
             for k, (lv, lo, up) in enumerate(zip(layers.levels, bounds.lower, bounds.upper))]
    return Relaxation(*(tuple(p[i] for p in parts) for i in range(4)))


def _post_interval(layers: Layers, k: int, lower, upper):
    relu = layers.level(k).relu
    return np.where(relu, np.maximum(lower, 0.0), lower), np.where(relu, np.maximum(upper, 0.0), upper)


def interval_level(layers: Layers, k: int, posts_lo: list, posts_hi: list):
    """Interval bounds of level ``k``'s pre-activations from the intervals of earlier levels."""
    lv = layers.level(k)
    center = np.broadcast_to(lv.bias, (posts_lo[0].shape[0], lv.size)).copy()
    radius = np.zeros_like(center)
    for b in lv.blocks:
        c = (posts_lo[b.source] + posts_hi[b.source]) / 2
        r = (posts_hi[b.source] - posts_lo[b.source]) / 2
        center += c @ b.weights.T
        radius += r @ np.abs(b.weights).T
    return center - radius, center + radius


def backward(layers: Layers, relax: Relaxation, top: int, lam_h: dict, lam_pre: dict, const: np.ndarray,
             lo: np.ndarray, hi: np.ndarray, s_low_rows: dict | None = None, record: dict | None = None):
    """Back-substitute a linear objective down to the inputs and minimise it over each box.

    ``lam_h[k]`` / ``lam_pre[k]``: (m, B, n_k) coefficients of m objective rows on level k's
    post-/pre-activations (``lam_h[0]`` on the inputs); ``const``: (m, B). ``s_low_rows[k]``
    optionally gives the lower slopes per row, (m, B, n_k) (optimised alphas). Returns the lower
    bounds (m, B) and the final affine form ``A x + c`` (A: (m, B, n)) whose box minimum they are.
    ``record``, when given, receives the first row's coefficients on each level's post-activations.
    """
    lam_h, lam_pre = dict(lam_h), dict(lam_pre)
    const = np.array(const, dtype=np.float64)
    m, B = const.shape
    for k in range(top, 0, -1):
        lh, lp = lam_h.pop(k, None), lam_pre.pop(k, None)
        if lh is not None:
            if record is not None:
                record[k] = lh[0]
            neg = np.minimum(lh, 0.0)
            s_low = relax.s_low[k - 1] if s_low_rows is None or k not in s_low_rows else s_low_rows[k]
            const += np.einsum("mbn,bn->mb", neg, relax.t_up[k - 1])
            p = np.maximum(lh, 0.0) * s_low + neg * relax.s_up[k - 1]
            lp = p if lp is None else lp + p
        if lp is None:
            continue
        lv = layers.level(k)
        const += lp @ lv.bias
        flat = lp.reshape(m * B, lv.size)
        for b in lv.blocks:
            add = (flat @ b.weights).reshape(m, B, -1)
            lam_h[b.source] = add if b.source not in lam_h else lam_h[b.source] + add
    A = lam_h.get(0)
    if A is None:
        A = np.zeros((m, B, layers.n_inputs))
    value = const + np.einsum("mbn,bn->mb", np.maximum(A, 0.0), lo) + np.einsum("mbn,bn->mb", np.minimum(A, 0.0), hi)
    return value, A, const


def _crown_level(layers: Layers, relax: Relaxation, k: int, i_lo, i_hi, lo, hi, all_rows: bool):
    """Back-substitution bounds of level ``k`` (only for neurons the intervals leave unstable,
    unless ``all_rows``; the others keep their interval bounds). Each (box, neuron) pair is its
    own back-substitution problem with two rows (lower, and upper as the lower of -pre)."""
    lv = layers.level(k)
    open_ = np.broadcast_to(lv.relu, i_lo.shape) if all_rows else lv.relu & (i_lo < 0) & (i_hi > 0)
    bi, ni = np.nonzero(open_)
    if bi.size == 0:
        return i_lo, i_hi
    sub = Relaxation(*(tuple(a[bi] for a in part) for part in dataclasses.astuple(relax)))
    lam_h = {}
    for b in lv.blocks:
        rows = b.weights[ni]                                   # (R, n_src)
        lam_h[b.source] = np.stack([rows, -rows])
    bias = lv.bias[ni]
    const = np.stack([bias, -bias])
    value, _, _ = backward(layers, sub, k - 1, lam_h, {}, const, lo[bi], hi[bi])
    c_lo, c_hi = i_lo.copy(), i_hi.copy()
    c_lo[bi, ni] = value[0]
    c_hi[bi, ni] = -value[1]
    return c_lo, c_hi


def node_bounds(layers: Layers, lo: np.ndarray, hi: np.ndarray, phases: tuple | None = None,
                upto: int | None = None, all_rows: bool = False) -> NodeBounds:
    """Bounds of every level's pre-activations: back-substitution intersected with intervals.

    >>> from symbolic.circuit import from_layers
    >>> from verify.circuit_to_layers import circuit_to_layers
    >>> layers = circuit_to_layers(from_layers([([[1], [-1]], None), ([[1, 1]], None)]))
    >>> b = node_bounds(layers, np.array([[-1.0]]), np.array([[2.0]]))
    >>> b.lower[0], b.upper[0], b.lower[1], b.upper[1]   # the linear output: interval bounds only
    (array([[-1., -2.]]), array([[2., 1.]]), array([[0.]]), array([[3.]]))
    """
    B = lo.shape[0]
    top = len(layers.levels) if upto is None else upto
    lowers, uppers = [], []
    posts_lo, posts_hi = [lo], [hi]
    relax_parts: list = []
    for k in range(1, top + 1):
        lv = layers.level(k)
        i_lo, i_hi = interval_level(layers, k, posts_lo, posts_hi)
        c_lo, c_hi = i_lo, i_hi
        if k > 1 and not all(b.source == 0 for b in lv.blocks):
            relax = Relaxation(*(tuple(p[i] for p in relax_parts) for i in range(4)))
            c_lo, c_hi = _crown_level(layers, relax, k, i_lo, i_hi, lo, hi, all_rows)
        low, up = np.maximum(c_lo, i_lo), np.minimum(c_hi, i_hi)
        phase = None if phases is None else phases[k - 1]
        low, up = clip_phase(low, up, phase)
        lowers.append(low)
        uppers.append(up)
        relax_parts.append(relax_level(lv.relu, low, up, phase))
        p_lo, p_hi = _post_interval(layers, k, low, up)
        posts_lo.append(p_lo)
        posts_hi.append(p_hi)
    return NodeBounds(lo, hi, tuple(lowers), tuple(uppers), phases)


def objective_lower(layers: Layers, bounds: NodeBounds, out_coeffs, in_coeffs, const,
                    alpha: dict | None = None, pre_coeffs: dict | None = None, record: dict | None = None):
    """Lower bounds (m, B) of ``out_coeffs . y + in_coeffs . x + const`` over each of B nodes.

    ``out_coeffs`` (m, n_out) or (m, B, n_out), ``in_coeffs`` (m, n) or (m, B, n), ``const`` (m,)
    or (m, B). ``pre_coeffs[k]`` (m, B, n_k) adds terms on pre-activations (the beta terms of
    split neurons); ``alpha[k]`` (m, B, n_k) sets the lower slopes of unstable neurons. Returns
    ``(values, A, c)`` where ``A x + c`` (A: (m, B, n)) is the final affine minorant.

    >>> from symbolic.circuit import from_layers
    >>> from verify.circuit_to_layers import circuit_to_layers
    >>> layers = circuit_to_layers(from_layers([([[1], [-1]], None), ([[1, 1]], None)]))
    >>> b = node_bounds(layers, np.array([[-1.0]]), np.array([[2.0]]))
    >>> objective_lower(layers, b, [[1.0]], [[-0.5]], [0.0])[0]   # |x| - x/2 >= -1/2 (true min 0)
    array([[-0.5]])
    """
    B = bounds.lo.shape[0]
    relax = relaxation(layers, bounds)
    out_coeffs = np.asarray(out_coeffs, dtype=np.float64)
    in_coeffs = np.asarray(in_coeffs, dtype=np.float64)
    m = out_coeffs.shape[0]
    if out_coeffs.ndim == 2:
        out_coeffs = np.broadcast_to(out_coeffs[:, None, :], (m, B, out_coeffs.shape[1]))
    lam = {0: np.array(np.broadcast_to(in_coeffs if in_coeffs.ndim == 3 else in_coeffs[:, None, :],
                                       (m, B, layers.n_inputs)))}
    for o, (k, i) in enumerate(layers.outputs):
        if out_coeffs[:, :, o].any():
            lam.setdefault(k, np.zeros((m, B, layers.width(k))))[:, :, i] += out_coeffs[:, :, o]
    const = np.asarray(const, dtype=np.float64)
    const = np.array(np.broadcast_to(const if const.ndim == 2 else const[:, None], (m, B)))
    s_low_rows = None
    if alpha:
        s_low_rows = {k: np.where(relax.unstable[k - 1], a, relax.s_low[k - 1]) for k, a in alpha.items()}
    top = max(k for k, _ in layers.outputs)
    if pre_coeffs:
        top = max(top, max(pre_coeffs))
    return backward(layers, relax, top, lam, dict(pre_coeffs or {}), const, bounds.lo, bounds.hi, s_low_rows,
                    record)


def take(bounds: NodeBounds, idx: np.ndarray) -> NodeBounds:
    """The bounds of the nodes ``idx`` only."""
    phases = None if bounds.phases is None else tuple(p[idx] for p in bounds.phases)
    return NodeBounds(bounds.lo[idx], bounds.hi[idx], tuple(x[idx] for x in bounds.lower),
                      tuple(x[idx] for x in bounds.upper), phases)


def child_bounds(layers: Layers, parent: NodeBounds, rows: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> NodeBounds:
    """Cheap bounds of sub-boxes [lo, hi] of the nodes ``rows`` of ``parent`` (a guide for choosing
    splits): the parent's pre-activation bounds (valid on any sub-box) intersected with interval
    bounds of the sub-box, level by level; no back-substitution."""
    lowers, uppers = [], []
    posts_lo, posts_hi = [lo], [hi]
    for k, lv in enumerate(layers.levels, start=1):
        i_lo, i_hi = interval_level(layers, k, posts_lo, posts_hi)
        low = np.maximum(i_lo, parent.lower[k - 1][rows])
        up = np.minimum(i_hi, parent.upper[k - 1][rows])
        phase = None if parent.phases is None else parent.phases[k - 1][rows]
        low, up = clip_phase(low, up, phase)
        lowers.append(low)
        uppers.append(up)
        p_lo, p_hi = _post_interval(layers, k, low, up)
        posts_lo.append(p_lo)
        posts_hi.append(p_hi)
    phases = None if parent.phases is None else tuple(p[rows] for p in parent.phases)
    return NodeBounds(lo, hi, tuple(lowers), tuple(uppers), phases)
