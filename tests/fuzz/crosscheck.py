"""Run the tool on one fuzz claim and cross-check its answer against the oracle.

A verdict is WRONG when the tool proves a claim the oracle refutes (by its own search, its exact
line analysis or its own z3 encoding, every counterexample replayed by the oracle's evaluator) or
whose target is undefined somewhere on the domain; when a refutation's counterexample lies outside
the domain, does not fail in the oracle's evaluator, or carries other values; or when a worst-case
error differs from the exact one. Unknown is allowed (counted). A MathCircuitsError other than
ReplayError is a user error (counted by class); any other exception is a bug.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import random
import signal
import time
from fractions import Fraction

from tests.fuzz import line, oracle, oracle_z3, render, spec

F = Fraction


class Overrun(Exception):
    """The tool ran past the fuzzer's hard wall-clock limit for one claim."""


@dataclasses.dataclass
class Record:
    """The outcome of one claim (JSON-ready apart from nothing: all fields are plain)."""

    index: int
    category: str
    route: str
    names: str
    config: str = "default"  # which of decide's methods the claim may use (see VARIANTS)
    outcome: str = ""  # proved | refuted | unknown | error | bug | overrun
    wrong: str = ""  # why the verdict is wrong (empty: not wrong)
    oracle_problem: str = ""  # the oracle contradicts the construction or itself
    error_class: str = ""
    message: str = ""
    method: str = ""
    oracle: str = ""  # holds | fails | undefined | unknown | not run
    oracle_method: str = ""
    expect: bool | None = None
    cause: str = ""  # for a wrong verdict: collision, undefined target, or unexplained
    slow: bool = False  # the tool used more processor time than its timeout (+10% + 1 s)
    tool_s: float = 0.0
    total_s: float = 0.0
    cpu_s: float = 0.0  # processor time of the whole check (independent of the machine's load)
    cross: str = ""  # with --cross-check: agree | none | DISAGREE (the tool's second route, verify/cross_check.py)
    cross_detail: str = ""
    claim: str = ""


@dataclasses.dataclass(frozen=True)
class Options:
    timeout_s: float = 5.0  # the tool's and the oracle's solver budget per claim
    hard_s: float = 60.0  # wall-clock limit of one tool call (beyond it: overrun)
    search_points: int = 40
    lines: int = 3
    cross_check: bool = False  # confirm each verdict by the tool's second route (its certificate, re-checked)


# -- the oracle's verdict ---------------------------------------------------------------------------
def truth(case: spec.Case, opts: Options) -> tuple[str, dict | None, str]:
    """``(status, point, method)``: holds, fails, undefined or unknown, by the cheapest exact route."""
    if oracle.size(case) <= oracle.ENUMERATE:
        status, point = oracle.enumerate_all(case)
        return status, point, "enumeration"
    rng = random.Random(f"oracle:{case.index}")
    if len(case.inputs) == 1 and not isinstance(case.set_of(case.inputs[0]), spec.Finite):
        out = line.decide(case, line.line_of_one(case))
        return out.status, out.point, "exact 1-D"
    status, point = oracle.search(case, rng, opts.search_points)
    if status == "fails":
        return status, point, "random points"
    for ln in line.random_lines(case, rng, opts.lines):
        out = line.decide(case, ln)
        if out.status == "fails" or (out.status == "undefined" and status != "undefined"):
            return out.status, out.point, "exact line"
    answer = oracle_z3.decide(case, opts.timeout_s)
    if answer.status == "inconsistent":
        raise line.OracleError(answer.reason)
    if answer.status in ("unknown", "holds") and status == "undefined":
        return status, point, "random points"
    return answer.status, answer.point, "oracle z3"


