"""Run the cases: one process per case, solver and run; replay every counterexample; classify.

Each run is ``subprocess.run([sys.executable, "-m", "bench.worker", ...])``; the runner measures
the whole process (start-up, imports, loading, solving) and takes the worker's own ``solve_s``
(the solve only). Medians are over the runs. A solver whose first run ends without an answer
after its timeout is not run again for that case (its median would be the timeout anyway).

Truth is established exactly: a counterexample (from any solver) that replays through
:func:`verify.result.replay` on the mathcircuits claim makes the claim false; otherwise a
mathcircuits proof makes it true. A peer counterexample that does not replay, or a peer proof of a
false claim, is a WRONG answer (counted and shown). A mathcircuits verdict that contradicts a
replayed counterexample or a peer's proof, a mathcircuits counterexample that does not replay, or a
failing catalogue is a *disagreement*: the benchmark fails.
"""

from __future__ import annotations

import dataclasses
import json
import re
import statistics
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

from bench.cases import REPO, SOLVERS, Case, claim_for

GRACE_S = 30.0  # start-up allowance on top of the solver timeout before a worker is killed
ANSWERS = ("proved", "refuted")


@dataclasses.dataclass
class Run:
    """One worker process."""

    solver: str
    verdict: str  # proved | refuted | unknown | timeout | error | crash
    wall_s: float
    solve_s: float | None = None
    method: str = ""
    point: dict[str, Fraction] | None = None
    raw_point: dict | None = None
    note: str = ""
    replays: bool | None = None  # for refuted runs: did the counterexample replay exactly?
    wrong: bool = False
    cert: str = ""  # mathcircuits proofs: accepted | rejected | none (no certificate) | n/a (no checker)
    cert_check_s: float | None = None


@dataclasses.dataclass
class Summary:
    """One solver on one case, over its runs."""

    solver: str
    runs: list[Run]
    status: str = "n/a"  # the verdict shown (WRONG when any run was wrong)
    method: str = ""
    correct: bool = False  # every run answered, and correctly
    wrong_runs: int = 0
    solve_s: float | None = None  # median
    wall_s: float | None = None  # median
    cert: str = ""  # "accepted" when every proof's certificate was accepted, else the first other status
    cert_check_s: float | None = None  # median


@dataclasses.dataclass
class CaseResult:
    """Every solver on one case, the established truth and any disagreement."""

    case: Case
    summaries: dict[str, Summary]
    truth: str | None = None  # "true" (proved), "false" (a counterexample replays) or None
    disagreements: list[str] = dataclasses.field(default_factory=list)


def _worker_command(case: Case, solver: str, models: Path, timeout_s: float) -> list[str]:
    return [sys.executable, "-m", "bench.worker", "--solver", solver, "--case", case.name,
            "--models", str(models), "--timeout", repr(timeout_s)]


def run_worker(case: Case, solver: str, models: Path, timeout_s: float) -> Run:
    """Spawn one worker and time the whole process."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(_worker_command(case, solver, models, timeout_s), cwd=REPO,
                              capture_output=True, text=True, timeout=timeout_s + GRACE_S)
    except subprocess.TimeoutExpired:
        return Run(solver, "timeout", time.perf_counter() - start, note="killed after the timeout")
    wall = time.perf_counter() - start
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        tail = proc.stderr.strip().splitlines()[-1:] or [""]
        return Run(solver, "crash", wall, note=f"exit {proc.returncode}: {tail[0][:200]}")
    report = json.loads(lines[-1])
    verdict = report["verdict"]
    note = report.get("note") or ""
    if verdict == "unknown" and re.search(r"timeout|canceled", note, re.I):
        verdict = "timeout"
    point = report.get("point")
    return Run(solver, verdict, wall, report.get("solve_s"), report.get("method") or "",
               {k: Fraction(v) for k, v in point.items()} if point else None,
               report.get("raw_point"), note, cert=report.get("cert") or "",
               cert_check_s=report.get("cert_check_s"))


def run_catalogue() -> Run:
    """``mathcircuits prove`` from a cold start; must exit 0 (every verdict as expected)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "proofs.cli", "prove"], cwd=REPO,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    found = re.search(r"\(([\d.]+) s\)\s*$", last)
    verdict = "proved" if proc.returncode == 0 else "failed"
    return Run("mathcircuits", verdict, wall, float(found.group(1)) if found else None,
               "catalogue", note=last[:200])


