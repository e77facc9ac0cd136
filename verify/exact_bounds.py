"""The certificate format's leaf bound in exact rationals (python-flint): the engine's slow, exact path.

Used to confirm leaves when the network's weights are not float64 numbers (e.g. ``1/3``) or when
the float enclosure of :mod:`verify.rigorous_bounds` is too wide (a bound that is exactly 0, as
in Equality claims), and as the oracle the float enclosures are tested against. One leaf at a
time; levels as in :mod:`verify.circuit_to_layers`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from fractions import Fraction

import flint

from symbolic.exact import fmpq_of
from verify.circuit_to_layers import Layers

PASS, ZERO, UNSTABLE = 0, 1, 2


q = fmpq_of  # a Fraction, int or float as a flint rational (symbolic.exact.fmpq_of)


@dataclasses.dataclass
class ExactNode:
    """Per level (index k - 1): bounds, relaxation kinds, chord slopes and default lower slopes."""

    box: list[tuple[flint.fmpq, flint.fmpq]]
    lower: list[list[flint.fmpq]]
    upper: list[list[flint.fmpq]]
    kinds: list[list[int]]
    slopes: list[list]
    alpha: list[list]
    contradiction: bool


def _post(relu: bool, lo, hi):
    return (max(lo, flint.fmpq(0)), max(hi, flint.fmpq(0))) if relu else (lo, hi)


def exact_node(layers: Layers, box: Sequence[tuple[Fraction, Fraction]], phases: Mapping[str, int]) -> ExactNode:
    """The format's step 1 and 2 for one leaf: bounds of every pre-activation and relaxations.

    >>> from symbolic.circuit import from_layers
    >>> from verify.circuit_to_layers import circuit_to_layers
    >>> layers = circuit_to_layers(from_layers([([[1], [-1]], None), ([[1, 1]], None)]))
    >>> node = exact_node(layers, [(Fraction(-1), Fraction(2))], {})
    >>> node.lower[0], node.upper[0], node.kinds[0]
    ([-1, -2], [2, 1], [2, 2])
    """
    node = ExactNode([(q(a), q(b)) for a, b in box], [], [], [], [], [], False)
    posts = [([a for a, _ in node.box], [b for _, b in node.box])]
    for k, lv in enumerate(layers.levels, start=1):
        lo = [q(b) for b in lv.bias_exact]
        hi = list(lo)
        for blk in lv.blocks:
            p_lo, p_hi = posts[blk.source]
            for i in range(lv.size):
                for j in range(len(p_lo)):
                    w = blk.exact[i, j]
                    if w > 0:
                        lo[i] += w * p_lo[j]
                        hi[i] += w * p_hi[j]
                    elif w < 0:
                        lo[i] += w * p_hi[j]
                        hi[i] += w * p_lo[j]
        rows = [i for i in range(lv.size) if lv.relu[i]] if k > 1 else []
        if rows:
            lam = {}
            for blk in lv.blocks:
                entries = []
                for sign in (1, -1):
                    for i in rows:
                        entries += [sign * blk.exact[i, j] for j in range(blk.exact.ncols())]
                lam[blk.source] = flint.fmpq_mat(2 * len(rows), blk.exact.ncols(), entries)
            const = [q(lv.bias_exact[i]) for i in rows] + [-q(lv.bias_exact[i]) for i in rows]
            values = _backward(layers, node, k - 1, lam, {}, const, {})
            for t, i in enumerate(rows):
                lo[i] = max(lo[i], values[t])
                hi[i] = min(hi[i], -values[len(rows) + t])
        kinds, slopes, alpha = [PASS] * lv.size, [None] * lv.size, [None] * lv.size
        for i, name in enumerate(lv.names):
            if not lv.relu[i]:
                continue
            phase = phases.get(name, 0)
            if (phase > 0 and hi[i] < 0) or (phase < 0 and lo[i] > 0):
                node.contradiction = True
            if phase > 0:
                lo[i] = max(lo[i], flint.fmpq(0))
            elif phase < 0:
                hi[i] = min(hi[i], flint.fmpq(0))
            if phase > 0 or lo[i] >= 0:
                kinds[i] = PASS
            elif phase < 0 or hi[i] <= 0:
                kinds[i] = ZERO
            else:
                kinds[i] = UNSTABLE
                slopes[i] = hi[i] / (hi[i] - lo[i])
                alpha[i] = flint.fmpq(1 if hi[i] > -lo[i] else 0)
        node.lower.append(lo)
        node.upper.append(hi)
        node.kinds.append(kinds)
        node.slopes.append(slopes)
        node.alpha.append(alpha)
        pl, ph = zip(*(_post(bool(lv.relu[i]), lo[i], hi[i]) for i in range(lv.size)))
        posts.append((list(pl), list(ph)))
    return node


def _backward(layers: Layers, node: ExactNode, top: int, lam: dict, lam_pre: dict, const: list,
              alpha: Mapping[tuple[int, int], flint.fmpq]) -> list:
    """Exact back-substitution of rows ``lam[k]`` (fmpq_mat, m x n_k) and box minimum (step 3)."""
    lam, lam_pre, const = dict(lam), dict(lam_pre), list(const)
    m = len(const)
    for k in range(top, 0, -1):
        lh, lp = lam.pop(k, None), lam_pre.pop(k, None)
        lv = layers.level(k)
        if lh is not None:
            entries = []
            for r in range(m):
                for i in range(lv.size):
                    c = lh[r, i]
                    kind = node.kinds[k - 1][i]
                    if kind == PASS or c == 0:
                        entries.append(c)
                    elif kind == ZERO:
                        entries.append(flint.fmpq(0))
                    elif c > 0:
                        entries.append(c * alpha.get((k, i), node.alpha[k - 1][i]))
                    else:
                        s = node.slopes[k - 1][i]
                        entries.append(c * s)
                        const[r] += c * (-s * node.lower[k - 1][i])
            p = flint.fmpq_mat(m, lv.size, entries)
            lp = p if lp is None else lp + p
        if lp is None:
            continue
        bias = flint.fmpq_mat(lv.size, 1, [q(b) for b in lv.bias_exact])
        const = [c + v for c, v in zip(const, (lp * bias).entries())]
        for blk in lv.blocks:
            add = lp * blk.exact
            lam[blk.source] = add if blk.source not in lam else lam[blk.source] + add
    if 0 in lam:
        A = lam[0]
        for r in range(m):
            for j, (lo, hi) in enumerate(node.box):
                c = A[r, j]
                const[r] += c * (lo if c > 0 else hi)
    return const


def exact_lower(layers: Layers, node: ExactNode, out_coeffs: Sequence[Fraction], in_coeffs: Sequence[Fraction],
                const: Fraction, pre: Mapping[str, Fraction] | None = None,
                alpha: Mapping[str, Fraction] | None = None) -> flint.fmpq:
    """The format's lower bound of ``out . outputs + in . inputs + const + sum pre[j] pre_j`` (exact).

    >>> from symbolic.circuit import from_layers
    >>> from verify.circuit_to_layers import circuit_to_layers
    >>> layers = circuit_to_layers(from_layers([([[1], [-1]], None), ([[1, 1]], None)]))
    >>> node = exact_node(layers, [(Fraction(-1), Fraction(2))], {})
    >>> exact_lower(layers, node, [Fraction(1)], [Fraction(-1, 2)], Fraction(0))
    -1/2
    """
    rows: dict[int, list] = {0: [q(c) for c in in_coeffs]}
    for c, (k, i) in zip(out_coeffs, layers.outputs):
        if c:
            rows.setdefault(k, [flint.fmpq(0)] * layers.width(k))[i] += q(c)
    lam = {k: flint.fmpq_mat(1, len(r), r) for k, r in rows.items()}
    lam_pre = {}
    for name, c in (pre or {}).items():
        k, i = layers.position[name]
        row = lam_pre.setdefault(k, [flint.fmpq(0)] * layers.width(k))
        row[i] += q(c)
    lam_pre = {k: flint.fmpq_mat(1, len(r), r) for k, r in lam_pre.items()}
    slopes = {layers.position[n]: q(a) for n, a in (alpha or {}).items()}
    return _backward(layers, node, len(layers.levels), lam, lam_pre, [q(const)], slopes)[0]
