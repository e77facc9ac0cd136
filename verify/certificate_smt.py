"""Check ``"kind": "smt"`` certificates: re-decide the SMT-LIB query with cvc5, in a capped child process.

An ``smt`` certificate carries the SMT-LIB 2 text of a query (:mod:`verify.claim_to_smtlib`: for a
proof, the claim's negation, so ``unsat`` means the claim holds), the answer it expects and z3's
answer. The checker

1. reads every field strictly (``expected`` is ``"unsat"`` or ``"sat"``, ``z3`` one of ``"sat"``,
   ``"unsat"``, ``"unknown"``; the text at most :data:`~verify.smtlib_canonical.MAX_TEXT` characters);
2. parses the text itself, with caps (nesting depth :data:`~verify.smtlib_canonical.MAX_DEPTH`, digits per number), and
   accepts only a plain query: ``set-logic`` (once, an arithmetic logic of :data:`LOGICS`, before
   any declaration), ``set-info`` (keys of :data:`INFO_KEYS`), ``set-option :produce-models``,
   ``declare-fun`` / ``declare-const`` of ``Real``, ``Int`` or ``Bool`` constants, ``define-fun``,
   ``assert``, then exactly one ``check-sat`` (last, but for an optional ``exit``); terms use only
   the Core and arithmetic operators of :data:`OPERATORS`, ``let``, and the functions defined. No
   other command (``eval``, ``get-model``, ``push``, ``set-option :regular-output-channel`` ...),
   no quantifier, annotation (``!``), indexed symbol (``_``), string or ``#x``/``#b`` literal;
3. hands cvc5 the text as it parsed it (tokens separated by spaces, comments dropped: cvc5 reads
   exactly what was checked), in a child Python process with an address-space cap of
   :data:`MEMORY_BYTES` that is killed at the deadline; nonlinear real queries use cvc5's complete
   procedure (cylindrical algebraic coverings: ``nl-cov``, without incremental linearisation);
4. is ``ok`` only when cvc5's answer is the expected one and z3's answer is too.

This module imports neither z3, nor sympy, nor the search code; cvc5 only in the child process.

>>> from verify.certificate import FORMAT
>>> cert = {"format": FORMAT, "version": 1, "kind": "smt", "expected": "unsat", "z3": "unsat",
...         "smtlib": "(set-logic QF_LRA) (declare-fun x () Real) (assert (> x 1.0)) (assert (< x 0.0)) (check-sat)"}
>>> report = check_smt(cert, Limits(), 1, None)
>>> report.ok or report.problems[0].startswith("cvc5 is not installed"), report.answer in ("unsat", None)
(True, True)
>>> canonical("(set-logic QF_LRA) ; a comment\\n(declare-const x Real) (assert (eval x)) (check-sat)")
Traceback (most recent call last):
symbolic.errors.CertificateError: smtlib: line 2, assert: the operator 'eval' is not allowed (only Core and arithmetic operators, let, and defined functions)
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import select
import subprocess
import sys
import threading
import time
from collections.abc import Mapping

from symbolic.errors import CertificateError
from verify.certificate import CheckReport, Limits, fields
from verify.smtlib_canonical import ANSWERS, _short, canonical

#: The address-space cap of the cvc5 child process.
MEMORY_BYTES = 4 << 30
#: The time limit when the caller gives no deadline.
DEFAULT_TIMEOUT_S = 600.0
#: The child gets this long past the deadline to answer before it is killed.
GRACE_S = 0.5
NONLINEAR_REAL = frozenset({"QF_NRA", "QF_NIRA"})
INSTALL = "pip install 'mathcircuits[cvc5]'"


@dataclasses.dataclass(frozen=True)
class SmtReport(CheckReport):
    """A :class:`~verify.certificate.CheckReport` with cvc5's answer and the expected one."""

    answer: str | None = None
    expected: str = "unsat"
    z3: str = "unsat"

    def summary(self) -> str:
        """One line for people, e.g. ``cvc5 re-decided the SMT-LIB query: unsat, as expected (z3: unsat) ...``."""
        if self.ok:
            return (f"cvc5 re-decided the SMT-LIB query: {self.answer}, as expected (z3: {self.z3}) "
                    f"({self.seconds:.3f} s)")
        if self.timed_out:
            return f"certificate check timed out: cvc5 gave no answer in time ({self.seconds:.3f} s)"
        return (f"certificate REJECTED ({len(self.problems)} problems): cvc5 {self.answer or 'gave no answer'}, "
                f"expected {self.expected}, z3 {self.z3} ({self.seconds:.3f} s)")


def check_smt(cert: Mapping, limits: Limits, workers: int, deadline: float | None) -> SmtReport:
    """Check a ``"kind": "smt"`` certificate (see :func:`verify.certificate.check`); ``workers`` is unused."""
    start = time.perf_counter()
    fields(cert, "certificate", ("format", "version", "kind", "smtlib", "expected", "z3"), ("source", "stats"))
    expected, z3_answer = cert["expected"], cert["z3"]
    if expected not in ("unsat", "sat"):
        raise CertificateError(f"expected: {_short(expected)} is not \"unsat\" or \"sat\"")
    if z3_answer not in ANSWERS:
        raise CertificateError(f"z3: {_short(z3_answer)} is not one of sat, unsat, unknown")
    text = canonical(cert["smtlib"], limits)
    problems = []
    if z3_answer != expected:
        problems.append(f"the certificate says z3 answered {z3_answer}, not the expected {expected}")
    logic = text[len("(set-logic "):text.index(")")] if text.startswith("(set-logic ") else "ALL"
    answer, trouble, timed_out = run_cvc5(text, logic, deadline)
    if trouble:
        problems.append(trouble)
    elif answer != expected:
        problems.append(f"cvc5 answered {answer}, the certificate expects {expected} (z3 answered {z3_answer})"
                        + ("" if answer != "unknown" else ": neither confirmed nor refuted"))
    return SmtReport(not problems, tuple(problems), 0, 0, time.perf_counter() - start, "smt",
                     timed_out and bool(problems), answer=answer, expected=expected, z3=z3_answer)


