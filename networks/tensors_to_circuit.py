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
    plain, scalar,
)
from networks.model_limits import ModelLimits, too_big
from networks.tensor_moves import Moves
from symbolic.circuit import Activation, Assignment, Circuit, default_names
from symbolic.errors import InvalidCircuitError, ModelFormatError
from symbolic.exact import rational_of

_FOLD = 100_000  # a matrix product cheaper than this folds affine terms; dearer ones name them


class Tracer(Moves):
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
            return rational_of(value)

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
