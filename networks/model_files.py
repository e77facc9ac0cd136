"""Open a model file by its suffix; the exact tensor tracer shared by the torch and ONNX importers.

:func:`load_model` dispatches on the suffix; ``.json`` files never import torch or onnx.

The importers walk a graph of tensor operations with a :class:`Tracer`. A tensor that depends on
the input is a :class:`Vec`: one exact :class:`Affine` combination of circuit names per feature
(the batch axis is implicit). Affine operations (linear layers, slicing, concatenation, +, -,
scaling) only combine these symbolic combinations; an assignment is created only at an activation
(one ReLU/sigmoid neuron per feature) and at the outputs. Constant tensors (weights) are numpy
object arrays of ``Fraction``; a float32 weight becomes its exact binary value.

>>> t = Tracer()
>>> x = t.add_inputs(['x1', 'x2'])
>>> h = t.activate(t.sub(t.index(x, (slice(None), 0)), t.index(x, (..., 1))))
>>> print(t.finish([t.neg(h)]))
inputs: x1, x2
h1 = R(x1 - x2)
y = -h1
outputs: y
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from symbolic.circuit import Activation, Assignment, Circuit, default_names
from symbolic.errors import InvalidCircuitError, ModelFormatError, UnsupportedLayerError

SUFFIXES = {
    ".json": "JSON weights (docs/weights-format.md)",
    ".pt": "torch state_dict",
    ".pth": "torch state_dict",
    ".pt2": "torch.export program",
    ".onnx": "ONNX model",
}
BATCH = type("Batch", (), {"__repr__": lambda self: "BATCH"})()  # the symbolic batch size
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def load_model(
    path: str | os.PathLike, input_names: Sequence[str] | None = None, architecture=None
) -> Circuit:
    """The exact circuit in the model file ``path``, chosen by suffix (see ``SUFFIXES``).

    ``architecture`` (an ``nn.Module``) only applies to ``.pt``/``.pth`` state dicts.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        known = ", ".join(f"{s} ({d})" for s, d in SUFFIXES.items())
        raise ModelFormatError(f"{path}: unknown model file suffix {suffix!r}; supported: {known}")
    if architecture is not None and suffix not in (".pt", ".pth"):
        raise ModelFormatError(f"{path}: architecture= only applies to .pt/.pth state dicts")
    if suffix == ".json":
        from networks import json_to_circuit

        return json_to_circuit.load(path, input_names)
    try:
        if suffix == ".onnx":
            from networks import onnx_to_circuit

            return onnx_to_circuit.load_onnx(Path(path), input_names)
        from networks import torch_to_circuit

        if suffix == ".pt2":
            return torch_to_circuit.load_exported_program(path, input_names)
        return torch_to_circuit.load_state_dict_file(path, architecture, input_names)
    except ModuleNotFoundError as exc:
        raise ModelFormatError(
            f"{path}: reading {suffix} files needs the optional package {exc.name!r} "
            "(pip install 'mathcircuits[torch,onnx]')"
        ) from None


# -- exact values ----------------------------------------------------------------------------------
class Unsupported(Exception):
    """One graph node cannot be imported; the importer collects these into one error."""


def exact_array(values, what: str):
    """A numpy object array of exact ``Fraction`` s from a real array (any float width)."""
    import numpy as np

    array = np.asarray(values)
    if array.dtype.kind == "b":
        array = array.astype(np.int64)
    if array.dtype.kind not in "iuf" and array.dtype != object:
        raise ModelFormatError(f"{what} has dtype {array.dtype}, not a real number type")
    if array.dtype.kind == "f":
        array = array.astype(np.float64)  # float16/32 -> float64 is exact
    flat = array.ravel().tolist()
    out = np.empty(len(flat), dtype=object)
    for i, v in enumerate(flat):
        if isinstance(v, float) and not math.isfinite(v):
            at = [int(k) for k in np.unravel_index(i, array.shape)]
            raise ModelFormatError(f"{what} contains {v} at index {at}: weights must be finite")
        out[i] = v if isinstance(v, Fraction) else Fraction(v)
    return out.reshape(array.shape)


