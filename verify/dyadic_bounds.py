"""Node bounds of batches of leaves in fixed-point dyadic integers (see verify.certificate_dyadic)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import flint

from verify import certificate_exact as exact
from verify.dyadic_program import (
    Compiled, E, F_POST, G, Level, PASS, SLOPE, UNSTABLE, ZERO, _ONE, _add, _ceil, _chain, _exponent, _floor,
    _inexact, _inexact_rows, _mul, _sub, _sums)


class Batch:
    """Bounds at ``count`` leaves. Per level, lists over (neuron ``i``, leaf ``b``) at ``i * count + b``:
    ``lower``/``upper`` of the pre-activations and ``post_lo``/``post_hi`` (over ``2**E``), ``kinds``,
    the relaxation as multipliers over ``2**SLOPE`` (``pos`` for positive and ``neg`` for negative
    coefficients, ``icpt = s (-l)`` over ``2**(SLOPE + E)``), ``mlo``/``mhi`` (``Ml post``, over
    ``2**F_POST``); per leaf ``pay`` (``2**E sum max(-l, 0)`` over neurons a coefficient can land on) and
    ``neg_post``; the forward matrices ``A``, ``B`` (exponent ``e``) and ``POST`` (``post_lo``,
    ``post_hi`` as ``width x count`` matrices)."""

    def __init__(self, count: int):
        self.count = count
        for name in ("lower", "upper", "post_lo", "post_hi", "kinds", "pos", "neg", "icpt", "mlo", "mhi", "mabs",
                     "pay", "neg_post", "A", "B", "e", "POST"):
            setattr(self, name, [])
        self.lo: list[list[int]] = []
        self.hi: list[list[int]] = []
        self.contradiction: list[str | None] = [None] * count
        self.box = None
        self.tiles: dict = {}


def node_bounds(compiled: Compiled, boxes: Sequence, phases: Sequence[Mapping[str, int]],
                empty: Sequence[bool]) -> Batch:
    """Bounds of every pre-activation at each leaf (``boxes[b]``: rationals, ``phases[b]``: +1 active,
    -1 inactive; ``empty[b]``: also tighten phase-split neurons, whose bounds can show a contradiction)."""
    n, count = compiled.n, len(boxes)
    bt = Batch(count)
    bt.lo = [[(int(a.p) << G) // int(a.q) for a, _ in box] for box in boxes]
    bt.hi = [[-((int(-b.p) << G) // int(b.q)) for _, b in box] for box in boxes]
    w = n + 2
    a_rows, b_rows = [0] * (n * count * w), [0] * (n * count * w)
    for j in range(n):
        for b in range(count):
            at = (j * count + b) * w
            lo, hi = bt.lo[b][j] >> G, -((-bt.hi[b][j]) >> G)  # exponent 0: the box's interval, loosely
            a_rows[at + j], a_rows[at + n + 1], b_rows[at + n + 1] = 2, lo + hi, hi - lo
    post_lo = [_floor([bt.lo[b][j]], G - E)[0] for j in range(n) for b in range(count)]
    post_hi = [_ceil([bt.hi[b][j]], G - E)[0] for j in range(n) for b in range(count)]
    negs = [-sum(v for v in lo if v < 0) for lo in bt.lo]
    for name, value in (("lower", post_lo), ("upper", post_hi), ("post_lo", post_lo), ("post_hi", post_hi),
                        ("kinds", None), ("pos", None), ("neg", None), ("icpt", None), ("mlo", None),
                        ("mhi", None), ("mabs", None), ("pay", None), ("neg_post", _ceil(negs, G - E)),
                        ("A", flint.fmpz_mat(n, count * w, a_rows)), ("B", flint.fmpz_mat(n, count * w, b_rows)),
                        ("e", 0), ("POST", _post(n, count, post_lo, post_hi))):
        getattr(bt, name).append(value)
    k_pay = _ceil(negs, G)  # per leaf: rounding a forward function's coefficients costs K units
    for k in range(1, len(compiled.levels)):
        _level(compiled, bt, k, phases, empty, k_pay)
    return bt


def _level(compiled: Compiled, bt: Batch, k: int, phases: Sequence, empty: Sequence[bool], k_pay: list) -> None:
    """Level ``k`` of :func:`node_bounds`."""
    n, level, count = compiled.n, compiled.levels[k], bt.count
    width, w, dodd, size = level.width, n + 2, level.dodd, level.width * bt.count

    def rows_of(values: list, rows: list[int]) -> list:  # the (neuron, leaf) entries of some neurons
        return values if len(rows) == width else list(_chain(values[i * count:(i + 1) * count] for i in rows))

    mlo, mhi = [0] * size, [0] * size  # Ml v is between Ml post_lo and Ml post_hi (over 2**F_POST)
    for src, _, _, ml in level.blocks:
        if ml is not None:
            mlo = list(map(_add, mlo, map(int, (ml * bt.POST[src][0]).entries())))
            mhi = list(map(_add, mhi, map(int, (ml * bt.POST[src][1]).entries())))
    bt.mlo.append(mlo)
    bt.mhi.append(mhi)
    most = [max(a, -a, b, -b) for a, b in zip(mlo, mhi)]
    bt.mabs.append([sum(most[b::count]) for b in range(count)])
    shift = E - F_POST
    bias = [b << E for b in level.bias for _ in range(count)]
    xlo = _floor([(a << shift) + b for a, b in zip(mlo, bias)], level.dshift, dodd)  # over 2**E
    xhi = _ceil([(a << shift) + b for a, b in zip(mhi, bias)], level.dshift, dodd)
    lower, upper = [0] * size, [0] * size
    fn, frows = level.fn, level.frows
    if level.exact:  # reads only inputs: the functions are the weights, the bounds their exact extremes
        L = U = [list(_chain([v] * count for v in col)) for col in level.columns]
        s1 = level.dshift
        cl, cu = _floor(rows_of(bias, fn), s1, dodd), _ceil(rows_of(bias, fn), s1, dodd)
        los, his = _box(bt, n)
        low = list(map(_add, map(int, (level.wpos * los + level.wneg * his).entries()), (v >> (E - G) for v in bias)))
        high = list(map(_add, map(int, (level.wpos * his + level.wneg * los).entries()), (v >> (E - G) for v in bias)))
        lower, upper = _floor(low, s1 + G - E, dodd), _ceil(high, s1 + G - E, dodd)
    else:
        if level.irows:  # bounds from the intervals of the sources
            low = high = None
            for src, wpos, wneg, _ in level.iblocks:
                post_lo, post_hi = bt.POST[src]
                a, b = wpos * post_lo + wneg * post_hi, wpos * post_hi + wneg * post_lo
                low, high = (a, b) if low is None else (low + a, high + b)
            move = level.g + E - F_POST
            if low is None:  # assignments without terms (constants): the bias alone
                _scatter(lower, rows_of(xlo, level.irows), level.irows, count)
                _scatter(upper, rows_of(xhi, level.irows), level.irows, count)
            else:
                _scatter(lower, list(map(_add, _floor([v << move for v in map(int, low.entries())], level.dshift,
                                                      dodd), rows_of(xlo, level.irows))), level.irows, count)
                _scatter(upper, list(map(_add, _ceil([v << move for v in map(int, high.entries())], level.dshift,
                                                     dodd), rows_of(xhi, level.irows))), level.irows, count)
    if not level.exact and frows:
        used = [block for block in level.fblocks if bt.A[block[0]] is not None]
        e = max([bt.e[src] for src, _, _, _ in used], default=0)
        P = Q = flint.fmpz_mat(len(frows), count * w)
        for src, mh, absmh, _ in used:
            a, b = bt.A[src], bt.B[src]
            if bt.e[src] != e:
                a, b = a * (1 << (e - bt.e[src])), b * (1 << (e - bt.e[src]))
            P, Q = P + mh * a, Q + absmh * b
        pl, ql = list(map(int, P.entries())), list(map(int, Q.entries()))
        # the functions' columns over dodd * 2**s1, and their constants (with Ml and the bias) over 2**E
        s1 = e + 1 + level.dshift - level.g
        L = [list(map(_sub, pl[j::w], ql[j::w])) for j in range(w)]
        U = [list(map(_add, pl[j::w], ql[j::w])) for j in range(w)]
        flo, fhi = rows_of(xlo, frows), rows_of(xhi, frows)
        cl = list(map(_add, _floor(L[n], s1 - E, dodd), flo))
        cu = list(map(_add, _ceil(U[n], s1 - E, dodd), fhi))
        v_lo, v_hi = [0] * len(cl), [0] * len(cl)
        for j in range(n):
            lo, hi = _tiled(bt, j, len(frows))
            v_lo = [a + (c * x if c > 0 else c * y) for a, c, x, y in zip(v_lo, L[j], lo, hi)]
            v_hi = [a + (c * y if c > 0 else c * x) for a, c, x, y in zip(v_hi, U[j], lo, hi)]
        _scatter(lower, list(map(max, map(_add, _floor(v_lo, s1 + G - E, dodd), cl),
                                 map(_add, _floor(L[n + 1], s1 - E, dodd), flo))), frows, count)
        _scatter(upper, list(map(min, map(_add, _ceil(v_hi, s1 + G - E, dodd), cu),
                                 map(_add, _ceil(U[n + 1], s1 - E, dodd), fhi))), frows, count)
        if fn != frows:  # keep the functions of the neurons a later level reads
            at = {i: p for p, i in enumerate(frows)}
            pick = [at[i] for i in fn]
            L = [list(_chain(col[p * count:(p + 1) * count] for p in pick)) for col in L]
            U = [list(_chain(col[p * count:(p + 1) * count] for p in pick)) for col in U]
            cl = list(_chain(cl[p * count:(p + 1) * count] for p in pick))
            cu = list(_chain(cu[p * count:(p + 1) * count] for p in pick))
    kinds = _kinds(level, lower, upper, phases, bt)
    if level.refine:
        rows = [t for t, kind in enumerate(kinds) if kind == UNSTABLE
                or (empty[t % count] and level.relu[t // count] and phases[t % count].get(level.names[t // count]))]
        if rows:
            lows, ups = _backward(compiled, bt, k, rows)
            for t, a, b in zip(rows, lows, ups):
                lower[t], upper[t] = max(lower[t], a), min(upper[t], b)
            kinds = _kinds(level, lower, upper, phases, bt)
    # the relaxation as multipliers: chord slopes rounded up, default lower slopes, intercepts s (-l)
    neg = [0 if kind == ZERO else _ONE if kind == PASS else -((-(u << SLOPE)) // (u - l))
           for kind, l, u in zip(kinds, lower, upper)]
    pos = [_ONE if kind == PASS or (kind == UNSTABLE and u > -l) else 0 for kind, l, u in zip(kinds, lower, upper)]
    icpt = [-s * l if kind == UNSTABLE else 0 for kind, l, s in zip(kinds, lower, neg)]
    costs = [-l if l < 0 and kind != ZERO else 0 for kind, l in zip(kinds, lower)]
    pay = [sum(costs[b::count]) for b in range(count)]
    post_lo = [max(v, 0) for v in lower] if all(level.relu) else \
        [max(v, 0) if level.relu[t // count] else v for t, v in enumerate(lower)]
    post_hi = [max(v, 0) for v in upper] if all(level.relu) else \
        [max(v, 0) if level.relu[t // count] else v for t, v in enumerate(upper)]
    negs = [-v if v < 0 else 0 for v in post_lo]
    neg_post = [sum(negs[b::count]) for b in range(count)]
    for name, value in (("lower", lower), ("upper", upper), ("post_lo", post_lo), ("post_hi", post_hi),
                        ("kinds", kinds), ("pos", pos), ("neg", neg), ("icpt", icpt), ("pay", pay),
                        ("neg_post", neg_post), ("POST", _post(width, count, post_lo, post_hi))):
        getattr(bt, name).append(value)
    if not fn:
        bt.A.append(None)
        bt.B.append(None)
        bt.e.append(0)
        return
    # the forward functions of the neurons in fn, rounded to exponent e_out (lower down, upper up;
    # constants pay K), then relaxed
    kinds, lower, neg, pos = rows_of(kinds, fn), rows_of(lower, fn), rows_of(neg, fn), rows_of(pos, fn)
    post_lo, post_hi = rows_of(post_lo, fn), rows_of(post_hi, fn)
    top = max(max(max(c), -min(c)) for c in L[:n] + U[:n]) if n else 0
    e_out = _exponent(max(top, 1), s1, dodd, compiled.pbits - 2)
    e_out = min(e_out, _exponent(max(max(map(abs, cl)), max(map(abs, cu)), 1), E, 1, compiled.pbits - 2))
    sh = s1 - e_out
    lmask = [1 if kind == PASS or (kind == UNSTABLE and p) else 0 for kind, p in zip(kinds, pos)]
    kp = k_pay * len(fn)
    zl = [list(map(_mul, _floor(col, sh, dodd), lmask)) for col in L[:n]]
    kl = _inexact_rows(L[:n], sh, dodd, len(cl))  # a row whose coefficients were rounded pays K
    zl.append([(c - p * r) * m for c, p, r, m in zip(_floor(cl, E - e_out), kp, kl, lmask)])
    scaled = [list(map(_mul, col, neg)) for col in U[:n]]
    zu = [_ceil(col, sh + SLOPE, dodd) for col in scaled]
    ku = _inexact_rows(scaled, sh + SLOPE, dodd, len(cu))
    chord = [c - l if kind == UNSTABLE else c for c, l, kind in zip(cu, lower, kinds)]  # s (U - l) for a chord
    zu.append([c + p * r if m else 0 for c, p, r, m in
               zip(_ceil(list(map(_mul, chord, neg)), E + SLOPE - e_out), kp, ku, neg)])
    ilo, ihi = _floor(post_lo, E - e_out), _ceil(post_hi, E - e_out)
    fsize = len(fn) * count
    a_rows, b_rows = [0] * (fsize * w), [0] * (fsize * w)
    for j in range(n + 1):
        a_rows[j::w], b_rows[j::w] = list(map(_add, zl[j], zu[j])), list(map(_sub, zu[j], zl[j]))
    a_rows[n + 1::w], b_rows[n + 1::w] = list(map(_add, ilo, ihi)), list(map(_sub, ihi, ilo))
    bt.A.append(flint.fmpz_mat(len(fn), count * w, a_rows))
    bt.B.append(flint.fmpz_mat(len(fn), count * w, b_rows))
    bt.e.append(e_out)


def _scatter(target: list, values: list, rows: list[int], count: int) -> None:
    """Put the (neuron, leaf) ``values`` of neurons ``rows`` into the full list ``target``."""
    for p, i in enumerate(rows):
        target[i * count:(i + 1) * count] = values[p * count:(p + 1) * count]


def _box(bt: Batch, n: int) -> tuple:
    """The leaves' boxes as ``n x count`` matrices (over ``2**G``)."""
    if bt.box is None:
        bt.box = (flint.fmpz_mat(n, bt.count, [lo[j] for j in range(n) for lo in bt.lo]),
                  flint.fmpz_mat(n, bt.count, [hi[j] for j in range(n) for hi in bt.hi]))
    return bt.box


