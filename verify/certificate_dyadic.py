"""Fast sound leaf bounds for the certificate checker: batches of leaves in fixed-point dyadic integers.

The first attempt of :func:`verify.certificate_bab.check_leaf`. Every number is an integer ``n`` read
as ``n / (d 2**f)``, ``d`` odd (the network's denominators; 1 for float weights) and ``f`` fixed per
vector or matrix: rounding is a floor or ceiling shift, no gcd is taken, no rational is built per
element. A weight matrix ``M`` (exact integers over ``den``) is split once as ``M = 2**g Mh + Ml``
with ``Mh`` of ``W_BITS`` bits and ``0 <= Ml < 2**g``, and the leaf-dependent matrices are rounded to
``pbits`` bits, so every python-flint product has word-sized entries (cheap to multiply and to read
back); ``Ml`` enters through intervals. Many leaves share one product (their columns or rows side by
side), since the weights are shared.

**Node bounds.** Level by level, a variable ``v`` that a later ReLU reads gets affine functions of
the inputs with ``Lv(x) <= v <= Uv(x)``; every variable gets an interval ``[post_lo, post_hi]``. The
functions are kept as matrices ``A`` (rows ``ZL + ZU`` and ``post_lo + post_hi``) and ``B``
(``ZU - ZL``, ``post_hi - post_lo``), one column block per leaf. As
``Mh A - |Mh| B = 2 (Mh+ A_L + Mh- A_U)``, two products give a level's lower and upper functions and
interval bounds (``Ml v`` lies between ``Ml post_lo`` and ``Ml post_hi``). A ReLU's ``l, u`` are the
better of the function's extremes over the box and the interval bound (exact extremes when the level
reads only inputs); a linear neuron no ReLU reads keeps the interval bound. Where a ReLU is still
unstable and a source level's pre-activations are not affine in the inputs (depth three on),
``+pre`` and ``-pre`` are back-substituted to the inputs (format step 1, default slopes). Then the
phase applies and the relaxation is the format's step 2; ``phi`` is back-substituted with the
proof's ``alpha`` (step 3).

**Soundness.** Let ``X`` be a leaf's region (its box and phases). By induction over the levels, on
``X``: ``L <= v <= U``, ``post_lo <= v <= post_hi`` and ``l <= pre <= u``. Inputs: ``L = U = x``,
and the box is rounded outward (a superset). ``pre = (2**g Mh h + Ml h + b) / den`` where
``Mh_ij h_j >= Mh_ij L_j`` (``Mh_ij > 0``) or ``Mh_ij U_j``, the identity above being exact integer
algebra, and ``Ml h >= Ml post_lo`` as ``Ml >= 0``. Minima over a superset of ``X`` are rounded
down, maxima up. Back-substitution, with ``c`` the coefficient on ``h``: ``c a`` on ``pre`` when
``c > 0`` (``h >= a pre`` for every ``a`` in ``[0, 1]``; the proof's ``alpha`` is rounded down),
``c s`` and the constant ``-c s l`` when ``c < 0`` (``h <= s (pre - l)`` on ``[l, u]`` for every
``s >= u / (u - l)`` since ``pre >= l``; slopes are rounded up), ``c`` (``PASS``) or nothing
(``ZERO``); a coefficient ``e`` on ``pre`` then gives ``e 2**g Mh / den`` on the sources and the
constant ``e (Ml post_lo) / den`` (``e > 0``) or ``e (Ml post_hi) / den`` (for intermediate bounds
the cruder ``-max|e| sum max(|Ml post_lo|, |Ml post_hi|) / den``). Rounding coefficients: lowering
``d`` in ``[0, 2**-f)`` on a variable ``v >= lo`` lowers ``d v`` by at most ``2**-f max(-lo, 0)``,
so coefficients rounded down stay a lower bound when the constant pays ``2**-f sum max(-lo, 0)``
(``pay``; nothing where ``lo >= 0``); a forward function whose coefficients were rounded pays
``K = ceil(sum_j max(-lo_j, 0))`` units of its grid (an upper function adds it). Intercepts, biases
and minima are rounded down. So every computed lower bound is below the true minimum on ``X``: a
bound of ``phi`` ``> 0`` (or ``>= 0`` with strict atoms) refutes the disjunct, and bounds that
contradict a phase prove ``"empty"``. A failure proves nothing (rounding, intervals for ``Ml``, the
forward functions for neurons the back-substitution skips): the checker then falls back to
:mod:`verify.certificate_exact`.

>>> from verify.certificate import Assignment, Network
>>> q = flint.fmpq
>>> net = Network(("x",), (Assignment("h", (("x", q(1)),), q(0), True),
...                        Assignment("y", (("h", q(1)), ("x", q(-1, 2))), q(0), False)), ("y",))
>>> compiled = compile_program(exact.Program(net))
>>> batch = node_bounds(compiled, [((q(-1), q(1)),)], [{}], [False])
>>> batch.kinds[1], [q(v, 2**E) for v in batch.lower[1] + batch.upper[1]]
([2], [-1, 1])
>>> q(phi_lower(compiled, batch, [(0, {"y": q(1)}, q(0), {}, {"h": q(1)})])[0], 2**E)  # y >= x/2 >= -1/2
-1/2
"""

