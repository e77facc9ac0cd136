"""ONNX as published (VNN-COMP style): input shapes, normalisation, Gemm flags, opsets 8 on,
several outputs, VNN-LIB names; differential against onnxruntime on every shared network."""

from __future__ import annotations

import glob
import time
from fractions import Fraction
from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")
np = pytest.importorskip("numpy")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from networks.model_files import load_model  # noqa: E402
from networks.onnx_to_circuit import load_onnx  # noqa: E402
from symbolic.errors import ModelFormatError, UnsupportedLayerError  # noqa: E402

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
ACASXU = sorted(glob.glob(str(SHARED / "vnncomp" / "acasxu" / "onnx" / "*.onnx")))
BENCH = sorted(glob.glob(str(SHARED / "bench" / "models" / "*.onnx")))


def f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def model(nodes, inits, inputs, outputs, opset, ir=None, inits_as_inputs=False):
    """An ONNX model; ``inputs``/``outputs`` are {name: shape}; initializers are float32."""
    tensors = [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()]
    ins = [helper.make_tensor_value_info(k, TensorProto.FLOAT, s) for k, s in inputs.items()]
    if inits_as_inputs:  # IR 3 style, as the ACAS Xu files: initializers are graph inputs too
        ins += [helper.make_tensor_value_info(t.name, t.data_type, t.dims) for t in tensors]
    outs = [helper.make_tensor_value_info(k, TensorProto.FLOAT, s) for k, s in outputs.items()]
    graph = helper.make_graph(nodes, "published", ins, outs, initializer=tensors)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = ir or min(m.ir_version, {8: 3, 9: 4, 10: 5, 11: 6, 13: 7}.get(opset, 8))
    onnx.checker.check_model(m)
    return m


def acas_like(rng):
    inits = {"avg": f32(rng, 1, 1, 1, 5), "W1": f32(rng, 5, 8), "b1": f32(rng, 8),
             "W2": f32(rng, 8, 3), "b2": f32(rng, 3)}
    nodes = [helper.make_node("Sub", ["input", "avg"], ["s"]),
             helper.make_node("Flatten", ["s"], ["f"], axis=1),
             helper.make_node("MatMul", ["f", "W1"], ["m1"]), helper.make_node("Add", ["m1", "b1"], ["a1"]),
             helper.make_node("Relu", ["a1"], ["r1"]),
             helper.make_node("MatMul", ["r1", "W2"], ["m2"]), helper.make_node("Add", ["m2", "b2"], ["out"])]
    return model(nodes, inits, {"input": [1, 1, 1, 5]}, {"out": [1, 3]}, 8, inits_as_inputs=True)


def vector_input(rng):
    inits = {"scale": np.abs(f32(rng, 5)) + 0.5, "W1": f32(rng, 5, 4), "b1": f32(rng, 4), "W2": f32(rng, 4, 2)}
    nodes = [helper.make_node("Div", ["x", "scale"], ["n"]),
             helper.make_node("MatMul", ["n", "W1"], ["m1"]), helper.make_node("Add", ["b1", "m1"], ["a1"]),
             helper.make_node("Relu", ["a1"], ["r1"]), helper.make_node("MatMul", ["r1", "W2"], ["y"])]
    return model(nodes, inits, {"x": [5]}, {"y": [2]}, 9)


def gemm_flags(rng):
    inits = {"mean": f32(rng, 1, 5), "std": np.abs(f32(rng, 5)) + 0.5, "W1": f32(rng, 4, 5), "b1": f32(rng, 4),
             "W2": f32(rng, 4, 3)}
    c2 = numpy_helper.from_array(f32(rng, 3))
    nodes = [helper.make_node("Sub", ["x", "mean"], ["c"]), helper.make_node("Div", ["c", "std"], ["n"]),
             helper.make_node("Gemm", ["n", "W1", "b1"], ["g1"], transB=1, alpha=0.5, beta=2.0),
             helper.make_node("Relu", ["g1"], ["r1"]),
             helper.make_node("Constant", [], ["c2"], value=c2),
             helper.make_node("Gemm", ["r1", "W2", "c2"], ["y"], alpha=1.5, beta=-0.25)]
    return model(nodes, inits, {"x": [1, 5]}, {"y": [1, 3]}, 11)


