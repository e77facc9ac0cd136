"""The hostile-input corpus: each case runs the CLI in a fresh subprocess under a wall-clock and a
memory limit, and must end with its documented exit code, at most 3 lines on stderr, no traceback,
no marker file from any payload, and nothing written outside the paths it asked for.

Payload files (pickles that would create a marker file, zip bombs, an ONNX model declaring a huge
input, a 30,000-deep JSON chain, FIFOs, ...) are generated here into each case's own folder; none
is committed. Cases run a few at a time (``JOBS`` processes) from one thread, so the whole corpus
takes about a minute on 2 cores. ``python tests/proofs/test_hostile_inputs.py`` prints the corpus
by group with counts.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import io
import json
import os
import pickle
import re
import resource
import signal
import stat
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JOBS = 3  # concurrent CLI processes (2 cores: start-up is mostly import time)
MEMORY_BYTES = 4 * 2**30  # RLIMIT_AS of each case; torch and onnx start in well under 1.5 GiB
WALL_S = 60.0  # default wall-clock limit of each case
MAX_STDERR_LINES = 3
OUT_OF_MEMORY = re.compile(r"MemoryError|out of memory|bad_alloc|Cannot allocate memory|DefaultCPUAllocator")
MARKER = "PWNED"  # every payload tries to create this file in its case's folder
#: what a run may leave in its HOME: matplotlib's font cache (reports draw plots with matplotlib)
HOME_CACHE_DIRS = {".cache", ".cache/matplotlib", ".config", ".config/matplotlib"}
HOME_CACHE_FILES = ".cache/matplotlib/fontlist-"


@dataclasses.dataclass(frozen=True)
class Case:
    """One CLI run. ``argv`` builds the command line in the case's folder (writing any input files
    there); ``writes`` are the paths (relative to that folder; ``dir/`` is a folder and everything in
    it) the run may create or change."""

    group: str
    name: str
    argv: Callable[[Path], list[str]]
    codes: tuple[int, ...] = (2,)
    writes: tuple[str, ...] = ()
    stdout: str = "file"  # "file", "full" (/dev/full) or "closed" (a pipe whose reader is gone)
    wall_s: float = WALL_S
    file_bytes: int = 2**30  # RLIMIT_FSIZE: a small one makes writing a file fail as on a full disk
    needs: str | None = None  # an optional package the payload generator needs
    waiting: str | None = None  # xfail(strict=True) reason: the fix belongs to another change

    @property
    def id(self) -> str:
        return f"{self.group}-{self.name}"


def fixed(*argv: str) -> Callable[[Path], list[str]]:
    return lambda folder: list(argv)


# -- payload builders --------------------------------------------------------------------------------------
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


BOMB_MIB = 3840  # 3.75 GiB of zeros from about 4 MB: more than MEMORY_BYTES leaves free


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


# -- torch and onnx artifacts, built once per session ------------------------------------------------------
@pytest.fixture(scope="session")
def artifacts(tmp_path_factory) -> dict:
    return build_artifacts(tmp_path_factory.mktemp("corpus-artifacts"))


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
    import onnx
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


# -- the corpus --------------------------------------------------------------------------------------------
BUDGET = "one wall-clock budget for --timeout across every method (verify)"
NAMES = "generated neuron names that avoid the model's own input names (loaders, canonicalisation)"
STARTUP_S = 8.0  # allowance for interpreter start-up and imports on a loaded 2-core machine


def random_mlp(folder: Path, name: str, width: int = 32) -> str:
    """A 2-input, two-hidden-layer MLP with seeded random float weights: slow to decide exactly."""
    import random

    rng = random.Random(0)

    def layer(rows: int, cols: int) -> dict:
        return {"W": [[rng.uniform(-1, 1) for _ in range(cols)] for _ in range(rows)],
                "b": [rng.uniform(-1, 1) for _ in range(rows)]}

    return write_json(folder, name, {"layers": [layer(width, 2), layer(width, width), layer(1, width)]})


def budget_case(name: str, command: str, *extra: str) -> Case:
    """``--timeout 1`` must hold for the whole command: 10% + 1 s, plus start-up."""
    return Case("arguments", name, lambda f: [command, random_mlp(f, "big.json"), *extra, "--timeout", "1"],
                codes=(0, 1, 3), wall_s=1.1 + 1 + STARTUP_S, waiting=BUDGET)


def check_json(model: str, *extra: str, target: str = "min(x1, x2)", domain: str = "[-1, 1]^2"):
    return lambda folder: ["check", model, "--target", target, "--domain", domain, *extra]


def expressions() -> list[Case]:
    claim = "claim"
    return [
        Case("expressions", "eval-import", fixed(claim, "__import__('os').system('touch PWNED')", "--target", "x")),
        Case("expressions", "dunder-attribute", fixed(claim, "relu(x)", "--target", "x.__class__")),
        Case("expressions", "lambda", fixed(claim, "relu(x)", "--target", "lambda: 1")),
        Case("expressions", "f-string", fixed(claim, "relu(x)", "--target", "f'{open(\"PWNED\", \"w\")}'")),
        Case("expressions", "nested-5000", fixed(claim, "(" * 5000 + "x" + ")" * 5000, "--target", "x")),
        Case("expressions", "relu-nested-3000", fixed(claim, "relu(" * 3000 + "x" + ")" * 3000, "--target", "x")),
        Case("expressions", "product-of-inputs", fixed(claim, "x*y", "--target", "x")),
        Case("expressions", "power", fixed(claim, "x**2", "--target", "x")),
        Case("expressions", "sin", fixed(claim, "sin(x)", "--target", "x")),
        Case("expressions", "empty-network", fixed(claim, "", "--target", "x")),
        Case("expressions", "escape-codes", fixed(claim, "relu(x)\x1b[2J", "--target", "x")),
        Case("expressions", "cyrillic-x", fixed(claim, "relu(\u0445)", "--target", "x")),
        Case("expressions", "100k-digit-number", fixed(claim, "relu(x)", "--target", "1" * 100_000)),
        Case("expressions", "huge-exponent", fixed(claim, "1e999999999*x", "--target", "x")),
        Case("expressions", "shell-in-inputs", fixed(claim, "relu(x)", "--target", "x", "--inputs", "x; rm -rf /")),
        Case("expressions", "duplicate-parameters", fixed(claim, "relu(w*x)", "--target", "x", "--parameters", "w,w")),
        Case("expressions", "target-nan", fixed(claim, "relu(x)", "--target", "nan")),
        Case("expressions", "target-inf", fixed(claim, "relu(x)", "--target", "inf")),
        Case("expressions", "variable-pi", fixed(claim, "relu(pi)", "--target", "pi")),
        Case("expressions", "variable-zoo", fixed(claim, "relu(zoo)", "--target", "zoo")),
        Case("expressions", "variable-E", fixed(claim, "relu(E)", "--target", "E")),
        Case("expressions", "internal-name-n_h1", fixed(claim, "relu(n_h1)", "--target", "n_h1"), codes=(1,)),
        Case("expressions", "internal-name-n_y", fixed(claim, "2*n_y", "--target", "n_y"), codes=(1,)),
        Case("expressions", "valid-min", fixed(claim, "relu(x1) - relu(-x1) - relu(x1 - x2)", "--target",
                                               "min(x1, x2)", "--domain", "R^2"), codes=(0,)),
    ]


def domains() -> list[Case]:
    def claim(domain: str, network: str = "relu(x)", target: str = "relu(x)"):
        return fixed("claim", network, "--target", target, "--domain", domain)

    return [
        Case("domains", "reversed-interval", claim("x in [2, 1]")),
        Case("domains", "empty-open-interval", claim("x in (0, 0)")),
        Case("domains", "unknown-variable", claim("q in [0, 1]")),
        Case("domains", "code-in-bound", claim("x in [0, __import__('os')]")),
        Case("domains", "bound-1e400", claim("x in [0, 1e400]")),
        Case("domains", "range-to-1e30", claim("x in {0..1e30}")),
        Case("domains", "empty-set", claim("x in {}")),
        Case("domains", "power-mismatch", claim("R^1000000")),
        Case("domains", "repeated-variable", claim("x in [0, 1], x in [2, 3]")),
        Case("domains", "10000-parts", claim(", ".join(["x in [0, 1]"] * 10_000))),
        Case("domains", "garbage", claim("]]]{{{(((")),
        Case("domains", "nan-bound", claim("x in [nan, 1]")),
        Case("domains", "integers-to-1e7", claim("x in {0..10000000}", "relu(x) - relu(-x)", "x"), codes=(0,)),
        Case("domains", "valid-integers", claim("x in {0..15}", "relu(-x + 8) + relu(x - 8)", "abs(x - 8)"),
             codes=(0,)),
    ]


def arguments() -> list[Case]:
    base = ("claim", "relu(x)", "--target", "x")
    model = lambda folder: write_json(folder, "m.json", MIN_NET)  # noqa: E731
    return [
        Case("arguments", "timeout-0", fixed(*base, "--timeout", "0")),
        Case("arguments", "timeout-negative", fixed(*base, "--timeout", "-1")),
        Case("arguments", "timeout-nan", fixed(*base, "--timeout", "nan")),
        Case("arguments", "timeout-inf", fixed(*base, "--timeout", "inf")),
        Case("arguments", "tolerance-negative", fixed(*base, "--tolerance=-1")),
        Case("arguments", "threshold-inf", fixed("claim", "relu(x)", "--target", "x > 0", "--threshold", "inf")),
        Case("arguments", "simplify-tolerance-negative", lambda f: ["simplify", model(f), "--tolerance=-1"]),
        Case("arguments", "simplify-timeout-0", lambda f: ["simplify", model(f), "--timeout", "0"]),
        Case("arguments", "max-model-bytes-0", lambda f: ["check", model(f), "--target", "x1", "--max-model-bytes", "0"]),
        Case("arguments", "unknown-command", fixed("frobnicate")),
        Case("arguments", "no-command", fixed()),
        Case("arguments", "unknown-option", fixed(*base, "--no-such-option")),
        Case("arguments", "explain-bad-set", fixed("explain", "relu(x)", "--set", "h1=1")),
        Case("arguments", "explain-drop-unknown", fixed("explain", "relu(x)", "--drop", "no_such_neuron")),
        Case("arguments", "prove-unknown-theorem", fixed("prove", "no_such_theorem")),
        Case("arguments", "stdout-full-disk", fixed(*base), stdout="full"),
        Case("arguments", "stdout-closed-pipe", fixed("prove", "identity"), codes=(141,), stdout="closed"),
        Case("arguments", "help", fixed("claim", "--help"), codes=(0,)),
        budget_case("timeout-1-simplify", "simplify"),
        budget_case("timeout-1-check-round", "check", "--target", "x1", "--domain", "[-1, 1]^2", "--round"),
        budget_case("timeout-1-explain", "explain"),
    ]


def json_models() -> list[Case]:
    def check(name: str, make: Callable[[Path], str], codes=(2,), waiting=None, target="x", domain="[-1, 1]"):
        return Case("json", name, lambda f: ["check", make(f), "--target", target, "--domain", domain],
                    codes=codes, waiting=waiting)

    def raw(text: bytes):
        return lambda f: put(f, "m.json", text)

    bad_weight = {"layers": [{"W": [[float("nan")]], "b": [0]}]}
    return [
        check("chain-30000", lambda f: write_json(f, "m.json", json_chain(30_000))),
        check("chain-3000", lambda f: write_json(f, "m.json", json_chain(3_000))),
        check("nested-arrays-100000", raw(b"[" * 100_000 + b"]" * 100_000)),
        check("truncated", raw(json.dumps(MIN_NET).encode()[:40])),
        check("garbage", raw(bytes(range(256)) * 4)),
        check("empty", raw(b"")),
        check("nan-weight", raw(json.dumps(bad_weight).encode())),
        check("weight-1e400", raw(b'{"layers": [{"W": [[1e400]], "b": [0]}]}')),
        check("weight-division-by-zero", raw(b'{"layers": [{"W": [["1/0"]], "b": [0]}]}')),
        check("duplicate-keys", raw(b'{"layers": [], "layers": []}')),
        check("100000-inputs", lambda f: write_json(f, "m.json", {"layers": [{"W": [[0] * 100_000], "b": [0]}]})),
        check("fifo", lambda f: fifo(f, "m.json")),
        check("dev-zero", lambda f: link(f, "m.json", "/dev/zero")),
        check("folder", lambda f: (f / "m.json").mkdir() or "m.json"),
        Case("json", "over-max-model-bytes",
             lambda f: ["check", write_json(f, "m.json", MIN_NET), "--target", "min(x1, x2)", "--max-model-bytes",
                        "100"]),
        Case("json", "input-named-n_h1_1", lambda f: ["check", write_json(
            f, "m.json", {"layers": [{"W": [[1]], "b": [0]}, {"W": [[1]], "b": [0]}], "inputs": ["n_h1_1"]}),
            "--target", "n_h1_1"], codes=(1,)),
        Case("json", "input-named-h1_1", lambda f: ["check", write_json(f, "m.json", RELU_H1_1), "--target",
                                                    "relu(h1_1)"], codes=(0,), waiting=NAMES),
        Case("json", "input-named-h1_1-simplify", lambda f: ["simplify", write_json(f, "m.json", RELU_H1_1)],
             codes=(0,), waiting=NAMES),
        Case("json", "explain-fifo", lambda f: ["explain", fifo(f, "m.json")]),
        Case("json", "valid-min", lambda f: ["check", write_json(f, "m.json", MIN_NET), "--target", "min(x1, x2)",
                                             "--domain", "[-1, 1]^2"], codes=(0,)),
    ]


def pt_models(artifacts) -> list[Case]:
    def check(name: str, make: Callable[[Path], str], codes=(2,), waiting=None, target="x1"):
        return Case("pt", name, lambda f: ["check", make(f), "--target", target], codes=codes, needs="torch",
                    waiting=waiting)

    def payload(kind):
        return lambda f: put(f, "m.pt", pickle_of(kind(f / MARKER), artifacts))

    def with_base(fn):
        return lambda f: fn(f) or "m.pt"

    base = artifacts.get("pt")
    return [
        check("pickle-open-marker", payload(OpenMarker)),
        check("pickle-os-system", payload(SystemMarker)),
        check("raw-legacy-pickle", lambda f: put(f, "m.pt", pickle.dumps(OpenMarker(f / MARKER), 2))),
        check("whole-module", lambda f: put(f, "m.pt", pickle_of(__import__("torch").nn.Linear(2, 1), artifacts))),
        check("zip-bomb-declared", with_base(lambda f: zip_bomb(f / "m.pt", base, "data/0", honest=True))),
        check("zip-bomb-lying", with_base(lambda f: zip_bomb(f / "m.pt", base, "data/0", honest=False))),
        check("truncated", lambda f: put(f, "m.pt", base.read_bytes()[:300])),
        check("garbage", lambda f: put(f, "m.pt", os.urandom(4096))),
        check("empty", lambda f: put(f, "m.pt", b"")),
        check("fifo", lambda f: fifo(f, "m.pt")),
        check("dev-zero-pth", lambda f: link(f, "m.pth", "/dev/zero")),
        Case("pt", "over-max-model-bytes", lambda f: ["check", put(f, "m.pt", base.read_bytes()),
                                                       "--target", "x1", "--max-model-bytes", "1K"],
             needs="torch"),
        check("valid", lambda f: put(f, "m.pt", base.read_bytes()), codes=(1,)),
    ]


def pt2_models(artifacts) -> list[Case]:
    def check(name: str, make: Callable[[Path], str], codes=(2,), waiting=None):
        return Case("pt2", name, lambda f: ["check", make(f), "--target", "x1"], codes=codes, needs="torch",
                    waiting=waiting)

    base = artifacts.get("pt2")

    def member(suffix: str, kind=OpenMarker):
        def make(f: Path) -> str:
            replace_member(f / "m.pt2", base, suffix, pickle_of(kind(f / MARKER), artifacts))
            return "m.pt2"
        return make

    def pickled_weight(f: Path) -> str:
        config = json.loads(dict(zip_members(base))[next(n for n, _ in zip_members(base)
                                                         if n.endswith("model_weights_config.json"))])
        for entry in config.get("config", {}).values():
            if isinstance(entry, dict):
                entry["use_pickle"] = True
        members = []
        for name, data in zip_members(base):
            if name.endswith("model_weights_config.json"):
                data = json.dumps(config).encode()
            elif name.endswith("weights/weight_0"):
                data = pickle_of(OpenMarker(f / MARKER), artifacts)
            members.append(stored(name, data))
        write_zip(f / "m.pt2", members)
        return "m.pt2"

    def bytes_of(data: Callable[[], bytes]):
        return lambda f: put(f, "m.pt2", data())

    return [
        # the sample inputs are always a pickle: a loader may leave them unread (verdict 1) or refuse (2)
        check("pickled-sample-inputs", member("sample_inputs/model.pt"), codes=(1, 2)),
        check("pickled-sample-inputs-os-system", member("sample_inputs/model.pt", SystemMarker), codes=(1, 2)),
        check("pickled-weight", pickled_weight),
        check("pickled-constants", member("constants/model_constants_config.json")),
        check("zip-bomb-declared", lambda f: zip_bomb(f / "m.pt2", base, "models/model.json", True) or "m.pt2"),
        check("zip-bomb-lying", lambda f: zip_bomb(f / "m.pt2", base, "models/model.json", False) or "m.pt2"),
        check("truncated", bytes_of(lambda: base.read_bytes()[: len(base.read_bytes()) // 2])),
        check("garbage-model-json", lambda f: replace_member(f / "m.pt2", base, "models/model.json", b"{]")
              or "m.pt2"),
        check("garbage", bytes_of(lambda: os.urandom(4096))),
        check("fifo", lambda f: fifo(f, "m.pt2")),
        check("valid", lambda f: put(f, "m.pt2", base.read_bytes()), codes=(1,)),
    ]


def onnx_models() -> list[Case]:
    def check(name: str, make: Callable[[Path], str], codes=(2,), waiting=None):
        return Case("onnx", name, lambda f: ["check", make(f), "--target", "x1"], codes=codes, needs="onnx",
                    waiting=waiting)

    return [
        check("input-shape-1e9", lambda f: onnx_wide_input(f, "m.onnx", 10**9)),
        check("weight-dims-1e12", lambda f: onnx_model(f, "m.onnx", dims=[10**6, 10**6])),
        check("external-data-passwd", lambda f: onnx_model(f, "m.onnx", external="/etc/passwd")),
        check("external-data-relative", lambda f: onnx_model(f, "m.onnx", external="../../secret.bin")),
        check("unsupported-sin", lambda f: onnx_model(f, "m.onnx", op="Sin")),
        check("chain-3000", lambda f: onnx_chain(f, "m.onnx", 3000)),
        check("truncated", lambda f: put(f, "m.onnx", (f / onnx_model(f, "full.onnx")).read_bytes()[:50])),
        check("garbage", lambda f: put(f, "m.onnx", os.urandom(2048))),
        check("fifo", lambda f: fifo(f, "m.onnx")),
        check("valid", lambda f: onnx_model(f, "m.onnx"), codes=(1,)),
    ]


def census_cases() -> list[Case]:
    def with_file(name: str, lines: list[bytes], *extra: str):
        def make(f: Path) -> list[str]:
            (f / "r.jsonl").write_bytes(b"".join(lines))
            return ["census", "identity", "--seeds", "1", "--out", "r.jsonl", *extra]
        return Case("census", name, make)

    good = json.dumps({"recipe": "identity", "seed": 0, "steps": None, "verdict": "proved",
                       "canonical": "y = x"}).encode() + b"\n"
    return [
        Case("census", "seeds-1e9", fixed("census", "identity", "--seeds", "1000000000")),
        Case("census", "steps-negative", fixed("census", "identity", "--seeds", "1", "--steps=-1")),
        Case("census", "workers-1000", fixed("census", "identity", "--seeds", "1", "--workers", "1000")),
        Case("census", "scheduler-unknown-scheme", fixed("census", "identity", "--seeds", "1", "--scheduler",
                                                         "foo://bar")),
        Case("census", "scheduler-bad-port", fixed("census", "identity", "--seeds", "1", "--scheduler",
                                                   "tcp://host:notaport")),
        Case("census", "scheduler-unreachable", fixed("census", "identity", "--seeds", "1", "--scheduler",
                                                      "tcp://127.0.0.1:9", "--connect-timeout", "2"),
             needs="distributed", wall_s=30),
        Case("census", "out-is-folder", lambda f: (f / "r").mkdir() or ["census", "identity", "--seeds", "1",
                                                                         "--out", "r"]),
        Case("census", "out-unwritable", fixed("census", "identity", "--seeds", "1", "--out", "/sys/kernel/r.jsonl")),
        Case("census", "unknown-recipe", fixed("census", "no_such_recipe", "--seeds", "1")),
        with_file("records-not-utf8", [good, b"\xff\xfe\xfd\n"]),
        with_file("records-not-objects", [b"[1, 2, 3]\n"]),
        with_file("records-no-seed", [b'{"recipe": "identity", "verdict": "proved", "canonical": "y"}\n']),
        with_file("records-seed-not-integer", [good, good.replace(b'"seed": 0', b'"seed": "zero"')]),
        with_file("records-no-verdict", [good.replace(b'"verdict": "proved", ', b"")]),
        with_file("records-other-recipe", [good.replace(b'"identity"', b'"minimum"')]),
        with_file("records-not-json", [b"hello world\n"]),
        Case("census", "out-file-too-large", fixed("census", "identity", "--seeds", "1", "--steps", "5", "--workers",
                                                   "1", "--out", "r.jsonl"), writes=("r.jsonl",), file_bytes=300,
             needs="torch"),
        Case("census", "valid-one-seed", fixed("census", "identity", "--seeds", "1", "--steps", "20", "--workers",
                                               "1", "--out", "r.jsonl", "--json"), codes=(0,), writes=("r.jsonl",),
             needs="torch"),
    ]


def train_cases() -> list[Case]:
    return [
        Case("train", "out-unwritable", fixed("train", "identity", "--seed", "0", "--out", "/sys/kernel/m.json")),
        Case("train", "out-folder", lambda f: (f / "m").mkdir() or ["train", "identity", "--seed", "0", "--out", "m"]),
        Case("train", "out-missing-folder", fixed("train", "identity", "--seed", "0", "--out", "no/such/m.json")),
        Case("train", "out-empty", fixed("train", "identity", "--seed", "0", "--out", "")),
        Case("train", "seed-negative", fixed("train", "identity", "--seed=-1", "--out", "m.json")),
        Case("train", "seed-2-63", fixed("train", "identity", "--seed", str(2**63), "--out", "m.json")),
        Case("train", "steps-negative", fixed("train", "identity", "--seed", "0", "--steps=-1", "--out", "m.json")),
        Case("train", "unknown-recipe", fixed("train", "no_such_recipe", "--seed", "0", "--out", "m.json")),
        Case("train", "out-file-too-large", fixed("train", "identity", "--seed", "0", "--steps", "5", "--out",
                                                  "m.json", "--quiet"), file_bytes=300, needs="torch"),
        Case("train", "valid", fixed("train", "identity", "--seed", "0", "--steps", "5", "--out", "m.json",
                                     "--quiet"), codes=(0,), writes=("m.json",), needs="torch"),
    ]


def report_cases() -> list[Case]:
    return [
        Case("report", "out-empty", fixed("report", "--out", "")),
        Case("report", "out-is-file", lambda f: (f / "r").write_text("x") and ["report", "identity", "--out", "r"]),
        Case("report", "out-under-file", lambda f: (f / "r").write_text("x") and ["report", "--out", "r/sub"]),
        Case("report", "out-unwritable", fixed("report", "identity", "--out", "/sys/kernel/report")),
        Case("report", "format-pdf", fixed("report", "--out", "rep", "--format", "pdf")),
        Case("report", "unknown-theorem", fixed("report", "no_such_theorem", "--out", "rep")),
        Case("report", "prove-report-empty", fixed("prove", "identity", "--report", "")),
        Case("report", "valid", fixed("report", "identity", "--out", "rep", "--format", "md,json"), codes=(0,),
             writes=("rep/",)),
    ]


def corpus(artifacts: dict | None = None) -> list[Case]:
    artifacts = artifacts or {}
    cases = (expressions() + domains() + arguments() + json_models() + pt_models(artifacts)
             + pt2_models(artifacts) + onnx_models() + census_cases() + train_cases() + report_cases())
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
    return cases


CASES = corpus()  # payload builders need the session's artifacts only when they run


# -- running -------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Outcome:
    code: int | None
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool
    before: dict
    after: dict
    others: list[str]  # anything written in the case's HOME or TMPDIR


def snapshot(folder: Path) -> dict:
    """Every path under ``folder`` with its kind and, for files, a digest (FIFOs are never opened)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        mode = path.lstat().st_mode
        rel = str(path.relative_to(folder))
        if stat.S_ISLNK(mode):
            found[rel] = "link:" + os.readlink(path)
        elif stat.S_ISDIR(mode):
            found[rel] = "dir"
        elif stat.S_ISFIFO(mode):
            found[rel] = "fifo"
        elif stat.S_ISREG(mode):
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            found[rel] = "special"
    return found


