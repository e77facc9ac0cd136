"""Reproducible training recipes for the seed experiments (SEEDS sections A, B.2 and B.3).

Each :class:`Recipe` records how one of the seed write-ups trained a small network; :func:`train`
replays it for a seed, deterministically on the CPU, and returns the trained module together with
its exact :class:`~symbolic.circuit.Circuit`; :func:`save` writes that circuit (and the run's
metadata) as a JSON weights file, :func:`train_to_file` does both. ``torch`` is imported inside the
functions only: importing this module never imports it.

>>> sorted(RECIPES)  # doctest: +NORMALIZE_WHITESPACE
['abs_w8', 'absolute_value', 'addition', 'identity', 'is_even', 'median3', 'min2_w16',
 'min2_w3', 'min2_w8', 'min3', 'min4_deep', 'min4_flat', 'min_skip', 'minimum',
 'negative_identity', 'subtraction']
>>> RECIPES['minimum'].target, RECIPES['minimum'].steps, RECIPES['minimum'].widths
('min(x1, x2)', 10000, (2, 3, 1))

Determinism. ``train`` runs under ``torch.set_num_threads(1)`` and ``torch.random.fork_rng`` (the
caller's thread count and global RNG state are restored afterwards). It calls
``torch.manual_seed(seed)`` and then builds the model, so the initial weights are PyTorch's default
init under that seed, as in the write-ups' scripts. The data come from a ``torch.Generator`` whose
state is the global generator's state right after the model is built: the data stream is exactly
what ``torch.rand(...)`` calls after building the model would have drawn in such a script, and it
does not reuse the random numbers of the init. Two runs with the same seed (and torch version)
give bit-identical weights.

The seed recipes (the census's wide and deep recipes are described in :mod:`networks.recipe_book`):

* Section A (``identity``, ``negative_identity``, ``absolute_value``, ``addition``,
  ``subtraction``, ``minimum``): ``Sequential(Linear(n, h, bias=False), ReLU(), Linear(h, 1,
  bias=False))``, each step a batch of 1000 fresh inputs uniform on [-1, 1] (``rand * 2 - 1``),
  MSE against the target, plain SGD with lr 0.1; 500 steps (10,000 for ``minimum``).
* Section B.2 (``min_skip``): the article's model, inputs ``a, b`` as one [batch, 2] tensor,
  ``out(cat([a, b, relu(r1(x)), relu(r2(x))]))`` with ``r1, r2 = Linear(2, 1)`` and ``out =
  Linear(4, 1)`` (biases on), trained 300 epochs on one fixed set of 1000 integer pairs drawn
  uniformly from [-50, 50) (``randint``), target ``min(a, b)``, MSE. The article does not name its
  optimizer; we use **Adam, lr 0.01, minibatches of 32 reshuffled every epoch** (9,600 steps),
  which drives most seeds to the article's outcome (one ReLU neuron does all the work:
  ``a - R(a - b)`` or its mirror ``b - R(b - a)``, with input and output weights whose product is
  about 1); ``docs/training-findings.md`` lists what each optimizer we tried does.
* Section B.3 (``is_even``): ``Sequential`` of widths [1, 2, 2, 2, 2, 2, 1] with a ReLU after
  every Linear (the output too), default init, trained on x = 0..15 (full batch) with target
  ``x mod 2`` (0 for even, 1 for odd, like the article's hand-built net), MSE, Adam lr 0.01 for
  2000 epochs. Not tuned either way: what it does is a finding.

``final_loss`` is the MSE of the *final* weights on the last batch of fresh samples (section A) or
on the whole training set (B.2, B.3); ``metadata['initial_loss']`` is the same for the initial
weights on the first batch (or the whole set). ``metadata['dead_neurons']`` names the ReLU units
(circuit names, output included when it has a ReLU) whose activation is 0 on every one of those
samples.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from pathlib import Path

from symbolic.circuit import Circuit
from symbolic.errors import ClaimError

from networks.recipe_book import (  # noqa: F401 - re-exported: the recipes live there
    MLP_FRESH_UNIFORM, RECIPES, RELU_CHAIN, SKIP_MIN, Recipe, recipe,
)
from networks.recipe_book import targets as _targets

SKIP_MIN_PAIRS = 1000  # size of the fixed B.2 data set
SKIP_MIN_RANGE = (-50, 50)  # integers drawn from [low, high)
IS_EVEN_RANGE = range(16)
MAX_STEPS = 1_000_000  # largest ``steps`` a run may ask for (the longest recipe uses 10,000)


@dataclasses.dataclass(frozen=True)
class Trained:
    """One training run: the module, its exact circuit and the run's (JSON-ready) metadata."""

    recipe: Recipe
    seed: int
    module: object  # the trained torch.nn.Module
    final_loss: float
    circuit: Circuit
    metadata: dict
    seconds: float = 0.0  # wall time of the training loop (not in the metadata: not reproducible)


