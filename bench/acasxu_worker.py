"""One ACAS Xu job in its own process: Marabou on an instance, or a mathcircuits certificate check.

``python -m bench.acasxu_worker marabou NET.onnx PROP.vnnlib --timeout S`` prints one JSON line::

    {"verdict": "holds" | "violated" | "timeout" | "unknown" | "error", "solve_s": ..., "load_s": ...,
     "point": [x_0, ...] | null, "outputs": [y_0, ...] | null, "note": ...}

Marabou (``maraboupy``) reads the network with ``Marabou.read_onnx`` and the property with its own
VNN-LIB parser (``network.solve(propertyFilename=PROP)``, which calls ``MarabouCore.loadProperty``:
input bounds and output constraints, disjunctions included); one worker, its own timeout. ``sat``
is *violated* (the point is Marabou's float assignment to the inputs, replayed exactly by the
runner), ``unsat`` is *holds*. ``solve_s`` is the time of ``solve`` alone, ``load_s`` of reading
the network.

``python -m bench.acasxu_worker certificate FILE`` checks a mathcircuits certificate with
``verify.certificate.check`` (rationals only) and prints ``{"verdict": "accepted" | "rejected" |
"n/a" | "error", "check_s": ..., "note": ...}``; ``check_s`` covers the check alone (not reading
the file or importing the toolkit).

File descriptor 1 points at /dev/null while a solver runs (Marabou prints from C++); the report
goes to a duplicate of the original standard output.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import sys
import time


def marabou(onnx_path: str, vnnlib_path: str, timeout_s: float) -> dict:
    """Marabou's answer on one instance (see the module docstring)."""
    from bench import marabou_peer

    if not marabou_peer.available():
        return {"verdict": "n/a", "solve_s": None, "point": None, "note": "maraboupy is not installed"}
    start = time.perf_counter()
    module, network = marabou_peer.load(onnx_path)
    load_s = time.perf_counter() - start
    inputs = [int(v) for group in network.inputVars for v in group.flatten()]
    outputs = [int(v) for group in network.outputVars for v in group.flatten()]
    options = module.createOptions(verbosity=0, timeoutInSeconds=max(1, math.ceil(timeout_s)))
    start = time.perf_counter()
    code, values, _stats = network.solve(options=options, verbose=False, propertyFilename=str(vnnlib_path))
    solve_s = time.perf_counter() - start
    out = {"solve_s": solve_s, "load_s": load_s, "point": None, "outputs": None, "note": f"marabou: {code}"}
    if code == "sat":
        out.update(verdict="violated", point=[float(values[v]) for v in inputs],
                   outputs=[float(values[v]) for v in outputs])
    elif code == "unsat":
        out["verdict"] = "holds"
    elif code.upper() == "TIMEOUT":
        out["verdict"] = "timeout"
    elif code.upper() == "ERROR":
        out["verdict"] = "error"
    else:
        out["verdict"] = "unknown"
    return out


def check_certificate(path: str) -> dict:
    """Check a certificate file with ``verify.certificate.check`` (``n/a`` while that module is missing)."""
    if importlib.util.find_spec("verify.certificate") is None:
        return {"verdict": "n/a", "check_s": None, "note": "no certificate checker (verify/certificate.py)"}
    from verify import certificate

    if hasattr(certificate, "load"):  # the checker's own reader (exact: numbers kept as text)
        try:
            data = certificate.load(path)
        except Exception as exc:  # noqa: BLE001 - an unreadable certificate is rejected
            return {"verdict": "rejected", "check_s": None, "note": f"{type(exc).__name__}: {exc}"[:300]}
    else:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    return check_certificate_data(data)


def check_certificate_data(data) -> dict:
    """``verify.certificate.check(data)``, timed: ``{"verdict": "accepted" | "rejected" | "n/a", "check_s"}``.

    ``data`` is the parsed certificate (or the toolkit's certificate object). ``check`` accepts by
    returning None, True or a result whose ``ok`` is true; it rejects by raising or returning a
    false value.
    """
    if importlib.util.find_spec("verify.certificate") is None:
        return {"verdict": "n/a", "check_s": None, "note": "no certificate checker (verify/certificate.py)"}
    from verify import certificate

    start = time.perf_counter()
    try:
        outcome = certificate.check(data)
    except Exception as exc:  # noqa: BLE001 - a rejected certificate is a row, not a crash
        return {"verdict": "rejected", "check_s": time.perf_counter() - start,
                "note": f"{type(exc).__name__}: {exc}"[:300]}
    check_s = time.perf_counter() - start
    accepted = outcome is None or bool(getattr(outcome, "ok", outcome))
    note = outcome.summary() if hasattr(outcome, "summary") else str(outcome)
    return {"verdict": "accepted" if accepted else "rejected", "check_s": check_s, "note": note[:300]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.acasxu_worker", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="job", required=True)
    mar = sub.add_parser("marabou")
    mar.add_argument("onnx")
    mar.add_argument("vnnlib")
    mar.add_argument("--timeout", type=float, default=116.0)
    cert = sub.add_parser("certificate")
    cert.add_argument("file")
    args = parser.parse_args(argv)
    report_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    sys.stdout.flush()
    os.dup2(devnull, 1)
    try:
        if args.job == "marabou":
            report = marabou(args.onnx, args.vnnlib, args.timeout)
        else:
            report = check_certificate(args.file)
    except Exception as exc:  # noqa: BLE001 - reported as a row of the table
        report = {"verdict": "error", "solve_s": None, "point": None, "note": f"{type(exc).__name__}: {exc}"[:300]}
    with os.fdopen(report_fd, "w") as handle:
        handle.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
