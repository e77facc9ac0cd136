"""Tests of the torch importers: modules (Sequential fast path, fx), state dicts, .pt2 files."""

from __future__ import annotations

import copy
import os
import pickle
import random
from fractions import Fraction
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from networks import json_to_circuit  # noqa: E402
from networks.model_files import load_model  # noqa: E402
from networks.torch_to_circuit import (  # noqa: E402
    from_exported_program, from_module, load_exported_program, load_state_dict_file,
)
from symbolic.errors import ModelFormatError, UnsupportedLayerError  # noqa: E402

BENCH = Path(__file__).resolve().parents[2].parent / "shared" / "bench" / "models"


class MinModel(nn.Module):
    """The article's min model: an output Linear(4, 1) over [a, b, R1, R2]."""

    def __init__(self):
        super().__init__()
        self.r1 = nn.Linear(2, 1)
        self.r2 = nn.Linear(2, 1)
        self.out = nn.Linear(4, 1)

    def forward(self, x):
        a = x[:, 0:1]
        b = x[:, 1:2]
        h = torch.cat([a, b, torch.relu(self.r1(x)), torch.relu(self.r2(x))], dim=1)
        return self.out(h)


class Fancy(nn.Module):
    """Most supported fx operations in one module."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(3, 3))
        self.b = nn.Parameter(torch.randn(3))
        inner = nn.Sequential(nn.Linear(4, 2), nn.Sigmoid())
        self.seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), inner)
        self.register_buffer("scale", torch.tensor([0.5, -2.0]))

    def forward(self, x):
        h = F.linear(x, self.w, self.b).relu()
        col = x[..., 1].unsqueeze(1)
        z = self.seq(h) * self.scale + col / 3 - x[:, 0:1] * 0.25
        z = torch.concat([z, -col, (x[:, 2] - x[:, 0]).view(-1, 1)], dim=-1)
        z = z.view(x.size(0), -1)
        return torch.flatten(F.relu(z) - 0.5 * z, 1) + 1


class Wrap(nn.Module):
    """Hides a Sequential from the fast path, so that torch.fx traces it."""

    def __init__(self, seq):
        super().__init__()
        self.seq = seq

    def forward(self, x):
        return self.seq(x)


def sequential(widths, bias=True, activation="relu", seed=0):
    torch.manual_seed(seed)
    layers = []
    for k, (n_in, n_out) in enumerate(zip(widths, widths[1:])):
        layers.append(nn.Linear(n_in, n_out, bias=bias))
        if k < len(widths) - 2:
            act = activation if activation != "mixed" else ("relu", "sigmoid")[k % 2]
            layers.append(nn.ReLU() if act == "relu" else nn.Sigmoid())
    return nn.Sequential(*layers)


def rational_points(names, count=4, seed=1):
    rng = random.Random(seed)
    return [
        {n: Fraction(rng.randint(-300, 300), rng.randint(1, 97)) for n in names}
        for _ in range(count)
    ]


def assert_matches_torch(circuit, model, width, count=50, seed=0):
    """Exact circuit vs float64 copy (1e-9 relative) and float32 model (1e-5 relative)."""
    gen = torch.Generator().manual_seed(seed)
    xs = torch.rand(count, width, generator=gen) * 6 - 3
    with torch.no_grad():
        y32 = copy.deepcopy(model).float().eval()(xs).reshape(count, -1)
        y64 = copy.deepcopy(model).double().eval()(xs.double()).reshape(count, -1)
    exact = not any(a.activation.value == "sigmoid" for a in circuit.assignments)
    for row, r32, r64 in zip(xs, y32.tolist(), y64.tolist()):
        values = circuit.evaluate(dict(zip(circuit.inputs, (Fraction(float(v)) for v in row))))
        assert len(values) == len(r64)
        for value, a32, a64 in zip(values, r32, r64):
            assert isinstance(value, Fraction) or not exact
            assert abs(float(value) - a64) <= 1e-9 * max(1.0, abs(a64))
            assert abs(float(value) - a32) <= 1e-5 * max(1.0, abs(a32))


def assert_same_function(c1, c2):
    assert c1.inputs == c2.inputs
    for point in rational_points(c1.inputs):
        assert c1.evaluate(point) == c2.evaluate(point)


SEQUENTIALS = [
    ([2, 4, 1], True, "relu"),
    ([3, 8, 8, 2], False, "relu"),
    ([1, 5, 1], True, "relu"),
    ([4, 3, 3, 3, 1], True, "relu"),
    ([5, 16, 3], False, "relu"),
    ([2, 6, 2], True, "sigmoid"),
    ([3, 4, 4, 1], False, "mixed"),
]


@pytest.mark.parametrize("widths, bias, activation", SEQUENTIALS)
def test_random_sequentials_match_torch(widths, bias, activation):
    model = sequential(widths, bias, activation, seed=len(widths) * 10 + widths[1])
    fast = from_module(model)
    assert_matches_torch(fast, model, widths[0])
    traced = from_module(Wrap(model))  # the torch.fx path
    assert_matches_torch(traced, model, widths[0])
    if activation == "relu":
        assert_same_function(fast, traced)


@pytest.mark.parametrize("model", [
    nn.Sequential(
        nn.Flatten(), nn.Sequential(nn.Linear(3, 4), nn.Identity(), nn.ReLU()), nn.ReLU()
    ),
    nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2), nn.ReLU(), nn.Linear(2, 2, bias=False)),
    nn.Sequential(nn.ReLU(), nn.Linear(3, 2), nn.Sigmoid(), nn.Sigmoid(), nn.Linear(2, 1)),
], ids=["nested-ending-relu", "linear-linear", "leading-activation"])
def test_sequential_variants(model):
    torch.manual_seed(5)
    for p in model.parameters():
        nn.init.normal_(p)
    assert_matches_torch(from_module(model), model, 3)
    assert_matches_torch(from_module(Wrap(model)), model, 3)


def test_min_model_imports_and_matches_torch():
    torch.manual_seed(3)
    model = MinModel()
    circuit = from_module(model)
    assert circuit.inputs == ("x1", "x2") and circuit.outputs == ("y",)
    assert len(circuit.neurons) == 2
    assert_matches_torch(circuit, model, 2)
    named = from_module(model, input_names=["a", "b"])
    assert named.inputs == ("a", "b")
    for point in rational_points(["a", "b"]):
        assert named.evaluate(point) == circuit.evaluate({"x1": point["a"], "x2": point["b"]})


def test_min_model_with_exact_weights_is_min():
    model = MinModel()
    with torch.no_grad():
        model.r1.weight.copy_(torch.tensor([[1.0, -1.0]]))
        model.r2.weight.copy_(torch.tensor([[-1.0, 1.0]]))
        model.out.weight.copy_(torch.tensor([[0.5, 0.5, -0.5, -0.5]]))
        for layer in (model.r1, model.r2, model.out):
            layer.bias.zero_()
    circuit = from_module(model, input_names=["a", "b"])
    for point in rational_points(["a", "b"], count=10):
        assert circuit.evaluate(point) == (min(point["a"], point["b"]),)


def test_fancy_module_via_fx_and_export():
    torch.manual_seed(7)
    model = Fancy()
    traced = from_module(model)
    assert traced.inputs == ("x1", "x2", "x3") and len(traced.outputs) == 4
    assert_matches_torch(traced, model, 3)
    program = torch.export.export(model, (torch.randn(5, 3),))
    for exported in (from_exported_program(program), from_module(program.run_decompositions())):
        for point in rational_points(traced.inputs, count=3):
            want = [float(v) for v in traced.evaluate(point)]
            assert [float(v) for v in exported.evaluate(point)] == want


def test_several_placeholders_are_named_after_the_arguments():
    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 3)

        def forward(self, a, b):
            return self.lin(torch.cat([a, b], 1)).relu() - a

    torch.manual_seed(2)
    model = TwoInputs()
    circuit = from_module(model)
    assert circuit.inputs == ("a", "b")
    xs = torch.rand(50, 2, dtype=torch.float64) * 4 - 2
    m64 = copy.deepcopy(model).double()
    for row in xs:
        want = m64(row[None, :1], row[None, 1:])[0].tolist()
        got = circuit.evaluate({"a": Fraction(float(row[0])), "b": Fraction(float(row[1]))})
        assert all(abs(float(g) - w) <= 1e-9 * max(1, abs(w)) for g, w in zip(got, want))
    assert from_module(model, input_names=["p", "q"]).inputs == ("p", "q")


def test_unsupported_nodes_are_all_listed_in_one_error():
    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 1)
            self.lin = nn.Linear(2, 2)

        def forward(self, x):
            return torch.sin(self.lin(x)) + self.conv(x) + torch.tanh(x)

    with pytest.raises(UnsupportedLayerError) as info:
        from_module(Bad())
    message = str(info.value)
    assert "3 unsupported" in message
    for name in ("sin (call_function torch.sin)", "conv (Conv2d module)", "tanh"):
        assert name in message
    assert "\n" not in message


def test_unsupported_products_and_layers():
    class Product(nn.Module):
        def forward(self, x):
            return x[:, 0:1] * x[:, 1:2]

    with pytest.raises(UnsupportedLayerError, match="product of two input-dependent"):
        from_module(Product(), input_width=2)
    with pytest.raises(UnsupportedLayerError, match="Tanh module"):
        from_module(nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1)))

    class Branchy(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(UnsupportedLayerError, match="cannot trace Branchy"):
        from_module(Branchy(), input_width=2)


def test_input_names_defaults_override_and_count():
    assert from_module(nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 1))).inputs == ("x",)
    seq = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    assert from_module(seq).inputs == ("x1", "x2", "x3")
    assert from_module(seq, input_names=["u", "v", "w"]).inputs == ("u", "v", "w")
    assert from_module(Wrap(seq)).inputs == ("x1", "x2", "x3")
    for module in (seq, Wrap(seq), MinModel()):
        with pytest.raises(ModelFormatError, match="input names given"):
            from_module(module, input_names=["a"])
    with pytest.raises(ModelFormatError, match="input_width=4"):
        from_module(seq, input_width=4)
    assert from_module(nn.Sequential(nn.ReLU()), input_width=2).inputs == ("x1", "x2")
    with pytest.raises(ModelFormatError, match="input width"):
        from_module(nn.ReLU())


# -- state dicts ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "widths, bias", [([2, 4, 1], True), ([3, 5, 5, 2], False), ([2, 8, 8, 1], True)]
)
def test_state_dict_round_trip(tmp_path, widths, bias):
    model = sequential(widths, bias, seed=11)
    path = tmp_path / "net.pt"
    torch.save(model.state_dict(), path)
    circuit = load_state_dict_file(path)
    assert circuit == from_module(model)
    assert_matches_torch(circuit, model, widths[0])
    assert load_model(path) == circuit
    pth = tmp_path / "net.pth"
    torch.save({"state_dict": model.state_dict(), "epoch": 3}, pth)
    names = ["a", "b", "c"][: widths[0]]
    assert load_model(pth, input_names=names).inputs == tuple(names)


def test_state_dict_without_gap_means_no_activation(tmp_path):
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    holder = nn.Module()
    holder.net = model
    torch.save(holder.state_dict(), tmp_path / "net.pt")  # keys net.0.weight, net.1.weight
    circuit = load_state_dict_file(tmp_path / "net.pt")
    assert not circuit.neurons
    assert_matches_torch(circuit, model, 2)


def test_state_dict_with_architecture(tmp_path):
    torch.manual_seed(4)
    model = MinModel()
    torch.save(model.state_dict(), tmp_path / "min.pt")
    fresh = MinModel()
    before = [p.clone() for p in fresh.parameters()]
    circuit = load_state_dict_file(tmp_path / "min.pt", architecture=fresh, input_names=["a", "b"])
    assert all(torch.equal(p, q) for p, q in zip(before, fresh.parameters()))  # not modified
    assert_same_function(circuit, from_module(model, input_names=["a", "b"]))
    assert_same_function(load_model(tmp_path / "min.pt", ["a", "b"], MinModel()), circuit)
    with pytest.raises(ModelFormatError, match="weights do not fit the architecture"):
        load_state_dict_file(tmp_path / "min.pt", architecture=sequential([2, 3, 1]))
    with pytest.raises(ModelFormatError, match="cannot infer the architecture"):
        load_state_dict_file(tmp_path / "min.pt")  # keys r1.weight, ... need architecture=


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_with_code_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    plain = tmp_path / "evil.pt"
    with open(plain, "wb") as handle:
        pickle.dump({"0.weight": _Evil(marker)}, handle, protocol=2)
    zipped = tmp_path / "evil_zip.pt"
    torch.save({"0.weight": _Evil(marker)}, zipped)
    with pytest.raises(ModelFormatError, match="refusing to load .*legacy .*never unpickled"):
        load_state_dict_file(plain)  # a non-zip pickle never reaches an unpickler
    with pytest.raises(ModelFormatError, match="refusing to load .*not a plain weights file"):
        load_state_dict_file(zipped)
    with pytest.raises(ModelFormatError, match=r"references (posix|nt)\.system"):
        load_state_dict_file(zipped)
    assert not marker.exists()


def test_whole_pickled_module_is_refused(tmp_path):
    torch.save(nn.Linear(2, 1), tmp_path / "module.pt")
    with pytest.raises(ModelFormatError, match="refusing .*state_dict"):
        load_state_dict_file(tmp_path / "module.pt")
    torch.jit.save(torch.jit.script(nn.Sequential(nn.Linear(2, 1))), tmp_path / "script.pt")
    with pytest.raises(ModelFormatError, match="refusing .*TorchScript archive"):
        load_state_dict_file(tmp_path / "script.pt")


def test_corrupt_and_inconsistent_state_dicts(tmp_path):
    model = sequential([2, 3, 1])
    good = tmp_path / "good.pt"
    torch.save(model.state_dict(), good)
    data = good.read_bytes()
    cases = {
        "truncated.pt": (data[: len(data) // 2], "truncated or corrupt"),
        "empty.pt": (b"", "truncated or corrupt"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ModelFormatError, match=message):
            load_state_dict_file(tmp_path / name)
    with pytest.raises(ModelFormatError, match="cannot read"):
        load_state_dict_file(tmp_path / "missing.pt")

    def saved(state, name):
        torch.save(state, tmp_path / name)
        return tmp_path / name

    state = model.state_dict()
    weight = state["0.weight"].clone()
    weight[1, 0] = float("nan")
    nan = {**state, "0.weight": weight}
    with pytest.raises(ModelFormatError, match=r"0\.weight contains nan at index \[1, 0\]"):
        load_state_dict_file(saved(nan, "nan.pt"))
    inf = {**state, "2.bias": torch.tensor([float("inf")])}
    with pytest.raises(ModelFormatError, match=r"2\.bias contains inf"):
        load_state_dict_file(saved(inf, "inf.pt"))
    mismatch = {**state, "2.weight": torch.ones(1, 4)}
    with pytest.raises(ModelFormatError, match=r"shape mismatch: 2\.weight has shape \[1, 4\]"):
        load_state_dict_file(saved(mismatch, "mismatch.pt"))
    with pytest.raises(ModelFormatError, match="not a tensor"):
        load_state_dict_file(saved({"0.weight": [1.0, 2.0]}, "list.pt"))
    with pytest.raises(ModelFormatError, match="NaN|nan"):
        load_state_dict_file(saved(nan, "nan_arch.pt"), architecture=sequential([2, 3, 1]))


# -- torch.export ---------------------------------------------------------------------------------
@pytest.mark.parametrize("make, width", [(MinModel, 2), (lambda: sequential([3, 5, 2]), 3)])
def test_pt2_round_trip(tmp_path, make, width):
    torch.manual_seed(9)
    model = make()
    program = torch.export.export(model, (torch.randn(4, width),))
    path = tmp_path / "model.pt2"
    torch.export.save(program, path)
    circuit = load_exported_program(path)
    assert_same_function(circuit, from_module(model))
    assert_matches_torch(circuit, model, width)
    assert_same_function(load_model(path), circuit)
    assert load_exported_program(path, ["p", "q", "r"][:width]).inputs == ("p", "q", "r")[:width]


def test_pt2_errors(tmp_path):
    (tmp_path / "junk.pt2").write_bytes(b"not a zip file")
    with pytest.raises(ModelFormatError, match="not a torch.export program"):
        load_exported_program(tmp_path / "junk.pt2")

    class Sine(nn.Module):
        def forward(self, x):
            return torch.sin(x) + torch.cos(x)

    torch.export.save(torch.export.export(Sine(), (torch.randn(2, 2),)), tmp_path / "sine.pt2")
    with pytest.raises(UnsupportedLayerError, match=r"2 unsupported.*sin.*cos"):
        load_exported_program(tmp_path / "sine.pt2")


# -- the benchmark models -------------------------------------------------------------------------
@pytest.mark.skipif(not BENCH.is_dir(), reason=f"benchmark models not found at {BENCH}")
def test_bench_pt_files_equal_their_json():
    pts = sorted(BENCH.glob("*.pt"))
    assert pts
    for pt in pts:
        from_pt = load_state_dict_file(pt)
        assert from_pt == json_to_circuit.load(pt.with_suffix(".json")), pt.name
        state = torch.load(pt, weights_only=True)  # nn.Sequential(Linear, ReLU, Linear, ...)
        modules = []
        for k in range(0, 1 + max(int(key.split(".")[0]) for key in state), 2):
            out, width = state[f"{k}.weight"].shape
            modules += [nn.Linear(width, out, bias=f"{k}.bias" in state), nn.ReLU()]
        model = nn.Sequential(*modules[:-1])
        model.load_state_dict(state)
        assert_matches_torch(from_pt, model, 2, count=10)
