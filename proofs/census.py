"""Universality census: train many seeds of a recipe, check each through the one pipeline, group them.

Each seed is trained (:mod:`networks.recipes`), then checked by :func:`proofs.check.check_model`
with ``round=True`` (the trained network's own verdict and exact worst-case error on a bounded
domain, and the simplest rounding that satisfies the claim). Recipes with ``group_by ==
"extract"`` (the wide and deep ones) also run :func:`proofs.extract.extract`, which finds the
small exact circuit inside the trained network; the census groups those seeds by its family key
(:mod:`proofs.census_families`). A record keeps the exact trained weights, so the extraction (and
so the grouping) can be redone without training again (:func:`extract_records`).
"""

from __future__ import annotations

import concurrent.futures
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from proofs.census_families import Family, families, format_table, summary  # noqa: F401 - the census API
from proofs.census_records import FORMAT, VERDICTS, append_result, read_results  # noqa: F401
from symbolic import errors

#: torch's random state is per process: seeds trained in threads of one process (a multi-threaded
#: Dask worker) take turns, so that every seed gives the same weights wherever it runs.
_TRAINING = threading.Lock()
#: Seconds for each stage of a seed: the check (all its steps), and the extraction.
DEFAULT_TIMEOUT = 10.0
#: Keys of a record that measure time, not results (two runs of a seed differ only in these).
TIMING_KEYS = ("seconds", "train_seconds", "check_seconds", "extract_seconds")


def run_seed(recipe_name: str, seed: int, steps: int | None = None, timeout_s: float = DEFAULT_TIMEOUT,
             extract: bool | None = None) -> dict:
    """Train one seed, check it through :func:`proofs.check.check_model` against the recipe's
    claim and, when ``extract`` (default: the recipe groups by extraction), extract its circuit;
    return a JSON-ready record (never raises: failures are recorded as verdict ``error``)."""
    start = time.perf_counter()
    record: dict = {"format": FORMAT, "recipe": recipe_name, "seed": seed, "steps": steps}
    try:
        from networks import recipes
        from networks.json_to_circuit import dumps
        from proofs.trained_catalogue import recipe_claim

        with _TRAINING:
            trained = recipes.train(recipe_name, seed, steps=steps, progress=False)
        recipe = trained.recipe
        claim = recipe_claim(trained.circuit, recipe)
        record.update({"final_loss": trained.final_loss, "dead_neurons": trained.metadata.get("dead_neurons", []),
                       "network": json.loads(dumps(trained.circuit)),
                       "train_seconds": round(trained.seconds, 3)})
        t0 = time.perf_counter()
        record.update(check_facts(claim, timeout_s, coarse_forms=recipe.group_by == "rounding"))
        record["check_seconds"] = round(time.perf_counter() - t0, 3)
        if extract if extract is not None else recipe.group_by == "extract":
            t0 = time.perf_counter()
            record["extraction"] = extraction_facts(claim, timeout_s)
            record["extract_seconds"] = round(time.perf_counter() - t0, 3)
    except errors.MathCircuitsError as exc:
        record.update({"verdict": "error", "error": str(exc)})
    except Exception as exc:  # noqa: BLE001 - a crashed seed is a recorded failure, not a lost census
        record.update({"verdict": "error", "error": f"{type(exc).__name__}: {exc}"})
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


