"""Sound float64 bounds for confirming leaves: outward rounding with a proven error bound.

The certificate format (docs/certificates.md) bounds an objective phi over a leaf (box + ReLU
phases) by back-substitution through the triangle relaxation. This module computes the same kind
of bound in float64, batched over leaves, such that the result L is a *lower bound of phi over
the leaf*, whatever the rounding: a leaf is confirmed only when L > 0. It follows the format's
recipe step by step (intermediate bounds of every ReLU by back-substitution intersected with
interval bounds, the default lower slopes, the chord), so that the certificate's exact check
computes a value equal to L up to rounding (measured: ~1e-14 on ACAS Xu); the engine still asks
for a margin (:data:`MARGIN`) before it claims a leaf, and the checker re-decides each leaf exactly.

Error analysis (u = 2^-53, round to nearest, gradual underflow; weights and biases must be
float64 numbers, ``Layers.exact_floats``):

1. One operation: the exact result of ``x op y`` lies between the neighbours of ``fl(x op y)``,
   so ``dn(fl(.))`` (``nextafter`` towards -inf) is a lower bound and ``up`` an upper bound
   (under underflow the error is at most 2^-1075, less than the gap to a neighbour).
2. A dot product of n terms (Higham, Accuracy and Stability, Thm 3.5; any order, FMA or not):
   ``|fl(x.y) - x.y| <= gamma_n |x|.|y| + n 2^-1074``, ``gamma_n = n u / (1 - n u)``. Evaluating
   ``s = fl(|x|.|y|)`` gives ``|x|.|y| <= s (1 + 2 gamma_n)`` (n u < 1/4), so :func:`bound` =
   ``up(s c_n) + n 2^-1060`` with ``c_n >= gamma_n (1 + 2 gamma_n)`` bounds the error; sums are
   the case y = 1.
3. Intervals: every interval bound is a dot product rounded outward by 2 (:func:`dot_lo`).
4. Relaxation lines must be valid on the *sound* bounds [l, u] of pre: ``h >= alpha pre``
   (alpha in [0, 1] is exact) and ``h <= s (pre - l)`` with ``s >= u / (u - l)``: computed as
   ``up(u / dn(u - l))``; the intercept ``t >= -s l`` as ``up(s * -l)``.
5. Back-substitution keeps the invariant ``phi >= sum_k lam_k . v_k + c`` on the leaf's relaxed
   region, with float coefficients lam and a float constant c. Replacing an exact product by
   its rounded value moves the right side by at most ``|err| * |v|``, and ``|v|`` is bounded by
   the sound interval of v (``P``: pre-activations, ``H``: post-activations). So each step
   subtracts from c: ``2u |p| . P`` for ``p = fl(lam * slope)``, ``bound(|p| . (|W| H), n)`` for
   ``fl(p W)``, and ``2u |sum| . H`` for each accumulation of coefficients; the constant
   contributions (intercepts, biases) are added rounded down (2, 3).
6. Finally ``lam_0 . x >= sum_i min(lam_i a_i, lam_i b_i)`` on the box [a, b], each product
   rounded down, the sum too; a non-float box end is replaced by its outer float neighbour.

Every step only lowers c below the exact value of an inequality that holds on the leaf, so L is
a lower bound of phi over the leaf. ``tests/verify/test_linear_bounds.py`` checks L against
sampled values and against the exact rational bound of the format (python-flint).
"""

from __future__ import annotations

import dataclasses
import functools
from fractions import Fraction

import numpy as np

from verify.circuit_to_layers import Layers

U = Fraction(1, 2**53)
TINY = 2.0**-1060  # per-term absolute slack covering underflow (>= 2^-1074 per rounding)
TWO_U = 2.0**-52
MARGIN = 1e-9  # a leaf is claimed when its sound bound exceeds MARGIN * (1 + scale of the terms)


def _round_up(q: Fraction) -> float:
    f = float(q)
    return f if Fraction(f) >= q else float(np.nextafter(f, np.inf))


@functools.lru_cache(maxsize=None)
def _c(n: int) -> float:
    """A float >= gamma_n (1 + 2 gamma_n): scales ``fl(|x|.|y|)`` to a dot product's error bound."""
    g = n * U / (1 - n * U)
    return _round_up(g * (1 + 2 * g) * (1 + 4 * U))


GROW = _round_up(1 + 8 * U)  # x * GROW rounded up covers a few roundings of nonnegative terms


