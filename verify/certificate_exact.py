"""Exact bounds of a ReLU network over a box with fixed ReLU phases, for the certificate checker.

Everything is a python-flint integer or rational; nothing here is a float. The network is grouped
into levels (an assignment's level is one more than the highest level of its sources; inputs are
level 0) so that each back-substitution step is one integer matrix product per source level.

A linear objective over the variables of level ``k`` is held as ``Z * scale``: an integer matrix
(one row per objective) times one positive rational. A step relaxes level ``k`` (each ReLU by the
certificate's relaxation, chosen per entry by the sign of its coefficient), multiplies by the
weights, and moves the bias into the constant. With ``prec`` set, the relaxed coefficients are
rounded down to ``prec`` bits and the constant pays for it: a coefficient lowered by ``d >= 0``
on a pre-activation ``p >= lo`` changes ``d * p`` by at least ``d * min(lo, 0)``, so the bound stays
a lower bound; intermediate bounds and chord slopes are rounded outward in the same spirit. With
``prec=None`` nothing is rounded and the result is the exact value the format specifies.

>>> from verify.certificate import Assignment, Network
>>> q = flint.fmpq
>>> net = Network(("x",), (Assignment("h", (("x", q(1)),), q(0), True),
...                        Assignment("y", (("h", q(1)), ("x", q(-1, 2))), q(0), False)), ("y",))
>>> program = Program(net)
>>> bounds = node_bounds(program, [(q(-1), q(1))], {}, None)
>>> bounds.lower[1], bounds.upper[1], bounds.kinds[1]
([-1], [1], [2])
>>> lower_bound(program, bounds, {"y": q(1)}, q(0), {}, None, None)  # y >= x - x/2 >= ... on [-1, 1]
-1/2
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Mapping, Sequence

import flint

PASS, ZERO, UNSTABLE = 0, 1, 2  # relaxation of a neuron: h = pre, h = 0, or the triangle
SLOPE_PREC = 32  # with rounding: chord slopes are rounded up to this many bits (a looser, valid chord)
SHRINK = 120  # with rounding: coefficients above prec + SHRINK bits are rounded back to prec bits
_0 = flint.fmpq(0)


class Level:
    """The assignments of one level and the integer weights with which they read earlier levels."""

    def __init__(self, index: int, assignments: Sequence, position: Mapping[str, tuple[int, int]],
                 widths: Sequence[int]):
        self.index = index
        self.names = tuple(a.name for a in assignments)
        self.relu = tuple(a.relu for a in assignments)
        self.relu_rows = tuple(i for i, r in enumerate(self.relu) if r)
        self.width = len(assignments)
        numbers = [w for a in assignments for _, w in a.terms] + [a.bias for a in assignments]
        self.den = math.lcm(1, *(int(w.q) for w in numbers))  # weights = integer matrices / den
        self.rows: dict[int, list[list[int]]] = {}            # source level -> integer weight rows
        for i, a in enumerate(assignments):
            for src, w in a.terms:
                lv, j = position[src]
                if lv not in self.rows:
                    self.rows[lv] = [[0] * widths[lv] for _ in assignments]
                self.rows[lv][i][j] = int(w.p) * (self.den // int(w.q))
        self.bias = [int(a.bias.p) * (self.den // int(a.bias.q)) for a in assignments]
        biggest = max((abs(w) for rows in self.rows.values() for row in rows for w in row), default=0)
        self.bits = max(biggest, *map(abs, self.bias)).bit_length() + self.width.bit_length()
        self.interval_blocks = tuple(
            (lv, flint.fmpz_mat([[max(w, 0) for w in row] for row in rows]),
             flint.fmpz_mat([[min(w, 0) for w in row] for row in rows]))
            for lv, rows in sorted(self.rows.items()))
        self._split: dict[tuple, tuple] = {}
        self._rows: dict[tuple, tuple] = {}

    def pre_rows(self, which: Sequence[int]) -> tuple[dict, list]:
        """The objective ``[pre_i for i in which] + [-pre_i for i in which]`` as ``(lam, const)``."""
        key = tuple(which)
        if key not in self._rows:
            if len(self._rows) > 256:
                self._rows.clear()
            scale = flint.fmpq(1, self.den)
            lam = {lv: (flint.fmpz_mat([rows[i] for i in which] + [[-w for w in rows[i]] for i in which]),
                        scale, self.bits) for lv, rows in self.rows.items()}
            const = [flint.fmpq(self.bias[i], self.den) for i in which]
            self._rows[key] = (lam, const + [-c for c in const])
        lam, const = self._rows[key]
        return dict(lam), list(const)

    def split(self, kinds: Sequence[int]) -> tuple:
        """The weights and biases of the ``PASS`` rows (others zero), of the ``UNSTABLE`` rows, and the
        0/1 matrix that selects the unstable columns: ``(pass_w, pass_b, unstable, select, un_w, un_b)``."""
        key = tuple(kinds)
        if key not in self._split:
            if len(self._split) > 256:
                self._split.clear()
            zero = {lv: [0] * len(rows[0]) for lv, rows in self.rows.items()}
            keep = [kind == PASS for kind in kinds]
            pass_w = tuple((lv, flint.fmpz_mat([row if k else zero[lv] for row, k in zip(rows, keep)]))
                           for lv, rows in sorted(self.rows.items()))
            pass_b = flint.fmpz_mat(self.width, 1, [b if k else 0 for b, k in zip(self.bias, keep)])
            unstable = tuple(i for i, kind in enumerate(kinds) if kind == UNSTABLE)
            select = un_w = un_b = None
            if unstable:
                select = flint.fmpz_mat(self.width, len(unstable))
                for t, i in enumerate(unstable):
                    select[i, t] = 1
                un_w = tuple((lv, flint.fmpz_mat([rows[i] for i in unstable])) for lv, rows in sorted(self.rows.items()))
                un_b = flint.fmpz_mat(len(unstable), 1, [self.bias[i] for i in unstable])
            self._split[key] = (pass_w, pass_b, unstable, select, un_w, un_b)
        return self._split[key]



class Program:
    """A certificate's network compiled to levels (see :class:`Level`)."""

    def __init__(self, network):
        self.inputs = tuple(network.inputs)
        self.position: dict[str, tuple[int, int]] = {n: (0, i) for i, n in enumerate(self.inputs)}
        grouped: list[list] = [[]]
        for a in network.assignments:
            k = 1 + max((self.position[s][0] for s, _ in a.terms), default=0)
            while len(grouped) <= k:
                grouped.append([])
            self.position[a.name] = (k, len(grouped[k]))
            grouped[k].append(a)
        widths = [len(self.inputs)] + [len(g) for g in grouped[1:]]
        self.levels = [None] + [Level(k, grouped[k], self.position, widths) for k in range(1, len(grouped))]
        self.assignment = {a.name: a for a in network.assignments}

    @property
    def depth(self) -> int:
        return len(self.levels) - 1


