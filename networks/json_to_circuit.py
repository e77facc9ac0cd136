"""Read and write networks as JSON weights files, exactly and without torch.

Two shapes are read. A *dense* file lists layers, ``{"layers": [{"W": [[...]], "b": [...]}, ...]}``
with ``W`` of shape [out, in]; a *graph* file (``"format": "mathcircuits-circuit"``) lists named
assignments and so can express skip connections and concatenation. Every number becomes an exact
rational: a JSON number is the IEEE double it denotes (``0.1`` is 3602879701896397/2**55), a JSON
string is an exact rational ``"p/q"`` or an exact decimal (``"0.1"`` is 1/10).

>>> c = loads('{"layers": [{"W": [[1], [-1]]}, {"W": [["1", "-1"]]}]}')
>>> c.to_expr()
-R(-x) + R(x)
>>> loads(dumps(c)) == c
True
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from fractions import Fraction

from networks.model_limits import ModelLimits, read_model_file, too_big
from symbolic.atomic import write_text_atomic
from symbolic.circuit import Activation, Assignment, Circuit, default_names, from_layers
from symbolic.errors import InvalidCircuitError, ModelFormatError
from symbolic.exact import fraction_of

FORMAT = "mathcircuits-circuit"
VERSION = 1
ACTIVATIONS = {a.value: a for a in Activation}
_DENSE_KEYS = {"layers", "activations", "inputs", "outputs", "metadata"}
_GRAPH_KEYS = {"format", "version", "inputs", "assignments", "outputs", "metadata"}
_DECIMAL = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)(?:[eE]([+-]?\d+))?\s*")
_RATIO = re.compile(r"\s*[+-]?\d+\s*/\s*\d+\s*")
_MAX_TEXT = 4000


def loads(
    text: str | bytes, input_names: Sequence[str] | None = None, *,
    limits: ModelLimits | None = None,
) -> Circuit:
    """The circuit described by JSON ``text`` (dense or graph shape).

    ``input_names`` renames the inputs (its length must match the input width). The text's
    size, the number of weights and neurons and the depth are checked against ``limits``
    (:class:`~networks.model_limits.ModelLimits`) before the numbers are converted.
    """
    return loads_with_metadata(text, input_names, limits=limits)[0]


def loads_with_metadata(
    text: str | bytes, input_names: Sequence[str] | None = None, *,
    limits: ModelLimits | None = None,
) -> tuple[Circuit, dict]:
    """Like :func:`loads`, also returning the ``metadata`` dict (plus unknown top-level keys)."""
    limits = limits or ModelLimits()
    if len(text) > limits.byte_cap(".json"):
        raise too_big("JSON text: size is", len(text), limits.byte_cap(".json"), "max_bytes")
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ModelFormatError(f"not a JSON weights file: not UTF-8 ({exc.reason})") from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except ModelFormatError:
        raise
    except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
        raise ModelFormatError(f"not valid JSON (truncated or corrupt?): {exc}") from None
    except RecursionError:
        raise ModelFormatError("not a JSON weights file: nesting is too deep") from None
    if not isinstance(data, dict):
        raise ModelFormatError(
            f"a JSON weights file must hold an object, got {type(data).__name__}"
        )
    if "format" in data:
        if data["format"] != FORMAT:
            raise ModelFormatError(
                f"unknown format {data['format']!r}: expected {FORMAT!r} or a dense "
                "{'layers': [...]} file"
            )
        circuit, known = _graph(data, limits), _GRAPH_KEYS
    elif "layers" in data:
        circuit, known = _dense(data, limits), _DENSE_KEYS
    else:
        raise ModelFormatError(
            "a JSON weights file needs a 'layers' list (dense) or "
            f"'format': {FORMAT!r} with 'assignments' (graph); found keys {sorted(data)}"
        )
    metadata = data.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ModelFormatError(f"'metadata' must be an object, got {type(metadata).__name__}")
    metadata = {k: v for k, v in data.items() if k not in known} | metadata
    if input_names is not None:
        circuit = _rename_inputs(circuit, input_names)
    return circuit, metadata


def load(
    path: str | os.PathLike, input_names: Sequence[str] | None = None, *,
    limits: ModelLimits | None = None,
) -> Circuit:
    """The circuit in the JSON weights file at ``path`` (a regular file within ``limits``)."""
    return load_with_metadata(path, input_names, limits=limits)[0]


def load_with_metadata(
    path: str | os.PathLike, input_names: Sequence[str] | None = None, *,
    limits: ModelLimits | None = None,
) -> tuple[Circuit, dict]:
    """The circuit in the file at ``path`` and the file's metadata dict."""
    raw = read_model_file(path, limits)
    try:
        return loads_with_metadata(raw, input_names, limits=limits)
    except ModelFormatError as exc:
        raise type(exc)(f"{path}: {exc}") from None