def dn(x):
    """The next float below (a lower bound of the exact result of one rounded operation)."""
    return np.nextafter(x, -np.inf)


def up(x):
    """The next float above."""
    return np.nextafter(x, np.inf)


def bound(s, n: int):
    """Upper bound of the rounding error of an n-term dot product whose |x|.|y| evaluates to ``s``."""
    return up(s * _c(n)) + n * TINY


@functools.lru_cache(maxsize=None)
def _k(n: int) -> float:
    """A float >= 1 + 2 gamma_n: scales ``fl(x.y)`` of nonnegative x, y above the exact value."""
    g = n * U / (1 - n * U)
    return _round_up((1 + 2 * g) * (1 + 4 * U))


def inflate(s, n: int):
    """An upper bound of the exact n-term dot product of nonnegative numbers that evaluates to ``s``."""
    return up(s * _k(n)) + n * TINY


def dot_lo(x, y):
    """A lower bound of the exact ``x @ y`` (float arrays)."""
    return dn(x @ y - bound(np.abs(x) @ np.abs(y), x.shape[-1]))


def dot_hi(x, y):
    """An upper bound of the exact ``x @ y``."""
    return up(x @ y + bound(np.abs(x) @ np.abs(y), x.shape[-1]))


def sum_lo(x, axis=-1):
    """A lower bound of the exact sum of ``x`` along ``axis``."""
    return dn(x.sum(axis=axis) - bound(np.abs(x).sum(axis=axis), x.shape[axis]))


def sum_hi(x, axis=-1):
    """An upper bound of the exact sum of nonnegative or signed ``x`` along ``axis``."""
    return up(x.sum(axis=axis) + bound(np.abs(x).sum(axis=axis), x.shape[axis]))


def float_enclosure(values) -> tuple[np.ndarray, np.ndarray]:
    """Float arrays ``lo <= v <= hi`` around exact rationals (equal when v is a float).

    >>> float_enclosure([Fraction(1, 2), Fraction(1, 10)])
    (array([0.5, 0.1]), array([0.5, 0.1]))
    """
    lo, hi = [], []
    for v in values:
        f = float(v)
        exact = Fraction(f)
        lo.append(f if exact <= v else float(np.nextafter(f, -np.inf)))
        hi.append(f if exact >= v else float(np.nextafter(f, np.inf)))
    return np.array(lo, dtype=np.float64), np.array(hi, dtype=np.float64)


@dataclasses.dataclass(frozen=True, eq=False)
class Sound:
    """Sound bounds for B leaves: box, pre-activation bounds, relaxation lines, magnitudes."""

    lo: np.ndarray                        # (B, n): a lower bound of each box's lower end
    hi: np.ndarray
    lower: tuple[np.ndarray, ...]         # per level (B, n_k), phases applied
    upper: tuple[np.ndarray, ...]
    s_low: tuple[np.ndarray, ...]         # default lower slope (1 active, 0 inactive)
    s_up: tuple[np.ndarray, ...]          # chord slope rounded up (1 active, 0 inactive)
    t_up: tuple[np.ndarray, ...]          # chord intercept rounded up
    unstable: tuple[np.ndarray, ...]
    pre_mag: tuple[np.ndarray, ...]       # max |pre| per level
    post_mag: tuple[np.ndarray, ...]      # max |post| per level, index 0 = inputs
    empty: np.ndarray                     # (B,) phases contradict the bounds
    pre_err: tuple[np.ndarray, ...] = ()  # per level: 4u P + c_n (|W| H): error paid per |coefficient|


def relax_lines(relu, lower, upper, phase):
    """Sound relaxation lines of one level: ``(s_low, s_up, t_up, unstable)``."""
    active = ~relu | (lower >= 0)
    if phase is not None:
        active = active | (phase > 0)
    inactive = ~active & ((upper <= 0) | (False if phase is None else phase < 0))
    unstable = ~active & ~inactive
    with np.errstate(divide="ignore", invalid="ignore"):
        chord = np.where(unstable, up(upper / dn(upper - lower)), 0.0)
        chord = np.minimum(chord, 1.0)
        t_up = np.where(unstable, up(chord * -lower), 0.0)
    s_up = np.where(active, 1.0, chord)
    s_low = np.where(active, 1.0, np.where(unstable & (upper > -lower), 1.0, 0.0))
    return s_low, s_up, t_up, unstable