def definedness(case: spec.Case, opts: Options) -> tuple[str, dict | None]:
    """``('holds', None)`` when the target is defined on the whole domain, ``('undefined', point)``
    or ``('unknown', None)``."""
    if not spec.has_cases(case.target):
        return "holds", None
    if oracle.size(case) <= oracle.ENUMERATE:
        for point in oracle.all_points(case):
            if oracle.check_point(case, point).status == "undefined":
                return "undefined", point
        return "holds", None
    if len(case.inputs) == 1:
        out = line.decide(case, line.line_of_one(case), definedness=True)
        return out.status, out.point
    answer = oracle_z3.decide(case, opts.timeout_s, definedness=True)
    if answer.status == "inconsistent":
        raise line.OracleError(answer.reason)
    return answer.status, answer.point


def _show(point: dict | None) -> str:
    return "" if point is None else "{" + ", ".join(f"{k}: {v}" for k, v in point.items()) + "}"


# -- running the tool -----------------------------------------------------------------------------
def _alarm(_signum, _frame):
    raise Overrun()


def run_tool(case: spec.Case, opts: Options):
    """``(kind, payload)``: ('result', (verdict, point, values, method)) or ('worst', MaxError)
    or ('exit', (code, stdout, stderr)) for the CLI route. Exceptions propagate."""
    from verify.decide import Config, decide

    if case.route == "cli":
        from proofs import cli

        out, err = io.StringIO(), io.StringIO()
        argv = render.cli_argv(case, opts.timeout_s)
        if opts.cross_check:
            argv.insert(argv.index("--"), "--cross-check")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(argv)
        return "exit", (code, out.getvalue(), err.getvalue())
    claim = render.text_claim(case) if case.route == "text" else render.api_claim(case)
    if case.route == "worst":
        from verify.worst_case import max_error

        return "worst", max_error(claim.circuit, claim.target, claim.domain, timeout_s=opts.timeout_s, output=claim.output)
    result = decide(claim, config_for(case, opts, Config))
    confirmation = None
    if opts.cross_check:
        from verify.cross_check import cross_check

        confirmation = cross_check(result, opts.timeout_s).to_json()
    cex = result.counterexample
    values = None if cex is None else (cex.network_value, cex.target_value)
    return "result", (result.verdict.value, None if cex is None else dict(cex.point), values, result.method,
                      result.reason, confirmation)


# Each claim also picks which of decide's methods it may use, so that every method (exhaustive
# evaluation, regions, the engine, z3) meets every kind of claim; options decide does not have are
# left out, so the fuzzer keeps working as methods come and go.
VARIANTS = {
    "default": {},
    "no-regions": {"max_cells": 0},
    "no-engine": {"engine": False},
    "no-exhaustive": {"max_points": 0},
    "z3-only": {"max_cells": 0, "engine": False, "max_points": 0},
}
_WEIGHTS = {"default": 50, "no-regions": 15, "no-engine": 15, "no-exhaustive": 10, "z3-only": 10}


def variant(case: spec.Case) -> str:
    """The decide options of this claim (fixed by its index)."""
    rng = random.Random(f"variant:{case.index}")
    return rng.choices(list(_WEIGHTS), list(_WEIGHTS.values()))[0]


def config_for(case: spec.Case, opts: Options, config_class):
    fields = {f.name for f in dataclasses.fields(config_class)}
    extra = {k: v for k, v in VARIANTS[variant(case)].items() if k in fields}
    return config_class(timeout_s=opts.timeout_s, **extra)


def _from_cli(rec: Record, code: int, stdout: str, stderr: str):
    """Read ``mathcircuits claim --json``: ``(verdict, point, values)`` or record an error/bug."""
    if code in (0, 1, 3):
        data = json.loads(stdout)
        verdict = data["verdict"]
        if {"proved": 0, "refuted": 1, "unknown": 3}[verdict] != code:
            rec.outcome, rec.message = "bug", f"exit {code} with verdict {verdict}"
            return None
        point = None if data["counterexample"] is None else {k: F(v) for k, v in data["counterexample"].items()}
        values = None if point is None else (_value(data["network_value"]), _value(data["target_value"]))
        rec.method = data.get("method", "")
        rec.message = str(data.get("reason") or "")[:300] if verdict == "unknown" else ""
        _record_cross(rec, data.get("cross_check"))
        return verdict, point, values
    if code == 4 and "two routes disagree" in stderr:
        _record_cross(rec, json.loads(stdout).get("cross_check"))
        return None
    line_ = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    if code == 2:
        rec.outcome, rec.error_class, rec.message = "error", "exit 2", line_[:300]
    else:
        rec.outcome, rec.message = "bug", f"exit {code}: {line_[:300]}"
    return None


