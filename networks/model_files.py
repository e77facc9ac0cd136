"""Open a model file by its suffix, within limits, without running code from it.

:func:`load_model` dispatches on the suffix; ``.json`` files never import torch or onnx, and
``.pt2`` files are read without torch. No loader unpickles anything it has not checked: ``.pt``
goes through ``torch.load(weights_only=True)`` on an archive rebuilt from checked members,
``.pt2`` through our own reader of the archive's JSON and raw tensor bytes (archives with
pickled weights are refused), ``.onnx`` through protobuf (external data refused). See
docs/model-files.md for the formats, the limits and how to raise them.

>>> from symbolic.circuit import from_layers
>>> print(vnnlib_named(from_layers([([[1, -1]], None), ([[2]], [1])])))
inputs: X_0, X_1
h1_1 = R(X_0 - X_1)
Y_0 = 2*h1_1 + 1
outputs: Y_0
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from networks.model_limits import ModelLimits, check_circuit, limits_or_default
from symbolic.circuit import Activation, Assignment, Circuit
from symbolic.errors import InvalidCircuitError, ModelFormatError

SUFFIXES = {
    ".json": "JSON weights (docs/weights-format.md)",
    ".pt": "torch state_dict",
    ".pth": "torch state_dict",
    ".pt2": "torch.export program",
    ".onnx": "ONNX model",
}
_VNNLIB = re.compile(r"^[XY]_\d+$")


def load_model(
    path: str | os.PathLike,
    input_names: Sequence[str] | None = None,
    architecture=None,
    *,
    vnnlib_names: bool = False,
    max_bytes: int | None = None,
    limits: ModelLimits | None = None,
) -> Circuit:
    """The exact circuit in the model file ``path``, chosen by suffix (see ``SUFFIXES``).

    ``architecture`` (an ``nn.Module``) only applies to ``.pt``/``.pth`` state dicts.
    ``vnnlib_names=True`` names the inputs ``X_0..X_{n-1}`` and the outputs ``Y_0..Y_{m-1}``
    (every input tensor's elements, then every output tensor's, flattened in C order: the names
    VNN-LIB properties use); it cannot be combined with ``input_names``. ``max_bytes`` raises
    (or lowers) the size cap of the file, whose default per suffix is
    ``networks.model_limits.MAX_BYTES``; ``limits`` sets every cap at once. Every problem is a
    :class:`~symbolic.errors.ModelFormatError` (or ``UnsupportedLayerError``) with one line.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        known = ", ".join(f"{s} ({d})" for s, d in SUFFIXES.items())
        raise ModelFormatError(f"{path}: unknown model file suffix {suffix!r}; supported: {known}")
    if architecture is not None and suffix not in (".pt", ".pth"):
        raise ModelFormatError(f"{path}: architecture= only applies to .pt/.pth state dicts")
    if vnnlib_names and input_names is not None:
        raise ModelFormatError("give input names or vnnlib_names=True, not both")
    limits = limits_or_default(limits, max_bytes)
    circuit = _load(path, suffix, input_names, architecture, limits, vnnlib_names)
    check_circuit(circuit, str(path), limits)
    native = suffix == ".onnx"  # the ONNX importer names X_i/Y_j as it builds the circuit
    return vnnlib_named(circuit) if vnnlib_names and not native else circuit


def _load(path, suffix: str, input_names, architecture, limits: ModelLimits, vnnlib_names: bool):
    if suffix == ".json":
        from networks import json_to_circuit

        return json_to_circuit.load(path, input_names, limits=limits)
    if suffix == ".pt2":
        from networks import pt2_to_circuit

        return pt2_to_circuit.load_pt2(path, input_names, limits)
    try:
        if suffix == ".onnx":
            from networks import onnx_to_circuit

            return onnx_to_circuit.load_onnx(Path(path), input_names, limits,
                                             vnnlib_names=vnnlib_names)
        from networks import pt_to_circuit

        return pt_to_circuit.load_pt(path, architecture, input_names, limits)
    except ModuleNotFoundError as exc:
        raise ModelFormatError(
            f"{path}: reading {suffix} files needs the optional package {exc.name!r} "
            "(pip install 'mathcircuits[torch,onnx]')"
        ) from None


def vnnlib_named(circuit: Circuit) -> Circuit:
    """The same function with inputs ``X_0..`` and outputs ``Y_0..`` (VNN-LIB's names).

    Inner names that look like ``X_i``/``Y_j`` are renamed out of the way; an output that is an
    input, or that is listed twice, becomes a linear copy.
    """
    inputs = [f"X_{i}" for i in range(len(circuit.inputs))]
    outputs = [f"Y_{j}" for j in range(len(circuit.outputs))]
    mapping = dict(zip(circuit.inputs, inputs))
    assigned = {a.name for a in circuit.assignments}
    copies: list[tuple[str, str]] = []
    for name, new in zip(circuit.outputs, outputs):
        if name in assigned and name not in mapping:
            mapping[name] = new
        else:
            copies.append((new, name))
    taken = set(mapping.values()) | assigned | set(outputs)
    count = 0
    for a in circuit.assignments:
        if a.name not in mapping and _VNNLIB.match(a.name):
            count += 1
            while f"h{count}" in taken:
                count += 1
            mapping[a.name] = f"h{count}"
            taken.add(f"h{count}")

    def r(name: str) -> str:
        return mapping.get(name, name)

    steps = [Assignment(r(a.name), tuple((r(s), c) for s, c in a.terms), a.bias, a.activation)
             for a in circuit.assignments]
    steps += [Assignment(new, ((r(old), 1),), 0, Activation.LINEAR) for new, old in copies]
    try:
        return Circuit(tuple(inputs), tuple(steps), tuple(outputs))
    except InvalidCircuitError as exc:  # pragma: no cover - the renaming keeps names distinct
        raise ModelFormatError(f"cannot use VNN-LIB names: {exc}") from None