class Bounds:
    """Per level: pre-activation bounds, the relaxation of each neuron, and post-activation intervals.

    ``contradiction`` names the first phase-constrained neuron whose bounds contradict its phase.
    """

    def __init__(self, box: Sequence[tuple]):
        self.lower: list[list] = [[lo for lo, _ in box]]
        self.upper: list[list] = [[hi for _, hi in box]]
        self.post_lo: list[list] = [list(self.lower[0])]
        self.post_hi: list[list] = [list(self.upper[0])]
        self.kinds: list[list[int]] = [[PASS] * len(box)]
        self.slopes: list[list] = [[None] * len(box)]
        self.alpha: list[list] = [[None] * len(box)]
        self.contradiction: str | None = None


# -- rounding outward -----------------------------------------------------------------------------
def round_down(x: flint.fmpq, prec: int | None) -> flint.fmpq:
    """The largest ``m / 2**e <= x`` with ``prec`` significant bits; sign-preserving, exact if ``None``.

    >>> round_down(flint.fmpq(1, 3), 4), round_down(flint.fmpq(-1, 3), 4)
    (5/16, -11/32)
    """
    if prec is None or x == 0:
        return x
    shift = prec - (x.p.bit_length() - x.q.bit_length())
    if shift >= 0:
        return flint.fmpq((x * (1 << shift)).floor(), 1 << shift)
    return flint.fmpq((x / (1 << -shift)).floor() * (1 << -shift))


def round_up(x: flint.fmpq, prec: int | None) -> flint.fmpq:
    """The smallest grid value ``>= x`` (see :func:`round_down`)."""
    return -round_down(-x, prec)


