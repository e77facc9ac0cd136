"""Universality census: train many seeds of a recipe, prove each, group seeds into circuit families."""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from symbolic import errors

#: torch's random state is per process: seeds trained in threads of one process (a multi-threaded
#: Dask worker) take turns, so that every seed gives the same weights wherever it runs.
_TRAINING = threading.Lock()


def run_seed(recipe_name: str, seed: int, steps: int | None = None) -> dict:
    """Train one seed, import it exactly, canonicalise, round and prove it against the recipe's
    target; return a JSON-ready record (never raises: failures are recorded)."""
    start = time.perf_counter()
    record: dict = {"recipe": recipe_name, "seed": seed}
    try:
        from networks import recipes
        from proofs.trained_catalogue import recipe_claim
        from symbolic.circuit_to_canonical import canonicalize
        from symbolic.circuit_to_closed_form import closed_form
        from symbolic.circuit_to_features import name_features
        from symbolic.circuit_to_rounded import round_weights
        from symbolic.printing import show
        from verify.rounding import round_and_prove

        with _TRAINING:
            trained = recipes.train(recipe_name, seed, steps=steps, progress=False)
        recipe = trained.recipe
        circuit = trained.circuit
        claim = recipe_claim(circuit, recipe)
        rounding = round_and_prove(claim)
        proved = rounding.result.verdict.value == "proved"
        # a failed run is described by its coarse structure (weights rounded to integers after
        # canonical scaling), which groups runs stuck in the same way
        rounded = rounding.rounded if proved else round_weights(rounding.canonical, 1)
        record.update({
            "final_loss": trained.final_loss,
            "verdict": rounding.result.verdict.value,
            "method": rounding.result.method,
            "denominator": rounding.denominator,
            "closed_form": show(closed_form(rounded, minmax=True)),
            "relu_form": show(rounded.to_expr()),  # as wired: mixtures stay visible
            "canonical": str(canonicalize(rounded)),
            "features": [f.description for f in name_features(rounded)],
            "dead_neurons": trained.metadata.get("dead_neurons", []),
        })
        cex = rounding.result.counterexample
        if cex is not None:
            record["counterexample"] = cex.to_json()
    except errors.MathCircuitsError as exc:
        record.update({"verdict": "error", "error": str(exc)})
    except Exception as exc:  # noqa: BLE001 - a crashed seed is a recorded failure, not a lost census
        record.update({"verdict": "error", "error": f"{type(exc).__name__}: {exc}"})
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


# -- the results file: one JSON line per finished seed --------------------------------------------
def read_results(path: Path, recipe_name: str) -> dict[int, dict]:
    """Seeds already done in ``path``. A torn last line (the process was killed while writing
    it) is cut off, so that seed runs again; nothing is lost or counted twice."""
    if not path.exists():
        return {}
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        with open(path, "r+b") as handle:
            handle.truncate(keep)
        data = data[:keep]
    done: dict[int, dict] = {}
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise errors.ModelFormatError(f"{path}:{number} is not a census record: {exc}") from None
        if record.get("recipe") != recipe_name:
            raise errors.ClaimError(f"{path} holds a census of {record.get('recipe')!r}, not {recipe_name!r}")
        done.setdefault(int(record["seed"]), record)
    return done


