"""Tests of the torch-free JSON weights reader/writer (networks/json_to_circuit.py)."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
import sympy as sp

from networks import json_to_circuit as jc
from networks.model_files import load_model
from symbolic.circuit import Activation, Builder, Circuit, from_layers
from symbolic.errors import InvalidCircuitError, ModelFormatError

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO.parent / "shared" / "bench" / "models"
DOC = REPO / "docs" / "weights-format.md"

MIN_DENSE = {"layers": [{"W": [[1, 0], [-1, 0], [1, -1]]}, {"W": [[1, -1, -1]]}]}
MIN_GRAPH = {
    "format": "mathcircuits-circuit",
    "version": 1,
    "inputs": ["a", "b"],
    "assignments": [
        {"name": "R1", "activation": "relu", "weights": {"a": 1, "b": -1}, "bias": 0},
        {"name": "R2", "activation": "relu", "weights": {"a": "-1/2", "b": "1/2"}},
        {"name": "y", "activation": "linear",
         "weights": {"a": "1/2", "b": "1/2", "R1": "-1/2", "R2": -1}},
    ],
    "outputs": ["y"],
}
POINTS = [
    (Fraction(3, 7), Fraction(-2, 5)),
    (Fraction(-1), Fraction(1)),
    (Fraction(5, 3), Fraction(5, 3)),
]


def test_dense_min_is_exact():
    c = jc.loads(json.dumps(MIN_DENSE))
    assert c.inputs == ("x1", "x2") and c.outputs == ("y",)
    for a, b in POINTS:
        assert c.evaluate({"x1": a, "x2": b}) == (min(a, b),)


def test_graph_min_with_skip_connections():
    c = jc.loads(json.dumps(MIN_GRAPH))
    assert c.inputs == ("a", "b")
    assert [n.name for n in c.neurons] == ["R1", "R2"]
    for a, b in POINTS:
        assert c.evaluate({"a": a, "b": b}) == (min(a, b),)


def test_numbers_are_exact():
    f32 = struct.unpack("f", struct.pack("f", 0.1))[0]  # the float32 nearest 0.1, as a double
    text = json.dumps({"layers": [{"W": [[0.1, "0.1", "-1/3", f32, "2.5e-3", 7]], "b": ["1/7"]}]})
    c = jc.loads(text)
    coeffs = [c for _, c in c.assignments[0].terms]
    assert coeffs == [
        sp.Rational(*(0.1).as_integer_ratio()),
        sp.Rational(1, 10),
        sp.Rational(-1, 3),
        sp.Rational(*f32.as_integer_ratio()),
        sp.Rational(1, 400),
        7,
    ]
    assert c.assignments[0].bias == sp.Rational(1, 7)
    assert repr(f32) in text  # a float32 written with repr round-trips to its exact value


def test_activations_biasless_and_sigmoid():
    text = json.dumps({
        "layers": [{"W": [[2], [-1]], "b": None}, {"W": [[1, 1]], "b": [0.5]}],
        "activations": ["sigmoid", "relu"],
    })
    c = jc.loads(text)
    assert [a.activation for a in c.assignments] == [Activation.SIGMOID] * 2 + [Activation.RELU]
    assert c.inputs == ("x",)
    value = c.evaluate({"x": 0})[0]
    assert value == sp.Rational(3, 2)  # R(S(0) + S(0) + 1/2)


def test_metadata_and_unknown_top_level_keys():
    doc = dict(MIN_DENSE, metadata={"seed": 3}, name="hand")
    _, meta = jc.loads_with_metadata(json.dumps(doc))
    assert meta == {"seed": 3, "name": "hand"}


def test_input_names_default_override_and_count():
    one = jc.loads('{"layers": [{"W": [[1]]}]}')
    assert one.inputs == ("x",) and one.outputs == ("y",)
    three = jc.loads('{"layers": [{"W": [[1, 2, 3]]}]}')
    assert three.inputs == ("x1", "x2", "x3")
    named = jc.loads(json.dumps(MIN_DENSE), input_names=["a", "b"])
    assert named.inputs == ("a", "b")
    assert named.evaluate({"a": 1, "b": -4}) == (-4,)
    graph = jc.loads(json.dumps(MIN_GRAPH), input_names=["p", "q"])
    assert graph.inputs == ("p", "q") and graph.evaluate({"p": 2, "q": 1}) == (1,)
    for text in (json.dumps(MIN_DENSE), json.dumps(MIN_GRAPH)):
        with pytest.raises(ModelFormatError, match="3 input names .* 2 inputs"):
            jc.loads(text, input_names=["a", "b", "c"])
    with pytest.raises(ModelFormatError, match="1 input names"):
        jc.loads(json.dumps(dict(MIN_DENSE, inputs=["a"])))


def test_graph_without_inputs_uses_default_names():
    doc = {k: v for k, v in MIN_GRAPH.items() if k != "inputs"}
    text = json.dumps(doc).replace('"a"', '"x1"').replace('"b"', '"x2"')
    assert jc.loads(text).inputs == ("x1", "x2")
    with pytest.raises(ModelFormatError, match="not x1..xn"):
        jc.loads(json.dumps(doc))


def _layers(*layers, **extra):
    return json.dumps({"layers": list(layers), **extra})


BAD = [
    ("not json at all", "not valid JSON"),
    (json.dumps(MIN_DENSE)[:25], "not valid JSON"),
    ("[1, 2]", "must hold an object"),
    ('{"weights": []}', "needs a 'layers' list"),
    ('{"format": "keras"}', "unknown format 'keras'"),
    ('{"layers": []}', "non-empty list"),
    (_layers({"W": [[1, 2], [3, 4], [5, 6]]}, {"W": [[1, 2]]}),
     r"shape mismatch: layers\[1\].W has shape \[1, 2\] but layers\[0\] outputs 3"),
    (_layers({"W": [[1, 2], [3]]}), r"layers\[0\].W is ragged: row 0 has 2 entries, row 1 has 1"),
    (_layers({"W": [[1, 2]], "b": [1, 2]}), r"b has 2 entries but layers\[0\].W has 1 rows"),
    ('{"layers": [{"W": [[1, 2]]}, {"W": [[NaN]]}]}',
     r"layers\[1\].W\[0\]\[0\] \(layer 1, neuron 0\) is nan"),
    ('{"layers": [{"W": [[1], [Infinity]]}]}', r"layer 0, neuron 1\) is inf"),
    ('{"layers": [{"W": [[1]], "b": [-Infinity]}]}', r"b\[0\] \(layer 0, neuron 0\) is -inf"),
    ('{"layers": [{"W": [[1e400]]}]}', "is inf"),
    (_layers({"W": [["1+1"]]}), "not an exact rational"),
    (_layers({"W": [["__import__('os')"]]}), "not an exact rational"),
    (_layers({"W": [["1/0"]]}), "zero denominator"),
    (_layers({"W": [[True]]}), "must be a number, got true"),
    (_layers({"W": [[None]]}), "must be a number, got null"),
    (_layers({"W": [["1e99999"]]}), "exponent"),
    (_layers({"W": [[1]], "B": [1]}), "unknown keys"),
    (_layers({"W": [[1]]}, activations=["tanh"]), "unknown activation 'tanh'"),
    (_layers({"W": [[1]]}, activations=["relu", "relu"]), "2 activations for 1 layers"),
    ('{"layers": [{"W": [[1]], "W": [[2]]}]}', "duplicate key 'W'"),
    (json.dumps(dict(MIN_GRAPH, version=2)), "version 2"),
    (json.dumps(MIN_GRAPH).replace('"R1": "-1/2"', '"R9": "-1/2"'), "unknown source 'R9'"),
    (json.dumps(MIN_GRAPH).replace('"relu"', '"tanh"', 1), "unknown activation 'tanh'"),
    (json.dumps(MIN_GRAPH).replace('"name": "R2"', '"name": "R1"'), "already defined"),
    (json.dumps(MIN_GRAPH).replace('"bias": 0', '"bias": NaN'), r"'R1'\): bias is nan"),
    (json.dumps(dict(MIN_GRAPH, outputs=["zz"])), "output 'zz'"),
]


@pytest.mark.parametrize("text, message", BAD)
def test_bad_files_raise_one_readable_line(text, message):
    with pytest.raises(ModelFormatError, match=message) as info:
        jc.loads(text)
    assert "\n" not in str(info.value)


def test_load_errors_name_the_file(tmp_path):
    path = tmp_path / "net.json"
    path.write_text(json.dumps(MIN_DENSE)[:-5])
    with pytest.raises(ModelFormatError, match=re.escape(str(path)) + ".*not valid JSON"):
        jc.load(path)
    with pytest.raises(ModelFormatError, match="cannot read"):
        jc.load(tmp_path / "missing.json")
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ModelFormatError, match="not UTF-8"):
        jc.load(path)


def _skip_circuit() -> Circuit:
    b = Builder(["a", "b", "c"])
    h = b.relu({"a": Fraction(1, 3), "b": -2}, bias=Fraction(-5, 7))
    s = b.add({"c": 0.1, h: 1}, activation=Activation.SIGMOID)
    y1 = b.linear({"a": 1, h: Fraction(10**30 + 1, 3**40), s: -1}, name="y1")
    y2 = b.relu({"b": 1, "c": -1, h: 2}, name="y2")
    return b.build([y1, y2, h])


@pytest.mark.parametrize("make", [
    lambda: jc.loads(json.dumps(MIN_DENSE)),
    lambda: jc.loads(json.dumps(MIN_GRAPH)),
    _skip_circuit,
    lambda: from_layers([([[0.1, -0.2]], [1e-30])]),
])
def test_dump_load_round_trip_is_exact(make, tmp_path):
    circuit = make()
    assert jc.loads(jc.dumps(circuit)) == circuit
    path = tmp_path / "c.json"
    jc.dump(circuit, path, metadata={"k": [1, 2]})
    loaded, meta = jc.load_with_metadata(path)
    assert loaded == circuit and meta == {"k": [1, 2]}
    assert os.listdir(tmp_path) == ["c.json"]  # no temporary file left behind
    for assignment in json.loads(path.read_text())["assignments"]:
        assert all(isinstance(w, str) for w in assignment["weights"].values())
        assert isinstance(assignment["bias"], str)


def test_dump_refuses_symbolic_weights_and_bad_metadata():
    w = sp.Symbol("w1")
    c = Builder(["x"])
    h = c.relu({"x": w})
    with pytest.raises(InvalidCircuitError, match="not a rational"):
        jc.dumps(c.build([h]))
    with pytest.raises(ModelFormatError, match="metadata"):
        jc.dumps(from_layers([([[1]], None)]), metadata={"bad": float("nan")})


def test_documentation_examples_load():
    blocks = re.findall(r"```json\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 2
    dense, graph = (jc.loads(b) for b in blocks)
    for a, b in POINTS:
        assert dense.evaluate({"x1": a, "x2": b}) == (min(a, b),)
        assert graph.evaluate({"a": a, "b": b}) == (min(a, b),)


def test_json_paths_do_not_import_torch_or_onnx(tmp_path):
    path = tmp_path / "net.json"
    path.write_text(json.dumps(MIN_DENSE))
    code = (
        "import sys; from networks import json_to_circuit, model_files; "
        f"c = model_files.load_model({str(path)!r}); "
        "assert c.evaluate({'x1': 1, 'x2': 2}) == (1,); "
        "bad = [m for m in ('torch', 'onnx') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_load_model_dispatch(tmp_path):
    path = tmp_path / "net.json"
    path.write_text(json.dumps(MIN_GRAPH))
    assert load_model(path).inputs == ("a", "b")
    with pytest.raises(ModelFormatError, match=r"unknown model file suffix '.h5'.*\.json.*\.onnx"):
        load_model(tmp_path / "net.h5")


@pytest.mark.skipif(not BENCH.is_dir(), reason=f"benchmark models not found at {BENCH}")
def test_bench_json_files_load():
    files = sorted(BENCH.glob("*.json"))
    files = [f for f in files if f.name != "index.json"]
    assert files
    for path in files:
        circuit, meta = jc.load_with_metadata(path)
        assert meta["name"] == path.stem
        assert len(circuit.neurons) == meta["n_relu"]
        assert circuit.inputs == ("x1", "x2")


def test_one_neuron_naming_scheme_whatever_the_loader():
    """The same bench network read from JSON and from ONNX has the same neuron names (issue 12)."""
    import pytest

    pytest.importorskip("onnx")
    from pathlib import Path

    from networks.model_files import load_model

    models = Path(__file__).resolve().parents[2] / ".." / "shared" / "bench" / "models"
    if not (models / "mlp_8x8.onnx").exists():
        pytest.skip("the shared bench models are not here")
    for stem in ("mlp_w4", "mlp_8x8"):
        from_json, from_onnx = load_model(models / f"{stem}.json"), load_model(models / f"{stem}.onnx")
        assert [a.name for a in from_json.assignments] == [a.name for a in from_onnx.assignments]
        assert [a.name for a in from_onnx.assignments][:2] == ["h1_1", "h1_2"]
