"""The ``mathcircuits`` command line: prove the catalogue, check a user's claim, check a model file."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Sequence

# One BLAS thread, set before numpy loads: the engine's matrices are small (ACAS Xu: 50 x 50), a
# second OpenBLAS thread spins rather than helps (ACAS Xu 2_7 prop 1 at load 5: 44 s wall with two
# threads, 21 s with one), and one thread keeps float results, hence searches, the same everywhere.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from proofs import cli_args, cli_certificate, cli_cross_check, cli_prove  # noqa: E402
from proofs import cli_smtlib  # noqa: E402
from proofs.cli_output import OutputError, run_guarded, say  # noqa: E402
from symbolic import errors  # noqa: E402

EXIT_PROVED, EXIT_REFUTED, EXIT_BAD_INPUT, EXIT_UNKNOWN, EXIT_INTERNAL = 0, 1, 2, 3, 4


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2, and ``--tolerance -1/100`` or
    ``--timeout -inf`` pass the value on (to be refused by name) instead of reading it as an option."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-(\.?[0-9].*|inf|infinity|nan)$", re.IGNORECASE)

    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.removeprefix("mathcircuits").strip()
        raise errors.ParseError(f"{command}: {message}" if command else message)


def _verdict_exit(verdict, result=None) -> int:
    """The exit code of a verdict; ``EXIT_INTERNAL`` when ``--cross-check``'s second route contradicts it."""
    from verify.result import Verdict

    if result is not None and cli_cross_check.disagree([result]):
        say(f"error: two routes disagree: {cli_cross_check.line(result.confirmation)}")
        return EXIT_INTERNAL
    return {Verdict.PROVED: EXIT_PROVED, Verdict.REFUTED: EXIT_REFUTED, Verdict.UNKNOWN: EXIT_UNKNOWN}[verdict]


# -- claim ------------------------------------------------------------------------------------
def _build_claim(args: argparse.Namespace):
    from proofs.text_to_domain import parse_domain
    from proofs.text_to_expr import parse_expression, parse_names
    from symbolic.expr_to_circuit import expr_to_circuit, natural_key
    from verify.claim import Claim

    parameters = list(parse_names(args.parameters)) if args.parameters else []
    network = parse_expression(args.network)
    target = parse_expression(args.target)
    inputs = list(parse_names(args.inputs)) if args.inputs else None
    if inputs is None:
        names = {s.name for s in network.free_symbols} | {s.name for s in target.free_symbols}
        inputs = sorted(names - set(parameters), key=natural_key)
    circuit = expr_to_circuit(network, inputs, parameters)
    variables = list(circuit.inputs) + [str(p) for p in circuit.parameters]
    domain = parse_domain(args.domain, variables)
    return Claim(circuit, target, domain, _kind(args, target))


def cmd_claim(args: argparse.Namespace) -> int:  # noqa: D103
    from verify.decide import Config, decide

    from symbolic.budget import Deadline

    deadline = Deadline(args.timeout, args.started)  # one wall-clock budget for the whole command
    claim = _build_claim(args)
    result = decide(claim, Config(timeout_s=args.timeout, deadline=deadline, workers=args.workers,
                                  scheduler=args.scheduler))
    result = _cross_check(args, result, deadline)
    extra = {**_certificate(args, result, deadline), **cli_smtlib.printed(args, [result], deadline)}
    _print_result(result, args.json, extra)
    _single_report(args, "claim", result, {})
    return _verdict_exit(result.verdict, result)


def _cross_check(args: argparse.Namespace, result, deadline):
    """``--cross-check``: the result with a second route's confirmation, within the command's budget."""
    return cli_cross_check.confirm(result, deadline.remaining()) if args.cross_check else result


def _certificate(args: argparse.Namespace, result, deadline) -> dict:
    """``--certificate FILE``: save the verdict's certificate; the facts to print (empty without it)."""
    from proofs import cli_certificate

    facts = cli_certificate.save(args.certificate, [result], deadline.end)
    if facts is None:
        return {}
    return {"certificate": facts} if args.json else {"certificate": cli_certificate.describe(facts)}


def _single_report(args: argparse.Namespace, name: str, result, extra: dict) -> None:
    """``--report DIR`` on claim and check: the same pages as the catalogue's, for one result."""
    if not args.report:
        return
    from proofs import report

    paths = report.write_reports([(name, result, extra)], result.elapsed_s, args.report)
    if not args.json:
        print(f"report: {paths[0]}")


