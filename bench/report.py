"""The benchmark's table, its targets section (issue 6) and the raw-numbers JSON."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from bench.runner import CaseResult, Summary

COLUMNS = ("case", "ReLUs", "mathcircuits (method)", "z3 baseline", "Marabou",
           "median solve s (mc / z3 / Marabou)", "median wall s (mc / z3 / Marabou)", "mc/z3", "mc/Marabou")
SLOW_PEER_S = 1.0  # a peer's correct answer slower than this gets a speed-up target
SPEEDUP = {"z3": 20.0, "marabou": 5.0}
QUICK_WALL_FACTOR = 1.5
CASE_LIMIT_S = 10.0
CATALOGUE_LIMIT_S = 2.0
IS_EVEN_LIMIT_S = 1.0


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _verdict(summary: Summary) -> str:
    if not summary.runs:
        return "n/a"
    if summary.solver == "mathcircuits" and summary.method and not summary.status.startswith("WRONG"):
        cert = ""
        if summary.cert:
            cert = f"; certificate {summary.cert}"
            cert += f" {summary.cert_check_s:.3f} s" if summary.cert_check_s is not None else ""
        return f"{summary.status} ({summary.method}{cert})"
    return summary.status


def ratio(mc: Summary, peer: Summary, timeout_s: float) -> str:
    """``mc/peer`` of median solve times, with the speed-up; ``<x`` when the peer timed out."""
    if mc.solve_s is None or not peer.runs:
        return "-"
    if peer.correct and peer.solve_s:
        r = mc.solve_s / peer.solve_s
        return f"{r:.3g} ({1 / r:.3g}x)" if r > 0 else "0"
    if any(run.verdict == "timeout" for run in peer.runs):
        return f"<{mc.solve_s / timeout_s:.2g} (peer timeout)"
    return f"- (peer {peer.status.split(' ')[0]})"


def table(results: list[CaseResult], timeout_s: float) -> str:
    """The Markdown table, one row per case."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for res in results:
        mc, z3, mar = (res.summaries.get(s) for s in ("mathcircuits", "z3", "marabou"))
        z3 = z3 or Summary("z3", [])
        mar = mar or Summary("marabou", [])
        cells = [res.case.name, "-" if res.case.relus is None else str(res.case.relus),
                 _verdict(mc), _verdict(z3), _verdict(mar),
                 " / ".join(_s(s.solve_s) for s in (mc, z3, mar)),
                 " / ".join(_s(s.wall_s) for s in (mc, z3, mar)),
                 ratio(mc, z3, timeout_s), ratio(mc, mar, timeout_s)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dataclasses.dataclass
class Target:
    name: str
    status: str  # PASS | MISS | n/a
    detail: str

    def line(self) -> str:
        return f"- **{self.status}** {self.name}: {self.detail}"


def targets(results: list[CaseResult]) -> list[Target]:
    """Each target of issue 6, checked on the measured medians."""
    out = []
    if not any(r.summaries["mathcircuits"].runs for r in results):
        return [Target("targets", "n/a", "mathcircuits was not run (--solvers)")]
    solved = [r for r in results if r.case.kind != "catalogue"]
    unanswered = [r.case.name for r in solved if not r.summaries["mathcircuits"].correct]
    slowest = max(solved, key=lambda r: r.summaries["mathcircuits"].wall_s or 0, default=None)
    if slowest is not None:
        worst = slowest.summaries["mathcircuits"]
        over = [r.case.name for r in solved if (r.summaries["mathcircuits"].wall_s or 0) >= CASE_LIMIT_S]
        ok = not unanswered and not over
        detail = (f"{len(solved) - len(unanswered)}/{len(solved)} answered; slowest {slowest.case.name}: "
                  f"wall {_s(worst.wall_s)} s (solve {_s(worst.solve_s)} s)")
        if unanswered:
            detail += f"; not answered: {', '.join(unanswered)}"
        if over:
            detail += f"; over {CASE_LIMIT_S:g} s: {', '.join(over)}"
        out.append(Target(f"every case answered, each under {CASE_LIMIT_S:g} s (whole process)",
                          "PASS" if ok else "MISS", detail))
    for peer, factor in SPEEDUP.items():
        checked, missed = [], []
        for r in solved:
            mc, other = r.summaries["mathcircuits"], r.summaries[peer]
            if other.correct and (other.solve_s or 0) > SLOW_PEER_S and mc.solve_s is not None:
                speed = other.solve_s / mc.solve_s if mc.solve_s > 0 else float("inf")
                checked.append(f"{r.case.name} {speed:.3g}x")
                if speed < factor:
                    missed.append(r.case.name)
        status = "n/a" if not checked else ("MISS" if missed else "PASS")
        detail = "; ".join(checked) or f"no case where {peer}'s correct answer took more than {SLOW_PEER_S:g} s"
        if missed:
            detail += f" -- below {factor:g}x: {', '.join(missed)}"
        out.append(Target(f">= {factor:g}x faster than {peer} where its correct answer takes > {SLOW_PEER_S:g} s "
                          "(median solve)", status, detail))
    out.append(_quick(solved))
    out.append(_many_inputs(solved))
    for r in results:
        mc = r.summaries["mathcircuits"]
        if r.case.kind == "catalogue":
            ok = mc.correct and (mc.wall_s or 0) < CATALOGUE_LIMIT_S
            out.append(Target(f"whole seed catalogue from a cold start under {CATALOGUE_LIMIT_S:g} s wall",
                              "PASS" if ok else "MISS",
                              f"median wall {_s(mc.wall_s)} s (in-process {_s(mc.solve_s)} s), {mc.status}"))
        if r.case.name == "is_even-10":
            ok = mc.correct and (mc.solve_s or 0) < IS_EVEN_LIMIT_S
            out.append(Target(f"is_even with 10 bits decided under {IS_EVEN_LIMIT_S:g} s", "PASS" if ok else "MISS",
                              f"median solve {_s(mc.solve_s)} s (whole process {_s(mc.wall_s)} s), {mc.status}"))
    return out


MANY_INPUTS_LIMIT_S = 10.0
MANY_INPUTS_MAX_RELUS = 128  # "up to 2x64 hidden ReLUs"


def _many_inputs(solved: list[CaseResult]) -> Target:
    """Issue 11: every 3-4-input case with up to 2x64 hidden ReLUs decided and certified in < 10 s."""
    chosen = [r for r in solved if r.case.inputs >= 3 and (r.case.relus or 0) <= MANY_INPUTS_MAX_RELUS]
    if not chosen:
        return Target("3-4-input cases decided and certified under 10 s", "n/a", "no 3-4-input case selected")
    missed = []
    for r in chosen:
        mc = r.summaries["mathcircuits"]
        why = []
        if not mc.correct:
            why.append(mc.status)
        if (mc.wall_s or 0) >= MANY_INPUTS_LIMIT_S:
            why.append(f"wall {_s(mc.wall_s)} s")
        if mc.status == "proved" and mc.cert != "accepted":
            why.append(f"certificate {mc.cert or 'none'}")
        if why:
            missed.append(f"{r.case.name} ({', '.join(why)})")
    slowest = max(chosen, key=lambda r: r.summaries["mathcircuits"].wall_s or 0)
    detail = (f"{len(chosen) - len(missed)}/{len(chosen)} met; slowest {slowest.case.name} wall "
              f"{_s(slowest.summaries['mathcircuits'].wall_s)} s")
    if missed:
        detail += "; missed: " + "; ".join(missed)
    return Target(f"every 3-4-input case (<= {MANY_INPUTS_MAX_RELUS} hidden ReLUs) decided, proofs certified, "
                  f"under {MANY_INPUTS_LIMIT_S:g} s (whole process)", "MISS" if missed else "PASS", detail)


def _quick(solved: list[CaseResult]) -> Target:
    """Quick cases: the fastest correct peer solves in <= 1 s; mc's whole process within 1.5x of it."""
    checked, missed = [], []
    for r in solved:
        mc = r.summaries["mathcircuits"]
        peers = [r.summaries[p] for p in SPEEDUP if r.summaries[p].correct and r.summaries[p].wall_s]
        if not peers or mc.wall_s is None:
            continue
        best = min(peers, key=lambda s: s.wall_s)
        if (best.solve_s or 0) > SLOW_PEER_S:
            continue
        factor = mc.wall_s / best.wall_s
        checked.append(f"{r.case.name} {factor:.2f}x of {best.solver}")
        if factor > QUICK_WALL_FACTOR:
            missed.append(r.case.name)
    status = "n/a" if not checked else ("MISS" if missed else "PASS")
    detail = "; ".join(checked) or "no quick case"
    if missed:
        detail += f" -- over {QUICK_WALL_FACTOR:g}x on {len(missed)}/{len(checked)}: {', '.join(missed)}"
    return Target(f"quick cases: mc whole-process wall <= {QUICK_WALL_FACTOR:g}x the fastest correct peer's",
                  status, detail)


def wrong_counts(results: list[CaseResult]) -> dict[str, int]:
    """Wrong runs per peer, over all cases."""
    return {p: sum(r.summaries[p].wrong_runs for r in results if p in r.summaries) for p in SPEEDUP}


def _plain(value):
    if isinstance(value, Fraction):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def to_json(results: list[CaseResult], found: list[Target], meta: dict) -> dict:
    """Every raw number: per case, solver and run."""
    cases = []
    for r in results:
        case = dataclasses.asdict(r.case)
        solvers = {}
        for name, s in r.summaries.items():
            solvers[name] = {k: _plain(v) for k, v in dataclasses.asdict(s).items()}
        cases.append({"case": _plain(case), "truth": r.truth, "disagreements": r.disagreements,
                      "solvers": solvers})
    return {"meta": meta, "cases": cases, "targets": [dataclasses.asdict(t) for t in found],
            "wrong_answers": wrong_counts(results)}