def _median(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _timed_out(run: Run, timeout_s: float) -> bool:
    return run.verdict == "timeout" or (run.verdict == "unknown" and run.wall_s >= timeout_s)


def run_case(case: Case, models: Path, runs: int, timeout_s: float, log=None) -> CaseResult:
    """All runs of all solvers on ``case`` (interleaved by run), replayed and classified."""
    collected: dict[str, list[Run]] = {s: [] for s in SOLVERS}
    for index in range(runs):
        for solver in SOLVERS:
            if case.kind == "catalogue" and solver != "mathcircuits":
                continue
            if solver not in case.solvers:
                continue
            done = collected[solver]
            if done and _timed_out(done[0], timeout_s):
                continue
            run = run_catalogue() if case.kind == "catalogue" else run_worker(case, solver, models, timeout_s)
            done.append(run)
            if log:
                log(f"  {case.name:22} run {index + 1}/{runs} {solver:12} {run.verdict:8} "
                    f"solve {_fmt(run.solve_s)} wall {_fmt(run.wall_s)}")
    return classify(case, collected, models)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}s"


def classify(case: Case, collected: dict[str, list[Run]], models: Path) -> CaseResult:
    """Replay every counterexample, establish the truth, mark wrong answers and disagreements."""
    result = CaseResult(case, {})
    if case.kind == "catalogue":
        runs = collected["mathcircuits"]
        result.summaries["mathcircuits"] = _summarise("mathcircuits", runs, True)
        result.truth = "true"
        for run in runs:
            if run.verdict != "proved":
                result.disagreements.append(f"catalogue: `mathcircuits prove` failed: {run.note}")
        return result
    claim = claim_for(case, models)
    from verify.result import replay

    for runs in collected.values():
        for run in runs:
            if run.verdict == "refuted":
                run.replays = run.point is not None and replay(claim, run.point) is not None
    every = [r for runs in collected.values() for r in runs]
    if any(r.replays for r in every):
        result.truth = "false"
    elif any(r.verdict == "proved" for r in collected["mathcircuits"]):
        result.truth = "true"
    for runs in collected.values():
        for run in runs:
            run.wrong = (run.verdict == "refuted" and not run.replays) or (
                run.verdict == "proved" and result.truth == "false")
    _disagreements(result, collected)
    for solver in SOLVERS:
        runs = collected[solver]
        result.summaries[solver] = _summarise(solver, runs, solver in case.solvers)
    return result


def _disagreements(result: CaseResult, collected: dict[str, list[Run]]) -> None:
    name = result.case.name
    mc = collected["mathcircuits"]
    for run in mc:
        if run.verdict == "refuted" and not run.replays:
            result.disagreements.append(f"{name}: mathcircuits' counterexample {_show(run.point)} does not replay")
        if run.verdict == "proved" and result.truth == "false":
            witness = next(r for rs in collected.values() for r in rs if r.replays)
            result.disagreements.append(
                f"{name}: mathcircuits says proved but {witness.solver}'s counterexample "
                f"{_show(witness.point)} replays exactly")
    mc_cex = next((r for r in mc if r.verdict == "refuted" and r.replays), None)
    if mc_cex is not None:
        for solver in SOLVERS[1:]:
            if any(r.verdict == "proved" for r in collected[solver]):
                result.disagreements.append(
                    f"{name}: mathcircuits says refuted but {solver} proved it (unsat); mathcircuits' "
                    f"counterexample {_show(mc_cex.point)} replays exactly, so the peer's proof is suspect")
    verdicts = {r.verdict for r in mc if r.verdict in ANSWERS}
    if len(verdicts) > 1:
        result.disagreements.append(f"{name}: mathcircuits gave different verdicts across runs: {sorted(verdicts)}")


def _show(point: dict | None) -> str:
    if not point:
        return "(none)"
    return "(" + ", ".join(f"{k}={v}" for k, v in point.items()) + ")"


def _summarise(solver: str, runs: list[Run], applicable: bool) -> Summary:
    summary = Summary(solver, runs)
    if not applicable or not runs:
        return summary
    summary.solve_s = _median([r.solve_s for r in runs])
    summary.wall_s = _median([r.wall_s for r in runs])
    summary.wrong_runs = sum(r.wrong for r in runs)
    summary.method = next((r.method for r in runs if r.verdict in ANSWERS), runs[0].method)
    verdicts = [r.verdict for r in runs]
    if summary.wrong_runs:
        bad = next(r for r in runs if r.wrong)
        why = "counterexample does not replay" if bad.verdict == "refuted" else "proved, but a counterexample replays"
        summary.status = f"WRONG ({why}; {summary.wrong_runs}/{len(runs)} runs)"
    elif len(set(verdicts)) == 1:
        summary.status = verdicts[0]
    else:
        top = statistics.mode(verdicts)
        summary.status = f"{top} ({verdicts.count(top)}/{len(runs)}; also {', '.join(sorted(set(verdicts) - {top}))})"
    summary.correct = not summary.wrong_runs and all(v in ANSWERS for v in verdicts)
    certs = [r.cert for r in runs if r.verdict == "proved"]
    if certs:
        summary.cert = next((c for c in certs if c != "accepted"), "accepted") or "none"
        summary.cert_check_s = _median([r.cert_check_s for r in runs])
    return summary