def _interval_level(layers: Layers, k: int, post_lo, post_hi):
    """Sound interval bounds of level k's pre-activations from the post intervals."""
    lv = layers.level(k)
    B = post_lo[0].shape[0]
    xs_lo, xs_hi, mats = [], [], []
    for b in lv.blocks:
        mats.append(np.concatenate([np.maximum(b.weights, 0.0).T, np.minimum(b.weights, 0.0).T]))
        xs_lo.append(np.concatenate([post_lo[b.source], post_hi[b.source]], axis=1))
        xs_hi.append(np.concatenate([post_hi[b.source], post_lo[b.source]], axis=1))
    W = np.concatenate(mats + [lv.bias[None]])
    one = np.ones((B, 1))
    return dot_lo(np.concatenate(xs_lo + [one], axis=1), W), dot_hi(np.concatenate(xs_hi + [one], axis=1), W)


def sound_bounds(layers: Layers, lo: np.ndarray, hi: np.ndarray, phases: tuple | None = None) -> Sound:
    """Sound bounds of every level for B leaves with boxes [lo, hi] (floats enclosing the exact
    boxes from outside) and ``phases[k - 1]`` (B, n_k) int8 or None."""
    if not layers.exact_floats:
        raise ValueError("rigorous float bounds need float64 weights and biases")
    B = lo.shape[0]
    post_lo, post_hi = [lo], [hi]
    post_mag = [np.maximum(np.abs(lo), np.abs(hi))]
    keys = ("lower", "upper", "s_low", "s_up", "t_up", "unstable", "pre_mag")
    parts = {key: [] for key in keys + ("pre_err",)}
    empty = np.zeros(B, dtype=bool)
    for k, lv in enumerate(layers.levels, start=1):
        l, u = _interval_level(layers, k, post_lo, post_hi)
        rows = np.nonzero(lv.relu)[0]
        if k > 1 and rows.size:
            lam = {}
            for b in lv.blocks:
                w = b.weights[rows]
                lam[b.source] = np.broadcast_to(np.concatenate([w, -w])[:, None, :], (2 * rows.size, B, w.shape[1]))
            bias = np.concatenate([lv.bias[rows], -lv.bias[rows]])
            partial = _partial(parts, post_mag)
            value = backward(layers, partial, k - 1, lam, {}, np.broadcast_to(bias[:, None], (2 * rows.size, B)),
                             lo, hi)
            l[:, rows] = np.maximum(l[:, rows], value[:rows.size].T)
            u[:, rows] = np.minimum(u[:, rows], -value[rows.size:].T)
        phase = None if phases is None else phases[k - 1]
        if phase is not None:
            empty |= ((phase > 0) & (u < 0)).any(axis=1) | ((phase < 0) & (l > 0)).any(axis=1)
            l = np.where(phase > 0, np.maximum(l, 0.0), l)
            u = np.where(phase < 0, np.minimum(u, 0.0), u)
        s_low, s_up, t_up, unstable = relax_lines(lv.relu, l, u, phase)
        pre_mag = np.maximum(np.abs(l), np.abs(u))
        for key, value in zip(keys, (l, u, s_low, s_up, t_up, unstable, pre_mag)):
            parts[key].append(value)
        parts["pre_err"].append(_pre_err(lv, pre_mag, post_mag))
        p_lo = np.where(lv.relu, np.maximum(l, 0.0), l)
        p_hi = np.where(lv.relu, np.maximum(u, 0.0), u)
        post_lo.append(p_lo)
        post_hi.append(p_hi)
        post_mag.append(np.maximum(np.abs(p_lo), np.abs(p_hi)))
    return Sound(lo, hi, *(tuple(parts[key]) for key in keys), tuple(post_mag), empty, tuple(parts["pre_err"]))


def _pre_err(lv, pre_mag, post_mag):
    """Per neuron of a level: what one unit of |coefficient| on its pre-activation costs the
    constant in rounding: 2u P (the relaxation product) + 2u P (a merge of coefficients) + the
    error of the product with the weights, gamma_n (|W| H), and of the product with the bias,
    gamma_n |b|, + underflow slack."""
    out = up(up(pre_mag * (2 * TWO_U)) + up(np.abs(lv.bias) * _c(lv.size)))
    for b in lv.blocks:
        H = post_mag[b.source]
        reach = dot_hi(H, np.abs(b.weights).T)
        out = up(out + up(reach * _c(b.weights.shape[1])) + TINY * (H.sum(axis=1, keepdims=True) + 1))
    return out