def _record_cross(rec: Record, confirmation: dict | None) -> None:
    """Note the tool's own second route: agree, none (no second route, unknown verdict) or DISAGREE."""
    if confirmation is None:
        return
    rec.cross = {True: "agree", False: "DISAGREE", None: "none"}[confirmation["agree"]]
    rec.cross_detail = str(confirmation["detail"])[:300]


def _value(text: str):
    return text == "true" if text in ("true", "false") else F(text)


def check_case(case: spec.Case, opts: Options = Options()) -> Record:
    """Decide ``case`` with the tool and cross-check the answer; never raises for tool failures."""
    from symbolic import errors

    start, cpu = time.perf_counter(), time.process_time()
    rec = Record(case.index, case.category, case.route, case.names, expect=case.expect, claim=case.describe()[:2000],
                 config=variant(case) if case.route in ("api", "text") else "-")
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, opts.hard_s)
    try:
        kind, payload = run_tool(case, opts)
    except Overrun:
        rec.outcome, rec.message = "overrun", f"no answer within {opts.hard_s} s"
        kind = None
    except errors.ReplayError as exc:
        rec.outcome, rec.error_class, rec.message = "bug", "ReplayError", str(exc)[:300]
        kind = None
    except errors.MathCircuitsError as exc:
        rec.outcome, rec.error_class, rec.message = "error", type(exc).__name__, str(exc)[:300]
        kind = None
    except Exception as exc:  # noqa: BLE001 - any other exception is a bug, reported
        rec.outcome, rec.error_class, rec.message = "bug", type(exc).__name__, str(exc)[:300]
        kind = None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    rec.tool_s = time.perf_counter() - start
    # processor time, not wall time: on a loaded machine the wall clock says nothing about the tool
    rec.slow = time.process_time() - cpu > opts.timeout_s * 1.1 + 1
    try:
        if kind == "worst":
            _check_worst(case, rec, payload)
        elif kind is not None:
            verdict = payload if kind == "result" else _from_cli(rec, *payload)
            if verdict is not None:
                rec.outcome, point, values = verdict[0], verdict[1], verdict[2]
                rec.method = verdict[3] if len(verdict) > 3 else rec.method
                rec.message = str(verdict[4])[:300] if len(verdict) > 4 and verdict[0] == "unknown" else rec.message
                if len(verdict) > 5:
                    _record_cross(rec, verdict[5])
                _check_verdict(case, rec, point, values, opts)
        if rec.outcome == "error" and not rec.oracle:
            rec.oracle, _, rec.oracle_method = truth(case, opts)
        if rec.outcome == "error" and rec.error_class == "PartialTargetError":
            status, _ = definedness(case, opts)
            if status == "holds":
                rec.wrong = "refused as undefined somewhere, but the oracle proves the target defined on the whole domain"
    except line.OracleError as exc:
        rec.oracle_problem = f"oracle inconsistent: {exc}"
    if rec.wrong:
        rec.cause = suspect(case, rec)
    rec.total_s = time.perf_counter() - start
    rec.cpu_s = time.process_time() - cpu
    return rec


def tool_names(case: spec.Case) -> list[str]:
    """The names the tool gives the claim's assignments (neurons, outputs), as far as known."""
    try:
        if isinstance(case.network, spec.Net):
            return [a.name for a in render.to_circuit(case.network).assignments]
        return [a.name for a in render.text_claim(case).circuit.assignments]
    except Exception:  # noqa: BLE001 - only a diagnosis
        return [n.name for n in case.network.neurons] if isinstance(case.network, spec.Net) else []