from __future__ import annotations

from collections.abc import Sequence

import flint

from verify import certificate_exact as exact
from verify.dyadic_program import Compiled, E, Level, PASS, SLOPE, W_BITS, ZERO, _ceil, compile_program
from verify.dyadic_bounds import Batch, _substitute, _width, node_bounds


def phi_lower(compiled: Compiled, bt: Batch, objectives: Sequence[tuple]) -> list[int]:
    """``2**E`` times lower bounds of objectives ``(b, coeffs, const, pre, alpha)``: ``sum coeffs[v] v +
    sum pre[j] pre_j + const`` over leaf ``b`` (``v`` any variable, ``pre_j`` the pre-activation of
    assignment ``j``), with lower slopes ``alpha``."""
    program, count = compiled.program, bt.count
    rational: dict[int, dict[int, list]] = {}
    totals, owner, slopes = [], [], {}
    for r, (b, coeffs, const, pre, alpha) in enumerate(objectives):
        for v, c in coeffs.items():
            lv, i = program.position[v]
            rational.setdefault(lv, {}).setdefault(r, [flint.fmpq(0)] * _width(compiled, lv))[i] += c
        for j, c in pre.items():
            assignment = program.assignment[j]
            const += c * assignment.bias
            for src, w in assignment.terms:
                lv, i = program.position[src]
                rational.setdefault(lv, {}).setdefault(r, [flint.fmpq(0)] * _width(compiled, lv))[i] += c * w
        for name, a in alpha.items():
            lv, i = program.position[name]
            slopes.setdefault(lv, []).append((r, i, (int(a.p) << SLOPE) // int(a.q)))
        totals.append((int(const.p) << E) // int(const.q))
        owner.append(b)
    lam = {}
    for lv, table in rational.items():
        width = _width(compiled, lv)
        top = max((int(c.p).bit_length() - int(c.q).bit_length() + 1 for row in table.values() for c in row if c),
                  default=0)
        f = compiled.pbits - 1 - top
        ints = []
        for r in range(len(objectives)):
            row = table.get(r)
            if row is None:
                ints += [0] * width
                continue
            ints += [(int(c.p) << f) // int(c.q) if f >= 0 else int(c.p) // (int(c.q) << -f) for c in row]
            if any(c != flint.fmpq(v) / flint.fmpq(2) ** f for c, v in zip(row, ints[-width:])):
                totals[r] -= _ceil([bt.neg_post[lv][owner[r]]], f)[0]  # rounded down by less than 2**-f
        lam[lv] = (flint.fmpz_mat(len(objectives), width, ints), f, 1)
    return _substitute(compiled, bt, lam, totals, owner, slopes)


def check_leaves(program: exact.Program, unsafe: tuple, leaves: Sequence) -> list[list[str]]:
    """Problems of each :class:`verify.certificate_bab.Leaf` by this attempt (empty: the leaf is proved)."""
    compiled = compile_program(program)
    out: list[list[str]] = []
    for start in range(0, len(leaves), compiled.batch):
        part = leaves[start:start + compiled.batch]
        phases = [dict(leaf.phases) for leaf in part]
        bt = node_bounds(compiled, [leaf.box for leaf in part], phases, [leaf.proofs is None for leaf in part])
        objectives, where = [], []
        for b, leaf in enumerate(part):
            for d, proof in enumerate(leaf.proofs or ()):
                coeffs, const, pre, alpha, strict = exact.phi_objective(unsafe[d], proof, phases[b])
                objectives.append((b, coeffs, const, pre, alpha))
                where.append((b, d, strict))
        values = phi_lower(compiled, bt, objectives) if objectives else []
        failures: list[list[str]] = [[] if leaf.proofs is not None or bt.contradiction[b] else
                                     ["marked empty, but no phase-split neuron's bounds contradict its phase"]
                                     for b, leaf in enumerate(part)]
        for (b, d, strict), value in zip(where, values):
            if not (value > 0 or (value == 0 and strict)):
                failures[b].append(f"disjunct {d}: the lower bound {flint.fmpq(value, 1 << E)} of phi (rounded "
                                   f"to 2**-{E}) is not {'>= 0' if strict else '> 0'}")
        out += failures
    return out


def check_leaf(program: exact.Program, unsafe: tuple, leaf) -> list[str]:
    """:func:`check_leaves` for one leaf."""
    return check_leaves(program, unsafe, [leaf])[0]
