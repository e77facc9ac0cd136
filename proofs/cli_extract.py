"""The ``mathcircuits extract`` command: find a small exact circuit inside a trained network, and prove both facts.

``mathcircuits extract MODEL --target T --domain D`` simplifies the network on the domain (dead,
always-active, duplicate and mirror-image neurons), rounds what is left, and proves ``C = f`` for
the circuit ``C`` it finds, then measures and proves the exact ``delta = max |N - C|``
(:mod:`proofs.extract`). It maps every neuron of ``N`` to the feature of ``C`` it serves and
measures each feature's share of the output. ``--compare-proofs`` also proves ``|N - f| <= eps``
directly and through ``C`` and prints both proofs' sizes (:mod:`proofs.extract_proofs`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from proofs import cli_args
from symbolic import errors

DEFAULT_TIMEOUT_S = 120.0
EXIT_CODES = {"proved": 0, "refuted": 1, "unknown": 3}

_EPILOG = """\
The domain must be bounded (default: [-1, 1] for every input). The circuit C is proved equal to
the target on it (or within --tolerance); delta = max |N - C| is exact, with its own proof.

exit codes: 0 a circuit was found and both facts proved, 3 no circuit found within the budgets
(the attempts are printed), 2 bad input (one line on stderr), 4 internal error.