def scalar(value) -> Fraction:
    """An exact Python scalar argument (``x * 0.5``, ``x / 3``)."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return Fraction(value)
    raise Unsupported(f"argument {value!r} is not a finite number")


def _const(value):
    import numpy as np

    if isinstance(value, np.ndarray):
        return value
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
        if c == 0:
            continue
        total += c * item.bias
        for name, w in item.terms.items():
            terms[name] = terms.get(name, 0) + c * w
    return Affine({n: w for n, w in terms.items() if w != 0}, total)


class Vec:
    """An input-dependent tensor: shape [batch, width] (rank 2) or [batch] (rank 1, width 1)."""

    __slots__ = ("items", "rank")

    def __init__(self, items: list[Affine], rank: int = 2):
        self.items, self.rank = list(items), rank

    @property
    def width(self) -> int:
        """Number of features."""
        return len(self.items)


def _full(key) -> bool:
    return isinstance(key, slice) and key.start in (None, 0) and key.step in (None, 1) and (
        key.stop is None or (isinstance(key.stop, int) and key.stop >= 2**31)
    )


def _stretch(items: list, width: int) -> list:
    return items * width if len(items) == 1 and width != 1 else items


def _insert(shape: tuple, axis: int) -> tuple:
    axis = axis if axis >= 0 else len(shape) + 1 + axis
    return shape[:axis] + (1,) + shape[axis:]


def _broadcast(a: int, b: int) -> int:
    if a != b and 1 not in (a, b):
        raise ModelFormatError(f"shape mismatch: cannot broadcast {a} features with {b} features")
    return max(a, b)


# -- the tracer ---------------------------------------------------------------------------------
class Tracer:
    """Builds a circuit while an importer walks a model graph (see the module docstring)."""

    def __init__(self) -> None:
        self.inputs: list[str] = []
        self.steps: list[list] = []  # [name, terms, bias, activation]
        self.kind: dict[str, Activation] = {}
        self._count = 0

    def add_inputs(self, names: Sequence[str], rank: int = 2) -> Vec:
        """Declare input names and return them as one tensor of that width."""
        for name in names:
            if not isinstance(name, str) or not _NAME.match(name) or name in self.inputs:
                raise ModelFormatError(f"input name {name!r} is not a fresh identifier")
            self.inputs.append(name)
        return Vec([Affine({n: Fraction(1)}) for n in names], rank)

    def _fresh(self) -> str:
        self._count += 1
        return f"h{self._count}" if f"h{self._count}" not in self.inputs else self._fresh()

    def activate(self, vec, activation: Activation = Activation.RELU) -> Vec:
        """One neuron per feature (ReLU of a constant folds; ReLU of a ReLU is reused)."""
        if not isinstance(vec, Vec):
            raise Unsupported("activation of a constant tensor")
        out = []
        for item in vec.items:
            if activation is Activation.RELU and not item.terms:
                out.append(Affine(bias=max(item.bias, Fraction(0))))
                continue
            if activation is Activation.RELU and self.kind.get(item.single()) is Activation.RELU:
                out.append(item)
                continue
            name = self._fresh()
            self.steps.append([name, dict(item.terms), item.bias, activation])
            self.kind[name] = activation
            out.append(Affine({name: Fraction(1)}))
        return Vec(out, vec.rank)

    # affine operations: values are Vec, numpy object arrays (constants) or Python scalars
    def matmul(self, a, b):
        """``a @ b`` with ``a`` an input tensor [batch, n] and ``b`` a constant [n, m] or [n]."""
        if not isinstance(a, Vec) and not isinstance(b, Vec):
            return _const(a).dot(_const(b))
        if isinstance(b, Vec) or a.rank != 2:
            raise Unsupported("matrix product needs input tensor [batch, n] @ constant [n, m]")
        m = _const(b)
        if m.ndim not in (1, 2) or m.shape[0] != a.width:
            raise ModelFormatError(
                f"shape mismatch: {a.width} features times a matrix of shape {list(m.shape)}"
            )
        cols = [m] if m.ndim == 1 else [m[:, j] for j in range(m.shape[1])]
        return Vec([combine(a.items, list(col)) for col in cols], 2 if m.ndim == 2 else 1)

    def linear(self, x, weight, bias=None):
        """``x @ weight.T + bias`` (torch ``Linear`` / ONNX ``Gemm`` convention, weight [m, n])."""
        w = _const(weight)
        if isinstance(x, Vec) and (w.ndim != 2 or w.shape[1] != x.width):
            raise ModelFormatError(
                f"shape mismatch: a weight of shape {list(w.shape)} cannot take {x.width} features"
            )
        out = self.matmul(x, w.T)
        return out if bias is None else self.add(out, bias)

    def add(self, a, b, alpha=1):
        """``a + alpha * b`` with broadcasting of one feature or a per-feature constant."""
        alpha = scalar(alpha)
        if not isinstance(a, Vec) and not isinstance(b, Vec):
            return _const(a) + _const(b) * alpha
        if isinstance(a, Vec) and isinstance(b, Vec):
            if a.rank != b.rank:
                raise Unsupported("mixing a [batch] tensor with a [batch, n] tensor")
            width = _broadcast(a.width, b.width)
            pairs = zip(_stretch(a.items, width), _stretch(b.items, width))
            return Vec([combine([p, q], [Fraction(1), alpha]) for p, q in pairs], a.rank)
        vec, items, values = self._with_const(a, b)
        if vec is a:
            return Vec([combine([p], [1], alpha * c) for p, c in zip(items, values)], vec.rank)
        return Vec([combine([p], [alpha], c) for p, c in zip(items, values)], vec.rank)

    def sub(self, a, b, alpha=1):
        """``a - alpha * b``."""
        return self.add(a, b, -scalar(alpha))

    def neg(self, a):
        """``-a``."""
        return self.mul(a, -1)

    def mul(self, a, b):
        """Product with a constant (scalar or per feature); two input tensors are refused."""
        if not isinstance(a, Vec) and not isinstance(b, Vec):
            return _const(a) * _const(b)
        if isinstance(a, Vec) and isinstance(b, Vec):
            raise Unsupported("the product of two input-dependent tensors is not piecewise-linear")
        vec, items, values = self._with_const(a, b)
        return Vec([combine([p], [c]) for p, c in zip(items, values)], vec.rank)

    def div(self, a, b):
        """Division by a nonzero constant (exact: ``x / 3`` is ``x * 1/3``)."""
        if isinstance(b, Vec):
            raise Unsupported("division by an input-dependent tensor is not piecewise-linear")
        divisor = _const(b)
        if any(v == 0 for v in divisor.ravel()):
            raise Unsupported("division by zero")
        return self.mul(a, 1 / divisor)

    def _with_const(self, a, b) -> tuple[Vec, list[Affine], list[Fraction]]:
        """The input tensor, its features and the constant's values, broadcast to one width."""
        vec, const = (a, b) if isinstance(a, Vec) else (b, a)
        c = _const(const)
        if c.ndim > vec.rank or (vec.rank == 2 and c.ndim == 2 and c.shape[0] != 1):
            raise Unsupported(f"a constant of shape {list(c.shape)} varies along the batch axis")
        if vec.rank == 1 and c.size != 1:
            raise Unsupported(f"a constant of shape {list(c.shape)} broadcasts a [batch] tensor")
        values = [scalar(v) for v in c.reshape(-1)]
        width = _broadcast(vec.width, len(values))
        return vec, _stretch(vec.items, width), _stretch(values, width)

    def concat(self, values: Sequence, axis: int, stack: bool = False):
        """Concatenate [batch, n] tensors (or stack [batch] tensors) along the feature axis."""
        if not any(isinstance(v, Vec) for v in values):
            import numpy as np

            return (np.stack if stack else np.concatenate)([_const(v) for v in values], axis=axis)
        rank = 1 if stack else 2
        if not all(isinstance(v, Vec) and v.rank == rank for v in values) or axis not in (1, -1):
            raise Unsupported(f"{'stack' if stack else 'concatenation'} along axis {axis} (only "
                              "the feature axis of input tensors)")
        return Vec([item for v in values for item in v.items])

    def index(self, value, key):
        """``value[key]`` for keys like ``[:, 0:1]``, ``[:, 0]``, ``[..., 1]``, ``[:, None]``."""
        if isinstance(value, (tuple, list)):
            return value[key]
        if not isinstance(value, Vec):
            return _const(value)[key]
        key = list(key) if isinstance(key, tuple) else [key]
        if sum(k is Ellipsis for k in key) > 1:
            raise Unsupported(f"index {key}")
        if any(k is Ellipsis for k in key):
            i = next(i for i, k in enumerate(key) if k is Ellipsis)
            fill = value.rank - (len(key) - 1 - sum(k is None for k in key))
            key[i : i + 1] = [slice(None)] * max(fill, 0)
        key += [slice(None)] * (value.rank - len([k for k in key if k is not None]))
        if value.rank == 1 and len(key) == 2 and _full(key[0]) and key[1] is None:
            return Vec(value.items, 2)
        if not _full(key[0]) or len(key) != value.rank:
            raise Unsupported(f"index {tuple(key)} (only features of [batch, n] tensors)")
        return value if value.rank == 1 else self.take(value, key[1], 1)

    def take(self, vec, which, axis: int):
        """Features ``which`` (an int drops the feature axis, a slice keeps it) along ``axis``."""
        if not isinstance(vec, Vec):
            key = [slice(None)] * _const(vec).ndim
            key[axis] = which
            return _const(vec)[tuple(key)]
        if vec.rank != 2 or axis % 2 != 1:
            if isinstance(which, slice) and _full(which):
                return vec
            raise Unsupported("indexing along the batch axis")
        if isinstance(which, slice):
            return Vec([vec.items[i] for i in range(*which.indices(vec.width))])
        if not isinstance(which, int) or not -vec.width <= which < vec.width:
            raise Unsupported(f"index {which!r} out of range for {vec.width} features")
        return Vec([vec.items[which]], 1)

    def reshape(self, value, shape: Sequence):
        """view/reshape that keeps one feature vector per batch row (the first dim is the batch)."""
        shape = list(shape)
        if not isinstance(value, Vec):
            if any(d is BATCH for d in shape):
                raise Unsupported("reshaping a constant by the batch size")
            return _const(value).reshape(shape)
        batchlike = bool(shape) and (shape[0] is BATCH or isinstance(shape[0], int))
        if len(shape) == 2 and batchlike and shape[1] in (value.width, -1):
            if value.rank == 2 or value.width == 1:
                return Vec(value.items, 2)
        if len(shape) == 1 and batchlike and value.width == 1:
            return Vec(value.items, 1)
        raise Unsupported(f"reshape of {value.width} features to {shape} mixes batch and features")

    def unsqueeze(self, value, axis: int):
        """Give a [batch] tensor a feature axis (``axis`` 1 or -1)."""
        if not isinstance(value, Vec):
            return _const(value).reshape(_insert(_const(value).shape, axis))
        if value.rank == 1 and axis in (1, -1):
            return Vec(value.items, 2)
        raise Unsupported(f"unsqueeze({axis}) of a rank-{value.rank} input tensor")

    def squeeze(self, value, axes=None):
        """Drop the feature axis of a [batch, 1] tensor (``axes`` None, [] or [1])."""
        axes = [] if axes is None else list(axes) if isinstance(axes, (list, tuple)) else [axes]
        if not isinstance(value, Vec):
            return _const(value).squeeze(tuple(axes) or None)
        if any(a not in (1, -1) for a in axes) or (axes and value.rank != 2):
            raise Unsupported(f"squeeze({axes}) of a rank-{value.rank} input tensor")
        return Vec(value.items, 1) if value.rank == 2 and value.width == 1 else value

    def flatten(self, value, start: int = 0):
        """torch.flatten from dim ``start``: the identity on [batch, n] for ``start`` 1."""
        if not isinstance(value, Vec):
            c = _const(value)
            return c.reshape(c.shape[:start] + (-1,)) if c.ndim else c.reshape(1)
        return Vec(value.items, 2) if start in (1, -1) else self.reshape(value, [-1])

    def transpose(self, value, axes=None, swap=None):
        """Transpose a constant (``.T``, ``permute``, ``transpose(d0, d1)``), never an input."""
        if isinstance(value, Vec):
            raise Unsupported("transposing an input tensor moves its batch axis")
        return _const(value).swapaxes(*swap) if swap else _const(value).transpose(axes)

    def size(self, value, dim=None):
        """``x.size()`` / ``x.shape``: the batch size is symbolic."""
        if not isinstance(value, Vec):
            shape = tuple(_const(value).shape)
        else:
            shape = (BATCH, value.width) if value.rank == 2 else (BATCH,)
        return shape if dim is None else shape[dim]

    # -- the result -----------------------------------------------------------------------------
    def finish(self, outputs: Sequence, names: Sequence[str] | None = None) -> Circuit:
        """The circuit whose outputs are the features of ``outputs`` (unused neurons dropped)."""
        items: list[Affine] = []
        for value in outputs:
            consts = () if isinstance(value, Vec) else _const(value).reshape(-1)
            items += value.items if isinstance(value, Vec) else [Affine(bias=v) for v in consts]
        defined = set(self.inputs) | {s[0] for s in self.steps}
        count = len(items)
        candidates = [list(names or ())] + [list(default_names(s, count)) for s in ("y", "out")]
        names = next((c for c in candidates if _fresh_names(c, count, defined)), candidates[2])
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
        try:
            assignments = tuple(
                Assignment(n, tuple((rename.get(s, s), c) for s, c in t.items()), b, a)
                for n, t, b, a in reversed(kept)
            )
            return Circuit(tuple(self.inputs), assignments, tuple(names))
        except InvalidCircuitError as exc:
            raise ModelFormatError(f"the imported network is not a valid circuit: {exc}") from None


