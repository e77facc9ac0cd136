"""The fuzz campaign: ``python -m tests.fuzz --claims 10000 --seed S [--workers 2] [--json FILE]``.

Prints one row per category (claims, proved, refuted, unknown, errors, bugs, overruns, wrong, slow,
seconds), the error classes, and every wrong verdict, bug or oracle problem with the command that
reproduces it (``--only INDEX --show``). Exit status 1 when anything is wrong (or a bug, overrun or
oracle problem was found), else 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

from tests.fuzz import campaign, crosscheck, generate, render, spec


def show(seed: int, index: int, timeout: float, cross: bool = False) -> int:
    """Print one claim in every form the tool receives, and its cross-checked outcome."""
    case = generate.generate(seed, index)
    print(case.describe())
    print(f"category {case.category}, route {case.route}, names {case.names}, expect {case.expect}, "
          f"note {case.note or '-'}")
    if case.route in ("text", "cli"):
        print("texts:", json.dumps(render.texts(case), ensure_ascii=False))
    if case.route == "cli":
        print("argv:", json.dumps(render.cli_argv(case, timeout), ensure_ascii=False))
    if isinstance(case.network, spec.Net):
        for n in case.network.neurons:
            print(f"  {n.name} = {'relu' if n.relu else 'linear'}({', '.join(f'{c}*{s}' for s, c in n.terms)} + {n.bias})")
    rec = crosscheck.check_case(case, crosscheck.Options(timeout_s=timeout, cross_check=cross))
    for key, value in dataclasses.asdict(rec).items():
        if key != "claim":
            print(f"{key}: {value}")
    return 1 if campaign.problems([dataclasses.asdict(rec)]) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--first", type=int, default=0, help="index of the first claim")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=5.0, help="solver budget per claim (s)")
    parser.add_argument("--hard", type=float, default=60.0, help="wall-clock limit of one tool call (s)")
    parser.add_argument("--json", metavar="FILE", help="write the summary and every record as JSON")
    parser.add_argument("--cross-check", action="store_true",
                        help="also confirm each verdict by the tool's second route; a contradiction is a problem")
    parser.add_argument("--only", type=int, metavar="INDEX", help="run one claim")
    parser.add_argument("--show", action="store_true", help="with --only: print the claim in full")
    args = parser.parse_args(argv)
    if not (0 < args.claims <= 10 ** 6 and 1 <= args.workers <= 64 and args.timeout > 0 and args.hard > 0):
        parser.error("--claims in 1..10^6, --workers in 1..64, --timeout and --hard positive")
    if args.only is not None:
        return show(args.seed, args.only, args.timeout, args.cross_check)
    start = time.perf_counter()
    records = campaign.run(args.seed, args.claims, args.workers, args.timeout, args.hard, args.first, progress=True,
                           cross_check=args.cross_check)
    wall = time.perf_counter() - start
    summary = campaign.summarise(records)
    print(f"mathcircuits fuzz: seed {args.seed}, claims {args.first}..{args.first + args.claims - 1}, "
          f"{args.workers} workers, timeout {args.timeout} s" + (", --cross-check" if args.cross_check else ""))
    campaign.print_report(summary, records, wall, args.seed)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"seed": args.seed, "claims": args.claims, "first": args.first, "workers": args.workers,
                       "timeout_s": args.timeout, "wall_s": round(wall, 1), "summary": summary,
                       "records": records}, fh, indent=1)
    return 1 if campaign.problems(records) else 0


if __name__ == "__main__":
    sys.exit(main())
