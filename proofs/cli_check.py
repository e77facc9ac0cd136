"""``mathcircuits claim`` and ``mathcircuits check``: a user's claim about an expression or a model file.

Also the helpers every verdict-printing command shares: the exit code of a verdict, the printed
result and the ``--report DIR`` pages of one result.
"""

from __future__ import annotations

import argparse
import json

from proofs import cli_cross_check, cli_smtlib
from proofs.cli_args import EXIT_INTERNAL, EXIT_PROVED, EXIT_REFUTED, EXIT_UNKNOWN
from proofs.cli_output import say
from symbolic import errors


def verdict_exit(verdict, result=None) -> int:
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
    return verdict_exit(result.verdict, result)


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


def _single_report(args: argparse.Namespace, prefix: str, result, extra: dict) -> None:
    """``--report DIR`` on claim and check: the same pages as the catalogue's, for one result, named
    by the claim's content (``PREFIX-<hash>``), beside the claims already reported in DIR."""
    if not args.report:
        return
    from proofs import report

    options = ["round"] if getattr(args, "round", False) else []
    name = report.claim_slug(prefix, result.claim, *options)
    paths = report.write_reports([(name, result, extra)], result.elapsed_s, args.report)
    if not args.json:
        page = next((p for p in paths if p.parent.name == "theorems" and p.name == f"{name}.html"), None)
        print(f"report: {paths[0]}" + (f" (this claim: {page})" if page else ""))


def _print_result(result, as_json: bool, extra: dict | None = None) -> None:
    """The result for people (exact numbers as a short decimal and the fraction, see
    :func:`symbolic.printing.readable`), or as JSON (exact strings)."""
    from symbolic.printing import readable

    if as_json:
        print(json.dumps({**result.to_json(), **(extra or {})}, indent=2))
        return
    print(f"claim:   {result.claim.statement()}")
    print(f"domain:  {result.claim.domain.describe(result.claim.variables)}")
    print(f"verdict: {result.verdict.value} ({result.method}, {result.elapsed_s:.3f} s)")
    if result.counterexample:
        cex = result.counterexample
        point = ", ".join(f"{k} = {readable(v)}" for k, v in cex.point.items())
        print(f"counterexample: {point}; network = {readable(cex.network_value)}, "
              f"target = {readable(cex.target_value)} (replayed exactly)")
    if result.reason:
        print(f"reason:  {result.reason}")
    if result.evidence:
        print(f"evidence: {result.evidence}")
    if result.confirmation is not None:
        print(f"cross-check: {cli_cross_check.line(result.confirmation)}")
    for key, value in (extra or {}).items():
        if value is None and key in _ROUNDED_KEYS:
            continue  # no rounding satisfies the claim: simpler_circuit says so
        print(f"{key}: {readable(value)}")


_ROUNDED_KEYS = ("rounded_expression", "rounded_relu_form", "denominator")


# -- trained models -------------------------------------------------------------------------------
def load_model(args: argparse.Namespace):
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
    circuit = load_model(args)
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
    return verdict_exit(result.verdict, result)


