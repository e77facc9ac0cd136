"""Import an ONNX model (affine + ReLU/sigmoid operators, opset 7 on) into an exact circuit.

``onnx`` is imported lazily. Initializers and ``Constant`` nodes become exact rationals (a float32
is its exact binary value); the graph is walked with the shared
:class:`networks.tensors_to_circuit.Tracer`, so affine operators stay symbolic and neurons
``h1, h2, ...`` appear at ``Relu``/``Sigmoid``. Inputs may have any shape: a first dimension
that is symbolic (``"N"``, ``"batch"``) is the batch axis; a concrete shape such as VNN-COMP's
``[1, 1, 1, 5]`` is read as it is, one circuit input per element. Declared sizes are checked
against :class:`~networks.model_limits.ModelLimits` before anything is allocated; tensors stored
as external data are refused (reading them would open other files).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np

from networks.model_limits import ModelLimits, check_circuit, read_model_file, too_big
from networks.exact_tensors import (
    BATCH, Unsupported, Vec, exact_array, input_names_for, objects, raise_unsupported, scalar,
)
from networks.tensors_to_circuit import Tracer
from symbolic.circuit import Activation, Circuit
from symbolic.errors import ModelFormatError

_REAL = {1: "float", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
         9: "bool", 10: "float16", 11: "double", 12: "uint32", 13: "uint64", 16: "bfloat16"}


def load_onnx(
    path_or_bytes: str | os.PathLike | bytes,
    input_names: Sequence[str] | None = None,
    limits: ModelLimits | None = None,
    *,
    vnnlib_names: bool = False,
) -> Circuit:
    """The exact circuit of an ONNX model, given as a file path or the serialized bytes.

    One input tensor gives inputs ``x1..xn`` (``x`` when n == 1, elements in C order) unless
    ``input_names`` is given; several give each tensor's own name. Outputs are the graph's output
    names when each output tensor holds one value, else ``y1..ym`` (all output tensors' elements
    in order). ``vnnlib_names=True`` names them ``X_0..X_{n-1}`` and ``Y_0..Y_{m-1}`` instead
    (VNN-LIB's names: all input tensors' elements, then all output tensors', in C order). Every
    unsupported node is listed in one :class:`~symbolic.errors.UnsupportedLayerError`.
    """
    limits = limits or ModelLimits()
    if isinstance(path_or_bytes, (bytes, bytearray)):
        where, raw = "ONNX bytes", bytes(path_or_bytes)
        if len(raw) > limits.byte_cap(".onnx"):
            raise too_big(f"{where}: size (bytes) is", len(raw), limits.byte_cap(".onnx"),
                          "max_bytes")
    else:
        where, raw = str(path_or_bytes), read_model_file(path_or_bytes, limits)
    import onnx

    try:
        model = onnx.load_from_string(raw)
    except Exception as exc:  # noqa: BLE001 - protobuf DecodeError and friends
        detail = " ".join(str(exc).split())[:160]
        raise ModelFormatError(f"{where} is not an ONNX model (truncated or corrupt?): {detail}") \
            from None
    graph = model.graph
    if not graph.node or not graph.output or not graph.input:
        raise ModelFormatError(f"{where} is not an ONNX model: no graph nodes, inputs or outputs")
    if len(graph.node) > limits.max_nodes:
        raise too_big(f"{where}: graph nodes:", len(graph.node), limits.max_nodes, "max_nodes")
    _refuse_external_data(graph, where)
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # noqa: BLE001 - ValidationError
        detail = " ".join(str(exc).split())[:200]
        raise ModelFormatError(f"{where} is not a valid ONNX model: {detail}") from None

    tracer = Tracer(limits)
    env: dict[str, object] = {}
    for init in graph.initializer:
        env[init.name] = tensor_value(init, f"{where}: initializer {init.name}", tracer)
    inputs = [i for i in graph.input if i.name not in env]
    shapes = [_input_shape(value, where, limits) for value in inputs]
    widths = [math.prod(d for d in shape if d is not BATCH) for shape in shapes]
    idents = [_ident(i.name, k) for k, i in enumerate(inputs)]
    if vnnlib_names:
        if input_names is not None:
            raise ModelFormatError("give input names or vnnlib_names=True, not both")
        input_names = [f"X_{i}" for i in range(sum(widths))]
    names = input_names_for(widths, idents, input_names, limits)
    for value, group, shape in zip(inputs, names, shapes):
        env[value.name] = tracer.add_inputs(group, shape)

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
            raise type(exc)(f"{where}: {label}: {exc}") from None
        except (IndexError, KeyError, TypeError, ValueError, AttributeError) as exc:
            problems.append(f"{label}: unexpected inputs or attributes ({exc})")
            poisoned.update(node.output)
            continue
        env[node.output[0]] = result
    raise_unsupported(problems, where)
    missing = [o.name for o in graph.output if o.name not in env]
    if missing:
        raise ModelFormatError(f"{where}: no node makes the output(s) {', '.join(missing)}")
    outputs = [env[o.name] for o in graph.output]
    out_names = [o.name for o in graph.output]
    if vnnlib_names:
        count = sum(v.width if isinstance(v, Vec) else np.size(v) for v in outputs)
        out_names = [f"Y_{j}" for j in range(count)]
    try:
        circuit = tracer.finish(outputs, out_names)
    except ModelFormatError as exc:
        raise type(exc)(f"{where}: {exc}") from None
    check_circuit(circuit, where, limits)
    return circuit


def _refuse_external_data(graph, where: str) -> None:
    """Tensors stored outside the model file are never read (that would open other files)."""
    tensors = [(f"initializer {t.name}", t) for t in graph.initializer]
    tensors += [(f"sparse initializer {t.values.name}", t.values) for t in graph.sparse_initializer]
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                tensors.append((f"node {node.name or node.op_type} attribute {attr.name}", attr.t))
            tensors += [(f"node {node.name or node.op_type} attribute {attr.name}", t)
                        for t in attr.tensors]
    for label, tensor in tensors:
        if tensor.data_location == 1 or len(tensor.external_data):  # TensorProto.EXTERNAL
            raise ModelFormatError(
                f"{where}: {label} is stored as external data (another file); refusing to read "
                "it: save the model with its weights inside (onnx.save(..., "
                "save_as_external_data=False))"
            )


def tensor_value(tensor, what: str, tracer: Tracer):
    """An ONNX TensorProto as an exact array, its declared size checked before it is read."""
    from onnx import numpy_helper

    dims = [int(d) for d in tensor.dims]
    if any(d < 0 for d in dims):
        raise ModelFormatError(f"{what} has negative dimensions {dims}")
    if tensor.data_type not in _REAL:
        raise ModelFormatError(f"{what} has ONNX data type {tensor.data_type}, not a real number")
    tracer.charge(math.prod(dims), what)
    try:
        array = numpy_helper.to_array(tensor)
    except (ValueError, TypeError) as exc:
        raise ModelFormatError(f"{what} is corrupt: {exc}") from None
    if tensor.data_type == 16:  # bfloat16 (an ml_dtypes array): float32 holds it exactly
        array = array.astype("float32")
    return exact_array(array, what)


def _input_shape(value, where: str, limits: ModelLimits) -> tuple:
    """An input's declared shape: a symbolic first dimension is the batch axis."""
    if not value.type.HasField("tensor_type"):
        raise ModelFormatError(f"{where}: input {value.name} is not a tensor")
    if not value.type.tensor_type.HasField("shape"):
        raise ModelFormatError(f"{where}: input {value.name} has no declared shape")
    elem = value.type.tensor_type.elem_type
    if elem not in (1, 10, 11, 16):
        raise ModelFormatError(f"{where}: input {value.name} has ONNX type {elem}, not a float")
    dims = value.type.tensor_type.shape.dim
    shape = [d.dim_value if d.HasField("dim_value") else d.dim_param or "?" for d in dims]
    free = [k for k, d in enumerate(shape) if not isinstance(d, int)]
    if free and free != [0]:
        raise ModelFormatError(f"{where}: input {value.name} has shape {shape}: only the first "
                               "(batch) dimension may be symbolic")
    if any(isinstance(d, int) and d < 1 for d in shape):
        raise ModelFormatError(f"{where}: input {value.name} has an empty shape {shape}")
    width = math.prod(d for d in shape if isinstance(d, int))
    if width > limits.max_inputs:
        raise too_big(f"{where}: input {value.name} has shape {shape}, elements:", width,
                      limits.max_inputs, "max_inputs")
    return tuple(BATCH if k in free else d for k, d in enumerate(shape))


def _ident(name: str, k: int) -> str:
    return name if name.isidentifier() else f"x{k + 1}"


def _ints(value) -> list:
    """Integer entries of a constant (the batch size stays symbolic)."""
    if isinstance(value, Vec):
        raise Unsupported("an input-dependent shape or index")
    items = value.reshape(-1).tolist() if hasattr(value, "reshape") else list(value)
    return [v if v is BATCH else int(v) for v in items]


def _gemm(t: Tracer, args, attrs):
    a, b = args[0], args[1]
    if attrs.get("transA", 0):
        a = t.transpose(a)
    if attrs.get("transB", 0):
        b = t.transpose(b)
    out = t.matmul(a, b)
    alpha, beta = scalar(attrs.get("alpha", 1.0)), scalar(attrs.get("beta", 1.0))
    if alpha != 1:
        out = t.mul(out, alpha)
    if len(args) > 2 and args[2] is not None and beta != 0:
        out = t.add(out, args[2], beta)
    return out


def _constant(t: Tracer, args, attrs):
    if "value" in attrs:
        return tensor_value(attrs["value"], "Constant value", t)
    for key in ("value_float", "value_floats", "value_int", "value_ints"):
        if key in attrs:
            values = attrs[key] if isinstance(attrs[key], list) else [attrs[key]]
            t.charge(len(values), f"Constant {key}")
            array = exact_array(values, f"Constant {key}")
            return array if key.endswith("s") else array.reshape(())
    raise Unsupported(f"Constant with attributes {sorted(attrs)}")


def _shape(t: Tracer, args, attrs):
    shape = list(t.size(args[0]))
    start, end = attrs.get("start", 0), attrs.get("end", len(shape))
    return objects(shape[start:end], (len(shape[start:end]),))


def _reshape(t: Tracer, args, attrs):
    x, shape = args[0], _ints(args[1])
    current = t.size(x)  # ONNX: 0 copies the input's dimension (unless allowzero)
    if not attrs.get("allowzero", 0):
        shape = [current[i] if d == 0 and i < len(current) else d for i, d in enumerate(shape)]
    return t.reshape(x, shape)


def _axes(args, attrs) -> list[int]:
    if len(args) > 1 and args[1] is not None:
        return _ints(args[1])
    return list(attrs.get("axes", []))


def _slice(t: Tracer, args, attrs):
    x = args[0]
    if len(args) == 1:  # opset < 10: attributes
        starts, ends = list(attrs["starts"]), list(attrs["ends"])
        axes = list(attrs.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts, ends = _ints(args[1]), _ints(args[2])
        axes = _ints(args[3]) if len(args) > 3 and args[3] is not None else list(
            range(len(starts)))
        steps = _ints(args[4]) if len(args) > 4 and args[4] is not None else [1] * len(starts)
    for start, end, axis, step in zip(starts, ends, axes, steps):
        x = t.take(x, slice(start, end, step), axis)
    return x


def _gather(t: Tracer, args, attrs):
    x, index = args[0], args[1]
    if isinstance(index, Vec):
        raise Unsupported("Gather with input-dependent indices")
    axis = attrs.get("axis", 0)
    which = _ints(index)
    key = which[0] if index.ndim == 0 else objects(which, index.shape).astype(int)
    return t.take(x, key, axis)


def _dropout(t: Tracer, args, attrs):
    if len(args) >= 3 and args[2] is not None and any(args[2].ravel().tolist()):
        raise Unsupported("Dropout in training mode")
    return args[0]  # inference: the identity (no mask output)


_OPS = {
    "Gemm": _gemm,
    "MatMul": lambda t, a, k: t.matmul(a[0], a[1]),
    "Add": lambda t, a, k: t.add(a[0], a[1]),
    "Sub": lambda t, a, k: t.sub(a[0], a[1]),
    "Mul": lambda t, a, k: t.mul(a[0], a[1]),
    "Div": lambda t, a, k: t.div(a[0], a[1]),
    "Neg": lambda t, a, k: t.neg(a[0]),
    **{act.onnx_op: (lambda t, a, k, act=act: t.activate(a[0], act)) for act in Activation if act.onnx_op},
    "Identity": lambda t, a, k: a[0],
    "Dropout": _dropout,
    "Concat": lambda t, a, k: t.concat(a, k.get("axis", 1)),
    "Flatten": lambda t, a, k: t.flatten_2d(a[0], k.get("axis", 1)),
    "Constant": _constant,
    "Shape": _shape,
    "Reshape": _reshape,
    "Transpose": lambda t, a, k: t.transpose(a[0], k.get("perm")),
    "Unsqueeze": lambda t, a, k: t.unsqueeze(a[0], _axes(a, k)),
    "Squeeze": lambda t, a, k: t.squeeze(a[0], _axes(a, k)),
    "Slice": _slice,
    "Gather": _gather,
}
SUPPORTED_OPS = tuple(sorted(_OPS))
