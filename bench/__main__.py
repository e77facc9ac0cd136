"""``python -m bench [--group cases|acasxu|all] [--runs N] [--cases PATTERN] [--instances PATTERN] ...``.

Group ``cases`` (the default) runs every selected case of :mod:`bench.cases` (one process per case,
solver and run) and prints the table and the targets; group ``acasxu`` runs the ACAS Xu instances
(:mod:`bench.acasxu`, resumable JSON lines) and prints their table; ``all`` runs both. Exits 0
unless mathcircuits disagrees with a replayed counterexample or a peer's proof, or gives an answer
that does not replay (exit 1), or the input is bad (exit 2). Missed targets are reported, not fatal.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

from bench import acasxu, acasxu_report, report
from bench.cases import DEFAULT_MODELS, SOLVERS, build_cases, select
from bench.marabou_peer import available as marabou_available
from bench.runner import run_case


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--group", choices=("cases", "acasxu", "all"), default="cases",
                   help="cases (2-4-input models, is_even, catalogue; default), acasxu, or all")
    p.add_argument("--runs", type=int, default=3, help="runs per case and solver (default 3); medians are shown")
    p.add_argument("--cases", metavar="PATTERN", help="comma-separated globs or substrings of case names")
    p.add_argument("--timeout", type=float, metavar="S",
                   help="per solver and run (default 120; acasxu: the csv's per-instance timeout, 116)")
    p.add_argument("--json", metavar="FILE",
                   help=f"cases: write every raw number to FILE; acasxu: the JSON lines file (resumable; "
                        f"default {acasxu.DEFAULT_RESULTS.relative_to(acasxu.REPO)})")
    p.add_argument("--instances", metavar="PATTERN", help="acasxu: comma-separated globs or substrings of "
                   "instance keys such as prop_2/1_7 (default: all 180)")
    p.add_argument("--solvers", metavar="LIST", help="comma-separated solvers (default: cases "
                   "mathcircuits,z3,marabou; acasxu mathcircuits,marabou); the others show n/a")
    p.add_argument("--csv", default=str(acasxu.DEFAULT_CSV), metavar="FILE", help="acasxu: the instances.csv")
    p.add_argument("--order", choices=("csv", "round-robin"), default="csv",
                   help="acasxu: csv order, or round-robin over the properties (a partial run covers all)")
    p.add_argument("--no-run", action="store_true",
                   help="acasxu: print the table of what the results file already holds; run nothing")
    p.add_argument("--fresh", action="store_true", help="acasxu: discard the results file and start over")
    p.add_argument("--models", default=str(DEFAULT_MODELS), metavar="DIR",
                   help=f"benchmark models (default {DEFAULT_MODELS})")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    return p


def _load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.runs < 1 or (args.timeout is not None and not args.timeout > 0):
        print("bench: --runs must be >= 1 and --timeout > 0", file=sys.stderr)
        return 2
    code = 0
    if args.group in ("cases", "all"):
        code = max(code, _cases(args))
    if args.group in ("acasxu", "all") and code != 2:
        code = max(code, _acasxu(args))
    return code


def _acasxu(args) -> int:
    """The ACAS Xu group: run what is missing from the results file, then print the table."""
    solvers = tuple(s.strip() for s in (args.solvers or ",".join(acasxu.TOOLS)).split(",") if s.strip())
    unknown = sorted(set(solvers) - set(acasxu.TOOLS))
    if unknown or not solvers:
        print(f"bench: unknown solver(s) {unknown or solvers}; choose from {', '.join(acasxu.TOOLS)}", file=sys.stderr)
        return 2
    try:
        instances = acasxu.select(acasxu.read_instances(args.csv), args.instances)
    except (OSError, ValueError) as exc:
        print(f"bench: cannot read the instances {args.csv}: {exc}", file=sys.stderr)
        return 2
    if not instances:
        print(f"bench: no ACAS Xu instance matches {args.instances!r}", file=sys.stderr)
        return 2
    if args.order == "round-robin":
        instances = acasxu.interleave(instances)
    results = Path(args.json if args.json and args.group == "acasxu" else acasxu.DEFAULT_RESULTS)
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    load_before = _load()
    log(f"bench: ACAS Xu, {len(instances)} instance(s), {', '.join(solvers)}, results in {results}, load {load_before}")
    start = time.perf_counter()
    if args.no_run:
        records = acasxu.recorded(instances, solvers, results, args.timeout)
    else:
        records = acasxu.run(instances, solvers, results, args.timeout, log, args.fresh)
    acasxu.refresh_replays(records, instances)
    print(f"# ACAS Xu: {', '.join(solvers)}\n")
    print(f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {len(instances)} instance(s) selected, "
          f"{len(records)} answer(s) recorded, timeout "
          f"{'per instances.csv' if args.timeout is None else f'{args.timeout:g} s'}, one process at a time; "
          f"load average (1/5/15 min) {load_before} before, {_load()} after; {time.perf_counter() - start:.1f} s "
          f"in this run; 1-minute load seen by the jobs {acasxu_report.load_range(records)}.\n")
    print(acasxu_report.table(records, solvers))
    wrong = acasxu_report.wrong_answers(records)
    split = acasxu_report.disagreements(records)
    print("\n## Correctness (every counterexample replayed exactly)\n")
    print(f"- wrong answers: {len(wrong)}" + "".join(f"\n  - {w}" for w in wrong))
    print(f"- disagreements between tools: {len(split)}" + "".join(f"\n  - {d}" for d in split))
    if "mathcircuits" in solvers:
        print("\n## Targets (issue 11, mathcircuits)\n")
        print("\n".join(acasxu_report.targets(records)))
    mc_wrong = [w for w in wrong if " mathcircuits: " in w]
    if mc_wrong:
        print("\nbench: mathcircuits gave a wrong answer on ACAS Xu -- see above", file=sys.stderr)
        return 1
    return 0


def _cases(args) -> int:
    """The case table: 2-4-input models, is_even and the catalogue."""
    args.timeout = 120.0 if args.timeout is None else args.timeout
    models = Path(args.models)
    try:
        cases = select(build_cases(models), args.cases)
    except (OSError, KeyError, ValueError) as exc:
        print(f"bench: cannot read the models in {models}: {exc}", file=sys.stderr)
        return 2
    if not cases:
        print(f"bench: no case matches {args.cases!r}", file=sys.stderr)
        return 2
    if args.solvers:
        chosen = {s.strip() for s in args.solvers.split(",") if s.strip()}
        if not chosen or chosen - set(SOLVERS):
            print(f"bench: unknown solver(s) {sorted(chosen - set(SOLVERS))}; choose from {', '.join(SOLVERS)}",
                  file=sys.stderr)
            return 2
        cases = [dataclasses.replace(c, solvers=tuple(s for s in c.solvers if s in chosen)) for c in cases]
        cases = [c for c in cases if c.solvers]
    if args.list:
        for case in cases:
            print(f"{case.name:22} {case.describe()}")
        return 0
    meta = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "load_before": _load(), "runs": args.runs, "timeout_s": args.timeout, "models": str(models),
            "marabou": marabou_available(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    log(f"bench: {len(cases)} cases, {args.runs} run(s), timeout {args.timeout:g} s, load {meta['load_before']}")
    start = time.perf_counter()
    results = [run_case(case, models, args.runs, args.timeout, log) for case in cases]
    meta["load_after"] = _load()
    meta["total_s"] = round(time.perf_counter() - start, 1)
    found = report.targets(results)
    disagreements = [d for r in results for d in r.disagreements]
    wrong = report.wrong_counts(results)

    print(f"# Benchmark: mathcircuits vs hand-written z3 vs Marabou\n")
    print(f"{meta['cpus']} CPUs, Python {meta['python']}, {args.runs} run(s) per case and solver, "
          f"timeout {args.timeout:g} s; load average (1/5/15 min) {meta['load_before']} before, "
          f"{meta['load_after']} after; {meta['total_s']} s in all."
          + ("" if meta["marabou"] else " maraboupy is not installed: Marabou shows n/a."))
    print()
    print(report.table(results, args.timeout))
    print("\n## Targets\n")
    for target in found:
        print(target.line())
    print("\n## Correctness\n")
    print(f"- wrong peer answers (runs): z3 {wrong['z3']}, Marabou {wrong['marabou']}")
    if disagreements:
        print(f"- **mathcircuits disagrees** ({len(disagreements)}):")
        for line in disagreements:
            print(f"  - {line}")
    else:
        print("- mathcircuits agrees with every replayed counterexample and every peer proof")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(report.to_json(results, found, meta), handle, indent=1)
    if disagreements:
        print("\nbench: mathcircuits disagrees -- see above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
