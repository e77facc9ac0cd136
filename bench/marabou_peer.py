"""The Marabou peer (``maraboupy``, the optional ``bench`` extra).

Marabou takes one network and bounds, so each query reads ``NAME.minus_min.onnx`` (one plain MLP
computing ``d = N(x) - min(x1, x2)``), bounds the inputs to the box and asks for ``d >= eps + tiny``,
then (only if that is unsat) for ``d <= -eps - tiny``: sat in either is a counterexample, unsat in
both a proof. ``tiny = max(1e-6 * eps, 1e-9)`` keeps Marabou from returning points where
``|d| = eps`` exactly (the claim holds there); equality on the box is ``eps = 0``.
Not expressible: equality on all of R^2 (Marabou needs bounded inputs) and ``is_even`` (integer
inputs; Marabou has no integer variables without Gurobi) -- those cases show ``n/a``.

Work-arounds for the PyPI wheel ``maraboupy==2.0.0``:
* its ONNX parser module imports ``onnxruntime`` at the top but uses it only in
  ``evaluateWithoutMarabou``; when ``onnxruntime`` is not installed a stub module is registered
  so that ``Marabou.read_onnx`` is available (we never evaluate through onnxruntime);
* its import warns about missing TensorFlow; warnings are silenced;
* the solver writes to the process's stdout from C++; :mod:`bench.worker` points file
  descriptor 1 at /dev/null for the whole worker and reports on a duplicate of the original;
* it may crash or hang: it always runs in its own worker process with a timeout (and Marabou's
  own ``timeoutInSeconds``).

Every sat answer's input values are floats; the runner converts them exactly with
``Fraction(float)`` and replays them, so a witness that violates Marabou's own ReLU constraints
(it happens) is shown as a wrong answer.
"""

from __future__ import annotations

import importlib.util
import math
import sys
import time
import types
import warnings
from fractions import Fraction
from pathlib import Path


def available() -> bool:
    """Whether ``maraboupy`` is installed (without importing it)."""
    return importlib.util.find_spec("maraboupy") is not None


def _import_marabou():
    if importlib.util.find_spec("onnxruntime") is None:
        sys.modules.setdefault("onnxruntime", types.ModuleType("onnxruntime"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from maraboupy import Marabou
    if not hasattr(Marabou, "MarabouNetworkONNX"):
        raise RuntimeError("maraboupy's ONNX parser is unavailable (is the onnx package installed?)")
    return Marabou


def margin(eps: Fraction) -> float:
    """The ``tiny`` added to ``eps`` in both queries."""
    return max(1e-6 * float(eps), 1e-9)


def load(onnx_path: str | Path):
    """Import maraboupy and read the network (the 'loading' part, not timed as solving)."""
    marabou = _import_marabou()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        network = marabou.read_onnx(str(onnx_path))
    return marabou, network


def solve_tolerance(marabou, network, eps: Fraction, timeout_s: float) -> dict:
    """Decide ``|d| <= eps`` on [-1, 1]^2 with one query per sign of the error.

    Returns ``{"verdict", "method", "solve_s", "point": {x1, x2: float} | None, "note"}``.
    """
    start = time.perf_counter()
    inputs = [int(v) for v in network.inputVars[0].flatten()]
    output = int(network.outputVars[0].flatten()[0])
    for var in inputs:
        network.setLowerBound(var, -1.0)
        network.setUpperBound(var, 1.0)
    bound = float(eps) + margin(eps)
    for sign in (+1, -1):
        network.lowerBounds.pop(output, None)
        network.upperBounds.pop(output, None)
        if sign > 0:
            network.setLowerBound(output, bound)
        else:
            network.setUpperBound(output, -bound)
        left = timeout_s - (time.perf_counter() - start)
        if left <= 0:
            return _result("unknown", start, note="timeout")
        options = marabou.createOptions(verbosity=0, timeoutInSeconds=max(1, math.ceil(left)))
        code, values, _stats = network.solve(options=options, verbose=False)
        if code == "sat":
            point = {f"x{i + 1}": float(values[v]) for i, v in enumerate(inputs)}
            query = "d >= eps + tiny" if sign > 0 else "d <= -(eps + tiny)"
            note = f"{query}: sat, Marabou's d = {values[output]!r}"
            return _result("refuted", start, point, note)
        if code != "unsat":
            return _result("unknown", start, note=f"{'d >= eps' if sign > 0 else 'd <= -eps'}: {code}")
    return _result("proved", start, note="both signs unsat")


def _result(verdict: str, start: float, point: dict | None = None, note: str = "") -> dict:
    return {"verdict": verdict, "method": "marabou", "solve_s": time.perf_counter() - start,
            "point": point, "note": note}


def to_fractions(point: dict[str, float]) -> dict[str, Fraction]:
    """Marabou's float inputs as exact rationals (the exact binary value of each double)."""
    return {name: Fraction(value) for name, value in point.items()}