def append_result(path: Path, record: dict) -> None:
    """Append one record as one line and force it to disk before the next seed is counted."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


# -- running --------------------------------------------------------------------------------------
def _executor(workers: int, scheduler: str | None) -> concurrent.futures.Executor:
    if scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise errors.ClaimError("--scheduler needs dask.distributed: pip install distributed") from None
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise errors.ClaimError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        return client.get_executor(pure=False)
    return concurrent.futures.ProcessPoolExecutor(max_workers=workers)


def run_census(recipe_name: str, seeds: Iterable[int], out: Path | None = None, workers: int = 2,
               scheduler: str | None = None, steps: int | None = None,
               on_result: Callable[[dict, int, int], None] | None = None) -> list[dict]:
    """Run the seeds not already in ``out`` (in parallel), appending each record as it finishes;
    return all records (old and new) sorted by seed."""
    from networks import recipes

    recipes.recipe(recipe_name)  # unknown names fail here, before any worker starts
    seeds = list(dict.fromkeys(seeds))
    done = read_results(out, recipe_name) if out else {}
    todo = [s for s in seeds if s not in done]
    if todo:
        executor = _executor(workers, scheduler)
        try:
            futures = {executor.submit(run_seed, recipe_name, s, steps): s for s in todo}
            for count, future in enumerate(concurrent.futures.as_completed(futures), start=1):
                record = future.result()
                done[record["seed"]] = record
                if out:
                    append_result(out, record)
                if on_result:
                    on_result(record, count, len(todo))
        finally:
            client = getattr(executor, "_client", None)
            if client is None:
                executor.shutdown(wait=True, cancel_futures=True)
            else:  # a Dask ClientExecutor: its shutdown takes no cancel_futures
                executor.shutdown(wait=True)
                client.close()
    return [done[s] for s in seeds if s in done]


# -- summarising ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Family:
    """Seeds whose rounded canonical circuits are identical (so they compute the same function)."""

    closed_form: str
    relu_form: str
    features: tuple[str, ...]
    seeds: tuple[int, ...]
    proved: bool
    median_loss: float | None = None

    def share(self, total: int) -> float:
        return len(self.seeds) / total if total else 0.0


def families(records: Sequence[dict]) -> list[Family]:
    """Group proved seeds by canonical rounded circuit, and failed ones by their coarse structure
    (what they compute with weights rounded to integers), which says how they are stuck."""
    groups: dict[tuple, list[dict]] = collections.defaultdict(list)
    for r in records:
        if r.get("verdict") == "error":
            groups[(False, "error: " + r.get("error", "?"))].append(r)
        else:
            groups[(r["verdict"] == "proved", r["canonical"])].append(r)
    out = []
    for (proved, _), members in groups.items():
        first = members[0]
        losses = sorted(m["final_loss"] for m in members if m.get("final_loss") is not None)
        out.append(Family(first.get("closed_form", first.get("error", "")), first.get("relu_form", ""),
                          tuple(first.get("features", ())), tuple(sorted(m["seed"] for m in members)), proved,
                          losses[len(losses) // 2] if losses else None))
    return sorted(out, key=lambda f: (not f.proved, -len(f.seeds), f.seeds))


def summary(recipe_name: str, records: Sequence[dict]) -> dict:
    """The census result as a JSON-ready dict."""
    total = len(records)
    fams = families(records)
    return {
        "recipe": recipe_name,
        "seeds": total,
        "proved": sum(r.get("verdict") == "proved" for r in records),
        "families": [{"closed_form": f.closed_form, "relu_form": f.relu_form, "features": list(f.features),
                      "count": len(f.seeds), "share": round(f.share(total), 4), "proved": f.proved,
                      "median_loss": f.median_loss,
                      "example_seeds": list(f.seeds[:5])} for f in fams],
    }


def format_table(data: dict) -> str:
    """A plain-text table of the families."""
    lines = [f"census of {data['recipe']}: {data['seeds']} seeds, {data['proved']} proved "
             f"({100 * data['proved'] / max(1, data['seeds']):.0f}%)", ""]
    lines.append(f"{'count':>5s} {'share':>6s}  {'verdict':8s} {'loss':>8s}  {'closed form (ReLU form)':46s} "
                 "example seeds")
    for f in data["families"]:
        verdict = "proved" if f["proved"] else "failed"
        form = f"{f['closed_form']}  ({f['relu_form']})" if f["relu_form"] else f["closed_form"]
        loss = "" if f.get("median_loss") is None else f"{f['median_loss']:.1e}"
        lines.append(f"{f['count']:5d} {100 * f['share']:5.1f}%  {verdict:8s} {loss:>8s}  {form:46s} "
                     f"{', '.join(map(str, f['example_seeds']))}")
        if f["features"]:
            lines.append(f"{'':23s}features: {'; '.join(f['features'])}")
    return "\n".join(lines)