def gemm_trans_a(rng):
    inits = {"shape": np.array([5, 1], np.int64), "B": f32(rng, 5, 4), "C": f32(rng, 4)}
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["col"]),
             helper.make_node("Gemm", ["col", "B", "C"], ["g"], transA=1, alpha=2.0, beta=0.5),
             helper.make_node("Relu", ["g"], ["y"])]
    return model(nodes, inits, {"x": [1, 5]}, {"y": [1, 4]}, 13)


def squeeze_unsqueeze(rng):
    inits = {"ax1": np.array([1], np.int64), "ax0": np.array([0], np.int64), "shape": np.array([-1, 5], np.int64),
             "W": f32(rng, 5, 3), "k": np.float32(3.0)}
    nodes = [helper.make_node("Squeeze", ["x", "ax1"], ["s"]),        # [1, 1, 5] -> [1, 5]
             helper.make_node("Unsqueeze", ["s", "ax0"], ["u"]),      # -> [1, 1, 5]
             helper.make_node("Reshape", ["u", "shape"], ["r"]),      # -> [1, 5]
             helper.make_node("Mul", ["r", "k"], ["p"]),
             helper.make_node("MatMul", ["p", "W"], ["m"]), helper.make_node("Relu", ["m"], ["y"])]
    return model(nodes, inits, {"x": [1, 1, 5]}, {"y": [1, 3]}, 13)


def squeeze_attributes_opset11(rng):
    inits = {"W": f32(rng, 5, 2), "off": f32(rng, 1, 1, 1, 5)}
    nodes = [helper.make_node("Add", ["x", "off"], ["a"]),
             helper.make_node("Squeeze", ["a"], ["s"], axes=[1, 2]),   # [1, 1, 1, 5] -> [1, 5]
             helper.make_node("Unsqueeze", ["s"], ["u"], axes=[1]),    # -> [1, 1, 5]
             helper.make_node("Flatten", ["u"], ["f"], axis=1),
             helper.make_node("MatMul", ["f", "W"], ["m"]), helper.make_node("Relu", ["m"], ["y"])]
    return model(nodes, inits, {"x": [1, 1, 1, 5]}, {"y": [1, 2]}, 11)


def slice_opset9(rng):
    inits = {"W": f32(rng, 3, 2)}
    nodes = [helper.make_node("Slice", ["x"], ["s"], starts=[1], ends=[4], axes=[1]),
             helper.make_node("MatMul", ["s", "W"], ["m"]), helper.make_node("Relu", ["m"], ["y"])]
    return model(nodes, inits, {"x": [1, 5]}, {"y": [1, 2]}, 9)


def batched_torch_style(rng):
    inits = {"zero": np.array(0, np.int64), "ax": np.array([0], np.int64), "minus": np.array([-1], np.int64),
             "W": f32(rng, 5, 4), "b": f32(rng, 4)}
    nodes = [helper.make_node("Shape", ["x"], ["shp"]),
             helper.make_node("Gather", ["shp", "zero"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "ax"], ["n1"]),
             helper.make_node("Concat", ["n1", "minus"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["flat"]),
             helper.make_node("Gemm", ["flat", "W", "b"], ["g"]), helper.make_node("Relu", ["g"], ["y"])]
    return model(nodes, inits, {"x": ["N", 1, 1, 5]}, {"y": ["N", 4]}, 13)


def several_outputs(rng):
    inits = {"W1": f32(rng, 2, 4), "W2": f32(rng, 4, 3), "W3": f32(rng, 4, 2)}
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["m"]), helper.make_node("Relu", ["m"], ["h"]),
             helper.make_node("MatMul", ["h", "W2"], ["first"]), helper.make_node("MatMul", ["h", "W3"], ["second"])]
    return model(nodes, inits, {"x": [1, 2]}, {"first": [1, 3], "second": [1, 2]}, 17)


