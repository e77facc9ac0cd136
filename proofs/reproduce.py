"""Retrain every shipped model, compare it byte for byte, and re-check it as ``check --round`` does
(the same pipeline, :func:`proofs.check.check_model`, read as a typed object)."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from networks import json_to_circuit, recipes
from proofs.check import CheckOptions, check_model
from proofs.trained_catalogue import EXPECTED, recipe_claim
from symbolic import errors
from verify.decide import Config


def reproduce(stems=None) -> int:
    """Print one line per shipped model; return 0 when every file and verdict is reproduced."""
    failures = 0
    with tempfile.TemporaryDirectory() as folder:
        for stem in stems or EXPECTED:
            shipped = recipes.TRAINED_DIR / f"{stem}.json"
            _, meta = json_to_circuit.load_with_metadata(shipped)
            recipe = recipes.recipe(meta["recipe"])
            fresh = Path(folder) / f"{stem}.json"
            start = time.perf_counter()
            recipes.train_to_file(recipe.name, meta["seed"], fresh, progress=False)
            trained_s = time.perf_counter() - start
            identical = fresh.read_bytes() == shipped.read_bytes()
            try:
                checked = check_model(recipe_claim(json_to_circuit.load(fresh), recipe), CheckOptions(round=True),
                                      Config(timeout_s=60))
                # the catalogue's trained rows are about the rounded circuit: compare the rounding's verdict
                verdict = checked.rounding.result.verdict.value
            except errors.MathCircuitsError as exc:
                verdict = f"error ({exc})"
            ok = identical and verdict == EXPECTED[stem].value
            failures += not ok
            print(f"{'ok ' if ok else 'BAD'} {stem:28s} retrained in {trained_s:5.1f} s, "
                  f"{'identical' if identical else 'DIFFERENT'} file, check --round: {verdict} "
                  f"(catalogue expects {EXPECTED[stem].value})", flush=True)
    print(f"{len(stems or EXPECTED) - failures} of {len(stems or EXPECTED)} trained rows reproduced")
    return 1 if failures else 0


if __name__ == "__main__":
    from proofs.cli_output import run_guarded  # `make reproduce | head` ends cleanly

    sys.exit(run_guarded(lambda: reproduce(sys.argv[1:] or None)))
