"""The ACAS Xu table: counts by verdict, time sums and medians per property and tool, wrong answers, disagreements.

Truth per instance is established exactly: *violated* when some tool's counterexample replays
(:func:`bench.acasxu.replay`). A counterexample that does not replay, or *holds* on an instance
with a replayed counterexample, is **WRONG** (counted in its own column, not as an answer). Two
tools answering *holds* and *violated* on the same instance is a disagreement (listed with the
replay outcome, which says who is right).

>>> recs = [{"key": "prop_1/1_1", "property": "prop_1", "solver": "marabou", "verdict": "holds",
...          "solve_s": 2.0, "wall_s": 2.5}]
>>> print(table(recs, ("marabou",)).splitlines()[2])
| prop_1 | marabou | 1 | 1 | 0 | 0 | 0 | 0 | 0 | 2.0 / 2.00 | 2.5 / 2.50 | - |
"""

from __future__ import annotations

import statistics
from collections import defaultdict

VERDICTS = ("holds", "violated", "unknown", "timeout", "error", "WRONG")
COLUMNS = ("property", "tool", "instances", *VERDICTS, "solve s (sum / median)", "wall s (sum / median)",
           "certificate check s (sum / median; accepted)")


def status(rec: dict, truth: str | None) -> str:
    """The verdict shown for one record: ``WRONG`` when refuted by exact replay, ``error`` for crashes."""
    verdict = rec.get("verdict", "error")
    if verdict == "violated" and not (rec.get("replay") or {}).get("ok"):
        return "WRONG"
    if verdict == "holds" and truth == "violated":
        return "WRONG"
    if verdict == "crash":
        return "error"
    return verdict


def truths(records: list[dict]) -> dict[str, str]:
    """``violated`` for every instance where some tool's counterexample replays exactly."""
    return {r["key"]: "violated" for r in records if (r.get("replay") or {}).get("ok")}


def _sum_median(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{sum(values):.1f} / {statistics.median(values):.2f}"


def table(records: list[dict], solvers: tuple[str, ...]) -> str:
    """Markdown table, one row per property and tool, then the totals."""
    truth = truths(records)
    groups: dict[str, list[dict]] = defaultdict(list)
    for rec in records:
        groups[rec["property"]].append(rec)
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for name in [*sorted(groups), "total"]:
        chosen = records if name == "total" else groups[name]
        for solver in solvers:
            mine = [r for r in chosen if r["solver"] == solver]
            if not mine:
                continue
            if all(r.get("verdict") == "n/a" for r in mine):
                lines.append(f"| {name} | {solver} | {len(mine)} | " + " | ".join(["n/a"] * (len(COLUMNS) - 3)) + " |")
                continue
            counts = {v: 0 for v in VERDICTS}
            for r in mine:
                counts[status(r, truth.get(r["key"]))] = counts.get(status(r, truth.get(r["key"])), 0) + 1
            solve = [r["solve_s"] for r in mine if r.get("solve_s") is not None]
            wall = [r["wall_s"] for r in mine if r.get("wall_s") is not None]
            certs = [r["cert"] for r in mine if r.get("cert")]
            checks = [c["check_s"] for c in certs if c.get("check_s") is not None]
            accepted = sum(c.get("verdict") == "accepted" for c in certs)
            cert = "-" if not certs else f"{_sum_median(checks)}; {accepted}/{len(certs)}"
            cells = [name, solver, str(len(mine)), *(str(counts[v]) for v in VERDICTS),
                     _sum_median(solve), _sum_median(wall), cert]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def wrong_answers(records: list[dict]) -> list[str]:
    """One line per WRONG answer, saying why."""
    truth = truths(records)
    out = []
    for r in records:
        if status(r, truth.get(r["key"])) != "WRONG":
            continue
        if r.get("verdict") == "violated":
            rp = r.get("replay") or {}
            why = rp.get("why") or "no counterexample"
            clamped = {True: "; moved into the box it would replay", False: "; moved into the box it still "
                       "does not replay"}.get(rp.get("clamped_ok"), "")
            out.append(f"{r['key']} {r['solver']}: violated, but its counterexample does not replay ({why}{clamped})")
        else:
            by = next(o["solver"] for o in records if o["key"] == r["key"] and (o.get("replay") or {}).get("ok"))
            out.append(f"{r['key']} {r['solver']}: holds, but {by}'s counterexample replays exactly")
    return out


def disagreements(records: list[dict]) -> list[str]:
    """Instances where one tool says holds and another violated."""
    by_key: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_key[r["key"]].append(r)
    out = []
    for key, recs in by_key.items():
        answers = {r["solver"]: r["verdict"] for r in recs if r.get("verdict") in ("holds", "violated")}
        if len(set(answers.values())) > 1:
            shown = ", ".join(f"{s} {v}" + ("" if v == "holds" else
                                            " (replays)" if next(r for r in recs if r["solver"] == s).get(
                                                "replay", {}).get("ok") else " (does NOT replay)")
                              for s, v in sorted(answers.items()))
            out.append(f"{key}: {shown}")
    return out


def load_range(records: list[dict]) -> str:
    """The 1-minute load averages seen before/after the jobs: ``min .. max (median)``."""
    values = [v[0] for r in records for v in (r.get("load_before"), r.get("load_after")) if v]
    if not values:
        return "unknown"
    return f"{min(values):.2f} .. {max(values):.2f} (median {statistics.median(values):.2f})"


SUM_LIMIT_S = 600.0


def targets(records: list[dict], solver: str = "mathcircuits") -> list[str]:
    """Issue 11's ACAS Xu targets, checked on ``solver``'s records (one Markdown line each)."""
    mine = [r for r in records if r["solver"] == solver]
    if not mine or all(r.get("verdict") == "n/a" for r in mine):
        return [f"- **n/a** ACAS Xu targets: no {solver} answers"]
    truth = truths(records)
    shown = {r["key"]: status(r, truth.get(r["key"])) for r in mine}
    decided = [r for r in mine if shown[r["key"]] in ("holds", "violated")]
    in_time = [r for r in decided if (r.get("wall_s") or 0) <= float(r["timeout_s"])]
    wall = sum(r.get("wall_s") or 0 for r in mine)
    solve = sum(r.get("solve_s") or 0 for r in mine)
    holds = [r for r in mine if r.get("verdict") == "holds"]
    certified = [r for r in holds if (r.get("cert") or {}).get("verdict") == "accepted"]
    violated = [r for r in mine if r.get("verdict") == "violated"]
    replayed = [r for r in violated if (r.get("replay") or {}).get("ok")]
    wrong = [k for k, v in shown.items() if v == "WRONG"]

    def line(ok: bool, name: str, detail: str) -> str:
        return f"- **{'PASS' if ok else 'MISS'}** {name}: {detail}"

    return [
        line(len(in_time) == len(mine), "every instance decided within its timeout (whole process)",
             f"{len(in_time)}/{len(mine)}"),
        line(wall < SUM_LIMIT_S, f"sum of times under {SUM_LIMIT_S:g} s",
             f"whole processes {wall:.1f} s, solve {solve:.1f} s over {len(mine)} instance(s)"),
        line(len(certified) == len(holds), "every holds verdict carries a certificate the checker accepts",
             f"{len(certified)}/{len(holds)}"),
        line(len(replayed) == len(violated), "every violated verdict carries an exact in-box counterexample",
             f"{len(replayed)}/{len(violated)}"),
        line(not wrong, "0 answers contradicted by an exactly replayed counterexample",
             f"{len(wrong)}" + (f": {', '.join(wrong)}" if wrong else "")),
    ]
