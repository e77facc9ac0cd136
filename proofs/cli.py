"""The ``mathcircuits`` command line: prove the catalogue, check a user's claim, check a model file."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence

from symbolic import errors

EXIT_PROVED, EXIT_REFUTED, EXIT_BAD_INPUT, EXIT_UNKNOWN, EXIT_INTERNAL = 0, 1, 2, 3, 4


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise errors.ParseError(f"{self.prog}: {message}")


def _verdict_exit(verdict) -> int:
    from verify.result import Verdict

    return {Verdict.PROVED: EXIT_PROVED, Verdict.REFUTED: EXIT_REFUTED, Verdict.UNKNOWN: EXIT_UNKNOWN}[verdict]


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# -- prove ------------------------------------------------------------------------------------
def cmd_prove(args: argparse.Namespace) -> int:
    from proofs import catalogue, report
    from verify.decide import Config

    theorems = catalogue.select(args.names)
    if args.list:
        for t in theorems:
            print(f"{t.name:38s} {t.source}")
        return 0
    config = Config(timeout_s=args.timeout)
    start = time.perf_counter()
    rows = [(t, t.run(config)) for t in theorems]
    total = time.perf_counter() - start
    bad = [t.name for t, r in rows if r.verdict is not t.expected]
    if args.json:
        print(json.dumps(report.catalogue_json(rows, total), indent=2))
    else:
        _print_table(rows)
        counts = {v: sum(r.verdict.value == v for _, r in rows) for v in ("proved", "refuted", "unknown")}
        summary = ", ".join(f"{n} {v}" for v, n in counts.items())
        status = "all as expected" if not bad else f"NOT as expected: {', '.join(bad)}"
        print(f"\n{len(rows)} theorems: {summary}; {status} ({total:.2f} s)")
    if args.report:
        paths = report.write_catalogue(rows, total, args.report)
        if not args.json:
            print(f"report: {paths[0]}")
    return 0 if not bad else 1


def _print_table(rows) -> None:
    header = f"{'name':36s} {'statement':50s} {'domain':26s} {'verdict':8s} {'method':17s} {'s':>6s}"
    print(header)
    print("-" * len(header))
    for t, r in rows:
        mark = "" if r.verdict is t.expected else f" (expected {t.expected.value})"
        print(f"{t.name:36s} {_shorten(t.statement(), 50):50s} {_shorten(t.domain(), 26):26s} "
              f"{r.verdict.value:8s} {r.method:17s} {r.elapsed_s:6.3f}{mark}")


# -- claim ------------------------------------------------------------------------------------
def _build_claim(args: argparse.Namespace):
    import sympy as sp

    from proofs.text_to_domain import parse_domain
    from proofs.text_to_expr import parse_expression, parse_names, parse_number
    from symbolic.expr_to_circuit import expr_to_circuit, natural_key
    from verify.claim import Claim, Equality, Predicate, Tolerance

    parameters = list(parse_names(args.parameters)) if args.parameters else []
    network = parse_expression(args.network)
    inputs = list(parse_names(args.inputs)) if args.inputs else None
    if inputs is None:
        target_symbols = {s.name for s in parse_expression(args.target).free_symbols}
        inputs = sorted(({s.name for s in network.free_symbols} | target_symbols) - set(parameters),
                        key=natural_key)
    circuit = expr_to_circuit(network, inputs, parameters)
    target = parse_expression(args.target)
    variables = list(circuit.inputs) + [str(p) for p in circuit.parameters]
    domain = parse_domain(args.domain, variables)
    is_condition = isinstance(target, (sp.logic.boolalg.Boolean, sp.Rel)) and not isinstance(target, sp.Expr)
    if args.tolerance is not None:
        if is_condition:
            raise errors.ClaimError("--tolerance needs a numeric target, not a condition")
        kind = Tolerance(parse_number(args.tolerance))
    elif is_condition:
        kind = Predicate(">", parse_number(args.threshold))
    else:
        kind = Equality()
    return Claim(circuit, target, domain, kind)


def cmd_claim(args: argparse.Namespace) -> int:
    from verify.decide import Config, decide

    claim = _build_claim(args)
    result = decide(claim, Config(timeout_s=args.timeout))
    _print_result(result, args.json)
    return _verdict_exit(result.verdict)


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
    for key, value in (extra or {}).items():
        print(f"{key}: {value}")


# -- parser -------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mathcircuits", description="Formal answers about small ReLU networks.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("prove", help="prove the seed catalogue (or the named theorems)")
    p.add_argument("names", nargs="*", metavar="NAME", help="theorems to run (default: all)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--list", action="store_true", help="list theorem names and sources")
    p.add_argument("--report", metavar="DIR", help="write the catalogue report (Markdown, JSON) into DIR")
    p.add_argument("--timeout", type=float, default=10.0, metavar="S", help="z3 timeout per query (s)")
    p.set_defaults(func=cmd_prove)

    c = sub.add_parser("claim", help="prove or refute a claim about a network written as an expression")
    c.add_argument("network", metavar="NETWORK", help='e.g. "relu(x1) - relu(-x1) - relu(x1 - x2)"')
    c.add_argument("--target", required=True, help='e.g. "min(x1, x2)", "[x < 10]", or a condition "x1 > x2"')
    c.add_argument("--domain", default="R", help='e.g. "R^2", "x1 in [-1, 1], x2 in (0, oo)", "x in {0..15}"')
    c.add_argument("--tolerance", metavar="EPS", help="prove |N - target| <= EPS instead of equality")
    c.add_argument("--threshold", default="0", help="for a condition target: prove N > THRESHOLD iff it holds")
    c.add_argument("--inputs", help="input names in order, e.g. a,b (default: the variables, sorted)")
    c.add_argument("--parameters", help="symbolic weights, e.g. w1,w2 (constrain them in --domain)")
    c.add_argument("--json", action="store_true", help="print JSON")
    c.add_argument("--timeout", type=float, default=10.0, metavar="S", help="z3 timeout (s)")
    c.set_defaults(func=cmd_claim)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mathcircuits`` console script; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except errors.ReplayError as exc:
        print(f"mathcircuits: internal error (a bug, please report): {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    except errors.MathCircuitsError as exc:
        print(f"mathcircuits: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("mathcircuits: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence against a traceback
        if os.environ.get("MATHCIRCUITS_DEBUG"):
            raise
        print(f"mathcircuits: internal error (a bug, please report; MATHCIRCUITS_DEBUG=1 shows the "
              f"traceback): {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
