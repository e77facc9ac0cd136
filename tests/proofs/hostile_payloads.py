"""Hostile model files and payloads for the CLI corpus (tests/proofs/test_hostile_inputs.py).

Everything is generated at test time into a case's own folder; nothing here is a committed binary.
A payload that runs leaves the file ``MARKER`` in that folder. Zip archives are written by hand
(:func:`write_zip`) so that a member may declare any size and hold any deflate stream.

>>> crc32_zeros(5) == zlib.crc32(bytes(5))
True
>>> len(deflated_zeros(1)) < 2000
True
"""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile
import zlib
from pathlib import Path

MARKER = "PWNED"  # every payload tries to create this file in its case's folder


class OpenMarker:
    """Unpickling this calls ``open(<marker>, 'w')``: a payload that leaves a file if it runs."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


class SystemMarker:
    """Unpickling this runs ``os.system('touch <marker>')``."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def put(folder: Path, name: str, data: bytes) -> str:
    (folder / name).write_bytes(data)
    return name


def write_json(folder: Path, name: str, data) -> str:
    (folder / name).write_text(json.dumps(data))
    return name


MIN_NET = {"layers": [{"W": [[1, 0], [-1, 0], [1, -1]], "b": None}, {"W": [[1, -1, -1]], "b": [0]}],
           "activations": ["relu", "linear"]}


RELU_H1_1 = {"layers": [{"W": [[1]], "b": [0]}, {"W": [[1]], "b": [0]}], "inputs": ["h1_1"]}
GRAPH_H1_1 = {"format": "mathcircuits-circuit", "version": 1, "inputs": ["h1_1"], "outputs": ["y"],
              "assignments": [{"name": "a", "weights": {"h1_1": 1}},
                              {"name": "y", "activation": "linear", "weights": {"a": 1}}]}


def json_chain(depth: int) -> dict:
    """``a1 = relu(x), a2 = relu(a1), ...``: a circuit as deep as ``depth``."""
    steps = [{"name": f"a{i}", "weights": {"x" if i == 1 else f"a{i - 1}": 1}} for i in range(1, depth + 1)]
    return {"format": "mathcircuits-circuit", "version": 1, "inputs": ["x"], "assignments": steps,
            "outputs": [f"a{depth}"]}


def fifo(folder: Path, name: str) -> str:
    os.mkfifo(folder / name)
    return name


def link(folder: Path, name: str, target: str) -> str:
    os.symlink(target, folder / name)
    return name


def crc32_zeros(size: int) -> int:
    """zlib.crc32 of ``size`` zero bytes without touching them (zlib's crc32_combine, by doubling)."""

    def multmodp(a: int, b: int) -> int:
        m, p = 1 << 31, 0
        while True:
            if a & m:
                p ^= b
                if not a & (m - 1):
                    return p
            m >>= 1
            b = (b >> 1) ^ 0xEDB88320 if b & 1 else b >> 1

    def shift(crc: int, length: int) -> int:  # crc * x^(8 * length) mod P
        power, k, p = 1 << 30, 0, 1 << 31  # x^1, then x^(2^k)
        n = 8 * length
        while n:
            if n & 1:
                p = multmodp(power, p)
            power, n, k = multmodp(power, power), n >> 1, k + 1
        return multmodp(p, crc)

    crc, block, block_crc = 0, 1, zlib.crc32(b"\0")
    while size:
        if size & 1:
            crc = shift(crc, block) ^ block_crc
        block_crc, block, size = shift(block_crc, block) ^ block_crc, 2 * block, size >> 1
    return crc


