"""The ``mathcircuits equiv`` command: prove ``|N1 - N2| <= EPS`` on a domain for two networks, or refute it.

``mathcircuits equiv MODEL1 MODEL2 --domain D [--tolerance EPS]`` decides, with the method chooser
of ``check`` (:func:`verify.equivalence.equivalence`), whether two networks over the same inputs
differ by at most EPS (default 0: exact equivalence) everywhere on the domain, e.g. a rounded
circuit against the trained network it came from. A MODEL is a model file (.json, .onnx, .pt,
.pt2) or a network expression such as ``"relu(x1) - relu(-x1)"``. A refutation prints the point
and ``N1``, ``N2`` there, exact and replayed; on 1-2 inputs the exact ``max |N1 - N2|`` is added.

Exit codes: 0 proved, 1 refuted, 3 unknown (the reason is printed), 2 bad input (one line on
stderr: an unreadable model, networks with different inputs or several outputs, a bad option).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from proofs import cli_args
from symbolic import errors

DEFAULT_TIMEOUT_S = 60.0
EXIT_CODES = {"proved": 0, "refuted": 1, "unknown": 3}

_EPILOG = """\
MODEL1 and MODEL2 are model files (an existing path, or a name ending in .json, .onnx, .pt, .pth,
.pt2), or network expressions such as "relu(x1) - relu(-x1)" (relu, abs, min, max, + - and * by
numbers). Both must read the same inputs (the same names, or as many inputs with no name in
common, matched by position) and have one output each.

exit codes: 0 proved, 1 refuted (a counterexample replayed exactly), 3 unknown (budget or method
gave up; the reason is printed), 2 bad input (one line on stderr), 4 internal error (a bug).