def suspect(case: spec.Case, rec: Record) -> str:
    """A likely cause of a wrong verdict: an input named like a z3 constant, an undefined target."""
    internal = {f"n_{name}" for name in tool_names(case)}
    clash = sorted(set(case.inputs) & internal)
    if case.route == "worst" and "__objective" in case.inputs:
        clash.append("__objective")
    if clash:
        return f"collision ({', '.join(clash)})"
    if rec.oracle == "undefined":
        return "undefined target"
    return "unexplained"


def _check_verdict(case: spec.Case, rec: Record, point, values, opts: Options) -> None:
    if rec.outcome == "refuted":
        if point is None or not oracle.member(case, {k: v for k, v in point.items()}):
            rec.wrong = f"refuted with a counterexample outside the domain: {_show(point)}"
            return
        check = oracle.check_point(case, point)
        if check.status != "fails":
            rec.wrong = f"refuted at {_show(point)} where the oracle finds the claim {check.status} " \
                        f"(N = {check.network}, f = {check.target})"
        elif values is not None and (values[0] != check.network or values[1] != check.target):
            rec.wrong = f"counterexample values {values} differ from the oracle's ({check.network}, {check.target})"
        rec.oracle, rec.oracle_method = "fails", "replay"
        if case.expect is True and not rec.wrong:
            rec.oracle_problem = "a claim true by construction fails at a replayed point: generator bug"
        return
    status, where, method = truth(case, opts)
    rec.oracle, rec.oracle_method = status, method
    if rec.outcome == "proved":
        if status == "fails":
            rec.wrong = f"proved, but the oracle ({method}) refutes it at {_show(where)}"
        elif status == "undefined":
            rec.wrong = f"proved, but the target is undefined at {_show(where)} ({method})"
        elif status == "unknown" and case.expect is False:
            rec.wrong = "proved a claim false by construction"
    if case.expect is not None and status in ("holds", "fails") and (status == "holds") != case.expect:
        rec.oracle_problem = f"construction says {'true' if case.expect else 'false'}, oracle ({method}) says {status}"


def _check_worst(case: spec.Case, rec: Record, worst) -> None:
    """The worst-case error must equal the exact sup; its point must be in the domain's closure."""
    rec.method = getattr(worst, "method", "")
    rec.oracle, rec.oracle_method = "holds", "construction"
    if getattr(worst, "value", None) is None:
        rec.outcome, rec.message = "unknown", str(getattr(worst, "reason", ""))[:300]
        lower, upper = getattr(worst, "lower", None), getattr(worst, "upper", None)
        if lower is not None and F(lower) > case.worst:
            rec.wrong = f"worst-case lower bound {lower} exceeds the exact sup {case.worst}"
        elif upper is not None and F(upper) < case.worst:
            rec.wrong = f"worst-case upper bound {upper} is below the exact sup {case.worst}"
        return
    rec.outcome = "proved"
    value, at = F(worst.value), worst.at
    if value != case.worst:
        rec.wrong = f"worst-case error {value}, exact sup is {case.worst}"
        return
    if at is not None:
        closed = dataclasses.replace(case, domain=tuple((n, _closure(s)) for n, s in case.domain))
        point = {k: F(v) for k, v in at.items()}
        if not oracle.member(closed, point):
            rec.wrong = f"worst-case point {_show(point)} lies outside the domain's closure"
            return
        if getattr(worst, "attained", None) is True and not oracle.member(case, point):
            rec.wrong = f"worst-case error said to be attained at {_show(point)}, outside the domain"
            return
        memo = oracle.Memo(point)
        err = abs(oracle.network_value(case, point, memo) - memo(case.target))
        if err != value:
            rec.wrong = f"worst-case point {_show(point)} has error {err}, not {value}"


def _closure(s):
    return spec.Real(s.lo, s.hi, s.lo is None, s.hi is None) if isinstance(s, spec.Real) else s
