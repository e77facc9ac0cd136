"""The ``mathcircuits vnnlib`` command: decide an ONNX network against a VNN-LIB property (or our
``--input-box``/``--unsafe`` syntax), write the competition's result file, run an instance list.

A property holds (exit 0, ``unsat``) when no input box reaches its output set, is violated (exit 1,
``sat`` and the exact point) when one does, and is unknown otherwise (exit 3, ``timeout`` when the
budget ran out). ``--timeout`` is one budget for the whole property, shared by its boxes in turn.
``--instances CSV`` runs each row ``onnx,vnnlib,timeout_s`` (paths relative to the CSV's folder) in
its own process, stopped by force if it overruns its timeout by a quarter plus 10 s, and appends one
JSON line per instance to ``--out`` (a rerun skips the instances already there).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from proofs import cli_args, cli_certificate, cli_cross_check
from proofs.cli_output import say
from symbolic import errors

DEFAULT_TIMEOUT_S = 60.0
STATUS = {"holds": "unsat", "violated": "sat"}


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The answer for a whole property: the per-box results and, when violated, the reaching one."""

    verdict: str  # holds | violated | unknown
    status: str  # unsat | sat | timeout | unknown (the competition's result word)
    method: str
    elapsed_s: float
    results: tuple  # one verify.result.Result per box (a box never run is UNKNOWN, method "none")
    disjuncts: tuple  # per box: the property-wide index of each of its output set's disjuncts
    violating: int | None = None  # index of the box whose result is refuted

    @property
    def counterexample(self):
        return None if self.violating is None else self.results[self.violating].counterexample

    def values(self) -> dict:
        """The counterexample's inputs then outputs (exact), for the result file."""
        cex = self.counterexample
        return {} if cex is None else {**cex.point, **cex.network_value}

    def to_json(self) -> dict:
        from verify.result import exact_str

        cex = self.counterexample
        reached = None if cex is None else self.disjuncts[self.violating][cex.reached]
        return {
            "verdict": self.verdict, "result": self.status, "method": self.method,
            "elapsed_s": round(self.elapsed_s, 6),
            "counterexample": None if cex is None else {
                "inputs": {k: exact_str(v) for k, v in cex.point.items()},
                "outputs": {k: exact_str(v) for k, v in cex.network_value.items()}},
            "reached_disjunct": reached,
            "reached": None if cex is None else self.results[self.violating].claim.kind.unsafe.conjunction_text(cex.reached),
            "reason": "; ".join(dict.fromkeys(r.reason for r in self.results if r.reason)),
            "evidence": "; ".join(dict.fromkeys(r.evidence for r in self.results if r.evidence)),
            "boxes": [{"box": r.claim.domain.describe(r.claim.circuit.inputs), "verdict": r.verdict.value,
                       "method": r.method, "elapsed_s": round(r.elapsed_s, 6), "reason": r.reason}
                      for r in self.results],
        }


def decide_property(circuit, spec, timeout_s: float, workers: int = 1, scheduler: str | None = None) -> Outcome:
    """Decide every box of ``spec`` on ``circuit`` within one budget of ``timeout_s`` seconds
    (branch and bound on ``workers`` processes or the Dask ``scheduler``)."""
    from verify.decide import Config, decide
    from verify.result import Result, Verdict

    start = time.perf_counter()
    claims = spec.claims(circuit)
    results, violating = [], None
    for k, claim in enumerate(claims):
        left = timeout_s - (time.perf_counter() - start)
        if left <= 0 or violating is not None:
            why = "not run: the property is already violated" if violating is not None else \
                "not run: timeout (the budget was spent on earlier boxes)"
            results.append(Result(claim, Verdict.UNKNOWN, "none", 0.0, reason=why))
            continue
        result = decide(claim, Config(timeout_s=max(cli_args.MIN_TIMEOUT_S, left), workers=workers, scheduler=scheduler))
        if result.verdict is Verdict.REFUTED:
            _check(claim, result.counterexample)
            violating = k
        results.append(result)
    elapsed = time.perf_counter() - start
    methods = "+".join(dict.fromkeys(r.method for r in results if r.method != "none")) or "none"
    if violating is not None:
        return Outcome("violated", "sat", methods, elapsed, tuple(results), _indices(spec), violating)
    if all(r.verdict is Verdict.PROVED for r in results):
        return Outcome("holds", "unsat", methods, elapsed, tuple(results), _indices(spec))
    timed_out = elapsed >= timeout_s or any("timeout" in r.reason or "canceled" in r.reason for r in results)
    return Outcome("unknown", "timeout" if timed_out else "unknown", methods, elapsed, tuple(results), _indices(spec))


