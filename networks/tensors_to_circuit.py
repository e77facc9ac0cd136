"""The exact tensor tracer the torch, torch.export and ONNX importers share to build a circuit.

An importer walks a graph of tensor operations with a :class:`Tracer`, whose values are the
exact tensors of :mod:`networks.exact_tensors`: constants (numpy arrays of ``Fraction``) and
input-dependent :class:`~networks.exact_tensors.Vec` s. The first axis of a ``Vec`` may be the
symbolic batch axis (torch models, ONNX inputs declared ``["N", 5]``), which no operation may mix
with the others; a concrete shape such as ONNX's ``[1, 1, 1, 5]`` is taken as it is. Affine
operations (matrix products, broadcasting +, -, *, /, reshapes, slicing, concatenation) only
combine exact affine forms; an assignment is created at an activation (one neuron per element)
and at the outputs. Every size is charged against :class:`~networks.model_limits.ModelLimits`
before it is allocated.

>>> t = Tracer()
>>> x = t.add_inputs(['x1', 'x2'])
>>> h = t.activate(t.sub(t.index(x, (slice(None), 0)), t.index(x, (..., 1))))
>>> print(t.finish([t.neg(h)]))
inputs: x1, x2
h1_1 = R(x1 - x2)
y = -h1_1
outputs: y
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import sympy as sp

from networks.exact_tensors import (
    BATCH, NAME, Affine, Unsupported, Vec, as_constant, broadcast, combine, fresh_names, objects,
    plain, probe, scalar, unprobe,
)
from networks.model_limits import ModelLimits, too_big
from symbolic.circuit import Activation, Assignment, Circuit, default_names
from symbolic.errors import InvalidCircuitError, ModelFormatError

_FOLD = 100_000  # a matrix product cheaper than this folds affine terms; dearer ones name them


class Tracer:
    """Builds a circuit while an importer walks a model graph (see the module docstring)."""

    def __init__(self, limits: ModelLimits | None = None) -> None:
        self.limits = limits or ModelLimits()
        self.inputs: list[str] = []
        self.steps: list[list] = []  # [name, terms, bias, activation]
        self.kind: dict[str, Activation] = {}
        self._taken: set[str] = set()
        self._count = 0
        self._work = 0

    # -- bookkeeping --------------------------------------------------------------------------
    def charge(self, count: int, what: str = "a tensor") -> None:
        """Spend ``count`` exact operations; refuse a tensor or a total over the limits."""
        if count > self.limits.max_weights:
            raise too_big(f"{what}: size", count, self.limits.max_weights, "max_weights")
        self._work += count
        if self._work > self.limits.work:
            raise too_big("the graph folds too many exact terms:", self._work, self.limits.work,
                          "10 x max_weights")

    def add_inputs(self, names: Sequence[str], shape: Sequence | None = None) -> Vec:
        """Declare input names and return them as one tensor (default shape ``[BATCH, n]``)."""
        shape = (BATCH, len(names)) if shape is None else tuple(shape)
        if len(self.inputs) + len(names) > self.limits.max_inputs:
            raise too_big("inputs:", len(self.inputs) + len(names), self.limits.max_inputs,
                          "max_inputs")
        if math.prod(plain(shape)) != len(names):
            raise ModelFormatError(f"{len(names)} input names for a tensor of shape {list(shape)}")
        for name in names:
            if not isinstance(name, str) or not NAME.match(name) or name in self._taken:
                raise ModelFormatError(f"input name {name!r} is not a fresh identifier")
            self.inputs.append(name)
            self._taken.add(name)
        return Vec([Affine({n: Fraction(1)}) for n in names], shape)

    def _fresh(self) -> str:
        while True:
            self._count += 1
            if f"h{self._count}" not in self._taken:
                return f"h{self._count}"

    def _step(self, item: Affine, activation: Activation) -> Affine:
        if len(self.steps) >= self.limits.max_neurons:
            raise too_big("neurons:", len(self.steps) + 1, self.limits.max_neurons, "max_neurons")
        name = self._fresh()
        self.steps.append([name, dict(item.terms), item.bias, activation])
        self.kind[name] = activation
        return Affine({name: Fraction(1)})

    def activate(self, vec, activation: Activation = Activation.RELU) -> Vec:
        """One neuron per element (ReLU of a constant folds; ReLU of a ReLU is reused: idempotent)."""
        if not isinstance(vec, Vec):
            raise Unsupported("activation of a constant tensor")
        out = []
        for item in vec.items:
            if activation.piecewise_linear and not item.terms:
                out.append(Affine(bias=activation.exact(item.bias)))
            elif activation.idempotent and self.kind.get(item.single()) is activation:
                out.append(item)
            else:
                out.append(self._step(item, activation))
        return Vec(out, vec.shape)

    def _named(self, items: list[Affine]) -> list[Affine]:
        """Items with several terms become linear assignments (keeps products linear in size)."""
        return [self._step(i, Activation.LINEAR) if len(i.terms) > 1 else i for i in items]

    # -- products -------------------------------------------------------------------------------
    def matmul(self, a, b):
        """``a @ b`` (numpy semantics) where at most one side depends on the input."""
        if not isinstance(a, Vec) and not isinstance(b, Vec):
            a, b = as_constant(a), as_constant(b)
            if a.ndim == 0 or b.ndim == 0:
                raise Unsupported("matrix product of a scalar")
            self.charge(math.prod(a.shape) * (b.shape[-1] if b.ndim > 1 else 1), "matmul")
            return np.matmul(a, b)
        if isinstance(a, Vec) and isinstance(b, Vec):
            raise Unsupported("the product of two input-dependent tensors is not piecewise-linear")
        if isinstance(a, Vec):
            return self._vec_matrix(a, as_constant(b))
        return self._matrix_vec(as_constant(a), b)

    def _vec_matrix(self, a: Vec, m):
        if m.ndim not in (1, 2):
            raise Unsupported(f"matrix product with a constant of shape {list(m.shape)}")
        if a.rank == 0 or (a.batched and a.rank == 1):
            raise Unsupported("matrix product along the batch axis")
        n = a.shape[-1]
        if m.shape[0] != n:
            raise ModelFormatError(
                f"shape mismatch: {n} features times a matrix of shape {list(m.shape)}"
            )
        cols = [m.tolist()] if m.ndim == 1 else [m[:, j].tolist() for j in range(m.shape[1])]
        items = a.items
        cost = sum(len(i.terms) + 1 for i in items) * len(cols)
        if cost > max(_FOLD, 10 * (len(items) * len(cols))):
            items = self._named(items)
            cost = sum(len(i.terms) + 1 for i in items) * len(cols)
        self.charge(cost, "a matrix product")
        out = []
        for r in range(0, len(items), n):
            row = items[r : r + n]
            units = [i.single() for i in row]
            if None not in units and len(set(units)) == n:  # e.g. after a ReLU: no arithmetic
                out += [Affine({u: c for u, c in zip(units, col) if c}) for col in cols]
            else:
                out += [combine(row, col) for col in cols]
        return Vec(out, a.shape[:-1] + m.shape[1:])

    def _matrix_vec(self, m, b: Vec):
        if m.ndim not in (1, 2):
            raise Unsupported(f"matrix product with a constant of shape {list(m.shape)}")
        axis = b.rank - 2 if b.rank >= 2 else 0
        if b.rank == 0 or (b.batched and axis == 0):
            raise Unsupported("matrix product along the batch axis")
        n = b.shape[axis]
        if m.shape[-1] != n:
            raise ModelFormatError(
                f"shape mismatch: a matrix of shape {list(m.shape)} times {n} features"
            )
        rows = [m.tolist()] if m.ndim == 1 else [m[i].tolist() for i in range(m.shape[0])]
        grid = np.arange(b.width).reshape(plain(b.shape))
        k = b.shape[-1] if b.rank >= 2 else 1
        grid = grid.reshape(-1, n, k)
        items = b.items
        cost = sum(len(i.terms) + 1 for i in items) * len(rows)
        if cost > max(_FOLD, 10 * (len(items) * len(rows))):
            items = self._named(items)
        self.charge(sum(len(i.terms) + 1 for i in items) * len(rows), "a matrix product")
        out = []
        for stack in grid:
            block = [[None] * k for _ in rows]
            for j in range(k):
                column = [items[i] for i in stack[:, j].tolist()]
                for r, row in enumerate(rows):
                    block[r][j] = combine(column, row)
            out += [item for line in block for item in line]
        middle = (m.shape[0],) if m.ndim == 2 else ()
        shape = b.shape[:axis] + middle + (b.shape[-1:] if b.rank >= 2 else ())
        return Vec(out, shape)

    def linear(self, x, weight, bias=None):
        """``x @ weight.T + bias`` (torch ``Linear`` convention, weight [m, n])."""
        w = as_constant(weight)
        if w.ndim not in (1, 2):
            raise ModelFormatError(f"a linear layer's weight has shape {list(w.shape)}, not [m, n]")
        out = self.matmul(x, w.T)
        return out if bias is None else self.add(out, bias)

    # -- elementwise ------------------------------------------------------------------------------
    def add(self, a, b, alpha=1):
        """``a + alpha * b`` with broadcasting (numpy rules; the batch axis never broadcasts)."""
        alpha = scalar(alpha)
        if not isinstance(a, Vec) and not isinstance(b, Vec):
            return self._constants(lambda p, q: p + q * alpha, a, b)
        if isinstance(a, Vec) and isinstance(b, Vec):
            return self._two(a, b, lambda p, q: combine([p, q], [Fraction(1), alpha]))
        if isinstance(a, Vec):
            return self._one(a, b, lambda p, c: combine([p], [Fraction(1)], c if alpha == 1
                                                        else alpha * c))
        return self._one(b, a, lambda p, c: combine([p], [alpha], c))

    def sub(self, a, b, alpha=1):
        """``a - alpha * b``."""
        return self.add(a, b, -scalar(alpha))

    def neg(self, a):
        """``-a``."""
        return self.mul(a, -1)

    def mul(self, a, b):
        """Product with a constant (scalar or broadcast tensor); two input tensors are refused."""
        if not isinstance(a, Vec) and not isinstance(b, Vec):
            return self._constants(lambda p, q: p * q, a, b)
        if isinstance(a, Vec) and isinstance(b, Vec):
            raise Unsupported("the product of two input-dependent tensors is not piecewise-linear")
        vec, const = (a, b) if isinstance(a, Vec) else (b, a)
        return self._one(vec, const, lambda p, c: combine([p], [c]))

    def div(self, a, b):
        """Division by a nonzero constant (exact: ``x / 3`` is ``x * 1/3``)."""
        if isinstance(b, Vec):
            raise Unsupported("division by an input-dependent tensor is not piecewise-linear")
        divisor = as_constant(b)
        if any(v == 0 for v in divisor.ravel().tolist()):
            raise Unsupported("division by zero")
        inverse = [1 / scalar(v) for v in divisor.ravel().tolist()]
        return self.mul(a, objects(inverse, divisor.shape))

    def _constants(self, fn, a, b):
        a, b = as_constant(a), as_constant(b)
        self.charge(math.prod(broadcast(a.shape, b.shape)), "a constant")
        return fn(a, b)

    def _shape_with(self, vec: Vec, other: tuple, what: str) -> tuple:
        shape = broadcast(plain(vec.shape), other)
        if vec.batched and (len(shape) != vec.rank or shape[0] != 1):
            raise Unsupported(f"{what} of shape {list(other)} varies along the batch axis or "
                              f"adds axes before it (input tensor {list(vec.shape)})")
        self.charge(math.prod(shape), what)
        return shape

    def _one(self, vec: Vec, const, fn) -> Vec:
        c = as_constant(const)
        shape = self._shape_with(vec, c.shape, "a constant")
        index = np.broadcast_to(np.arange(vec.width).reshape(plain(vec.shape)), shape)
        values = np.broadcast_to(c, shape).ravel().tolist()
        items = [fn(vec.items[i], scalar(v)) for i, v in zip(index.ravel().tolist(), values)]
        return Vec(items, (BATCH,) + shape[1:] if vec.batched else shape)

    def _two(self, a: Vec, b: Vec, fn) -> Vec:
        if a.batched != b.batched or (a.batched and a.rank != b.rank):
            raise Unsupported(f"mixing tensors of shapes {list(a.shape)} and {list(b.shape)} "
                              "(their batch axes do not line up)")
        shape = broadcast(plain(a.shape), plain(b.shape))
        self.charge(math.prod(shape), "a sum")
        ia = np.broadcast_to(np.arange(a.width).reshape(plain(a.shape)), shape).ravel().tolist()
        ib = np.broadcast_to(np.arange(b.width).reshape(plain(b.shape)), shape).ravel().tolist()
        items = [fn(a.items[i], b.items[j]) for i, j in zip(ia, ib)]
        return Vec(items, (BATCH,) + shape[1:] if a.batched else shape)

    # -- moving elements --------------------------------------------------------------------------
    def _restructure(self, vec: Vec, fn, what: str) -> Vec:
        grid = fn(probe(vec, 0, vec.width))
        self.charge(grid.size, what)
        return unprobe(grid, vec.items, vec.batched, what)

    def concat(self, values: Sequence, axis: int, stack: bool = False):
        """Concatenate (or stack) tensors along ``axis``; constants join unbatched tensors."""
        join = np.stack if stack else np.concatenate
        if not any(isinstance(v, Vec) for v in values):
            consts = [as_constant(v) for v in values]
            self.charge(sum(c.size for c in consts), "a concatenation")
            return join(consts, axis=axis)
        batched = any(isinstance(v, Vec) and v.batched for v in values)
        vecs = [v if isinstance(v, Vec) else self._vec_of(v, batched) for v in values]
        if any(v.batched != batched for v in vecs):
            raise Unsupported("concatenating batched and unbatched tensors")
        total = sum(v.width for v in vecs)
        items, grids, offset = [], [], 0
        for v in vecs:
            grids.append(probe(v, offset, total))
            items += v.items
            offset += v.width
        what = f"{'stacking' if stack else 'concatenation'} along axis {axis}"
        self.charge(total, what)
        return unprobe(join(grids, axis=axis), items, batched, what)

    def _vec_of(self, value, batched: bool) -> Vec:
        if batched:
            raise Unsupported("concatenating a constant with a batched input tensor")
        c = as_constant(value)
        self.charge(c.size, "a constant")
        return Vec([Affine(bias=scalar(v)) for v in c.ravel().tolist()], c.shape)

    def index(self, value, key):
        """``value[key]`` (ints, slices, ``None``, ``...``); the batch axis must stay whole."""
        if isinstance(value, (tuple, list)):
            return value[key]
        if not isinstance(value, Vec):
            return as_constant(value)[key]
        if any(isinstance(k, Vec) for k in (key if isinstance(key, tuple) else (key,))):
            raise Unsupported("indexing by an input-dependent tensor")
        return self._restructure(value, lambda g: g[key], f"index {key!r}")

    def take(self, value, which, axis: int):
        """``which`` (an int drops the axis, a slice keeps it) along ``axis``."""
        rank = value.rank if isinstance(value, Vec) else as_constant(value).ndim
        if not -rank <= axis < rank:
            raise Unsupported(f"axis {axis} of a rank-{rank} tensor")
        key = (slice(None),) * (axis % rank) + (which,)
        return self.index(value, key)

    def reshape(self, value, shape: Sequence):
        """view/reshape; for a batched tensor the first entry of ``shape`` is the batch."""
        shape = list(shape)
        if not isinstance(value, Vec):
            if any(d is BATCH for d in shape):
                raise Unsupported("reshaping a constant by the batch size")
            return as_constant(value).reshape([int(d) for d in shape])
        if value.batched:
            if shape and shape[0] is not BATCH and shape[0] != -1:
                shape[0] = BATCH  # a concrete leading size (torch.export specialises it)
            shape = [2 if d is BATCH else int(d) for d in shape]
        elif any(d is BATCH for d in shape):
            raise Unsupported("reshaping an unbatched tensor by the batch size")
        what = f"reshape of {list(value.shape)} to {shape}"
        return self._restructure(value, lambda g: g.reshape([int(d) for d in shape]), what)

    def unsqueeze(self, value, axes):
        """Insert axes of size 1 (``axes``: an int or a list, numbered in the result)."""
        axes = tuple(axes) if isinstance(axes, (list, tuple)) else (int(axes),)
        if not isinstance(value, Vec):
            return np.expand_dims(as_constant(value), axes)
        return self._restructure(value, lambda g: np.expand_dims(g, axes), f"unsqueeze{axes}")

    def squeeze(self, value, axes=None, strict: bool = True):
        """Drop axes of size 1 (all when ``axes`` is empty); ``strict=False`` (torch) ignores
        listed axes whose size is not 1."""
        axes = [] if axes is None else list(axes) if isinstance(axes, (list, tuple)) else [axes]
        shape = value.shape if isinstance(value, Vec) else as_constant(value).shape
        axes = [int(a) % len(shape) if shape else int(a) for a in axes]
        if axes and not strict:
            axes = [a for a in axes if shape[a] == 1]
            if not axes:
                return value
        if isinstance(value, Vec) and value.batched and 0 in axes:
            raise Unsupported("squeezing the batch axis")
        if not isinstance(value, Vec):
            return np.squeeze(as_constant(value), tuple(axes) or None)
        return self._restructure(value, lambda g: np.squeeze(g, tuple(axes) or None),
                                 f"squeeze{tuple(axes)}")

    def flatten(self, value, start: int = 0, end: int = -1):
        """torch.flatten: merge axes ``start..end``."""
        shape = value.shape if isinstance(value, Vec) else as_constant(value).shape
        if not shape:
            return self.reshape(value, [1])
        s, e = start % len(shape), end % len(shape)
        if not isinstance(value, Vec):
            c = as_constant(value)
            return c.reshape(c.shape[:s] + (-1,) + c.shape[e + 1 :])
        return self._restructure(value, lambda g: g.reshape(g.shape[:s] + (-1,) + g.shape[e + 1 :]),
                                 f"flatten({start}, {end})")

    def flatten_2d(self, value, axis: int = 1):
        """ONNX Flatten: the shape ``[prod(d[:axis]), prod(d[axis:])]``."""
        shape = value.shape if isinstance(value, Vec) else as_constant(value).shape
        axis = axis % len(shape) if axis < 0 else axis
        if not isinstance(value, Vec):
            c = as_constant(value)
            return c.reshape(math.prod(c.shape[:axis]), -1)
        return self._restructure(value, lambda g: g.reshape(math.prod(g.shape[:axis]), -1),
                                 f"Flatten(axis={axis})")

    def transpose(self, value, axes=None, swap=None):
        """Permute axes (``.T``, ``permute``, ``transpose(d0, d1)``); never the batch axis."""
        def move(g):
            return g.swapaxes(*swap) if swap else g.transpose(axes)

        if not isinstance(value, Vec):
            return move(as_constant(value))
        return self._restructure(value, move, "transposing an input tensor")

    def size(self, value, dim=None):
        """``x.size()`` / ``x.shape``: the batch size is symbolic."""
        shape = value.shape if isinstance(value, Vec) else tuple(as_constant(value).shape)
        return shape if dim is None else shape[dim]

    # -- the result -------------------------------------------------------------------------------
    def finish(self, outputs: Sequence, names: Sequence[str] | None = None) -> Circuit:
        """The circuit whose outputs are the elements of ``outputs`` (unused neurons dropped).

        Outputs are named ``names`` when there is one per element, else ``y``/``y1..ym``.
        """
        items: list[Affine] = []
        for value in outputs:
            if isinstance(value, Vec):
                items += value.items
            else:
                items += [Affine(bias=scalar(v)) for v in as_constant(value).ravel().tolist()]
        defined = set(self.inputs) | {s[0] for s in self.steps}
        count = len(items)
        candidates = [list(names or ())] + [list(default_names(s, count)) for s in ("y", "out")]
        names = next((c for c in candidates if fresh_names(c, count, defined)), None)
        if names is None:
            names = [n for n in (f"out_{k}" for k in range(count + len(defined)))
                     if n not in defined][:count]
        rename: dict[str, str] = {}
        for name, item in zip(names, items):
            single = item.single()
            if single in self.kind and single not in rename:
                rename[single] = name
            else:
                self.steps.append([name, dict(item.terms), item.bias, Activation.LINEAR])
        needed = {rename.get(n, n) for n in names}
        kept = []
        for name, terms, bias, activation in reversed(self.steps):
            if rename.get(name, name) in needed:
                needed |= {rename.get(s, s) for s in terms}
                kept.append((rename.get(name, name), terms, bias, activation))
        def rational(value: Fraction) -> sp.Rational:
            return sp.Rational(value.numerator, value.denominator)

        try:
            assignments = tuple(
                Assignment(n, tuple((rename.get(s, s), rational(c)) for s, c in t.items()),
                           rational(b), a)
                for n, t, b, a in reversed(kept)
            )
            # one naming scheme whatever the loader: hidden neurons h{layer}_{index}, as in JSON files
            return Circuit(tuple(self.inputs), assignments, tuple(names)).with_layer_names()
        except InvalidCircuitError as exc:
            raise ModelFormatError(f"the imported network is not a valid circuit: {exc}") from None
