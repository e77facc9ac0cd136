"""Exact tensor values for the importers: Fractions, affine combinations, input tensors, shapes.

Constant tensors (weights) are numpy object arrays of ``Fraction``: a float32 weight is its exact
binary value. A tensor that depends on the input is a :class:`Vec`: a shape (its first entry may
be the symbolic batch axis ``BATCH``) and, per element, one exact :class:`Affine` combination of
circuit names. :func:`probe`/:func:`unprobe` let numpy move a ``Vec``'s elements (reshape,
index, transpose, concatenate) while checking that the batch axis is never mixed with the others.

>>> v = Vec([Affine({'a': Fraction(1)}), Affine({'b': Fraction(1)})], (BATCH, 2))
>>> unprobe(probe(v, 0, 2)[:, ::-1], v.items, True, 'reverse').items[0].single()
'b'
>>> unprobe(probe(v, 0, 2).reshape(-1), v.items, True, 'flatten all')
Traceback (most recent call last):
...
networks.exact_tensors.Unsupported: flatten all mixes the batch axis with the features
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from networks.model_limits import ModelLimits, too_big
from symbolic.circuit import default_names
from symbolic.errors import ModelFormatError, UnsupportedLayerError

BATCH = type("Batch", (), {"__repr__": lambda self: "BATCH"})()  # the symbolic batch size
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Unsupported(Exception):
    """One graph node cannot be imported; the importer collects these into one error."""


def exact_array(values, what: str):
    """A numpy object array of exact ``Fraction`` s from a real array (any float width).

    >>> exact_array([0.5, 3], 'w').tolist()
    [Fraction(1, 2), Fraction(3, 1)]
    """
    array = np.asarray(values)
    if array.dtype.kind == "b":
        array = array.astype(np.int64)
    if array.dtype.kind not in "iuf" and array.dtype != object:
        raise ModelFormatError(f"{what} has dtype {array.dtype}, not a real number type")
    if array.dtype.kind == "f":
        array = array.astype(np.float64)  # float16/32 -> float64 is exact
    flat = array.ravel().tolist()
    for i, v in enumerate(flat):
        if isinstance(v, float) and not math.isfinite(v):
            at = [int(k) for k in np.unravel_index(i, array.shape)]
            raise ModelFormatError(f"{what} contains {v} at index {at}: weights must be finite")
    return objects([v if isinstance(v, Fraction) else Fraction(v) for v in flat], array.shape)


def scalar(value) -> Fraction:
    """An exact Python scalar argument (``x * 0.5``, ``x / 3``)."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Fraction(value)
    if isinstance(value, float) and math.isfinite(value):
        return Fraction(value)
    raise Unsupported(f"argument {value!r} is not a finite number")


