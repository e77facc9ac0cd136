"""Sound proof values of leaves: the bound a proof (mu, beta, alpha) gives on a leaf, never a float guess.

A leaf is claimed only when the sound lower bound of ``phi = sum mu_i g_i - sum beta_j s_j pre_j``
(:mod:`verify.rigorous_bounds`) exceeds the margin for every disjunct, so the certificate's exact
check agrees. Networks whose weights are not float64 numbers are confirmed in exact rationals
(:func:`confirm_exact`), as are leaves whose bound is exactly zero (Equality claims).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from verify import exact_bounds, linear_bounds as lb, rigorous_bounds as rb
from verify.claim_to_problem import Problem


@dataclasses.dataclass(frozen=True, eq=False)
class RootBox:
    """The exact root box, its nearest floats and the enclosures of its ends."""

    exact: tuple[tuple[Fraction, Fraction], ...]
    lo: np.ndarray
    hi: np.ndarray
    lo_enc: tuple[np.ndarray, np.ndarray]
    hi_enc: tuple[np.ndarray, np.ndarray]

    @staticmethod
    def of(box: Sequence[tuple[Fraction, Fraction]]) -> RootBox:
        """From the exact box.

        >>> root = RootBox.of([(Fraction(0), Fraction(1, 10))])
        >>> Fraction(root.hi_enc[0][0]) <= Fraction(1, 10) <= Fraction(root.hi_enc[1][0])
        True
        """
        lo_enc = rb.float_enclosure([lo for lo, _ in box])
        hi_enc = rb.float_enclosure([hi for _, hi in box])
        lo = np.array([float(lo) for lo, _ in box])
        hi = np.array([float(hi) for _, hi in box])
        return RootBox(tuple(box), lo, hi, lo_enc, hi_enc)

    def outer(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Float boxes containing the exact node boxes (ends are split points or root ends)."""
        return np.where(lo == self.lo, self.lo_enc[0], lo), np.where(hi == self.hi, self.hi_enc[1], hi)

    def exact_box(self, lo: np.ndarray, hi: np.ndarray) -> list[tuple[Fraction, Fraction]]:
        """One node's exact box."""
        return [(e_lo if a == r_lo else Fraction(a), e_hi if b == r_hi else Fraction(b))
                for a, b, r_lo, r_hi, (e_lo, e_hi) in zip(lo.tolist(), hi.tolist(), self.lo.tolist(),
                                                          self.hi.tolist(), self.exact)]


def node_bounds(problem: Problem, root: RootBox, lo: np.ndarray, hi: np.ndarray, phases) -> rb.Sound:
    """Sound bounds of B nodes (the certificate format's step 1, rounded outward)."""
    return rb.sound_bounds(problem.layers, *root.outer(lo, hi), phases)


def as_float_bounds(sb: rb.Sound, lo, hi, phases) -> lb.NodeBounds:
    """The same bounds for the float helpers of :mod:`verify.linear_bounds` (guides only)."""
    return lb.NodeBounds(lo, hi, sb.lower, sb.upper, phases)


def spec_rows(problem: Problem, d: int, mu: np.ndarray, sb: rb.Sound):
    """Float rows and sound constants with ``sum_i mu[r, b, i] g_i >= rows[r, b] . v + const[r, b]``
    on each leaf b, for R multiplier vectors ``mu`` (R, B, m) >= 0; the rounding of the atoms'
    exact coefficients is paid from the constant using the variables' magnitudes."""
    spec, layers = problem.specs[d], problem.layers
    R, B, m = mu.shape
    c = rb._c(m)

    def times(exact_rows, width, mag):
        lo, hi = rb.float_enclosure([v for row in exact_rows for v in row])
        lo, hi = lo.reshape(m, width), hi.reshape(m, width)
        mid = (lo + hi) * 0.5
        rad = rb.up(np.maximum(rb.up(hi - mid), rb.up(mid - lo)))
        spread = rb.up((rad + rb.up(np.abs(mid) * c)) * rb.GROW)
        err = rb.up(rb.up((mu @ spread) * rb.GROW) + m * rb.TINY)     # (R, B, width) >= |exact - fl|
        return mu @ mid, rb.up(err * mag)

    out_mag = np.stack([sb.post_mag[k][:, i] for k, i in layers.outputs], axis=1)
    out, err_out = times(spec.exact_out, len(layers.outputs), out_mag)
    inp, err_in = times(spec.exact_inp, layers.n_inputs, sb.post_mag[0])
    const = -rb.sum_hi(np.concatenate([err_out, err_in], axis=2))
    _, r_hi = rb.float_enclosure(spec.exact_rhs)
    const = rb.dn(const - rb.dot_hi(mu, r_hi))
    rows = {0: inp}
    for o, (k, i) in enumerate(layers.outputs):
        if out[:, :, o].any():
            rows.setdefault(k, np.zeros((R, B, layers.width(k))))[:, :, i] += out[:, :, o]
    scale = (np.abs(out) * out_mag).sum(axis=2) + (np.abs(inp) * sb.post_mag[0]).sum(axis=2) + np.abs(const)
    return rows, const, scale