def _partial(parts: dict, post_mag: list) -> Sound:
    """The levels computed so far, as a Sound (for intermediate back-substitution)."""
    none = np.zeros(0)
    return Sound(none, none, tuple(parts["lower"]), tuple(parts["upper"]), tuple(parts["s_low"]),
                 tuple(parts["s_up"]), tuple(parts["t_up"]), tuple(parts["unstable"]),
                 tuple(parts["pre_mag"]), tuple(post_mag), none, tuple(parts["pre_err"]))


def _absorb(c, err_terms):
    """``c`` minus an upper bound of the sum over the last axis of nonnegative ``err_terms``."""
    return dn(c - sum_hi(err_terms))


def _accumulate(lam: dict, level: int, add, c, mag):
    """``lam[level] += add``; the rounding of the sum is paid from the constant ``c``."""
    if level not in lam:
        lam[level] = add
        return c
    total = lam[level] + add
    lam[level] = total
    return _absorb(c, up(np.abs(total) * TWO_U) * mag)


def backward(layers: Layers, sb: Sound, top: int, lam: dict, lam_pre: dict, const, lo, hi,
             s_low_rows: dict | None = None, want_a: bool = False):
    """Sound lower bounds (m, B) of m objective rows on each of the B leaves of ``sb`` (and the
    final input coefficients (m, B, n) when ``want_a``).

    ``lam[k]`` / ``lam_pre[k]``: (m, B, n_k) float coefficients on level k's post- / pre-
    activations (``lam[0]``: inputs); ``const`` (m, B) a lower bound of the constant;
    ``s_low_rows[k]`` (m, B, n_k) lower slopes in [0, 1] replacing the default ones of unstable
    neurons. Each step keeps ``phi >= sum lam . v + c`` on the leaf (module docstring, 5).
    """
    lam, lam_pre = dict(lam), dict(lam_pre)
    c = np.array(const, dtype=np.float64)
    for k in range(top, 0, -1):
        lh, lp = lam.pop(k, None), lam_pre.pop(k, None)
        if lh is not None:
            s_low = sb.s_low[k - 1]
            if s_low_rows is not None and k in s_low_rows:   # NaN entries keep the default slope
                s_low = np.where(sb.unstable[k - 1] & ~np.isnan(s_low_rows[k]), s_low_rows[k], s_low)
            neg = np.minimum(lh, 0.0)
            total = np.einsum("mbn,bn->mb", neg, sb.t_up[k - 1])      # every term <= 0
            c = dn(c + dn(total - bound(-total, lh.shape[-1])))
            p = np.maximum(lh, 0.0) * s_low + neg * sb.s_up[k - 1]
            if lp is None:
                lp = p
            else:
                c = _absorb(c, up(np.abs(p) * TWO_U) * sb.pre_mag[k - 1])
                lp = lp + p
        if lp is None:
            continue
        lv = layers.level(k)
        m, B, n = lp.shape
        c = dn(c + lp @ lv.bias)                                      # its error is in pre_err
        c = dn(c - inflate(np.einsum("mbn,bn->mb", np.abs(lp), sb.pre_err[k - 1]), n))
        flat = lp.reshape(m * B, n)
        for b in lv.blocks:
            add = (flat @ b.weights).reshape(m, B, -1)
            c = _accumulate(lam, b.source, add, c, sb.post_mag[b.source])
    if 0 not in lam:
        return (c, np.zeros(c.shape + (lo.shape[-1],))) if want_a else c
    A = lam[0]
    terms = np.minimum(dn(A * lo), dn(A * hi))
    value = dn(c + sum_lo(terms))
    return (value, A) if want_a else value


def objective_lower(layers: Layers, sb: Sound, rows: dict, const, alpha: dict | None = None,
                    pre: dict | None = None, want_a: bool = False):
    """Sound lower bounds (m, B) of m objectives on the B leaves of ``sb``.

    ``rows[k]`` (m, B, n_k): float coefficients on level k (0: inputs, else post-activations);
    ``const`` (m, B) a lower bound of the constant; ``pre[k]`` (m, B, n_k) coefficients on
    pre-activations (beta terms); ``alpha[k]`` (m, B, n_k) lower slopes for unstable neurons.
    """
    return backward(layers, sb, len(layers.levels), rows, dict(pre or {}), const, sb.lo, sb.hi, alpha, want_a)
