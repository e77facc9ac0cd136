"""Compare two census runs of the same recipes (local processes vs Dask) record by record, timings excluded.

Usage: python bench/census/compare.py RECIPE... (reads bench/census/RECIPE_local.jsonl and RECIPE_dask.jsonl)

Two counts per recipe: whole records, and the facts that do not depend on the wall clock (the
trained weights and loss, both verdicts, whether a circuit was extracted and its family, and the
exact worst-case error where both runs finished it). A stage that runs out of its --timeout keeps
the bounds it had reached, which depend on the machine's load, so whole records can only match
when no stage timed out.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from proofs.census import comparable

HERE = Path(__file__).resolve().parent


def load(path: Path) -> dict[int, dict]:
    return {r["seed"]: comparable(r) for r in map(json.loads, path.read_text().splitlines())}


def differences(a, b, where: str = "") -> list[str]:
    """Paths where two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in differences(a.get(k), b.get(k), f"{where}.{k}")]
    return [] if a == b else [where or "."]


def clock_free(record: dict) -> dict:
    """The facts of a record that the wall clock cannot change."""
    extraction = record.get("extraction") or {}
    out = {k: record.get(k) for k in ("network", "final_loss", "dead_neurons", "verdict", "rounded_verdict")}
    out["extracted"] = (extraction.get("found"), extraction.get("family_key"))
    return out


def main(recipes: list[str]) -> int:
    for name in recipes:
        local, dask = load(HERE / f"{name}_local.jsonl"), load(HERE / f"{name}_dask.jsonl")
        common = sorted(set(local) & set(dask))
        diff = {s: differences(local[s], dask[s]) for s in common}
        same = [s for s in common if not diff[s]]
        facts = [s for s in common if clock_free(local[s]) == clock_free(dask[s])]
        exact = [s for s in common if local[s].get("max_error") and dask[s].get("max_error")]
        same_error = [s for s in exact if local[s]["max_error"] == dask[s]["max_error"]]
        print(f"{name}: {len(same)}/{len(common)} records identical (timings excluded); clock-free facts identical "
              f"in {len(facts)}/{len(common)}; exact worst-case error equal in {len(same_error)}/{len(exact)} seeds "
              f"where both runs finished it; seeds only local {sorted(set(local) - set(dask))}, "
              f"only dask {sorted(set(dask) - set(local))}")
        for s in common:
            if diff[s] and "-v" in sys.argv:
                print(f"  seed {s}: differs in {', '.join(diff[s][:6])}")
    return 0


if __name__ == "__main__":
    sys.exit(main([a for a in sys.argv[1:] if a != "-v"]))