def _limits(memory: int, file_bytes: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


class Run:
    """A started case: its process, its folders and its deadline."""

    def __init__(self, case: Case, base: Path, artifacts: dict):
        self.case = case
        root = base / case.id
        self.cwd, self.home, self.tmp, self.io = (root / "cwd", root / "home", root / "tmp", root / "io")
        for folder in (self.cwd, self.home, self.tmp, self.io):
            folder.mkdir(parents=True)
        argv = _bind(case, artifacts)(self.cwd)
        self.before = snapshot(self.cwd)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MATHCIRCUITS_", "PYTEST", "COV_"))}
        env.update(HOME=str(self.home), TMPDIR=str(self.tmp), PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1",
                   PYTHONDONTWRITEBYTECODE="1")
        self.stderr = open(self.io / "stderr", "wb")
        read_end = None
        if case.stdout == "full":
            self.stdout = open("/dev/full", "wb")
        elif case.stdout == "closed":
            read_end, write_end = os.pipe()
            self.stdout = os.fdopen(write_end, "wb")
        else:
            self.stdout = open(self.io / "stdout", "wb")
        if read_end is not None:
            os.close(read_end)  # the reader is gone before the CLI writes: `prove | head -0`
        self.start = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-m", "proofs.cli", *argv], cwd=self.cwd, env=env,
                                     stdin=subprocess.DEVNULL, stdout=self.stdout, stderr=self.stderr,
                                     start_new_session=True, preexec_fn=_limits(MEMORY_BYTES, case.file_bytes))
        self.stdout.close()
        self.stderr.close()
        self.timed_out = False

    def poll(self) -> Outcome | None:
        """The outcome once the process has ended (killing it at its deadline), else None."""
        pid, status = os.waitpid(self.proc.pid, os.WNOHANG)
        if pid == 0:
            if time.monotonic() - self.start <= self.case.wall_s:
                return None
            self.timed_out = True
            os.killpg(self.proc.pid, signal.SIGKILL)
            pid, status = os.waitpid(self.proc.pid, 0)
        seconds = time.monotonic() - self.start
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # leftovers of the group (census workers)
        except ProcessLookupError:
            pass
        read = lambda name: (self.io / name).read_text(errors="replace") if (self.io / name).exists() else ""  # noqa: E731
        others = [str(p) for p in self.tmp.rglob("*")]
        cache = [p for p in self.home.rglob("*") if str(p.relative_to(self.home)) in HOME_CACHE_DIRS
                 or str(p.relative_to(self.home)).startswith(HOME_CACHE_FILES)]
        others += [str(p) for p in self.home.rglob("*") if p not in cache]
        return Outcome(None if self.timed_out else self.proc.returncode, read("stdout"), read("stderr"), seconds,
                       self.timed_out, self.before, snapshot(self.cwd), others)