def _indices(spec) -> tuple:
    return tuple(case.disjuncts for case in spec.cases)


def _check(claim, cex) -> None:
    """The counterexample once more, independently of the method: in the box, reaching the set."""
    holds, outputs, reached = claim.holds_at(cex.point)
    inside = claim.domain.contains(cex.point) and set(cex.point) == set(claim.circuit.inputs)
    if holds or not inside or outputs != dict(cex.network_value) or reached != cex.reached:
        raise errors.ReplayError(f"the counterexample {cex.to_json()} does not replay")


# -- loading ------------------------------------------------------------------------------------------
def load_network(path: str):
    """The network of a model file (.onnx, .json, .pt, ...), named ``X_0..``/``Y_0..``."""
    from networks.model_files import load_model

    return load_model(path, vnnlib_names=True)


def own_spec(circuit, boxes: list[str] | None, unsafe: str):
    """A Spec from ``--input-box`` (repeatable: a union) and ``--unsafe`` over the network's names."""
    from proofs.text_to_domain import parse_domain
    from proofs.vnnlib_to_spec import Case, Spec, parse_unsafe
    from verify.domain import Domain

    unsafe_set = parse_unsafe(unsafe)
    domains = [parse_domain(text, list(circuit.inputs)) for text in boxes] if boxes else [Domain()]
    indices = tuple(range(len(unsafe_set.disjuncts)))
    cases = tuple(dict.fromkeys(Case(d, unsafe_set, indices) for d in domains))
    return Spec(tuple(circuit.inputs), tuple(circuit.outputs), cases, len(cases) * len(indices))


