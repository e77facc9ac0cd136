"""Evaluate a feed-forward ONNX graph exactly, in rationals (the benchmark's independent judge).

Supports the operators of the published VNN-COMP and bench networks: ``Constant``, ``Identity``,
``Flatten``, ``Reshape``, ``Squeeze``, ``Unsqueeze``, ``Sub``/``Add``/``Mul``/``Div`` (elementwise,
numpy broadcasting), ``Neg``, ``MatMul``, ``Gemm`` (``alpha``, ``beta``, ``transA``, ``transB``)
and ``Relu``. Every float32 initializer becomes the exact rational it denotes; tensors are numpy
object arrays of :class:`fractions.Fraction`, so nothing is rounded. Reads the file with the
``onnx`` package only (never onnxruntime, never unpickling).

>>> import numpy as np
>>> net = ExactOnnx.from_layers([(np.array([[1.0, -1.0], [0.5, 0.0]], np.float32), np.zeros(2, np.float32)),
...                              (np.array([[1.0, 1.0]], np.float32), np.array([0.25], np.float32))])
>>> net.evaluate([Fraction(1, 3), Fraction(1)])
[Fraction(5, 12)]
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

SUPPORTED = {"Constant", "Identity", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Sub", "Add", "Mul",
             "Div", "Neg", "MatMul", "Gemm", "Relu"}


def _exact(array: np.ndarray) -> np.ndarray:
    """A numeric array as an object array of exact Fractions (float32 -> its binary value)."""
    flat = [v if isinstance(v, Fraction) else Fraction(float(v)) if isinstance(v, (float, np.floating))
            else Fraction(int(v)) for v in np.asarray(array).ravel()]
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(np.asarray(array).shape)


def _relu(array: np.ndarray) -> np.ndarray:
    out = np.empty(array.shape, dtype=object)
    out.ravel()[:] = [v if v > 0 else Fraction(0) for v in array.ravel()]
    return out


class ExactOnnx:
    """An ONNX graph ready for exact evaluation (constants converted once)."""

    def __init__(self, nodes: list, constants: dict[str, np.ndarray], input_name: str,
                 input_shape: tuple[int, ...], output_names: list[str]):
        self.nodes = nodes
        self.constants = constants
        self.input_name = input_name
        self.input_shape = input_shape
        self.output_names = output_names

    @classmethod
    def load(cls, path: str | Path) -> "ExactOnnx":
        """Read ``path``; ValueError listing every unsupported operator at once."""
        import onnx
        from onnx import numpy_helper

        model = onnx.load(str(path))
        graph = model.graph
        unsupported = sorted({n.op_type for n in graph.node} - SUPPORTED)
        if unsupported:
            raise ValueError(f"{path}: unsupported ONNX operator(s): {', '.join(unsupported)}")
        constants = {t.name: _exact(numpy_helper.to_array(t)) for t in graph.initializer}
        nodes = []
        for node in graph.node:
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            if node.op_type == "Constant":
                constants[node.output[0]] = _exact(numpy_helper.to_array(attrs["value"]))
                continue
            nodes.append((node.op_type, list(node.input), list(node.output), attrs))
        free = [i for i in graph.input if i.name not in constants]
        if len(free) != 1:
            raise ValueError(f"{path}: expected one network input, found {[i.name for i in free]}")
        dims = tuple(max(1, d.dim_value) for d in free[0].type.tensor_type.shape.dim)
        return cls(nodes, constants, free[0].name, dims, [o.name for o in graph.output])

    @classmethod
    def from_layers(cls, layers: Sequence[tuple[np.ndarray, np.ndarray]]) -> "ExactOnnx":
        """A dense MLP ``[(W [out, in], b), ...]`` with ReLU after every layer but the last."""
        nodes, constants, current = [], {}, "x"
        for k, (w, b) in enumerate(layers):
            constants[f"W{k}"], constants[f"b{k}"] = _exact(w), _exact(b)
            out = f"g{k}"
            nodes.append(("Gemm", [current, f"W{k}", f"b{k}"], [out], {"transB": 1}))
            current = out
            if k < len(layers) - 1:
                nodes.append(("Relu", [out], [f"r{k}"], {}))
                current = f"r{k}"
        return cls(nodes, constants, "x", (1, int(np.asarray(layers[0][0]).shape[1])), [current])

    def evaluate(self, inputs: Sequence[Fraction]) -> list[Fraction]:
        """The flattened outputs (all graph outputs in order) at the flattened ``inputs``."""
        size = int(np.prod(self.input_shape))
        if len(inputs) != size:
            raise ValueError(f"the network takes {size} inputs, got {len(inputs)}")
        values = dict(self.constants)
        values[self.input_name] = _exact(np.array([Fraction(v) for v in inputs], dtype=object)).reshape(
            self.input_shape)
        for op, ins, outs, attrs in self.nodes:
            args = [values[i] if i else None for i in ins]
            values[outs[0]] = _apply(op, args, attrs)
        out: list[Fraction] = []
        for name in self.output_names:
            out.extend(values[name].ravel().tolist())
        return out


def _apply(op: str, args: list, attrs: dict) -> np.ndarray:
    x = args[0]
    if op == "Identity":
        return x
    if op == "Relu":
        return _relu(x)
    if op == "Neg":
        return -x
    if op in ("Sub", "Add", "Mul", "Div"):
        a, b = np.asarray(x, dtype=object), np.asarray(args[1], dtype=object)
        return {"Sub": np.subtract, "Add": np.add, "Mul": np.multiply, "Div": np.divide}[op](a, b)
    if op == "Flatten":
        axis = attrs.get("axis", 1)
        axis = axis + x.ndim if axis < 0 else axis
        lead = int(np.prod(x.shape[:axis])) if axis else 1
        return x.reshape(lead, -1)
    if op == "Reshape":
        shape = [int(s) for s in args[1].ravel()]
        shape = [x.shape[i] if s == 0 and not attrs.get("allowzero") else s for i, s in enumerate(shape)]
        return x.reshape(shape)
    if op in ("Squeeze", "Unsqueeze"):
        axes = attrs.get("axes")
        if axes is None and len(args) > 1 and args[1] is not None:
            axes = [int(a) for a in args[1].ravel()]
        if op == "Squeeze":
            return np.squeeze(x, axis=tuple(axes)) if axes else np.squeeze(x)
        out = x
        for axis in sorted(a + out.ndim + 1 if a < 0 else a for a in axes):
            out = np.expand_dims(out, axis)
        return out
    if op == "MatMul":
        return np.matmul(x, args[1])
    if op == "Gemm":
        a = x.T if attrs.get("transA") else x
        b = args[1].T if attrs.get("transB") else args[1]
        alpha, beta = (Fraction(float(np.float32(attrs.get(k, 1.0)))) for k in ("alpha", "beta"))
        out = np.matmul(a, b)
        out = out * alpha if alpha != 1 else out
        if len(args) > 2 and args[2] is not None:
            out = out + (args[2] * beta if beta != 1 else args[2])
        return out
    raise ValueError(f"unsupported ONNX operator {op}")  # excluded by load(); kept for from_layers misuse
