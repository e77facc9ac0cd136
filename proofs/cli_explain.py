"""``mathcircuits explain`` and ``mathcircuits simplify``: what a network computes, and a simpler one."""

from __future__ import annotations

import argparse
import json

from proofs import cli_args
from proofs.cli_args import EXIT_UNKNOWN
from proofs.cli_check import load_model, verdict_exit
from symbolic import errors


def cmd_simplify(args: argparse.Namespace) -> int:
    """The simplest rounding of a model: within ``--tolerance`` of the model itself, or, with
    ``--target``, satisfying ``|N - target| <= EPS``. Both by the one rounding rule of
    :func:`verify.rounding.simplest_rounding` (with ``--target`` it is exactly ``check --round``'s
    search, so both give the same circuit); the chosen rounding's claim is proved, not sampled."""
    from proofs.text_to_domain import parse_domain
    from proofs.text_to_expr import parse_expression
    from symbolic.activation import RELU_AND_LINEAR
    from symbolic.budget import Deadline
    from symbolic.circuit_to_closed_form import closed_form
    from symbolic.printing import readable, show
    from verify.claim import Claim, Equality, Tolerance, is_condition
    from verify.decide import Config
    from verify.rounding import round_and_prove, round_within, rounding_attempts
    from verify.worst_case import max_error

    deadline = Deadline(args.timeout, args.started)  # one wall-clock budget for the whole command
    config = Config(timeout_s=args.timeout, deadline=deadline)
    circuit = load_model(args)
    text = args.domain or "[-1, 1]^" + str(len(circuit.inputs))
    domain = parse_domain(text, list(circuit.inputs))
    tolerance = args.tolerance
    if args.target is not None:
        target = parse_expression(args.target)
        if is_condition(target):
            raise errors.ClaimError("simplify --target needs a numeric target, not a condition")
        kind = Tolerance(tolerance) if tolerance else Equality()
        rounding = round_and_prove(Claim(circuit, target, domain, kind), config)
        goal = f"N = {show(target)}" if not tolerance else f"|N - ({show(target)})| <= {tolerance}"
    else:
        rounding = round_within(circuit, domain, tolerance, config)
        goal = "N = N_file" if not tolerance else f"|N - N_file| <= {tolerance}"
    if not rounding.proved and deadline.expired():
        raise errors.TimeoutExpired(rounding.result.reason or f"timeout after {args.timeout:g} s in the rounding search")
    report = {"canonical": str(rounding.canonical), "domain": domain.describe(circuit.inputs), "claim": goal,
              "rounding_attempts": rounding_attempts(rounding)}
    if not rounding.proved:
        why = rounding.result.reason or f"each rounding tried was {rounding.result.verdict.value}"
        report.update({"rounded_expression": None, "denominator": None,
                       "reason": f"no rounding to denominators up to {rounding.denominator} proves {goal} ({why})"})
    else:
        report.update({"rounded_expression": str(closed_form(rounding.rounded, minmax=True, deadline=deadline)),
                       "denominator": rounding.denominator,
                       "proved_by": rounding.result.method})
        if domain.is_bounded(circuit.inputs) and all(a.activation in RELU_AND_LINEAR for a in circuit.assignments):
            deviation = max_error(circuit, rounding.rounded, domain, deadline=deadline)
            report.update({"rounding_error": None if deviation.value is None else str(deviation.value),
                           "rounding_error_at": None if deviation.at is None else
                           {k: str(v) for k, v in deviation.at.items()}})
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"canonical form:\n{report['canonical']}\n")
        if not rounding.proved:
            print(report["reason"])
        else:
            print(f"rounded (denominators <= {report['denominator']}): {report['rounded_expression']}")
            print(f"proved: {goal} on {report['domain']} ({report['proved_by']})")
            if report.get("rounding_error") is not None:
                print(f"exact rounding error on {report['domain']}: {readable(report['rounding_error'])}"
                      f" at {readable(report['rounding_error_at'])}")
    return 0 if rounding.proved else EXIT_UNKNOWN


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


#: Past this many neurons an edited network is explained by its deviation ``N' - N`` (only the
#: neurons downstream of the edit), not by the closed form of the whole network.
WHOLE_FORM_NEURONS = 24
#: A deviation's closed form longer than this is cut in the text output (never in the JSON).
SHOWN_FORM_CHARS = 600


def _explain_edit(args: argparse.Namespace, original, edited, edits: list[str], config) -> int:
    """The deviation of the edited network (:mod:`proofs.edit_deviation`), printed; the exit code."""
    from proofs.edit_deviation import deviation
    from proofs.text_to_domain import parse_domain
    from symbolic.printing import readable

    domain = parse_domain(args.domain or "R^" + str(len(original.inputs)), list(original.inputs))
    found = deviation(original, edited, domain, config)
    report = {"edits": edits, "domain": domain.describe(original.inputs), "neurons": len(original.neurons),
              **found.to_json()}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print("edits: " + "; ".join(edits))
        print(f"network: {report['neurons']} neurons; the edit changes {report['deviation_neurons']} of them")
        if report["deviation"] is not None:
            form = report["deviation"]
            if len(form) > SHOWN_FORM_CHARS:
                form = f"{form[:SHOWN_FORM_CHARS]}... ({len(form):,} characters; all of it with --json)"
            print(f"N' - N = {form}  ({report['deviation_verdict']} on {report['domain']}, "
                  f"{report['deviation_method']})")
        else:
            print(f"N' - N: {report['deviation_note']}")
        if report["max_deviation"] is not None:
            print(f"max |N' - N| = {readable(report['max_deviation'])} at {readable(report['max_deviation_at'])} "
                  f"({report['max_deviation_method']})")
        elif report["max_deviation_bounds"] is not None:
            low, high = report["max_deviation_bounds"]
            print(f"max |N' - N| between {low} and {high} ({report['max_deviation_method']})")
    if found.proof is None:
        return EXIT_UNKNOWN
    return verdict_exit(found.proof.verdict)


def cmd_explain(args: argparse.Namespace) -> int:
    from proofs import analysis
    from proofs.text_to_expr import parse_number
    from symbolic.circuit_to_features import name_features, reconstructors
    from symbolic.printing import readable, show
    from verify.decide import Config

    from symbolic.budget import Deadline

    # one wall-clock budget for the whole command
    config = Config(timeout_s=args.timeout, deadline=Deadline(args.timeout, args.started))
    circuit = _load_source(args)
    original = circuit
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
    if edits and (args.domain or len(circuit.neurons) > WHOLE_FORM_NEURONS):
        return _explain_edit(args, original, circuit, edits, config)
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
            print(f"  {f['neuron']}: {f['description']}" + ("" if f["scale"] == "1" else f" (x{readable(f['scale'])})"))
        for key in ("reconstructors", "library_matches", "sub_circuits"):
            print(f"{key.replace('_', ' ')}:" + ("" if report[key] else " none"))
            for line in report[key]:
                print(f"  {line}")
    return verdict_exit(proof.verdict)