# -- the command ----------------------------------------------------------------------------------------
def cmd_vnnlib(args: argparse.Namespace) -> int:
    from proofs.vnnlib_to_spec import load_vnnlib

    if args.export_catalogue:
        return _export(args)
    if args.instances:
        clash = [o for o, v in (("NETWORK", args.network), ("--input-box", args.input_box), ("--unsafe", args.unsafe),
                                ("--result", args.result), ("--report", args.report),
                                ("--certificate", args.certificate), ("--scheduler", args.scheduler),
                                ("--cross-check", args.cross_check), ("--smtlib", args.smtlib)) if v]
        if clash:
            raise errors.ClaimError(f"--instances runs a whole list; it does not take {', '.join(clash)}")
        from proofs.vnnlib_instances import run_instances

        return run_instances(argparse.Namespace(**{**vars(args), "workers": args.workers or 1}))
    if args.out or args.restart:
        raise errors.ClaimError("--out and --restart belong to --instances")
    if not args.network:
        raise errors.ClaimError("give NETWORK and PROPERTY (a .vnnlib file), or NETWORK with --unsafe, or --instances CSV")
    if bool(args.property) == bool(args.unsafe) or (args.input_box and not args.unsafe):
        raise errors.ClaimError("give either a PROPERTY file or --unsafe (with optional --input-box), not both")
    end = time.monotonic() + (args.timeout or DEFAULT_TIMEOUT_S)
    circuit = load_network(args.network)
    spec = load_vnnlib(args.property) if args.property else own_spec(circuit, args.input_box, args.unsafe)
    outcome = decide_property(circuit, spec, args.timeout or DEFAULT_TIMEOUT_S, args.workers, args.scheduler)
    if args.result:
        from proofs.report import write_atomic
        from proofs.spec_to_vnnlib import result_text

        write_atomic(args.result, result_text(outcome.status, outcome.values()))
    facts = {"network": args.network, "property": args.property or f"--unsafe {args.unsafe}",
             "inputs": len(circuit.inputs), "outputs": len(circuit.outputs), "neurons": len(circuit.neurons),
             "timeout_s": args.timeout or DEFAULT_TIMEOUT_S, **outcome.to_json()}
    if args.certificate:
        from proofs import cli_certificate

        facts["certificate"] = cli_certificate.save(args.certificate, outcome.results, end, outcome.violating)
    if args.smtlib:  # one query per box, whatever decided it
        from proofs import cli_smtlib
        from symbolic.budget import Deadline

        facts["smtlib"] = cli_smtlib.save(args.smtlib, outcome.results, Deadline(max(1e-3, end - time.monotonic())))
    if args.cross_check:
        outcome = _cross_check(outcome, end)
        facts["cross_check"] = [dict(r.confirmation, box=k) for k, r in enumerate(outcome.results) if r.confirmation]
    _print(facts, spec, args.json)
    if args.report:
        _report(args, outcome, facts)
    if cli_cross_check.disagree(outcome.results):
        say("error: two routes disagree on the property's verdict (see cross-check above)")
        return cli_cross_check.EXIT_DISAGREE
    return {"holds": 0, "violated": 1}.get(outcome.verdict, 3)


def _cross_check(outcome: Outcome, end: float) -> Outcome:
    """``--cross-check``: confirm the results the verdict stands on (every box for holds, the violating
    box for violated), each within what is left of the budget."""
    used = range(len(outcome.results)) if outcome.verdict == "holds" else \
        [outcome.violating] if outcome.violating is not None else []
    results = list(outcome.results)
    for k in used:
        results[k] = cli_cross_check.confirm(results[k], end - time.monotonic())
    return dataclasses.replace(outcome, results=tuple(results))


def _export(args: argparse.Namespace) -> int:
    from proofs.spec_to_vnnlib import export_catalogue

    if args.network or args.property or args.instances or args.unsafe or args.input_box:
        raise errors.ClaimError("--export-catalogue takes only --theorem, --timeout and --json")
    written, skipped = export_catalogue(args.export_catalogue, args.theorem or (), args.timeout or DEFAULT_TIMEOUT_S)
    if args.json:
        print(json.dumps({"written": written, "skipped": dict(skipped)}, indent=2))
    else:
        print(f"wrote {len(written)} networks and properties and instances.csv into {args.export_catalogue}")
        for name, why in skipped:
            print(f"  skipped {name}: {why}")
    return 0


def _print(facts: dict, spec, as_json: bool) -> None:
    if as_json:
        print(json.dumps(facts, indent=2))
        return
    print(f"network:  {facts['network']} ({facts['inputs']} inputs, {facts['outputs']} outputs, "
          f"{facts['neurons']} neurons)")
    print(f"property: {facts['property']} ({spec.describe()})")
    print(f"verdict:  {facts['verdict']} ({facts['result']}) by {facts['method']} in {facts['elapsed_s']:.3f} s")
    cex = facts["counterexample"]
    if cex:
        print("counterexample: " + ", ".join(f"{k} = {v}" for k, v in cex["inputs"].items()))
        print("outputs:  " + ", ".join(f"{k} = {v}" for k, v in cex["outputs"].items()))
        print(f"reaches disjunct {facts['reached_disjunct']}: {facts['reached']} (replayed exactly)")
    for key in ("reason", "evidence"):
        if facts[key]:
            print(f"{key}: {facts[key]}")
    if facts.get("certificate"):
        from proofs import cli_certificate

        print(f"certificate: {cli_certificate.describe(facts['certificate'])}")
    if facts.get("smtlib"):
        from proofs import cli_smtlib

        print(f"smtlib:   {cli_smtlib.describe(facts['smtlib'])}")
    for confirmation in facts.get("cross_check", ()):
        print(f"cross-check (box {confirmation['box']}): {cli_cross_check.line(confirmation)}")