def deflated_zeros(mebibytes: int) -> bytes:
    """A raw deflate stream of ``mebibytes`` MiB of zeros, about 1 KiB per MiB (blocks repeated)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block * mebibytes + compressor.flush(zlib.Z_FINISH)


def write_zip(path: Path, members: list[tuple[str, bytes, int, int, int]]) -> None:
    """A zip from ``(name, raw data, method, crc, declared size)``: raw data is written as given
    (already deflated for method 8), so a member may declare any size."""
    body, central = io.BytesIO(), io.BytesIO()
    for name, data, method, crc, size in members:
        offset, encoded = body.tell(), name.encode()
        fields = (20, 0, method, 0, 0x21, crc, len(data), size, len(encoded), 0)
        body.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields) + encoded + data)
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, *fields, 0, 0, 0, 0, offset) + encoded)
    start, directory = body.tell(), central.getvalue()
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(directory), start, 0)
    path.write_bytes(body.getvalue() + directory + end)


def stored(name: str, data: bytes) -> tuple[str, bytes, int, int, int]:
    return (name, data, 0, zlib.crc32(data), len(data))


def zip_members(path: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        return [(info.filename, archive.read(info.filename)) for info in archive.infolist()]


BOMB_MIB = 3840  # 3.75 GiB of zeros from about 4 MB: more than a 4 GiB address space leaves free


def zip_bomb(path: Path, base: Path, member_suffix: str, honest: bool) -> None:
    """``base`` with the member ending in ``member_suffix`` replaced by a deflated 3.75 GiB of zeros,
    declared at its real size (``honest``) or as 24 bytes."""
    members = []
    for name, data in zip_members(base):
        if name.endswith(member_suffix):
            size = BOMB_MIB << 20
            members.append((name, BOMB, 8, crc32_zeros(size) if honest else 0, size if honest else 24))
        else:
            members.append(stored(name, data))
    write_zip(path, members)


BOMB = deflated_zeros(BOMB_MIB)


def replace_member(path: Path, base: Path, member_suffix: str, payload: bytes) -> None:
    write_zip(path, [stored(name, payload if name.endswith(member_suffix) else data)
                     for name, data in zip_members(base)])


def build_artifacts(folder: Path) -> dict:
    """A small torch model saved as .pt and .pt2 (the bases of the torch payloads), when torch is
    installed; ``onnx`` when onnx is."""
    found: dict = {"folder": folder}
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
        torch.save(model.state_dict(), folder / "m.pt")
        program = torch.export.export(model, (torch.zeros(1, 2),))
        torch.export.save(program, folder / "m.pt2")
        found["torch_save"] = torch.save
        found["pt"], found["pt2"] = folder / "m.pt", folder / "m.pt2"
    try:
        import onnx  # noqa: F401
    except ImportError:
        pass
    else:
        found["onnx"] = True
    return found


def pickle_of(obj, artifacts) -> bytes:
    """``torch.save(obj)`` as bytes (a zip whose data.pkl would run the payload)."""
    buffer = io.BytesIO()
    artifacts["torch_save"](obj, buffer)
    return buffer.getvalue()


def onnx_model(folder: Path, name: str, *, shape=(1, 2), op="Relu", external=None, dims=None) -> str:
    """A small ONNX model ``y = op(x @ W)``; options make it hostile."""
    from onnx import TensorProto, helper

    weight = helper.make_tensor("W", TensorProto.FLOAT, [2, 1], [1.0, 1.0])
    del weight.dims[:]
    weight.dims.extend(dims or [shape[1], 1])  # hostile variants declare more than the 2 values held
    if external is not None:
        weight.ClearField("raw_data")
        weight.ClearField("float_data")
        weight.data_location = TensorProto.EXTERNAL
        weight.external_data.add(key="location", value=external)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node(op, ["h"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [shape[0], 1])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    (folder / name).write_bytes(model.SerializeToString())
    return name


def onnx_wide_input(folder: Path, name: str, width: int) -> str:
    """``y = relu(x)`` declared on an input of shape [1, width]: about 100 bytes whatever the width."""
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "wide",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, width])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    (folder / name).write_bytes(model.SerializeToString())
    return name


def onnx_chain(folder: Path, name: str, depth: int) -> str:
    """``y = relu(relu(... (x + 1) ...) + 1)``: ``depth`` Add/Relu pairs."""
    from onnx import TensorProto, helper

    nodes, previous = [], "x"
    for i in range(depth):
        nodes += [helper.make_node("Add", [previous, "one"], [f"a{i}"]), helper.make_node("Relu", [f"a{i}"], [f"r{i}"])]
        previous = f"r{i}"
    nodes.append(helper.make_node("Identity", [previous], ["y"]))
    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])], [one])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    (folder / name).write_bytes(model.SerializeToString())
    return name


def random_mlp(folder: Path, name: str, width: int = 32) -> str:
    """A 2-input, two-hidden-layer MLP with seeded random float weights: slow to decide exactly."""
    import random

    rng = random.Random(0)

    def layer(rows: int, cols: int) -> dict:
        return {"W": [[rng.uniform(-1, 1) for _ in range(cols)] for _ in range(rows)],
                "b": [rng.uniform(-1, 1) for _ in range(rows)]}

    return write_json(folder, name, {"layers": [layer(width, 2), layer(width, width), layer(1, width)]})
