"""Import an ONNX model (affine + ReLU/sigmoid operators) into an exact circuit.

``onnx`` is imported lazily. Initializers and ``Constant`` nodes become exact rationals (a float32
is its exact binary value); the graph is walked with the shared
:class:`networks.model_files.Tracer`, so affine operators stay symbolic and neurons ``h1, h2, ...``
appear at ``Relu``/``Sigmoid``. Outputs keep the graph's output names when they are identifiers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from networks.model_files import (
    Tracer, Unsupported, Vec, exact_array, input_names_for, raise_unsupported, scalar,
)
from symbolic.circuit import Activation, Circuit
from symbolic.errors import ModelFormatError

def load_onnx(
    path_or_bytes: str | os.PathLike | bytes, input_names: Sequence[str] | None = None
) -> Circuit:
    """The exact circuit of an ONNX model, given as a file path or the serialized bytes.

    The graph input(s) must have shape [1, n] or [batch, n]; one input gives ``x1..xn``
    (``x`` when n == 1) unless ``input_names`` is given. Every unsupported node is listed in one
    :class:`~symbolic.errors.UnsupportedLayerError`.
    """
    import onnx
    from onnx import numpy_helper

    where = "ONNX bytes" if isinstance(path_or_bytes, (bytes, bytearray)) else str(path_or_bytes)
    if isinstance(path_or_bytes, (bytes, bytearray)):
        raw = bytes(path_or_bytes)
    else:
        try:
            raw = Path(path_or_bytes).read_bytes()
        except OSError as exc:
            raise ModelFormatError(f"cannot read {where}: {exc.strerror or exc}") from None
    try:
        model = onnx.load_from_string(raw)
    except Exception as exc:  # noqa: BLE001 - protobuf DecodeError and friends
        raise ModelFormatError(f"{where} is not an ONNX model (truncated or corrupt?): {exc}") \
            from None
    graph = model.graph
    if not graph.node or not graph.output or not graph.input:
        raise ModelFormatError(f"{where} is not an ONNX model: no graph nodes, inputs or outputs")
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # noqa: BLE001 - ValidationError
        detail = " ".join(str(exc).split())[:200]
        raise ModelFormatError(f"{where} is not a valid ONNX model: {detail}") from None

    env: dict[str, object] = {}
    for init in graph.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL:
            raise ModelFormatError(f"{where}: initializer {init.name} uses external data")
        label = f"{where}: initializer {init.name}"
        env[init.name] = exact_array(numpy_helper.to_array(init), label)
    tracer = Tracer()
    inputs = [i for i in graph.input if i.name not in env]
    widths, ranks = [], []
    for value in inputs:
        dims = value.type.tensor_type.shape.dim
        if len(dims) not in (1, 2) or (len(dims) == 2 and not dims[1].HasField("dim_value")):
            shape = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in dims]
            raise ModelFormatError(f"{where}: input {value.name} has shape {shape}, not [batch, n]")
        widths.append(dims[1].dim_value if len(dims) == 2 else 1)
        ranks.append(len(dims))
    names = input_names_for(widths, [_ident(i.name, k) for k, i in enumerate(inputs)], input_names)
    for value, group, rank in zip(inputs, names, ranks):
        env[value.name] = tracer.add_inputs(group, rank)

    problems: list[str] = []
    poisoned: set[str] = set()
    for k, node in enumerate(graph.node):
        label = f"{node.name or f'node {k}'} ({node.op_type})"
        handler = _OPS.get(node.op_type) if node.domain in ("", "ai.onnx") else None
        if handler is None:
            problems.append(label)
            poisoned.update(node.output)
            continue
        if any(name in poisoned for name in node.input):
            poisoned.update(node.output)
            continue
        missing = [name for name in node.input if name and name not in env]
        if missing:
            problems.append(f"{label}: reads {', '.join(missing)} (no supported node makes it)")
            poisoned.update(node.output)
            continue
        args = [env[name] if name else None for name in node.input]
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        try:
            result = handler(tracer, args, attrs)
        except Unsupported as exc:
            problems.append(f"{label}: {exc}")
            poisoned.update(node.output)
            continue
        except ModelFormatError as exc:
            raise ModelFormatError(f"{where}: {label}: {exc}") from None
        except (IndexError, KeyError, TypeError, ValueError, AttributeError) as exc:
            problems.append(f"{label}: unexpected inputs or attributes ({exc})")
            poisoned.update(node.output)
            continue
        env[node.output[0]] = result
    raise_unsupported(problems, where)
    outputs = [env[o.name] for o in graph.output]
    return tracer.finish(outputs, [o.name for o in graph.output])


def _ident(name: str, k: int) -> str:
    return name if name.isidentifier() else f"x{k + 1}"


def _gemm(t: Tracer, args, attrs):
    a, b = args[0], args[1]
    if attrs.get("transA", 0):
        if isinstance(a, Vec):
            raise Unsupported("transA of an input tensor")
        a = a.T
    if attrs.get("transB", 0):
        if isinstance(b, Vec):
            raise Unsupported("transB of an input tensor")
        b = b.T
    out = t.matmul(a, b)
    alpha, beta = scalar(attrs.get("alpha", 1.0)), scalar(attrs.get("beta", 1.0))
    if alpha != 1:
        out = t.mul(out, alpha)
    if len(args) > 2 and args[2] is not None:
        out = t.add(out, t.mul(args[2], beta))
    return out


def _constant(t: Tracer, args, attrs):
    from onnx import numpy_helper

    if "value" in attrs:
        return exact_array(numpy_helper.to_array(attrs["value"]), "Constant value")
    for key in ("value_float", "value_floats", "value_int", "value_ints"):
        if key in attrs:
            return exact_array(attrs[key], f"Constant {key}")
    raise Unsupported(f"Constant with attributes {sorted(attrs)}")


def _ints(value) -> list[int]:
    return [int(v) for v in value.reshape(-1)]


def _flatten(t: Tracer, args, attrs):
    x, axis = args[0], attrs.get("axis", 1)
    if isinstance(x, Vec):  # [batch, n] -> [batch, n]; [batch] -> [batch, 1]
        ok = axis == 1 or (axis == -1 and x.rank == 2)
        return t.flatten(x, 1) if ok else _refuse(f"Flatten(axis={axis}) mixes batch and features")
    lead = 1
    for d in x.shape[:axis]:
        lead *= d
    return x.reshape(lead, -1)


def _refuse(reason: str):
    raise Unsupported(reason)


def _reshape(t: Tracer, args, attrs):
    x, shape = args[0], _ints(args[1])
    current = t.size(x)  # ONNX: 0 copies the input's dimension (BATCH for the batch axis)
    shape = [current[i] if d == 0 and i < len(current) else d for i, d in enumerate(shape)]
    return t.reshape(x, shape)


def _axes(args, attrs) -> list[int]:
    if len(args) > 1 and args[1] is not None:
        return _ints(args[1])
    return list(attrs.get("axes", []))


def _unsqueeze(t: Tracer, args, attrs):
    x = args[0]
    for axis in sorted(_axes(args, attrs)):
        x = t.unsqueeze(x, axis)
    return x


def _slice(t: Tracer, args, attrs):
    x = args[0]
    starts, ends = _ints(args[1]), _ints(args[2])
    axes = _ints(args[3]) if len(args) > 3 and args[3] is not None else list(range(len(starts)))
    steps = _ints(args[4]) if len(args) > 4 and args[4] is not None else [1] * len(starts)
    for start, end, axis, step in zip(starts, ends, axes, steps):
        x = t.take(x, slice(start, end, step), axis)
    return x


def _gather(t: Tracer, args, attrs):
    x, index = args[0], args[1]
    if isinstance(index, Vec) or index.ndim > 1:
        raise Unsupported("Gather with input-dependent or multi-dimensional indices")
    axis = attrs.get("axis", 0)
    if index.ndim == 0:
        return t.take(x, int(index), axis)
    if isinstance(x, Vec):
        return t.concat([t.take(x, slice(int(i), int(i) + 1 or None), axis) for i in index], 1)
    return x.take([int(i) for i in index], axis=axis)


_OPS = {
    "Gemm": _gemm,
    "MatMul": lambda t, a, k: t.matmul(a[0], a[1]),
    "Add": lambda t, a, k: t.add(a[0], a[1]),
    "Sub": lambda t, a, k: t.sub(a[0], a[1]),
    "Mul": lambda t, a, k: t.mul(a[0], a[1]),
    "Div": lambda t, a, k: t.div(a[0], a[1]),
    "Neg": lambda t, a, k: t.neg(a[0]),
    "Relu": lambda t, a, k: t.activate(a[0], Activation.RELU),
    "Sigmoid": lambda t, a, k: t.activate(a[0], Activation.SIGMOID),
    "Identity": lambda t, a, k: a[0],
    "Dropout": lambda t, a, k: a[0] if len(a) < 3 or a[2] is None or not a[2].any()
    else _refuse("Dropout in training mode"),  # inference: the identity (no mask output)
    "Concat": lambda t, a, k: t.concat(a, k.get("axis", 1)),
    "Flatten": _flatten,
    "Constant": _constant,
    "Reshape": _reshape,
    "Unsqueeze": _unsqueeze,
    "Squeeze": lambda t, a, k: t.squeeze(a[0], _axes(a, k)),
    "Slice": _slice,
    "Gather": _gather,
}
SUPPORTED_OPS = tuple(sorted(_OPS))
