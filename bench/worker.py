"""One solver on one case, in its own process: ``python -m bench.worker --solver S --case NAME``.

Prints exactly one JSON line on the original standard output::

    {"verdict": "proved" | "refuted" | "unknown" | "n/a" | "error", "method": ..., "solve_s": ...,
     "point": {"x1": "p/q", ...} | null, "raw_point": {...} | null, "note": ...}

``solve_s`` is measured around the solve only (after imports and loading the model); the runner
measures the whole process. File descriptor 1 points at /dev/null while the solver runs, so
chatter from native code (Marabou) cannot corrupt the report. Each solver's imports are local:
the z3 worker never imports sympy or the toolkit, the Marabou worker never imports z3.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the CLI does (proofs/cli.py)

import argparse
import json
import sys
import time
from fractions import Fraction
from pathlib import Path

from bench import cases as case_table


def _mathcircuits(case: case_table.Case, models: Path, timeout_s: float) -> dict:
    from verify.decide import Config, decide

    claim = case_table.claim_for(case, models)
    config = Config(timeout_s=timeout_s)
    start = time.perf_counter()
    result = decide(claim, config)
    solve_s = time.perf_counter() - start
    cex = result.counterexample
    out = {"verdict": result.verdict.value, "method": result.method, "solve_s": solve_s,
           "point": dict(cex.point) if cex else None, "note": result.reason}
    certificate = getattr(result, "certificate", None)
    if certificate is not None:
        from bench.acasxu_worker import check_certificate_data

        checked = check_certificate_data(certificate)
        out.update(cert=checked["verdict"], cert_check_s=checked["check_s"])
    elif result.verdict.value == "proved":
        out["cert"] = "none"
    return out


def _z3(case: case_table.Case, models: Path, timeout_s: float) -> dict:
    from bench import z3_baseline

    if case.kind == "is_even":
        return z3_baseline.solve_is_even(case.bits, timeout_s)
    layers = z3_baseline.load_layers(case.json_path(models))
    eps = case.eps if case.kind == "tol" else None
    return z3_baseline.solve_target(layers, case.target, eps, case.box, timeout_s)


def _marabou(case: case_table.Case, models: Path, timeout_s: float) -> dict:
    from bench import marabou_peer

    if not marabou_peer.available():
        return {"verdict": "n/a", "method": "marabou", "solve_s": None, "point": None,
                "note": "maraboupy is not installed (pip install '.[bench]')"}
    marabou, network = marabou_peer.load(case.onnx_minus_min_path(models))
    eps = case.eps if case.kind == "tol" else Fraction(0)
    out = marabou_peer.solve_tolerance(marabou, network, eps, timeout_s)
    if out["point"] is not None:
        out["raw_point"] = dict(out["point"])
        out["point"] = marabou_peer.to_fractions(out["point"])
    return out


SOLVERS = {"mathcircuits": _mathcircuits, "z3": _z3, "marabou": _marabou}


def run(solver: str, case: case_table.Case, models: Path, timeout_s: float) -> dict:
    """The report of ``solver`` on ``case`` (``n/a`` when the solver cannot state the query)."""
    if solver not in case.solvers:
        return {"verdict": "n/a", "method": solver, "solve_s": None, "point": None,
                "note": "the query cannot be stated for this solver"}
    try:
        out = SOLVERS[solver](case, models, timeout_s)
    except Exception as exc:  # noqa: BLE001 - a peer's failure is a row of the table, not a crash
        return {"verdict": "error", "method": solver, "solve_s": None, "point": None,
                "note": f"{type(exc).__name__}: {exc}"}
    return out


def encode(report: dict) -> str:
    """The JSON line of a report: Fractions as exact ``"p/q"`` strings."""
    out = dict(report)
    if out.get("point") is not None:
        out["point"] = {k: str(Fraction(v)) for k, v in out["point"].items()}
    return json.dumps(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worker", description=__doc__.splitlines()[0])
    parser.add_argument("--solver", required=True, choices=sorted(SOLVERS))
    parser.add_argument("--case", required=True)
    parser.add_argument("--models", default=str(case_table.DEFAULT_MODELS))
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    report_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    sys.stdout.flush()
    os.dup2(devnull, 1)
    case = case_table.find(args.case, Path(args.models))
    report = run(args.solver, case, Path(args.models), args.timeout)
    with os.fdopen(report_fd, "w") as handle:
        handle.write(encode(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