def _tiled(bt: Batch, j: int, width: int) -> tuple[list, list]:
    """Input ``j``'s lower and upper ends per (neuron, leaf) of a level of ``width`` neurons."""
    key = (j, width)
    if key not in bt.tiles:
        bt.tiles[key] = ([lo[j] for lo in bt.lo] * width, [hi[j] for hi in bt.hi] * width)
    return bt.tiles[key]


def _post(width: int, count: int, post_lo: list[int], post_hi: list[int]) -> tuple:
    """``post_lo`` and ``post_hi`` (over ``2**E``) rounded outward to ``2**-F_POST``, as matrices."""
    return (flint.fmpz_mat(width, count, _floor(post_lo, E - F_POST)),
            flint.fmpz_mat(width, count, _ceil(post_hi, E - F_POST)))


def _kinds(level: Level, lower: list, upper: list, phases: Sequence, bt: Batch) -> list[int]:
    """The kind of each neuron at each leaf (format steps 1-2); applies the phases to ``lower`` and
    ``upper`` and notes a contradicted phase in ``bt.contradiction``."""
    count = bt.count
    if not any(phases):
        relu = [r for r in level.relu for _ in range(count)]
        return [PASS if l >= 0 or not r else ZERO if u <= 0 else UNSTABLE for l, u, r in zip(lower, upper, relu)]
    kinds = [PASS] * len(lower)
    for t, (l, u) in enumerate(zip(lower, upper)):
        i, b = divmod(t, count)
        if not level.relu[i]:
            continue
        phase = phases[b].get(level.names[i], 0) if phases[b] else 0
        if phase:
            if bt.contradiction[b] is None and ((phase > 0 and u < 0) or (phase < 0 and l > 0)):
                bt.contradiction[b] = level.names[i]
            if phase > 0:
                lower[t] = max(l, 0)
            else:  # as the format: l >= 0 still passes (then pre = 0 on the leaf)
                upper[t] = min(u, 0)
                kinds[t] = PASS if l >= 0 else ZERO
        elif l < 0:
            kinds[t] = ZERO if u <= 0 else UNSTABLE
    return kinds