def _print_result(result, as_json: bool, extra: dict | None = None) -> None:
    from verify.result import exact_str

    if as_json:
        print(json.dumps({**result.to_json(), **(extra or {})}, indent=2))
        return
    print(f"claim:   {result.claim.statement()}")
    print(f"domain:  {result.claim.domain.describe(result.claim.variables)}")
    print(f"verdict: {result.verdict.value} ({result.method}, {result.elapsed_s:.3f} s)")
    if result.counterexample:
        cex = result.counterexample
        point = ", ".join(f"{k} = {exact_str(v)}" for k, v in cex.point.items())
        print(f"counterexample: {point}; network = {exact_str(cex.network_value)}, "
              f"target = {exact_str(cex.target_value)} (replayed exactly)")
    if result.reason:
        print(f"reason:  {result.reason}")
    if result.evidence:
        print(f"evidence: {result.evidence}")
    if result.confirmation is not None:
        print(f"cross-check: {cli_cross_check.line(result.confirmation)}")
    for key, value in (extra or {}).items():
        if value is None and key in _ROUNDED_KEYS:
            continue  # no rounding satisfies the claim: simpler_circuit says so
        print(f"{key}: {value}")


_ROUNDED_KEYS = ("rounded_expression", "rounded_relu_form", "denominator")


# -- trained models -------------------------------------------------------------------------------
def _load_model(args: argparse.Namespace):
    from networks.model_files import load_model
    from proofs.text_to_expr import parse_names

    names = list(parse_names(args.inputs)) if args.inputs else None
    return load_model(args.model, input_names=names, max_bytes=args.max_model_bytes)


def _kind(args: argparse.Namespace, target):
    """The claim kind the options ask for: tolerance, predicate (condition target) or equality."""
    from verify.claim import Equality, Predicate, Tolerance, is_condition

    if args.tolerance is not None:  # exact numbers, checked while parsing the options
        if is_condition(target):
            raise errors.ClaimError("--tolerance needs a numeric target, not a condition")
        return Tolerance(args.tolerance)
    if is_condition(target):
        return Predicate(">", args.threshold)
    return Equality()


def cmd_check(args: argparse.Namespace) -> int:
    """Load, state the claim, then the typed pipeline of :mod:`proofs.check`; print and report its facts."""
    from pathlib import Path

    from proofs.check import CheckOptions, check_model
    from proofs.text_to_domain import parse_domain
    from proofs.text_to_expr import parse_expression
    from verify.claim import Claim
    from verify.decide import Config
    from symbolic.budget import Deadline

    deadline = Deadline(args.timeout, args.started)  # one wall-clock budget for the whole command
    circuit = _load_model(args)
    target = parse_expression(args.target)
    domain = parse_domain(args.domain, list(circuit.inputs))
    claim = Claim(circuit, target, domain, _kind(args, target))
    config = Config(timeout_s=args.timeout, deadline=deadline, workers=args.workers, scheduler=args.scheduler)
    checked = check_model(claim, CheckOptions(round=args.round, require_max_error=args.max_error,
                                              cross_check=args.cross_check), config)
    result, extra = checked.result, checked.facts()
    printed = {**extra, **_certificate(args, result, deadline), **cli_smtlib.printed(args, [result], deadline)}
    _print_result(result, args.json, printed)
    _single_report(args, Path(args.model).stem, result, extra)
    return _verdict_exit(result.verdict, result)


def cmd_simplify(args: argparse.Namespace) -> int:
    from proofs.text_to_domain import parse_domain
    from symbolic.circuit_to_canonical import canonicalize
    from symbolic.circuit_to_closed_form import closed_form
    from symbolic.circuit_to_rounded import DENOMINATORS, round_weights
    from verify.worst_case import max_error

    from symbolic.budget import Deadline

    deadline = Deadline(args.timeout, args.started)  # one wall-clock budget for the whole command
    circuit = _load_model(args)
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
            raise errors.ParseError(f"argument SOURCE: {exc}") from None
        return _load_model(args)
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
    return _verdict_exit(proof.verdict)


