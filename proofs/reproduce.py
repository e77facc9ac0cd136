"""Retrain every shipped model, compare it byte for byte, and re-check it with ``check --round``."""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

from networks import json_to_circuit, recipes
from proofs import cli
from proofs.trained_catalogue import EXPECTED


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
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                code = cli.main(["check", str(fresh), f"--target={recipe.target}", f"--domain={recipe.domain}",
                                 "--round", "--json"])
            # the catalogue's trained rows are about the rounded circuit: compare the rounding's verdict
            verdict = json.loads(out.getvalue())["rounded_verdict"] if code in (0, 1, 3) else "error"
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