def check_facts(claim, timeout_s: float, coarse_forms: bool = True) -> dict:
    """The record's facts from :func:`proofs.check.check_model` (``round=True``): the trained
    network's verdict and exact worst-case error, and its rounding. A rounding that does not
    satisfy the claim is described by its coarse structure (weights rounded to integers after
    canonical scaling), which groups runs stuck in the same way; ``coarse_forms`` adds its closed
    forms (the minimal-width recipes' families show them)."""
    from proofs.check import CheckOptions, check_model
    from symbolic.circuit_to_closed_form import closed_form
    from symbolic.circuit_to_features import name_features
    from symbolic.circuit_to_rounded import round_weights
    from symbolic.printing import show
    from verify.decide import Config
    from verify.rounding import rounding_attempts

    checked = check_model(claim, CheckOptions(round=True), Config(timeout_s=timeout_s))
    result, rounding, worst = checked.result, checked.rounding, checked.worst
    out: dict = {"verdict": result.verdict.value, "method": result.method}
    if result.reason:
        out["reason"] = result.reason
    if result.counterexample is not None:
        out["counterexample"] = result.counterexample.to_json()
    out["max_error"] = None if worst is None or worst.value is None else str(worst.value)
    if worst is not None and worst.value is not None:
        out["max_error_decimal"] = f"{float(worst.value):.6g}"
    elif worst is not None:
        out["max_error_bounds"] = [None if b is None else str(b) for b in (worst.lower, worst.upper)]
        out["max_error_reason"] = worst.reason
    elif checked.worst_reason:
        out["max_error_reason"] = checked.worst_reason
    proved = rounding.proved
    out.update({"rounded_verdict": rounding.result.verdict.value,
                "denominator": rounding.denominator if proved else None,
                "rounding_attempts": rounding_attempts(rounding),
                "rounding_error": None if checked.rounding_error is None or checked.rounding_error.value is None
                else str(checked.rounding_error.value)})
    rounded = rounding.rounded if proved else round_weights(rounding.canonical, 1)
    from symbolic.circuit_to_canonical import canonicalize

    out["canonical"] = str(canonicalize(rounded))
    if proved or coarse_forms:
        out.update({"closed_form": show(closed_form(rounded, minmax=True)),
                    "relu_form": show(rounded.to_expr()),  # as wired: mixtures stay visible
                    "features": [f.description for f in name_features(rounded)]})
    return out


def extraction_facts(claim, timeout_s: float) -> dict:
    """What :func:`proofs.extract.extract` finds in the trained network: the family key, the
    circuit ``C``, its verdict, the exact ``delta = max |N - C|``, and the extraction's facts."""
    from proofs.extract import extract
    from symbolic.printing import show
    from verify.decide import Config

    ex = extract(claim, max_neurons=None, config=Config(timeout_s=timeout_s))
    distance = ex.distance
    delta = None if distance is None or distance.value is None else distance.value
    facts = ex.facts()
    facts.pop("elapsed_s", None)  # a timing, kept in the record's extract_seconds
    return {"family_key": ex.family_key, "found": ex.found, "verdict": ex.result.verdict.value,
            "reason": ex.result.reason, "circuit": None if ex.circuit is None else str(ex.circuit),
            "relus": None if ex.circuit is None else len(ex.circuit.neurons),
            "relu_form": None if ex.circuit is None else show(ex.circuit.to_expr()),
            "delta": None if delta is None else str(delta),
            "delta_decimal": None if delta is None else f"{float(delta):.6g}", "facts": facts}


def extract_again(record: dict, timeout_s: float = DEFAULT_TIMEOUT) -> dict:
    """``record`` with its extraction redone from the exact weights it keeps (no training)."""
    start = time.perf_counter()
    out = dict(record)
    if record.get("verdict") == "error" or "network" not in record:
        return out
    try:
        from networks import recipes
        from networks.json_to_circuit import loads
        from proofs.trained_catalogue import recipe_claim

        circuit = loads(json.dumps(record["network"]))
        out["extraction"] = extraction_facts(recipe_claim(circuit, recipes.recipe(record["recipe"])), timeout_s)
    except errors.MathCircuitsError as exc:
        out["extraction"] = {"family_key": "", "found": False, "verdict": "error", "error": str(exc)}
    out["extract_seconds"] = round(time.perf_counter() - start, 3)
    return out


def comparable(record: dict) -> dict:
    """``record`` without its timings: two runs of one seed (local, Dask) must agree on the rest."""
    return {k: v for k, v in record.items() if k not in TIMING_KEYS}