def proof_values(problem: Problem, sb: rb.Sound, d: int, mu: np.ndarray, beta=None, alpha=None,
                 phases=None, want_a: bool = False):
    """Sound lower bounds (R, B) of phi for R multiplier vectors per leaf: ``mu`` (R, B, m_d),
    ``beta`` per level (R, B, n_k) or None, ``alpha`` {level: (R, B, n_k)} or None. Returns
    ``(values, safe)`` (and the final input coefficients in the middle when ``want_a``); ``safe``
    means the value exceeds the margin relative to the size of phi's terms."""
    rows, const, scale = spec_rows(problem, d, mu, sb)
    pre = None
    if beta is not None and phases is not None:
        pre = {k: -b * ph for k, (b, ph) in enumerate(zip(beta, phases), start=1)
               if b is not None and np.any(b * ph)}
    out = rb.objective_lower(problem.layers, sb, rows, const, alpha, pre, want_a)
    value = out[0] if want_a else out
    safe = value > rb.MARGIN * (1.0 + scale)
    return (value, out[1], safe) if want_a else (value, safe)


def certainly_empty(sb: rb.Sound, phases) -> np.ndarray:
    """Leaves whose phases contradict the sound bounds by a margin (so the exact check agrees)."""
    out = np.zeros(sb.lo.shape[0], dtype=bool)
    if phases is None:
        return out
    for lo, up, phase in zip(sb.lower, sb.upper, phases):
        gap = rb.MARGIN * (1.0 + np.abs(lo) + np.abs(up))
        out |= ((phase > 0) & (up < -gap)).any(axis=1) | ((phase < 0) & (lo > gap)).any(axis=1)
    return out


def confirm(problem: Problem, root: RootBox, lo: np.ndarray, hi: np.ndarray, phases,
            mus: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Which of B leaves the proofs ``mus[d]`` (B, m_d) confirm: ``(ok, empty, values per disjunct)``."""
    sb = node_bounds(problem, root, lo, hi, phases)
    empty = certainly_empty(sb, phases)
    ok = np.ones(lo.shape[0], dtype=bool)
    values = []
    for d, mu in enumerate(mus):
        value, safe = proof_values(problem, sb, d, mu[None])
        values.append(value[0])
        ok &= safe[0]
    return ok & ~empty, empty, values


def confirm_exact(problem: Problem, box: Sequence[tuple[Fraction, Fraction]], phases: dict[str, int],
                  proofs: Sequence[tuple[dict[int, Fraction], dict[str, Fraction], dict[str, Fraction]]]) -> str | bool:
    """One leaf in exact rationals: ``"empty"``, True (every disjunct refuted) or False."""
    layers = problem.layers
    node = exact_bounds.exact_node(layers, box, phases)
    if node.contradiction:
        return "empty"
    for d, (mu, beta, alpha) in enumerate(proofs):
        spec = problem.specs[d]
        out = [sum((m * spec.exact_out[i][o] for i, m in mu.items()), Fraction(0)) for o in range(len(layers.outputs))]
        inp = [sum((m * spec.exact_inp[i][j] for i, m in mu.items()), Fraction(0)) for j in range(layers.n_inputs)]
        const = -sum((m * spec.exact_rhs[i] for i, m in mu.items()), Fraction(0))
        pre = {n: -b * phases[n] for n, b in beta.items() if b}
        value = exact_bounds.exact_lower(layers, node, out, inp, const, pre, alpha)
        strict = all(spec.strict[i] for i, m in mu.items() if m > 0)
        if not (value > 0 or (value >= 0 and strict)):
            return False
    return True
