"""The case table of the benchmark, built from ``index.json`` of the shared models and of ``bench/models``.

Per model: ``NAME/tol-true`` (``|N - f| <= 2 e`` on ``[-1, 1]^n``, ``e`` the sampled
``max_abs_err_f32`` as an exact Fraction of its float) and ``NAME/tol-false`` (``e / 2``); the
hand-built ``hand_min`` also gets ``eq-box`` and ``eq-R2`` (``N = min`` on the box and on all of
R^2) and no ``tol-false`` (its sampled error is 0, so half of it is the same claim as
``tol-true``). The shared models (2 inputs) approximate ``min(x1, x2)``; the models of
``bench/models`` (3 and 4 inputs, :mod:`bench.train_models`) approximate ``min3``, ``min4``,
``median3`` or ``range4`` (:mod:`bench.target_functions`). Then ``is_even-4/8/10`` and
``catalogue`` (the whole seed catalogue, one process).

This module reads JSON only; :func:`claim_for` imports sympy and the toolkit lazily so that a
z3 or Marabou worker never pays for them.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODELS = REPO.parent / "shared" / "bench" / "models"
BENCH_MODELS = REPO / "bench" / "models"
SOLVERS = ("mathcircuits", "z3", "marabou")
IS_EVEN_BITS = (4, 8, 10)


@dataclasses.dataclass(frozen=True)
class Case:
    """One benchmark query.

    ``kind``: ``"tol"`` (|N - f| <= eps), ``"eq"`` (N = f), ``"is_even"`` or ``"catalogue"``.
    ``box``: inputs in [-1, 1]^n (else all of R^n). ``expected``: what the case is built to be
    (shown only; the benchmark's truth comes from proofs and replayed counterexamples).
    ``solvers``: the solvers that can state the query (the others show ``n/a``). ``target``: a key
    of :data:`bench.target_functions.TARGETS` (``min2`` for the shared models); ``folder``: where
    the model's files are (None: the ``--models`` folder); ``minus_onnx``: the ``N - f`` network.
    """

    name: str
    kind: str
    relus: int | None
    model: str | None = None
    box: bool = True
    eps: Fraction | None = None
    bits: int | None = None
    expected: str | None = None
    solvers: tuple[str, ...] = ("mathcircuits",)
    target: str = "min2"
    inputs: int = 2
    folder: str | None = None
    minus_onnx: str | None = None

    def json_path(self, models: Path) -> Path:
        return Path(self.folder or models) / f"{self.model}.json"

    def onnx_minus_min_path(self, models: Path) -> Path:
        """The ``N - f`` network for Marabou (``NAME.minus_min.onnx`` for the shared models)."""
        return Path(self.folder or models) / (self.minus_onnx or f"{self.model}.minus_min.onnx")

    def describe(self) -> str:
        """Short statement of the query, e.g. ``|N - min2| <= 0.0494... on [-1, 1]^2``."""
        where = f"[-1, 1]^{self.inputs}" if self.box else f"R^{self.inputs}"
        if self.kind == "tol":
            return f"|N - {self.target}| <= {float(self.eps):.6g} on {where}"
        if self.kind == "eq":
            return f"N = {self.target} on {where}"
        if self.kind == "is_even":
            return f"N(x) = x mod 2 for x in 0..{2 ** self.bits - 1}"
        return "mathcircuits prove (the whole seed catalogue)"


def read_index(models: Path) -> list[dict]:
    """The ``models`` list of ``index.json`` (FileNotFoundError when the directory is missing)."""
    with open(Path(models) / "index.json", encoding="utf-8") as handle:
        return json.load(handle)["models"]


def is_even_relus(bits: int) -> int:
    """ReLUs of ``make_is_even(bits)``: a pair per offset (bits + 1 offsets) and the output."""
    return 2 * (bits + 1) + 1


def build_cases(models: Path = DEFAULT_MODELS, bench_models: Path | None = BENCH_MODELS) -> list[Case]:
    """Every case, in table order: the shared 2-input models, the 3-4-input models of
    ``bench_models`` (skipped when it has no ``index.json``), ``is_even``, the catalogue."""
    cases: list[Case] = []
    for entry in read_index(models):
        name, relus = entry["name"], entry["n_relu"]
        err = Fraction(entry["max_abs_err_f32"])  # the exact binary value of the float
        peers = ("mathcircuits", "z3", "marabou")
        if err == 0:
            cases.append(Case(f"{name}/eq-box", "eq", relus, name, True, None, expected="proved", solvers=peers))
            cases.append(Case(f"{name}/eq-R2", "eq", relus, name, False, None, expected="proved",
                              solvers=("mathcircuits", "z3")))
        cases.append(Case(f"{name}/tol-true", "tol", relus, name, True, 2 * err, expected="proved", solvers=peers))
        if err > 0:
            cases.append(Case(f"{name}/tol-false", "tol", relus, name, True, err / 2, expected="refuted",
                              solvers=peers))
    if bench_models is not None and (Path(bench_models) / "index.json").exists():
        for entry in read_index(bench_models):
            err = Fraction(entry["max_abs_err_f32"])
            common = dict(kind="tol", relus=entry["n_relu"], model=entry["name"], box=True, target=entry["target"],
                          inputs=entry["n_inputs"], folder=str(bench_models), minus_onnx=entry["minus_onnx"],
                          solvers=("mathcircuits", "z3", "marabou"))
            cases.append(Case(f"{entry['name']}/tol-true", eps=2 * err, expected="proved", **common))
            cases.append(Case(f"{entry['name']}/tol-false", eps=err / 2, expected="refuted", **common))
    for bits in IS_EVEN_BITS:
        cases.append(Case(f"is_even-{bits}", "is_even", is_even_relus(bits), bits=bits, expected="proved",
                          solvers=("mathcircuits", "z3")))
    cases.append(Case("catalogue", "catalogue", None, expected="proved"))
    return cases


def select(cases: list[Case], pattern: str | None) -> list[Case]:
    """Cases whose name matches any comma-separated glob or substring of ``pattern``."""
    if not pattern:
        return list(cases)
    parts = [p.strip() for p in pattern.split(",") if p.strip()]
    return [c for c in cases if any(fnmatch.fnmatchcase(c.name, p) or p in c.name for p in parts)]


def find(name: str, models: Path = DEFAULT_MODELS) -> Case:
    """The case called ``name`` (KeyError if there is none)."""
    for case in build_cases(models):
        if case.name == name:
            return case
    raise KeyError(f"no bench case {name!r}")


def claim_for(case: Case, models: Path = DEFAULT_MODELS):
    """The mathcircuits :class:`verify.claim.Claim` of ``case`` (the one every answer is replayed on)."""
    import sympy as sp

    from bench.target_functions import TARGETS
    from networks.json_to_circuit import load
    from networks.library import make_is_even
    from symbolic.relu import sym
    from verify.claim import Claim, Equality, Tolerance
    from verify.domain import Domain, IntegerRange, RealInterval

    if case.kind == "is_even":
        domain = Domain({"x": IntegerRange(0, 2 ** case.bits - 1)})
        return Claim(make_is_even(case.bits), sp.Mod(sym("x"), 2), domain)
    if case.kind not in ("tol", "eq"):
        raise ValueError(f"case {case.name} has no single claim")
    circuit = load(case.json_path(models))
    names = [f"x{i + 1}" for i in range(case.inputs)]
    domain = Domain({n: RealInterval(-1, 1) for n in names}) if case.box else Domain()
    kind = Tolerance(case.eps) if case.kind == "tol" else Equality()
    return Claim(circuit, TARGETS[case.target].sympy(), domain, kind)