# -- running --------------------------------------------------------------------------------------
def _executor(workers: int, scheduler: str | None,
              connect_timeout: float) -> tuple[concurrent.futures.Executor, int]:
    """The executor and how many seeds to keep in flight on it."""
    if scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise errors.ClaimError("--scheduler needs dask.distributed: pip install distributed") from None
        try:
            client = Client(scheduler, timeout=connect_timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            raise errors.ClaimError(f"cannot reach the Dask scheduler at {scheduler} within "
                                    f"{connect_timeout:g} s: {exc}") from None
        threads = sum(client.nthreads().values()) or 1
        return client.get_executor(pure=False), 2 * threads
    return concurrent.futures.ProcessPoolExecutor(max_workers=workers), 2 * workers


def _parallel(fn: Callable, jobs: Sequence[tuple], workers: int, scheduler: str | None,
              connect_timeout: float):
    """Yield ``fn(*job)`` for every job as it finishes, a few jobs per worker in flight at a time."""
    executor, window = _executor(min(workers, len(jobs)), scheduler, connect_timeout)
    queue = iter(jobs)
    pending: set[concurrent.futures.Future] = set()
    try:
        while True:
            for job in itertools.islice(queue, max(0, window - len(pending))):
                pending.add(executor.submit(fn, *job))
            if not pending:
                break
            finished, pending = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in finished:
                yield future.result()
    finally:
        client = getattr(executor, "_client", None)
        if client is None:
            executor.shutdown(wait=True, cancel_futures=True)
        else:  # a Dask ClientExecutor: its shutdown takes no cancel_futures
            executor.shutdown(wait=True)
            client.close()


def run_census(recipe_name: str, seeds: Iterable[int], out: Path | None = None, workers: int = 2,
               scheduler: str | None = None, steps: int | None = None,
               on_result: Callable[[dict, int, int], None] | None = None,
               restart: bool = False, connect_timeout: float = 10.0, timeout_s: float = DEFAULT_TIMEOUT,
               extract: bool | None = None) -> list[dict]:
    """Run the seeds not already in ``out`` (in parallel), appending each record as it finishes;
    return all records (old and new) sorted by seed.

    ``out`` must hold only records of this recipe and ``steps`` (see :func:`read_results`);
    ``restart`` empties it first. At most ``min(workers, seeds to run)`` local processes start,
    and only a few seeds per worker are submitted at a time. ``timeout_s`` bounds each stage of a
    seed (the check, the extraction); ``extract`` as in :func:`run_seed`.
    """
    from networks import recipes

    recipes.recipe(recipe_name)  # unknown names fail here, before any worker starts
    seeds = list(dict.fromkeys(seeds))
    if out and restart and out.exists():
        if not out.is_file():
            raise errors.ParseError(f"{out} is not a regular file, so it cannot hold census records")
        out.write_bytes(b"")
    done = read_results(out, recipe_name, steps) if out else {}
    todo = [(recipe_name, s, steps, timeout_s, extract) for s in seeds if s not in done]
    if todo:
        for count, record in enumerate(_parallel(run_seed, todo, workers, scheduler, connect_timeout), start=1):
            done[record["seed"]] = record
            if out:
                append_result(out, record)
            if on_result:
                on_result(record, count, len(todo))
    return [done[s] for s in seeds if s in done]


def extract_records(records: Sequence[dict], workers: int = 2, scheduler: str | None = None,
                    timeout_s: float = DEFAULT_TIMEOUT, connect_timeout: float = 10.0,
                    on_result: Callable[[dict, int, int], None] | None = None) -> list[dict]:
    """The records with their extraction redone from the weights they keep (in parallel, no
    training): the grouping again after :mod:`proofs.extract` changed. Sorted as given."""
    jobs = [(r, timeout_s) for r in records]
    by_seed = {}
    if jobs:
        for count, record in enumerate(_parallel(extract_again, jobs, workers, scheduler, connect_timeout), start=1):
            by_seed[record["seed"]] = record
            if on_result:
                on_result(record, count, len(jobs))
    return [by_seed[r["seed"]] for r in records]


def rewrite_results(path: Path, records: Sequence[dict]) -> None:
    """Replace ``path`` with ``records``, one line each (atomically: a temporary file, then rename)."""
    from symbolic.atomic import write_text_atomic

    write_text_atomic(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
