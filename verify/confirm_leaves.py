"""Confirm float-safe leaves before they are claimed: outward-rounded enclosures, else exact rationals.

A leaf's proof (per disjunct: atom multipliers ``mu``, split multipliers ``beta``, lower slopes
``alpha``) is accepted only if the *exact* bound the certificate format defines is > 0 (or >= 0
when every atom used is strict). :func:`confirm` shows that with the float enclosures of
:mod:`verify.rigorous_bounds`; :func:`confirm_exact` computes it in rationals.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from verify import exact_bounds, rigorous_bounds as rb
from verify.claim_to_problem import Problem


@dataclasses.dataclass(frozen=True, eq=False)
class LeafProofs:
    """Float proof data for B leaves: per disjunct ``mu[d]`` (B, m_d) >= 0; ``beta[d]`` per level
    (B, n_k) >= 0 or None; ``alpha[d]`` per level (B, n_k) in [0, 1] or None."""

    mu: tuple[np.ndarray, ...]
    beta: tuple[tuple[np.ndarray, ...] | None, ...]
    alpha: tuple[tuple[np.ndarray, ...] | None, ...]


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
        lo_enc = rb.float_enclosure([lo for lo, _ in box])
        hi_enc = rb.float_enclosure([hi for _, hi in box])
        lo = np.array([float(lo) for lo, _ in box])
        hi = np.array([float(hi) for _, hi in box])
        return RootBox(tuple(box), lo, hi, lo_enc, hi_enc)

    def enclose(self, lo: np.ndarray, hi: np.ndarray):
        """(la, lb, ha, hb) for node boxes whose ends are split points (floats) or root ends."""
        at_lo, at_hi = lo == self.lo, hi == self.hi
        return (np.where(at_lo, self.lo_enc[0], lo), np.where(at_lo, self.lo_enc[1], lo),
                np.where(at_hi, self.hi_enc[0], hi), np.where(at_hi, self.hi_enc[1], hi))

    def exact_box(self, lo: np.ndarray, hi: np.ndarray) -> list[tuple[Fraction, Fraction]]:
        """One node's exact box."""
        return [(e_lo if a == r_lo else Fraction(a), e_hi if b == r_hi else Fraction(b))
                for a, b, r_lo, r_hi, (e_lo, e_hi) in zip(lo.tolist(), hi.tolist(), self.lo.tolist(),
                                                          self.hi.tolist(), self.exact)]


def _rows(problem: Problem, d: int, mu: np.ndarray, sb: rb.Sound):
    """Float rows and a sound constant with ``phi = sum mu_i g_i >= rows . v + const`` on each leaf
    (the atoms' exact coefficients may not be floats: their rounding is paid from the constant)."""
    spec, layers = problem.specs[d], problem.layers
    B = mu.shape[0]
    c = rb._c(spec.size)
    const = np.zeros(B)

    def times(exact_rows, width, mag):
        lo, hi = rb.float_enclosure([v for row in exact_rows for v in row])
        lo, hi = lo.reshape(spec.size, width), hi.reshape(spec.size, width)
        mid = (lo + hi) * 0.5
        rad = rb.up(np.maximum(rb.up(hi - mid), rb.up(mid - lo)))
        spread = rb.up((rad + rb.up(np.abs(mid) * c)) * rb.GROW)
        err = rb.up(rb.up((mu @ spread) * rb.GROW) + spec.size * rb.TINY)    # (B, width) >= |exact - fl|
        return mu @ mid, rb.up(err * mag)

    mags = [np.stack([sb.post_mag[k][:, i] for k, i in layers.outputs], axis=1), sb.post_mag[0]]
    out, err_out = times(spec.exact_out, len(layers.outputs), mags[0])
    inp, err_in = times(spec.exact_inp, layers.n_inputs, mags[1])
    const = rb.dn(const - rb.sum_hi(np.concatenate([err_out, err_in], axis=1)))
    r_lo, r_hi = rb.float_enclosure(spec.exact_rhs)
    const = rb.dn(const - rb.dot_hi(mu, r_hi))
    rows = {0: inp[None].copy()}
    for o, (k, i) in enumerate(layers.outputs):
        if not out[:, o].any():
            continue
        row = rows.setdefault(k, np.zeros((1, B, layers.width(k))))
        row[0, :, i] += out[:, o]          # distinct outputs are distinct variables: no sum rounds
    return rows, const[None]


def strict_enough(problem: Problem, d: int, mu: np.ndarray) -> np.ndarray:
    """(B,) whether every atom with a positive multiplier is strict (then a bound of 0 suffices)."""
    strict = problem.specs[d].strict
    return np.all(strict[None, :] | (mu <= 0), axis=1)


def confirm(problem: Problem, root: RootBox, lo: np.ndarray, hi: np.ndarray, phases: tuple | None,
            proofs: LeafProofs) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Which of B leaves the sound float bounds confirm: ``(ok, empty, lower bounds per disjunct)``.

    ``empty[b]``: the leaf's phases contradict its bounds (by a margin), so it needs no proof.
    ``ok[b]``: every disjunct's sound lower bound exceeds the margin (or is >= 0 for strict atoms
    only) with the given multipliers.
    """
    layers = problem.layers
    la, _, _, hb = root.enclose(lo, hi)
    sb = rb.sound_bounds(layers, la, hb, phases)
    ok = np.ones(lo.shape[0], dtype=bool)
    values = []
    for d in range(len(problem.specs)):
        mu = proofs.mu[d]
        rows, const = _rows(problem, d, mu, sb)
        pre = None
        if proofs.beta[d] is not None and phases is not None:
            pre = {k: (-beta * phase)[None] for k, (beta, phase) in enumerate(zip(proofs.beta[d], phases), start=1)
                   if beta is not None and np.any(beta * phase)}
        alpha = None
        if proofs.alpha[d] is not None:
            alpha = {k: a[None] for k, a in enumerate(proofs.alpha[d], start=1) if a is not None}
        value = rb.objective_lower(layers, sb, rows, const, alpha, pre)[0]
        values.append(value)
        scale = rb.MARGIN * (1.0 + np.abs(const[0]))
        ok &= value > scale
    empty = _certainly_empty(sb, phases)
    return ok & ~empty, empty, values


def _certainly_empty(sb: rb.Sound, phases) -> np.ndarray:
    """Leaves whose phases contradict the sound bounds by a margin (so the exact check agrees)."""
    out = np.zeros(sb.lo.shape[0], dtype=bool)
    if phases is None:
        return out
    for lo, up, phase in zip(sb.lower, sb.upper, phases):
        margin = rb.MARGIN * (1.0 + np.abs(lo) + np.abs(up))
        out |= ((phase > 0) & (up < -margin)).any(axis=1) | ((phase < 0) & (lo > margin)).any(axis=1)
    return out


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