# -- models -----------------------------------------------------------------------------------
def _skip_min_class():
    import torch
    from torch import nn

    class SkipMin(nn.Module):
        """The article's model: ``out([a, b, relu(r1(x)), relu(r2(x))])`` for ``x = [a, b]``."""

        def __init__(self) -> None:
            super().__init__()
            self.r1 = nn.Linear(2, 1)
            self.r2 = nn.Linear(2, 1)
            self.out = nn.Linear(4, 1)

        def forward(self, x):
            a, b = x[:, 0:1], x[:, 1:2]
            hidden = [torch.relu(self.r1(x)), torch.relu(self.r2(x))]
            return self.out(torch.cat([a, b, *hidden], dim=1))

    return SkipMin


def build_model(rec: Recipe):
    """A freshly initialised module for ``rec`` (uses the global torch RNG)."""
    from torch import nn

    if rec.kind == SKIP_MIN:
        return _skip_min_class()()
    w = rec.widths
    layers: list = []
    for k in range(len(w) - 1):
        layers.append(nn.Linear(w[k], w[k + 1], bias=rec.bias))
        if k < len(w) - 2 or rec.kind == RELU_CHAIN:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def relu_activations(rec: Recipe, module, x) -> dict:
    """The ReLU units of ``module`` on inputs ``x``, keyed by their circuit names.

    Section A and ``is_even`` hidden units are ``h{layer}_{i}`` (an activated output is ``y``);
    the two ``min_skip`` neurons are ``h1`` (``r1``) and ``h2`` (``r2``).
    """
    import torch

    with torch.no_grad():
        if rec.kind == SKIP_MIN:
            return {"h1": torch.relu(module.r1(x)), "h2": torch.relu(module.r2(x))}
        out, layer, units = x, 0, {}
        relus = sum(isinstance(m, torch.nn.ReLU) for m in module)
        for m in module:
            out = m(out)
            if isinstance(m, torch.nn.ReLU):
                layer += 1
                if layer == relus and rec.kind == RELU_CHAIN:
                    units["y"] = out
                else:
                    for i in range(out.shape[1]):
                        units[f"h{layer}_{i + 1}"] = out[:, i:i + 1]
        return units


def dead_units(rec: Recipe, module, x) -> list[str]:
    """Names of the ReLU units whose activation is exactly 0 on every row of ``x``."""
    return [name for name, a in relu_activations(rec, module, x).items() if not bool((a > 0).any())]


# -- progress ------------------------------------------------------------------------------------
class _Progress:
    """A one-line bar on stderr, ``\\r[#####.....] 42% loss 1.2e-03``, redrawn <= 20 times/s."""

    WIDTH = 30
    INTERVAL = 0.05

    def __init__(self, label: str, total: int, enabled: bool) -> None:
        self.label, self.total, self.enabled = label, max(total, 1), enabled
        self.last = -math.inf

    def update(self, done: int, loss) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < self.INTERVAL and done < self.total:
            return
        self.last = now
        self._draw(done, float(loss))

    def _draw(self, done: int, loss: float) -> None:
        filled = self.WIDTH * done // self.total
        bar = "#" * filled + "." * (self.WIDTH - filled)
        percent = 100 * done // self.total
        sys.stderr.write(f"\r{self.label} [{bar}] {percent:3d}% loss {loss:.1e}")
        sys.stderr.flush()

    def abort(self) -> None:
        if self.enabled and self.last > -math.inf:
            sys.stderr.write("\n")
            sys.stderr.flush()

    def close(self, final_loss: float, seconds: float) -> None:
        if self.enabled:
            self._draw(self.total, final_loss)
            sys.stderr.write(f"\n{self.label}: final loss {final_loss:.3e} ({seconds:.1f} s)\n")
            sys.stderr.flush()


# -- training ------------------------------------------------------------------------------------
def train(name: str, seed: int, steps: int | None = None, progress: bool | None = None) -> Trained:
    """Train recipe ``name`` from ``seed`` (``steps`` overrides its number of batches/epochs).

    The progress bar goes to stderr; by default it shows only when stderr is a terminal.
    """
    return train_recipe(recipe(name), seed, steps, progress)