# -- cvc5 -------------------------------------------------------------------------------------------
_CHILD = r"""
import json, resource, sys
ALLOWED = {"set-logic", "set-info", "set-option", "declare-fun", "declare-const", "define-fun", "assert",
           "check-sat", "exit"}
def solve(cvc5, text, options):
    tm = cvc5.TermManager()
    solver = cvc5.Solver(tm)
    for key, value in options.items():
        solver.setOption(key, value)
    symbols = cvc5.SymbolManager(tm)
    parser = cvc5.InputParser(solver, symbols)
    parser.setStringInput(cvc5.InputLanguage.SMT_LIB_2_6, text, "certificate")
    answer = None
    while True:
        command = parser.nextCommand()
        if command.isNull():
            break
        name = command.getCommandName()
        if name not in ALLOWED:
            return {"error": "cvc5 read a command the checker does not allow: " + name}
        if name == "exit":
            break
        out = command.invoke(solver, symbols).strip()
        if name == "check-sat":
            answer = out
        elif out:
            return {"error": "cvc5: " + out[:300]}
    reason = str(solver.getInfo("reason-unknown")) if answer == "unknown" else ""
    return {"answer": answer, "reason": reason}
memory = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
try:
    import cvc5
except ModuleNotFoundError:
    cvc5 = None
for line in sys.stdin:  # one JSON request per line, one JSON answer per line, until stdin closes
    request = json.loads(line)
    fatal = False
    try:
        result = {"missing": True} if cvc5 is None else solve(cvc5, request["text"], request["options"])
    except MemoryError:
        result, fatal = {"error": "cvc5 ran out of memory"}, True
    except Exception as exc:
        result = {"error": "cvc5: " + (str(exc) or type(exc).__name__)[:300]}
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    if fatal:
        break
"""


class _Child:
    """One cvc5 child process, started on first use and reused by later checks (Python start-up and
    ``import cvc5`` cost about 0.1 s each time); each query gets a fresh solver. A child that misses
    its deadline or dies is killed, and the next query starts a new one."""

    def __init__(self):
        self.process: subprocess.Popen | None = None
        self.started_as: tuple | None = None

    def ask(self, text: str, options: dict, seconds: float) -> dict | str:
        """The child's JSON answer, or why there is none (a string); ``"timeout"`` past ``seconds``."""
        how = (_CHILD, MEMORY_BYTES)  # a child started with other code or another cap is replaced
        if self.process is not None and (self.process.poll() is not None or self.started_as != how):
            self.close()
        if self.process is None:
            self.process = subprocess.Popen([sys.executable, "-P", "-c", _CHILD, str(MEMORY_BYTES)],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=subprocess.DEVNULL, text=True)
            self.started_as = how
        try:
            self.process.stdin.write(json.dumps({"text": text, "options": options}) + "\n")
            self.process.stdin.flush()
            ready, _, _ = select.select([self.process.stdout], [], [], max(seconds, 0.0))
            line = self.process.stdout.readline() if ready else None
        except (OSError, ValueError):
            line = ""
        if line is None:
            self.close()
            return "timeout"
        if not line:
            code = self.process.wait()
            self.process = self.started_as = None
            return f"signal {-code}" if code < 0 else f"exit status {code}"
        return json.loads(line)

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = self.started_as = None


_LOCAL = threading.local()  # one child per thread: checks in parallel threads do not share a pipe
_ALL: list[_Child] = []


def _child() -> _Child:
    if getattr(_LOCAL, "child", None) is None:
        _LOCAL.child = _Child()
        _ALL.append(_LOCAL.child)
    return _LOCAL.child


@atexit.register
def _close_all() -> None:
    for child in _ALL:
        child.close()


def run_cvc5(text: str, logic: str, deadline: float | None) -> tuple[str | None, str, bool]:
    """Decide ``text`` with cvc5 in a child process: ``(answer, problem, timed_out)``; ``answer`` is
    sat, unsat or unknown (None when cvc5 gave none, with ``problem`` saying why)."""
    left = DEFAULT_TIMEOUT_S if deadline is None else deadline - time.monotonic()
    if left <= 0:
        return None, "timed out before cvc5 started", True
    options = {"tlimit-per": str(max(1, int(left * 1000)))}
    if logic in NONLINEAR_REAL:
        options.update({"nl-cov": "true", "nl-ext": "none"})
    try:
        result = _child().ask(text, options, left + GRACE_S)
    except OSError as exc:
        return None, f"cannot start the cvc5 child process ({exc.strerror or exc})", False
    if result == "timeout":
        return None, f"cvc5 gave no answer within the time limit ({left:.3g} s)", True
    if isinstance(result, str):
        return None, f"cvc5 stopped without an answer ({result})", False
    if result.get("missing"):
        return None, f"cvc5 is not installed, so this certificate cannot be checked here: {INSTALL}", False
    if "error" in result:
        return None, str(result["error"]), False
    answer = result.get("answer")
    if answer not in ANSWERS:
        return None, f"cvc5 gave no answer ({_short(answer)})", False
    late = deadline is not None and time.monotonic() >= deadline
    timed_out = answer == "unknown" and (late or result.get("reason") in ("TIMEOUT", "RESOURCEOUT", "timeout"))
    return answer, "", timed_out
