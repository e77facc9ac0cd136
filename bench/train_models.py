"""Train the bench's 3- and 4-input models deterministically and write them to ``bench/models/``.

``python -m bench.train_models`` retrains every model of :data:`MODELS` (torch, CPU, one thread,
fixed seeds; inputs uniform on ``[-1, 1]^n``; MSE; Adam with a cosine schedule) and writes, per
model, into ``bench/models/`` (see ``bench/README.md``):

* ``NAME.json``: the float32 weights as decimals, the shared bench format
  (``{"layers": [{"W": [[...]], "b": [...]}, ...]}``, ``W`` of shape [out, in], ReLU after every
  layer but the last) plus the target, the training settings and the sampled errors;
* ``NAME.onnx``: the network (``Gemm``/``Relu``, input ``x`` [1, n], output ``y`` [1, 1]);
* ``NAME.minus_target.onnx``: one plain MLP computing ``d = N(x) - f(x)``, the target written as
  ReLU neurons with integer weights (:mod:`bench.target_functions`), block-diagonal beside the
  network; the shallower of the two is carried to the common depth (network output ``o`` as
  ``R(o) - R(-o)``, non-negative target features as themselves), so ``d`` is exactly ``N - f``;

and ``index.json`` (architecture, final loss, largest sampled error). ``--check`` retrains into a
temporary folder and compares every file byte for byte with the shipped one; ``--only NAME,...``
restricts either. The ONNX files are written with ``onnx.helper`` (no torch exporter), so their
bytes depend only on the weights.

Sampled error: ``max |N(x) - f(x)|`` over 100,000 uniform points (seed 12345) and the grid
``{-1, -1/2, 0, 1/2, 1}^n``, in float32 (``max_abs_err_f32``, the value the cases use) and float64.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.target_functions import TARGETS

MODELS_DIR = Path(__file__).resolve().parent / "models"
STEPS, BATCH, LR = 6000, 2048, 3e-3
SAMPLES, SAMPLE_SEED = 100_000, 12345


@dataclasses.dataclass(frozen=True)
class Spec:
    """One model to train: target, hidden widths and seed."""

    name: str
    target: str
    hidden: tuple[int, ...]
    seed: int

    @property
    def inputs(self) -> int:
        return TARGETS[self.target].inputs


MODELS = (
    Spec("min3_16", "min3", (16,), 3001),
    Spec("min3_32x32", "min3", (32, 32), 3002),
    Spec("min3_64x64", "min3", (64, 64), 3003),
    Spec("min4_32", "min4", (32,), 4001),
    Spec("min4_16x16", "min4", (16, 16), 4002),
    Spec("min4_64x64", "min4", (64, 64), 4003),
    Spec("median3_32", "median3", (32,), 5001),
    Spec("median3_16x16x16", "median3", (16, 16, 16), 5002),
    Spec("median3_64x64", "median3", (64, 64), 5003),
    Spec("range4_64", "range4", (64,), 6001),
    Spec("range4_32x32", "range4", (32, 32), 6002),
    Spec("range4_32x32x32", "range4", (32, 32, 32), 6003),
)


def _torch_target(name: str, x):
    import torch

    if name.startswith("min"):
        return x.min(dim=1).values
    if name == "median3":
        return x.median(dim=1).values
    if name == "range4":
        return x.max(dim=1).values - x.min(dim=1).values
    raise ValueError(name)


def _numpy_target(name: str, x: np.ndarray) -> np.ndarray:
    if name.startswith("min"):
        return x.min(axis=1)
    if name == "median3":
        return np.median(x, axis=1)
    return x.max(axis=1) - x.min(axis=1)


def train(spec: Spec) -> tuple[list[tuple[np.ndarray, np.ndarray]], float]:
    """Train ``spec``; return its float32 layers ``[(W [out, in], b), ...]`` and the final loss."""
    import torch

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(spec.seed)
    widths = (spec.inputs, *spec.hidden, 1)
    layers: list = []
    for k in range(len(widths) - 1):
        layers.append(torch.nn.Linear(widths[k], widths[k + 1]))
        if k < len(widths) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=STEPS, eta_min=LR * 1e-3)
    data = torch.Generator().manual_seed(spec.seed + 1)
    loss = torch.tensor(0.0)
    for _ in range(STEPS):
        x = torch.rand(BATCH, spec.inputs, generator=data) * 2 - 1
        loss = torch.nn.functional.mse_loss(model(x).squeeze(1), _torch_target(spec.target, x))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    linear = [m for m in model if isinstance(m, torch.nn.Linear)]
    out = [(m.weight.detach().numpy().astype(np.float32).copy(), m.bias.detach().numpy().astype(np.float32).copy())
           for m in linear]
    return out, float(loss.item())


def forward(layers, x: np.ndarray) -> np.ndarray:
    """The MLP on rows of ``x`` in the dtype of ``x`` (float32 or float64 weights to match)."""
    h = x
    for k, (w, b) in enumerate(layers):
        h = h @ w.astype(x.dtype).T + b.astype(x.dtype)
        if k < len(layers) - 1:
            h = np.maximum(h, 0)
    return h[:, 0]


def sample_points(n: int) -> np.ndarray:
    """The error sample: uniform points (fixed seed) and the grid ``{-1, -1/2, 0, 1/2, 1}^n``."""
    rng = np.random.default_rng(SAMPLE_SEED)
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, 5)] * n, indexing="ij"), -1).reshape(-1, n)
    return np.concatenate([rng.uniform(-1, 1, size=(SAMPLES, n)), grid])


def sampled_errors(spec: Spec, layers) -> dict:
    """Largest ``|N - f|`` on the sample, in float32 and float64, and where (float32)."""
    x64 = sample_points(spec.inputs)
    x32 = x64.astype(np.float32)
    err32 = np.abs(forward(layers, x32) - _numpy_target(spec.target, x32))
    err64 = np.abs(forward(layers, x32.astype(np.float64)) - _numpy_target(spec.target, x32.astype(np.float64)))
    at = int(np.argmax(err32))
    return {"n_samples": len(x64), "sample_seed": SAMPLE_SEED, "grid": "{-1, -1/2, 0, 1/2, 1}^n",
            "max_abs_err_f32": float(err32[at]), "max_abs_err_f64": float(err64.max()),
            "argmax_x": [float(v) for v in x32[at]], "mse_eval": float(np.mean(err64 ** 2))}


def minus_target_layers(layers, target: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """One MLP computing ``N - f`` (see the module docstring); float32, exact."""
    net_hidden, (w_out, b_out) = layers[:-1], layers[-1]
    prog = [(np.array(w, np.float32), np.array(b, np.float32)) for w, b in TARGETS[target].dense()]
    tgt_hidden, (v_out, _) = prog[:-1], prog[-1]
    depth = max(len(net_hidden), len(tgt_hidden))
    net = _carry(net_hidden, w_out, b_out, depth)
    tgt = _carry(tgt_hidden, v_out, np.zeros(1, np.float32), depth)
    out = []
    for k in range(depth):
        (wn, bn), (wt, bt) = net[k], tgt[k]
        if k == 0:
            w = np.concatenate([wn, wt], axis=0)
        else:
            w = np.zeros((wn.shape[0] + wt.shape[0], wn.shape[1] + wt.shape[1]), np.float32)
            w[:wn.shape[0], :wn.shape[1]], w[wn.shape[0]:, wn.shape[1]:] = wn, wt
        out.append((w, np.concatenate([bn, bt])))
    (on, bon), (ot, bot) = net[depth], tgt[depth]
    out.append((np.concatenate([on, -ot], axis=1), (bon - bot).astype(np.float32)))
    return out


def _carry(hidden, w_out, b_out, depth):
    """Hidden layers padded to ``depth`` plus the output row: the output ``o`` becomes the pair
    ``R(o), R(-o)`` at layer ``len(hidden)`` and is passed on by identity rows."""
    layers = list(hidden)
    if len(hidden) == depth:
        return layers + [(w_out, b_out)]
    layers.append((np.concatenate([w_out, -w_out]), np.concatenate([b_out, -b_out])))
    while len(layers) < depth:
        layers.append((np.eye(2, dtype=np.float32), np.zeros(2, np.float32)))
    return layers + [(np.array([[1, -1]], np.float32), np.zeros(1, np.float32))]


def onnx_bytes(layers, name: str, output: str) -> bytes:
    """A ``Gemm``/``Relu`` ONNX model of dense float32 layers (opset 13), serialised deterministically."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, current = [], [], "x"
    for k, (w, b) in enumerate(layers):
        inits += [numpy_helper.from_array(w, f"W{k}"), numpy_helper.from_array(b, f"b{k}")]
        last = k == len(layers) - 1
        gemm = output if last else f"gemm{k}"
        nodes.append(helper.make_node("Gemm", [current, f"W{k}", f"b{k}"], [gemm], transB=1))
        if not last:
            nodes.append(helper.make_node("Relu", [gemm], [f"relu{k}"]))
            current = f"relu{k}"
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, int(layers[0][0].shape[1])])],
                              [helper.make_tensor_value_info(output, TensorProto.FLOAT, [1, 1])], inits)
    model = helper.make_model(graph, producer_name="mathcircuits bench/train_models.py",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString(deterministic=True)


def _check_minus(layers, minus, target: str) -> None:
    """``minus`` is exactly ``N - f``: compared in rationals at corners and random dyadic points."""
    from fractions import Fraction

    from bench.onnx_exact import ExactOnnx

    net, diff = ExactOnnx.from_layers(layers), ExactOnnx.from_layers(minus)
    rng = np.random.default_rng(0)
    n = TARGETS[target].inputs
    points = [[Fraction(int(v), 64) for v in rng.integers(-64, 65, size=n)] for _ in range(200)]
    points += [[Fraction(int(v)) for v in corner] for corner in np.ndindex(*(2,) * n)]
    for xs in points:
        if diff.evaluate(xs)[0] != net.evaluate(xs)[0] - TARGETS[target].exact(xs):
            raise AssertionError(f"{target}: the minus-target network is not N - f at {xs}")


def _floats(array: np.ndarray):
    return [[float(v) for v in row] for row in array] if array.ndim == 2 else [float(v) for v in array]


def write_model(spec: Spec, folder: Path, log=None) -> dict:
    """Train ``spec`` and write its three files into ``folder``; return its ``index.json`` entry."""
    start = time.perf_counter()
    layers, loss = train(spec)
    seconds = time.perf_counter() - start
    errors = sampled_errors(spec, layers)
    minus = minus_target_layers(layers, spec.target)
    _check_minus(layers, minus, spec.target)
    arch = [spec.inputs, *spec.hidden, 1]
    doc = {"name": spec.name, "arch": arch, "n_relu": sum(spec.hidden), "has_bias": True,
           "target": TARGETS[spec.target].text,
           "layers": [{"W": _floats(w), "b": _floats(b)} for w, b in layers],
           "errors": errors,
           "train": {"seed": spec.seed, "steps": STEPS, "batch": BATCH, "lr": LR, "optimizer": "Adam",
                     "lr_schedule": "cosine to lr*1e-3", "loss": "MSE", "final_train_loss": loss,
                     "torch_threads": 1}}
    text = json.dumps(doc, indent=1) + "\n"
    (folder / f"{spec.name}.json").write_text(text, encoding="utf-8")
    (folder / f"{spec.name}.onnx").write_bytes(onnx_bytes(layers, spec.name, "y"))
    (folder / f"{spec.name}.minus_target.onnx").write_bytes(onnx_bytes(minus, f"{spec.name}_minus_target", "d"))
    if log:
        log(f"{spec.name:18} {'-'.join(map(str, arch)):12} loss {loss:.3g} max err f32 "
            f"{errors['max_abs_err_f32']:.4g} ({seconds:.1f} s)")
    return {"name": spec.name, "target": spec.target, "function": TARGETS[spec.target].text,
            "n_inputs": spec.inputs, "n_relu": sum(spec.hidden), "arch": arch, "final_train_loss": loss,
            "max_abs_err_f32": errors["max_abs_err_f32"], "max_abs_err_f64": errors["max_abs_err_f64"],
            "minus_onnx": f"{spec.name}.minus_target.onnx",
            "weights_sha256": hashlib.sha256(text.encode()).hexdigest()}


def write_all(folder: Path, only: set[str] | None = None, log=None) -> list[dict]:
    """Train every selected model into ``folder`` and write ``index.json`` (entries of the others are
    kept from an existing index)."""
    folder.mkdir(parents=True, exist_ok=True)
    index_path = folder / "index.json"
    old = {e["name"]: e for e in json.loads(index_path.read_text())["models"]} if index_path.exists() else {}
    entries = []
    for spec in MODELS:
        if only and spec.name not in only:
            if spec.name in old:
                entries.append(old[spec.name])
            continue
        entries.append(write_model(spec, folder, log))
    index = {"about": "3- and 4-input bench models: python -m bench.train_models (bench/README.md)",
             "models": entries}
    index_path.write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
    return entries


def check(only: set[str] | None = None, log=print) -> int:
    """Retrain into a temporary folder and compare every file byte for byte with the shipped ones."""
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        if (MODELS_DIR / "index.json").exists():
            (fresh / "index.json").write_bytes((MODELS_DIR / "index.json").read_bytes())
        write_all(fresh, only, log)
        names = [s.name for s in MODELS if not only or s.name in only]
        files = [f"{n}{suffix}" for n in names for suffix in (".json", ".onnx", ".minus_target.onnx")]
        for name in files + ([] if only else ["index.json"]):
            shipped = MODELS_DIR / name
            same = shipped.exists() and shipped.read_bytes() == (fresh / name).read_bytes()
            bad += not same
            log(f"{'identical' if same else 'DIFFERENT'} {name}")
    log(f"{'every file reproduced' if not bad else f'{bad} file(s) differ'}")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.train_models", description=__doc__.splitlines()[0])
    parser.add_argument("--only", metavar="NAMES", help="comma-separated model names (default: all)")
    parser.add_argument("--check", action="store_true", help="retrain and compare byte for byte; write nothing")
    parser.add_argument("--out", default=str(MODELS_DIR), metavar="DIR", help=f"default {MODELS_DIR}")
    args = parser.parse_args(argv)
    only = {n.strip() for n in args.only.split(",")} if args.only else None
    unknown = sorted((only or set()) - {s.name for s in MODELS})
    if unknown:
        print(f"train_models: unknown model(s) {', '.join(unknown)}", file=sys.stderr)
        return 2
    if args.check:
        return check(only)
    write_all(Path(args.out), only, lambda line: print(line, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