def _report(args: argparse.Namespace, outcome: Outcome, facts: dict) -> None:
    from proofs import report

    stem = f"{Path(args.network).stem}_{Path(args.property).stem if args.property else 'unsafe'}"
    many = len(outcome.results) > 1
    extra = {"network": facts["network"], "property": facts["property"], "property_verdict": outcome.verdict}
    rows = [(f"{stem}_box{k}" if many else stem, r, extra) for k, r in enumerate(outcome.results)]
    paths = report.write_reports(rows, outcome.elapsed_s, args.report)
    if not args.json:
        print(f"report: {paths[0]}")


def add_parser(sub) -> None:
    """Register ``vnnlib`` on the subcommands of ``mathcircuits``."""
    v = sub.add_parser("vnnlib", help="decide an ONNX network against a VNN-LIB property; run an instance list")
    v.add_argument("network", nargs="?", metavar="NETWORK", type=cli_args.model_file,
                   help="the network (.onnx as published, or any model file mathcircuits reads)")
    v.add_argument("property", nargs="?", metavar="PROPERTY", help="the VNN-LIB property (.vnnlib)")
    v.add_argument("--input-box", action="append", metavar="BOX",
                   help='instead of PROPERTY: an input box, e.g. "X_0 in [0, 1], X_1 in [-1, 1]" (repeat for a union)')
    v.add_argument("--unsafe", metavar="SET", help='instead of PROPERTY: the unsafe output set, e.g. '
                                                   '"Y_0 <= Y_1 and Y_0 <= Y_2 or Y_3 > 1/2"')
    v.add_argument("--timeout", type=cli_args.seconds, metavar="S",
                   help=f"budget for the whole property (default {DEFAULT_TIMEOUT_S:g}; with --instances it "
                        "overrides the CSV's per-instance timeout)")
    v.add_argument("--result", type=cli_args.output_file, metavar="FILE",
                   help="write the competition's result file: unsat, sat and the point, timeout or unknown")
    v.add_argument("--json", action="store_true", help="print JSON")
    cli_certificate.add_option(v)
    from proofs import cli_smtlib

    cli_smtlib.add_option(v)
    cli_cross_check.add_option(v)
    v.add_argument("--report", type=cli_args.report_folder, metavar="DIR",
                   help="also write an HTML/Markdown/JSON report into DIR")
    v.add_argument("--instances", metavar="CSV", help="run every row onnx,vnnlib,timeout_s of an instance list")
    v.add_argument("--out", type=cli_args.output_file, metavar="FILE",
                   help="with --instances: JSON lines, one per instance; a rerun skips instances already there")
    v.add_argument("--restart", action="store_true", help="with --instances: empty --out first")
    v.add_argument("--workers", type=cli_args.workers, metavar="N",
                   help="with --instances: instances at once (default 1); otherwise branch and bound over sub-boxes "
                        "in N processes, the same verdict and certificate for every N (default: sequential)")
    v.add_argument("--scheduler", type=cli_args.scheduler_address, metavar="ADDRESS",
                   help="run branch and bound's sub-boxes on this Dask scheduler, e.g. tcp://host:8786")
    v.add_argument("--export-catalogue", type=cli_args.report_folder, metavar="DIR",
                   help="write the catalogue's claims as ONNX + VNN-LIB and an instances.csv into DIR")
    v.add_argument("--theorem", action="append", metavar="NAME", help="with --export-catalogue: only these")
    v.set_defaults(func=cmd_vnnlib)