def _bind(case: Case, artifacts: dict) -> Callable[[Path], list[str]]:
    """The case as built with this session's artifacts (payload builders close over them)."""
    for fresh in corpus(artifacts):
        if fresh.id == case.id:
            return fresh.argv
    raise KeyError(case.id)


def run_all(cases: list[Case], base: Path, artifacts: dict, jobs: int = JOBS) -> dict[str, Outcome]:
    queue, running, outcomes = list(cases), [], {}
    while queue or running:
        while queue and len(running) < jobs:
            case = queue.pop(0)
            try:
                running.append(Run(case, base, artifacts))
            except Exception as exc:  # noqa: BLE001 - a broken payload builder fails its own case only
                outcomes[case.id] = f"building the case failed: {type(exc).__name__}: {exc}"
        for run in list(running):
            outcome = run.poll()
            if outcome is not None:
                outcomes[run.case.id] = outcome
                running.remove(run)
        time.sleep(0.02)
    return outcomes


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory, artifacts) -> dict[str, Outcome]:
    """Run every selected case of this module at once (a few processes at a time)."""
    wanted = {item.callspec.params["case"].id for item in request.session.items
              if getattr(item, "callspec", None) and isinstance(item.callspec.params.get("case"), Case)}
    selected = [c for c in corpus(artifacts) if c.id in wanted and _missing(c, artifacts) is None]
    start = time.monotonic()
    found = run_all(selected, tmp_path_factory.mktemp("corpus"), artifacts)
    found["_wall_s"] = time.monotonic() - start  # type: ignore[assignment]
    return found


