"""Limits of the model loaders: regular files only, size caps, declared shapes and zip members
checked before anything is allocated, depth and neuron caps; every refusal one line."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from networks import json_to_circuit
from networks.model_files import load_model
from networks.model_limits import MAX_BYTES, ModelLimits, read_zip
from symbolic.errors import ModelFormatError

ROOT = Path(__file__).resolve().parents[2]


def one_line(exc) -> str:
    text = str(exc.value)
    assert "\n" not in text and text, text
    return text


@pytest.fixture
def alarm():
    """Fail instead of hanging if a loader blocks (e.g. on a FIFO)."""
    def timeout(*_):
        raise TimeoutError("the loader blocked")

    old = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("suffix", [".json", ".onnx", ".pt", ".pt2"])
def test_only_regular_files_are_read(tmp_path, alarm, suffix):
    fifo = tmp_path / f"pipe{suffix}"
    os.mkfifo(fifo)
    zero = tmp_path / f"zero{suffix}"
    zero.symlink_to("/dev/zero")
    folder = tmp_path / f"folder{suffix}"
    folder.mkdir()
    for path, kind in ((fifo, "FIFO"), (zero, "character device"), (folder, "directory")):
        start = time.monotonic()
        with pytest.raises(ModelFormatError) as info:
            load_model(path)
        assert kind in one_line(info) and "not a regular file" in str(info.value)
        assert time.monotonic() - start < 5  # refused before torch or onnx is even imported
    with pytest.raises(ModelFormatError, match="cannot read .*missing.*No such file"):
        load_model(tmp_path / f"missing{suffix}")


def test_size_cap_is_clear_and_can_be_raised(tmp_path):
    path = tmp_path / "net.json"
    path.write_text(json.dumps({"layers": [{"W": [[1, -1]]}], "pad": "x" * 5000}))
    with pytest.raises(ModelFormatError) as info:
        load_model(path, max_bytes=1000)
    assert "over the limit max_bytes=1,000" in one_line(info) and "net.json" in str(info.value)
    assert load_model(path).inputs == ("x1", "x2")  # the default cap is MAX_BYTES['.json']
    assert load_model(path, limits=ModelLimits(max_bytes=10_000)).inputs == ("x1", "x2")
    assert MAX_BYTES[".onnx"] >= 1 << 20
    with pytest.raises(ModelFormatError, match="max_neurons must be a positive integer"):
        ModelLimits(max_neurons=0)


def chain(depth: int) -> dict:
    steps = [{"name": f"a{k}", "weights": {f"a{k - 1}" if k > 1 else "x": 1}} for k in range(1, depth + 1)]
    return {"format": "mathcircuits-circuit", "inputs": ["x"], "assignments": steps}


def test_deep_json_chains_are_refused_fast_or_loaded_iteratively(tmp_path):
    for depth in (30_000, 100_000):
        path = tmp_path / f"chain{depth}.json"
        path.write_text(json.dumps(chain(depth)))
        start = time.monotonic()
        with pytest.raises(ModelFormatError) as info:
            load_model(path)
        assert "over the limit max_depth=1,000" in one_line(info)
        assert time.monotonic() - start < 5
    path = tmp_path / "chain5000.json"  # allowed when the cap is raised: built without recursion
    path.write_text(json.dumps(chain(5000)))
    circuit = load_model(path, limits=ModelLimits(max_depth=5000))
    assert len(circuit.assignments) == 5000 and circuit.evaluate({"x": 3}) == (3,)
    assert circuit.evaluate({"x": -3}) == (0,)


def test_json_neuron_weight_and_input_caps():
    dense = {"layers": [{"W": [[1] * 4] * 6}, {"W": [[1] * 6]}]}
    small = ModelLimits(max_neurons=5)
    with pytest.raises(ModelFormatError, match="neurons: 7, over the limit max_neurons=5"):
        json_to_circuit.loads(json.dumps(dense), limits=small)
    with pytest.raises(ModelFormatError, match="weights: 30, over the limit max_weights=20"):
        json_to_circuit.loads(json.dumps(dense), limits=ModelLimits(max_weights=20))
    with pytest.raises(ModelFormatError, match="inputs: 4, over the limit max_inputs=3"):
        json_to_circuit.loads(json.dumps(dense), limits=ModelLimits(max_inputs=3))
    with pytest.raises(ModelFormatError, match="assignments: 10, over the limit max_neurons=5"):
        json_to_circuit.loads(json.dumps(chain(10)), limits=small)
    assert len(json_to_circuit.loads(json.dumps(dense)).assignments) == 7


def test_onnx_deep_relu_chain_is_refused():
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    nodes = []
    for k in range(1, 1200):
        nodes += [helper.make_node("Relu", [f"n{k - 1}" if k > 1 else "x"], [f"r{k}"]),
                  helper.make_node("Neg", [f"r{k}"], [f"n{k}"])]
    graph = helper.make_graph(nodes, "deep", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])],
                              [helper.make_tensor_value_info("n1199", TensorProto.FLOAT, [1, 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    from networks.onnx_to_circuit import load_onnx

    data = model.SerializeToString()
    with pytest.raises(ModelFormatError) as info:
        load_onnx(data)
    assert "depth (longest chain of assignments): 1,200, over the limit max_depth=1,000" in one_line(info)
    assert len(load_onnx(data, limits=ModelLimits(max_depth=1200)).neurons) == 1199


def test_onnx_external_data_is_refused_everywhere(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    secret = tmp_path / "weights.bin"
    secret.write_bytes(b"\0" * 8)
    tensor = helper.make_tensor("W", TensorProto.FLOAT, [1, 2], [1.0, 2.0])
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "weights.bin"
    for as_constant in (False, True):
        nodes = [helper.make_node("MatMul", ["x", "W"], ["y"])]
        inits = [tensor]
        if as_constant:
            nodes.insert(0, helper.make_node("Constant", [], ["W"], value=tensor))
            inits = []
        graph = helper.make_graph(nodes, "ext", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], inits)
        path = tmp_path / f"ext{as_constant}.onnx"
        path.write_bytes(helper.make_model(graph).SerializeToString())
        with pytest.raises(ModelFormatError) as info:
            load_model(path)
        assert "external data" in one_line(info) and "refusing" in str(info.value)


def test_zip_members_are_checked_by_declared_and_real_size():
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("m/data/0", b"\0" * 2_000_000)
    bomb = buffer.getvalue()
    assert len(bomb) < 10_000
    limits = ModelLimits(max_bytes=1_000_000)
    with pytest.raises(ModelFormatError, match="declared uncompressed size .* 2,000,000, over the limit"):
        read_zip(bomb, "bomb.pt", limits)
    lying = _declare_size(bomb, "m/data/0", 1000)  # the member inflates past what it declares
    with pytest.raises(ModelFormatError, match="member m/data/0"):
        read_zip(lying, "lying.pt", limits)
    end = bomb.rindex(b"PK\x05\x06")  # a central directory declaring 60,000 members
    many = bomb[: end + 8] + struct.pack("<HH", 60_000, 60_000) + bomb[end + 12 :]
    with pytest.raises(ModelFormatError, match="declared archive members: 60,000, over the limit"):
        read_zip(many, "many.pt", limits)


def _declare_size(data: bytes, member: str, size: int) -> bytes:
    """``data`` with the central-directory uncompressed size of ``member`` set to ``size``."""
    data = bytearray(data)
    end = data.rindex(b"PK\x05\x06")
    offset = struct.unpack_from("<I", data, end + 16)[0]
    while data[offset : offset + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, offset + 28)
        name = bytes(data[offset + 46 : offset + 46 + name_len]).decode()
        if name == member:
            struct.pack_into("<I", data, offset + 24, size)
        offset += 46 + name_len + extra_len + comment_len
    return bytes(data)


# -- bombs: run in a child process with a memory limit, so a failure cannot take the machine down --
GUARDED = textwrap.dedent("""
    import resource, sys, time
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    from networks.model_files import load_model
    for path in sys.argv[1:]:
        start = time.monotonic()
        try:
            load_model(path)
            print("LOADED", path)
        except Exception as exc:
            print(type(exc).__name__, round(time.monotonic() - start, 2), str(exc).replace("\\n", " | "))
