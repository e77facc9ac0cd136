"""The training commands of the command line: ``train`` one recipe seed, ``census`` many seeds."""

from __future__ import annotations

import argparse
import json
import os

from proofs import cli_args
from symbolic import errors


def cmd_train(args: argparse.Namespace) -> int:
    from networks import recipes

    meta = recipes.train_to_file(args.name, args.seed, args.out, steps=args.steps,
                                 progress=None if not args.quiet else False)
    print(f"trained {args.name} seed {args.seed}: final loss {meta['final_loss']:.3e}; wrote {args.out}")
    return 0


def cmd_census(args: argparse.Namespace) -> int:
    from proofs import census
    from proofs.census_progress import CensusProgress

    if args.first + args.seeds - 1 > cli_args.MAX_SEED:
        raise errors.ParseError(f"argument --first: seeds {args.first}..{args.first + args.seeds - 1} go past "
                                f"the largest seed {cli_args.MAX_SEED}")
    if args.restart and args.out is None:
        raise errors.ParseError("argument --restart: needs --out FILE (the file to begin again)")
    if args.regroup and args.out is None:
        raise errors.ParseError("argument --regroup: needs --out FILE (the records to extract again)")
    if args.regroup and args.restart:
        raise errors.ParseError("argument --regroup: not with --restart (it reuses the records in --out)")
    seeds = range(args.first, args.first + args.seeds)
    extract = False if args.no_extract else None
    if args.regroup:
        done = census.read_results(args.out, args.function, args.steps)
        records = [done[s] for s in seeds if s in done]
        with CensusProgress(len(records), args.function + " (extracting again)", quiet=args.quiet) as progress:
            records = census.extract_records(records, args.workers, args.scheduler, args.timeout,
                                             args.connect_timeout, lambda r, count, total: progress.done(r))
        merged = {**done, **{r["seed"]: r for r in records}}
        census.rewrite_results(args.out, [merged[s] for s in sorted(merged)])
    else:
        from networks import recipes

        recipes.recipe(args.function)  # an unknown name fails before the bar is drawn
        already = census.read_results(args.out, args.function, args.steps) if args.out and not args.restart else {}
        todo = sum(s not in already for s in seeds)
        with CensusProgress(todo, args.function, quiet=args.quiet) as progress:
            records = census.run_census(args.function, seeds, args.out, args.workers, args.scheduler, args.steps,
                                        on_result=lambda record, count, total: progress.done(record),
                                        restart=args.restart, connect_timeout=args.connect_timeout,
                                        timeout_s=args.timeout, extract=extract)
    data = census.summary(args.function, records)
    print(json.dumps(data, indent=2) if args.json else census.format_table(data))
    return 0


def add_parsers(sub) -> None:
    """Register ``census`` and ``train`` on the command line's subparsers."""
    n = sub.add_parser("census", help="train many seeds of a recipe, check each, group them into families")
    n.add_argument("function", metavar="FUNCTION", help="recipe name, e.g. minimum, min_skip, min2_w8, min4_deep, median3")
    n.add_argument("--seeds", type=cli_args.integer(1, cli_args.MAX_SEEDS), required=True,
                   help=f"number of seeds (1..{cli_args.MAX_SEEDS})")
    n.add_argument("--first", type=cli_args.integer(0, cli_args.MAX_SEED), default=0, help="first seed (default 0)")
    n.add_argument("--workers", type=cli_args.workers, default=min(os.cpu_count() or 1, cli_args.MAX_WORKERS),
                   help=f"local worker processes (1..{cli_args.MAX_WORKERS}, 4 per core; never more than seeds)")
    n.add_argument("--scheduler", type=cli_args.scheduler_address, metavar="ADDRESS",
                   help="run on an existing Dask cluster, e.g. tcp://host:8786")
    n.add_argument("--connect-timeout", type=cli_args.seconds, default=10.0, metavar="S",
                   help="seconds to wait for the Dask scheduler (default 10)")
    n.add_argument("--out", type=cli_args.output_file, metavar="FILE",
                   help="JSON lines, one per seed; a rerun skips seeds already there")
    n.add_argument("--restart", action="store_true", help="empty --out first instead of resuming from it")
    n.add_argument("--steps", type=cli_args.integer(0, cli_args.MAX_STEPS),
                   help=f"override the recipe's number of steps (0..{cli_args.MAX_STEPS}; quick runs)")
    n.add_argument("--timeout", type=cli_args.seconds, default=10.0, metavar="S",
                   help="seconds for each stage of a seed: the check, then the extraction (default 10); a "
                   "stage that runs out says unknown, with the bounds found so far")
    n.add_argument("--no-extract", action="store_true",
                   help="do not extract circuits (wide recipes then group by rounding)")
    n.add_argument("--regroup", action="store_true",
                   help="train nothing: extract the circuits of the records in --out again from the weights "
                   "they keep, rewrite the file and group them")
    n.add_argument("--quiet", action="store_true",
                   help="no progress (by default a bar on a terminal, else one line per seed on stderr)")
    n.add_argument("--json", action="store_true", help="print the summary as JSON")
    n.set_defaults(func=cmd_census)

    t = sub.add_parser("train", help="train a seed recipe and save the model as JSON weights")
    t.add_argument("name", metavar="NAME", help="recipe name, e.g. minimum, absolute_value, min_skip, is_even")
    t.add_argument("--seed", type=cli_args.integer(0, cli_args.MAX_SEED), required=True,
                   help="the seed: torch.manual_seed(SEED) before the model is built (0..2**63 - 1); the same seed "
                        "gives bit-identical weights")
    t.add_argument("--out", required=True, type=cli_args.output_file, metavar="FILE",
                   help="where to write the trained weights (JSON, docs/weights-format.md), with the run's metadata")
    t.add_argument("--steps", type=cli_args.integer(0, cli_args.MAX_STEPS),
                   help=f"override the number of steps (0..{cli_args.MAX_STEPS}; for quick runs)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)
