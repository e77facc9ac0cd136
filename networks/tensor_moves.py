"""Tracer operations that only move tensor elements: concatenation, indexing, reshapes, transposes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from networks.exact_tensors import BATCH, Affine, Unsupported, Vec, as_constant, probe, scalar, unprobe


class Moves:
    """The element-moving operations of :class:`networks.tensors_to_circuit.Tracer` (a mixin: they
    use its ``charge`` and build :class:`~networks.exact_tensors.Vec` s of the same affine items)."""

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
