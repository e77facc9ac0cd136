"""Write a circuit as an ONNX model whose weights are exactly the circuit's (float32, else float64).

ONNX tensors hold binary floating-point numbers, so a weight such as 1/3 has no exact ONNX form.
:func:`circuit_to_onnx` checks every weight and bias: when all are float32 values the model is
float32, when all are float64 values it is float64 (``DOUBLE`` tensors, input and output too), and
otherwise it refuses with the offending weights named, unless ``allow_rounding`` is given, in which
case each weight is rounded to the nearest float64 and the rounded weights are listed in
:attr:`OnnxExport.rounded` (a warning the caller must show). ``onnx`` is imported lazily.

The graph: input ``X`` of shape ``[1, n]``; the assignments in dependency levels, each level one
``MatMul`` + ``Add`` (+ ``Relu``/``Sigmoid``) per activation, reading the concatenation of the
inputs and every earlier level (so skip connections need nothing special); output ``Y`` of shape
``[1, m]`` selects the outputs with a 0/1 matrix.

>>> from symbolic.circuit import from_layers
>>> export = circuit_to_onnx(from_layers([([[1], [-1]], None), ([[1, -1]], None)]))
>>> export.dtype, export.rounded, len(export.model) > 100
('float32', (), True)
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

from symbolic.circuit import Activation, Circuit
from symbolic.errors import InvalidCircuitError, ModelFormatError
from symbolic.exact import fraction_of

OPSET = 13
DTYPES = ("auto", "float32", "float64")


@dataclasses.dataclass(frozen=True)
class OnnxExport:
    """The serialized model, its float type, and the weights rounded (empty unless allowed)."""

    model: bytes
    dtype: str
    rounded: tuple[str, ...] = ()


def representable(value: Fraction, dtype: str) -> bool:
    """Whether ``value`` is exactly a float32 (``dtype='float32'``) or float64 value.

    >>> representable(Fraction(1, 4), 'float32'), representable(Fraction(1, 3), 'float64')
    (True, False)
    >>> representable(Fraction(2**24 + 1), 'float32'), representable(Fraction(2**24 + 1), 'float64')
    (False, True)
    """
    import numpy as np

    try:
        nearest = float(value)
    except OverflowError:
        return False
    if dtype == "float32":
        with np.errstate(over="ignore"):
            nearest = float(np.float32(nearest))
    return math.isfinite(nearest) and Fraction(nearest) == value


def _weights(circuit: Circuit) -> list[tuple[str, Fraction]]:
    out = []
    for a in circuit.assignments:
        for source, coeff in a.terms:
            out.append((f"weight of {source} in {a.name}", fraction_of(coeff)))
        out.append((f"bias of {a.name}", fraction_of(a.bias)))
    return out


def choose_dtype(circuit: Circuit, dtype: str = "auto", allow_rounding: bool = False) -> tuple[str, tuple[str, ...]]:
    """The float type that holds every weight exactly, and the weights that must be rounded."""
    if dtype not in DTYPES:
        raise ModelFormatError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if circuit.parameters:
        raise InvalidCircuitError(f"the circuit has symbolic weights ({', '.join(map(str, circuit.parameters))}); "
                                  "ONNX needs numbers")
    weights = _weights(circuit)
    for candidate in (("float32", "float64") if dtype == "auto" else (dtype,)):
        bad = [(what, v) for what, v in weights if not representable(v, candidate)]
        if not bad:
            return candidate, ()
    if not allow_rounding:
        shown = "; ".join(f"{what} = {v}" for what, v in bad[:5]) + ("; ..." if len(bad) > 5 else "")
        raise ModelFormatError(f"{len(bad)} weight(s) are not exactly representable in {candidate}, so ONNX "
                               f"cannot hold them: {shown} (allow rounding to write the nearest float64 values)")
    rounded = tuple(f"{what} = {v} written as {float(v)!r}" for what, v in bad)
    return "float64" if dtype == "auto" else dtype, rounded


def _levels(circuit: Circuit) -> list[list]:
    level = dict.fromkeys(circuit.inputs, 0)
    out: list[list] = []
    for a in circuit.assignments:
        level[a.name] = 1 + max((level[s] for s in a.sources), default=0)
        while len(out) < level[a.name]:
            out.append([])
        out[level[a.name] - 1].append(a)
    return out


def circuit_to_onnx(circuit: Circuit, dtype: str = "auto", allow_rounding: bool = False,
                    doc: str = "") -> OnnxExport:
    """The ONNX model of ``circuit`` (see the module docstring); ``doc`` becomes its doc string."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    chosen, rounded = choose_dtype(circuit, dtype, allow_rounding)
    np_type = np.float32 if chosen == "float32" else np.float64
    elem = TensorProto.FLOAT if chosen == "float32" else TensorProto.DOUBLE
    nodes, inits = [], []

    def constant(name: str, array) -> str:
        inits.append(numpy_helper.from_array(np.asarray(array, dtype=np_type), name))
        return name

    state, names = "X", list(circuit.inputs)
    for k, level in enumerate(_levels(circuit), start=1):
        parts, index, added = [state], {n: i for i, n in enumerate(names)}, []
        for activation in Activation:
            group = [a for a in level if a.activation is activation]
            if not group:
                continue
            stem = f"L{k}_{activation.value}"
            weight = np.zeros((len(names), len(group)), dtype=np_type)
            for j, a in enumerate(group):
                for source, coeff in a.terms:
                    weight[index[source], j] = float(fraction_of(coeff))
            bias = [float(fraction_of(a.bias)) for a in group]
            nodes.append(helper.make_node("MatMul", [state, constant(f"{stem}_W", weight)], [f"{stem}_mm"]))
            nodes.append(helper.make_node("Add", [f"{stem}_mm", constant(f"{stem}_B", bias)], [f"{stem}_pre"]))
            out = f"{stem}_pre"
            if activation.onnx_op is not None:
                out = f"{stem}_out"
                nodes.append(helper.make_node(activation.onnx_op, [f"{stem}_pre"], [out]))
            parts.append(out)
            added += [a.name for a in group]
        names += added
        state = f"S{k}"
        nodes.append(helper.make_node("Concat", parts, [state], axis=1))
    select = np.zeros((len(names), len(circuit.outputs)), dtype=np_type)
    for j, name in enumerate(circuit.outputs):
        select[names.index(name), j] = 1
    nodes.append(helper.make_node("MatMul", [state, constant("select_outputs", select)], ["Y"]))
    graph = helper.make_graph(
        nodes, "mathcircuits", [helper.make_tensor_value_info("X", elem, [1, len(circuit.inputs)])],
        [helper.make_tensor_value_info("Y", elem, [1, len(circuit.outputs)])], inits)
    model = helper.make_model(graph, producer_name="mathcircuits", opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    model.doc_string = doc or f"exact weights ({chosen}); inputs {', '.join(circuit.inputs)}; outputs " \
                              f"{', '.join(circuit.outputs)}"
    onnx.checker.check_model(model)
    return OnnxExport(model.SerializeToString(), chosen, rounded)
