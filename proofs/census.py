"""Universality census: train many seeds of a recipe, prove each, group seeds into circuit families."""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import itertools
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
    record: dict = {"recipe": recipe_name, "seed": seed, "steps": steps}
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
VERDICTS = ("proved", "refuted", "unknown", "error")
#: A record is a few kilobytes; a longer line is not one (and is not read into memory whole).
MAX_LINE_BYTES = 1 << 20
_RESTART_HINT = "fix or delete the file, or pass --restart to begin a new one"


def read_results(path: Path, recipe_name: str, steps: int | None = None) -> dict[int, dict]:
    """Seeds already done in ``path``, a file of census records of ``recipe_name`` (run with
    ``steps``; ``None`` is the recipe's own number).

    Every complete line must be such a record, otherwise a :class:`~symbolic.errors.ParseError`
    names the first bad line and nothing is changed. A torn last line (no newline: the process was
    killed while writing it) is then cut off, so that seed runs again; nothing is lost or counted
    twice.
    """
    if not path.exists():
        return {}
    if not path.is_file():
        raise errors.ParseError(f"{path} is not a regular file, so it cannot hold census records")
    done: dict[int, dict] = {}
    keep = number = 0
    with open(path, "rb") as handle:
        while line := handle.readline(MAX_LINE_BYTES + 1):
            number += 1
            if not line.endswith(b"\n"):
                if len(line) > MAX_LINE_BYTES:
                    raise _bad_line(path, number, f"a line of more than {MAX_LINE_BYTES} bytes")
                _torn(line, recipe_name, steps, path, number)
                break  # torn by a kill: cut below
            record = _record(line, recipe_name, steps, path, number)
            done.setdefault(record["seed"], record)
            keep += len(line)
    if keep < path.stat().st_size:
        with open(path, "r+b") as handle:
            handle.truncate(keep)
    return done


def _torn(line: bytes, recipe_name: str, steps: int | None, path: Path, number: int) -> None:
    """Accept a last line without a newline only if a kill could have left it: the start of a
    record as :func:`append_result` writes it (ASCII JSON, keys sorted), or a whole record."""
    if not (line.startswith(b'{"') and line.isascii()):
        raise _bad_line(path, number, "the last line is neither a record nor one torn by a kill")
    try:
        json.loads(line)
    except ValueError:
        return  # cut short while being written
    _record(line, recipe_name, steps, path, number)  # complete: it must be a valid record too


def _record(line: bytes, recipe_name: str, steps: int | None, path: Path, number: int) -> dict:
    """One validated record (the checks :func:`summary` relies on)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad_line(path, number, "not UTF-8 text") from None
    try:
        record = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise _bad_line(path, number, f"not JSON ({getattr(exc, 'msg', type(exc).__name__)})") from None
    if not isinstance(record, dict):
        raise _bad_line(path, number, f"a JSON {type(record).__name__}, not an object")
    if record.get("recipe") != recipe_name:
        found = "no recipe" if "recipe" not in record else f"recipe {_show(record['recipe'])}"
        raise _bad_line(path, number, f"{found}, not {recipe_name!r}")
    seed = record.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise _bad_line(path, number, "no seed" if "seed" not in record else
                        f"seed {_show(seed)} is not an integer in [0, 2**63)")
    verdict = record.get("verdict")
    if verdict not in VERDICTS:
        raise _bad_line(path, number, "no verdict" if "verdict" not in record else
                        f"verdict {_show(verdict)} is not one of {', '.join(VERDICTS)}")
    wanted = {"error": str} if verdict == "error" else {"canonical": str}
    optional = {"closed_form": str, "relu_form": str, "error": str, "features": list,
                "final_loss": (int, float, type(None))}
    for key, kind in {**optional, **wanted}.items():
        if (key in wanted or key in record) and not isinstance(record.get(key), kind):
            raise _bad_line(path, number, f"{key} {_show(record.get(key))} is missing or malformed")
    if not all(isinstance(f, str) for f in record.get("features", ())):
        raise _bad_line(path, number, "features must be strings")
    if record.get("steps") != steps:
        raise _bad_line(path, number, f"it was run with steps {_show(record.get('steps'))}, "
                        f"this run asks for {_show(steps)} (None: the recipe's own)")
    return record


def _bad_line(path: Path, number: int, why: str) -> errors.ParseError:
    return errors.ParseError(f"{path}:{number} is not a census record: {why}; {_RESTART_HINT}")


def _show(value) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def append_result(path: Path, record: dict) -> None:
    """Append one record as one line and force it to disk before the next seed is counted (a full
    disk is one clear error; what was appended before stays valid, a torn tail is cut on resume)."""
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise errors.MathCircuitsError(f"cannot append the record of seed {record.get('seed')} to {path}: "
                                       f"{exc.strerror or exc}") from None


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


def run_census(recipe_name: str, seeds: Iterable[int], out: Path | None = None, workers: int = 2,
               scheduler: str | None = None, steps: int | None = None,
               on_result: Callable[[dict, int, int], None] | None = None,
               restart: bool = False, connect_timeout: float = 10.0) -> list[dict]:
    """Run the seeds not already in ``out`` (in parallel), appending each record as it finishes;
    return all records (old and new) sorted by seed.

    ``out`` must hold only records of this recipe and ``steps`` (see :func:`read_results`);
    ``restart`` empties it first. At most ``min(workers, seeds to run)`` local processes start,
    and only a few seeds per worker are submitted at a time.
    """
    from networks import recipes

    recipes.recipe(recipe_name)  # unknown names fail here, before any worker starts
    seeds = list(dict.fromkeys(seeds))
    if out and restart and out.exists():
        if not out.is_file():
            raise errors.ParseError(f"{out} is not a regular file, so it cannot hold census records")
        out.write_bytes(b"")
    done = read_results(out, recipe_name, steps) if out else {}
    todo = [s for s in seeds if s not in done]
    if todo:
        executor, window = _executor(min(workers, len(todo)), scheduler, connect_timeout)
        queue = iter(todo)
        pending: dict[concurrent.futures.Future, int] = {}
        try:
            count = 0
            while True:
                for seed in itertools.islice(queue, max(0, window - len(pending))):
                    pending[executor.submit(run_seed, recipe_name, seed, steps)] = seed
                if not pending:
                    break
                finished, _ = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in finished:
                    del pending[future]
                    record = future.result()
                    done[record["seed"]] = record
                    count += 1
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