example: mathcircuits extract mlp_w16.onnx --target "min(x1, x2)" --domain "[-1, 1]^2"
"""


def add_parser(sub) -> None:
    """Register ``extract`` on the subcommands of ``mathcircuits``."""
    e = sub.add_parser("extract", help="find a small exact circuit inside a trained network; prove C = f and |N - C|",
                       description="Find a small exact circuit C inside a trained network N: prove C = f and the\n"
                                   "exact worst-case distance |N - C| <= delta, and map N's neurons to C's features.",
                       epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("model", metavar="MODEL", type=cli_args.model_file,
                   help="the trained network: a .json, .onnx, .pt or .pt2 file")
    e.add_argument("--target", required=True, help='the function the circuit must compute, e.g. "min(x1, x2)"')
    e.add_argument("--domain", help='a bounded domain over the inputs, e.g. "[-1, 1]^2" (default: [-1, 1]^n)')
    e.add_argument("--tolerance", type=cli_args.non_negative_number, metavar="EPS",
                   help="accept a circuit with |C - f| <= EPS instead of C = f (an exact number >= 0)")
    e.add_argument("--max-neurons", type=cli_args.integer(0, 100_000), metavar="K",
                   help="keep simplifying until C has at most K ReLUs (default: the first circuit found)")
    e.add_argument("--compare-proofs", action="store_true",
                   help="also prove |N - f| <= EPS directly and through C, and print both proofs' sizes")
    e.add_argument("--eps", type=cli_args.non_negative_number, metavar="EPS",
                   help="the bound for --compare-proofs (default: twice the exact delta)")
    e.add_argument("--inputs", help="input names in order, e.g. a,b (default: x or x1..xn)")
    e.add_argument("--max-model-bytes", type=cli_args.byte_size, metavar="N",
                   help="refuse a model file larger than N bytes (default: the loader's cap for the format)")
    e.add_argument("--json", action="store_true", help="print JSON")
    e.add_argument("--report", type=cli_args.report_folder, metavar="DIR",
                   help="also write extract.md, extract.html and extract.json into DIR")
    e.add_argument("--certificates", type=cli_args.report_folder, metavar="DIR",
                   help="save both proofs' certificates into DIR (circuit.json: C = f; distance.json: |N - C| "
                        "<= delta); re-check with `mathcircuits certify FILE`")
    e.add_argument("--timeout", type=cli_args.seconds, default=DEFAULT_TIMEOUT_S, metavar="S",
                   help=f"wall-clock budget of the whole command (seconds, {cli_args.MIN_TIMEOUT_S:g}.."
                        f"{cli_args.MAX_TIMEOUT_S:g}; default {DEFAULT_TIMEOUT_S:g})")
    e.set_defaults(func=cmd_extract)


def cmd_extract(args: argparse.Namespace) -> int:
    """Load, state the claim, extract, print (and report); return the exit code."""
    from proofs.cli_check import load_model
    from proofs.extract import extract
    from proofs.text_to_domain import parse_domain
    from proofs.text_to_expr import parse_expression
    from symbolic.budget import Deadline
    from verify.claim import Claim, Equality, Tolerance, is_condition
    from verify.decide import Config

    deadline = Deadline(args.timeout, args.started)  # one wall-clock budget for the whole command
    network = load_model(args)
    target = parse_expression(args.target)
    if is_condition(target):
        raise errors.ClaimError("extract: --target must be a function such as \"min(x1, x2)\", not a condition")
    domain = parse_domain(args.domain or "[-1, 1]^" + str(len(network.inputs)), list(network.inputs))
    kind = Equality() if not args.tolerance else Tolerance(args.tolerance)
    claim = Claim(network, target, domain, kind)
    config = Config(timeout_s=args.timeout, deadline=deadline)
    found = extract(claim, args.max_neurons, config)
    facts = {"model": str(args.model), **found.facts()}
    if args.compare_proofs and found.found:
        from proofs.extract_proofs import compare_proofs

        facts["proof_sizes"] = compare_proofs(found, args.eps, config)
    if args.certificates and found.found:
        facts["certificates"] = _save_certificates(found, args.certificates)
    if args.json:
        print(json.dumps(facts, indent=2))
    else:
        print(render_text(facts))
    if args.report:
        from proofs.extract_report import write_report

        paths = write_report(found, facts, args.report)
        if not args.json:
            print(f"report: {paths[0]}")
    if not found.found:
        return EXIT_CODES["unknown"]
    return 0 if found.proof is not None and found.proof.verdict.value == "proved" else EXIT_CODES["unknown"]


def _save_certificates(found, folder: Path) -> dict:
    from verify.result_to_certificate import NoCertificate, certificate_of

    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, result, ready in (("circuit", found.result, None), ("distance", found.proof, found.proof_certificate)):
        if result is None:
            continue
        try:
            cert = ready or certificate_of(result)
        except NoCertificate as exc:
            out[name] = f"none: {exc}"
            continue
        path = folder / f"{name}.json"
        path.write_text(json.dumps(cert, indent=1))
        out[name] = str(path)
    return out


def render_text(facts: dict) -> str:
    """The human-readable summary of an extraction's facts (exact numbers as a short decimal with
    the fraction, :func:`symbolic.printing.readable`; the JSON keeps them whole)."""
    from symbolic.printing import readable

    lines = [f"network:  {facts['model']} ({facts['network_neurons']} ReLUs)",
             f"claim:    {facts['statement']} on {facts['domain']}"]
    if not facts["found"]:
        lines.append(f"circuit:  none found ({facts['reason']})")
    else:
        relus = facts["circuit_relus"]
        lines += [f"circuit:  C = {facts['closed_form']} ({relus} ReLU{'' if relus == 1 else 's'})",
                  f"          C = f: {facts['verdict']} ({facts['method']})"]
        if facts.get("distance") is not None:
            at = readable(facts.get("distance_at")) if facts.get("distance_at") else "every point (N = C)"
            lines.append(f"distance: max |N - C| = {readable(facts['distance'])} at {at}")
            lines.append(f"          |N - C| <= delta: {facts.get('distance_proof')} ({facts.get('distance_proof_method')})")
        lines.append("steps:")
        lines += [f"  {s}" for s in facts.get("steps", [])] or ["  (none: the rounding alone found C)"]
        lines.append("neurons of N:")
        lines += [f"  {r['neuron']}: {r['feature']} ({r['how']})" for r in facts["features"]]
        lines.append("share of N's output (measured on sample points):")
        lines += [f"  {label}: {share:.1%}" for label, share in facts["shares"].items()]
    lines.append("attempts (budget: ReLUs left -> rounded verdict):")
    lines += [f"  {a['budget']}: {a['relus']} -> {a['rounded_verdict']}"
              + (f" (denominators <= {a['denominator']}, {a['relus_after_rounding']} ReLUs)" if a["denominator"] else "")
              for a in facts["attempts"]]
    sizes = facts.get("proof_sizes")
    if sizes and sizes.get("eps"):
        d = sizes["direct"]
        lines.append(f"proof sizes for |N - f| <= {sizes['eps_decimal']}:")
        lines.append(f"  directly:  {d['verdict']} by {d['method']}, {d['count']} {d['unit']}, {d['seconds']} s")
        for p in sizes["through_circuit"]:
            lines.append(f"  through C: {p['statement']}: {p['verdict']} by {p['method']}, {p['count']} {p['unit']}, "
                         f"{p['seconds']} s")
        compact = sizes.get("through_steps") or {}
        for p in compact.get("parts", []):
            lines.append(f"  via steps: {p['statement']}: {p['verdict']} by {p['method']}, {p['count']} {p['unit']}, "
                         f"{p['seconds']} s")
        if compact.get("reason"):
            lines.append(f"  via steps: not available ({compact['reason']})")
    for name, where in (facts.get("certificates") or {}).items():
        lines.append(f"certificate ({name}): {where}")
    return "\n".join(lines)