CASES = [acas_like, vector_input, gemm_flags, gemm_trans_a, squeeze_unsqueeze, squeeze_attributes_opset11,
         slice_opset9, batched_torch_style, several_outputs]


def runtime_outputs(m, xs: dict) -> list[float]:
    session = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return [float(v) for out in session.run(None, xs) for v in np.asarray(out).ravel()]


@pytest.mark.parametrize("build", CASES, ids=lambda f: f.__name__)
def test_published_graphs_match_onnxruntime(build):
    rng = np.random.default_rng(len(build.__name__))
    m = build(rng)
    circuit = load_onnx(m.SerializeToString(), vnnlib_names=True)
    (first,) = [i for i in m.graph.input if i.name not in {t.name for t in m.graph.initializer}]
    shape = [d.dim_value or 1 for d in first.type.tensor_type.shape.dim]  # batch 1 when symbolic
    assert circuit.inputs == tuple(f"X_{i}" for i in range(int(np.prod(shape))))
    for _ in range(4):
        x = f32(rng, *shape)
        want = runtime_outputs(m, {first.name: x})
        got = circuit.evaluate({f"X_{i}": Fraction(float(v)) for i, v in enumerate(x.ravel())})
        assert circuit.outputs == tuple(f"Y_{j}" for j in range(len(want)))
        for g, w in zip(got, want):
            assert isinstance(g, Fraction) and abs(float(g) - w) <= 1e-5 * max(1.0, abs(w))


def test_batched_input_runs_row_by_row():
    rng = np.random.default_rng(4)
    m = batched_torch_style(rng)
    circuit = load_onnx(m.SerializeToString())
    xs = f32(rng, 3, 1, 1, 5)  # onnxruntime runs 3 rows; the circuit is one row's function
    want = np.asarray(runtime_outputs(m, {"x": xs})).reshape(3, -1)
    for row, w in zip(xs, want):
        got = circuit.evaluate(dict(zip(circuit.inputs, (Fraction(float(v)) for v in row.ravel()))))
        assert np.allclose([float(g) for g in got], w, rtol=1e-5, atol=1e-5)


def test_default_and_vnnlib_names():
    m = several_outputs(np.random.default_rng(0)).SerializeToString()
    plain = load_onnx(m)
    assert plain.inputs == ("x1", "x2") and plain.outputs == ("y1", "y2", "y3", "y4", "y5")
    named = load_onnx(m, vnnlib_names=True)
    assert named.inputs == ("X_0", "X_1") and named.outputs == tuple(f"Y_{j}" for j in range(5))
    point = {"x1": Fraction(1, 3), "x2": Fraction(-2)}
    assert named.evaluate({"X_0": point["x1"], "X_1": point["x2"]}) == plain.evaluate(point)
    with pytest.raises(ModelFormatError, match="not both"):
        load_onnx(m, ["a", "b"], vnnlib_names=True)


def test_vnnlib_names_for_every_format(tmp_path):
    from networks import json_to_circuit
    from symbolic.circuit import Activation, Assignment, Circuit

    # an output that is an input, an output listed twice, an inner name that looks like Y_0
    odd = Circuit(("a", "b"), (Assignment("Y_0", (("a", 1), ("b", -1))),
                               Assignment("y", (("Y_0", 2),), 1, Activation.LINEAR)), ("y", "a", "y"))
    json_to_circuit.dump(odd, tmp_path / "odd.json")
    named = load_model(tmp_path / "odd.json", vnnlib_names=True)
    assert named.inputs == ("X_0", "X_1") and named.outputs == ("Y_0", "Y_1", "Y_2")
    assert named.evaluate({"X_0": 5, "X_1": 2}) == odd.evaluate({"a": 5, "b": 2})
    with pytest.raises(ModelFormatError, match="not both"):
        load_model(tmp_path / "odd.json", ["p", "q"], vnnlib_names=True)


