"""Run mathcircuits' engine on the ACAS Xu instances (development harness for the engine's numbers).

    .venv/bin/python -m bench.acasxu_dev                       # all 180 instances, 116 s each
    .venv/bin/python -m bench.acasxu_dev --props 2 --nets 1_1,3_3 --timeout 60 --check
    .venv/bin/python -m bench.acasxu_dev --json /tmp/acas.jsonl  # one JSON line per instance

Each network is read once with ``networks.onnx_to_circuit.load_onnx`` (inputs and outputs renamed
to the property's ``X_i``/``Y_j``), each property with ``proofs.vnnlib_to_spec.load_vnnlib``; every
instance is decided by ``verify.decide.decide`` (falsification, then branch and bound) under one
budget of ``--timeout`` seconds. Reported per instance: verdict, method, wall and CPU seconds of
``decide`` (loading excluded), the engine's counters (nodes, leaves, seconds in bounds / multiplier
search / LP / exact checks) and, with ``--check``, the certificate check by
``verify.certificate.check`` (exact rationals) and its time. Counterexamples are replayed exactly
by ``decide`` itself. The summary gives, per property, the instances decided and the summed times.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the CLI does (proofs/cli.py)

import argparse
import csv
import fnmatch
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "shared" / "vnncomp" / "acasxu"


def instances(props: set[str], nets: list[str]) -> list[tuple[str, str, float]]:
    out = []
    with open(ROOT / "instances.csv", encoding="utf-8") as handle:
        for onnx, vnnlib, timeout in csv.reader(handle):
            prop = vnnlib.split("_")[1].split(".")[0]
            net = "_".join(onnx.split("_")[2:4])
            if prop in props and (not nets or any(fnmatch.fnmatchcase(net, n) for n in nets)):
                out.append((onnx, vnnlib, float(timeout)))
    return out


def load_network(onnx: str):
    from networks.onnx_to_circuit import load_onnx

    circuit = load_onnx(ROOT / "onnx" / onnx)
    mapping = {n: f"X_{i}" for i, n in enumerate(circuit.inputs)}
    mapping.update({n: f"Y_{i}" for i, n in enumerate(circuit.outputs)})
    return circuit.renamed(mapping)


def run_one(circuit, vnnlib: str, timeout: float, check: bool) -> dict:
    from proofs.vnnlib_to_spec import load_vnnlib
    from verify.decide import Config, decide

    spec = load_vnnlib(ROOT / "vnnlib" / vnnlib)
    claims = spec.claims(circuit)
    wall, cpu = time.perf_counter(), time.process_time()
    verdicts, results = [], []
    config = Config(timeout_s=timeout).started()
    for claim in claims:
        result = decide(claim, config)
        results.append(result)
        verdicts.append(result.verdict.value)
        if result.verdict.value != "proved":
            break
    out = {"verdict": "holds" if all(v == "proved" for v in verdicts) else
           "violated" if "refuted" in verdicts else "unknown",
           "wall_s": round(time.perf_counter() - wall, 3), "cpu_s": round(time.process_time() - cpu, 3),
           "method": "+".join(r.method for r in results),
           "reason": "; ".join(r.reason for r in results if r.reason)[:300]}
    stats = [r.stats for r in results if r.stats]
    if stats:
        out["stats"] = {k: round(sum(s.get(k, 0) for s in stats), 4) for k in stats[0]}
    if results and results[-1].counterexample is not None:
        out["point"] = {k: str(v) for k, v in results[-1].counterexample.point.items()}
    if check and out["verdict"] == "holds":
        from verify import certificate

        start = time.perf_counter()
        reports = [certificate.check(r.certificate) for r in results if r.certificate is not None]
        out["check"] = {"ok": bool(reports) and all(r.ok for r in reports) and len(reports) == len(results),
                        "seconds": round(time.perf_counter() - start, 3),
                        "leaves": sum(r.leaves for r in reports),
                        "problems": [p for r in reports for p in r.problems][:3]}
    return out


def summary(rows: list[dict]) -> str:
    lines = ["prop  instances  holds  violated  unknown  sum_wall_s  max_wall_s  sum_cpu_s"]
    for prop in sorted({r["prop"] for r in rows}):
        part = [r for r in rows if r["prop"] == prop]
        count = {v: sum(r["verdict"] == v for r in part) for v in ("holds", "violated", "unknown")}
        lines.append(f"{prop:>4}  {len(part):>9}  {count['holds']:>5}  {count['violated']:>8}  {count['unknown']:>7}  "
                     f"{sum(r['wall_s'] for r in part):>10.1f}  {max(r['wall_s'] for r in part):>10.1f}  "
                     f"{sum(r['cpu_s'] for r in part):>9.1f}")
    decided = sum(r["verdict"] != "unknown" for r in rows)
    lines.append(f"all: {decided}/{len(rows)} decided, {sum(r['wall_s'] for r in rows):.1f} s wall, "
                 f"{sum(r['cpu_s'] for r in rows):.1f} s CPU")
    checks = [r["check"] for r in rows if "check" in r]
    if checks:
        lines.append(f"certificates: {sum(c['ok'] for c in checks)}/{len(checks)} accepted, "
                     f"{sum(c['seconds'] for c in checks):.1f} s checking")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.acasxu_dev", description=__doc__.splitlines()[0])
    parser.add_argument("--props", default="1,2,3,4")
    parser.add_argument("--nets", default="", help="comma-separated globs such as 1_*,3_3")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per instance (default: the CSV's 116)")
    parser.add_argument("--check", action="store_true", help="check every certificate exactly (slow)")
    parser.add_argument("--json", default=None, help="append one JSON line per instance to this file")
    args = parser.parse_args(argv)
    todo = sorted(instances(set(args.props.split(",")), [n for n in args.nets.split(",") if n]))  # by network
    rows, cache = [], {}
    for onnx, vnnlib, timeout in todo:
        if onnx not in cache:
            cache.clear()
            cache[onnx] = load_network(onnx)
        row = {"net": "_".join(onnx.split("_")[2:4]), "prop": vnnlib.split("_")[1].split(".")[0]}
        row.update(run_one(cache[onnx], vnnlib, args.timeout or timeout, args.check))
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.json:
            with open(args.json, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")
    print(summary(rows), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