def input_names_for(
    widths: Sequence[int], placeholders: Sequence[str], input_names: Sequence[str] | None
) -> list[list[str]]:
    """Names for each input tensor: ``x``/``x1..xn`` for one tensor, else the tensors' own names."""
    total = sum(widths)
    if input_names is None and len(widths) > 1:
        own = [n for p, w in zip(placeholders, widths) for n in default_names(p, w)]
        input_names = own if _fresh_names(own, total, set()) else None
    names = list(default_names("x", total) if input_names is None else input_names)
    if len(names) != total:
        raise ModelFormatError(f"{len(names)} input names given for a model with {total} inputs")
    starts = [sum(widths[:k]) for k in range(len(widths))]
    return [names[s : s + w] for s, w in zip(starts, widths)]


def _fresh_names(names: list, count: int, taken: set) -> bool:
    unique = len(set(names)) == len(names) == count
    return unique and all(isinstance(n, str) and _NAME.match(n) and n not in taken for n in names)


def raise_unsupported(problems: Sequence[str], what: str) -> None:
    """One :class:`UnsupportedLayerError` naming every unsupported node (no-op when none)."""
    if problems:
        raise UnsupportedLayerError(
            f"{what} has {len(problems)} unsupported operation(s): " + "; ".join(problems)
        )