def train_recipe(rec: Recipe, seed: int, steps: int | None = None,
                 progress: bool | None = None) -> Trained:
    """Like :func:`train` for a :class:`Recipe` object (e.g. a ``dataclasses.replace`` variant)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ClaimError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    if steps is None:
        steps = rec.steps
    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= MAX_STEPS:
        raise ClaimError(f"steps must be an integer in [0, {MAX_STEPS}], got {steps!r}")
    if progress is None:
        progress = bool(getattr(sys.stderr, "isatty", lambda: False)())

    import torch

    from networks.torch_to_circuit import from_module

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            module = build_model(rec)
            generator = torch.Generator()
            generator.set_state(torch.random.get_rng_state())
            bar = _Progress(f"{rec.name} seed {seed}", steps, progress)
            start = time.perf_counter()
            try:
                initial, final, probe = _loop(rec, module, generator, steps, bar)
            except BaseException:  # Ctrl-C: end the bar's line before the traceback
                bar.abort()
                raise
            seconds = time.perf_counter() - start
            dead = dead_units(rec, module, probe)
    finally:
        torch.set_num_threads(threads)
    if not (math.isfinite(final) and math.isfinite(initial)):
        raise ClaimError(f"{rec.name} seed {seed}: training diverged (loss {final})")
    bar.close(final, seconds)
    module.eval()
    circuit = from_module(module, input_names=rec.inputs)
    metadata = {
        "recipe": rec.name,
        "seed": seed,
        "steps": steps,
        "step_unit": rec.step_unit,
        "final_loss": final,
        "initial_loss": initial,
        "dead_neurons": dead,
        "torch": torch.__version__,
        "optimizer": rec.optimizer,
        "lr": rec.lr,
        "batch_size": rec.batch_size,
        "widths": list(rec.widths),
        "bias": rec.bias,
        "target": rec.target,
        "domain": rec.domain,
        "inputs": list(rec.inputs),
        "source": rec.source,
        "trainer": "networks.recipes",
    }
    return Trained(rec, seed, module, final, circuit, metadata, seconds)


def _loop(rec: Recipe, module, generator, steps: int, bar: _Progress):
    """Run the optimisation; return (initial loss, final loss, the samples of the final loss)."""
    import torch

    target = _targets()[rec.target]
    optimizer = getattr(torch.optim, rec.optimizer)(module.parameters(), lr=rec.lr)
    mse = torch.nn.functional.mse_loss

    def loss_of(x):
        with torch.no_grad():
            return float(mse(module(x), target(x)))

    def step(x) -> torch.Tensor:
        loss = mse(module(x), target(x))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.detach()

    if rec.kind == MLP_FRESH_UNIFORM:
        def fresh():
            return torch.rand(rec.batch_size, len(rec.inputs), generator=generator) * 2 - 1

        x = fresh()
        initial = loss_of(x)
        for k in range(steps):
            if k:
                x = fresh()
            bar.update(k + 1, step(x))
        return initial, loss_of(x), x

    if rec.kind == SKIP_MIN:
        low, high = SKIP_MIN_RANGE
        data = torch.randint(low, high, (SKIP_MIN_PAIRS, 2), generator=generator).float()
    else:
        data = torch.tensor([[float(v)] for v in IS_EVEN_RANGE])
    initial = loss_of(data)
    size = rec.batch_size or len(data)
    for epoch in range(steps):
        order = torch.randperm(len(data), generator=generator) if size < len(data) else None
        for i in range(0, len(data), size):
            loss = step(data if order is None else data[order[i:i + size]])
        bar.update(epoch + 1, loss)
    return initial, loss_of(data), data


def save(trained: Trained, path) -> None:
    """Write ``trained.circuit`` and its metadata to ``path`` as a JSON weights file."""
    from networks.json_to_circuit import dump

    dump(trained.circuit, path, metadata=trained.metadata)


def train_to_file(name: str, seed: int, out, steps: int | None = None,
                  progress: bool | None = None) -> dict:
    """Train recipe ``name`` from ``seed``, save it to ``out`` and return the run's metadata."""
    rec = recipe(name)
    target = Path(out)
    if not target.parent.is_dir():  # fail before training, not after
        raise ClaimError(f"cannot write {out}: folder {target.parent} does not exist")
    if target.is_dir():
        raise ClaimError(f"cannot write {out}: it is a folder")
    trained = train_recipe(rec, seed, steps, progress)
    try:
        save(trained, target)
    except OSError as exc:  # a full disk, a folder that went read-only meanwhile
        raise ClaimError(f"cannot write {out}: {exc.strerror or exc}") from None
    return trained.metadata


TRAINED_DIR = Path(__file__).with_name("trained")


def shipped_path(name: str, seed: int) -> Path:
    """The shipped weights file of recipe ``name`` and ``seed``: ``trained/<name>_seed<N>.json``.

    >>> shipped_path('identity', 0).name
    'identity_seed0.json'
    """
    return TRAINED_DIR / f"{recipe(name).name}_seed{seed}.json"