# -- interval and back-substitution bounds --------------------------------------------------------
def node_bounds(program: Program, box: Sequence[tuple], phases: Mapping[str, int], prec: int | None,
                all_rows: bool = True) -> Bounds:
    """Bounds of every pre-activation over ``box`` with ``phases`` (+1 active, -1 inactive).

    Each ReLU gets the back-substitution bound intersected with the interval bound, then its phase
    (the format's step 1). ``all_rows=False`` skips back-substitution for neurons the interval
    bound already fixes (looser, still sound: a quick first try).
    """
    bounds = Bounds(box)
    for k in range(1, program.depth + 1):
        level = program.levels[k]
        lo, hi = _interval(level, bounds)
        rows = [i for i in level.relu_rows if all_rows or (lo[i] < 0 < hi[i])] if k > 1 else []
        if rows:
            lam, const = level.pre_rows(rows)
            values = back_substitute(program, bounds, k - 1, lam, const, {}, prec)
            for t, i in enumerate(rows):
                lo[i] = max(lo[i], values[t])
                hi[i] = min(hi[i], -values[len(rows) + t])
        lo = [round_down(v, prec) for v in lo]
        hi = [round_up(v, prec) for v in hi]
        kinds, slopes, alpha = [PASS] * level.width, [None] * level.width, [None] * level.width
        post_lo, post_hi = list(lo), list(hi)
        for i in level.relu_rows:
            phase = phases.get(level.names[i], 0)
            if bounds.contradiction is None and ((phase > 0 and hi[i] < 0) or (phase < 0 and lo[i] > 0)):
                bounds.contradiction = level.names[i]
            if phase > 0:
                lo[i] = max(lo[i], _0)
            elif phase < 0:
                hi[i] = min(hi[i], _0)
            if phase > 0 or lo[i] >= 0:
                kinds[i] = PASS
            elif phase < 0 or hi[i] <= 0:
                kinds[i] = ZERO
            else:
                kinds[i] = UNSTABLE
                slopes[i] = round_up(hi[i] / (hi[i] - lo[i]), None if prec is None else min(prec, SLOPE_PREC))
                alpha[i] = flint.fmpq(1 if hi[i] > -lo[i] else 0)
            post_lo[i], post_hi[i] = max(lo[i], _0), max(hi[i], _0)
        for store, value in ((bounds.lower, lo), (bounds.upper, hi), (bounds.post_lo, post_lo),
                             (bounds.post_hi, post_hi), (bounds.kinds, kinds), (bounds.slopes, slopes),
                             (bounds.alpha, alpha)):
            store.append(value)
    return bounds


def _interval(level: Level, bounds: Bounds) -> tuple[list, list]:
    """Interval bounds of the level's pre-activations from the post intervals of earlier levels."""
    lo = [flint.fmpq(b, level.den) for b in level.bias]
    hi = list(lo)
    for src, pos, neg in level.interval_blocks:
        (lo_z, lo_s), (hi_z, hi_s) = _column(bounds.post_lo[src]), _column(bounds.post_hi[src])
        lo_s, hi_s = lo_s / level.den, hi_s / level.den
        for out, a, sa, b, sb in ((lo, pos * lo_z, lo_s, neg * hi_z, hi_s), (hi, pos * hi_z, hi_s, neg * lo_z, lo_s)):
            out[:] = [v + x * sa + y * sb for v, x, y in zip(out, a.entries(), b.entries())]
    return lo, hi


