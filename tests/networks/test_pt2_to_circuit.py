"""The .pt2 reader never unpickles: crafted archives that would run code under torch.export.load
are refused in one line (exit 2 from the CLI), broken ones give one line and no torch logging."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import zipfile
from fractions import Fraction
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from networks.model_files import load_model  # noqa: E402
from networks.pt2_to_circuit import load_pt2  # noqa: E402
from networks.torch_to_circuit import from_module  # noqa: E402
from symbolic.errors import ModelFormatError, UnsupportedLayerError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


class Payload:
    """Unpickling this touches ``marker``: what a crafted archive would run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class Normalised(nn.Module):
    """Constants, buffers, a dynamic batch and most aten operations the reader supports."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 3))
        self.register_buffer("mean", torch.tensor([0.5, -1.0, 0.25, 0.0, 2.0]))
        self.shift = torch.tensor([1.0, 2.0, 3.0])

    def forward(self, x):
        z = (x.flatten(1) - self.mean) / 4
        y = self.net(z) + self.shift
        return torch.cat([y, -y[:, 0:1]], dim=1).view(x.size(0), -1)


def exported(tmp_path, module=None, name="net.pt2", dynamic=True) -> Path:
    torch.manual_seed(3)
    module = module or Normalised()
    kwargs = {"dynamic_shapes": {"x": {0: torch.export.Dim("batch")}}} if dynamic else {}
    program = torch.export.export(module, (torch.randn(4, 1, 5),), **kwargs)
    path = tmp_path / name
    torch.export.save(program, path)
    return path


def rewrite(src: Path, dst: Path, edit) -> Path:
    """Copy the archive, ``edit(name, bytes) -> bytes | None`` deciding each member's content."""
    with zipfile.ZipFile(src) as archive, zipfile.ZipFile(dst, "w") as out:
        for info in archive.infolist():
            content = edit(info.filename, archive.read(info))
            if content is not None:
                out.writestr(info.filename, content)
    return dst


def test_round_trip_with_buffers_constants_and_a_dynamic_batch(tmp_path):
    torch.manual_seed(3)
    module = Normalised()
    path = exported(tmp_path, module)
    circuit = load_pt2(path)
    assert circuit.inputs == tuple(f"x{i}" for i in range(1, 6)) and len(circuit.outputs) == 4
    for seed in range(3):
        x = torch.randn(1, 1, 5, generator=torch.Generator().manual_seed(seed))
        want = module(x).detach().double().ravel().tolist()
        got = circuit.evaluate({f"x{i + 1}": Fraction(float(v)) for i, v in enumerate(x.ravel())})
        assert all(abs(float(g) - w) <= 1e-5 * max(1, abs(w)) for g, w in zip(got, want))
    named = load_model(path, vnnlib_names=True)
    assert named.inputs[0] == "X_0" and named.outputs == ("Y_0", "Y_1", "Y_2", "Y_3")


def test_reading_needs_neither_torch_nor_pickle(tmp_path):
    path = exported(tmp_path, nn.Sequential(nn.Flatten(), nn.Linear(5, 2)), dynamic=False)
    code = ("import sys, pickle; sys.modules['torch'] = None; "
            "pickle.loads = pickle.load = pickle.Unpickler = None; "
            "from networks.model_files import load_model; "
            f"print(load_model({str(path)!r}).inputs)")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-1500:]
    assert run.stdout.strip() == str(tuple(f"x{i}" for i in range(1, 6)))


def _pickled_weight(tmp_path, marker) -> Path:
    """A .pt2 whose first weight says ``use_pickle`` and holds a payload (torch.load, weights_only=False)."""
    src = exported(tmp_path, name="good.pt2")

    def edit(name, content):
        if name.endswith("_weights_config.json"):
            config = json.loads(content)
            first = next(iter(config["config"].values()))
            first["use_pickle"] = True
            return json.dumps(config).encode()
        if name.endswith("/data/weights/weight_0"):
            return pickle.dumps(Payload(marker))
        return content

    return rewrite(src, tmp_path / "evil_weight.pt2", edit)


def _custom_object(tmp_path, marker) -> Path:
    src = exported(tmp_path, name="good2.pt2")

    def edit(name, content):
        if name.endswith("_constants_config.json"):
            config = json.loads(content)
            for meta in config["config"].values():
                meta["path_name"] = "custom_obj_0"
            return json.dumps(config).encode()
        if name.endswith("/data/constants/tensor_0"):
            return None
        return content

    path = rewrite(src, tmp_path / "evil_object.pt2", edit)
    with zipfile.ZipFile(path, "a") as archive:
        root = archive.namelist()[0].split("/")[0]
        archive.writestr(f"{root}/data/constants/custom_obj_0", pickle.dumps(Payload(marker)))
    return path


