"""``mathcircuits explain`` and ``mathcircuits simplify``: what a network computes, and a simpler one."""

from __future__ import annotations

import argparse
import json

from proofs import cli_args
from proofs.cli_args import EXIT_UNKNOWN
from proofs.cli_check import load_model, verdict_exit
from symbolic import errors


def cmd_simplify(args: argparse.Namespace) -> int:
    from proofs.text_to_domain import parse_domain
    from symbolic.circuit_to_canonical import canonicalize
    from symbolic.circuit_to_closed_form import closed_form
    from symbolic.circuit_to_rounded import DENOMINATORS, round_weights
    from verify.worst_case import max_error

    from symbolic.budget import Deadline

    deadline = Deadline(args.timeout, args.started)  # one wall-clock budget for the whole command
    circuit = load_model(args)
    text = args.domain or "[-1, 1]^" + str(len(circuit.inputs))
    domain = parse_domain(text, list(circuit.inputs))
    tolerance = args.tolerance
    canonical = canonicalize(circuit, deadline)
    samples = _float_samples(domain, circuit.inputs)
    chosen = None
    for bound in DENOMINATORS:
        rounded = round_weights(canonical, bound, deadline)
        if samples and _sampled_deviation(canonical, rounded, samples) > float(tolerance) * 1.001:
            continue  # a float sample already exceeds the tolerance: skip the exact computation
        deviation = max_error(canonical, rounded, domain, deadline=deadline)
        if deviation.value is not None and deviation.value <= tolerance:
            chosen = (bound, rounded, deviation)
            break
    report = {"canonical": str(canonical), "domain": domain.describe(circuit.inputs)}
    if chosen is None:
        report.update({"rounded_expression": None, "denominator": None,
                       "reason": f"no denominator up to {DENOMINATORS[-1]} stays within {tolerance}"})
    else:
        bound, rounded, deviation = chosen
        report.update({"rounded_expression": str(closed_form(rounded, minmax=True, deadline=deadline)),
                       "denominator": bound,
                       "rounding_error": str(deviation.value),
                       "rounding_error_at": {k: str(v) for k, v in deviation.at.items()}})
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"canonical form:\n{report['canonical']}\n")
        if chosen is None:
            print(report["reason"])
        else:
            print(f"rounded (denominators <= {report['denominator']}): {report['rounded_expression']}")
            print(f"exact rounding error on {report['domain']}: {report['rounding_error']} "
                  f"at {report['rounding_error_at']}")
    return 0 if chosen is not None else EXIT_UNKNOWN


def _float_samples(domain, inputs, count: int = 400) -> list[dict]:
    """Deterministic sample points of a bounded domain (corners included), to guide searches."""
    import itertools
    import random

    if not domain.is_bounded(inputs) or domain.is_finite(inputs):
        return []
    bounds = []
    for name in inputs:
        s = domain.of(name)
        lo = float(s.lo if hasattr(s, "lo") and s.lo is not None else min(s.values))
        hi = float(s.hi if hasattr(s, "hi") and s.hi is not None else max(s.values))
        bounds.append((lo, hi))
    rng = random.Random(0)
    points = [dict(zip(inputs, corner)) for corner in itertools.product(*bounds)]
    points += [{n: rng.uniform(lo, hi) for n, (lo, hi) in zip(inputs, bounds)} for _ in range(count)]
    return points


def _sampled_deviation(a, b, samples) -> float:
    return max(abs(a.evaluate_float(p)[0] - b.evaluate_float(p)[0]) for p in samples)


# -- explain ------------------------------------------------------------------------------------
def _load_source(args: argparse.Namespace):
    """A model file when SOURCE names an existing path or ends in a model suffix, else a network
    expression."""
    import os

    from networks.model_files import SUFFIXES

    if os.path.lexists(args.source) or os.path.splitext(args.source)[1].lower() in SUFFIXES:
        try:
            args.model = cli_args.model_file(args.source)
        except argparse.ArgumentTypeError as exc:
            raise errors.ParseError(f"explain: argument SOURCE: {exc}") from None
        return load_model(args)
    from proofs.text_to_expr import parse_expression, parse_names
    from symbolic.expr_to_circuit import expr_to_circuit

    names = list(parse_names(args.inputs)) if args.inputs else None
    return expr_to_circuit(parse_expression(args.source), names)


def cmd_explain(args: argparse.Namespace) -> int:
    from proofs import analysis
    from proofs.text_to_expr import parse_number
    from symbolic.circuit_to_features import name_features, reconstructors
    from symbolic.printing import show
    from verify.decide import Config

    from symbolic.budget import Deadline

    # one wall-clock budget for the whole command
    config = Config(timeout_s=args.timeout, deadline=Deadline(args.timeout, args.started))
    circuit = _load_source(args)
    edits = []
    for neuron in args.drop or []:
        circuit = analysis.ablate(circuit, neuron)
        edits.append(f"dropped {neuron}")
    for spec in args.set or []:
        target, _, value = spec.partition("=")
        neuron, _, source = target.partition(".")
        if not (neuron and source and value):
            raise errors.ParseError(f"--set takes NEURON.SOURCE=VALUE (SOURCE may be bias), got {spec!r}")
        circuit = analysis.edit(circuit, neuron, source, parse_number(value))
        edits.append(f"set {neuron}.{source} = {value}")
    form, proof = analysis.explain(circuit, config)
    report = {
        "edits": edits,
        "closed_form": show(form),
        "closed_form_verdict": proof.verdict.value,
        "closed_form_method": proof.method,
        "features": [{"neuron": f.neuron, "kind": f.kind, "description": f.description,
                      "scale": str(f.scale)} for f in name_features(circuit)],
        "reconstructors": [r.description for r in reconstructors(circuit)],
        "library_matches": [m.description for m in analysis.match_library(circuit, config)],
        "sub_circuits": analysis.sub_circuits(circuit),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        if edits:
            print("edits: " + "; ".join(edits))
        print(f"closed form: {report['closed_form']}  ({proof.verdict.value} on R^n, {proof.method})")
        print("features:")
        for f in report["features"]:
            print(f"  {f['neuron']}: {f['description']}" + ("" if f["scale"] == "1" else f" (x{f['scale']})"))
        for key in ("reconstructors", "library_matches", "sub_circuits"):
            print(f"{key.replace('_', ' ')}:" + ("" if report[key] else " none"))
            for line in report[key]:
                print(f"  {line}")
    return verdict_exit(proof.verdict)