""")


def _onnx_bombs(folder: Path) -> dict[str, str]:
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    def save(name, nodes, inputs, inits=(), output=("y", [1, 1])):
        graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info(n, TensorProto.FLOAT, s)
                                                for n, s in inputs],
                                  [helper.make_tensor_value_info(output[0], TensorProto.FLOAT, output[1])],
                                  list(inits))
        (folder / f"{name}.onnx").write_bytes(helper.make_model(graph).SerializeToString())
        return str(folder / f"{name}.onnx")

    huge_input = save("huge_input", [helper.make_node("Relu", ["x"], ["y"])], [("x", [1, 10**9])])
    assert os.path.getsize(huge_input) < 100  # the 77-byte model of the issue
    empty = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[10**9], raw_data=b"\0" * 4)
    huge_init = save("huge_initializer", [helper.make_node("Mul", ["x", "W"], ["y"])], [("x", [1, 1])], [empty])
    col = helper.make_tensor("c", TensorProto.FLOAT, [3000, 1], [1.0] * 3000)
    row = helper.make_tensor("r", TensorProto.FLOAT, [1, 3000], [1.0] * 3000)
    fold = save("constant_fold", [helper.make_node("MatMul", ["c", "r"], ["p"]),
                                  helper.make_node("Mul", ["x", "p"], ["y"])], [("x", [1, 1])], [col, row])
    return {huge_input: "max_inputs", huge_init: "declared shape", fold: "max_weights"}


def _pt_bombs(folder: Path) -> dict[str, str]:
    torch = pytest.importorskip("torch")
    good = folder / "good.pt"
    torch.save({"0.weight": torch.ones(1, 2)}, good)
    with zipfile.ZipFile(good) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    root = next(iter(members)).split("/")[0]
    with zipfile.ZipFile(folder / "bomb.pt", "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
        archive.writestr(f"{root}/data/9", bytes(80 << 20))  # 80 MiB of zeros, ~80 KB packed
    lying = _declare_size((folder / "bomb.pt").read_bytes(), f"{root}/data/9", 64)
    (folder / "lying.pt").write_bytes(lying)
    torch.save({"0.weight": torch.zeros(1).expand(1, 10**9)}, folder / "stride0.pt")  # 1e9 views of 1
    return {str(folder / "bomb.pt"): "max_bytes", str(folder / "lying.pt"): "member",
            str(folder / "stride0.pt"): "max_weights"}


def test_bombs_are_refused_before_anything_is_allocated(tmp_path):
    cases = _onnx_bombs(tmp_path) | _pt_bombs(tmp_path)
    assert os.path.getsize(tmp_path / "bomb.pt") < 1_000_000  # the 1 MB zip bomb of the issue
    run = subprocess.run([sys.executable, "-c", GUARDED, *cases], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    lines = run.stdout.strip().splitlines()
    assert run.returncode == 0 and not run.stderr.strip(), run.stderr[-2000:]
    assert len(lines) == len(cases), run.stdout
    for line, (path, fragment) in zip(lines, cases.items()):
        kind, seconds, message = line.split(" ", 2)
        assert kind == "ModelFormatError" and fragment in message, (path, line)
        assert float(seconds) < 10, line