def _legacy_layout(tmp_path, marker) -> Path:
    path = tmp_path / "evil_legacy.pt2"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("evil/serialized_exported_program.json", b"{}")
        archive.writestr("evil/serialized_state_dict.pt", pickle.dumps(Payload(marker)))
    return path


def _pickled_config(tmp_path, marker) -> Path:
    src = exported(tmp_path, name="good3.pt2")
    return rewrite(src, tmp_path / "evil_config.pt2", lambda name, content: pickle.dumps(
        Payload(marker)) if name.endswith("_constants_config.json") else content)


@pytest.mark.parametrize("craft", [_pickled_weight, _custom_object, _legacy_layout, _pickled_config])
def test_archives_with_pickled_members_are_refused_unread(tmp_path, craft):
    marker = tmp_path / "pwned"
    path = craft(tmp_path, marker)
    with pytest.raises(ModelFormatError) as info:
        load_model(path)
    text = str(info.value)
    assert "\n" not in text and text.startswith("refusing to load") and "pickle" in text
    assert not marker.exists()


def test_torch_export_load_would_have_run_the_payload(tmp_path):
    """The crafted file is a real attack: torch's own loader runs it (which is why we do not)."""
    marker = tmp_path / "pwned"
    path = _pickled_weight(tmp_path, marker)
    code = f"import torch; torch.export.load({str(path)!r})"
    subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300)
    assert marker.exists()


def test_sample_inputs_are_never_opened(tmp_path):
    marker = tmp_path / "pwned"
    src = exported(tmp_path)
    path = rewrite(src, tmp_path / "inputs.pt2", lambda name, content: pickle.dumps(Payload(marker))
                   if "/sample_inputs/" in name else content)
    assert load_model(path).evaluate({f"x{i}": 0 for i in range(1, 6)}) == load_model(src).evaluate(
        {f"x{i}": 0 for i in range(1, 6)})
    assert not marker.exists()


def test_cli_refuses_a_malicious_pt2_with_one_line_and_exit_2(tmp_path):
    marker = tmp_path / "pwned"
    path = _pickled_weight(tmp_path, marker)
    code = "import sys; from proofs.cli import main; sys.exit(main(sys.argv[1:]))"
    run = subprocess.run([sys.executable, "-c", code, "check", str(path), "--target", "x1",
                          "--domain", "[-1, 1]^5"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr and "refusing" in run.stderr
    assert not marker.exists()


def test_broken_archives_give_one_line_and_nothing_logged(tmp_path, capfd):
    good = exported(tmp_path)
    data = good.read_bytes()
    broken = {"truncated.pt2": data[: len(data) // 2], "garbage.pt2": b"\x00garbage" * 50, "empty.pt2": b"",
              "plain_zip.pt2": _zip({"a/readme": b"hello"})}

    def mangle(target, new):
        return lambda name, content: new if name.endswith(target) else content

    edits = {"json.pt2": mangle("/models/model.json", b"{"),
             "schema.pt2": mangle("/models/model.json", b'{"graph_module": 3}'),
             "short_weight.pt2": mangle("/data/weights/weight_0", b"\0\0"),
             "no_weight.pt2": mangle("/data/weights/weight_0", None),
             "deep.pt2": mangle("/models/model.json", b"[" * 100_000)}
    for name, content in broken.items():
        (tmp_path / name).write_bytes(content)
    for name, edit in edits.items():
        rewrite(good, tmp_path / name, edit)
    capfd.readouterr()
    for name in [*broken, *edits]:
        with pytest.raises(ModelFormatError) as info:
            load_model(tmp_path / name)
        assert "\n" not in str(info.value) and name in str(info.value), str(info.value)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def _zip(members: dict) -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_unsupported_aten_operations_are_listed(tmp_path):
    class Sine(nn.Module):
        def forward(self, x):
            return torch.sin(x) + torch.cos(x)

    path = exported(tmp_path, Sine(), dynamic=False)
    with pytest.raises(UnsupportedLayerError, match=r"2 unsupported.*sin.*cos"):
        load_model(path)


def test_matches_the_module_it_came_from(tmp_path):
    module = nn.Sequential(nn.Flatten(), nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
    from_pt2 = load_model(exported(tmp_path, module, dynamic=False))
    direct = from_module(nn.Sequential(*list(module)[1:]))
    for k in range(4):
        point = {f"x{i}": Fraction(k * i - 3, 7) for i in range(1, 6)}
        assert from_pt2.evaluate(point) == direct.evaluate(point)
