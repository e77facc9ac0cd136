"""The fuzz campaign: run seeded claims (in worker processes), tabulate them by category, list problems."""

from __future__ import annotations

import collections
import dataclasses
import multiprocessing
import sys

from tests.fuzz import crosscheck, generate

COLUMNS = ("claims", "proved", "refuted", "unknown", "error", "bug", "overrun", "wrong", "slow")


def _work(job: tuple[int, int, float, float, bool]) -> dict:
    seed, index, timeout, hard, cross = job
    try:
        case = generate.generate(seed, index)
    except Exception as exc:  # noqa: BLE001 - a generator failure is the fuzzer's own bug
        return dataclasses.asdict(crosscheck.Record(index, "generator", "-", "-", outcome="bug",
                                                    oracle_problem=f"generator: {type(exc).__name__}: {exc}"))
    return dataclasses.asdict(crosscheck.check_case(case, crosscheck.Options(timeout_s=timeout, hard_s=hard,
                                                                             cross_check=cross)))


def _load_tool() -> None:
    """Import the tool before workers fork, so that every worker runs the same code even while
    someone edits the tree (a worker started later would otherwise import the edited files)."""
    import proofs.cli  # noqa: F401
    import verify.decide  # noqa: F401
    import verify.worst_case  # noqa: F401
    from tests.fuzz import render  # noqa: F401


def run(seed: int, claims: int, workers: int = 1, timeout: float = 5.0, hard: float = 60.0, first: int = 0,
        progress: bool = False, cross_check: bool = False) -> list[dict]:
    """Check claims ``first .. first + claims - 1`` of campaign ``seed``; one record per claim. With
    ``cross_check`` each verdict is also confirmed by the tool's second route (``--cross-check``)."""
    jobs = [(seed, i, timeout, hard, cross_check) for i in range(first, first + claims)]
    _load_tool()
    out: list[dict] = []
    if workers <= 1:
        iterator = map(_work, jobs)
        pool = None
    else:
        pool = multiprocessing.get_context("fork").Pool(workers, maxtasksperchild=500)
        iterator = pool.imap_unordered(_work, jobs, chunksize=4)
    try:
        for k, rec in enumerate(iterator, 1):
            out.append(rec)
            if progress and (k % 250 == 0 or k == claims):
                print(f"  {k}/{claims} claims", file=sys.stderr, flush=True)
    finally:
        if pool is not None:
            pool.terminate()
    return sorted(out, key=lambda r: r["index"])


def problems(records: list[dict]) -> list[dict]:
    """Records that fail the campaign: wrong verdicts, bugs, overruns, oracle problems, and verdicts
    the tool's own second route contradicts (``--cross-check``)."""
    return [r for r in records if r["wrong"] or r["outcome"] in ("bug", "overrun") or r["oracle_problem"]
            or r.get("cross") == "DISAGREE"]


def summarise(records: list[dict]) -> dict:
    """Per-category counts and seconds, error classes, and totals."""
    table: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    seconds: dict[str, float] = collections.defaultdict(float)
    cpu: dict[str, float] = collections.defaultdict(float)
    for r in records:
        for key in (r["category"], "TOTAL"):
            row = table[key]
            row["claims"] += 1
            row[r["outcome"]] += 1
            row["wrong"] += bool(r["wrong"])
            row["slow"] += r["slow"]
            seconds[key] += r["total_s"]
            cpu[key] += r.get("cpu_s", 0.0)
    errors = collections.Counter(f"{r['error_class']}" for r in records if r["outcome"] == "error")
    valid = collections.Counter(f"{r['error_class']}: {r['message'][:70]}" for r in records
                                if r["outcome"] == "error" and r["oracle"] == "holds")
    causes = collections.Counter(r["cause"].split(" (")[0] for r in records if r["wrong"])
    by = {}
    for field in ("route", "names", "config"):
        counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        for r in records:
            counts[r[field]]["claims"] += 1
            counts[r[field]][r["outcome"]] += 1
            counts[r[field]]["wrong"] += bool(r["wrong"])
        by[field] = {k: dict(v) for k, v in sorted(counts.items())}
    oracle = collections.Counter(r["oracle_method"] or "-" for r in records)
    cross = collections.Counter(r.get("cross") or "-" for r in records)
    routes = collections.Counter(r.get("cross_detail", "").split(" agrees")[0] for r in records if r.get("cross") == "agree")
    unconfirmed = collections.Counter(_reason(r.get("cross_detail", "")) for r in records
                                      if r.get("cross") == "none" and r["outcome"] in ("proved", "refuted"))
    return {"categories": {k: {**{c: table[k][c] for c in COLUMNS}, "seconds": round(seconds[k], 1),
                               "cpu_seconds": round(cpu[k], 1)}
                           for k in sorted(table, key=lambda k: (k == "TOTAL", k))},
            "errors": dict(errors.most_common()), "errors_on_true_claims": dict(valid.most_common()),
            "wrong_by_cause": dict(causes.most_common()), "by": by, "oracle_methods": dict(oracle.most_common()),
            "cross_check": dict(cross.most_common()), "cross_check_routes": dict(routes.most_common()),
            "cross_check_unconfirmed": dict(unconfirmed.most_common())}


def _reason(detail: str) -> str:
    """A short class of why a decided verdict had no second route (for the summary)."""
    return detail.split(" (")[0].split(":")[0:2][-1].strip()[:70]


def print_report(summary: dict, records: list[dict], wall: float, seed: int) -> None:
    head = f"{'category':18s}" + "".join(f"{c:>9s}" for c in COLUMNS) + f"{'seconds':>9s}{'cpu s':>9s}"
    print(head)
    for name, row in summary["categories"].items():
        print(f"{name:18s}" + "".join(f"{row[c]:9d}" for c in COLUMNS) + f"{row['seconds']:9.1f}{row['cpu_seconds']:9.1f}")
    print(f"wall time {wall:.1f} s")
    if summary["errors"]:
        print("user errors by class: " + ", ".join(f"{k} {v}" for k, v in summary["errors"].items()))
    if summary["errors_on_true_claims"]:
        print("errors on claims the oracle proved true (valid claims the tool rejects):")
        for k, v in summary["errors_on_true_claims"].items():
            print(f"  {v:5d}  {k}")
    print("oracle methods: " + ", ".join(f"{k} {v}" for k, v in summary["oracle_methods"].items()))
    if set(summary["cross_check"]) - {"-"}:
        print("cross-check (the tool's second route): " + ", ".join(f"{k} {v}" for k, v in summary["cross_check"].items()))
        print("  confirmed by: " + ", ".join(f"{k} {v}" for k, v in summary["cross_check_routes"].items()))
        for k, v in summary["cross_check_unconfirmed"].items():
            print(f"  decided but not confirmed {v:5d}: {k}")
    if summary["wrong_by_cause"]:
        print("wrong verdicts by suspected cause: " + ", ".join(f"{k} {v}" for k, v in summary["wrong_by_cause"].items()))
    for r in problems(records):
        why = r["wrong"] or r["oracle_problem"] or (f"second route disagrees: {r['cross_detail']}"
                                                    if r.get("cross") == "DISAGREE" else "") \
            or f"{r['outcome']}: {r['error_class']} {r['message']}"
        cause = f" [cause: {r['cause']}]" if r["cause"] else ""
        print(f"\n[{r['category']} #{r['index']} {r['route']}] {why}{cause}\n  {r['claim'][:400]}\n"
              f"  reproduce: python -m tests.fuzz --seed {seed} --only {r['index']} --show")