example: mathcircuits equiv trained.json rounded.json --domain "[-1, 1]^2" --tolerance 1/100
"""


def add_parser(sub) -> None:
    """Register ``equiv`` on the subcommands of ``mathcircuits``."""
    q = sub.add_parser("equiv", help="prove or refute |N1 - N2| <= EPS on a domain for two networks",
                       description="Prove or refute that two networks with the same inputs differ by at most\n"
                                   "EPS at every point of the domain (EPS = 0: they are equal there).",
                       epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    q.add_argument("first", metavar="MODEL1", help="the first network N1: a model file or a network expression")
    q.add_argument("second", metavar="MODEL2", help="the second network N2: a model file or a network expression")
    q.add_argument("--domain", required=True,
                   help='where to compare, over the input names, e.g. "[-1, 1]^2", "x1 in [0, 1], x2 in [-1, 1]", "R^2"')
    q.add_argument("--tolerance", type=cli_args.non_negative_number, default="0", metavar="EPS",
                   help="prove |N1 - N2| <= EPS, an exact number >= 0 such as 1/100 or 1e-3 (default 0: N1 = N2)")
    q.add_argument("--inputs", help="input names in order for both networks, e.g. a,b (default: a model file's "
                                    "are x or x1..xn; an expression reads the other network's inputs if that is a "
                                    "file, else the variables of both expressions, or its own if they share none)")
    q.add_argument("--max-model-bytes", type=cli_args.byte_size, metavar="N",
                   help="refuse a model file larger than N bytes (e.g. 64M; default: the loader's cap for the format)")
    q.add_argument("--json", action="store_true", help="print JSON")
    q.add_argument("--report", type=cli_args.report_folder, metavar="DIR",
                   help="also write an HTML/Markdown/JSON report into DIR")
    q.add_argument("--timeout", type=cli_args.seconds, default=DEFAULT_TIMEOUT_S, metavar="S",
                   help=f"wall-clock budget of the whole command, all methods (seconds, {cli_args.MIN_TIMEOUT_S:g}.."
                        f"{cli_args.MAX_TIMEOUT_S:g}; default {DEFAULT_TIMEOUT_S:g})")
    q.set_defaults(func=cmd_equiv)


def cmd_equiv(args: argparse.Namespace) -> int:
    """Load both networks, decide the equivalence, print it; return the exit code."""
    from proofs.text_to_domain import parse_domain
    from symbolic.budget import Deadline
    from verify.decide import Config
    from verify.equivalence import equivalence, match_inputs

    deadline = Deadline(args.timeout, args.started)  # one wall-clock budget for the whole command
    first, second = load_pair(args.first, args.second, args.inputs, args.max_model_bytes)
    match_inputs(first, second)  # networks that cannot be compared: say so before reading the domain
    domain = parse_domain(args.domain, list(first.inputs))
    outcome = equivalence(first, second, domain, args.tolerance, Config(timeout_s=args.timeout, deadline=deadline))
    facts = {"n1": _describe(args.first, first), "n2": _describe(args.second, second), **outcome.to_json()}
    _print(facts, args.json)
    if args.report:
        _report(args, outcome, facts)
    return EXIT_CODES[outcome.verdict.value]


def _is_file(text: str) -> bool:
    from networks.model_files import SUFFIXES

    return os.path.lexists(text) or os.path.splitext(text)[1].lower() in SUFFIXES


def load_pair(one: str, two: str, inputs: str | None, max_bytes: int | None):
    """The two networks: model files loaded (with ``inputs`` as names if given), expressions lowered
    to circuits over ``inputs``, else over the other network's inputs when it is a file, else over
    the variables of both expressions in natural order (each over its own when they share none, to
    be matched by position)."""
    from networks.model_files import load_model
    from proofs.text_to_expr import parse_expression, parse_names
    from symbolic.expr_to_circuit import expr_to_circuit, natural_key
    from verify.claim import is_condition

    names = list(parse_names(inputs)) if inputs else None
    loaded: dict[int, object] = {}
    for k, (which, text) in enumerate((("MODEL1", one), ("MODEL2", two))):
        if _is_file(text):
            try:
                path = cli_args.model_file(text)
            except argparse.ArgumentTypeError as exc:
                raise errors.ParseError(f"equiv: argument {which}: {exc}") from None
            loaded[k] = load_model(path, input_names=names, max_bytes=max_bytes)
    exprs = {k: parse_expression(text) for k, text in enumerate((one, two)) if k not in loaded}
    for k, expr in exprs.items():
        if is_condition(expr):
            raise errors.ParseError(f"equiv: MODEL{k + 1} {(one, two)[k]!r} is a condition, not a network")
    variables = {k: {s.name for s in e.free_symbols} for k, e in exprs.items()}
    own = len(exprs) == 2 and all(variables.values()) and not variables[0] & variables[1]
    files = list(loaded.values())
    for k, expr in exprs.items():
        if names is not None:
            over = names
        elif files:  # the other network is a file: its inputs
            over = list(files[0].inputs)
        else:  # two expressions: their variables, each its own when they share none (matched by position)
            over = sorted(variables[k] if own else variables[0] | variables[1], key=natural_key)
        loaded[k] = expr_to_circuit(expr, over)
    return loaded[0], loaded[1]


def _describe(text: str, circuit) -> dict:
    return {"source": text, "kind": "model file" if _is_file(text) else "expression",
            "inputs": list(circuit.inputs), "neurons": len(circuit.neurons)}


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _about(value: str) -> str:
    """``' (about 0.0027)'`` for an exact fraction with a long text, else ``''``."""
    from fractions import Fraction

    return "" if len(value) <= 12 else f" (about {float(Fraction(value)):.6g})"


def _print(facts: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(facts, indent=2))
        return
    for key in ("n1", "n2"):
        n = facts[key]
        print(f"{key.upper()}:      {n['source']} ({n['kind']}, {_count(len(n['inputs']), 'input')}, "
              f"{_count(n['neurons'], 'neuron')})")
    if facts["inputs_matched_by_position"]:
        print("inputs:  N2's matched by position: "
              + ", ".join(f"{a} -> {b}" for a, b in facts["inputs_matched_by_position"].items()))
    print(f"claim:   {facts['statement']}")
    print(f"domain:  {facts['domain']}")
    print(f"verdict: {facts['verdict']} ({facts['method']}, {facts['elapsed_s']:.3f} s)")
    if facts["counterexample"]:
        point = ", ".join(f"{k} = {v}" for k, v in facts["counterexample"].items())
        print(f"counterexample: {point} (replayed exactly)")
        for label, key in (("N1", "n1_value"), ("N2", "n2_value"), ("N1 - N2", "difference_value")):
            print(f"  {label} = {facts[key]}{_about(facts[key])}")
    for key in ("reason", "evidence"):
        if facts[key]:
            print(f"{key}: {facts[key]}")
    if facts["max_distance"] is not None:
        at = ", ".join(f"{k} = {v}" for k, v in (facts["max_distance_at"] or {}).items())
        attained = "" if facts["max_distance_attained"] else " (not attained; approached there)"
        print(f"max |N1 - N2| = {facts['max_distance']}{_about(facts['max_distance'])} at {at}{attained} "
              f"({facts['max_distance_method']})")
    elif facts["max_distance_bounds"] is not None and any(facts["max_distance_bounds"]):
        low, high = facts["max_distance_bounds"]
        print(f"max |N1 - N2|: between {low} and {high} ({facts['max_distance_note']})")
    elif facts["max_distance_note"]:
        print(f"max |N1 - N2|: {facts['max_distance_note']}")


def _report(args: argparse.Namespace, outcome, facts: dict) -> None:
    from proofs import report

    stems = [Path(t).stem if _is_file(t) else "expression" for t in (args.first, args.second)]
    extra = {"equivalence": facts["statement"], "n1": args.first, "n2": args.second,
             "tolerance": facts["tolerance"], "n1_value": facts["n1_value"], "n2_value": facts["n2_value"],
             "max_error": facts["max_distance"], "max_error_at": facts["max_distance_at"]}
    paths = report.write_reports([(f"{stems[0]}_vs_{stems[1]}", outcome.result, extra)],
                                 outcome.result.elapsed_s, args.report)
    if not args.json:
        print(f"report: {paths[0]}")