# -- parser -------------------------------------------------------------------------------------
_LIMITS = f"{cli_args.MIN_TIMEOUT_S:g}..{cli_args.MAX_TIMEOUT_S:g}"


def _timeout(p: argparse.ArgumentParser, default: float, help: str) -> None:
    p.add_argument("--timeout", type=cli_args.seconds, default=default, metavar="S",
                   help=f"{help} (seconds, {_LIMITS}; default {default:g})")


def _parallel(p: argparse.ArgumentParser) -> None:
    """``--workers`` and ``--scheduler``: where branch and bound searches its sub-boxes."""
    p.add_argument("--workers", type=cli_args.workers, metavar="N",
                   help="branch and bound over sub-boxes in N local processes (1: this one); the verdict "
                        "and certificate are the same for every N (default: the sequential search)")
    p.add_argument("--scheduler", type=cli_args.scheduler_address, metavar="ADDRESS",
                   help="branch and bound: run the sub-boxes on this Dask scheduler, e.g. tcp://host:8786")


def _report(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument("--report", type=cli_args.report_folder, metavar="DIR", help=help)


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--inputs", help="input names, e.g. a,b (default x or x1..xn)")
    p.add_argument("--max-model-bytes", type=cli_args.byte_size, metavar="N",
                   help="refuse a model file larger than N bytes (e.g. 50000000, 64M, 1G; default: the "
                        "loader's cap for the format)")


def _claim_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tolerance", type=cli_args.non_negative_number, metavar="EPS",
                   help="prove |N - target| <= EPS instead of equality (an exact number >= 0)")
    p.add_argument("--threshold", type=cli_args.exact_number, default="0",
                   help="for a condition target: prove N > THRESHOLD iff it holds")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mathcircuits", description="Formal answers about small ReLU networks.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("prove", help="prove the seed catalogue (or the named theorems)")
    p.add_argument("names", nargs="*", metavar="NAME", help="theorems to run (default: all)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--list", action="store_true", help="list theorem names and sources")
    _report(p, "write the catalogue report (HTML, Markdown, JSON) into DIR")
    p.add_argument("--certificate", type=cli_args.report_folder, metavar="DIR",
                   help="write each theorem's certificate into DIR/NAME.json (check: mathcircuits certify FILE)")
    p.add_argument("--smtlib", type=cli_args.report_folder, metavar="DIR",
                   help="write each theorem's SMT-LIB 2 query into DIR/NAME.smt2 (unsat = the claim holds)")
    cli_cross_check.add_option(p)
    _timeout(p, 10.0, "wall-clock budget per theorem, all methods")
    p.set_defaults(func=cli_prove.cmd_prove)

    c = sub.add_parser("claim", help="prove or refute a claim about a network written as an expression")
    c.add_argument("network", metavar="NETWORK", help='e.g. "relu(x1) - relu(-x1) - relu(x1 - x2)"')
    c.add_argument("--target", required=True, help='e.g. "min(x1, x2)", "[x < 10]", or a condition "x1 > x2"')
    c.add_argument("--domain", default="R", help='e.g. "R^2", "x1 in [-1, 1], x2 in (0, oo)", "x in {0..15}"')
    _claim_options(c)
    c.add_argument("--inputs", help="input names in order, e.g. a,b (default: the variables, sorted)")
    c.add_argument("--parameters", help="symbolic weights, e.g. w1,w2 (constrain them in --domain)")
    c.add_argument("--json", action="store_true", help="print JSON")
    _report(c, "also write an HTML/Markdown/JSON report into DIR")
    cli_certificate.add_option(c)
    cli_smtlib.add_option(c)
    cli_cross_check.add_option(c)
    _parallel(c)
    _timeout(c, 10.0, "wall-clock budget of the whole command, all methods")
    c.set_defaults(func=cmd_claim)

    k = sub.add_parser("check", help="check a trained model file (.json, .pt, .pt2, .onnx) against a target")
    k.add_argument("model", metavar="MODEL", type=cli_args.model_file)
    k.add_argument("--target", required=True, help='e.g. "min(x1, x2)"')
    k.add_argument("--domain", default="R", help='e.g. "[-1, 1]^2"')
    _claim_options(k)
    k.add_argument("--round", action="store_true", help="canonicalise and round to the simplest weights first")
    k.add_argument("--max-error", action="store_true", help="require the exact worst-case error (bounded domain)")
    _model_options(k)
    k.add_argument("--json", action="store_true", help="print JSON")
    _report(k, "also write an HTML/Markdown/JSON report into DIR")
    cli_certificate.add_option(k)
    cli_smtlib.add_option(k)
    cli_cross_check.add_option(k)
    _parallel(k)
    _timeout(k, 60.0, "wall-clock budget of the whole command, all methods")
    k.set_defaults(func=cmd_check)

    r = sub.add_parser("report", help="write the report of the catalogue (or the named theorems)")
    r.add_argument("names", nargs="*", metavar="NAME", help="theorems (default: all)")
    r.add_argument("--out", required=True, type=cli_args.report_folder, metavar="DIR",
                   help="folder for index.html, index.md, catalogue.json")
    r.add_argument("--format", type=cli_args.report_formats, default="html,md,json",
                   help="comma-separated: html, md, json")
    _timeout(r, 10.0, "wall-clock budget per theorem, all methods")
    r.set_defaults(func=cli_prove.cmd_report)

    m = sub.add_parser("simplify", help="canonical, rounded closed form of a model and its exact rounding error")
    m.add_argument("model", metavar="MODEL", type=cli_args.model_file)
    m.add_argument("--domain", help="bounded domain for the error (default [-1, 1]^n)")
    m.add_argument("--tolerance", type=cli_args.non_negative_number, default="1/100",
                   help="largest acceptable rounding error, an exact number >= 0 (default 1/100)")
    _model_options(m)
    m.add_argument("--json", action="store_true", help="print JSON")
    _timeout(m, 60.0, "wall-clock budget of the whole command, all methods")
    m.set_defaults(func=cmd_simplify)

    e = sub.add_parser("explain", help="name features, match library circuits, ablate or edit neurons")
    e.add_argument("source", metavar="SOURCE", help="a model file, or a network expression")
    e.add_argument("--drop", action="append", metavar="NEURON", help="remove a neuron (repeatable)")
    e.add_argument("--set", action="append", metavar="NEURON.SOURCE=VALUE", help="edit one weight (repeatable)")
    _model_options(e)
    e.add_argument("--json", action="store_true", help="print JSON")
    _timeout(e, 10.0, "wall-clock budget of the whole command, all methods")
    e.set_defaults(func=cmd_explain)

    from proofs import cli_training  # census and train live in their own module

    cli_training.add_parsers(sub)

    from proofs import cli_vnnlib  # the vnnlib subcommand lives in its own module

    cli_vnnlib.add_parser(sub)
    from proofs import cli_certify  # the certify subcommand lives in its own module

    cli_certify.add_parser(sub)
    from proofs import cli_equiv  # the equiv subcommand lives in its own module

    cli_equiv.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mathcircuits`` console script; returns the exit code.

    A closed standard output (``mathcircuits prove | head``) ends quietly with 141, an unwritable
    one (a full disk) with one line and 2; see :mod:`proofs.cli_output`.
    """
    return run_guarded(lambda: _run(argv))


def _run(argv: Sequence[str] | None) -> int:
    # --timeout counts from the start of the process when it is the command (argv from the command
    # line), else from here: interpreter start-up and parsing (which imports sympy, z3) count too.
    from symbolic.budget import process_start

    started = process_start() if argv is None else time.monotonic()
    try:
        args = build_parser().parse_args(argv)
        args.started = started
        return args.func(args)
    except errors.ReplayError as exc:
        say(f"mathcircuits: internal error (a bug, please report): {exc}")
        return EXIT_INTERNAL
    except errors.TimeoutExpired as exc:  # the --timeout budget ran out: unknown, not bad input
        say(f"mathcircuits: unknown: {exc}")
        return EXIT_UNKNOWN
    except errors.MathCircuitsError as exc:
        say(f"mathcircuits: error: {exc}")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        say("mathcircuits: interrupted")
        return 130
    except OutputError:
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence against a traceback
        if os.environ.get("MATHCIRCUITS_DEBUG"):
            raise
        say(f"mathcircuits: internal error (a bug, please report; MATHCIRCUITS_DEBUG=1 shows the "
            f"traceback): {type(exc).__name__}: {exc}")
        return EXIT_INTERNAL

if __name__ == "__main__":
    sys.exit(main())