def objects(values: list, shape) -> np.ndarray:
    """A numpy object array of ``shape`` holding ``values`` (never unpacked into sub-arrays)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out.reshape(shape)


def as_constant(value) -> np.ndarray:
    """A constant operand as an array: arrays as they are, numbers (and ``BATCH``) 0-d."""
    if isinstance(value, np.ndarray):
        return value
    if value is BATCH:  # a size taken from a batched tensor's shape
        return objects([BATCH], ())
    return np.array(scalar(value), dtype=object)


class Affine:
    """``sum(terms[name] * name) + bias`` with exact coefficients."""

    __slots__ = ("terms", "bias")

    def __init__(self, terms: dict[str, Fraction] | None = None, bias: Fraction = Fraction(0)):
        self.terms, self.bias = terms or {}, bias

    def single(self) -> str | None:
        """The name ``n`` when this is exactly ``1 * n``."""
        one = self.bias == 0 and len(self.terms) == 1 and next(iter(self.terms.values())) == 1
        return next(iter(self.terms)) if one else None


def combine(items: Sequence[Affine], coeffs: Sequence[Fraction], bias: Fraction = Fraction(0)):
    """``sum(coeffs[i] * items[i]) + bias`` as one :class:`Affine`."""
    terms: dict[str, Fraction] = {}
    total = Fraction(bias)
    for item, c in zip(items, coeffs):
        if not c:
            continue
        one = c == 1
        if item.bias:
            total += item.bias if one else c * item.bias
        for name, w in item.terms.items():
            value = w if one else c * w
            terms[name] = terms[name] + value if name in terms else value
    return Affine({n: w for n, w in terms.items() if w != 0}, total)


class Vec:
    """An input-dependent tensor: ``shape`` (its first entry may be ``BATCH``) and one
    :class:`Affine` per element of the non-batch axes, in C order."""

    __slots__ = ("items", "shape")

    def __init__(self, items: list[Affine], shape: Sequence):
        self.items, self.shape = list(items), tuple(shape)

    @property
    def batched(self) -> bool:
        """Whether the first axis is the symbolic batch axis."""
        return bool(self.shape) and self.shape[0] is BATCH

    @property
    def width(self) -> int:
        """Number of elements (per batch row)."""
        return len(self.items)

    @property
    def rank(self) -> int:
        """Number of axes, the batch axis included."""
        return len(self.shape)


def plain(shape) -> tuple:
    """The shape with the batch axis taken as 1."""
    return tuple(1 if d is BATCH else d for d in shape)


def probe(vec: Vec, offset: int, total: int):
    """Index grid of ``vec``: element ``i`` of batch row ``b`` is ``b * total + offset + i``.

    The batch axis is probed with two rows, so that an operation that mixes it with the other
    axes is seen in the result (see :func:`_unprobe`).
    """
    grid = np.arange(offset, offset + vec.width).reshape(plain(vec.shape))
    return np.concatenate([grid, grid + total], axis=0) if vec.batched else grid


def unprobe(grid, items: list, batched: bool, what: str) -> Vec:
    if not batched:
        return Vec([items[i] for i in grid.ravel().tolist()], grid.shape)
    total = len(items)
    ok = grid.ndim >= 1 and grid.shape[0] == 2
    if ok:
        ok = bool((grid[0] < total).all() and (grid[1] == grid[0] + total).all())
    if not ok:
        raise Unsupported(f"{what} mixes the batch axis with the features")
    return Vec([items[i] for i in grid[0].ravel().tolist()], (BATCH,) + grid.shape[1:])


def broadcast(a: tuple, b: tuple) -> tuple:
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        raise ModelFormatError(f"shape mismatch: cannot broadcast {list(a)} with {list(b)}") \
            from None


def input_names_for(
    widths: Sequence[int], placeholders: Sequence[str], input_names: Sequence[str] | None,
    limits: ModelLimits | None = None,
) -> list[list[str]]:
    """Names for each input tensor: ``x``/``x1..xn`` for one tensor, else the tensors' own names.

    >>> input_names_for([2, 1], ['a', 'b'], None)
    [['a1', 'a2'], ['b']]
    """
    total = sum(widths)
    cap = (limits or ModelLimits()).max_inputs
    if total > cap:
        raise too_big("inputs:", total, cap, "max_inputs")
    if input_names is None and len(widths) > 1:
        own = [n for p, w in zip(placeholders, widths) for n in default_names(p, w)]
        input_names = own if fresh_names(own, total, set()) else None
    names = list(default_names("x", total) if input_names is None else input_names)
    if len(names) != total:
        raise ModelFormatError(f"{len(names)} input names given for a model with {total} inputs")
    starts = [sum(widths[:k]) for k in range(len(widths))]
    return [names[s : s + w] for s, w in zip(starts, widths)]


def fresh_names(names: list, count: int, taken: set) -> bool:
    """Whether ``names`` are ``count`` distinct identifiers, none of them in ``taken``."""
    unique = len(set(names)) == len(names) == count
    return unique and all(isinstance(n, str) and NAME.match(n) and n not in taken for n in names)


def raise_unsupported(problems: Sequence[str], what: str) -> None:
    """One :class:`UnsupportedLayerError` naming every unsupported node (no-op when none)."""
    if problems:
        raise UnsupportedLayerError(
            f"{what} has {len(problems)} unsupported operation(s): " + "; ".join(problems)
        )