def _column(values: Sequence[flint.fmpq]) -> tuple[flint.fmpz_mat, flint.fmpq]:
    """``values`` as an integer column times a rational scale."""
    den = math.lcm(1, *(int(v.q) for v in values))
    return flint.fmpz_mat(len(values), 1, [int(v.p) * (den // int(v.q)) for v in values]), flint.fmpq(1, den)


def _add(lam: dict, level: int, z: flint.fmpz_mat, scale: flint.fmpq, bits: int) -> None:
    """``lam[level] += z * scale``, bringing both terms to one scale."""
    if level not in lam:
        lam[level] = (z, scale, bits)
        return
    z0, s0, b0 = lam[level]
    if s0 == scale:
        lam[level] = (z0 + z, scale, max(b0, bits) + 1)
        return
    common = flint.fmpq(math.gcd(int(s0.p), int(scale.p)), math.lcm(int(s0.q), int(scale.q)))
    f0, f1 = int((s0 / common).p), int((scale / common).p)
    lam[level] = (z0 * f0 + z * f1, common, max(b0 + f0.bit_length(), bits + f1.bit_length()) + 1)


def back_substitute(program: Program, bounds: Bounds, top: int, lam: dict, const: list,
                    alpha: Mapping[tuple[int, int], flint.fmpq], prec: int | None) -> list:
    """Lower bounds of the objectives ``sum_k lam[k] . v_k + const`` over the box (format step 3).

    ``lam[k] = (Z, scale, bits)``: one row per objective over level ``k``'s variables (level 0: the
    inputs) with ``|Z| < 2**bits``; ``alpha[(k, i)]`` overrides the lower slope of an unstable neuron.
    """
    lam, const = dict(lam), list(const)
    for k in range(top, 0, -1):
        if k not in lam:
            continue
        z, scale, bits = lam.pop(k)
        level = program.levels[k]
        if prec is not None and bits > prec + SHRINK:
            z, scale, bits = _shrink(z, scale, bits, prec, bounds.post_lo[k], const)
        elif prec is not None and bits < prec:
            # small integers (e.g. the objective's own coefficients, scale 1) would lose up to one
            # whole unit per rounded product below; carry prec bits so a unit is 2**-prec of them
            shift = prec - bits
            z, scale, bits = z * (1 << shift), scale / (1 << shift), prec
        pass_w, pass_b, unstable, select, un_w, un_b = level.split(bounds.kinds[k])
        if not unstable:
            step = scale / level.den
            for src, weights in pass_w:
                _add(lam, src, z * weights, step, bits + level.bits)
            bias = (z * pass_b).entries()
        else:
            f, e = _relax_unstable(z * select, k, unstable, bounds, alpha, scale, const, prec is None)
            step = scale / (level.den * f)
            for (src, weights), (_, weights_u) in zip(pass_w, un_w):
                pass_part = z * weights if f == 1 else (z * weights) * f
                _add(lam, src, pass_part + e * weights_u, step, bits + level.bits + f.bit_length() + 1)
            bias = ((z * pass_b) * f + e * un_b).entries()
        const = [c + step * b for c, b in zip(const, bias)]
    if 0 not in lam:
        return const
    z, scale, _ = lam[0]
    (lo, lo_s), (hi, hi_s) = _column(bounds.lower[0]), _column(bounds.upper[0])
    positive = flint.fmpz_mat(z.nrows(), z.ncols(), [v if v > 0 else 0 for v in z.entries()])
    low, high = (positive * lo).entries(), ((z - positive) * hi).entries()
    return [c + scale * (a * lo_s + b * hi_s) for c, a, b in zip(const, low, high)]


def _shrink(z, scale, bits: int, prec: int, post_lo: Sequence, const: list):
    """Round the coefficients ``z * scale`` of level variables ``v >= post_lo`` down to ``prec`` bits.

    Each coefficient drops by ``d`` in ``[0, 2**g * scale)``, which changes ``d * v`` by at least
    ``-2**g * scale * max(-post_lo, 0)``: the constant pays that for every row.
    """
    entries = z.entries()
    top = max(map(abs, entries), default=0).bit_length()
    g = top - prec
    if g <= 0:
        return z, scale, top
    unit = 1 << g
    z = flint.fmpz_mat(z.nrows(), z.ncols(), list(map(operator.floordiv, entries, itertools.repeat(flint.fmpz(unit)))))
    scale = scale * unit
    drop = sum((-v for v in post_lo if v < 0), flint.fmpq(0))
    if drop:
        const[:] = [c - scale * drop for c in const]
    return z, scale, prec


def _relax_unstable(parts: flint.fmpz_mat, k: int, unstable: Sequence[int], bounds: Bounds, alpha: Mapping,
                    scale: flint.fmpq, const: list, exact: bool) -> tuple[int, flint.fmpz_mat]:
    """The relaxed coefficients of level ``k``'s unstable ReLUs (format step 2).

    ``parts * scale`` are the coefficients on their outputs ``h``. A coefficient ``c > 0`` takes the
    lower line ``h >= alpha * pre`` (``c * alpha`` on ``pre``); ``c < 0`` takes the chord
    ``h <= s * (pre - l)`` (``c * s`` on ``pre``, and ``-c * s * l`` added to ``const``). Returns
    ``(f, E)`` with the coefficients on ``pre`` equal to ``E * scale / f``. When ``exact``, ``f``
    is the slopes' common denominator; otherwise ``f = 1`` and each product is rounded down to an
    integer: it drops by less than one unit on a ``pre >= l``, so ``const`` pays ``-l`` units.
    """
    lower = [alpha.get((k, i), bounds.alpha[k][i]) for i in unstable]
    slopes = [bounds.slopes[k][i] for i in unstable]
    lows = [bounds.lower[k][i] for i in unstable]
    rows, u = parts.nrows(), len(unstable)
    values = parts.transpose().entries()  # column by column
    columns = [values[t * rows:(t + 1) * rows] for t in range(u)]
    f = math.lcm(1, *(int(v.q) for v in lower), *(int(v.q) for v in slopes)) if exact else 1
    e, drop = [], flint.fmpq(0)
    for col, a, s, lo in zip(columns, lower, slopes, lows):
        if exact:
            ap, aq, sp, sq = int((a * f).p), 1, int((s * f).p), 1
        else:
            ap, aq, sp, sq = int(a.p), int(a.q), int(s.p), int(s.q)
            if aq > 1 or sq > 1:
                drop -= lo  # a product rounded down, on a pre >= l (l < 0)
        if ap == aq == 1:
            e += [v if v > 0 else v * sp // sq for v in col]
        elif ap == 0:
            e += [0 if v > 0 else v * sp // sq for v in col]
        else:
            e += [v * ap // aq if v > 0 else v * sp // sq for v in col]
    if drop:
        const[:] = [c - scale * drop for c in const]
    intercept = [-(s * lo) for s, lo in zip(slopes, lows)]  # -s * l > 0
    den = math.lcm(1, *(int(c.q) for c in intercept))
    column = flint.fmpz_mat(u, 1, [int((c * den).p) for c in intercept])
    negative = flint.fmpz_mat(u, rows, [v if v < 0 else 0 for v in values]).transpose()
    step = scale / den
    const[:] = [c + step * v for c, v in zip(const, (negative * column).entries())]
    return f, flint.fmpz_mat(u, rows, e).transpose()


def phi_objective(atoms: Sequence, proof, phases: Mapping[str, int]) -> tuple[dict, flint.fmpq, dict, dict, bool]:
    """The objective of one disjunct's proof, ``phi = sum mu_i g_i - sum beta_j s_j pre_j`` with
    ``g = a.v - r`` for ``<``/``<=`` atoms and ``r - a.v`` for ``>``/``>=``: ``(coeffs, const, pre,
    alpha, strict)``, where ``strict`` says every atom with a positive multiplier is strict (then
    ``phi >= 0`` refutes the disjunct, else ``phi > 0`` is needed)."""
    coeffs: dict[str, flint.fmpq] = {}
    const = flint.fmpq(0)
    for i, m in proof.mu:
        atom = atoms[i]
        sign = 1 if atom.op in ("<=", "<") else -1  # g = a.v - r, or r - a.v
        for v, c in atom.coeffs:
            coeffs[v] = coeffs.get(v, flint.fmpq(0)) + sign * m * c
        const -= sign * m * atom.rhs
    pre = {n: -b * phases[n] for n, b in proof.beta}
    strict = all(atoms[i].op in ("<", ">") for i, m in proof.mu if m > 0)
    return coeffs, const, pre, dict(proof.alpha), strict


def lower_bound(program: Program, bounds: Bounds, coeffs: Mapping[str, flint.fmpq], const: flint.fmpq,
                pre: Mapping[str, flint.fmpq], alpha: Mapping[str, flint.fmpq] | None, prec: int | None):
    """Lower bound of ``sum coeffs[v] * v + sum pre[j] * pre_j + const`` over the node (``v``: any
    variable; ``pre_j``: the pre-activation of assignment ``j``), with lower slopes ``alpha``."""
    rows: dict[int, list] = {}
    for v, c in coeffs.items():
        lv, i = program.position[v]
        rows.setdefault(lv, [flint.fmpq(0)] * _width(program, lv))[i] += c
    for j, c in pre.items():
        assignment = program.assignment[j]
        const += c * assignment.bias
        for src, w in assignment.terms:
            lv, i = program.position[src]
            rows.setdefault(lv, [flint.fmpq(0)] * _width(program, lv))[i] += c * w
    lam = {}
    for lv, row in rows.items():
        den = math.lcm(1, *(int(c.q) for c in row))
        ints = [int((c * den).p) for c in row]
        lam[lv] = (flint.fmpz_mat(1, len(row), ints), flint.fmpq(1, den), max(map(abs, ints)).bit_length())
    slopes = {program.position[n]: a for n, a in (alpha or {}).items()}
    return back_substitute(program, bounds, program.depth, lam, [const], slopes, prec)[0]


def _width(program: Program, level: int) -> int:
    return len(program.inputs) if level == 0 else program.levels[level].width