def _acc(lam: dict, key: int, z: flint.fmpz_mat, f: int, d: int) -> None:
    """``lam[key] += z / (d 2**f)`` exactly, bringing both to one scale."""
    if key not in lam:
        lam[key] = (z, f, d)
        return
    z0, f0, d0 = lam[key]
    dd = d0 * d // math.gcd(d0, d)
    ff = max(f0, f)
    a, b = (dd // d0) << (ff - f0), (dd // d) << (ff - f)
    lam[key] = ((z0 if a == 1 else z0 * a) + (z if b == 1 else z * b), ff, dd)


def _substitute(compiled: Compiled, bt: Batch, lam: dict, const: list[int], owner: list[int],
                alpha: Mapping[int, list] | None = None, crude: bool = False) -> list[int]:
    """Lower bounds, over ``2**E``, of the objectives ``sum_k lam[k] . v_k + const``, row ``r`` over
    leaf ``owner[r]``, by back-substitution to the inputs.

    ``lam[k] = (Z, f, d)``: the coefficients on level ``k``'s variables are ``Z / (d 2**f)``, one row
    per objective; ``const`` is over ``2**E``; ``alpha[k]`` lists ``(r, i, a)``: in row ``r`` the lower
    slope of neuron ``i`` (if unstable) is ``a / 2**SLOPE`` instead of the default. ``crude``: bound
    the ``Ml`` terms by the largest coefficient (cheaper, a little looser).
    """
    count, rows = bt.count, len(owner)
    const = list(const)

    def tile(vec: list) -> list:  # per row, the values of its leaf
        if count == 1:
            return vec * rows
        per = [vec[b::count] for b in range(count)]
        return list(_chain(per[b] for b in owner))

    for k in range(len(compiled.levels) - 1, 0, -1):
        if k not in lam:
            continue
        z, f, d = lam.pop(k)
        level = compiled.levels[k]
        width = level.width
        values = list(map(int, z.entries()))
        neg = tile(bt.neg[k])
        if UNSTABLE in bt.kinds[k]:
            pos = tile(bt.pos[k])
            for r, i, a in (alpha or {}).get(k, ()):
                if bt.kinds[k][i * count + owner[r]] == UNSTABLE:
                    pos[r * width + i] = a
            e = [v * a if v > 0 else v * s for v, a, s in zip(values, pos, neg)]
            chords = [v * c if v < 0 else 0 for v, c in zip(values, tile(bt.icpt[k]))]
            const = list(map(_add, const, _floor(_sums(chords, width, rows), f + SLOPE, d)))
        else:
            e = list(map(_mul, values, neg))
        top = max(max(e), -min(e))
        if not top:
            continue
        f2 = _exponent(top, f + SLOPE, d, compiled.pbits)
        if _inexact(e, f + SLOPE - f2, d):  # coefficients on pre >= l lowered by less than 2**-f2
            cost = _ceil(bt.pay[k], f2)
            const = [c - cost[b] for c, b in zip(const, owner)]
        e = _floor(e, f + SLOPE - f2, d)
        scale = f2 + level.dshift
        if level.g and crude:  # e Ml v >= -max|e| sum max(|Ml post_lo|, |Ml post_hi|)
            most = _ceil([(top >> max(0, f + SLOPE - f2)) + 1], min(0, f + SLOPE - f2))[0]
            cost = _ceil([most * m for m in bt.mabs[k]], scale + F_POST - E, level.dodd)
            const = [c - cost[b] for c, b in zip(const, owner)]
        elif level.g:  # e Ml v >= e Ml post_lo (e > 0) or e Ml post_hi (over 2**F_POST)
            low = [v * a if v > 0 else v * b for v, a, b in zip(e, tile(bt.mlo[k]), tile(bt.mhi[k]))]
            const = list(map(_add, const, _floor(_sums(low, width, rows), scale + F_POST - E, level.dodd)))
        em = flint.fmpz_mat(rows, width, e)
        bias = _floor(list(map(int, (em * level.bias_col).entries())), scale - E, level.dodd)
        const = list(map(_add, const, bias))
        for src, mh, _, _ in level.blocks:
            _acc(lam, src, em * mh, scale - level.g, level.dodd)
    if 0 in lam:
        z, f, d = lam[0]
        n = compiled.n
        values = list(map(int, z.entries()))
        for j in range(n):
            lo, hi = [bt.lo[b][j] for b in owner], [bt.hi[b][j] for b in owner]
            low = [v * a if v > 0 else v * b for v, a, b in zip(values[j::n], lo, hi)]
            const = list(map(_add, const, _floor(low, f + G - E, d)))
    return const


def _backward(compiled: Compiled, bt: Batch, k: int, rows: list[int]) -> tuple[list[int], list[int]]:
    """Bounds (over ``2**E``) of the pre-activations ``rows`` (indices ``i * count + b``) of level ``k``
    by back-substitution of ``+pre`` and ``-pre`` (format step 1, default slopes)."""
    level, count = compiled.levels[k], bt.count
    many = len(rows)
    sel = flint.fmpz_mat(2 * many, level.width)
    for r, t in enumerate(rows):
        sel[r, t // count] = 1
        sel[many + r, t // count] = -1
    lam: dict = {}
    for src, mh, _, _ in level.blocks:
        _acc(lam, src, sel * mh, level.dshift - level.g, level.dodd)
    bias = [level.bias[t // count] << E for t in rows]
    shift = E - F_POST
    const = _floor([(bt.mlo[k][t] << shift) + b for t, b in zip(rows, bias)]
                   + [-(bt.mhi[k][t] << shift) - b for t, b in zip(rows, bias)], level.dshift, level.dodd)
    owner = [t % count for t in rows] * 2
    values = _substitute(compiled, bt, lam, const, owner, crude=True)
    return values[:many], [-v for v in values[many:]]


def _width(compiled: Compiled, level: int) -> int:
    return compiled.n if level == 0 else compiled.levels[level].width
