"""Compare two census runs of the same recipes (local processes vs Dask) record by record, timings excluded.

Usage: python bench/census/compare.py RECIPE... (reads bench/census/RECIPE_local.jsonl and RECIPE_dask.jsonl)
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


def main(recipes: list[str]) -> int:
    for name in recipes:
        local, dask = load(HERE / f"{name}_local.jsonl"), load(HERE / f"{name}_dask.jsonl")
        common = sorted(set(local) & set(dask))
        diff = {s: differences(local[s], dask[s]) for s in common}
        same = [s for s in common if not diff[s]]
        print(f"{name}: {len(same)}/{len(common)} records identical (timings excluded); "
              f"seeds only local {sorted(set(local) - set(dask))}, only dask {sorted(set(dask) - set(local))}")
        for s in common:
            if diff[s]:
                print(f"  seed {s}: differs in {', '.join(diff[s][:6])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
