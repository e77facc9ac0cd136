"""``python -m bench [--runs N] [--cases PATTERN] [--timeout S] [--json FILE] [--models DIR]``.

Runs every selected case (one process per case, solver and run), prints the table and the
targets, and exits 0 unless mathcircuits disagrees with a replayed counterexample or a peer's proof
(exit 1) or the input is bad (exit 2). Missed targets are reported, not fatal.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from bench import report
from bench.cases import DEFAULT_MODELS, build_cases, select
from bench.marabou_peer import available as marabou_available
from bench.runner import run_case


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3, help="runs per case and solver (default 3); medians are shown")
    p.add_argument("--cases", metavar="PATTERN", help="comma-separated globs or substrings of case names")
    p.add_argument("--timeout", type=float, default=120.0, metavar="S", help="per solver and run (default 120)")
    p.add_argument("--json", metavar="FILE", help="write every raw number to FILE")
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
    if args.runs < 1 or not args.timeout > 0:
        print("bench: --runs must be >= 1 and --timeout > 0", file=sys.stderr)
        return 2
    models = Path(args.models)
    try:
        cases = select(build_cases(models), args.cases)
    except (OSError, KeyError, ValueError) as exc:
        print(f"bench: cannot read the models in {models}: {exc}", file=sys.stderr)
        return 2
    if not cases:
        print(f"bench: no case matches {args.cases!r}", file=sys.stderr)
        return 2
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