def dumps(circuit: Circuit, metadata: Mapping | None = None) -> str:
    """The graph-format JSON text of ``circuit``; every coefficient is an exact string ``"p/q"``."""
    assignments = []
    for a in circuit.assignments:
        weights = {s: _exact_text(c, f"weight of {s} in {a.name}") for s, c in a.terms}
        assignments.append(
            {
                "name": a.name,
                "activation": a.activation.value,
                "weights": weights,
                "bias": _exact_text(a.bias, f"bias of {a.name}"),
            }
        )
    doc: dict = {
        "format": FORMAT,
        "version": VERSION,
        "inputs": list(circuit.inputs),
        "assignments": assignments,
        "outputs": list(circuit.outputs),
    }
    if metadata is not None:
        doc["metadata"] = dict(metadata)
    try:
        return json.dumps(doc, indent=1, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise ModelFormatError(f"metadata cannot be written as JSON: {exc}") from None


def dump(circuit: Circuit, path: str | os.PathLike, metadata: Mapping | None = None) -> None:
    """Write ``circuit`` to ``path`` atomically (temporary file, then ``os.replace``)."""
    write_text_atomic(path, dumps(circuit, metadata))


# -- reading -------------------------------------------------------------------------------------
def number(value: object, where: str) -> Fraction:
    """An exact rational from a JSON value: int, finite float (exact binary value) or string.

    >>> number(0.5, 'w'), number('-1/3', 'w'), number('0.1', 'w')
    (Fraction(1, 2), Fraction(-1, 3), Fraction(1, 10))
    """
    if isinstance(value, bool) or value is None:
        raise ModelFormatError(f"{where} must be a number, got {json.dumps(value)}")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ModelFormatError(f"{where} is {value!r}: weights must be finite")
        return Fraction(value)
    if isinstance(value, str):
        return _parse_exact(value, where)
    raise ModelFormatError(f"{where} must be a number, got {type(value).__name__}")


def _parse_exact(text: str, where: str) -> Fraction:
    if len(text) > _MAX_TEXT:
        raise ModelFormatError(f"{where}: number string longer than {_MAX_TEXT} characters")
    decimal = _DECIMAL.fullmatch(text)
    if decimal and decimal.group(2) and abs(int(decimal.group(2))) > _MAX_TEXT:
        raise ModelFormatError(f"{where}: exponent in {text!r} is out of range")
    if not decimal and not _RATIO.fullmatch(text):
        raise ModelFormatError(
            f"{where} is the string {text!r}, not an exact rational 'p/q' or decimal '0.1'"
        )
    try:
        return Fraction(text.replace(" ", ""))
    except ZeroDivisionError:
        raise ModelFormatError(f"{where} is {text!r}: zero denominator") from None
    except ValueError as exc:
        raise ModelFormatError(f"{where} is {text!r}: {exc}") from None


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ModelFormatError(f"duplicate key {key!r} in a JSON object")
        out[key] = value
    return out


def _names(value: object, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ModelFormatError(f"'{what}' must be a list of names, got {json.dumps(value)[:80]}")
    return value


def _dense(data: dict, limits: ModelLimits) -> Circuit:
    layers = data["layers"]
    if not isinstance(layers, list) or not layers:
        raise ModelFormatError("'layers' must be a non-empty list of {'W': ..., 'b': ...} objects")
    _check_dense_size(layers, limits)
    parsed: list[tuple[list[list[Fraction]], list[Fraction] | None]] = []
    width = None
    for k, layer in enumerate(layers):
        where = f"layers[{k}]"
        if not isinstance(layer, dict) or "W" not in layer:
            raise ModelFormatError(f"{where} must be an object with a 'W' matrix")
        extra = set(layer) - {"W", "b"}
        if extra:
            raise ModelFormatError(f"{where} has unknown keys {sorted(extra)} (allowed: W, b)")
        rows = _matrix(layer["W"], f"{where}.W", k)
        if width is not None and len(rows[0]) != width:
            raise ModelFormatError(
                f"shape mismatch: {where}.W has shape [{len(rows)}, {len(rows[0])}] but "
                f"layers[{k - 1}] outputs {width} value(s)"
            )
        bias = layer.get("b")
        if bias is not None:
            if not isinstance(bias, list) or len(bias) != len(rows):
                size = len(bias) if isinstance(bias, list) else type(bias).__name__
                raise ModelFormatError(
                    f"{where}.b has {size} entries but {where}.W has {len(rows)} rows"
                )
            bias = [
                number(v, f"{where}.b[{i}] (layer {k}, neuron {i})") for i, v in enumerate(bias)
            ]
        parsed.append((rows, bias))
        width = len(rows)
    activations = None
    if data.get("activations") is not None:
        names = _names(data["activations"], "activations")
        if len(names) != len(layers):
            raise ModelFormatError(f"{len(names)} activations for {len(layers)} layers")
        activations = [_activation(a, f"activations[{k}]") for k, a in enumerate(names)]
    n_in = len(parsed[0][0][0])
    inputs = _names(data["inputs"], "inputs") if data.get("inputs") is not None else None
    if inputs is not None and len(inputs) != n_in:
        raise ModelFormatError(f"{len(inputs)} input names for a network with {n_in} inputs")
    outputs = _names(data["outputs"], "outputs") if data.get("outputs") is not None else None
    if outputs is not None and len(outputs) != width:
        raise ModelFormatError(f"{len(outputs)} output names for a network with {width} outputs")
    try:
        return from_layers(parsed, inputs, activations, outputs)
    except InvalidCircuitError as exc:
        raise ModelFormatError(str(exc)) from None


def _matrix(value: object, where: str, layer: int) -> list[list[Fraction]]:
    if not isinstance(value, list) or not value or not all(isinstance(r, list) for r in value):
        raise ModelFormatError(f"{where} must be a non-empty list of rows (shape [out, in])")
    width = len(value[0])
    if width == 0:
        raise ModelFormatError(f"{where} has empty rows")
    for i, row in enumerate(value):
        if len(row) != width:
            raise ModelFormatError(
                f"{where} is ragged: row 0 has {width} entries, row {i} has {len(row)}"
            )
    return [
        [number(v, f"{where}[{i}][{j}] (layer {layer}, neuron {i})") for j, v in enumerate(row)]
        for i, row in enumerate(value)
    ]


def _activation(name: object, where: str) -> Activation:
    if name not in ACTIVATIONS:
        raise ModelFormatError(
            f"{where}: unknown activation {name!r} (allowed: {', '.join(sorted(ACTIVATIONS))})"
        )
    return ACTIVATIONS[name]


def _check_dense_size(layers: list, limits: ModelLimits) -> None:
    """Layers, neurons and weights counted from the lists' lengths, before any number is read."""
    if len(layers) > limits.max_depth:
        raise too_big("layers:", len(layers), limits.max_depth, "max_depth")
    rows = [layer.get("W") if isinstance(layer, dict) else None for layer in layers]
    rows = [w if isinstance(w, list) else [] for w in rows]
    neurons = sum(len(w) for w in rows)
    if neurons > limits.max_neurons:
        raise too_big("neurons:", neurons, limits.max_neurons, "max_neurons")
    weights = sum(len(r) if isinstance(r, list) else 1 for w in rows for r in w)
    if weights > limits.max_weights:
        raise too_big("weights:", weights, limits.max_weights, "max_weights")
    first = rows[0][0] if rows[0] and isinstance(rows[0][0], list) else []
    if len(first) > limits.max_inputs:
        raise too_big("inputs:", len(first), limits.max_inputs, "max_inputs")


def _graph(data: dict, limits: ModelLimits) -> Circuit:
    if data.get("version", VERSION) != VERSION:
        raise ModelFormatError(f"unsupported {FORMAT} version {data['version']!r} (expected 1)")
    steps = data.get("assignments")
    if not isinstance(steps, list) or not steps:
        raise ModelFormatError("'assignments' must be a non-empty list")
    if len(steps) > limits.max_neurons:
        raise too_big("assignments:", len(steps), limits.max_neurons, "max_neurons")
    weights = sum(len(s["weights"]) for s in steps
                  if isinstance(s, dict) and isinstance(s.get("weights"), dict))
    if weights > limits.max_weights:
        raise too_big("weights:", weights, limits.max_weights, "max_weights")
    assigned = {s.get("name") for s in steps if isinstance(s, dict)}
    if data.get("inputs") is not None:
        inputs = _names(data["inputs"], "inputs")
    else:
        inputs = _default_inputs(steps, assigned)
    if len(inputs) > limits.max_inputs:
        raise too_big("inputs:", len(inputs), limits.max_inputs, "max_inputs")
    defined = set(inputs)
    depth = dict.fromkeys(inputs, 0)
    assignments = []
    for k, step in enumerate(steps):
        where = f"assignments[{k}]"
        if not isinstance(step, dict) or not isinstance(step.get("name"), str):
            raise ModelFormatError(f"{where} must be an object with a 'name'")
        where = f"{where} ({step['name']!r})"
        extra = set(step) - {"name", "activation", "weights", "bias"}
        if extra:
            raise ModelFormatError(f"{where} has unknown keys {sorted(extra)}")
        if step["name"] in defined:
            raise ModelFormatError(f"{where}: the name is already defined")
        weights = step.get("weights", {})
        if not isinstance(weights, dict):
            raise ModelFormatError(f"{where}: 'weights' must be an object {{source: weight}}")
        for source in weights:
            if source not in defined:
                raise ModelFormatError(
                    f"{where} reads unknown source {source!r} (not an input or earlier assignment)"
                )
        depth[step["name"]] = 1 + max((depth[s] for s in weights), default=0)
        if depth[step["name"]] > limits.max_depth:
            raise too_big(f"{where}: depth (longest chain of assignments) reaches",
                          depth[step["name"]], limits.max_depth, "max_depth")
        terms = tuple((s, number(w, f"{where}: weight of {s!r}")) for s, w in weights.items())
        bias = number(step.get("bias", 0), f"{where}: bias")
        activation = _activation(step.get("activation", "relu"), where)
        try:
            assignments.append(Assignment(step["name"], terms, bias, activation))
        except InvalidCircuitError as exc:
            raise ModelFormatError(f"{where}: {exc}") from None
        defined.add(step["name"])
    outputs = _names(data["outputs"], "outputs") if data.get("outputs") is not None else None
    try:
        return Circuit(tuple(inputs), tuple(assignments), tuple(outputs or [assignments[-1].name]))
    except InvalidCircuitError as exc:
        raise ModelFormatError(str(exc)) from None


def _default_inputs(steps: list, assigned: set) -> tuple[str, ...]:
    """Without 'inputs', the unassigned sources must be the default names x or x1..xn."""
    free = {
        s
        for step in steps
        if isinstance(step, dict) and isinstance(step.get("weights"), dict)
        for s in step["weights"]
        if s not in assigned
    }
    if free == {"x"}:
        return ("x",)
    indices = sorted(int(s[1:]) for s in free if re.fullmatch(r"x[1-9]\d{0,5}", s))
    if len(indices) != len(free) or not free:
        raise ModelFormatError(
            f"no 'inputs' given and the unassigned sources {sorted(free)} are not x1..xn: "
            "list the inputs"
        )
    return default_names("x", max(indices)) if max(indices) > 1 else ("x1",)


def _rename_inputs(circuit: Circuit, names: Sequence[str]) -> Circuit:
    names = list(names)
    if len(names) != len(circuit.inputs):
        raise ModelFormatError(
            f"{len(names)} input names given for a network with {len(circuit.inputs)} inputs"
        )
    try:
        return circuit.renamed(dict(zip(circuit.inputs, names)))
    except InvalidCircuitError as exc:
        raise ModelFormatError(f"cannot use input names {names}: {exc}") from None


def _exact_text(value, where: str) -> str:
    if not getattr(value, "is_Rational", False):
        raise InvalidCircuitError(f"cannot write {where} = {value} exactly: it is not a rational")
    return str(fraction_of(value))
