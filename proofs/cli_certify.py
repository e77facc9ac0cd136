"""The ``mathcircuits certify`` command: re-check a proof certificate exactly, optionally against a model.

``mathcircuits certify FILE`` checks a certificate on its own terms: the network, box and unsafe
set written inside it, with rationals only (:func:`verify.certificate.check`). It says so, because
such a check proves a statement about *that* network. With ``--model PATH`` and the claim options of
``check`` (``--target``, ``--domain``, ``--tolerance``, ``--inputs``) or of ``vnnlib``
(``--vnnlib PROPERTY``), it first rebuilds the claim from the model file, compiles it the way the
engine does (:func:`verify.claim_to_problem.claim_to_problem`: the target folded into the network),
and requires the certificate's network to be that one with exactly the same weights, its unsafe set
to be the claim's, and its box to contain the claim's domain; a folded difference is also evaluated
at the box's corners and centre and compared with ``N(x) - f(x)``.

Exit codes: 0 the certificate checks (and matches the model when asked), 1 it is rejected or is
about another network or claim, 2 the file or an option is unreadable or malformed, 3 the check ran
out of time.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
from fractions import Fraction

from proofs import cli_args
from symbolic import errors
from symbolic.exact import fraction_of

DEFAULT_TIMEOUT_S = 600.0
SHOWN_PROBLEMS = 50


def add_parser(sub) -> None:
    """Register ``certify`` on the subcommands of ``mathcircuits``."""
    c = sub.add_parser("certify", help="re-check a proof certificate exactly (rationals only, no solver)")
    c.add_argument("certificate", metavar="FILE", help="a certificate written with --certificate")
    c.add_argument("--model", type=cli_args.model_file, metavar="PATH",
                   help="also require the certificate's network to be this model's, for the claim given by "
                        "--target/--domain/--tolerance or --vnnlib")
    c.add_argument("--target", help='with --model: the target, e.g. "min(x1, x2)"')
    c.add_argument("--domain", default="R", help='with --model and --target: the domain, e.g. "[-1, 1]^2"')
    c.add_argument("--tolerance", type=cli_args.non_negative_number, metavar="EPS",
                   help="with --target: the claim is |N - target| <= EPS (default: equality)")
    c.add_argument("--vnnlib", metavar="PROPERTY", help="with --model: the claim is this VNN-LIB property")
    c.add_argument("--inputs", help="with --model and --target: input names, e.g. a,b")
    c.add_argument("--max-model-bytes", type=cli_args.byte_size, metavar="N", help="refuse a larger model file")
    c.add_argument("--workers", type=cli_args.workers, default=1, help="processes that share the leaves")
    c.add_argument("--timeout", type=cli_args.seconds, default=DEFAULT_TIMEOUT_S, metavar="S",
                   help=f"budget for the whole check (seconds; default {DEFAULT_TIMEOUT_S:g})")
    c.add_argument("--json", action="store_true", help="print JSON")
    c.set_defaults(func=cmd_certify)


def cmd_certify(args: argparse.Namespace) -> int:
    """Check the certificate (and its match with the model); print the outcome; return the exit code."""
    from verify import certificate

    claim_given = args.target is not None or args.vnnlib is not None
    if claim_given and not args.model:
        raise errors.ClaimError("--target and --vnnlib describe the model's claim: give --model PATH too")
    if args.model and not claim_given:
        raise errors.ClaimError("--model needs the claim: --target (with --domain, --tolerance) or --vnnlib")
    if args.target is not None and args.vnnlib is not None:
        raise errors.ClaimError("give either --target or --vnnlib, not both")
    data = certificate.load(args.certificate)
    facts = {"certificate": args.certificate, "kind": data.get("kind"), "statement": _statement(data)}
    if data.get("kind") == "exhaustive" and data.get("verdict") in ("holds", "fails"):
        facts["verdict"] = data["verdict"]  # "fails": the certificate refutes its statement
    mismatch: list[str] = []
    if args.model:
        facts.update(network_from="model", model=args.model)
        mismatch = match_model(data, args, facts)
    else:
        facts["network_from"] = "certificate"
    if mismatch:
        facts.update(ok=False, problems=mismatch, checked=False)
        _print(facts, args.json)
        return 1
    report = certificate.check(data, workers=args.workers, timeout_s=args.timeout)
    facts.update(ok=report.ok, problems=list(report.problems), checked=True, leaves=report.leaves,
                 splits=report.splits, seconds=round(report.seconds, 6), timed_out=report.timed_out,
                 summary=report.summary())
    _print(facts, args.json)
    if report.ok:
        return 0
    return 3 if report.timed_out else 1


def _statement(data: dict) -> str | None:
    source = data.get("source")
    statement = source.get("statement") if isinstance(source, dict) else None
    return statement if isinstance(statement, str) else None


def _print(facts: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(facts, indent=2))
        return
    print(f"certificate: {facts['certificate']} (kind {facts['kind']})")
    if facts["statement"]:
        verb = "refutes:  " if facts["kind"] == "counterexample" or facts.get("verdict") == "fails" else "statement:"
        print(f"{verb}   {facts['statement']} (as the certificate describes it)")
    if facts["network_from"] == "model":
        print(f"network:     {facts.get('network') or 'compared with ' + facts['model'] + ' and the claim: they differ'}")
    else:
        print("network:     taken from the certificate itself (not compared with a model file; "
              "use --model and the claim options for that)")
    if facts.get("model_sha256"):
        print(f"model file:  {facts['model_sha256']}")
    if facts["checked"]:
        print(f"result:      {facts['summary']}")
    else:
        print("result:      certificate REJECTED: it is not about this model and claim")
    shown = facts["problems"][:SHOWN_PROBLEMS]
    for problem in shown:
        print(f"  - {problem}")
    if len(facts["problems"]) > len(shown):
        print(f"  ... and {len(facts['problems']) - len(shown)} more")


# -- the model and claim ---------------------------------------------------------------------------
def match_model(data: dict, args: argparse.Namespace, facts: dict) -> list[str]:
    """Problems that make the certificate not about ``--model`` and the claim (empty: it is).

    A ``bab`` or ``counterexample`` certificate must be about one of the claim's boxes; an ``all``
    bundle must have one part per box, in order, each about its box."""
    kind = data.get("kind")
    if kind not in ("bab", "counterexample", "regions", "all"):
        raise errors.CertificateError(f"kind: {str(kind)[:40]!r} is not one of all, bab, counterexample, regions "
                                      "(the kinds --model can be matched with)")
    claims = _claims(args)
    facts["model_sha256"] = _sha256_note(data, args.model)
    if kind == "all":
        parts = data.get("parts")
        if not isinstance(parts, list) or not all(isinstance(p, dict) for p in parts):
            raise errors.CertificateError("parts: expected a list of certificates")
        if len(parts) != len(claims):
            return [f"the bundle has {len(parts)} parts but the claim has {len(claims)} boxes"]
        problems = [f"part {k}: {p}" for k, (part, claim) in enumerate(zip(parts, claims))
                    for p in _match_part(part, claim)]
    else:
        problems = None
        for claim in claims:  # a single certificate: about any one box of the property
            found = _match_part(data, claim)
            if not found:
                problems = []
                break
            if problems is None or len(found) < len(problems):
                problems = found
        problems = ["the property has no boxes"] if problems is None else problems
    if not problems:
        boxes = f" ({len(claims)} boxes)" if len(claims) > 1 else ""
        facts["network"] = (f"equal to the network of {args.model}{boxes}, claim folded in as the engine does "
                            "(exact weights)")
    return problems


def _match_part(data: dict, claim) -> list[str]:
    """Problems that make one ``bab`` or ``counterexample`` certificate not about ``claim``."""
    from verify import certificate, certificate_point
    from verify.claim_to_problem import claim_to_problem

    limits = certificate.Limits()
    if not isinstance(data, dict) or data.get("kind") not in ("bab", "counterexample", "regions"):
        raise errors.CertificateError("a part of a bundle must be a bab, counterexample or regions certificate")
    network = certificate.parse_network(data.get("network"), limits)
    unsafe = certificate.parse_unsafe(data.get("unsafe"), network, limits)
    problem = claim_to_problem(claim)
    if problem is None:
        raise errors.ClaimError("this claim has no branch-and-bound form (a predicate, a sigmoid, symbolic "
                                "weights or a target that is not continuous piecewise-linear)")
    found = _compare_network(problem.circuit, network) + _compare_unsafe(problem.unsafe, unsafe)
    if data["kind"] in ("bab", "regions"):  # the same network, box and unsafe fields
        box = certificate.parse_box(data.get("box"), network, limits)
        found += _compare_box(problem.inputs, problem.box, box)
    else:
        certificate_point.parse_domain(data.get("domain"), network, limits)
        point = certificate.fields(data.get("point"), "point", network.inputs)
        exact = {n: fraction_of(certificate.rational(point[n], f"point.{n}", limits)) for n in network.inputs}
        if not problem.in_domain(exact):
            found.append("the certificate's point is not in the claim's domain")
        box = {n: (certificate.rational(str(v), n, limits),) * 2 for n, v in exact.items()}
    if not found:
        found = _spot_check(claim, network, box)
    return found


def _claims(args: argparse.Namespace) -> list:
    """The claims the options describe (a VNN-LIB property may have several boxes)."""
    if args.vnnlib:
        from proofs.cli_vnnlib import load_network
        from proofs.vnnlib_to_spec import load_vnnlib

        return load_vnnlib(args.vnnlib).claims(load_network(args.model))
    from networks.model_files import load_model
    from proofs.text_to_domain import parse_domain
    from proofs.text_to_expr import parse_expression, parse_names
    from verify.claim import Claim, Equality, Tolerance, is_condition

    names = list(parse_names(args.inputs)) if args.inputs else None
    limit = {} if args.max_model_bytes is None else {"max_bytes": args.max_model_bytes}
    circuit = load_model(args.model, input_names=names, **limit)
    target = parse_expression(args.target)
    if is_condition(target):
        raise errors.ClaimError("a condition target is a predicate claim, which has no branch-and-bound certificate")
    kind = Tolerance(args.tolerance) if args.tolerance is not None else Equality()
    return [Claim(circuit, target, parse_domain(args.domain, list(circuit.inputs)), kind)]


def _sha256_note(data: dict, path: str) -> str | None:
    source = data.get("source") if isinstance(data.get("source"), dict) else {}
    named = source.get("model_sha256")
    if not isinstance(named, str):
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    same = digest.hexdigest() == named.lower()
    return ("the SHA-256 the certificate names matches" if same else
            "differs from the SHA-256 the certificate names (the networks are compared exactly below)")


def _compare_network(circuit, network) -> list[str]:
    """Differences between the claim's circuit and the certificate's network, exactly."""
    if tuple(circuit.inputs) != network.inputs:
        return [f"inputs are {', '.join(network.inputs)} in the certificate but {', '.join(circuit.inputs)} in the model"]
    if tuple(circuit.outputs) != network.outputs:
        return [f"outputs are {', '.join(network.outputs)} in the certificate but {', '.join(circuit.outputs)} "
                "for the model and claim"]
    theirs = {a.name: a for a in network.assignments}
    ours = [a for a in circuit.assignments]
    problems = [f"the certificate has assignment {n}, which the model and claim do not"
                for n in theirs if n not in {a.name for a in ours}]
    for a in ours:
        b = theirs.get(a.name)
        if b is None:
            problems.append(f"assignment {a.name} of the model and claim is missing from the certificate")
            continue
        if b.relu != (a.activation.value == "relu") or a.activation.value not in ("relu", "linear"):
            problems.append(f"assignment {a.name}: activation {a.activation.value} in the model, "
                            f"{'relu' if b.relu else 'linear'} in the certificate")
        mine = {s: fraction_of(c) for s, c in a.terms}
        given = {s: fraction_of(c) for s, c in b.terms if c != 0}
        for s in sorted(set(mine) | set(given)):
            if mine.get(s, 0) != given.get(s, 0):
                problems.append(f"assignment {a.name}: weight of {s} is {given.get(s, 0)} in the certificate "
                                f"but {mine.get(s, 0)} in the model and claim")
        if fraction_of(a.bias) != fraction_of(b.bias):
            problems.append(f"assignment {a.name}: bias is {fraction_of(b.bias)} in the certificate but {a.bias} "
                            "in the model and claim")
    return problems


def _atoms(disjuncts, exact) -> list:
    out = []
    for atoms in disjuncts:
        out.append(sorted((tuple(sorted((v, exact(c)) for v, c in a.coeffs if c != 0)), a.op, exact(a.rhs))
                          for a in atoms))
    return sorted(out)


def _compare_unsafe(claim_unsafe, cert_unsafe) -> list[str]:
    if _atoms(claim_unsafe, Fraction) != _atoms(cert_unsafe, fraction_of):
        return ["the certificate's unsafe set is not the claim's"]
    return []


def _compare_box(inputs, claim_box, cert_box) -> list[str]:
    problems = []
    for name, (lo, hi) in zip(inputs, claim_box):
        clo, chi = (fraction_of(v) for v in cert_box[name])
        if lo is None or hi is None:
            problems.append(f"the claim's domain is unbounded in {name}; a certificate covers a box")
        elif clo > lo or chi < hi:
            problems.append(f"the certificate's box {name} in [{clo}, {chi}] does not contain the domain's [{lo}, {hi}]")
    return problems


def _spot_check(claim, network, box) -> list[str]:
    """For a folded target: the certificate's output equals ``N(x) - f(x)`` at corners and centre."""
    from symbolic.circuit import to_fraction
    from verify.claim import Equality, Tolerance

    if not isinstance(claim.kind, (Equality, Tolerance)):
        return []
    names = list(network.inputs)
    corners = itertools.islice(itertools.product(*[box[n] for n in names]), 32)
    points = [dict(zip(names, map(fraction_of, p))) for p in corners]
    points.append({n: (fraction_of(box[n][0]) + fraction_of(box[n][1])) / 2 for n in names})
    for point in points:
        _, value, target = claim.holds_at(point)
        difference = to_fraction(value) - to_fraction(target)
        env = dict(point)
        for a in network.assignments:
            pre = fraction_of(a.bias) + sum((fraction_of(w) * env[s] for s, w in a.terms), Fraction(0))
            env[a.name] = max(pre, Fraction(0)) if a.relu else pre
        if env[network.outputs[0]] != difference:
            shown = ", ".join(f"{k} = {v}" for k, v in point.items())
            return [f"the certificate's output {network.outputs[0]} is {env[network.outputs[0]]} at {shown}, "
                    f"but N - f = {difference} there"]
    return []
