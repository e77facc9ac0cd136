"""Fixed-point dyadic form of a certificate's network (verify.certificate_dyadic): rounding, compile_program."""

from __future__ import annotations

import itertools
import operator
import weakref

import flint

from verify import certificate_exact as exact

PASS, ZERO, UNSTABLE = exact.PASS, exact.ZERO, exact.UNSTABLE
E = 64         # bounds and constants: integers over 2**E
G = 32         # the input box, rounded outward: integers over 2**G
F_POST = 24    # post_lo and post_hi, rounded outward, in the products with Ml: integers over 2**F_POST
SLOPE = 32     # slopes: integers over 2**SLOPE (chords rounded up, lower slopes down)
W_BITS = 26    # bits of the high part Mh of the weights
BATCH = 2048   # leaves per batch: about BATCH / (number of neurons)
_ONE = 1 << SLOPE
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_add, _sub, _mul = operator.add, operator.sub, operator.mul
_chain = itertools.chain.from_iterable


def _floor(values, s: int, d: int = 1) -> list[int]:
    """``floor(v / (d 2**s))`` for each ``v`` (``s`` any integer, ``d >= 1``)."""
    out = [v >> s for v in values] if s >= 0 else [v << -s for v in values]
    return out if d == 1 else [v // d for v in out]


def _ceil(values, s: int, d: int = 1) -> list[int]:
    """``ceil(v / (d 2**s))`` for each ``v``."""
    if d == 1:
        return [-(-v >> s) for v in values] if s >= 0 else [v << -s for v in values]
    return [-(-v // d) for v in _floor(values, s)] if s >= 0 else [-(-(v << -s) // d) for v in values]


def _inexact(values: list[int], s: int, d: int) -> bool:
    """Whether some ``v / (d 2**s)`` is not an integer."""
    if d == 1:
        return s > 0 and any(v & ((1 << s) - 1) for v in values)
    unit = d << max(s, 0)
    return any(v % unit for v in values)


def _inexact_rows(columns: list[list[int]], s: int, d: int, size: int) -> list[int]:
    """Per row, 1 when some ``v / (d 2**s)`` of its entries (one per column) is not an integer, else 0."""
    if d == 1 and s <= 0:
        return [0] * size
    unit = d << max(s, 0)
    flags = [0] * size
    for col in columns:
        flags = [f or (1 if v % unit else 0) for f, v in zip(flags, col)]
    return flags


def _exponent(top: int, s: int, d: int, bits: int) -> int:
    """An exponent ``f`` with ``|v| / (d 2**s) * 2**f < 2**bits`` for ``|v| <= top``."""
    return min(bits - (top.bit_length() - s - d.bit_length() + 2), 8 * bits + 1024)


def _sums(values: list[int], width: int, rows: int) -> list[int]:
    """Sums of consecutive runs of ``width`` values."""
    return [sum(values[r * width:(r + 1) * width]) for r in range(rows)]


class Level:
    """Level ``k``: ``pre = (2**g sum Mh_src v_src + sum Ml_src v_src + bias) / (dodd 2**dshift)``.

    Rows ``frows`` (ReLUs, and linear neurons a later ``frows`` reads) get bounds from the forward
    functions, the others (``irows``) from intervals; ``fn`` (set by :class:`Compiled`) are the
    neurons whose forward functions a later level reads.
    """

    def __init__(self, level: exact.Level, program: exact.Program, fn: set, fn_src: dict):
        self.width, self.relu, self.names = level.width, level.relu, level.names
        self.rows = level.rows
        top = max((abs(w) for rows in level.rows.values() for row in rows for w in row), default=0)
        self.g = g = max(0, top.bit_length() - W_BITS)
        self.fn = sorted(fn)
        self.frows = [i for i in range(level.width) if level.relu[i] or i in fn]
        self.irows = [i for i in range(level.width) if not (level.relu[i] or i in fn)]
        self.blocks, self.fblocks, self.iblocks = [], [], []
        for src, rows in sorted(level.rows.items()):
            high = [[w >> g for w in row] for row in rows]
            low = [[w - ((w >> g) << g) for w in row] for row in rows]
            self.blocks.append((src, flint.fmpz_mat(high), None, flint.fmpz_mat(low) if g else None))
            cols = fn_src[src]
            part = [[high[i][j] for j in cols] for i in self.frows]
            self.fblocks.append((src, _mat(part, len(self.frows), len(cols)),
                                 _mat([[abs(w) for w in r] for r in part], len(self.frows), len(cols)),
                                 _mat([low[i] for i in self.frows], len(self.frows), len(rows[0])) if g else None))
            part = [high[i] for i in self.irows]
            self.iblocks.append((src, _mat([[max(w, 0) for w in r] for r in part], len(self.irows), len(rows[0])),
                                 _mat([[min(w, 0) for w in r] for r in part], len(self.irows), len(rows[0])),
                                 _mat([low[i] for i in self.irows], len(self.irows), len(rows[0])) if g else None))
        # a level that reads only inputs: its exact weights, as columns and as positive and negative parts
        self.exact = set(level.rows) == {0}
        if self.exact:
            rows = level.rows[0]
            self.columns = [list(col) for col in zip(*(rows[i] for i in self.fn))] or [[] for _ in rows[0]]
            self.wpos = flint.fmpz_mat([[max(w, 0) for w in row] for row in rows])
            self.wneg = flint.fmpz_mat([[min(w, 0) for w in row] for row in rows])
        self.bias = list(level.bias)
        self.bias_col = flint.fmpz_mat(level.width, 1, self.bias)
        self.dshift = (level.den & -level.den).bit_length() - 1
        self.dodd = level.den >> self.dshift
        # back-substitution helps where a source level's pre-activations are not functions of the inputs
        self.refine = any(src > 0 and any(s > 0 for s in program.levels[src].rows) for src in level.rows)


def _mat(rows: list, nrows: int, ncols: int) -> flint.fmpz_mat:
    return flint.fmpz_mat(nrows, ncols, [w for row in rows for w in row])


class Compiled:
    """A certificate's :class:`verify.certificate_exact.Program` with split flint weight matrices."""

    def __init__(self, program: exact.Program):
        self.program, self.position = program, program.position
        self.n = n = len(program.inputs)
        depth = len(program.levels) - 1
        fn: list[set] = [set(range(n))] + [set() for _ in range(depth)]
        for k in range(depth, 0, -1):  # the forward functions a later ReLU (or needed linear neuron) reads
            level = program.levels[k]
            for i in range(level.width):
                if level.relu[i] or i in fn[k]:
                    for src, rows in level.rows.items():
                        fn[src].update(j for j, w in enumerate(rows[i]) if w)
        fn[0] = set(range(n))
        self.fn = [sorted(f) for f in fn]
        self.levels = [None] + [Level(program.levels[k], program, fn[k], {s: self.fn[s] for s in program.levels[k].rows})
                                for k in range(1, depth + 1)]
        terms = max([1] + [sum(program.levels[s].width if s else n for s in lv.rows) for lv in program.levels[1:]])
        self.pbits = max(8, 61 - W_BITS - terms.bit_length())  # leaf-dependent matrices: pbits-bit entries
        self.batch = max(1, BATCH // max(1, sum(lv.width for lv in program.levels[1:])))


def compile_program(program: exact.Program) -> Compiled:
    """The compiled form of ``program`` (cached while the program lives)."""
    compiled = _CACHE.get(program)
    if compiled is None:
        compiled = _CACHE[program] = Compiled(program)
    return compiled