def _missing(case: Case, artifacts: dict) -> str | None:
    if case.needs == "torch" and "pt" not in artifacts:
        return "torch is not installed"
    if case.needs == "onnx" and "onnx" not in artifacts:
        return "onnx is not installed"
    if case.needs == "distributed":
        try:
            import distributed  # noqa: F401
        except ImportError:
            return "dask.distributed is not installed"
    return None


def _params() -> list:
    return [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=f"waiting for {c.waiting}")]
                         if c.waiting else []) for c in CASES]


@pytest.mark.parametrize("case", _params())
def test_hostile_input(case: Case, outcomes, artifacts):
    why = _missing(case, artifacts)
    if why:
        pytest.skip(why)
    got = outcomes[case.id]
    assert isinstance(got, Outcome), got
    detail = f"exit {got.code} in {got.seconds:.1f} s; stderr:\n{got.stderr[-1500:]}"
    assert not got.timed_out, f"ran past its wall-clock limit of {case.wall_s} s"
    assert not OUT_OF_MEMORY.search(got.stderr), "hit the memory limit: " + detail
    assert got.code in case.codes, f"expected exit {case.codes}: " + detail
    assert "Traceback" not in got.stderr and "Traceback" not in got.stdout, detail
    assert len(got.stderr.splitlines()) <= MAX_STDERR_LINES, detail
    assert MARKER not in got.after, "a payload ran: " + detail
    changed = {p for p in set(got.before) | set(got.after) if got.before.get(p) != got.after.get(p)}
    allowed = {p for p in changed if any(p == w.rstrip("/") or (w.endswith("/") and p.startswith(w))
                                         for w in case.writes)}
    assert changed == allowed, f"wrote outside {case.writes}: {sorted(changed - allowed)[:5]}; " + detail
    assert not got.others, f"wrote into HOME or TMPDIR: {got.others[:5]}"


