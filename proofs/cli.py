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

from proofs import cli_args, cli_certificate, cli_check, cli_cross_check, cli_explain, cli_prove  # noqa: E402
from proofs import cli_smtlib  # noqa: E402
from proofs.cli_args import (EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_PROVED, EXIT_REFUTED,  # noqa: E402,F401
                             EXIT_UNKNOWN)
from proofs.cli_output import OutputError, run_guarded, say  # noqa: E402
from symbolic import errors  # noqa: E402


def version() -> str:
    """This package's version: from its installed metadata, else from ``pyproject.toml`` beside it.

    >>> version().count(".") >= 1
    True
    """
    from importlib import metadata

    try:
        return metadata.version("mathcircuits")
    except metadata.PackageNotFoundError:
        import tomllib
        from pathlib import Path

        with open(Path(__file__).resolve().parents[1] / "pyproject.toml", "rb") as handle:
            return str(tomllib.load(handle)["project"]["version"])


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2, and a value that starts with '-' is
    still a value: ``--target -x``, ``--threshold -1``, ``--timeout -inf`` (refused by name) and a
    NETWORK such as ``-relu(x)`` need no ``--target=-x``.

    An option that takes a value takes the next token, unless that token is one of the command's
    own options (``--json``, ``-h``); a token that starts with a single '-' and is no option of the
    command is a value (a positional argument), never an unknown option.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-(\.?[0-9].*|inf|infinity|nan)$", re.IGNORECASE)

    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.removeprefix("mathcircuits").strip()
        raise errors.ParseError(f"{command}: {message}" if command else message)

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        tokens = sys.argv[1:] if args is None else list(args)
        return super().parse_known_args(self._join_values(tokens), namespace)

    def _join_values(self, tokens: list[str]) -> list[str]:
        """``--target -x`` as ``--target=-x`` for the options of this parser that take one value."""
        out, i = [], 0
        while i < len(tokens):
            token = tokens[i]
            if token == "--":
                return out + tokens[i:]
            following = tokens[i + 1] if i + 1 < len(tokens) else None
            if (following is not None and following.startswith("-") and following != "--"
                    and following not in self._option_string_actions and self._takes_value(token)):
                out.append(f"{token}={following}")
                i += 2
                continue
            out.append(token)
            i += 1
        return out

    def _takes_value(self, token: str) -> bool:
        """Is ``token`` a long option of this parser (or an unambiguous prefix of one) with one value?"""
        if not token.startswith("--") or "=" in token:
            return False
        matches = [a for o, a in self._option_string_actions.items() if o == token] or \
            list({id(a): a for o, a in self._option_string_actions.items()
                  if o.startswith(token) and self.allow_abbrev}.values())
        return len(matches) == 1 and matches[0].nargs is None

    def _parse_optional(self, arg_string: str):
        found = super()._parse_optional(arg_string)
        first = found[0] if isinstance(found, list) and found else found  # Python >= 3.12: a list
        if isinstance(first, tuple) and first[0] is None and not arg_string.startswith("--"):
            return None  # '-x', '-relu(x)', '-1/2': a value, not an unknown option
        return found


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


