"""Tests of the ONNX importer (networks/onnx_to_circuit.py), against onnx's reference runtime."""

from __future__ import annotations

import random
from fractions import Fraction
from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")
np = pytest.importorskip("numpy")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

from networks import json_to_circuit  # noqa: E402
from networks.model_files import load_model  # noqa: E402
from networks.onnx_to_circuit import load_onnx  # noqa: E402
from symbolic.errors import ModelFormatError, UnsupportedLayerError  # noqa: E402

BENCH = Path(__file__).resolve().parents[2].parent / "shared" / "bench" / "models"
needs_bench = pytest.mark.skipif(
    not BENCH.is_dir(), reason=f"benchmark models not found at {BENCH}"
)


def make_model(nodes, inits, n_in, n_out, dtype=np.float32, in_shape=None):
    """A one-input one-output ONNX model; initializers are cast to ``dtype``."""
    elem = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    graph = helper.make_graph(
        nodes,
        "test",
        [helper.make_tensor_value_info("x", elem, in_shape or ["batch", n_in])],
        [helper.make_tensor_value_info("y", elem, ["batch", n_out])],
        initializer=[numpy_helper.from_array(_cast(v, dtype), name) for name, v in inits.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _cast(value, dtype):
    value = np.asarray(value)
    return value.astype(dtype) if value.dtype.kind == "f" else value


def rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)  # float32 values, exact in float64 too


def gemm_mlp(rng):
    inits = {"W1": rand(rng, 5, 3), "b1": rand(rng, 5), "W2": rand(rng, 5, 2),
             "b2": rand(rng, 1, 2)}
    nodes = [
        helper.make_node("Gemm", ["x", "W1", "b1"], ["g1"], transB=1),
        helper.make_node("Relu", ["g1"], ["r1"]),
        helper.make_node("Gemm", ["r1", "W2", "b2"], ["y"], alpha=0.5, beta=2.0),
    ]
    return nodes, inits, 3, 2


def matmul_chain(rng):
    inits = {"W1": rand(rng, 2, 4), "b1": rand(rng, 4), "W2": rand(rng, 4, 3), "c": rand(rng, 3),
             "s": rand(rng, 1, 3), "three": np.float32(3.0)}
    nodes = [
        helper.make_node("MatMul", ["x", "W1"], ["m1"]),
        helper.make_node("Add", ["m1", "b1"], ["a1"]),
        helper.make_node("Relu", ["a1"], ["r1"]),
        helper.make_node("Dropout", ["r1"], ["d1"]),
        helper.make_node("MatMul", ["d1", "W2"], ["m2"]),
        helper.make_node("Sub", ["m2", "c"], ["s2"]),
        helper.make_node("Mul", ["s2", "s"], ["p2"]),
        helper.make_node("Neg", ["p2"], ["n2"]),
        helper.make_node("Div", ["n2", "three"], ["q2"]),
        helper.make_node("Relu", ["q2"], ["r2"]),
        helper.make_node("Sub", ["r2", "q2"], ["y"]),  # between two tensors
    ]
    return nodes, inits, 2, 3


def min_model(rng, exact=False):
    if exact:
        inits = {"R1": [[1.0, -1.0]], "R2": [[-1.0, 1.0]], "O": [[0.5, 0.5, -0.5, -0.5]],
                 "z": [0.0]}
    else:
        inits = {"R1": rand(rng, 1, 2), "R2": rand(rng, 1, 2), "O": rand(rng, 1, 4),
                 "z": rand(rng, 1)}
    inits.update({name: np.array([k]) for k, name in enumerate(["s0", "s1", "s2"])})
    inits["ax"] = np.array([1])
    nodes = [
        helper.make_node("Slice", ["x", "s0", "s1", "ax"], ["a"]),
        helper.make_node("Slice", ["x", "s1", "s2", "ax"], ["b"]),
        helper.make_node("Gemm", ["x", "R1", "z"], ["g1"], transB=1),
        helper.make_node("Relu", ["g1"], ["h1"]),
        helper.make_node("Gemm", ["x", "R2"], ["g2"], transB=1),
        helper.make_node("Relu", ["g2"], ["h2"]),
        helper.make_node("Concat", ["a", "b", "h1", "h2"], ["cat"], axis=1),
        helper.make_node("Gemm", ["cat", "O", "z"], ["y"], transB=1),
    ]
    return nodes, inits, 2, 1


def shapes_and_sigmoid(rng):
    inits = {"W": rand(rng, 4, 3), "i0": np.array(0), "ax1": np.array([1]), "V": rand(rng, 5, 2)}
    nodes = [
        helper.make_node("Constant", [], ["shape"], 
                         value=numpy_helper.from_array(np.array([-1, 1]))),
        helper.make_node("Gemm", ["x", "W"], ["g"], transB=1),
        helper.make_node("Sigmoid", ["g"], ["sg"]),
        helper.make_node("Gather", ["x", "i0"], ["col"], axis=1),        # [batch]
        helper.make_node("Unsqueeze", ["col", "ax1"], ["col2"]),          # [batch, 1]
        helper.make_node("Reshape", ["col2", "shape"], ["col3"]),
        helper.make_node("Squeeze", ["col3", "ax1"], ["col4"]),
        helper.make_node("Unsqueeze", ["col4", "ax1"], ["col5"]),
        helper.make_node("Identity", ["sg"], ["sg2"]),
        helper.make_node("Concat", ["sg2", "col5"], ["cat"], axis=-1),
        helper.make_node("Flatten", ["cat"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "V"], ["m"]),
        helper.make_node("Relu", ["m"], ["rm"]),
        helper.make_node("Add", ["m", "rm"], ["y"]),
    ]
    return nodes, inits, 3, 2


GRAPHS = [gemm_mlp, matmul_chain, min_model, shapes_and_sigmoid]


@pytest.mark.parametrize("build", GRAPHS, ids=lambda f: f.__name__)
def test_graphs_match_the_reference_runtime(build):
    nodes, inits, n_in, n_out = build(np.random.default_rng(len(build.__name__)))
    m32 = make_model(nodes, inits, n_in, n_out, np.float32)
    m64 = make_model(nodes, inits, n_in, n_out, np.float64)
    circuit = load_onnx(m32.SerializeToString())
    assert circuit.inputs == tuple(f"x{i}" for i in range(1, n_in + 1))
    assert circuit.outputs == (("y",) if n_out == 1 else tuple(f"y{i + 1}" for i in range(n_out)))
    assert load_onnx(m64.SerializeToString()) == circuit  # identical exact weights
    xs = (np.random.default_rng(0).random((50, n_in)) * 6 - 3).astype(np.float32)
    y32 = ReferenceEvaluator(m32).run(None, {"x": xs})[0]
    y64 = ReferenceEvaluator(m64).run(None, {"x": xs.astype(np.float64)})[0]
    for row, r32, r64 in zip(xs, y32, y64):
        values = circuit.evaluate(dict(zip(circuit.inputs, (Fraction(float(v)) for v in row))))
        assert len(values) == n_out
        for value, a32, a64 in zip(values, r32, r64):
            assert abs(float(value) - a64) <= 1e-9 * max(1.0, abs(a64))
            assert abs(float(value) - a32) <= 1e-5 * max(1.0, abs(a32))


def test_exact_min_model_is_min():
    nodes, inits, n_in, n_out = min_model(None, exact=True)
    data = make_model(nodes, inits, n_in, n_out).SerializeToString()
    circuit = load_onnx(data, input_names=["a", "b"])
    assert circuit.inputs == ("a", "b") and len(circuit.neurons) == 2
    rng = random.Random(0)
    for _ in range(10):
        a, b = (Fraction(rng.randint(-99, 99), rng.randint(1, 13)) for _ in range(2))
        assert circuit.evaluate({"a": a, "b": b}) == (min(a, b),)


def test_input_names(tmp_path):
    nodes, inits, n_in, n_out = gemm_mlp(np.random.default_rng(1))
    data = make_model(nodes, inits, n_in, n_out).SerializeToString()
    assert load_onnx(data).inputs == ("x1", "x2", "x3")
    assert load_onnx(data, input_names=["p", "q", "r"]).inputs == ("p", "q", "r")
    with pytest.raises(ModelFormatError, match="2 input names given for a model with 3 inputs"):
        load_onnx(data, input_names=["p", "q"])
    one = make_model([helper.make_node("Relu", ["x"], ["y"])], {}, 1, 1, in_shape=[1, 1])
    assert load_onnx(one.SerializeToString()).inputs == ("x",)
    cube = make_model([helper.make_node("Relu", ["x"], ["y"])], {}, 1, 1, in_shape=[1, 2, 2])
    cube = load_onnx(cube.SerializeToString())  # one input and one neuron per element
    assert cube.inputs == ("x1", "x2", "x3", "x4") and len(cube.neurons) == 4
    free = make_model([helper.make_node("Relu", ["x"], ["y"])], {}, 1, 1, in_shape=[1, "n"])
    with pytest.raises(ModelFormatError, match=r"shape \[1, 'n'\]: only the first \(batch\)"):
        load_onnx(free.SerializeToString())
    path = tmp_path / "net.onnx"
    path.write_bytes(data)
    assert load_model(path, ["a", "b", "c"]).inputs == ("a", "b", "c")


def test_unsupported_nodes_are_all_listed_in_one_error():
    inits = {"K": np.ones((1, 1, 1, 1), np.float32)}
    nodes = [
        helper.make_node("Sin", ["x"], ["s"], name="my_sin"),
        helper.make_node("Relu", ["s"], ["r"]),  # downstream of Sin: not reported again
        helper.make_node("Conv", ["x", "K"], ["c"], name="my_conv"),
        helper.make_node("Add", ["r", "c"], ["y"]),
    ]
    data = make_model(nodes, inits, 2, 2, in_shape=["batch", 2]).SerializeToString()
    with pytest.raises(UnsupportedLayerError) as info:
        load_onnx(data)
    message = str(info.value)
    assert "2 unsupported" in message and "my_sin (Sin)" in message and "my_conv (Conv)" in message


def test_unsupported_arguments_are_explained():
    nodes = [helper.make_node("Mul", ["x", "x"], ["y"], name="square")]
    with pytest.raises(UnsupportedLayerError, match=r"square \(Mul\): the product of two"):
        load_onnx(make_model(nodes, {}, 2, 2).SerializeToString())
    nodes = [helper.make_node("Concat", ["x", "x"], ["y"], axis=0, name="stack_rows")]
    with pytest.raises(UnsupportedLayerError, match="stack_rows.*axis 0"):
        load_onnx(make_model(nodes, {}, 2, 2).SerializeToString())


def test_hostile_and_broken_files(tmp_path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(bytes(random.Random(3).getrandbits(8) for _ in range(500)))
    with pytest.raises(ModelFormatError, match="garbage.onnx"):
        load_onnx(garbage)
    nodes, inits, n_in, n_out = gemm_mlp(np.random.default_rng(2))
    data = make_model(nodes, inits, n_in, n_out).SerializeToString()
    for cut in (len(data) // 2, 7, 0):
        with pytest.raises(ModelFormatError):
            load_onnx(data[:cut])
    with pytest.raises(ModelFormatError, match="cannot read"):
        load_onnx(tmp_path / "missing.onnx")
    bad = dict(inits, b1=np.array([1, float("nan"), 0, 0, 0], np.float32))
    with pytest.raises(ModelFormatError, match=r"initializer b1 contains nan at index \[1\]"):
        load_onnx(make_model(nodes, bad, n_in, n_out).SerializeToString())
    wrong = dict(inits, W2=rand(np.random.default_rng(0), 4, 2))
    with pytest.raises(ModelFormatError, match=r"node 2 \(Gemm\): shape mismatch"):
        load_onnx(make_model(nodes, wrong, n_in, n_out).SerializeToString())


@needs_bench
def test_bench_onnx_files_equal_their_json_and_pt():
    models = sorted(p for p in BENCH.glob("*.onnx") if not p.name.endswith(".minus_min.onnx"))
    assert models
    try:
        from networks.torch_to_circuit import load_state_dict_file
    except ImportError:  # pragma: no cover - torch is optional
        load_state_dict_file = None
    rng = random.Random(5)
    for path in models:
        from_onnx = load_onnx(path)
        others = [json_to_circuit.load(path.with_suffix(".json"))]
        if load_state_dict_file is not None and pytest.importorskip("torch"):
            others.append(load_state_dict_file(path.with_suffix(".pt")))
        minus = load_onnx(path.with_name(path.stem + ".minus_min.onnx"))
        assert minus.outputs == ("d",) and len(minus.neurons) == len(from_onnx.neurons) + 3
        for _ in range(4):
            point = {n: Fraction(rng.randint(-200, 200), rng.randint(1, 150)) for n in ("x1", "x2")}
            (value,) = from_onnx.evaluate(point)
            assert all(other.evaluate(point) == (value,) for other in others), path.name
            assert minus.evaluate(point) == (value - min(point.values()),), path.name


@needs_bench
def test_bench_onnx_files_match_the_reference_runtime():
    for path in sorted(BENCH.glob("*.onnx")):
        circuit = load_onnx(path)
        model = onnx.load(path)
        xs = (np.random.default_rng(1).random((20, 2)) * 2 - 1).astype(np.float32)
        session = ReferenceEvaluator(model)
        for row in xs:
            (want,) = session.run(None, {"x": row[None, :]})[0][0]
            point = {"x1": Fraction(float(row[0])), "x2": Fraction(float(row[1]))}
            (got,) = circuit.evaluate(point)
            assert abs(float(got) - float(want)) <= 1e-5 * max(1.0, abs(float(want))), path.name