def test_corpus_size_and_groups():
    counts = collections.Counter(c.group for c in CASES)
    assert sum(counts.values()) >= 80
    assert set(counts) == {"expressions", "domains", "arguments", "json", "pt", "pt2", "onnx", "census", "train",
                           "report"}


def test_zip_helpers_are_what_they_say():
    assert crc32_zeros(3 << 20) == zlib.crc32(bytes(3 << 20)) and crc32_zeros(0) == 0
    assert zlib.decompressobj(-15).decompress(deflated_zeros(3)) == bytes(3 << 20)


def summary() -> str:
    counts = collections.Counter(c.group for c in CASES)
    waiting = collections.Counter(c.group for c in CASES if c.waiting)
    lines = [f"{'group':12s} {'cases':>5s} {'xfail':>5s}"]
    lines += [f"{g:12s} {n:5d} {waiting[g]:5d}" for g, n in counts.items()]
    lines.append(f"{'total':12s} {sum(counts.values()):5d} {sum(waiting.values()):5d}")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    """``--run [GROUP ...]``: run the corpus (or some groups) and print one line per case."""
    print(summary())
    if not argv or argv[0] != "--run":
        return
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="mathcircuits-corpus-"))
    (base / "artifacts").mkdir()
    artifacts = build_artifacts(base / "artifacts")
    cases = [c for c in corpus(artifacts) if (not argv[1:] or c.group in argv[1:]) and not _missing(c, artifacts)]
    start, cpu = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
    found = run_all(cases, base / "runs", artifacts)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    for case in cases:
        got = found[case.id]
        if not isinstance(got, Outcome):
            print(f"{case.id:45s} {got}")
            continue
        first = got.stderr.strip().splitlines()[:1]
        print(f"{case.id:45s} exit {got.code!s:>4s} (want {'/'.join(map(str, case.codes))}) {got.seconds:5.1f} s "
              f"{len(got.stderr.splitlines())} lines {'WAITING ' if case.waiting else ''}"
              f"{first[0][:150] if first else ''}")
    print(f"{len(cases)} cases in {time.monotonic() - start:.1f} s wall, {cpu_s:.1f} s CPU, {JOBS} at a time; "
          f"files in {base}")


if __name__ == "__main__":
    main(sys.argv[1:])