_MODEL = "a model file: .json weights, .onnx, .pt2 (torch.export) or .pt (state dict)"
_DESCRIPTION = """\
Formal, machine-checked answers about small ReLU networks: every verdict is exact (rational
arithmetic, SMT or exact region enumeration), and every counterexample is replayed exactly.

examples:
  mathcircuits prove
  mathcircuits claim "relu(x1) - relu(-x1) - relu(x1 - x2)" --target "min(x1, x2)"
  mathcircuits check model.onnx --target "min(x1, x2)" --domain "[-1, 1]^2" --round
  mathcircuits COMMAND -h      (each command's options)
"""
#: What the exit codes mean for commands whose verdict is not a claim's.
_EXITS = {
    "prove": {EXIT_PROVED: "every verdict as expected", EXIT_REFUTED: "some verdict not as expected"},
    "report": {EXIT_PROVED: "the report is written"},
    "simplify": {EXIT_PROVED: "a rounding within the tolerance", EXIT_UNKNOWN: "no rounding within the tolerance"},
    "explain": {EXIT_PROVED: "the closed form (with edits: of N' - N) is proved equal to the network",
                EXIT_REFUTED: "the closed form differs from the network (a bug)"},
    "certify": {EXIT_PROVED: "the certificate checks (and matches the model)",
                EXIT_REFUTED: "the certificate does not check, or does not match", EXIT_UNKNOWN: "the budget ran out"},
    "train": {EXIT_PROVED: "the model is trained and saved"},
    "census": {EXIT_PROVED: "the census is complete"},
}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mathcircuits", description=_DESCRIPTION, epilog=cli_args.exit_codes(),
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"mathcircuits {version()}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND",
                                help="one of the commands below")

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
    c.add_argument("network", metavar="NETWORK", help='the network N, e.g. "relu(x1) - relu(-x1) - relu(x1 - x2)"')
    c.add_argument("--target", required=True,
                   help='what N should compute, e.g. "min(x1, x2)", "-x", "[x < 10]", '
                        '"Piecewise((1, x < 10), (0, True))", or a condition "x1 > x2"')
    c.add_argument("--domain", default="R", help='e.g. "R^2", "x1 in [-1, 1], x2 in (0, oo)", "x in {0..15}" '
                                                  "(default R)")
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
    c.set_defaults(func=cli_check.cmd_claim)

    k = sub.add_parser("check", help="check a trained model file (.json, .pt, .pt2, .onnx) against a target")
    k.add_argument("model", metavar="MODEL", type=cli_args.model_file, help=_MODEL)
    k.add_argument("--target", required=True, help='what the model should compute, e.g. "min(x1, x2)" or "-x"')
    k.add_argument("--domain", default="R", help='e.g. "[-1, 1]^2" (default R)')
    _claim_options(k)
    k.add_argument("--round", action="store_true",
                   help="also search a simpler circuit: the simplest rounding of the weights that satisfies the "
                        "claim (the rule of simplify --target)")
    k.add_argument("--max-error", action="store_true", help="require the exact worst-case error (bounded domain)")
    _model_options(k)
    k.add_argument("--json", action="store_true", help="print JSON")
    _report(k, "also write an HTML/Markdown/JSON report into DIR")
    cli_certificate.add_option(k)
    cli_smtlib.add_option(k)
    cli_cross_check.add_option(k)
    _parallel(k)
    _timeout(k, 60.0, "wall-clock budget of the whole command, all methods")
    k.set_defaults(func=cli_check.cmd_check)

    r = sub.add_parser("report", help="write the report of the catalogue (or the named theorems)")
    r.add_argument("names", nargs="*", metavar="NAME", help="theorems (default: all)")
    r.add_argument("--out", required=True, type=cli_args.report_folder, metavar="DIR",
                   help="folder for index.html, index.md, catalogue.json")
    r.add_argument("--format", type=cli_args.report_formats, default="html,md,json",
                   help="comma-separated: html, md, json (default all three)")
    _timeout(r, 10.0, "wall-clock budget per theorem, all methods")
    r.set_defaults(func=cli_prove.cmd_report)

    m = sub.add_parser("simplify", help="canonical, rounded closed form of a model and its exact rounding error")
    m.add_argument("model", metavar="MODEL", type=cli_args.model_file, help=_MODEL)
    m.add_argument("--domain", help="bounded domain for the error (default [-1, 1]^n)")
    m.add_argument("--target", help="round until |N - TARGET| <= EPS is proved instead (the rule of check --round: "
                                    "the same circuit)")
    m.add_argument("--tolerance", type=cli_args.non_negative_number, default="1/100", metavar="EPS",
                   help="largest acceptable error (to the model, or to --target), an exact number >= 0 "
                        "(default 1/100)")
    _model_options(m)
    m.add_argument("--json", action="store_true", help="print JSON")
    _timeout(m, 60.0, "wall-clock budget of the whole command, all methods")
    m.set_defaults(func=cli_explain.cmd_simplify)

    e = sub.add_parser("explain", help="name features, match library circuits, ablate or edit neurons")
    e.add_argument("source", metavar="SOURCE", help="a model file, or a network expression")
    e.add_argument("--drop", action="append", metavar="NEURON", help="remove a neuron (repeatable)")
    e.add_argument("--set", action="append", metavar="NEURON.SOURCE=VALUE", help="edit one weight (repeatable)")
    e.add_argument("--domain", help='with --drop/--set: where to measure the edit, e.g. "[-1, 1]^2"; prints the '
                                    "proved closed form of N' - N and its exact largest size there (default: R^n, "
                                    "closed form only)")
    _model_options(e)
    e.add_argument("--json", action="store_true", help="print JSON")
    _timeout(e, 10.0, "wall-clock budget of the whole command, all methods")
    e.set_defaults(func=cli_explain.cmd_explain)

    from proofs import cli_certify, cli_equiv, cli_training, cli_vnnlib  # commands in their own modules

    cli_training.add_parsers(sub)
    cli_vnnlib.add_parser(sub)
    cli_certify.add_parser(sub)
    cli_equiv.add_parser(sub)
    from proofs import cli_extract  # issue 14: circuits inside wide networks

    cli_extract.add_parser(sub)
    for name, command in sub.choices.items():  # every command's help ends with its exit codes
        command.formatter_class = argparse.RawDescriptionHelpFormatter
        if "exit codes" not in (command.epilog or ""):
            codes = cli_args.exit_codes(_EXITS.get(name))
            command.epilog = f"{command.epilog.rstrip()}\n\n{codes}" if command.epilog else codes
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