def test_unsupported_nodes_are_all_listed_with_published_shapes():
    rng = np.random.default_rng(1)
    inits = {"K": f32(rng, 1, 1, 1, 1), "W": f32(rng, 5, 2)}
    nodes = [helper.make_node("Conv", ["x", "K"], ["c"], name="conv"),
             helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("MatMul", ["f", "W"], ["m"]),
             helper.make_node("Tanh", ["m"], ["t"], name="tanh"),
             helper.make_node("Mul", ["f", "f"], ["sq"], name="square"),
             helper.make_node("Add", ["t", "sq"], ["y"])]
    m = model(nodes, inits, {"x": [1, 1, 1, 5]}, {"y": [1, 5]}, 13)
    with pytest.raises(UnsupportedLayerError) as info:
        load_onnx(m.SerializeToString())
    text = str(info.value)
    assert "3 unsupported" in text and "conv (Conv)" in text and "tanh (Tanh)" in text
    assert "square (Mul): the product of two input-dependent tensors" in text


def test_batch_axis_is_never_mixed_with_features():
    rng = np.random.default_rng(2)
    nodes = [helper.make_node("Flatten", ["x"], ["f"], axis=0, name="flat0"), helper.make_node("Relu", ["f"], ["y"])]
    m = model(nodes, {}, {"x": ["N", 5]}, {"y": [1, "M"]}, 13)
    with pytest.raises(UnsupportedLayerError, match="flat0.*batch axis"):
        load_onnx(m.SerializeToString())
    nodes = [helper.make_node("Add", ["x", "c"], ["y"], name="rows")]
    m = model(nodes, {"c": f32(rng, 3, 5)}, {"x": ["N", 5]}, {"y": [3, 5]}, 13)
    with pytest.raises(UnsupportedLayerError, match="rows.*varies along the batch axis"):
        load_onnx(m.SerializeToString())


# -- the shared networks ---------------------------------------------------------------------------
def _differential(path: str, rng, points: int, exact_points: int) -> float:
    """Load ``path`` with VNN-LIB names and compare with onnxruntime; returns the load CPU time."""
    start = time.process_time()
    circuit = load_model(path, vnnlib_names=True)
    elapsed = time.process_time() - start
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (first,) = session.get_inputs()
    shape = [d if isinstance(d, int) else 1 for d in first.shape]
    assert circuit.inputs == tuple(f"X_{i}" for i in range(int(np.prod(shape)))), path
    for k in range(points):
        x = rng.uniform(-1, 1, shape).astype(np.float32)
        want = [float(v) for out in session.run(None, {first.name: x}) for v in np.asarray(out).ravel()]
        point = {f"X_{i}": float(v) for i, v in enumerate(x.ravel())}
        scale = max(1.0, max(abs(w) for w in want))
        got = circuit.evaluate_float(point)
        assert len(got) == len(want) and circuit.outputs == tuple(f"Y_{j}" for j in range(len(want)))
        assert all(abs(g - w) <= 1e-5 * scale for g, w in zip(got, want)), (path, got, want)
        if k < exact_points:  # the exact rational value, rounded, agrees too
            exact = circuit.evaluate({n: Fraction(v) for n, v in point.items()})
            assert all(abs(float(e) - w) <= 1e-5 * scale for e, w in zip(exact, want)), path
    return elapsed


@pytest.mark.skipif(not ACASXU, reason=f"ACAS Xu networks not found under {SHARED}")
def test_every_acasxu_network_matches_onnxruntime():
    rng = np.random.default_rng(2000)
    times = [_differential(path, rng, points=3, exact_points=int(k % 5 == 0)) for k, path in enumerate(ACASXU)]
    assert len(times) == 45
    assert sum(times) / len(times) < 2.0, times  # about 0.35 s of CPU each on the reference machine


@pytest.mark.skipif(not BENCH, reason=f"bench models not found under {SHARED}")
def test_every_bench_onnx_model_matches_onnxruntime():
    rng = np.random.default_rng(7)
    for path in BENCH:
        _differential(path, rng, points=5, exact_points=2)
